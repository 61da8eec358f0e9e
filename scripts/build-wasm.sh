#!/usr/bin/env bash
# Builds the device models, frame backends and pump to WebAssembly with Debian's Emscripten:
#   OUT_DIR/aero_devices.js    the loader (MODULARIZE: `createAeroDevices(options)` -> Module)
#   OUT_DIR/aero_devices.wasm  the module; exports every function of the devices' C API
#                              headers (src/devices/include/aero/devices/*_c.h), malloc and free
#
# Usage: scripts/build-wasm.sh [OUT_DIR]     (default build/wasm)
#
# Sources: every .cpp of base, wire and devices (the layers with no OS headers), so a new device
# model under src/devices/src/<model>/ and a new *_c.h header are picked up without editing this
# script. Objects are rebuilt only when their source or any header is newer.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-build/wasm}
mkdir -p "$out/obj"
out=$(cd "$out" && pwd)

if ! command -v em++ >/dev/null 2>&1; then
  echo "em++ not found: install Debian's emscripten (scripts/install-deps.sh)" >&2
  exit 2
fi
# Debian's emscripten runs its JavaScript tools with node and expects acorn from
# /usr/share/nodejs, which a node not packaged by Debian does not search by itself.
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
# Prebuilt system libraries live in the package's cache; use a private one if it is read-only.
if [[ -z ${EM_CACHE:-} && ! -w /usr/share/emscripten/cache ]]; then
  export EM_CACHE=$out/em-cache
fi

includes=(-Isrc/base/include -Isrc/wire/include -Isrc/devices/include)
# The project's warning set (cmake/AeroWarnings.cmake) with -Werror: the same code must build
# cleanly for the browser.
cxxflags=(-std=c++20 -O2 -fno-exceptions "${includes[@]}"
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wnull-dereference -Wimplicit-fallthrough
  -Wno-missing-field-initializers -Werror)

sources=(src/base/src/*.cpp src/wire/src/*.cpp src/devices/src/*/*.cpp)
newest_header=$(find src/base/include src/wire/include src/devices -name '*.h' -printf '%T@\n' |
                sort -n | tail -1)

objects=()
for src in "${sources[@]}"; do
  obj=$out/obj/${src//\//_}.o
  objects+=("$obj")
  if [[ -f $obj && $obj -nt $src ]] &&
     awk -v o="$(stat -c %Y "$obj")" -v h="$newest_header" 'BEGIN { exit !(o >= h) }'; then
    continue
  fi
  echo "em++ $src"
  em++ "${cxxflags[@]}" -c "$src" -o "$obj"
done

# Exported functions: the declarations of the C API headers, comments stripped first.
exports=(_malloc _free)
for header in src/devices/include/aero/devices/*_c.h; do
  while read -r name; do exports+=("_$name"); done < <(
    em++ -E -P -x c "${includes[@]}" "$header" | grep -oE '\baero_[a-z0-9_]+ *\(' |
      tr -d ' (' | sort -u)
done
export_list=$(IFS=,; echo "${exports[*]}")

echo "link $out/aero_devices.js (${#exports[@]} exports)"
em++ -O2 "${objects[@]}" -o "$out/aero_devices.js" \
  -sMODULARIZE=1 -sEXPORT_NAME=createAeroDevices \
  -sEXPORTED_FUNCTIONS="[$export_list]" \
  -sEXPORTED_RUNTIME_METHODS='[addFunction,removeFunction]' \
  -sALLOW_TABLE_GROWTH=1 -sWASM_BIGINT=1 \
  -sINITIAL_MEMORY=33554432 -sALLOW_MEMORY_GROWTH=0 \
  -sENVIRONMENT=web,worker,node -sFILESYSTEM=0
ls -l "$out/aero_devices.js" "$out/aero_devices.wasm"
