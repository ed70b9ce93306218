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

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# `port_open HOST PORT`: is something listening? (2 s at most)
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

# A private folder for throwaway servers, made on first use.
run_dir() {
  [ -n "$WORKSHOP_RUN_DIR" ] || WORKSHOP_RUN_DIR=$(mktemp -d /tmp/workshop-services.XXXXXX)
  echo "$WORKSHOP_RUN_DIR"
}

# `pg_login_ok URL`: can we log in (not just connect)? A stock Debian
# Postgres listens on 5432 but wants a password the tests do not have.
pg_login_ok() {
  command -v psql >/dev/null 2>&1 || return 0   # cannot tell: assume yes
  PGCONNECT_TIMEOUT=3 psql "$1/postgres" -Atqc 'select 1' >/dev/null 2>&1
}

# A free TCP port on 127.0.0.1.
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 20000))
    port_open 127.0.0.1 "$port" || { echo "$port"; return; }
  done
  echo "no free port found" >&2; return 1
}

# host and port out of a URL like scheme://user:pw@host:port/db
url_host() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; echo "${rest%%:*}"; }
url_port() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; [[ "$rest" == *:* ]] && echo "${rest##*:}" || echo "$2"; }

# `server_url URL`: the URL without its path (DATABASE_URL may name a database).
server_url() { local rest="${1#*://}"; echo "${1%%://*}://${rest%%/*}"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "need root to install packages (no sudo): $*" >&2; return 1
  fi
}

apt_install() {
  log "installing $* with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

postgres_bin_dir() {
  local dir
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && echo "$dir"
}

start_throwaway_postgres() {
  local bin port data owner
  bin=$(postgres_bin_dir) || true
  if [ -z "$bin" ]; then apt_install postgresql; bin=$(postgres_bin_dir); fi
  port=$(free_port)
  run_dir >/dev/null
  data="$WORKSHOP_RUN_DIR/postgres"
  mkdir -p "$data"
  # initdb refuses to run as root: run the server as an unprivileged user.
  if [ "$(id -u)" -eq 0 ]; then
    owner=postgres
    id "$owner" >/dev/null 2>&1 || useradd --system --no-create-home "$owner"
    chown -R "$owner" "$WORKSHOP_RUN_DIR"
    chmod 755 "$WORKSHOP_RUN_DIR"
    run_as() { runuser -u "$owner" -- "$@"; }
  else
    run_as() { "$@"; }
  fi
  log "starting a throwaway Postgres on 127.0.0.1:$port ($data)"
  run_as "$bin/initdb" -D "$data" -U postgres -A trust >/dev/null
  run_as "$bin/pg_ctl" -D "$data" -l "$WORKSHOP_RUN_DIR/postgres.log" -w \
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
  for _ in $(seq 1 50); do port_open 127.0.0.1 "$port" && break; sleep 0.1; done
  port_open 127.0.0.1 "$port" || { echo "Redis did not start; see $WORKSHOP_RUN_DIR/redis.log" >&2; return 1; }
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
    if [ "$(id -u)" -eq 0 ]; then
      runuser -u postgres -- "$_pg_bin/pg_ctl" -D "$_started_pg_data" -m fast stop >/dev/null 2>&1 || true
    else
      "$_pg_bin/pg_ctl" -D "$_started_pg_data" -m fast stop >/dev/null 2>&1 || true
    fi
  fi
  # Only the folder we made ourselves (mktemp) is removed.
  if [[ "$WORKSHOP_RUN_DIR" == /tmp/workshop-services.* ]]; then rm -rf "$WORKSHOP_RUN_DIR"; fi
}
