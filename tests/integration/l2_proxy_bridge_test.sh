#!/usr/bin/env bash
# A real guest network stack behind the WebSocket path: a network namespace whose TAP device is
# bridged by `aero-net bridge` to aero-l2-proxy over aero-l2-tunnel-v1 (authenticated with an
# API key in a subprotocol entry). In the namespace: busybox udhcpc gets a lease, busybox ping
# reaches the gateway, busybox nslookup resolves a name, and a download and an upload through a
# TCP forward arrive with their SHA-256 checked. The proxy's capture of the tunnel is read back
# with tshark and must show the DHCP exchange. The bridge's PINGs get PONGs.
# Size from AERO_BRIDGE_BYTES (default 32 MiB; the long tier uses 256 MiB). With
# AERO_BRIDGE_WS_SEND_BUFFER small, the proxy's send queue keeps filling and the transfers run
# through its back-pressure path (host socket reads paused and resumed).
#
# Needs root (network namespaces, TAP devices); exits 77 (skipped) otherwise, saying why.
set -euo pipefail

proxy=$1
aero_net=$2
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "needs root to create network namespaces and TAP devices"
[[ -c /dev/net/tun ]] || skip "needs /dev/net/tun"
for tool in ip udhcpc busybox tshark; do
  command -v "$tool" >/dev/null || skip "needs $tool (scripts/install-deps.sh installs it)"
done

bytes=${AERO_BRIDGE_BYTES:-$((32 << 20))}
ns=aero-bridge-$$
work=$(mktemp -d)
proxy_pid=
bridge_pid=
server_pid=
cleanup() {
  [[ -n $bridge_pid ]] && kill "$bridge_pid" 2>/dev/null || true
  [[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null || true
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "/etc/netns/$ns" "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in proxy.err bridge.err bridge.json; do [[ -f $work/$f ]] && { echo "--- $f"; tail -n 20 "$work/$f"; }; done
  exit 1
}
wait_for() {  # wait_for FILE PATTERN SECONDS
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
in_ns() { ip netns exec "$ns" "$@"; }

# A server on the host's loopback that the guest reaches through a TCP forward.
port=$((20000 + ($$ + 57) % 20000))
python3 "$here/tcp_tool.py" serve 127.0.0.1 "$port" 900 >"$work/server.log" 2>&1 &
server_pid=$!
wait_for "$work/server.log" serving 5 || fail "the TCP server did not start"

AERO_L2_API_KEY=bridge-key AERO_L2_OPEN=1 \
  AERO_L2_TCP_FORWARD="203.0.113.9:$port=127.0.0.1:$port" AERO_L2_DNS_A="files.test=203.0.113.9" \
  AERO_L2_CAPTURE_DIR="$work/capture" AERO_L2_WS_SEND_BUFFER="${AERO_BRIDGE_WS_SEND_BUFFER:-64}" \
  "$proxy" --bind 127.0.0.1:0 --ready-stdout >"$work/proxy.out" 2>"$work/proxy.err" &
proxy_pid=$!
wait_for "$work/proxy.out" AERO_L2_PROXY_READY 10 || fail "the proxy did not start"
url=$(awk '{print $2}' "$work/proxy.out")
proxy_port=${url##*:}
proxy_port=${proxy_port%%/*}

ip netns add "$ns"
mkdir -p "/etc/netns/$ns"
echo "# $ns" >"/etc/netns/$ns/resolv.conf"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev tap0 mode tap

# A wrong key is refused before anything is bridged.
if "$aero_net" bridge --tap tap0 --netns "$ns" --url "$url" --token wrong-key --duration 1 \
  >/dev/null 2>"$work/refused.err"; then
  fail "the bridge connected with a wrong key"
fi
grep -q "401" "$work/refused.err" || { cat "$work/refused.err"; fail "no 401 for a wrong key"; }

"$aero_net" bridge --tap tap0 --netns "$ns" --url "$url" --token bridge-key --ping-interval 0.5 \
  >"$work/bridge.json" 2>"$work/bridge.err" &
bridge_pid=$!
wait_for "$work/bridge.err" connected 10 || fail "the bridge did not connect"
attached=
for _ in $(seq 50); do
  [[ $(ip -n "$ns" link show tap0) == *LOWER_UP* ]] && { attached=1; break; }
  sleep 0.1
done
[[ -n $attached ]] || fail "the bridge did not attach to tap0"

echo "== DHCP (busybox udhcpc) through the tunnel"
in_ns timeout 20 udhcpc -i tap0 -n -q -f -t 5 -T 1 >"$work/udhcpc.log" 2>&1 || { cat "$work/udhcpc.log"; fail "no lease"; }
[[ $(in_ns ip -4 addr show tap0) == *"inet 10.0.2.15/24"* ]] || fail "tap0 did not get 10.0.2.15/24"
[[ $(in_ns ip route) == *"default via 10.0.2.2"* ]] || fail "no default route via 10.0.2.2"

echo "== ping the gateway"
in_ns busybox ping -c 3 -i 0.2 -W 2 10.0.2.2 >"$work/ping.txt" || { cat "$work/ping.txt"; fail "ping 10.0.2.2"; }
grep -q "3 packets received" "$work/ping.txt" || fail "ping lost packets"

echo "== DNS"
in_ns busybox nslookup files.test 10.0.2.2 >"$work/dns.txt" 2>&1 || { cat "$work/dns.txt"; fail "nslookup"; }
grep -q "203.0.113.9" "$work/dns.txt" || { cat "$work/dns.txt"; fail "wrong DNS answer"; }

echo "== download and upload of $bytes bytes with SHA-256"
# By name: the guest's resolver (udhcpc wrote the netns resolv.conf) asks the stack.
in_ns timeout 600 python3 "$here/tcp_tool.py" client files.test "$port" down "$bytes" >"$work/tcp.out" 2>&1 ||
  { cat "$work/tcp.out"; fail "download"; }
in_ns timeout 600 python3 "$here/tcp_tool.py" client 203.0.113.9 "$port" up "$bytes" >>"$work/tcp.out" 2>&1 ||
  { cat "$work/tcp.out"; fail "upload"; }
cat "$work/tcp.out"
grep -q "^down $bytes bytes ok" "$work/tcp.out" || fail "download checksum"
grep -q "^up $bytes bytes ok" "$work/tcp.out" || fail "upload checksum"

metrics=$(curl -s "http://127.0.0.1:$proxy_port/metrics" 2>/dev/null || python3 -c "
import urllib.request,sys; print(urllib.request.urlopen('http://127.0.0.1:$proxy_port/metrics').read().decode())")
grep -q '^l2_sessions_active 1$' <<<"$metrics" || fail "one tunnel expected in the metrics"
grep -q '^l2_upgrade_reject_auth_invalid_total 1$' <<<"$metrics" || fail "the wrong key was not counted"
if ((${AERO_BRIDGE_WS_SEND_BUFFER:-64} < 16)); then
  # A send queue this short keeps filling: the stack must have paused its host sockets (and the
  # transfers above still arrived whole).
  pauses=$(awk '$1 == "aero_l2_backpressure_pauses_total" {print $2}' <<<"$metrics")
  echo "send queue ${AERO_BRIDGE_WS_SEND_BUFFER}: the stack paused its host sockets $pauses times"
  ((pauses > 0)) || fail "no back-pressure pause with a send queue of $AERO_BRIDGE_WS_SEND_BUFFER"
fi

kill -TERM "$bridge_pid"
wait "$bridge_pid" || fail "the bridge exited with an error"
bridge_pid=
python3 - "$work/bridge.json" "$bytes" <<'CHECK' || fail "bridge report"
import json, sys
report = json.load(open(sys.argv[1]))
print("bridge:", json.dumps(report))
assert report["pongs_received"] >= 1, "the bridge's PINGs were answered"
assert report["frames_to_proxy"] > 1000 and report["frames_from_proxy"] > 1000
CHECK

kill -TERM "$proxy_pid"
wait "$proxy_pid" || fail "the proxy exited with an error"
proxy_pid=
capture=$(ls "$work"/capture/*.pcapng | head -n 1)
tshark -r "$capture" -Y dhcp -T fields -e dhcp.option.dhcp 2>/dev/null >"$work/dhcp.txt" || fail "tshark cannot read $capture"
[[ $(tr '\n' ' ' <"$work/dhcp.txt") == "1 2 3 5 " ]] || { cat "$work/dhcp.txt"; fail "the capture does not show DISCOVER OFFER REQUEST ACK"; }

echo "bridge test: all checks passed"
