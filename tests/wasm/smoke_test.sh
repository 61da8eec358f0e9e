#!/usr/bin/env bash
# CTest `wasm.smoke`: builds the WebAssembly module (scripts/build-wasm.sh) into OUT_DIR and
# runs the Node smoke test against it. Skips (exit 77) only when Emscripten is not installed.
#
# Usage: tests/wasm/smoke_test.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build/wasm}

if ! command -v emcc >/dev/null 2>&1; then
  echo "SKIP: emcc not found; scripts/install-deps.sh installs Debian's emscripten package"
  exit 77
fi
"$root/scripts/build-wasm.sh" "$out"
node "$root/tests/wasm/smoke.mjs" "$out/aero_devices.js"
