#!/usr/bin/env bash
# Runs the whole workshop natively, without Docker:
#
#   Postgres + Redis   yours if one answers, else throwaway ones under .lab/run/
#   cargo lab sink     OTLP on 4317/4318, Jaeger's query API on 16686
#   otel-collector     only where `otelcol-contrib` is on PATH: it takes
#                      4317/4318 and exports to the sink, which moves to
#                      14317/14318 (see "The native collector" below)
#   the four services  api-gateway 8080, order-service 8081,
#                      user-service 8082, inventory-service 8083
#
#   scripts/dev-up.sh            build (dev profile), then start what is not
#                                running and restart what changed
#   scripts/dev-up.sh --release  the same with the release profile (benchmarks)
#   scripts/dev-down.sh          stop it all (--wipe also drops the data)
#
# It is also the edit loop: run it again after changing code or environment
# (`cargo lab check NN` does it for you). It rebuilds what changed and
# restarts only the services whose binary or environment changed; the
# databases, the sink and untouched services keep running. The services run
# from copies of the binaries in .lab/bin/, so a later `cargo build` never
# swaps a binary under a running process.
#
# Which Postgres/Redis: $DATABASE_URL / $REDIS_URL if set (they must answer),
# else 127.0.0.1:5432 (user postgres) / 127.0.0.1:6379 if something listens
# there, else throwaway servers on 127.0.0.1:25432 / :26379.
# Which trace backend: if a collector and Jaeger already listen on the OTLP
# and query ports (docker compose), the services export there, and it says
# so; else `lab sink` starts.
#
# The native collector: where `otelcol-contrib` is on PATH, dev-up runs it
# with a config generated from config/otel-collector.yaml (localhost
# endpoints, written to .lab/run/otel-collector.yaml): OTLP in on 4317/4318,
# out to the sink on 14317/14318; its health check on 13133, the span
# metrics on 8889. A lesson may pick another config with
# `COLLECTOR_CONFIG=config/...` in lessons/NN-slug/env/otel-collector.env
# (lesson 11: the tail-sampling one), and so may .lab/otel-collector.env.
# It is restarted when that config changes. Without otelcol-contrib the
# services export straight to the sink, and lessons 11 and 12 check their
# collector configs statically.
#
# Environment of a service, later lines winning:
#   dev-up's defaults (ports, URLs, OTEL_BSP_SCHEDULE_DELAY=1000)
#   lessons/NN-slug/env/<service>.env   the active lesson's (`cargo lab start NN`
#                                       writes .lab/lesson; LAB_LESSON=NN-slug overrides it)
#   .lab/<service>.env                  your own
# Lines are KEY=VALUE (`#` comments and blank lines allowed); any other line
# is an error naming the file and line.
#
# A second stack beside the learner's (tests, the lesson gate):
#   LAB_PORT_BASE=P   services on P..P+3, OTLP grpc P+4, http P+5, query P+6;
#                     with a collector: its health check P+7, span metrics
#                     P+8, and the sink's OTLP P+10004/P+10005 (+10000, as
#                     4317 -> 14317)
#   LAB_DB_PREFIX=x_  databases x_orders, x_users, x_inventory; Redis keys x_...
# WORKSHOP_THROWAWAY=1 always uses throwaway Postgres/Redis. LAB_BIN_DIR=dir
# skips the build and runs the binaries found in dir (prebuilt, or for tests).
# .lab/lesson-NN-slug.bin/: services `cargo lab start NN` built for the active
# lesson (the debugging mission builds them from a copy of the tree): while
# it exists the four services run from there and only lab is built.
#
# What it started is recorded in .lab/run/ (stack.env: URLs and ports, read
# by `cargo lab`; <name>.pid; <name>.env: the environment it runs with).
# Logs: .lab/logs/<name>.log. Exit status 3: the build failed, nothing restarted.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/.lab/run
LOGS=$ROOT/.lab/logs
LABBIN=$ROOT/.lab/bin
mkdir -p "$RUN" "$LOGS" "$LABBIN"

PROFILE=dev
case "${1:-}" in
  "") ;;
  --release) PROFILE=release ;;
  *) echo "usage: scripts/dev-up.sh [--release]" >&2; exit 2 ;;
esac

SERVICES=(inventory-service user-service order-service api-gateway) # start order: callees first
BASE=${LAB_PORT_BASE:-}
if [ -n "$BASE" ]; then
  [[ "$BASE" =~ ^[0-9]+$ ]] && [ "$BASE" -ge 1024 ] && [ "$BASE" -le 65000 ] \
    || { echo "error: LAB_PORT_BASE=$BASE is not a port number between 1024 and 65000" >&2; exit 1; }
  declare -A PORTS=([api-gateway]=$BASE [order-service]=$((BASE + 1)) [user-service]=$((BASE + 2)) [inventory-service]=$((BASE + 3)))
  OTLP_GRPC_PORT=$((BASE + 4)); OTLP_HTTP_PORT=$((BASE + 5)); QUERY_PORT=$((BASE + 6))
  COLLECTOR_HEALTH_PORT=$((BASE + 7)); COLLECTOR_METRICS_PORT=$((BASE + 8))
else
  declare -A PORTS=([api-gateway]=8080 [order-service]=8081 [user-service]=8082 [inventory-service]=8083)
  OTLP_GRPC_PORT=4317; OTLP_HTTP_PORT=4318; QUERY_PORT=16686
  COLLECTOR_HEALTH_PORT=13133; COLLECTOR_METRICS_PORT=8889
fi
# With a collector in front, the sink takes OTLP 10000 ports higher.
SINK_GRPC_PORT=$OTLP_GRPC_PORT; SINK_HTTP_PORT=$OTLP_HTTP_PORT
DB_PREFIX=${LAB_DB_PREFIX:-}
[[ "$DB_PREFIX" =~ ^[a-z0-9_]*$ ]] \
  || { echo "error: LAB_DB_PREFIX=$DB_PREFIX may hold only a-z, 0-9 and _" >&2; exit 1; }
declare -A DATABASES=([order-service]=${DB_PREFIX}orders [user-service]=${DB_PREFIX}users [inventory-service]=${DB_PREFIX}inventory)
THROWAWAY_PG_PORT=${THROWAWAY_PG_PORT:-25432}
THROWAWAY_REDIS_PORT=${THROWAWAY_REDIS_PORT:-26379}

# Bold only on a terminal, so logs stay free of escape codes.
if [ -t 1 ]; then say() { printf '\033[1m==> %s\033[0m\n' "$*"; }; else say() { printf '==> %s\n' "$*"; }; fi
# Routine lines; `cargo lab check` (LAB_QUIET=1) shows only what changed.
note() { if [ "${LAB_QUIET:-0}" != 1 ]; then say "$@"; fi; }
die() {
  if [ -t 2 ]; then printf '\033[31merror:\033[0m %s\n' "$*" >&2; else printf 'error: %s\n' "$*" >&2; fi
  exit 1
}
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
    note "using the throwaway Postgres on 127.0.0.1:$THROWAWAY_PG_PORT"
  fi
  printf '%s\n%s\n%s\n' "$bin" "$user" "$data" >"$RUN/postgres.throwaway"
  PG_URL="postgres://postgres@127.0.0.1:$THROWAWAY_PG_PORT"
}

find_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    PG_URL=$(server_url "$DATABASE_URL")
    port_open "$(url_host "$PG_URL")" "$(url_port "$PG_URL" 5432)" \
      || die "DATABASE_URL=$DATABASE_URL does not answer. Start that Postgres, or unset DATABASE_URL for a throwaway one."
    note "using Postgres at $PG_URL (DATABASE_URL)"
  elif [ -f "$RUN/postgres.throwaway" ] || [ "${WORKSHOP_THROWAWAY:-0}" = 1 ]; then
    start_throwaway_postgres
  elif port_open 127.0.0.1 5432; then
    PG_URL="postgres://postgres@127.0.0.1:5432"
    if ! pg_login_ok "$PG_URL"; then
      die "a Postgres answers on 127.0.0.1:5432 but user postgres cannot log in without a password. Set DATABASE_URL=postgres://USER:PASSWORD@127.0.0.1:5432"
    fi
    note "using the Postgres running on 127.0.0.1:5432"
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
    note "using Redis at $REDIS (REDIS_URL)"
  elif [ ! -f "$RUN/redis.pid" ] && [ "${WORKSHOP_THROWAWAY:-0}" != 1 ] && port_open 127.0.0.1 6379; then
    REDIS="redis://127.0.0.1:6379"
    note "using the Redis running on 127.0.0.1:6379"
  elif command -v redis-server >/dev/null 2>&1; then
    REDIS="redis://127.0.0.1:$THROWAWAY_REDIS_PORT"
    if ! alive "$RUN/redis.pid"; then
      say "starting a throwaway Redis on 127.0.0.1:$THROWAWAY_REDIS_PORT"
      redis-server --port "$THROWAWAY_REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
        --pidfile "$RUN/redis.pid" --logfile "$LOGS/redis.log" --dir "$RUN" \
        --save "" --appendonly no
      wait_until 5 port_open 127.0.0.1 "$THROWAWAY_REDIS_PORT" || true
    else
      note "using the throwaway Redis on 127.0.0.1:$THROWAWAY_REDIS_PORT"
    fi
  else
    REDIS="redis://127.0.0.1:6379"
    say "no Redis found (apt-get install redis-server): user-service runs degraded, without its cache"
  fi
}

# --------------------------------------------------------------- trace sink
start_trace_backend() {
  # The sink also keeps every span in Postgres (database ${DB_PREFIX}lab,
  # created by the sink): `cargo lab sql` and `cargo lab stats` read it.
  local args="--grpc-port $SINK_GRPC_PORT --http-port $SINK_HTTP_PORT --query-port $QUERY_PORT --database-url $LAB_DATABASE_URL"
  if alive "$RUN/sink.pid"; then
    # No sink.args: a sink started before dev-up recorded them, on the OTLP ports.
    local running="--grpc-port $OTLP_GRPC_PORT --http-port $OTLP_HTTP_PORT --query-port $QUERY_PORT"
    if [ -f "$RUN/sink.args" ]; then running=$(cat "$RUN/sink.args"); fi
    if [ "$running" = "$args" ]; then
      note "lab sink is already running (pid $(cat "$RUN/sink.pid"))"
      return
    fi
    say "restarting lab sink on OTLP $SINK_GRPC_PORT/$SINK_HTTP_PORT (the traces it held are gone)"
    stop_service sink
  elif ! alive "$RUN/otelcol.pid" && port_open 127.0.0.1 "$OTLP_HTTP_PORT" && port_open 127.0.0.1 "$QUERY_PORT"; then
    say "a trace backend already listens on $OTLP_HTTP_PORT and $QUERY_PORT, not started by dev-up (docker compose?): using it"
    [ -z "$COLLECTOR_BIN" ] || say "otelcol-contrib is on PATH, but that backend holds the OTLP ports: not starting a collector"
    BACKEND=external
    return
  fi
  for port in "$SINK_GRPC_PORT" "$SINK_HTTP_PORT" "$QUERY_PORT"; do
    port_open 127.0.0.1 "$port" && die "port $port is taken, but not by a whole trace backend. Free it (docker compose down?) and retry."
  done
  say "starting lab sink (log: .lab/logs/sink.log)"
  # shellcheck disable=SC2086 # $args is words on purpose
  nohup "$LABBIN/lab" sink $args >"$LOGS/sink.log" 2>&1 &
  echo $! >"$RUN/sink.pid"
  echo "$args" >"$RUN/sink.args"
  # All three: the services export to the OTLP ports as soon as they start,
  # and the sink binds its listeners one after the other.
  sink_listens() {
    port_open 127.0.0.1 "$QUERY_PORT" && port_open 127.0.0.1 "$SINK_GRPC_PORT" &&
      port_open 127.0.0.1 "$SINK_HTTP_PORT"
  }
  wait_until 5 sink_listens && return
  die "lab sink did not start; see $LOGS/sink.log"
}

# ---------------------------------------------------------- native collector
# `collector_config`: which config the collector runs (COLLECTOR_CONFIG from
# the active lesson's env/otel-collector.env, then .lab/otel-collector.env).
collector_config() {
  local line
  COLLECTOR_CONFIG=config/otel-collector.yaml
  ENV=()
  if [ -n "$LESSON" ]; then read_env_file "$ROOT/lessons/$LESSON/env/otel-collector.env"; fi
  read_env_file "$ROOT/.lab/otel-collector.env"
  for line in "${ENV[@]}"; do
    case "$line" in
      COLLECTOR_CONFIG=*) COLLECTOR_CONFIG=${line#COLLECTOR_CONFIG=} ;;
      *) die "otel-collector.env: only COLLECTOR_CONFIG=config/<file>.yaml is read there, not \"$line\"" ;;
    esac
  done
  [ -f "$ROOT/$COLLECTOR_CONFIG" ] || die "COLLECTOR_CONFIG=$COLLECTOR_CONFIG: no such file under $ROOT"
}

# `generate_collector_config OUT`: the compose config with localhost
# endpoints. The receivers take this stack's OTLP ports, the exporter to
# Jaeger points at the sink; every other 0.0.0.0 or jaeger endpoint is an
# error naming its line (a listener on all interfaces has no place here).
generate_collector_config() {
  local out=$1 src="$ROOT/$COLLECTOR_CONFIG" left
  {
    echo "# Generated by scripts/dev-up.sh from $COLLECTOR_CONFIG: edit that file, not"
    echo "# this one (dev-up regenerates it and restarts the collector when it changes)."
    sed -e "s/0\.0\.0\.0:4317\b/127.0.0.1:$OTLP_GRPC_PORT/g" \
        -e "s/0\.0\.0\.0:4318\b/127.0.0.1:$OTLP_HTTP_PORT/g" \
        -e "s/0\.0\.0\.0:13133\b/127.0.0.1:$COLLECTOR_HEALTH_PORT/g" \
        -e "s/0\.0\.0\.0:8889\b/127.0.0.1:$COLLECTOR_METRICS_PORT/g" \
        -e "s/\bjaeger:4317\b/127.0.0.1:$SINK_GRPC_PORT/g" \
        -e "s/\bjaeger:4318\b/127.0.0.1:$SINK_HTTP_PORT/g" "$src"
  } >"$out"
  left=$(grep -nE '^[^#]*(0\.0\.0\.0|[^a-z_/]jaeger:[0-9])' "$src" \
    | grep -vE '0\.0\.0\.0:(4317|4318|13133|8889)\b|jaeger:(4317|4318)\b' | head -1 || true)
  [ -z "$left" ] || die "$COLLECTOR_CONFIG:${left%%:*}: dev-up cannot run this endpoint natively (it maps 0.0.0.0:4317, :4318, :13133, :8889 and jaeger:4317, :4318): ${left#*:}"
}

# SIGTERM: the collector flushes what it holds to the sink, then exits.
stop_collector() { stop_service otelcol; }

# Starts otelcol-contrib, or restarts it when its generated config changed.
start_collector() {
  local next="$RUN/otel-collector.yaml.next" config="$RUN/otel-collector.yaml"
  generate_collector_config "$next"
  if ! "$COLLECTOR_BIN" validate --config="$next" >"$LOGS/otel-collector-validate.log" 2>&1; then
    tail -n 20 "$LOGS/otel-collector-validate.log" >&2
    rm -f "$next"
    die "otelcol-contrib refuses $COLLECTOR_CONFIG (the lines above, from \`otelcol-contrib validate\`); fix it and run dev-up again"
  fi
  if alive "$RUN/otelcol.pid"; then
    if cmp -s "$next" "$config"; then
      rm -f "$next"
      note "otel-collector is up to date (pid $(cat "$RUN/otelcol.pid"), $COLLECTOR_CONFIG)"
      return
    fi
    say "restarting otel-collector: its config changed ($COLLECTOR_CONFIG)"
    stop_collector
  else
    say "starting otel-collector ($COLLECTOR_BIN, $COLLECTOR_CONFIG): OTLP $OTLP_GRPC_PORT/$OTLP_HTTP_PORT -> lab sink $SINK_GRPC_PORT/$SINK_HTTP_PORT"
  fi
  mv -f "$next" "$config"
  port_open 127.0.0.1 "$OTLP_HTTP_PORT" && die "port $OTLP_HTTP_PORT is taken: the collector cannot take the OTLP port (docker compose?)"
  printf '\n--- started %s ---\n' "$(date)" >>"$LOGS/otel-collector.log"
  nohup "$COLLECTOR_BIN" --config="$config" >>"$LOGS/otel-collector.log" 2>&1 &
  echo $! >"$RUN/otelcol.pid"
  # Up to 30 s: a collector starts in about a second, but a loaded machine
  # (a build, a test suite) can hold a new process up for many more.
  # `kill -0`, not `alive`: until nohup has exec'd, the new process's
  # command line is still this script's, and `alive` would call it gone.
  collector_settled() {
    ! kill -0 "$(cat "$RUN/otelcol.pid")" 2>/dev/null || port_open 127.0.0.1 "$OTLP_HTTP_PORT"
  }
  wait_until 30 collector_settled && kill -0 "$(cat "$RUN/otelcol.pid")" 2>/dev/null &&
    port_open 127.0.0.1 "$OTLP_HTTP_PORT" && return
  tail -n 20 "$LOGS/otel-collector.log" >&2
  die "otel-collector did not open port $OTLP_HTTP_PORT within 30 s (or exited); the lines above are from .lab/logs/otel-collector.log"
}

# ----------------------------------------------------------------- services
stop_service() {
  stop_pid "$RUN/$1.pid" 15 || true
}

# `read_env_file FILE`: appends its KEY=VALUE lines to ENV; any other line
# (but comments and blank lines) is an error naming the file and line.
read_env_file() {
  local file=$1 n=0 line
  [ -f "$file" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] \
      || die "${file#"$ROOT"/}:$n: cannot read \"$line\": expected KEY=VALUE (or a # comment)"
    ENV+=("$line")
  done <"$file"
}

# The environment `name` should run with, one KEY=VALUE each, in ENV.
service_env() {
  local name=$1 port=${PORTS[$1]} db=${DATABASES[$1]:-}
  ENV=(
    "PORT=$port"
    "REDIS_URL=$REDIS"
    "REDIS_KEY_PREFIX=$DB_PREFIX"
    "ORDER_SERVICE_URL=http://127.0.0.1:${PORTS[order-service]}"
    "USER_SERVICE_URL=http://127.0.0.1:${PORTS[user-service]}"
    "INVENTORY_SERVICE_URL=http://127.0.0.1:${PORTS[inventory-service]}"
    "OTEL_EXPORTER_OTLP_ENDPOINT=${OTEL_EXPORTER_OTLP_ENDPOINT:-http://127.0.0.1:$OTLP_HTTP_PORT}"
    "OTEL_EXPORTER_OTLP_PROTOCOL=${OTEL_EXPORTER_OTLP_PROTOCOL:-http/protobuf}"
    # Export every second rather than every 5 s, so traces show up quickly.
    "OTEL_BSP_SCHEDULE_DELAY=${OTEL_BSP_SCHEDULE_DELAY:-1000}"
  )
  if [ -n "$db" ]; then ENV+=("DATABASE_URL=$PG_URL/$db"); fi
  if [ -n "$LESSON" ]; then
    read_env_file "$ROOT/lessons/$LESSON/env/$name.env"
  fi
  read_env_file "$ROOT/.lab/$name.env"
}

declare -A LOG_OFFSET=()
start_service() {
  local name=$1 port=${PORTS[$1]}
  port_open 127.0.0.1 "$port" && die "port $port is taken: is $name already running elsewhere (docker compose)?"
  printf '\n--- started %s ---\n' "$(date)" >>"$LOGS/$name.log"
  LOG_OFFSET[$name]=$(stat -c %s "$LOGS/$name.log")
  env "${ENV[@]}" nohup "$LABBIN/$name" >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  printf '%s\n' "${ENV[@]}" >"$RUN/$name.env"
}

# The log lines `name` wrote since this run started it (not older runs'):
# the last 40, or, when it panicked, the lines before the panic and its
# message, without the backtrace that would push the message out of sight.
new_log_lines() {
  tail -c +"$((${LOG_OFFSET[$1]:-0} + 1))" "$LOGS/$1.log" | awk '
    /panicked at/ && !panicked { panicked = 1; for (i = NR - 5; i < NR; i++) if (i > 0) print before[i % 5] }
    panicked && /^(stack backtrace:|note: )/ { print "(backtrace left out: it is in the log)"; exit }
    panicked { print; next }
    { before[NR % 5] = $0; all[NR % 40] = $0 }
    END { if (!panicked) for (i = NR - 39; i <= NR; i++) if (i > 0) print all[i % 40] }
  '
}

# `kill -0`, not `alive`: the pid is the one just started, and until its
# fork has exec'd the binary (a busy machine) its command line is still
# this script's, which `alive` would take for "not ours".
started() { kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
healthy() { PORT=${PORTS[$1]} "$LABBIN/$1" --health >/dev/null 2>&1; }
# Healthy, or gone: either ends the wait.
settled() { ! started "$1" || healthy "$1"; }

wait_healthy() {
  local name=$1
  wait_until 60 settled "$name" || true
  if ! started "$name"; then
    new_log_lines "$name" >&2 || true
    die "$name exited at start-up; the lines above are its log since this start (.lab/logs/$name.log)"
  fi
  healthy "$name" && return
  new_log_lines "$name" >&2 || true
  die "$name did not become healthy within 60 s; the lines above are its log since this start"
}

# `install_binary NAME [DIR]`: copies the freshly built binary (from DIR,
# default $BIN) into .lab/bin; true when it differs from the copy there (so
# the service must restart).
install_binary() {
  local src="${2:-$BIN}/$1" dst="$LABBIN/$1"
  [ -x "$src" ] || die "$src is missing: the build did not produce it"
  # The same bytes: up to date with the sources (doctor compares the times).
  if cmp -s "$src" "$dst" 2>/dev/null; then touch "$dst"; return 1; fi
  cp "$src" "$dst.tmp" && mv -f "$dst.tmp" "$dst"
}

# --------------------------------------------------------------------- main
LESSON=${LAB_LESSON-}
if [ -z "${LAB_LESSON+x}" ] && [ -f "$ROOT/.lab/lesson" ]; then LESSON=$(cat "$ROOT/.lab/lesson"); fi
if [ -n "$LESSON" ]; then
  [ -d "$ROOT/lessons/$LESSON" ] || die "lesson $LESSON (from .lab/lesson or LAB_LESSON) does not exist under lessons/"
  if [ -d "$ROOT/lessons/$LESSON/env" ]; then note "lesson environment: lessons/$LESSON/env/"; fi
fi
# Read every env file before building: a bad line stops here, with its name.
REDIS=; PG_URL=
for name in "${SERVICES[@]}"; do service_env "$name"; done
# The native collector: otelcol-contrib on PATH (LAB_NO_COLLECTOR=1: ignore it).
COLLECTOR_BIN=
if [ "${LAB_NO_COLLECTOR:-0}" != 1 ]; then COLLECTOR_BIN=$(command -v otelcol-contrib || true); fi
COLLECTOR_CONFIG=
if [ -n "$COLLECTOR_BIN" ]; then collector_config; fi

# The services `cargo lab start` built for the active lesson, if any.
LESSON_BIN=
if [ -n "$LESSON" ] && [ -d "$ROOT/.lab/lesson-$LESSON.bin" ]; then LESSON_BIN=$ROOT/.lab/lesson-$LESSON.bin; fi
if [ -n "${LAB_BIN_DIR:-}" ]; then
  BIN=$LAB_BIN_DIR
  note "using the binaries in $BIN (LAB_BIN_DIR)"
else
  PROFILE_ARGS=()
  if [ "$PROFILE" = release ]; then PROFILE_ARGS=(--release); fi
  if [ "${LAB_QUIET:-0}" = 1 ]; then PROFILE_ARGS+=(--quiet); fi
  if [ -n "$LESSON_BIN" ]; then
    note "building ($PROFILE profile): lab (the services are lesson $LESSON's, built by cargo lab start)"
  else
    note "building ($PROFILE profile): lab and the four services"
  fi
  # One cargo invocation for all of it: every crate shares workspace-hack's
  # features (workspace-hack/src/lib.rs), so `cargo lab` (`cargo run -p
  # lab`) afterwards reuses this build as is.
  PACKAGES=(-p lab)
  if [ -z "$LESSON_BIN" ]; then
    PACKAGES+=(-p api-gateway -p order-service -p user-service -p inventory-service)
  fi
  if ! cargo build "${PROFILE_ARGS[@]}" "${PACKAGES[@]}"; then
    if [ -t 2 ]; then printf '\033[31merror:\033[0m ' >&2; else printf 'error: ' >&2; fi
    printf 'the build failed (see above); nothing was restarted\n' >&2
    exit 3
  fi
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$([ "$PROFILE" = release ] && echo release || echo debug)"
fi
SERVICE_BIN=${LESSON_BIN:-$BIN}

find_postgres
LAB_DATABASE_URL="$PG_URL/${DB_PREFIX}lab"
find_redis
# (With the database prefix: `dev-down.sh --wipe` after a plain dev-down
# must drop this stack's databases, not the unprefixed ones.)
printf 'PG_URL=%q\nREDIS=%q\nDB_PREFIX=%q\n' "$PG_URL" "$REDIS" "$DB_PREFIX" >"$RUN/backing.env"

install_binary lab || true
BACKEND=sink
if [ -n "$COLLECTOR_BIN" ]; then
  if [ $((SINK_HTTP_PORT + 10000)) -gt 65535 ]; then
    die "LAB_PORT_BASE=$BASE leaves no room for the sink's OTLP ports 10000 higher when otelcol-contrib runs: use a base up to 55530"
  fi
  SINK_GRPC_PORT=$((OTLP_GRPC_PORT + 10000)); SINK_HTTP_PORT=$((OTLP_HTTP_PORT + 10000))
elif alive "$RUN/otelcol.pid"; then
  say "stopping otel-collector: otelcol-contrib is no longer on PATH (the services export to lab sink)"
  stop_collector
fi
start_trace_backend
if [ -n "$COLLECTOR_BIN" ] && [ "$BACKEND" = sink ]; then
  start_collector
else
  COLLECTOR_BIN=
  if [ "$BACKEND" = sink ]; then
    note "no otelcol-contrib on PATH: the services export straight to lab sink. Lessons 11 (tail sampling)"
    note "and 12 (the collector pipeline) need a collector to run their configs; without one their checks"
    note "read config/otel-collector*.yaml statically. To run it natively, put the otelcol-contrib binary"
    note "(a single download from the opentelemetry-collector-releases page, 0.159.0 as in .env) on PATH"
    note "and run scripts/dev-up.sh again; or use docker compose (docker compose up --build -d)."
  fi
fi
STARTED=()
for name in "${SERVICES[@]}"; do
  changed=0
  if install_binary "$name" "$SERVICE_BIN"; then changed=1; fi
  service_env "$name"
  if alive "$RUN/$name.pid"; then
    if [ "$changed" = 1 ]; then
      say "restarting $name: its binary changed"
    elif ! printf '%s\n' "${ENV[@]}" | cmp -s - "$RUN/$name.env"; then
      say "restarting $name: its environment changed"
    else
      note "$name is up to date (pid $(cat "$RUN/$name.pid"))"
      continue
    fi
    stop_service "$name"
  else
    say "starting $name on :${PORTS[$name]}"
  fi
  start_service "$name"
  STARTED+=("$name")
  # Callees first: a caller starts once what it calls answers.
  wait_healthy "$name"
done

cat >"$RUN/stack.env" <<EOF
# Written by scripts/dev-up.sh; read by cargo lab.
MODE=native
PROFILE=$PROFILE
PORT_BASE=$BASE
DB_PREFIX=$DB_PREFIX
LESSON=$LESSON
GATEWAY_URL=http://127.0.0.1:${PORTS[api-gateway]}
JAEGER_URL=http://127.0.0.1:$QUERY_PORT
OTLP_GRPC_ENDPOINT=http://127.0.0.1:$OTLP_GRPC_PORT
OTLP_HTTP_ENDPOINT=http://127.0.0.1:$OTLP_HTTP_PORT
BACKEND=$BACKEND
COLLECTOR=$([ -n "$COLLECTOR_BIN" ] && echo otelcol-contrib)
COLLECTOR_BIN=$COLLECTOR_BIN
COLLECTOR_CONFIG=$([ -n "$COLLECTOR_BIN" ] && echo "$COLLECTOR_CONFIG")
COLLECTOR_HEALTH_URL=$([ -n "$COLLECTOR_BIN" ] && echo "http://127.0.0.1:$COLLECTOR_HEALTH_PORT/")
COLLECTOR_METRICS_URL=$([ -n "$COLLECTOR_BIN" ] && echo "http://127.0.0.1:$COLLECTOR_METRICS_PORT/metrics")
SINK_OTLP_HTTP_ENDPOINT=$([ "$BACKEND" = sink ] && echo "http://127.0.0.1:$SINK_HTTP_PORT")
PG_URL=$PG_URL
LAB_DATABASE_URL=$([ "$BACKEND" = sink ] && echo "$LAB_DATABASE_URL")
REDIS_URL=$REDIS
BIN_DIR=$LABBIN
PORT_API_GATEWAY=${PORTS[api-gateway]}
PORT_ORDER_SERVICE=${PORTS[order-service]}
PORT_USER_SERVICE=${PORTS[user-service]}
PORT_INVENTORY_SERVICE=${PORTS[inventory-service]}
EOF

if [ "${#STARTED[@]}" -eq 0 ]; then
  note "all services up to date; nothing restarted"
  exit 0
fi
[ "${LAB_QUIET:-0}" = 1 ] && exit 0
G=${PORTS[api-gateway]}
NEXT_CHECK=01
if [ -n "$LESSON" ]; then NEXT_CHECK=${LESSON%%-*}; fi
cat <<EOF

The workshop is running natively.

  Send an order:
    curl -s -X POST localhost:$G/orders -H 'content-type: application/json' \\
      -d '{"user_id": "1", "product": "Laptop", "quantity": 1}'
  See its trace:         cargo lab trace latest        (or: cargo lab trace <trace_id>)
  Make it slow:          curl -s -X POST 'localhost:$G/orders?delay=1500' ...
  Check a lesson:        cargo lab check $NEXT_CHECK
  Is all well?           cargo lab doctor
  Traces as they finish: tail -f .lab/logs/sink.log
EOF
if [ -n "$COLLECTOR_BIN" ]; then
  cat <<EOF
  The collector:         otelcol-contrib runs $COLLECTOR_CONFIG (log: .lab/logs/otel-collector.log)
  Its span metrics:      curl -s localhost:$COLLECTOR_METRICS_PORT/metrics | grep traces_span_metrics_calls
EOF
fi
cat <<EOF
  Service logs:          .lab/logs/<service>.log
  Stop everything:       scripts/dev-down.sh   (--wipe also drops the data)
EOF
