#!/usr/bin/env bash
# Runs the whole workshop natively, without Docker:
#
#   Postgres + Redis   yours if one answers, else throwaway ones under .lab/run/
#   cargo lab sink     OTLP on 4317/4318, Jaeger's query API on 16686
#   the four services  api-gateway 8080, order-service 8081,
#                      user-service 8082, inventory-service 8083
#
#   scripts/dev-up.sh            build, then (re)start what is not running
#   scripts/dev-down.sh          stop it all (--wipe also drops the data)
#
# Which Postgres/Redis: $DATABASE_URL / $REDIS_URL if set (they must answer),
# else 127.0.0.1:5432 (user postgres) / 127.0.0.1:6379 if something listens
# there, else throwaway servers on 127.0.0.1:25432 / :26379.
# Which trace backend: if a collector and Jaeger already listen on 4318 and
# 16686 (docker compose), the services export there; else `lab sink` starts.
#
# Per-service environment: lines KEY=VALUE in .lab/<service>.env apply to that
# service only, e.g. .lab/api-gateway.env with OTEL_TRACES_SAMPLER=... for the
# sampling lessons. Re-run this script after changing code or env: it rebuilds
# and restarts the services (the databases and the sink keep running).
#
# WORKSHOP_THROWAWAY=1 always uses throwaway Postgres/Redis. LAB_BIN_DIR=dir
# skips the build and runs the binaries found in dir (prebuilt, or for tests).
#
# Logs: .lab/logs/<name>.log   Process ids: .lab/run/<name>.pid
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/.lab/run
LOGS=$ROOT/.lab/logs
mkdir -p "$RUN" "$LOGS"

SERVICES=(inventory-service user-service order-service api-gateway) # start order: callees first
declare -A PORTS=([api-gateway]=8080 [order-service]=8081 [user-service]=8082 [inventory-service]=8083)
declare -A DATABASES=([order-service]=orders [user-service]=users [inventory-service]=inventory)
THROWAWAY_PG_PORT=${THROWAWAY_PG_PORT:-25432}
THROWAWAY_REDIS_PORT=${THROWAWAY_REDIS_PORT:-26379}

# Bold only on a terminal, so logs stay free of escape codes.
if [ -t 1 ]; then say() { printf '\033[1m==> %s\033[0m\n' "$*"; }; else say() { printf '==> %s\n' "$*"; }; fi
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"

# ------------------------------------------------------------------ Postgres

# initdb refuses to run as root, so as root the throwaway server runs as an
# unprivileged user: `postgres` if the package made one, else `workshop`.
postgres_user() {
  if [ "$(id -u)" -ne 0 ]; then id -un; return; fi
  if id postgres >/dev/null 2>&1; then echo postgres; return; fi
  id workshop >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin workshop
  echo workshop
}

start_throwaway_postgres() {
  local bin user data
  bin=$(postgres_bin_dir) || true
  [ -n "$bin" ] || die "no Postgres found. Install it (apt-get install postgresql) or set DATABASE_URL."
  user=$(postgres_user)
  data="$RUN/postgres"
  mkdir -p "$data"
  chown "$user" "$data" 2>/dev/null || true
  # The unprivileged user must reach the data directory through every parent.
  if ! as_user "$user" test -w "$data"; then
    data="${TMPDIR:-/tmp}/tracing-workshop-postgres"
    mkdir -p "$data" && chown "$user" "$data"
    say "$user cannot write under $RUN; keeping the throwaway Postgres data in $data"
  fi
  chmod 700 "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    say "creating a throwaway Postgres cluster in $data (as $user)"
    as_user "$user" "$bin/initdb" -D "$data" -U postgres -A trust >"$LOGS/postgres-initdb.log"
  fi
  if ! port_open 127.0.0.1 "$THROWAWAY_PG_PORT"; then
    say "starting the throwaway Postgres on 127.0.0.1:$THROWAWAY_PG_PORT"
    touch "$LOGS/postgres.log" && chown "$user" "$LOGS/postgres.log" 2>/dev/null || true
    as_user "$user" "$bin/pg_ctl" -D "$data" -l "$LOGS/postgres.log" -w \
      -o "-p $THROWAWAY_PG_PORT -k $data -c listen_addresses=127.0.0.1" start >/dev/null \
      || die "Postgres did not start; see $LOGS/postgres.log"
  else
    say "using the throwaway Postgres on 127.0.0.1:$THROWAWAY_PG_PORT"
  fi
  printf '%s\n%s\n%s\n' "$bin" "$user" "$data" >"$RUN/postgres.throwaway"
  PG_URL="postgres://postgres@127.0.0.1:$THROWAWAY_PG_PORT"
}

find_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    PG_URL=$(server_url "$DATABASE_URL")
    port_open "$(url_host "$PG_URL")" "$(url_port "$PG_URL" 5432)" \
      || die "DATABASE_URL=$DATABASE_URL does not answer. Start that Postgres, or unset DATABASE_URL for a throwaway one."
    say "using Postgres at $PG_URL (DATABASE_URL)"
  elif [ -f "$RUN/postgres.throwaway" ] || [ "${WORKSHOP_THROWAWAY:-0}" = 1 ]; then
    start_throwaway_postgres
  elif port_open 127.0.0.1 5432; then
    PG_URL="postgres://postgres@127.0.0.1:5432"
    if ! pg_login_ok "$PG_URL"; then
      die "a Postgres answers on 127.0.0.1:5432 but user postgres cannot log in without a password. Set DATABASE_URL=postgres://USER:PASSWORD@127.0.0.1:5432"
    fi
    say "using the Postgres running on 127.0.0.1:5432"
  else
    start_throwaway_postgres
  fi
}

# --------------------------------------------------------------------- Redis
find_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    REDIS=$REDIS_URL
    port_open "$(url_host "$REDIS")" "$(url_port "$REDIS" 6379)" \
      || die "REDIS_URL=$REDIS_URL does not answer. Start that Redis, or unset REDIS_URL."
    say "using Redis at $REDIS (REDIS_URL)"
  elif [ ! -f "$RUN/redis.pid" ] && [ "${WORKSHOP_THROWAWAY:-0}" != 1 ] && port_open 127.0.0.1 6379; then
    REDIS="redis://127.0.0.1:6379"
    say "using the Redis running on 127.0.0.1:6379"
  elif command -v redis-server >/dev/null 2>&1; then
    REDIS="redis://127.0.0.1:$THROWAWAY_REDIS_PORT"
    if ! alive "$RUN/redis.pid"; then
      say "starting a throwaway Redis on 127.0.0.1:$THROWAWAY_REDIS_PORT"
      redis-server --port "$THROWAWAY_REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
        --pidfile "$RUN/redis.pid" --logfile "$LOGS/redis.log" --dir "$RUN" \
        --save "" --appendonly no
      for _ in $(seq 1 50); do port_open 127.0.0.1 "$THROWAWAY_REDIS_PORT" && break; sleep 0.1; done
    else
      say "using the throwaway Redis on 127.0.0.1:$THROWAWAY_REDIS_PORT"
    fi
  else
    REDIS="redis://127.0.0.1:6379"
    say "no Redis found (apt-get install redis-server): user-service runs degraded, without its cache"
  fi
}

# --------------------------------------------------------------- trace sink
start_trace_backend() {
  if alive "$RUN/sink.pid"; then
    say "lab sink is already running (pid $(cat "$RUN/sink.pid"))"
  elif port_open 127.0.0.1 4318 && port_open 127.0.0.1 16686; then
    say "a trace backend already listens on 4318 and 16686 (docker compose?): using it"
  else
    for port in 4317 4318 16686; do
      port_open 127.0.0.1 "$port" && die "port $port is taken, but not by a whole trace backend. Free it (docker compose down?) and retry."
    done
    say "starting lab sink (log: .lab/logs/sink.log)"
    nohup "$BIN/lab" sink >"$LOGS/sink.log" 2>&1 &
    echo $! >"$RUN/sink.pid"
    for _ in $(seq 1 50); do port_open 127.0.0.1 16686 && return; sleep 0.1; done
    die "lab sink did not start; see $LOGS/sink.log"
  fi
}

# ----------------------------------------------------------------- services
stop_service() {
  local pidfile="$RUN/$1.pid"
  if alive "$pidfile"; then
    kill -TERM "$(cat "$pidfile")"
    for _ in $(seq 1 150); do alive "$pidfile" || break; sleep 0.1; done
    alive "$pidfile" && kill -KILL "$(cat "$pidfile")"
  fi
  rm -f "$pidfile"
}

start_service() {
  local name=$1 port=${PORTS[$1]} db=${DATABASES[$1]:-}
  local -a env=(
    "PORT=$port"
    "REDIS_URL=$REDIS"
    "ORDER_SERVICE_URL=http://127.0.0.1:${PORTS[order-service]}"
    "USER_SERVICE_URL=http://127.0.0.1:${PORTS[user-service]}"
    "INVENTORY_SERVICE_URL=http://127.0.0.1:${PORTS[inventory-service]}"
    "OTEL_EXPORTER_OTLP_ENDPOINT=${OTEL_EXPORTER_OTLP_ENDPOINT:-http://127.0.0.1:4318}"
    "OTEL_EXPORTER_OTLP_PROTOCOL=${OTEL_EXPORTER_OTLP_PROTOCOL:-http/protobuf}"
    # Export every second rather than every 5 s, so traces show up quickly.
    "OTEL_BSP_SCHEDULE_DELAY=${OTEL_BSP_SCHEDULE_DELAY:-1000}"
  )
  [ -n "$db" ] && env+=("DATABASE_URL=$PG_URL/$db")
  if [ -f "$ROOT/.lab/$name.env" ]; then
    while IFS= read -r line; do
      [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] && env+=("$line")
    done <"$ROOT/.lab/$name.env"
    say "$name: extra environment from .lab/$name.env"
  fi
  port_open 127.0.0.1 "$port" && die "port $port is taken: is $name already running elsewhere (docker compose)?"
  printf '\n--- started %s ---\n' "$(date)" >>"$LOGS/$name.log"
  env "${env[@]}" nohup "$BIN/$name" >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

wait_healthy() {
  local name=$1
  for _ in $(seq 1 120); do
    if ! alive "$RUN/$name.pid"; then
      tail -n 20 "$LOGS/$name.log" >&2 || true
      die "$name exited; the end of .lab/logs/$name.log is above"
    fi
    PORT=${PORTS[$name]} "$BIN/$name" --health >/dev/null 2>&1 && return
    sleep 0.5
  done
  die "$name did not become healthy within 60 s; see .lab/logs/$name.log"
}

# --------------------------------------------------------------------- main
find_postgres
find_redis
printf 'PG_URL=%q\nREDIS=%q\n' "$PG_URL" "$REDIS" >"$RUN/backing.env"

if [ -n "${LAB_BIN_DIR:-}" ]; then
  BIN=$LAB_BIN_DIR
  say "using the binaries in $BIN (LAB_BIN_DIR)"
else
  say "building (release): lab and the four services"
  cargo build --release -p lab -p api-gateway -p order-service -p user-service -p inventory-service
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
fi

start_trace_backend
for name in "${SERVICES[@]}"; do stop_service "$name"; done
for name in "${SERVICES[@]}"; do
  say "starting $name on :${PORTS[$name]}"
  start_service "$name"
  wait_healthy "$name"
done

cat <<EOF

The workshop is running natively.

  Send an order:
    curl -s -X POST localhost:8080/orders -H 'content-type: application/json' \\
      -d '{"user_id": "1", "product": "Laptop", "quantity": 1}'
  See its trace:         cargo lab trace latest        (or: cargo lab trace <trace_id>)
  Make it slow:          curl -s -X POST 'localhost:8080/orders?delay=1500' ...
  Check a lesson:        cargo lab check 01
  Traces as they finish: tail -f .lab/logs/sink.log
  Service logs:          .lab/logs/<service>.log
  Stop everything:       scripts/dev-down.sh   (--wipe also drops the data)
EOF
