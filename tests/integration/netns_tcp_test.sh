#!/usr/bin/env bash
# TCP through the stack with a real guest network stack (Linux in a namespace, `aero-net run`)
# and a server on the host's loopback reached through a TCP forward:
#   * a download and an upload with SHA-256 checked at both ends, at MTU 1500 and 65520;
#   * the same with 1% of the frames dropped and 1% reordered on the guest side;
#   * a guest that reads slowly (its window closes) and a host that reads slowly (ours closes);
#   * half-close both ways, RST both ways, a refused port and a policy denial;
#   * many connections open at once, each with its checksum checked;
#   * an inbound forward: a host client reaches a server in the guest.
# Sizes come from the environment so the long tier can run the same test at 1 GiB:
#   AERO_TCP_BYTES (32 MiB), AERO_TCP_LOSS_BYTES (8 MiB), AERO_TCP_MANY (1000 connections),
#   AERO_TCP_MANY_BYTES (256 KiB each; the long tier uses 1 MiB).
#
# Needs root; exits 77 (skipped) otherwise, saying why.
set -euo pipefail

aero_net=$1
here=$(cd "$(dirname "$0")" && pwd)
tool="$here/tcp_tool.py"
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
[[ $(id -u) == 0 ]] || skip "needs root to create network namespaces and TAP devices"
[[ -c /dev/net/tun ]] || skip "needs /dev/net/tun"

bytes=${AERO_TCP_BYTES:-$((32 << 20))}
loss_bytes=${AERO_TCP_LOSS_BYTES:-$((8 << 20))}
many=${AERO_TCP_MANY:-1000}
many_bytes=${AERO_TCP_MANY_BYTES:-$((256 << 10))}
ulimit -n "$(ulimit -Hn)"  # a descriptor per connection at both ends

work=$(mktemp -d)
port=$((20000 + ($$ + 31) % 20000))
python3 "$tool" serve 127.0.0.1 "$port" 1800 >"$work/server.log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  [[ -n ${guest_server_pid:-} ]] && kill "$guest_server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 50); do grep -q serving "$work/server.log" 2>/dev/null && break; sleep 0.1; done
remote=203.0.113.9  # what the guest dials; the forward takes it to the loopback server
forward="--tcp-forward=$remote:$port=127.0.0.1:$port"
client() { echo "python3 $tool client $remote $port $*"; }

run_guest() {  # run_guest NAME AERO_NET_OPTIONS... -- SHELL_SCRIPT
  local name=$1
  shift
  local options=()
  while [[ $1 != -- ]]; do options+=("$1"); shift; done
  shift
  echo "== $name"
  set +e
  timeout 900 "$aero_net" run "${options[@]}" --stats-file "$work/$name.json" -- sh -c "$1" \
    >"$work/$name.out" 2>&1
  local status=$?
  set -e
  cat "$work/$name.out"
  ((status == 0)) || fail "$name: the guest's script exited with $status"
}
stat() {  # stat NAME FIELD: a TCP counter of that run
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['tcp'][sys.argv[2]])" \
    "$work/$1.json" "$2"
}

run_guest bulk "$forward" -- "$(client down "$bytes") && $(client up "$bytes")"
grep -q "^down $bytes bytes ok" "$work/bulk.out" || fail "download"
grep -q "^up $bytes bytes ok" "$work/bulk.out" || fail "upload"

# The same with guest-bound data in the stack's ring rather than the kernel's buffer (kernels
# before 6.9 have no SO_PEEK_OFF for TCP).
run_guest ring "$forward" --tcp-force-ring --test-loss 0.01 -- \
  "$(client down "$loss_bytes") && $(client up "$loss_bytes")"
grep -q "^down $loss_bytes bytes ok" "$work/ring.out" || fail "download through the ring"
grep -q "^up $loss_bytes bytes ok" "$work/ring.out" || fail "upload through the ring"

# Frames up to 65520 bytes on the TAP: segments of up to 65480 bytes each way.
run_guest jumbo "$forward" --mtu 65520 -- "$(client down "$bytes") && $(client up "$bytes")"
grep -q "^down $bytes bytes ok" "$work/jumbo.out" || fail "download at MTU 65520"
grep -q "^up $bytes bytes ok" "$work/jumbo.out" || fail "upload at MTU 65520"
(($(stat jumbo segments_to_guest) < bytes / 30000)) || fail "segments were not MTU-sized"

run_guest lossy "$forward" --test-loss 0.01 --test-reorder 0.01 -- \
  "$(client down "$loss_bytes") && $(client up "$loss_bytes")"
grep -q "^down $loss_bytes bytes ok" "$work/lossy.out" || fail "download with loss"
grep -q "^up $loss_bytes bytes ok" "$work/lossy.out" || fail "upload with loss"
(($(stat lossy retransmissions) > 0)) || fail "no retransmissions under 1% loss"

run_guest slow "$forward" --tcp-receive-buffer 65536 --tcp-socket-buffer 65536 -- \
  "$(client slowdown $((4 << 20))) && $(client slowup $((4 << 20)))"
grep -q "^slowdown $((4 << 20)) bytes ok" "$work/slow.out" || fail "slow guest reader"
grep -q "^slowup $((4 << 20)) bytes ok" "$work/slow.out" || fail "slow host reader"
(($(stat slow guest_zero_windows) > 0)) || fail "the slow guest never closed its window"
(($(stat slow zero_windows_advertised) > 0)) || fail "our window never closed for the slow host"

run_guest semantics "$forward" "--tcp-forward=$remote:$((port + 1))=127.0.0.1:$((port + 1))" -- "$(client halfclose) && $(client serverfin) && \
  $(client rst-from-host) && $(client rst-from-guest) && sleep 0.5 && \
  python3 $tool client $remote $((port + 1)) refused && \
  python3 $tool client 192.168.77.1 80 refused"
grep -q "halfclose: .* ok" "$work/semantics.out" || fail "guest half-close"
grep -q "serverfin: got 50000 bytes then EOF ok" "$work/semantics.out" || fail "host half-close"
grep -q "rst-from-host: connection reset ok" "$work/semantics.out" || fail "host reset"
sleep 0.5
grep -q "server: after our FIN the client sent 70000 bytes" "$work/server.log" ||
  fail "data after the host's FIN did not arrive"
grep -q "server: saw the client's reset" "$work/server.log" || fail "guest reset"
(($(stat semantics policy_denied) >= 1)) || fail "the private address was not denied by policy"
(($(stat semantics connect_refused) >= 1)) || fail "the closed port was not counted as refused"

run_guest many "$forward" -- "$(client many "$many" "$many_bytes")"
grep -q "^many: $many/$many connections of $many_bytes bytes ok" "$work/many.out" ||
  fail "$many concurrent connections"

# Inbound: a host client reaches a server in the guest through --tcp-listen.
listen_port=$((port + 2))
run_guest inbound --tcp-listen "127.0.0.1:$listen_port:8080" -- "
  python3 $tool serve 0.0.0.0 8080 60 >$work/guest-server.log 2>&1 &
  for i in \$(seq 50); do grep -q serving $work/guest-server.log 2>/dev/null && break; sleep 0.1; done
  touch $work/guest-ready
  for i in \$(seq 600); do [ -e $work/host-done ] && exit 0; sleep 0.1; done
  exit 1" &
inbound_pid=$!
for _ in $(seq 100); do [[ -e $work/guest-ready ]] && break; sleep 0.1; done
[[ -e $work/guest-ready ]] || fail "the guest's server did not start"
python3 "$tool" client 127.0.0.1 "$listen_port" down $((8 << 20)) | tee "$work/inbound-client.out"
python3 "$tool" client 127.0.0.1 "$listen_port" up $((8 << 20)) | tee -a "$work/inbound-client.out"
touch "$work/host-done"
wait "$inbound_pid" || fail "inbound run"
grep -q "^down $((8 << 20)) bytes ok" "$work/inbound-client.out" || fail "inbound download"
grep -q "^up $((8 << 20)) bytes ok" "$work/inbound-client.out" || fail "inbound upload"
(($(stat inbound inbound_opened) >= 2)) || fail "inbound connections not counted"

echo "TCP integration test: all checks passed"
