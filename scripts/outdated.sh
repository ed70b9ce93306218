#!/usr/bin/env bash
# Lists the workspace's direct dependencies whose newest release on
# crates.io is a newer major (or, below 1.0, minor) version than the one
# Cargo.toml asks for: the candidates for an upgrade. Reads the registry
# index with `cargo info` (no extra tool to install); exits 1 when any is
# behind, 0 when all are current.
#
#   scripts/outdated.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# name = "1.2" or name = { version = "1.2", ... } under [workspace.dependencies]
# and each crate's [dependencies] (not workspace-hack's: those are
# transitive, pinned by what the others need): the requirement's numbers.
requirements() {
  awk '
    /^\[/ { deps = ($0 ~ /dependencies\]$/) ; next }
    deps && /^[a-zA-Z0-9_-]+ *=/ {
      name = $1
      if (match($0, /"[0-9][0-9.]*"/)) print name, substr($0, RSTART + 1, RLENGTH - 2)
    }
  ' Cargo.toml $(ls */Cargo.toml | grep -v '^workspace-hack/') | sort -u
}

# The compatibility prefix: 0.33.1 → 0.33, 1.8.2 → 1, 2 → 2.
line_of() {
  local major minor
  IFS=. read -r major minor _ <<<"$1"
  if [ "$major" = 0 ]; then echo "0.${minor:-0}"; else echo "$major"; fi
}

behind=0
while read -r name wanted; do
  # Inside the workspace `cargo info` prints the locked version and, when
  # a newer one exists, `(latest X)` after it.
  latest=$(cargo info --quiet "$name" 2>/dev/null \
    | awk '/^version:/ { v = $2; if ($3 == "(latest") { v = $4; sub(/\)$/, "", v) } print v; exit }' || true)
  if [ -z "$latest" ]; then
    echo "? $name: cargo info found no release (offline?)" >&2
    continue
  fi
  # Pre-releases (2.0.0-rc.2) are not a stable line to move to.
  case "$latest" in *-*) continue ;; esac
  if [ "$(line_of "$wanted")" != "$(line_of "$latest")" ]; then
    echo "$name: Cargo.toml asks for $wanted, crates.io has $latest"
    behind=1
  fi
done < <(requirements)
if [ "$behind" = 0 ]; then echo "every direct dependency is on its newest stable line"; fi
exit "$behind"
