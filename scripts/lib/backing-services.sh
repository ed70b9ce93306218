# shellcheck shell=bash
# Finds a running Postgres and Redis, or starts throwaway ones.
#
# Sourced by scripts/test.sh and scripts/bench-collector-down.sh. After
# `ensure_backing_services`, these are exported:
#   WORKSHOP_PG_URL     server URL without a database, e.g. postgres://postgres@127.0.0.1:5432
#   WORKSHOP_REDIS_URL  e.g. redis://127.0.0.1:6379
# Throwaway servers live in a fresh /tmp/workshop-services.* folder
# ($WORKSHOP_RUN_DIR) and are stopped, and the folder removed, by
# `stop_backing_services` (call it from an EXIT trap).
#
# Set WORKSHOP_THROWAWAY=1 to always start throwaway servers.

WORKSHOP_RUN_DIR=""   # created when a throwaway server is needed
_started_pg_data=""
_started_redis_pid=""

# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# A private folder for throwaway servers, made on first use.
run_dir() {
  [ -n "$WORKSHOP_RUN_DIR" ] || WORKSHOP_RUN_DIR=$(mktemp -d /tmp/workshop-services.XXXXXX)
  echo "$WORKSHOP_RUN_DIR"
}

start_throwaway_postgres() {
  local bin port data
  bin=$(postgres_bin_dir) || true
  if [ -z "$bin" ]; then apt_install postgresql; bin=$(postgres_bin_dir); fi
  port=$(free_port)
  run_dir >/dev/null
  data="$WORKSHOP_RUN_DIR/postgres"
  mkdir -p "$data"
  # initdb refuses to run as root: run the server as an unprivileged user.
  _pg_owner=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    _pg_owner=postgres
    id "$_pg_owner" >/dev/null 2>&1 || useradd --system --no-create-home "$_pg_owner"
    chown -R "$_pg_owner" "$WORKSHOP_RUN_DIR"
    chmod 755 "$WORKSHOP_RUN_DIR"
  fi
  log "starting a throwaway Postgres on 127.0.0.1:$port ($data)"
  as_user "$_pg_owner" "$bin/initdb" -D "$data" -U postgres -A trust >/dev/null
  as_user "$_pg_owner" "$bin/pg_ctl" -D "$data" -l "$WORKSHOP_RUN_DIR/postgres.log" -w \
    -o "-p $port -k $WORKSHOP_RUN_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
  _started_pg_data="$data"
  _pg_bin="$bin"
  WORKSHOP_PG_URL="postgres://postgres@127.0.0.1:$port"
}

start_throwaway_redis() {
  local port
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  port=$(free_port)
  run_dir >/dev/null
  log "starting a throwaway Redis on 127.0.0.1:$port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORKSHOP_RUN_DIR" --logfile "$WORKSHOP_RUN_DIR/redis.log" &
  _started_redis_pid=$!
  wait_until 5 port_open 127.0.0.1 "$port" || { echo "Redis did not start; see $WORKSHOP_RUN_DIR/redis.log" >&2; return 1; }
  WORKSHOP_REDIS_URL="redis://127.0.0.1:$port"
}

ensure_backing_services() {
  local pg_url
  pg_url=$(server_url "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432}")
  local redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"

  if [ "${WORKSHOP_THROWAWAY:-0}" != 1 ] && port_open "$(url_host "$pg_url")" "$(url_port "$pg_url" 5432)"; then
    if pg_login_ok "$pg_url"; then
      log "using the running Postgres at $(url_host "$pg_url"):$(url_port "$pg_url" 5432)"
      WORKSHOP_PG_URL="$pg_url"
    else
      log "a Postgres answers at $(url_host "$pg_url"):$(url_port "$pg_url" 5432) but refuses $pg_url (set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT); starting a throwaway one instead"
      start_throwaway_postgres
    fi
  else
    start_throwaway_postgres
  fi
  if [ "${WORKSHOP_THROWAWAY:-0}" != 1 ] && port_open "$(url_host "$redis_url")" "$(url_port "$redis_url" 6379)"; then
    log "using the running Redis at $(url_host "$redis_url"):$(url_port "$redis_url" 6379)"
    WORKSHOP_REDIS_URL="$redis_url"
  else
    start_throwaway_redis
  fi
  export WORKSHOP_PG_URL WORKSHOP_REDIS_URL
}

stop_backing_services() {
  if [ -n "$_started_redis_pid" ]; then kill "$_started_redis_pid" 2>/dev/null || true; fi
  if [ -n "$_started_pg_data" ]; then
    as_user "$_pg_owner" "$_pg_bin/pg_ctl" -D "$_started_pg_data" -m fast stop >/dev/null 2>&1 || true
  fi
  # Only the folder we made ourselves (mktemp) is removed.
  if [[ "$WORKSHOP_RUN_DIR" == /tmp/workshop-services.* ]]; then rm -rf "$WORKSHOP_RUN_DIR"; fi
}
