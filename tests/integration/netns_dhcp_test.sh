#!/usr/bin/env bash
# Real guests against the stack: a network namespace whose TAP device is served by
# `aero-net stack`, with three real DHCP clients (busybox udhcpc, ISC dhclient, dhcpcd) each
# obtaining, renewing and releasing a lease, and busybox ping to the gateway.
#
# Needs root (network namespaces, TAP devices); exits 77 (skipped) otherwise, saying why.
# Everything it creates (namespace, its resolv.conf, processes) is removed on exit.
set -euo pipefail

aero_net=$1
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "needs root to create network namespaces and TAP devices"
[[ -c /dev/net/tun ]] || skip "needs /dev/net/tun"
for tool in ip udhcpc dhclient dhcpcd busybox; do
  command -v "$tool" >/dev/null || skip "needs $tool (scripts/install-deps.sh installs it)"
done

ns=aero-dhcp-$$
work=$(mktemp -d)
stack_pid=
cleanup() {
  [[ -n $stack_pid ]] && kill "$stack_pid" 2>/dev/null || true
  [[ -n ${echo_pid:-} ]] && kill "$echo_pid" 2>/dev/null || true
  [[ -f $work/dhclient.pid ]] && kill "$(cat "$work/dhclient.pid")" 2>/dev/null || true
  [[ -n ${dhcpcd_pid:-} ]] && kill "$dhcpcd_pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "/etc/netns/$ns" "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [[ -f $work/stack.err ]] && cat "$work/stack.err"; exit 1; }

# The namespace's own resolv.conf, so DHCP client hooks never touch the host's.
ip netns add "$ns"
mkdir -p "/etc/netns/$ns"
echo "# $ns" >"/etc/netns/$ns/resolv.conf"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev tap0 mode tap

# A UDP echo server on the host's loopback, reached by the guest through a forward rule.
echo_port=$((20000 + $$ % 20000))
python3 "$here/udp_echo.py" serve 127.0.0.1 "$echo_port" 100 &
echo_pid=$!
"$aero_net" stack --tap tap0 --netns "$ns" --duration 120 \
  --udp-forward "203.0.113.7:7=127.0.0.1:$echo_port" >"$work/stack.json" 2>"$work/stack.err" &
stack_pid=$!
attached=
for _ in $(seq 50); do
  [[ $(ip -n "$ns" link show tap0) == *LOWER_UP* ]] && { attached=1; break; }
  sleep 0.1
done
[[ -n $attached ]] || fail "the stack did not attach to tap0"

in_ns() { ip netns exec "$ns" "$@"; }
wait_for() {  # wait_for FILE PATTERN SECONDS
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
expect_address() {
  local addresses
  addresses=$(in_ns ip -4 addr show tap0)
  # Each client may get its own pool address: udhcpc sends a client identifier, dhclient does
  # not, and RFC 2131 §4.2 makes those different clients.
  [[ $addresses =~ inet\ 10\.0\.2\.(1[5-9]|2[0-9]|30)/24 ]] || { cat "$work/$1.obtain" 2>/dev/null; echo "$addresses"; fail "$1: tap0 has no pool address"; }
}
ping_gateway() {
  in_ns busybox ping -c 3 -i 0.2 -W 2 10.0.2.2 >"$work/ping.txt" || { cat "$work/ping.txt"; fail "$1: ping 10.0.2.2"; }
  grep -q "3 packets received" "$work/ping.txt" || fail "$1: ping lost packets"
}

echo "== udhcpc: obtain, renew (SIGUSR1), release on exit (-R)"
cat >"$work/udhcpc.script" <<SCRIPT
#!/bin/sh
/etc/udhcpc/default.script "\$@"
echo "\$1" >>"$work/udhcpc.events"
SCRIPT
chmod +x "$work/udhcpc.script"
ip netns exec "$ns" udhcpc -i tap0 -f -R -t 5 -T 1 -s "$work/udhcpc.script" >"$work/udhcpc.log" 2>&1 &
udhcpc_pid=$!
wait_for "$work/udhcpc.events" bound 10 || fail "udhcpc: no lease"
expect_address udhcpc
ping_gateway udhcpc
echo "== 1000 UDP datagrams to a loopback echo server through a forward rule"
in_ns python3 "$here/udp_echo.py" send 203.0.113.7 7 1000 || fail "UDP echo through the NAT"
kill -USR1 "$udhcpc_pid"
wait_for "$work/udhcpc.events" renew 10 || fail "udhcpc: renewal not acknowledged"
kill -TERM "$udhcpc_pid"
wait "$udhcpc_pid" || true
grep -q "sending release" "$work/udhcpc.log" || fail "udhcpc: did not release"
in_ns ip addr flush dev tap0

echo "== dhclient: obtain, renew (INIT-REBOOT with the stored lease), release (-r)"
dhclient_args=(-4 -lf "$work/dhclient.leases" -pf "$work/dhclient.pid" -sf /sbin/dhclient-script)
in_ns timeout 20 dhclient -1 -v "${dhclient_args[@]}" tap0 2>"$work/dhclient.obtain" || { cat "$work/dhclient.obtain"; fail "dhclient: no lease"; }
expect_address dhclient
ping_gateway dhclient
kill "$(cat "$work/dhclient.pid")"
in_ns timeout 20 dhclient -1 -v "${dhclient_args[@]}" tap0 2>"$work/dhclient.renew" || fail "dhclient: renewal"
grep -q "DHCPACK of 10.0.2." "$work/dhclient.renew" || fail "dhclient: renewal not acknowledged"
grep -q "DHCPDISCOVER" "$work/dhclient.renew" && fail "dhclient: restarted from DISCOVER instead of reusing its lease"
in_ns timeout 20 dhclient -r "${dhclient_args[@]}" tap0 || fail "dhclient: release"
in_ns ip addr flush dev tap0

echo "== dhcpcd: obtain, renew (-n), release (-k)"
ip netns exec "$ns" dhcpcd -4 -B --noarp -f /dev/null -t 15 tap0 >"$work/dhcpcd.log" 2>&1 &
dhcpcd_pid=$!
wait_for "$work/dhcpcd.log" "leased 10.0.2." 20 || { cat "$work/dhcpcd.log"; fail "dhcpcd: no lease"; }
expect_address dhcpcd
ping_gateway dhcpcd
in_ns timeout 10 dhcpcd -4 -n tap0 >/dev/null 2>&1 || fail "dhcpcd: -n"
for _ in $(seq 100); do
  (( $(grep -c "leased 10.0.2." "$work/dhcpcd.log") >= 2 )) && break
  sleep 0.1
done
(( $(grep -c "leased 10.0.2." "$work/dhcpcd.log") >= 2 )) || { cat "$work/dhcpcd.log"; fail "dhcpcd: renewal not acknowledged"; }
# `dhcpcd -k` signals the daemon found through its pid file; SIGALRM to the daemon itself is
# the same request (dhcpcd(8)) and does not depend on a pid file another run may have left.
in_ns timeout 10 dhcpcd -4 -k tap0 >/dev/null 2>&1 || true
wait_for "$work/dhcpcd.log" "releasing lease" 5 || kill -ALRM "$dhcpcd_pid" 2>/dev/null || true
wait_for "$work/dhcpcd.log" "releasing lease" 10 || { cat "$work/dhcpcd.log"; fail "dhcpcd: did not release"; }
for _ in $(seq 100); do kill -0 "$dhcpcd_pid" 2>/dev/null || break; sleep 0.1; done
kill "$dhcpcd_pid" 2>/dev/null || true

# The stack's own account of what happened.
kill -0 "$stack_pid" 2>/dev/null || fail "aero-net stack is no longer running"
kill -TERM "$stack_pid"
wait "$stack_pid" || fail "aero-net stack exited with an error"
stack_pid=
python3 - "$work/stack.json" <<'CHECK' || fail "stack counters"
import json, sys
report = json.load(open(sys.argv[1]))
dhcp = report["session"]["dhcp"]
print("stack:", json.dumps(dhcp), "echo_replies", report["session"]["echo_replies"])
assert dhcp["naks"] == 0, "no NAKs expected"
assert dhcp["releases"] >= 3, "each client released its lease"
assert dhcp["acks"] >= 6, "each client obtained and renewed"
assert report["session"]["echo_replies"] >= 9, "three pings per client"
assert report["frames_out_dropped"] == 0
assert report["session"]["udp_from_host"] >= 1000, "every echo came back through the NAT"
CHECK
echo "netns DHCP test: all checks passed"
