#!/usr/bin/env bash
# A real guest OS against the stack: QEMU (TCG) boots the installed Debian kernel with a busybox
# initramfs built here, its NIC connected by `-netdev stream` to `aero-net stack --qemu-listen`.
# Once with an e1000 and once with a virtio-net NIC, the guest's kernel driver and busybox udhcpc
# obtain a DHCP lease (10.0.2.15, router 10.0.2.2) and busybox ping gets three echo replies from
# the gateway, then the guest downloads and uploads AERO_QEMU_TCP_BYTES (8 MiB; the long tier
# 1 GiB) over TCP from a server on the host's loopback (through a TCP forward) with busybox nc,
# SHA-256 checked at both ends. The guest reports each step on its serial console; the stack's
# counters must agree.
#
# Needs qemu-system-x86_64 (with -netdev stream), a readable kernel at /boot/vmlinuz-* with its
# modules, busybox-static and cpio; exits 77 (skipped) otherwise, saying why. No root needed.
# Processes it starts are stopped by PID and its temp dir is removed on exit.
set -euo pipefail

aero_net=$(readlink -f "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
for tool in qemu-system-x86_64 cpio gzip timeout python3; do
  command -v "$tool" >/dev/null || skip "needs $tool (scripts/install-deps.sh installs it)"
done
command -v busybox >/dev/null || skip "needs busybox-static (scripts/install-deps.sh installs it)"
PATH=$PATH:/usr/sbin:/sbin command -v modprobe >/dev/null || skip "needs modprobe (kmod)"
netdevs=$(qemu-system-x86_64 -netdev help 2>&1 || true)
[[ $netdevs == *stream* ]] || skip "needs QEMU 7.2 or newer (-netdev stream)"
kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort -V | tail -n 1)
[[ -n $kernel ]] || skip "needs a kernel at /boot/vmlinuz-* (package linux-image-amd64)"
[[ -r $kernel ]] || skip "cannot read $kernel (run as root or make it readable)"
kver=${kernel#/boot/vmlinuz-}
[[ -f /lib/modules/$kver/modules.dep ]] || skip "needs the modules of $kver in /lib/modules/$kver"

work=$(mktemp -d)
stack_pid=
qemu_pid=
tcp_bytes=${AERO_QEMU_TCP_BYTES:-$((8 << 20))}
tcp_port=$((20000 + ($$ + 41) % 20000))
python3 "$here/tcp_tool.py" serve 127.0.0.1 "$tcp_port" 7200 >"$work/tcp-server.log" 2>&1 &
tcp_server_pid=$!
tcp_sha=$(python3 "$here/tcp_tool.py" sha "$tcp_bytes")
# TCG moves a few MB/s: allow 1 s per MiB each way on top of the boot.
guest_timeout=$((120 + 2 * (tcp_bytes >> 20)))
cleanup() {
  kill "$tcp_server_pid" 2>/dev/null || true
  [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null || true
  [[ -n $stack_pid ]] && kill "$stack_pid" 2>/dev/null || true
  [[ -n $qemu_pid ]] && wait "$qemu_pid" 2>/dev/null || true
  [[ -n $stack_pid ]] && wait "$stack_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() {
  echo "FAIL: $*"
  for log in "$work"/*.serial "$work"/*.qemu "$work"/*.stack-err; do
    [[ -s $log ]] && { echo "--- ${log##*/}"; tr -d '\r' <"$log" | tail -n 40; }
  done
  exit 1
}

bash "$here/guest/build_initramfs.sh" "$work/initramfs.cpio.gz" "$kver" ||
  fail "could not build the guest initramfs"
echo "kernel: $kernel"

# Both ends run in $work and name the socket relative to it: unix socket paths are short.
cd "$work"

expect_marker() {  # expect_marker DEVICE REGEX: a line the guest printed on its console
  grep -Eq "^AERO-GUEST $2( |\$)" "$1.console" || fail "$1: the guest never reported '$2'"
}
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

run_guest() {  # run_guest QEMU_DEVICE EXPECTED_DRIVER
  local device=$1 driver=$2 started
  started=$(now_ms)
  echo "== $device"
  "$aero_net" stack --qemu-listen "unix:$device.sock" --duration $((guest_timeout + 30)) \
    --tcp-forward "203.0.113.9:$tcp_port=127.0.0.1:$tcp_port" \
    >"$device.json" 2>"$device.stack-err" &
  stack_pid=$!
  local listening=
  for _ in $(seq 50); do
    grep -q "listening on" "$device.stack-err" 2>/dev/null && { listening=1; break; }
    kill -0 "$stack_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $listening ]] || fail "$device: aero-net stack is not listening"

  timeout -k 5 "$guest_timeout" qemu-system-x86_64 -accel tcg -m 256 -smp 1 -nodefaults -no-reboot \
    -display none -serial "file:$device.serial" -monitor none \
    -kernel "$kernel" -initrd initramfs.cpio.gz -append "console=ttyS0 quiet panic=-1 aero.tcp=203.0.113.9:$tcp_port aero.tcp_bytes=$tcp_bytes" \
    -netdev "stream,id=n0,server=off,addr.type=unix,addr.path=$device.sock" \
    -device "$device,netdev=n0,mac=52:54:00:12:34:56" </dev/null >"$device.qemu" 2>&1 &
  qemu_pid=$!
  local rc=0
  wait "$qemu_pid" || rc=$?
  qemu_pid=
  ((rc != 124 && rc != 137)) || fail "$device: the guest did not power off within $guest_timeout s"
  ((rc == 0)) || fail "$device: qemu-system-x86_64 exited with $rc"

  kill -0 "$stack_pid" 2>/dev/null || fail "$device: aero-net stack is no longer running"
  kill -TERM "$stack_pid"
  rc=0
  wait "$stack_pid" || rc=$?
  stack_pid=
  ((rc == 0)) || fail "$device: aero-net stack exited with $rc"

  tr -d '\r' <"$device.serial" >"$device.console"
  grep -E '^AERO-GUEST' "$device.console" || true
  expect_marker "$device" "nic driver $driver"
  expect_marker "$device" 'lease 10\.0\.2\.15 router 10\.0\.2\.2'
  expect_marker "$device" 'ping ok 10\.0\.2\.2'
  expect_marker "$device" "tcp down $tcp_bytes $tcp_sha"
  expect_marker "$device" "tcp up $tcp_bytes $tcp_sha"
  expect_marker "$device" 'done'
  if grep -q '^AERO-GUEST FAIL' "$device.console"; then fail "$device: the guest reported a failure"; fi

  python3 - "$device.json" <<'CHECK' || fail "$device: stack counters"
import json, sys
report = json.load(open(sys.argv[1]))
session = report["session"]
print("stack: connections", report["connections"], "dhcp", json.dumps(session["dhcp"]),
      "echo_replies", session["echo_replies"])
assert report["connections"] == 1, "one QEMU connection"
assert session["dhcp"]["acks"] >= 1, "the guest's lease was acknowledged"
assert session["dhcp"]["naks"] == 0, "no NAKs expected"
assert session["echo_replies"] >= 3, "three echo replies to the guest's pings"
assert report["frames_out_dropped"] == 0
CHECK
  local elapsed=$(($(now_ms) - started))
  echo "$device: passed in $((elapsed / 1000)).$((elapsed % 1000 / 100)) s"
}

run_guest e1000 e1000
run_guest virtio-net-pci virtio_net
echo "QEMU guest test: all checks passed"
