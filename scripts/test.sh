#!/usr/bin/env bash
# The one test command: finds (or starts) Postgres and Redis, then runs the
# whole test suite against them.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -p order-service  # extra arguments go to `cargo test`
#
# Uses DATABASE_URL / REDIS_URL (or 127.0.0.1:5432 / :6379) when something
# answers there; otherwise starts throwaway servers (installing postgresql /
# redis-server with apt-get if needed) and removes them afterwards.
# WORKSHOP_THROWAWAY=1 forces throwaway servers. TEST_LOG=1 shows service logs.
# As root it may also apt-get install docker-compose (see below).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/backing-services.sh

trap stop_backing_services EXIT
ensure_backing_services

export TEST_DATABASE_URL="$WORKSHOP_PG_URL"
export TEST_REDIS_URL="$WORKSHOP_REDIS_URL"
# The compose file is validated statically by stack-check; where Debian's
# docker-compose (v1, a Python program; --no-install-recommends keeps the
# Docker engine out) can be installed, its `config -q` runs too. Best
# effort; WORKSHOP_SKIP_COMPOSE_INSTALL=1 skips it.
if ! command -v docker-compose >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
   && [ "$(id -u)" -eq 0 ] && [ "${WORKSHOP_SKIP_COMPOSE_INSTALL:-0}" != 1 ]; then
  apt_install docker-compose || log "docker-compose could not be installed; its check will be skipped"
fi

log "cargo test (Postgres $TEST_DATABASE_URL, Redis $TEST_REDIS_URL)"
# The lesson gate (lab/tests/gate.rs) writes its time per lesson here.
GATE_TIMES="${CARGO_TARGET_DIR:-target}/lesson-gate.txt"
rm -f "$GATE_TIMES"
cargo test --workspace --locked "$@"
if [ -f "$GATE_TIMES" ]; then log "lesson gate"; cat "$GATE_TIMES" >&2; fi
