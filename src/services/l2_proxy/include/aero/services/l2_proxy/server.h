// The aero-l2-proxy server: HTTP routes and WebSocket tunnels (Boost.Beast), one stack session
// per tunnel, one event loop per worker thread. docs/l2-proxy.md describes the behaviour.
#pragma once

#include <functional>
#include <string>

#include "aero/services/l2_proxy/config.h"

namespace aero::l2proxy {

struct ServerOptions {
  // Called once the socket listens, with the tunnel URL ("ws://127.0.0.1:8090/l2"; the real
  // port when the configuration asked for port 0).
  std::function<void(const std::string& url)> on_listening;
};

// Serves until SIGINT or SIGTERM, then shuts down gracefully: /readyz and new upgrades answer
// 503, after AERO_L2_SHUTDOWN_DRAIN_MS every tunnel is closed with 1001 "shutting down", and the
// process ends when they are gone or AERO_L2_SHUTDOWN_GRACE_MS later. A second signal ends it at
// once. Returns the process exit code (1 when it cannot listen).
int run_server(const ProxyConfig& config, const ServerOptions& options = {});

}  // namespace aero::l2proxy
