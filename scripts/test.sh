#!/usr/bin/env bash
# The aero-net test command (README "Run the tests"; CI runs exactly this).
#
#   1. dev preset  (gcc, debug, -Werror): unit, component and conformance tests
#   2. asan preset (clang, ASan + UBSan): the same tests under the sanitizers
#   3. fuzz preset (clang, libFuzzer + ASan + UBSan): every fuzz target briefly
#
# Usage: scripts/test.sh [--quick]   (--quick: dev preset only)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

jobs=$(nproc)
start=$(date +%s)
total_passed=0
total_failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_preset() {
  local preset=$1
  echo "== ${preset}: configure and build"
  cmake --preset "${preset}" >/dev/null
  cmake --build --preset "${preset}" -j "${jobs}"
  echo "== ${preset}: test"
  local status=0
  ctest --preset "${preset}" -j "${jobs}" --timeout 600 | tee "$log" || status=$?
  # ctest's summary: "100% tests passed, 0 tests failed out of 123"
  local summary
  summary=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$log" | tail -1 || true)
  if [[ -n $summary ]]; then
    local failed all
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
    all=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$summary")
    total_passed=$((total_passed + all - failed))
    total_failed=$((total_failed + failed))
  fi
  if ((status != 0)); then
    echo "tests: ${total_passed} passed, ${total_failed} failed"
    exit "$status"
  fi
}

run_preset dev
if [[ ${1:-} != --quick ]]; then
  run_preset asan
  run_preset fuzz
fi

echo "== all test stages passed in $(( $(date +%s) - start )) s"
echo "tests: ${total_passed} passed, ${total_failed} failed"
