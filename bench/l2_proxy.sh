#!/usr/bin/env bash
# aero-l2-proxy end to end, in one run (release build):
#
# 1. Throughput through the WebSocket path relative to the direct TAP path (needs root: network
#    namespaces and TAP devices; skipped with a message otherwise). A namespace guest (Linux's
#    TCP) downloads and uploads $BYTES with tests/integration/tcp_tool.py, SHA-256 checked, from
#    a server on the host's loopback, along two paths:
#      websocket  tap0 -> `aero-net bridge` -> aero-l2-tunnel-v1 -> aero-l2-proxy -> host socket
#      direct     tap0 -> `aero-net run` (the same stack serving the TAP device itself)
#    Both reach the server through a TCP forward (203.0.113.9:P -> 127.0.0.1:P).
# 2. Resident memory per idle tunnel: for each count in $TUNNELS, the proxy's VmRSS before and
#    after that many tunnels (bench/l2_idle_tunnels.py, Debian's python3-websockets) have
#    connected and settled, divided by the count. No root needed. Goal: at most 64 KiB.
#
# Usage: bench/l2_proxy.sh   (environment: REPS=3 BYTES=268435456 TUNNELS="1000 10000"
#                             PARTS="throughput memory" JOBS=<build jobs, default nproc>)
# Prints the median of $REPS runs per cell and the ratios. Figures: docs/performance.md.
# Every process is tracked by PID and stopped on exit; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
REPS=${REPS:-3}
BYTES=${BYTES:-$((256 << 20))}
TUNNELS=${TUNNELS:-"1000 10000"}
PARTS=${PARTS:-"throughput memory"}
JOBS=${JOBS:-$(nproc)}
python=/usr/bin/python3  # Debian's, which has python3-websockets
tcp_tool="$repo/tests/integration/tcp_tool.py"

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS" --target aero-net aero-l2-proxy >/dev/null
aero_net="$repo/build/release/apps/aero-net"
proxy="$repo/build/release/apps/aero-l2-proxy"

work=$(mktemp -d)
pids=()
ns=
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -n $ns ]] && ip netns del "$ns" 2>/dev/null || true
  [[ -n $ns ]] && rm -rf "/etc/netns/$ns"
  rm -rf "$work"
}
trap cleanup EXIT
die() { echo "bench/l2_proxy.sh: $*" >&2; exit 1; }
wait_for() {  # wait_for FILE PATTERN SECONDS
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
stop() {  # stop PID: TERM, bounded wait
  kill -TERM "$1" 2>/dev/null || true
  timeout 10 tail --pid="$1" -f /dev/null 2>/dev/null || kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
rate_of() { awk -v mode="$1" '$1 == mode && $4 == "ok" {print $(NF - 1)}' "$2"; }  # MB/s

port=$((20000 + ($$ + 91) % 20000))
"$python" "$tcp_tool" serve 127.0.0.1 "$port" 7200 >"$work/server.log" 2>&1 &
pids+=($!)
wait_for "$work/server.log" serving 5 || die "the TCP server did not start"
forward="203.0.113.9:$port=127.0.0.1:$port"

websocket_run() {  # websocket_run OUT: one download and one upload through bridge + proxy
  local out=$1 proxy_pid bridge_pid url
  AERO_L2_API_KEY=bench-key AERO_L2_OPEN=1 AERO_L2_TCP_FORWARD="$forward" \
    "$proxy" --bind 127.0.0.1:0 --ready-stdout >"$work/proxy.out" 2>"$work/proxy.err" &
  proxy_pid=$!
  pids+=("$proxy_pid")
  wait_for "$work/proxy.out" AERO_L2_PROXY_READY 10 || die "the proxy did not start"
  url=$(awk '{print $2}' "$work/proxy.out")
  ns=aero-bench-$$
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" tuntap add dev tap0 mode tap
  "$aero_net" bridge --tap tap0 --netns "$ns" --url "$url" --token bench-key \
    >"$work/bridge.json" 2>"$work/bridge.err" &
  bridge_pid=$!
  pids+=("$bridge_pid")
  wait_for "$work/bridge.err" connected 10 || die "the bridge did not connect"
  ip netns exec "$ns" timeout 20 udhcpc -i tap0 -n -q -f -t 5 -T 1 >"$work/udhcpc.log" 2>&1 ||
    die "no DHCP lease through the tunnel"
  ip netns exec "$ns" timeout 600 "$python" "$tcp_tool" client 203.0.113.9 "$port" down "$BYTES" >"$out"
  ip netns exec "$ns" timeout 600 "$python" "$tcp_tool" client 203.0.113.9 "$port" up "$BYTES" >>"$out"
  stop "$bridge_pid"
  stop "$proxy_pid"
  ip netns del "$ns"
  ns=
}

direct_run() {  # direct_run OUT: the same transfers with the stack on the TAP device
  local out=$1
  timeout 1200 "$aero_net" run --tcp-forward "$forward" -- sh -c \
    "'$python' '$tcp_tool' client 203.0.113.9 $port down $BYTES &&
     '$python' '$tcp_tool' client 203.0.113.9 $port up $BYTES" >"$out" 2>"$work/run.err"
}

if [[ " $PARTS " != *" throughput "* ]]; then
  :
elif [[ $(id -u) == 0 && -c /dev/net/tun ]] && command -v udhcpc >/dev/null; then
  echo "== throughput, $BYTES bytes each way, $REPS runs per path"
  for rep in $(seq "$REPS"); do
    websocket_run "$work/ws.$rep"
    direct_run "$work/direct.$rep"
    for path in ws direct; do
      for mode in down up; do
        rate=$(rate_of "$mode" "$work/$path.$rep")
        [[ -n $rate ]] || { cat "$work/$path.$rep"; die "$path $mode: no checked transfer"; }
        echo "$rate" >>"$work/$path.$mode"
      done
    done
    echo "run $rep: websocket $(tail -n1 "$work/ws.down")/$(tail -n1 "$work/ws.up") MB/s," \
      "direct $(tail -n1 "$work/direct.down")/$(tail -n1 "$work/direct.up") MB/s (down/up)"
  done
  printf '%-10s %14s %14s\n' path "download MB/s" "upload MB/s"
  for path in ws direct; do
    printf '%-10s %14s %14s\n' "$path" "$(median <"$work/$path.down")" "$(median <"$work/$path.up")"
  done
  for mode in down up; do
    awk -v mode="$mode" -v ws="$(median <"$work/ws.$mode")" -v direct="$(median <"$work/direct.$mode")" \
      'BEGIN {printf "websocket / direct, %s: %.2f\n", mode, ws / direct}'
  done
else
  echo "== throughput: skipped (needs root, /dev/net/tun and udhcpc)"
fi

[[ " $PARTS " == *" memory "* ]] || exit 0
rss_kib() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
echo "== resident memory of idle tunnels"
printf '%-8s %12s %12s %16s\n' tunnels "before KiB" "after KiB" "KiB per tunnel"
for count in $TUNNELS; do
  AERO_L2_OPEN=1 AERO_L2_INSECURE_ALLOW_NO_AUTH=1 AERO_L2_MAX_CONNECTIONS=$((count + 16)) \
    "$proxy" --bind 127.0.0.1:0 --ready-stdout >"$work/proxy.out" 2>"$work/proxy.err" &
  proxy_pid=$!
  pids+=("$proxy_pid")
  wait_for "$work/proxy.out" AERO_L2_PROXY_READY 10 || die "the proxy did not start"
  url=$(awk '{print $2}' "$work/proxy.out")
  sleep 0.5
  before=$(rss_kib "$proxy_pid")
  mkfifo "$work/hold"
  (ulimit -n "$(ulimit -Hn)"; exec "$python" bench/l2_idle_tunnels.py "$url" "$count" 300 \
    <"$work/hold" >"$work/clients.out" 2>"$work/clients.err") &
  clients_pid=$!
  pids+=("$clients_pid")
  exec {hold}>"$work/hold"
  wait_for "$work/clients.out" connected 240 || { cat "$work/clients.err"; die "$count tunnels did not connect"; }
  sleep 3
  after=$(rss_kib "$proxy_pid")
  exec {hold}>&-
  timeout 60 tail --pid="$clients_pid" -f /dev/null || true
  stop "$clients_pid"
  stop "$proxy_pid"
  rm -f "$work/hold"
  awk -v n="$count" -v b="$before" -v a="$after" 'BEGIN {printf "%-8s %12s %12s %16.1f\n", n, b, a, (a - b) / n}'
done
