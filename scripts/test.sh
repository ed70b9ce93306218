#!/usr/bin/env bash
# The one test command: finds (or starts) Postgres and Redis, then runs the
# whole test suite against them.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh --no-gate       # everything but the lesson gate (the edit loop)
#   scripts/test.sh -p order-service  # extra arguments go to `cargo test`
#
# Uses DATABASE_URL / REDIS_URL (or 127.0.0.1:5432 / :6379) when something
# answers there; otherwise starts throwaway servers (installing postgresql /
# redis-server with apt-get if they are missing, saying so first) and removes
# them afterwards; it installs Debian's chromium (a headless browser for the
# sink's web page test) and docker-compose (to validate the compose files;
# no Docker engine needed) the same way. It installs nothing else. WORKSHOP_NO_INSTALL=1 turns
# installing off; WORKSHOP_THROWAWAY=1 forces throwaway servers; TEST_LOG=1
# shows the services' logs. Ends with the ten slowest test binaries and one
# summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/backing-services.sh

# --no-gate: skip the lesson gate (lab/tests/gate.rs), which proves every
# lesson with real builds and takes most of the time; CI runs it.
GATE_TEST=every_lesson_exercise_fails_and_its_solution_passes
skip_gate=()
if [ "${1:-}" = "--no-gate" ]; then
  shift
  skip_gate=(-- --skip "$GATE_TEST")
fi

trap stop_backing_services EXIT
ensure_backing_services

# The sink's web page is also tested in a real headless browser.
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium || log "the web page will be tested over plain HTTP only (no headless browser)"
fi

# The compose files are also validated by a real compose CLI (`config -q`
# needs no Docker engine); Debian's docker-compose is enough.
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  apt_install docker-compose || log "the compose files will be checked by stack-check's own rules only (no compose CLI)"
fi

export TEST_DATABASE_URL="$WORKSHOP_PG_URL"
export TEST_REDIS_URL="$WORKSHOP_REDIS_URL"
log "cargo test (Postgres $TEST_DATABASE_URL, Redis $TEST_REDIS_URL)"
# The lesson gate (lab/tests/gate.rs) writes its time per lesson here.
GATE_TIMES="${CARGO_TARGET_DIR:-target}/lesson-gate.txt"
OUTPUT="${CARGO_TARGET_DIR:-target}/test-output.txt"
mkdir -p "$(dirname "$OUTPUT")"
rm -f "$GATE_TIMES"

# The ten slowest test binaries, from cargo's "Running" and "finished in"
# lines (libtest has no time per test on stable; `cargo nextest run
# --workspace` prints one, where cargo-nextest is installed).
slowest() {
  awk '/^ *Running /{n=$NF; sub(/.*\//,"",n); sub(/-[0-9a-f]+\)$/,"",n); bin=n " (" ($2=="unittests" ? $3 : $2) ")"}
       /^test result:/{t=$NF; sub(/s$/,"",t); print t, bin}' "$OUTPUT" |
    sort -rn | head -10 | awk '{t=$1; $1=""; printf "  %8.1f s %s\n", t, $0}' >&2
}
summary() {
  log "the ten slowest test binaries"
  slowest
  if [ -f "$GATE_TIMES" ]; then log "lesson gate"; cat "$GATE_TIMES" >&2; fi
  if [ ${#skip_gate[@]} -gt 0 ]; then log "lesson gate skipped (--no-gate)"; fi
}
started=$SECONDS
if cargo test --workspace --locked "$@" "${skip_gate[@]}" 2>&1 | tee "$OUTPUT"; then
  summary
  log "PASSED: every test of the workspace in $((SECONDS - started)) s"
else
  status=$?
  summary
  log "FAILED: see the first 'FAILED' / 'panicked' above (cargo test exited $status after $((SECONDS - started)) s)"
  exit "$status"
fi
