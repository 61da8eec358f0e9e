#!/usr/bin/env bash
# Builds the release preset and runs the micro-benchmarks (median of 5 repetitions).
# The end-to-end comparison with slirp4netns and pasta is bench/tcp_peers.sh (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target bench_codecs bench_stack
for bench in bench_codecs bench_stack; do
  build/release/bench/$bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true "$@"
done
