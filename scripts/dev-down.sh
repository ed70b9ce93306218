#!/usr/bin/env bash
# Stops what scripts/dev-up.sh started: the four services, the native
# collector (where otelcol-contrib runs), lab sink, and the
# throwaway Postgres/Redis (a Postgres or Redis that was already running is
# left alone).
#
#   scripts/dev-down.sh          stop; data is kept for the next dev-up
#   scripts/dev-down.sh --wipe   also drop the databases orders, users,
#                                inventory and lab (the sink's spans), the cached users in Redis, and the
#                                throwaway servers' data (like `docker compose down -v`)
#
# Logs in .lab/logs/ and your lesson progress (.lab/progress.json) are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/.lab/run

WIPE=0
case "${1:-}" in
  "") ;;
  --wipe) WIPE=1 ;;
  *) echo "usage: scripts/dev-down.sh [--wipe]" >&2; exit 2 ;;
esac

# Bold only on a terminal, so logs stay free of escape codes.
if [ -t 1 ]; then say() { printf '\033[1m==> %s\033[0m\n' "$*"; }; else say() { printf '==> %s\n' "$*"; }; fi
# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"

# SIGTERM first: the services drain requests and flush their spans (DESIGN:
# well under a second when idle); SIGKILL only after 15 s.
stop_pidfile() {
  local name=$1 pidfile="$RUN/$1.pid"
  if alive "$pidfile"; then
    say "stopping $name (pid $(cat "$pidfile"))"
    stop_pid "$pidfile" 15 || say "$name did not stop within 15 s: killed it"
  fi
  rm -f "$pidfile"
}

[ -d "$RUN" ] || { say "nothing was started by dev-up.sh"; exit 0; }

# The gateway first, so no new requests arrive while the others stop; then
# the collector (it passes on what it holds); the sink last, so it receives
# the spans the services flush on the way out.
for name in api-gateway order-service user-service inventory-service otelcol sink; do
  stop_pidfile "$name"
done
rm -f "$RUN/sink.args"

if [ "$WIPE" = 1 ] && [ -f "$RUN/backing.env" ]; then
  # shellcheck disable=SC1091
  DB_PREFIX=""
  source "$RUN/backing.env"   # PG_URL, REDIS, DB_PREFIX
  if [ ! -f "$RUN/postgres.throwaway" ]; then
    if command -v psql >/dev/null 2>&1; then
      for db in "${DB_PREFIX}orders" "${DB_PREFIX}users" "${DB_PREFIX}inventory" "${DB_PREFIX}lab"; do
        say "dropping database $db at $PG_URL"
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
          || say "could not drop $db; drop it yourself"
      done
    else
      say "psql not found: drop the databases orders, users, inventory, lab at $PG_URL yourself"
    fi
  fi
  if [ ! -f "$RUN/redis.pid" ] && command -v redis-cli >/dev/null 2>&1; then
    say "removing cached users (keys ${DB_PREFIX}user:*) and the order streams from $REDIS"
    # One key per line, read whole: a key with a space in its name (a user
    # name in a cache key) is one key, not two.
    del_keys() {
      redis-cli -u "$REDIS" --scan --pattern "$1" | while IFS= read -r key; do
        redis-cli -u "$REDIS" del "$key" >/dev/null
      done
    }
    if [ -n "$DB_PREFIX" ]; then
      # A prefix of its own: every key under it is this stack's.
      del_keys "${DB_PREFIX}*"
    else
      # No prefix: only the workshop's own keys, never the rest of your Redis.
      del_keys "user:*"
      redis-cli -u "$REDIS" del orders orders.dead >/dev/null || true
    fi
  fi
fi

if alive "$RUN/redis.pid"; then
  say "stopping the throwaway Redis"
  stop_pid "$RUN/redis.pid" 5 || true
fi
rm -f "$RUN/redis.pid"

if [ -f "$RUN/postgres.throwaway" ]; then
  { read -r bin; read -r user; read -r data; } <"$RUN/postgres.throwaway"
  if [ -f "$data/postmaster.pid" ]; then
    say "stopping the throwaway Postgres"
    as_user "$user" "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
  fi
  if [ "$WIPE" = 1 ]; then
    say "removing the throwaway Postgres data ($data)"
    rm -rf "$data"
    rm -f "$RUN/postgres.throwaway"
  fi
fi

# Nothing recorded runs any more: `cargo lab` stops reading this stack's ports.
rm -f "$RUN/stack.env"
if [ "$WIPE" = 1 ]; then
  rm -rf "$RUN"
  say "wiped: the next scripts/dev-up.sh starts from fresh data"
else
  say "stopped (data kept; scripts/dev-down.sh --wipe removes it)"
fi
