#!/usr/bin/env bash
# TCP through aero-net vs slirp4netns and pasta, in one run (needs root; Linux with network
# namespaces, TUN/TAP and iproute2).
#
# For each peer, MTU (1500 and 65520) and repetition, a guest (a network namespace with one TAP
# device, tap0) served by that peer runs bench/tcp_peers.py guest, which measures:
#   - iperf3 TCP throughput guest->host and host->guest (-R), `iperf3 -t $DURATION` each;
#   - 64-byte request/response latency: one TCP_NODELAY connection, $ROUND_TRIPS round trips
#     against an echo server, median in microseconds.
# The servers (iperf3 -s, and the echo server in bench/tcp_peers.py) listen on the host's
# 127.0.0.1 only; each peer's own way of reaching the host loopback is used:
#   aero-net     `aero-net run --tcp-forward 203.0.113.1:P=127.0.0.1:P -- CMD`; the guest dials
#                203.0.113.1 (a documentation address, so nothing else could answer).
#   slirp4netns  the gateway 10.0.2.2 is the host's loopback unless --disable-host-loopback.
#   pasta        the gateway 10.0.2.2 maps to the host unless --no-map-gw; -t/-u/-T/-U none so
#                that it forwards nothing else (the splice path of -T would bypass the TAP).
# The table prints the median of $REPS runs per cell and aero-net / the better peer per metric.
# Runs are interleaved (repetition, then MTU, then peer, the peer order rotating) so that
# background load on the machine spreads over all peers.
#
# How slirp4netns and pasta get their namespace:
#   unshare --net --fork --kill-child=SIGTERM timeout N python3 tcp_peers.py guest ... &
#   slirp4netns --configure --mtu=M $! tap0          # attaches by PID
#   ip netns attach NAME $!; pasta --runas 0 --config-net ... -m M --netns NAME
# Pitfalls found on the way:
#   - Do not wrap `unshare` in `timeout`: $! would then be timeout's PID, which is still in the
#     host namespace, and slirp4netns would configure tap0 there. The script puts `timeout`
#     inside and, before attaching a peer, waits until /proc/PID/ns/net differs from its own.
#   - pasta as root must run with --runas 0 (otherwise it switches to nobody and cannot enter
#     the namespace). Given a PID it fails with "Couldn't open user namespace
#     /proc/PID/ns/user: Permission denied", and with --netns /proc/PID/ns/net it cannot open
#     that either; `ip netns attach` (a bind mount under /var/run/netns) works.
#   - pasta does not answer ICMP itself and connects to any other address for real, so the
#     script adds `ip route add blackhole 10.0.2.0/24` in the host namespace while it runs
#     (unless a route for it exists already) and removes it afterwards.
#   - Inside an `unshare --net` namespace /sys is still the host's: read the MTU with `ip link`.
#   - A persistent `iperf3 -s` closes and reopens its listener after every test; a client that
#     connects in between gets "Connection reset by peer" or "the server is busy" (seen with
#     aero-net and with pasta). Each direction gets its own fresh `iperf3 -s -1`.
# Every process the script starts is tracked by PID and stopped on exit (also on Ctrl-C);
# every wait is bounded by `timeout`.
#
# Usage: bench/tcp_peers.sh        (environment: REPS=3 DURATION=5 ROUND_TRIPS=2000
#                                   MTUS="1500 65520" PEERS="aero-net slirp4netns pasta"
#                                   OUT=build/tcp-peers JOBS=<build jobs, default nproc>)
# Raw results: $OUT/results.jsonl (one line per run), per-run logs and aero-net --stats-file
# counters next to it. Figures: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
helper="$repo/bench/tcp_peers.py"
REPS=${REPS:-3}
DURATION=${DURATION:-5}
ROUND_TRIPS=${ROUND_TRIPS:-2000}
MTUS=${MTUS:-"1500 65520"}
PEERS=${PEERS:-"aero-net slirp4netns pasta"}
OUT=${OUT:-build/tcp-peers}
JOBS=${JOBS:-$(nproc)}
FORWARDED_IP=203.0.113.1
GUEST_SUBNET=10.0.2.0/24

if [[ $(id -u) -ne 0 ]]; then
  echo "error: needs root (network namespaces, TAP devices)" >&2
  exit 2
fi
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS" --target aero-net >/dev/null
aero_net="$repo/build/release/apps/aero-net"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
results="$OUT/results.jsonl"
: >"$results"

# --- process bookkeeping: everything started is stopped on exit ---------------------------------
started=()             # PIDs of background processes still to stop
attached_netns=()      # names made by `ip netns attach`
blackhole_added=false

forget() {
  local pid=$1 kept=() p
  for p in "${started[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  started=("${kept[@]}")
}
stop() {  # stop one of our processes and reap it
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget "$1"
}
cleanup() {
  local pid name
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  started=()
  for name in "${attached_netns[@]}"; do ip netns del "$name" 2>/dev/null || true; done
  attached_netns=()
  if $blackhole_added; then ip route del blackhole "$GUEST_SUBNET" 2>/dev/null || true; fi
  blackhole_added=false
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z $(ip route show "$GUEST_SUBNET") ]]; then
  ip route add blackhole "$GUEST_SUBNET"
  blackhole_added=true
fi

read -r fwd_port rev_port echo_port < <(python3 "$helper" free-ports 3)
python3 "$helper" echo-server "$echo_port" 7200 &
started+=($!)

wait_listening() {  # port: until something listens on 127.0.0.1:port (at most 5 s)
  local i
  for i in $(seq 250); do
    [[ -n $(ss -Hltn "sport = :$1") ]] && return 0
    sleep 0.02
  done
  echo "error: nothing listens on port $1" >&2
  return 1
}
wait_listening "$echo_port"

wait_own_netns() {  # pid: until the process is in a network namespace other than ours (5 s)
  local ours i
  ours=$(readlink /proc/self/ns/net)
  for i in $(seq 500); do
    local theirs
    theirs=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
    [[ $theirs != "$ours" ]] && return 0
    sleep 0.01
  done
  return 1
}

# Keeps the CPU time (user + system clock ticks) process PID has used in FILE until it exits:
# the peer's cost per byte, which background load on the machine disturbs less than throughput.
sample_cpu() {  # pid file
  local stat fields
  while stat=$(cat "/proc/$1/stat" 2>/dev/null); do
    read -ra fields <<<"${stat##*) }"  # fields from the third (state) on
    echo $((fields[11] + fields[12])) >"$2.new"  # utime and stime, fields 14 and 15 of proc(5)
    mv -f "$2.new" "$2"
    sleep 0.1
  done
}
watch_cpu() {  # pid file: start sample_cpu in the background
  sample_cpu "$1" "$2" &
  started+=($!)
  sampler=$!
}
child_of() {  # pid: the PID of its child (here: the peer under `timeout`; waits up to 5 s)
  local i pid
  for i in $(seq 250); do
    pid=$(pgrep -P "$1" || true)
    [[ -n $pid ]] && echo "$pid" && return 0
    sleep 0.02
  done
  return 1
}

# Each run's worst case: two iperf3 runs with their own limit, the round trips, set-up.
run_limit=$((2 * (DURATION + 20) + 60))

run_one() {  # peer mtu rep: appends one JSON line to $results
  local peer=$1 mtu=$2 rep=$3
  local base="$OUT/$peer-mtu$mtu-run$rep"
  local guest=(python3 "$helper" guest --peer "$peer" --mtu "$mtu" --rep "$rep"
    --iperf-port-fwd "$fwd_port" --iperf-port-rev "$rev_port" --echo-port "$echo_port"
    --seconds "$DURATION"
    --round-trips "$ROUND_TRIPS")
  local servers=() port pid guest_pid peer_pid peer_process netns_name sampler=""
  rm -f "$base.cpu"
  # A fresh one-off server per direction (see tcp_peers.py guest for why).
  for port in "$fwd_port" "$rev_port"; do
    iperf3 -s -1 -B 127.0.0.1 -p "$port" >>"$base.iperf3-server.log" 2>&1 &
    servers+=($!)
    started+=($!)
  done
  wait_listening "$fwd_port"
  wait_listening "$rev_port"
  case $peer in
    aero-net)
      timeout "$run_limit" "$aero_net" run --mtu "$mtu" \
        --tcp-forward "$FORWARDED_IP:$fwd_port=127.0.0.1:$fwd_port" \
        --tcp-forward "$FORWARDED_IP:$rev_port=127.0.0.1:$rev_port" \
        --tcp-forward "$FORWARDED_IP:$echo_port=127.0.0.1:$echo_port" \
        --stats-file "$base.stats.json" -- "${guest[@]}" --target "$FORWARDED_IP" \
        >"$base.json" 2>"$base.err" &
      guest_pid=$!
      started+=("$guest_pid")
      if peer_process=$(child_of "$guest_pid"); then watch_cpu "$peer_process" "$base.cpu"; fi
      wait "$guest_pid" || true
      forget "$guest_pid"
      ;;
    slirp4netns | pasta)
      unshare --net --fork --kill-child=SIGTERM timeout "$run_limit" "${guest[@]}" \
        --target 10.0.2.2 >"$base.json" 2>"$base.err" &
      guest_pid=$!
      started+=("$guest_pid")
      if ! wait_own_netns "$guest_pid"; then
        echo "error: $peer run $rep: the guest never entered its own namespace" >>"$base.err"
        stop "$guest_pid"
      else
        if [[ $peer == slirp4netns ]]; then
          timeout "$run_limit" slirp4netns --configure --mtu="$mtu" "$guest_pid" tap0 \
            >"$base.peer.log" 2>&1 &
          peer_pid=$!
        else
          netns_name="tcp-peers-$$-$rep-$mtu"
          ip netns attach "$netns_name" "$guest_pid"
          attached_netns+=("$netns_name")
          timeout "$run_limit" pasta --runas 0 -q -f --config-net -4 -a 10.0.2.15 -n 24 \
            -g 10.0.2.2 -I tap0 -m "$mtu" -t none -u none -T none -U none \
            --netns "$netns_name" >"$base.peer.log" 2>&1 &
          peer_pid=$!
        fi
        started+=("$peer_pid")
        if peer_process=$(child_of "$peer_pid"); then watch_cpu "$peer_process" "$base.cpu"; fi
        wait "$guest_pid" || true
        forget "$guest_pid"
        stop "$peer_pid"
        if [[ -n ${netns_name:-} ]]; then
          ip netns del "$netns_name" 2>/dev/null || true
          attached_netns=()
        fi
      fi
      ;;
  esac
  for pid in "${servers[@]}"; do stop "$pid"; done
  if [[ -n $sampler ]]; then  # it ends by itself once the peer is gone
    wait "$sampler" 2>/dev/null || true
    forget "$sampler"
  fi
  if [[ -s $base.json ]]; then
    tail -n 1 "$base.json" >>"$results"
  else
    printf '{"peer":"%s","mtu":%d,"rep":%d,"errors":["no result, see %s.err"]}\n' \
      "$peer" "$mtu" "$rep" "$base" >>"$results"
  fi
  if [[ -s $base.cpu ]]; then
    python3 "$helper" cpu "$peer" "$mtu" "$rep" "$(cat "$base.cpu")" >>"$results"
  fi
  if [[ $peer == aero-net && -s $base.stats.json ]]; then
    python3 "$helper" stats "$base.stats.json" "$mtu" "$rep" >>"$results"
  fi
  tail -n 1 "$base.json" 2>/dev/null | cut -c1-200 >&2 || true
}

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
read -ra peer_list <<<"$PEERS"
for rep in $(seq "$REPS"); do
  for mtu in $MTUS; do
    for i in "${!peer_list[@]}"; do
      peer=${peer_list[$(((i + rep - 1) % ${#peer_list[@]}))]}
      echo "run $rep/$REPS, MTU $mtu, $peer" >&2
      run_one "$peer" "$mtu" "$rep"
    done
  done
done

echo
echo "Machine: $(nproc) cores, $(uname -r); $(iperf3 --version | head -n 1 | cut -d' ' -f1-2);" \
  "$(slirp4netns --version | head -n 1); passt $(dpkg-query -W -f='${Version}' passt)"
echo "Load average (1, 5, 15 min) at the start: $load_at_start; at the end:" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$helper" report "$results"
echo
echo "Raw results and logs: $OUT"
