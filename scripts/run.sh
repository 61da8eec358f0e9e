#!/usr/bin/env bash
# The aero-net main job (README "Run it"): install what is missing, build the release preset,
# and start a local network stack with safe development defaults.
#
#   * a development signing secret in .aero-dev/ (created once, mode 0600) and a freshly minted,
#     verified aero_session token, the credentials the proxy and gateway will share;
#   * the user-space network stack listening for QEMU `-netdev stream` guests on loopback only,
#     with the default egress policy (private and special-purpose destinations refused).
#
# Stop it with Ctrl-C. AERO_NET_LISTEN changes the listening address.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target aero-net

bin=build/release/apps/aero-net
listen=${AERO_NET_LISTEN:-tcp:127.0.0.1:8095}
"$bin" dev --state-dir .aero-dev
port=${listen##*:}
cat <<EOF_NEXT

Starting the network stack for QEMU guests on ${listen} (Ctrl-C stops it).
Attach a VM, for example:
  qemu-system-x86_64 ... -netdev stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=${port} \\
                         -device virtio-net-pci,netdev=n0      (or -device e1000,netdev=n0)
The guest gets 10.0.2.15/24 by DHCP, gateway and DNS 10.0.2.2.
Or, as root, give any command its own network:  sudo $bin run -- sh
EOF_NEXT
exec "$bin" stack --qemu-listen "$listen"
