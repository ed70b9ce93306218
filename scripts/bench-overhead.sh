#!/usr/bin/env bash
# Benchmark: what tracing costs the four services, measured from outside.
#
# Runs the release stack in two modes, alternating, ROUNDS times each:
#   traced    every request sampled (OTEL_TRACES_SAMPLER=always_on), spans
#             exported over OTLP http/protobuf to a live receiver (`lab sink`)
#   untraced  OTEL_SDK_DISABLED=true: no span is recorded or exported. The
#             `tracing` layers still run (the OpenTelemetry layer sees every
#             span and drops it) and the JSON logs are still written, so the
#             difference is the cost of recording and exporting spans.
# Each round sends GET /orders/{id} through the gateway:
#   at a fixed rate    `lab load --rps RATE` for SECONDS (latency p50/p99)
#   flat out           `wrk` with 16 connections for SECONDS (throughput)
# and reads, per mode: requests/s, p50/p99, CPU seconds per request of the
# four services (utime+stime from /proc, not counting the load generator or
# the receiver), spans per request, idle and loaded RSS per service. Prints
# the medians, the spread between rounds, and traced/untraced ratios.
#
#   scripts/bench-overhead.sh [ROUNDS] [RATE] [SECONDS]    # default 3 200 15
#
# Needs wrk for the flat-out part (installed with apt-get when missing,
# saying so first; WORKSHOP_NO_INSTALL=1 turns that off and the flat-out
# part is skipped, saying so). Postgres and Redis as for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/backing-services.sh
source scripts/lib/release-stack.sh
ROUNDS="${1:-3}"
RATE="${2:-200}"
SECONDS_EACH="${3:-15}"

bench_setup
RESULTS="$WORKSHOP_RUN_DIR/results"
: >"$RESULTS"

WRK=1
if ! command -v wrk >/dev/null 2>&1; then
  apt_install wrk || { WRK=0; log "no wrk: the flat-out part is skipped (fixed rate only)"; }
fi

log "building release binaries"
cargo build --release --locked -q -p lab -p api-gateway -p order-service -p user-service -p inventory-service
BIN="${CARGO_TARGET_DIR:-target}/release"
TICK=$(getconf CLK_TCK)

# CPU ticks (user + system) of the stack's four services.
cpu_ticks() {
  local total=0 pid
  for pid in "${STACK_PIDS[@]}"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
rss_all() {
  local out="" pid
  for pid in "${STACK_PIDS[@]}"; do out+="$(rss_mib "$pid")/"; done
  echo "${out%/}"
}
# `to_ms 1.23ms` / `850.00us` / `1.2s` → milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$|µs$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}

sink_grpc=$(free_port) sink_http=$(free_port) sink_query=$(free_port)
"$BIN/lab" sink --no-print --no-database --grpc-port "$sink_grpc" --http-port "$sink_http" --query-port "$sink_query" \
  >"$LOGS/sink.log" 2>&1 &
SINK_PID=$!
sleep 0.5

run_mode() {
  local mode=$1 round=$2
  local env=(RUST_LOG=info OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_http"
    OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)
  case $mode in
    traced) env+=(OTEL_TRACES_SAMPLER=always_on) ;;
    untraced) env+=(OTEL_SDK_DISABLED=true) ;;
  esac
  start_release_stack "$mode-$round" "${env[@]}"
  local gw=$STACK_GATEWAY
  # One order to read back, then a warm-up.
  local order trace
  order=$(curl -fs -X POST "$gw/orders" -H 'content-type: application/json' \
    -d '{"user_id": "1", "product": "Laptop", "quantity": 1}' | sed -E 's/.*"order_id":([0-9]+).*/\1/')
  "$BIN/lab" load --gateway "$gw" --rps 200 --requests 400 --mix orders=1,get=99 >/dev/null
  local idle_rss
  idle_rss=$(rss_all)

  # Spans per request: one GET's trace, as the receiver has it.
  local spans=0
  if [ "$mode" = traced ]; then
    trace=$(curl -fs "$gw/orders/$order" | sed -E 's/.*"trace_id":"([0-9a-f]+)".*/\1/')
    sleep 7
    spans=$("$BIN/lab" trace "$trace" --jaeger "http://127.0.0.1:$sink_query" 2>/dev/null \
      | sed -nE '1s/.* · ([0-9]+) spans? · .*/\1/p')
  fi

  # Fixed rate.
  local before after fixed p50 p99 count
  before=$(cpu_ticks)
  fixed=$("$BIN/lab" load --gateway "$gw" --rps "$RATE" --duration "${SECONDS_EACH}s" --mix orders=1,get=99)
  after=$(cpu_ticks)
  count=$(echo "$fixed" | sed -nE '1s/^([0-9]+) requests.*/\1/p')
  p50=$(echo "$fixed" | sed -nE 's/^latency: p50 ([^ ]+ [^ ]+) .*/\1/p' | tr -d ' ')
  p99=$(echo "$fixed" | sed -nE 's/.*p99 ([^ ]+ [^ ]+) · max.*/\1/p' | tr -d ' ')
  local fixed_cpu_us=$(( (after - before) * 1000000 / TICK / count ))

  # Flat out.
  local rps="-" flat_cpu_us="-" loaded_rss
  if [ "$WRK" = 1 ]; then
    local out requests
    before=$(cpu_ticks)
    out=$(wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency "$gw/orders/$order")
    after=$(cpu_ticks)
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    flat_cpu_us=$(( (after - before) * 1000000 / TICK / requests ))
  fi
  loaded_rss=$(rss_all)
  stop_release_stack
  printf '%s %s %s %s %s %s %s %s %s %s\n' "$mode" "$round" "$(to_ms "$p50")" "$(to_ms "$p99")" \
    "$fixed_cpu_us" "$rps" "$flat_cpu_us" "$spans" "$idle_rss" "$loaded_rss" >>"$RESULTS"
  log "$mode, round $round: p50 $p50, p99 $p99 at $RATE/s, ${fixed_cpu_us} µs CPU/request; flat out $rps req/s, ${flat_cpu_us} µs CPU/request"
}

for round in $(seq 1 "$ROUNDS"); do
  # Alternate which mode goes first, so drift (a warming machine) hits both.
  if [ $((round % 2)) = 1 ]; then order=(traced untraced); else order=(untraced traced); fi
  for mode in "${order[@]}"; do run_mode "$mode" "$round"; done
done

python3 - "$RESULTS" "$RATE" "$SECONDS_EACH" "$(nproc)" <<'PY'
import statistics, sys
path, rate, secs, cores = sys.argv[1:]
rows = [l.split() for l in open(path) if l.strip()]
cols = ["p50", "p99", "cpu_fixed", "rps", "cpu_flat"]
def num(v):
    try: return float(v)
    except ValueError: return None
data = {}
for mode, _round, *vals in rows:
    d = data.setdefault(mode, {c: [] for c in cols + ["spans", "idle", "loaded"]})
    for c, v in zip(cols, vals[:5]):
        if num(v) is not None: d[c].append(num(v))
    d["spans"].append(vals[5]); d["idle"].append(vals[6]); d["loaded"].append(vals[7])
def med(xs): return statistics.median(xs) if xs else None
def spread(xs):
    if len(xs) < 2: return "-"
    m = statistics.median(xs)
    return f"±{100 * (max(xs) - min(xs)) / 2 / m:.0f}%" if m else "-"
print()
print(f"GET /orders/{{id}} through the gateway, {len(rows) // 2} rounds per mode, {secs} s each, {cores} cores")
print(f"{'':10} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11}   {'req/s':>7} {'CPU µs/req':>11}  spans/req  RSS MiB idle → loaded (inv/user/order/gw)")
print(f"{'':10} {'at ' + rate + '/s':>28}     {'flat out':>19}")
for mode in ("traced", "untraced"):
    d = data.get(mode)
    if not d: continue
    f = lambda c, fmt: "-" if med(d[c]) is None else fmt.format(med(d[c]))
    print(f"{mode:10} {f('p50','{:.2f}'):>8} {f('p99','{:.2f}'):>8} {f('cpu_fixed','{:.0f}'):>11}   "
          f"{f('rps','{:.0f}'):>7} {f('cpu_flat','{:.0f}'):>11}  {d['spans'][-1]:>9}  {d['idle'][-1]} → {d['loaded'][-1]}")
    print(f"{'  spread':10} {spread(d['p50']):>8} {spread(d['p99']):>8} {spread(d['cpu_fixed']):>11}   "
          f"{spread(d['rps']):>7} {spread(d['cpu_flat']):>11}")
t, u = data.get("traced"), data.get("untraced")
if t and u:
    def ratio(c):
        a, b = med(t[c]), med(u[c])
        return "-" if a is None or not b else f"{a / b:.2f}"
    print()
    print("traced / untraced (medians; the targets of issue 14 in brackets):")
    print(f"  CPU per request at {rate}/s  {ratio('cpu_fixed')}  [≤ 1.10]")
    print(f"  p99 at {rate}/s              {ratio('p99')}  [≤ 1.15]")
    print(f"  p50 at {rate}/s              {ratio('p50')}")
    print(f"  throughput flat out       {ratio('rps')}  [≥ 0.95]")
    print(f"  CPU per request flat out  {ratio('cpu_flat')}")
PY
