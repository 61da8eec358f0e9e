#!/usr/bin/env bash
# The aero-net main job (README "Run it"): install what is missing, build the release preset,
# and start the local development setup.
#
# Today that is the credential layer the proxy and gateway will share: a development signing
# secret in .aero-dev/ (created once, mode 0600) and a freshly minted, verified aero_session
# token. The proxy and gateway services start here as they land.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target aero-net

bin=build/release/apps/aero-net
"$bin" dev --state-dir .aero-dev
echo
echo "The aero-net tool is at $bin (add it to PATH to run the commands above)."
