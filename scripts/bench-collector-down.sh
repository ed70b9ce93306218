#!/usr/bin/env bash
# Benchmark: what a dead collector costs a request (it should cost nothing).
#
# Runs the four release binaries twice against the same Postgres/Redis:
#   1. exporting to a live OTLP receiver (`lab sink`),
#   2. exporting to a port where nothing listens (the collector is "down"),
# sends the same load with `lab load` each time, and prints the gateway's
# resident memory before and after, and the load's latency summary.
# Expected: same median latency; RSS within a few MiB of where it started
# (the batch queue is bounded: spans are dropped and counted, not kept).
#
#   scripts/bench-collector-down.sh [REQUESTS] [RPS]     # default 3000 at 300/s
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/backing-services.sh
source scripts/lib/release-stack.sh
REQUESTS="${1:-3000}"
RPS="${2:-300}"

bench_setup

log "building release binaries"
cargo build --release --locked -q -p lab -p api-gateway -p order-service -p user-service -p inventory-service
BIN="${CARGO_TARGET_DIR:-target}/release"

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

run_scenario() {
  local name="$1" endpoint="$2"
  start_release_stack "$name" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
  local gw="$STACK_GATEWAY" gw_pid="${STACK_PIDS[3]}"
  "$BIN/lab" load --gateway "$gw" --rps "$RPS" --requests 300 >/dev/null   # warm-up
  local before after
  before=$(rss_kib "$gw_pid")
  log "$name: $REQUESTS requests at $RPS/s"
  "$BIN/lab" load --gateway "$gw" --rps "$RPS" --requests "$REQUESTS"
  after=$(rss_kib "$gw_pid")
  printf '%s: gateway RSS %s KiB before, %s KiB after (%+d KiB)\n' "$name" "$before" "$after" $((after - before)) \
    | tee -a "$WORKSHOP_RUN_DIR/summary"
  grep -h "span export failed" "$LOGS/$name-gateway.log" | tail -1 || true
  stop_release_stack
}

sink_grpc=$(free_port) sink_http=$(free_port) sink_query=$(free_port)
"$BIN/lab" sink --no-database --grpc-port "$sink_grpc" --http-port "$sink_http" --query-port "$sink_query" >"$LOGS/sink.log" 2>&1 &
SINK_PID=$!
sleep 0.5
run_scenario collector-up "http://127.0.0.1:$sink_http"
kill "$SINK_PID" 2>/dev/null || true
wait "$SINK_PID" 2>/dev/null || true
SINK_PID=""
run_scenario collector-down "http://127.0.0.1:$(free_port)"

echo
cat "$WORKSHOP_RUN_DIR/summary"
