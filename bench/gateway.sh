#!/usr/bin/env bash
# aero-gateway's TCP relays against a raw loopback TCP relay and against websockify, in one run
# (release build; no root needed; loopback only).
#
# 1. Throughput. A loopback server (bench/gateway_bench.mjs sink) sends or checks $BYTES per cell
#    (download: server -> client; upload: client -> server), through:
#      raw         socat (Debian) relaying TCP to TCP: the floor of what any relay costs
#      websockify  websockify (Debian, Python, one process per connection) relaying WebSocket
#                  to TCP, the target fixed on its command line
#      tcp         aero-gateway /tcp?host=127.0.0.1&port=P, one WebSocket per connection
#      mux         aero-gateway /tcp-mux, $STREAMS streams over one WebSocket
#    each with one connection and with $STREAMS parallel connections ($BYTES split evenly), the
#    WebSocket paths driven by the same client (Node's `ws`, bench/gateway_bench.mjs). Every byte
#    is compared with the expected pattern and counted at the receiver, so a relay that loses or
#    corrupts data fails the run. The gateway runs with TCP_ALLOW_PRIVATE_IPS=1: the sink is on
#    127.0.0.1, which the egress policy refuses otherwise.
# 2. Resident memory per idle relayed connection: $IDLE idle connections to the sink through a
#    fresh relay (gateway /tcp, gateway /tcp-mux with $IDLE streams on one WebSocket, websockify),
#    the relay's memory before and after, divided by $IDLE (websockify: at most $WEBSOCKIFY_IDLE,
#    see below). For the gateway VmRSS of its one
#    process; websockify forks a process per connection, so its figure is the sum over the
#    process tree of Pss (shared pages divided among the processes sharing them; the VmRSS sum
#    would count the interpreter once per connection). Both are printed for both.
#
# Usage: bench/gateway.sh   (environment: REPS=3 BYTES=1073741824 STREAMS=8 IDLE=1000
#                            PARTS="throughput memory" MASK=zero|random MUX_BUFFER=67108864
#                            JOBS=1)
# Prints the median of $REPS runs per cell and the ratios. Figures: docs/performance.md.
# Every process is tracked by PID and stopped on exit; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
REPS=${REPS:-3}
BYTES=${BYTES:-$((1 << 30))}
STREAMS=${STREAMS:-8}
IDLE=${IDLE:-1000}
PARTS=${PARTS:-"throughput memory"}
MASK=${MASK:-zero}
MUX_BUFFER=${MUX_BUFFER:-$((64 << 20))}
# websockify 0.10 select()s in each per-connection process on descriptors it inherited from the
# parent, which still holds the accepted sockets of the live connections: past about 500
# connections the new ones fail with "filedescriptor out of range in select()".
WEBSOCKIFY_IDLE=${WEBSOCKIFY_IDLE:-400}
JOBS=${JOBS:-1}
client="$repo/bench/gateway_bench.mjs"

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS" --target aero-gateway >/dev/null
gateway="$repo/build/release/apps/aero-gateway"
export NODE_PACKAGE_DIR="$repo/tests/integration/node"  # `ws`, installed by install-deps.sh

# Each idle connection holds a descriptor in the client and the sink, two in a relay.
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= 2 * IDLE + 256)) || { echo "bench/gateway.sh: RLIMIT_NOFILE $(ulimit -n) is too low for IDLE=$IDLE" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench/gateway.sh: $*" >&2; exit 1; }
wait_for() {  # wait_for FILE PATTERN SECONDS
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
stop() {  # stop PID: TERM, bounded wait, then KILL
  kill -TERM "$1" 2>/dev/null || true
  timeout 10 tail --pid="$1" -f /dev/null 2>/dev/null || kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
listening_port() {  # listening_port PID: the loopback port process PID listens on (5 s)
  local port
  for _ in $(seq 50); do
    port=$(ss -Hltnp 2>/dev/null | awk -v p="pid=$1," '$0 ~ p {n = split($4, a, ":"); print a[n]; exit}')
    [[ -n $port ]] && { echo "$port"; return 0; }
    sleep 0.1
  done
  return 1
}

node "$client" sink >"$work/sink.out" 2>"$work/sink.err" &
pids+=($!)
wait_for "$work/sink.out" SINK_READY 10 || die "the sink did not start: $(cat "$work/sink.err")"
export SINK_PORT; SINK_PORT=$(awk '{print $2}' "$work/sink.out")

start_socat() {  # sets relay_pid, relay_url
  socat -b 131072 "TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork,backlog=1024" "TCP:127.0.0.1:$SINK_PORT" \
    2>"$work/socat.err" &
  relay_pid=$!
  pids+=("$relay_pid")
  relay_url="tcp://127.0.0.1:$(listening_port "$relay_pid")" || die "socat does not listen"
}
start_websockify() {  # sets relay_pid, relay_url
  websockify "127.0.0.1:0" "127.0.0.1:$SINK_PORT" >"$work/websockify.out" 2>"$work/websockify.err" &
  relay_pid=$!
  pids+=("$relay_pid")
  relay_url="ws://127.0.0.1:$(listening_port "$relay_pid")/" || die "websockify does not listen"
}
gateways=0
start_gateway() {  # start_gateway [NAME=VALUE...]: sets relay_pid, relay_url, relay_log
  gateways=$((gateways + 1))
  relay_log="$work/gateway.$gateways"
  env AERO_GATEWAY_SESSION_SECRET=bench-secret DNS_UPSTREAMS=127.0.0.1:9 TCP_ALLOW_PRIVATE_IPS=1 \
    LOG_LEVEL=warn "$@" "$gateway" --bind 127.0.0.1:0 --ready-stdout \
    >"$relay_log.out" 2>"$relay_log.err" &
  relay_pid=$!
  pids+=("$relay_pid")
  wait_for "$relay_log.out" AERO_GATEWAY_READY 10 || die "the gateway did not start: $(cat "$relay_log.err")"
  relay_url=$(awk '{print $2}' "$relay_log.out")
}

results="$work/results.jsonl"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

if [[ " $PARTS " == *" throughput "* ]]; then
  echo "== throughput: $BYTES bytes per cell and direction, $REPS runs, $STREAMS parallel streams"
  start_socat; raw_url=$relay_url; raw_pid=$relay_pid
  start_websockify; websockify_url=$relay_url; websockify_pid=$relay_pid
  # aero-tcp-mux-v1 has no flow control: the gateway reads the WebSocket without pause and a
  # stream's bytes wait for its target within TCP_MUX_MAX_STREAM_BUFFER_BYTES (ERROR 6 beyond).
  # A client uploading at loopback speed gets ahead of the sink whenever the sink is not
  # scheduled, so the measured gateway holds $MUX_BUFFER per stream; a second gateway with the
  # default 1 MiB runs the same /tcp-mux upload once per run, and the count of ERROR 6 is printed.
  start_gateway TCP_MUX_MAX_STREAM_BUFFER_BYTES="$MUX_BUFFER"
  gateway_url=$relay_url; gateway_pid=$relay_pid; gateway_log=$relay_log
  start_gateway; default_gateway_url=$relay_url
  mux_default_failures=0
  # Cells: path and stream count; the order rotates per run so that background load spreads.
  cells=("raw 1" "websockify 1" "tcp 1" "raw $STREAMS" "websockify $STREAMS" "tcp $STREAMS" "mux $STREAMS")
  for rep in $(seq "$REPS"); do
    for i in "${!cells[@]}"; do
      read -r mode streams <<<"${cells[$(((i + rep - 1) % ${#cells[@]}))]}"
      case $mode in
        raw) url=$raw_url; pid=$raw_pid ;;
        websockify) url=$websockify_url; pid=$websockify_pid ;;
        *) url=$gateway_url; pid=$gateway_pid ;;
      esac
      for direction in down up; do
        RELAY_PID=$pid timeout 180 node "$client" throughput "$mode" "$url" "$direction" "$streams" "$BYTES" "$MASK" \
          >"$work/run.json" 2>"$work/run.err" ||
          die "run $rep, $mode x$streams $direction failed: $(cat "$work/run.err")"
        sed "s/^{/{\"rep\":$rep,/" "$work/run.json" >>"$results"
      done
      printf 'run %d: %-10s x%-2d %s\n' "$rep" "$mode" "$streams" \
        "$(tail -n 2 "$results" | awk -F'"mbps":' '{split($2, a, ","); printf "%8.1f MB/s", a[1]}')" >&2
    done
    if ! timeout 180 node "$client" throughput mux "$default_gateway_url" up "$STREAMS" "$BYTES" "$MASK" \
      >/dev/null 2>"$work/run.err"; then
      grep -q "ERROR 6" "$work/run.err" || die "run $rep, mux with default buffers: $(cat "$work/run.err")"
      mux_default_failures=$((mux_default_failures + 1))
    fi
  done
  if grep -q . "$gateway_log.err"; then echo "gateway log:"; head -n 20 "$gateway_log.err"; fi
  kill -0 "$gateway_pid" 2>/dev/null || die "the gateway died"
  for pid in "${pids[@]:1}"; do stop "$pid"; done
  pids=("${pids[0]}")
  node "$client" report-throughput "$results" "$STREAMS"
  echo "/tcp-mux upload with the default TCP_MUX_MAX_STREAM_BUFFER_BYTES (1 MiB):" \
    "$mux_default_failures of $REPS runs ended with ERROR 6 (stream buffered too much data);" \
    "the measured gateway had $MUX_BUFFER bytes per stream"
fi

if [[ " $PARTS " == *" memory "* ]]; then
  echo
  echo "== resident memory of idle relayed connections (KiB)"
  memory="$work/memory.jsonl"
  for mode in tcp mux websockify; do
    count=$IDLE
    if [[ $mode == websockify ]]; then
      start_websockify
      count=$((IDLE < WEBSOCKIFY_IDLE ? IDLE : WEBSOCKIFY_IDLE))
    else
      start_gateway TCP_PROXY_MAX_CONNECTIONS=$((IDLE + 16)) TCP_MUX_MAX_STREAMS=$((IDLE + 16))
    fi
    TIMEOUT_S=300 timeout 320 node "$client" idle "$mode" "$relay_url" "$count" "$relay_pid" \
      >>"$memory" 2>"$work/idle.err" || die "$mode: idle connections failed: $(cat "$work/idle.err")"
    stop "$relay_pid"
  done
  node "$client" report-memory "$memory"
fi

echo
echo "Machine: $(nproc) cores, $(uname -r); node $(node --version); ws" \
  "$(node -p "require('$NODE_PACKAGE_DIR/node_modules/ws/package.json').version");" \
  "websockify $(dpkg-query -W -f='${Version}' websockify); socat $(dpkg-query -W -f='${Version}' socat);" \
  "client masking key: $MASK"
echo "Load average (1, 5, 15 min) at the start: $load_at_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
