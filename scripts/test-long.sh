#!/usr/bin/env bash
# The long test tier: what is too slow for every change but must hold before a release.
#
#   * every fuzz target for FUZZ_RUNS executions (default 1,000,000) under ASan + UBSan,
#     starting from the checked-in seeds; a finding stops the run and leaves crash-* files
#     in build/fuzz/long/<target>/. Targets whose executions are expensive run for a time
#     budget instead (the e1000 device: E1000_FUZZ_SECONDS, the virtio-net device:
#     VIRTIO_FUZZ_SECONDS, default 1800 each);
#   * the E1000 randomized ring test with 8*10^7 steps, more than 10^7 frames each way
#     (AERO_RING_ITERATIONS), and the virtio-net one with 3*10^6 steps, more than 10^7
#     frames each way (VIRTIO_RING_ITERATIONS);
#   * the TCP engine fuzz target for at least 10 minutes (TCP_FUZZ_SECONDS, default 900);
#   * TCP with real guests at full size (needs root): 1 GiB each way through `aero-net run`
#     (also under 1% loss and reordering), 1,000 concurrent connections of 1 MiB, and 1 GiB each
#     way for a QEMU guest on e1000 and virtio-net.
#
# Usage: scripts/test-long.sh            FUZZ_RUNS=5000000 scripts/test-long.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

runs=${FUZZ_RUNS:-1000000}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

printf '%-24s %12s %8s %10s\n' target executions seconds exec/s
for binary in build/fuzz/fuzz/fuzz_*; do
  name=$(basename "$binary")
  name=${name#fuzz_}
  workdir=build/fuzz/long/$name
  mkdir -p "$workdir/corpus"
  log=$workdir/fuzz.log
  started=$(date +%s.%N)
  budget=(-runs="$runs")
  [[ $name == e1000 ]] && budget=(-max_total_time="${E1000_FUZZ_SECONDS:-1800}")
  [[ $name == tcp_engine ]] && budget=(-max_total_time="${TCP_FUZZ_SECONDS:-900}")
  [[ $name == virtio_net ]] && budget=(-max_total_time="${VIRTIO_FUZZ_SECONDS:-1800}")
  (cd "$workdir" && "../../../../$binary" "${budget[@]}" -max_len=4096 -print_final_stats=1 \
      corpus "../../../../fuzz/corpus/$name") >"$log" 2>&1 || {
    echo "FINDING in $name: see $log"
    tail -40 "$log"
    exit 1
  }
  elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  executed=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
  rate=$(awk -v n="$executed" -v t="$elapsed" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }')
  printf '%-24s %12s %8s %10s\n' "$name" "$executed" "$elapsed" "$rate"
done
echo "long tier: every fuzz target ran without a finding"

echo "== E1000 randomized ring test: more than 10^7 frames each way"
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$(nproc)" --target test_devices
AERO_RING_ITERATIONS=${AERO_RING_ITERATIONS:-80000000} \
  build/dev/tests/test_devices --gtest_filter='*Ring*'

echo "== TCP with real guests, full size"
cmake --build --preset dev -j "$(nproc)" --target aero-net
AERO_TCP_BYTES=$((1 << 30)) AERO_TCP_LOSS_BYTES=$((1 << 30)) AERO_TCP_MANY=1000 \
  AERO_TCP_MANY_BYTES=$((1 << 20)) bash tests/integration/netns_tcp_test.sh build/dev/apps/aero-net
AERO_QEMU_TCP_BYTES=$((1 << 30)) bash tests/integration/qemu_guest_test.sh build/dev/apps/aero-net
echo "== Real guests behind the WebSocket tunnel: 256 MiB each way"
cmake --build --preset dev -j "$(nproc)" --target aero-l2-proxy
AERO_BRIDGE_BYTES=$((256 << 20)) bash tests/integration/l2_proxy_bridge_test.sh \
  build/dev/apps/aero-l2-proxy build/dev/apps/aero-net
AERO_L2_QEMU_TCP_BYTES=$((256 << 20)) bash tests/integration/l2_proxy_qemu_test.sh \
  build/dev/apps/aero-l2-proxy build/dev/apps/aero-net
echo "== virtio-net randomized ring test: more than 10^7 frames each way"
cmake --build --preset dev -j "$(nproc)" --target test_virtio
AERO_RING_ITERATIONS=${VIRTIO_RING_ITERATIONS:-3000000} \
  build/dev/tests/test_virtio --gtest_filter='VirtioRingRandom*'
echo "long tier: all passed"
