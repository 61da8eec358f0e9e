#!/usr/bin/env bash
# The aero-net main job (README "Run it"): install what is missing, build the release preset,
# and start aero-gateway and aero-l2-proxy locally with safe development defaults.
#
#   * a development signing secret in .aero-dev/ (created once, mode 0600), shared by both
#     services, and an aero_session token signed with it (what the gateway's POST /session
#     hands the browser as its cookie);
#   * aero-gateway on 127.0.0.1:8080 (sessions, /tcp, DNS-over-HTTPS) and aero-l2-proxy on
#     127.0.0.1:8090 (the L2 tunnel), loopback only, authentication by that session cookie,
#     Origins of a local development web app only, and the default egress policy (private and
#     special-purpose destinations refused);
#   * directions for putting a QEMU VM or a network namespace behind the proxy with
#     `aero-net bridge`.
#
# Stop both with Ctrl-C. AERO_GATEWAY_LISTEN_ADDR and AERO_L2_PROXY_LISTEN_ADDR change the
# listening addresses; AERO_L2_ALLOWED_ORIGINS the accepted Origins (for both services).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target aero-net aero-l2-proxy aero-gateway

net=build/release/apps/aero-net
proxy=build/release/apps/aero-l2-proxy
gateway=build/release/apps/aero-gateway
listen=${AERO_L2_PROXY_LISTEN_ADDR:-127.0.0.1:8090}
gateway_listen=${AERO_GATEWAY_LISTEN_ADDR:-127.0.0.1:8080}
origins=${AERO_L2_ALLOWED_ORIGINS:-http://localhost:8080,http://127.0.0.1:8080}
origin=${origins%%,*}

"$net" dev --state-dir .aero-dev >/dev/null
token=$("$net" session mint --secret-file .aero-dev/session-secret --ttl 86400)
# The gateway's DNS-over-HTTPS asks the machine's own resolver (an IPv4 nameserver from
# /etc/resolv.conf), else Aero's defaults.
resolver=$(awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ {print $2 ":53"; exit}' /etc/resolv.conf 2>/dev/null || true)
cat <<EOF_NEXT

Starting aero-gateway on http://${gateway_listen} and aero-l2-proxy on ws://${listen}/l2
(Ctrl-C stops both).
  authentication: the aero_session cookie signed with .aero-dev/session-secret
  allowed Origins: ${origins}
  health: curl http://${gateway_listen}/healthz   curl http://${listen}/healthz
  metrics: curl http://${gateway_listen}/metrics  curl http://${listen}/metrics

A session from the gateway, as a browser gets it:
  curl -i -X POST -H 'Origin: ${origin}' http://${gateway_listen}/session
and a DNS-over-HTTPS lookup with it:
  curl -H 'Cookie: aero_session=${token}' 'http://${gateway_listen}/dns-json?name=example.com&type=A'

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
secret=$(cat .aero-dev/session-secret)
pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM
AERO_GATEWAY_SESSION_SECRET=$secret ALLOWED_ORIGINS=$origins PUBLIC_BASE_URL="http://${gateway_listen}" \
  DNS_UPSTREAMS=${DNS_UPSTREAMS:-${resolver:-1.1.1.1:53,8.8.8.8:53}} \
  "$gateway" --bind "$gateway_listen" &
pids+=($!)
AERO_L2_SESSION_SECRET=$secret AERO_L2_AUTH_MODE=${AERO_L2_AUTH_MODE:-session} \
  AERO_L2_ALLOWED_ORIGINS=$origins "$proxy" --bind "$listen" &
pids+=($!)
# Either service ending (an error at start-up, say) stops the other.
wait -n
