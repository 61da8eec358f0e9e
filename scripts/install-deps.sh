#!/usr/bin/env bash
# Installs the Debian 12 packages aero-net needs to build and test. Idempotent: apt runs only
# when a package is missing. Why each dependency was chosen: docs/dependencies.md.
set -euo pipefail

packages=(
  cmake ninja-build ccache g++ clang libclang-rt-14-dev   # toolchain, libFuzzer, sanitizers
  libboost1.81-dev libboost-json1.81-dev                   # Boost.JSON (Asio/Beast later)
  libssl-dev                                               # OpenSSL 3: HMAC, base64, TLS
  libgtest-dev libgmock-dev libbenchmark-dev               # tests and micro-benchmarks
  libcli11-dev                                             # command-line parsing
  libc-ares-dev pkg-config                                 # upstream DNS (c-ares)
  python3
  iproute2 udhcpc isc-dhcp-client dhcpcd-base busybox-static  # real DHCP clients for the tests
  dnsmasq-base                                             # a real DNS server for the tests
  qemu-system-x86 linux-image-amd64 cpio kmod                # QEMU guest test (TCG)
  emscripten                                               # WebAssembly build of the devices
  iperf3 slirp4netns passt                                 # peer comparison (bench/tcp_peers.sh)
  python3-websockets tshark                                  # aero-l2-proxy tests: WS client, pcapng reader
  curl                                                       # aero-gateway tests: an HTTP client we did not write
  nodejs                                                     # aero-gateway tests: Node's ws client (npm below)
  websockify socat                                           # relays compared with aero-gateway (bench/gateway.sh)
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# npm ships with some nodejs builds; Debian packages it separately.
if ! command -v npm >/dev/null 2>&1 && ! dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q "install ok installed"; then
  missing+=(npm)
fi

if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# The WebSocket client of the aero-gateway tests (Node's ws), pinned by package-lock.json.
node_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/integration/node"
if [[ ! -d "$node_dir/node_modules" ]]; then
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
