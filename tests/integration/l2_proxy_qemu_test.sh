#!/usr/bin/env bash
# A real guest OS behind the WebSocket path: QEMU (TCG) boots the installed Debian kernel with the
# busybox initramfs of qemu_guest_test.sh; its NIC's `-netdev stream` socket is served by
# `aero-net bridge --qemu-listen`, which carries the frames to aero-l2-proxy over
# aero-l2-tunnel-v1 (API key in a subprotocol entry). With an e1000 and with a virtio-net NIC the
# guest obtains its DHCP lease, pings the gateway, resolves a name through the stack's DNS
# (answered by the AERO_L2_DNS_A test override), then downloads and uploads
# AERO_L2_QEMU_TCP_BYTES (32 MiB; the long tier 256 MiB) over TCP from a server on the host's
# loopback, reached through the proxy's AERO_L2_TCP_FORWARD test override, with SHA-256 checked
# at both ends; the proxy and the bridge must agree.
#
# Needs what qemu_guest_test.sh needs; exits 77 (skipped) otherwise, saying why. No root needed.
set -euo pipefail

proxy=$(readlink -f "$1")
aero_net=$(readlink -f "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
for tool in qemu-system-x86_64 cpio gzip timeout python3 busybox; do
  command -v "$tool" >/dev/null || skip "needs $tool (scripts/install-deps.sh installs it)"
done
[[ $(qemu-system-x86_64 -netdev help 2>&1 || true) == *stream* ]] || skip "needs QEMU 7.2 or newer (-netdev stream)"
kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort -V | tail -n 1)
[[ -n $kernel && -r $kernel ]] || skip "needs a readable kernel at /boot/vmlinuz-*"
kver=${kernel#/boot/vmlinuz-}
[[ -f /lib/modules/$kver/modules.dep ]] || skip "needs the modules of $kver"

work=$(mktemp -d)
proxy_pid=
bridge_pid=
qemu_pid=
tcp_bytes=${AERO_L2_QEMU_TCP_BYTES:-$((32 << 20))}
tcp_port=$((20000 + ($$ + 73) % 20000))
python3 "$here/tcp_tool.py" serve 127.0.0.1 "$tcp_port" 7200 >"$work/tcp-server.log" 2>&1 &
tcp_server_pid=$!
tcp_sha=$(python3 "$here/tcp_tool.py" sha "$tcp_bytes")
# TCG and the tunnel move a few MB/s: allow 1 s per MiB each way on top of the boot.
guest_timeout=$((120 + 2 * (tcp_bytes >> 20)))
cleanup() {
  for pid in $qemu_pid $bridge_pid $proxy_pid $tcp_server_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in $qemu_pid $bridge_pid $proxy_pid $tcp_server_pid; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for log in "$work"/*.serial "$work"/*.bridge-err "$work"/proxy.err; do
    [[ -s $log ]] && { echo "--- ${log##*/}"; tr -d '\r' <"$log" | tail -n 30; }
  done
  exit 1
}
wait_for() {  # wait_for FILE PATTERN SECONDS
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

bash "$here/guest/build_initramfs.sh" "$work/initramfs.cpio.gz" "$kver" || fail "could not build the initramfs"
cd "$work"  # unix socket paths stay short

AERO_L2_API_KEY=qemu-key AERO_L2_OPEN=1 AERO_L2_TCP_FORWARD="203.0.113.9:$tcp_port=127.0.0.1:$tcp_port" \
  AERO_L2_DNS_A="files.test=203.0.113.9" \
  "$proxy" --bind 127.0.0.1:0 --ready-stdout >proxy.out 2>proxy.err &
proxy_pid=$!
wait_for proxy.out AERO_L2_PROXY_READY 10 || fail "the proxy did not start"
url=$(awk '{print $2}' proxy.out)

run_guest() {  # run_guest QEMU_DEVICE EXPECTED_DRIVER
  local device=$1 driver=$2
  echo "== $device"
  "$aero_net" bridge --url "$url" --token qemu-key --qemu-listen "unix:$device.sock" --ping-interval 1 \
    >"$device.json" 2>"$device.bridge-err" &
  bridge_pid=$!
  wait_for "$device.bridge-err" connected 10 || fail "$device: the bridge did not connect"
  timeout -k 5 "$guest_timeout" qemu-system-x86_64 -accel tcg -m 256 -smp 1 -nodefaults -no-reboot \
    -display none -serial "file:$device.serial" -monitor none \
    -kernel "$kernel" -initrd initramfs.cpio.gz -append "console=ttyS0 quiet panic=-1 aero.dns=files.test aero.tcp=203.0.113.9:$tcp_port aero.tcp_bytes=$tcp_bytes" \
    -netdev "stream,id=n0,server=off,addr.type=unix,addr.path=$device.sock" \
    -device "$device,netdev=n0,mac=52:54:00:12:34:56" </dev/null >"$device.qemu" 2>&1 &
  qemu_pid=$!
  local rc=0
  wait "$qemu_pid" || rc=$?
  qemu_pid=
  ((rc == 0)) || fail "$device: qemu-system-x86_64 exited with $rc"
  kill -TERM "$bridge_pid"
  rc=0
  wait "$bridge_pid" || rc=$?
  bridge_pid=
  ((rc == 0)) || fail "$device: the bridge exited with $rc"
  tr -d '\r' <"$device.serial" >"$device.console"
  grep -E '^AERO-GUEST' "$device.console" || true
  for marker in "nic driver $driver" 'lease 10\.0\.2\.15 router 10\.0\.2\.2' 'ping ok 10\.0\.2\.2' \
    'dns files\.test 203\.0\.113\.9' \
    "tcp down $tcp_bytes $tcp_sha" "tcp up $tcp_bytes $tcp_sha" 'done'; do
    grep -Eq "^AERO-GUEST $marker( |\$)" "$device.console" || fail "$device: the guest never reported '$marker'"
  done
  python3 - "$device.json" <<'CHECK' || fail "$device: bridge report"
import json, sys
report = json.load(open(sys.argv[1]))
print("bridge:", json.dumps(report))
assert report["peers"] == 1, "one QEMU connection"
assert report["frames_to_proxy"] >= 5 and report["frames_from_proxy"] >= 5
# The gateway's announcement comes before QEMU connects: the only frame with nowhere to go.
assert report["transport_drops"] <= 1, "frames dropped toward the guest"
CHECK
}

run_guest e1000 e1000
run_guest virtio-net-pci virtio_net
python3 - "$(awk '{print $2}' proxy.out | sed 's#ws://#http://#; s#/l2$#/metrics#')" <<'CHECK' || fail "proxy metrics"
import sys, urllib.request
metrics = dict(line.rsplit(" ", 1) for line in urllib.request.urlopen(sys.argv[1]).read().decode().splitlines()
               if line and not line.startswith("#"))
print("proxy: sessions", metrics["l2_sessions_total"], "frames rx", metrics["l2_frames_rx_total"],
      "tx", metrics["l2_frames_tx_total"])
assert float(metrics["l2_sessions_total"]) == 2, "one tunnel per guest"
assert float(metrics["l2_frames_dropped_total"]) == 0
CHECK
echo "QEMU guest behind the WebSocket tunnel: all checks passed"
