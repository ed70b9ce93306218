# shellcheck shell=bash
# The four release binaries as one stack, for the benchmarks (sourced;
# needs common.sh and backing-services.sh, $BIN and $LOGS).
#
#   start_release_stack NAME [VAR=VALUE ...]   # the extra variables go to every service
#   stop_release_stack                         # and drops its databases
#
# After start: STACK_GATEWAY (the gateway's URL), STACK_PIDS (inventory,
# user, order, gateway), STACK_DB (the database prefix).
#
#   bench_setup        # Postgres/Redis, $LOGS, and an EXIT trap that stops
#                      # the stack, the receiver ($SINK_PID) and what it started

bench_setup() {
  run_dir >/dev/null
  LOGS="$WORKSHOP_RUN_DIR/logs"
  STACK_PIDS=()
  trap bench_cleanup EXIT
  ensure_backing_services
  mkdir -p "$LOGS"
}

bench_cleanup() {
  local pid
  for pid in "${STACK_PIDS[@]}" ${SINK_PID:-}; do kill "$pid" 2>/dev/null || true; done
  stop_backing_services
}

healthy() { curl -fs "http://127.0.0.1:$1/health" >/dev/null 2>&1; }

wait_healthy() {
  wait_until 30 healthy "$1" && return 0
  echo "port $1 never became healthy" >&2
  return 1
}

start_release_stack() {
  local name=$1
  shift
  STACK_DB="bench_$$_${name//[^a-z0-9]/_}"
  local gw order user inv
  gw=$(free_port) order=$(free_port) user=$(free_port) inv=$(free_port)
  local common=(RUST_LOG=warn "$@")
  STACK_PIDS=()
  env "${common[@]}" PORT="$inv" DATABASE_URL="$WORKSHOP_PG_URL/${STACK_DB}_inventory" \
    "$BIN/inventory-service" >"$LOGS/$name-inventory.log" 2>&1 &
  STACK_PIDS+=($!)
  env "${common[@]}" PORT="$user" DATABASE_URL="$WORKSHOP_PG_URL/${STACK_DB}_users" \
    REDIS_URL="$WORKSHOP_REDIS_URL" REDIS_KEY_PREFIX="$STACK_DB:" \
    "$BIN/user-service" >"$LOGS/$name-user.log" 2>&1 &
  STACK_PIDS+=($!)
  env "${common[@]}" PORT="$order" DATABASE_URL="$WORKSHOP_PG_URL/${STACK_DB}_orders" \
    REDIS_URL="$WORKSHOP_REDIS_URL" REDIS_KEY_PREFIX="$STACK_DB:" \
    USER_SERVICE_URL="http://127.0.0.1:$user" INVENTORY_SERVICE_URL="http://127.0.0.1:$inv" \
    "$BIN/order-service" >"$LOGS/$name-order.log" 2>&1 &
  STACK_PIDS+=($!)
  env "${common[@]}" PORT="$gw" ORDER_SERVICE_URL="http://127.0.0.1:$order" \
    "$BIN/api-gateway" >"$LOGS/$name-gateway.log" 2>&1 &
  STACK_PIDS+=($!)
  local port
  for port in "$inv" "$user" "$order" "$gw"; do wait_healthy "$port"; done
  STACK_GATEWAY="http://127.0.0.1:$gw"
}

stop_release_stack() {
  local pid
  for pid in "${STACK_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait "${STACK_PIDS[@]}" 2>/dev/null || true
  STACK_PIDS=()
  psql "$WORKSHOP_PG_URL/postgres" -qc "DROP DATABASE IF EXISTS ${STACK_DB}_inventory WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS ${STACK_DB}_users WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS ${STACK_DB}_orders WITH (FORCE)" >/dev/null 2>&1 || true
}
