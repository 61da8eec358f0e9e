#!/usr/bin/env bash
# `aero-net run -- COMMAND`: the command gets a configured network namespace (address, default
# route, resolver at the gateway), reaches the gateway and, through a UDP forward, an echo server
# on the host's loopback; its exit status comes back; nothing is left behind.
#
# Needs root; exits 77 (skipped) otherwise, saying why.
set -euo pipefail

aero_net=$1
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "needs root to create network namespaces and TAP devices"
[[ -c /dev/net/tun ]] || skip "needs /dev/net/tun"
command -v busybox >/dev/null || skip "needs busybox"

echo_port=$((20000 + ($$ + 7) % 20000))
python3 "$here/udp_echo.py" serve 127.0.0.1 "$echo_port" 60 &
echo_pid=$!
trap 'kill "$echo_pid" 2>/dev/null || true' EXIT
fail() { echo "FAIL: $*"; exit 1; }

set +e
output=$(timeout 60 "$aero_net" run --udp-forward "203.0.113.7:7=127.0.0.1:$echo_port" -- sh -c '
  echo "netns: $(ip netns identify)"
  ip -4 addr show tap0
  ip route show default
  cat /etc/resolv.conf
  busybox ping -c 3 -i 0.2 -W 2 10.0.2.2 || exit 10
  python3 '"$here"'/udp_echo.py send 203.0.113.7 7 200 || exit 11
  exit 42' 2>&1)
status=$?
set -e
echo "$output"
[[ $status == 42 ]] || fail "exit status $status, want the command's 42"
[[ $output == *"inet 10.0.2.15/24"* ]] || fail "no address"
[[ $output == *"default via 10.0.2.2"* ]] || fail "no default route"
[[ $output == *"nameserver 10.0.2.2"* ]] || fail "resolver not at the gateway"
[[ $output == *"received 200/200"* ]] || fail "UDP echo through the forward"
# Only this run's namespace is checked: other runs may be going on at the same time.
netns=$(sed -n 's/^netns: //p' <<<"$output")
[[ $netns == aero-run-* ]] || fail "the command did not run in an aero-run namespace: '$netns'"
ip netns list | grep -qw "$netns" && fail "the network namespace $netns was left behind"
[[ -e /etc/netns/$netns ]] && fail "the resolver file of $netns was left behind"
# DNS through the gateway's forwarder: a real DNS server (dnsmasq) on the host's loopback as the
# upstream; a public name resolves, a public name whose answer is private is filtered out (DNS
# rebinding), a static name (--dns-a, as AERO_L2_DNS_A) answers locally.
command -v dnsmasq >/dev/null || fail "needs dnsmasq (scripts/install-deps.sh installs it)"
{
  dns_port=$((20000 + ($$ + 13) % 20000))
  timeout 60 dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
    --listen-address=127.0.0.1 --bind-interfaces --port="$dns_port" \
    --address=/real.aero.test/93.184.216.34 --address=/private.aero.test/10.1.2.3 \
    >/dev/null 2>&1 &
  dnsmasq_pid=$!
  sleep 0.5
  set +e
  lookups=$(timeout 60 "$aero_net" run --dns-upstream "127.0.0.1:$dns_port" \
    --dns-a dev.aero.test=10.0.2.77 -- sh -c '
      busybox nslookup -type=a real.aero.test
      busybox nslookup -type=a private.aero.test
      busybox nslookup -type=a dev.aero.test' 2>&1)
  set -e
  kill "$dnsmasq_pid" 2>/dev/null || true
  echo "$lookups"
  [[ $lookups == *"Address: 93.184.216.34"* ]] || fail "real.aero.test did not resolve"
  [[ $lookups != *"10.1.2.3"* ]] || fail "a private answer for a public name reached the guest"
  [[ $lookups == *"Address: 10.0.2.77"* ]] || fail "the static name did not resolve"
}

# Echo beyond the gateway: a peer namespace the test creates (veth, 198.18.0.0/30, a
# benchmarking range), reached through the host's echo socket. Denied by default, allowed with
# --allow-private.
peer=ap$(( $$ % 100000 ))
trap 'kill "$echo_pid" 2>/dev/null || true; ip link del "$peer-h" 2>/dev/null || true; ip netns del "$peer" 2>/dev/null || true' EXIT
ip netns add "$peer"
ip link add "$peer-h" type veth peer name "$peer-p"
ip link set "$peer-p" netns "$peer"
ip addr add 198.18.0.1/30 dev "$peer-h"
ip link set "$peer-h" up
ip -n "$peer" addr add 198.18.0.2/30 dev "$peer-p"
ip -n "$peer" link set "$peer-p" up
ip -n "$peer" link set lo up
set +e
denied=$(timeout 30 "$aero_net" run -- busybox ping -c 1 -W 2 198.18.0.2 2>&1)
allowed=$(timeout 30 "$aero_net" run --allow-private -- busybox ping -c 3 -i 0.2 -W 2 198.18.0.2 2>&1)
set -e
[[ $denied == *"0 packets received"* ]] || fail "an echo to a denied range got through: $denied"
[[ $allowed == *"3 packets received"* ]] || fail "echo through the host socket: $allowed"

echo "aero-net run test: all checks passed"
