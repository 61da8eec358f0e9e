// The aero-gateway server: HTTP routes and WebSocket relays (Boost.Beast) on one event loop.
// docs/gateway.md describes the behaviour.
#pragma once

#include <functional>
#include <string>

#include "aero/services/gateway/config.h"

namespace aero::gateway {

struct ServerOptions {
  // Called once the socket listens, with the base URL ("http://127.0.0.1:8080", "https://…" with
  // TLS; the real port when the configuration asked for port 0).
  std::function<void(const std::string& url)> on_listening;
};

// Serves until SIGINT or SIGTERM, then shuts down gracefully: /readyz and new upgrades answer
// 503, every relay is closed (1001 "shutting down"), and the process ends when they are gone or
// SHUTDOWN_GRACE_MS later (exit status 1 then, as Aero). A second signal ends it at once.
// Returns the process exit code (1 when it cannot listen, 2 when the TLS certificate or key
// cannot be used).
int run_server(const GatewayConfig& config, const ServerOptions& options = {});

}  // namespace aero::gateway
