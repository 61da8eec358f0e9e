#!/usr/bin/env bash
# The aero-net main job (README "Run it"): install what is missing, build the release preset,
# and start aero-l2-proxy locally with safe development defaults.
#
#   * a development signing secret in .aero-dev/ (created once, mode 0600) and an aero_session
#     token signed with it (what Aero's gateway would hand the browser as its cookie);
#   * aero-l2-proxy on 127.0.0.1 only, authentication by that session cookie, Origins of a local
#     development web app only, and the default egress policy (private and special-purpose
#     destinations refused);
#   * directions for putting a QEMU VM or a network namespace behind it with `aero-net bridge`.
#
# Stop it with Ctrl-C. AERO_L2_PROXY_LISTEN_ADDR changes the listening address (default
# 127.0.0.1:8090); AERO_L2_ALLOWED_ORIGINS the accepted Origins.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target aero-net aero-l2-proxy

net=build/release/apps/aero-net
proxy=build/release/apps/aero-l2-proxy
listen=${AERO_L2_PROXY_LISTEN_ADDR:-127.0.0.1:8090}
origins=${AERO_L2_ALLOWED_ORIGINS:-http://localhost:8080,http://127.0.0.1:8080}
origin=${origins%%,*}

"$net" dev --state-dir .aero-dev >/dev/null
token=$("$net" session mint --secret-file .aero-dev/session-secret --ttl 86400)
cat <<EOF_NEXT

Starting aero-l2-proxy on ws://${listen}/l2 (Ctrl-C stops it).
  authentication: the aero_session cookie signed with .aero-dev/session-secret
  allowed Origins: ${origins}
  health: curl http://${listen}/healthz   metrics: curl http://${listen}/metrics

A development session cookie, valid for 24 hours:
  aero_session=${token}

Put a QEMU VM behind the proxy (in another terminal):
  $net bridge --url ws://${listen}/l2 --cookie ${token} --origin ${origin} --qemu-listen tcp:127.0.0.1:8095
  qemu-system-x86_64 ... -netdev stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=8095 \\
                         -device virtio-net-pci,netdev=n0      (or -device e1000,netdev=n0)
Or, as root, a network namespace:
  ip netns add demo && sudo $net bridge --url ws://${listen}/l2 --cookie ${token} --origin ${origin} --tap tap0 --netns demo
The guest gets 10.0.2.15/24 by DHCP, gateway and DNS 10.0.2.2.
EOF_NEXT
export AERO_L2_SESSION_SECRET
AERO_L2_SESSION_SECRET=$(cat .aero-dev/session-secret)
export AERO_L2_AUTH_MODE=${AERO_L2_AUTH_MODE:-session}
export AERO_L2_ALLOWED_ORIGINS=$origins
exec "$proxy" --bind "$listen"
