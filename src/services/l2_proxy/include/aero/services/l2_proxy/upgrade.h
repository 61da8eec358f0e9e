// The WebSocket upgrade pipeline of /l2 (and /eth): the checks in Aero's order, first failure
// wins, each with Aero's status code.
//
//   1. draining                                      503 "shutting down"
//   2. Sec-WebSocket-Protocol lacks aero-l2-tunnel-v1 400
//      (not a WebSocket upgrade at all               426, aero-net: after the subprotocol check)
//   3. client IP: the peer; with AERO_L2_TRUST_PROXY the first Forwarded for=, else the first
//      X-Forwarded-For entry
//   4. authentication (before Origin, so missing credentials always give 401)   401
//   5. Origin, unless AERO_L2_OPEN=1: missing, repeated, malformed or not allowed 403
//   6. Host allowlist, if configured: missing, invalid or not allowed            403
//   7. per-IP cap, 8. global cap, 9. per-session cap                             429
//
// Pure apart from the ConnectionLimiter, which is shared by every event loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aero/services/l2_proxy/config.h"

namespace aero::l2proxy {

// Concurrent tunnel counts per client IP, per session id and in total (thread-safe).
class ConnectionLimiter {
 public:
  ConnectionLimiter(std::size_t global, std::size_t per_ip, std::size_t per_session)
      : global_(global), per_ip_(per_ip), per_session_(per_session) {}

  // Holds one tunnel's place; releases it when destroyed.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }
    void release();

   private:
    friend class ConnectionLimiter;
    ConnectionLimiter* owner_ = nullptr;
    std::string ip_;
    std::optional<std::string> sid_;
  };

  enum class Refusal : std::uint8_t { none, per_ip, global, per_session };
  // Checks per-IP, then global, then per-session (Aero's order) and takes a place in each.
  Refusal acquire(const std::string& ip, const std::optional<std::string>& sid, Lease& lease);
  std::size_t active() const;

 private:
  void release(const std::string& ip, const std::optional<std::string>& sid);

  const std::size_t global_;
  const std::size_t per_ip_;
  const std::size_t per_session_;
  mutable std::mutex mutex_;
  std::size_t active_ = 0;
  std::map<std::string, std::size_t, std::less<>> by_ip_;
  std::map<std::string, std::size_t, std::less<>> by_session_;
};

// The request, as header values (every occurrence, in order).
struct UpgradeRequest {
  std::string_view target;  // "/l2?token=..."
  bool websocket_upgrade = false;
  std::span<const std::string_view> protocols;  // Sec-WebSocket-Protocol
  std::span<const std::string_view> origins;
  std::span<const std::string_view> hosts;
  std::span<const std::string_view> forwarded;
  std::span<const std::string_view> x_forwarded_for;
  std::span<const std::string_view> x_forwarded_host;
  std::span<const std::string_view> x_forwarded_proto;
  std::span<const std::string_view> cookies;
  std::optional<std::string_view> authorization;
  std::string peer_ip;
};

struct Rejection {
  unsigned status = 0;
  std::string body;
  // The metrics label: "shutting_down", "subprotocol", "not_websocket", "auth_missing",
  // "auth_invalid", "origin_missing", "origin_not_allowed", "host_missing", "host_invalid",
  // "host_not_allowed", "ip_limit", "max_connections", "max_connections_per_session".
  std::string_view reason;
  std::string_view auth_reason;  // for auth rejections: auth.h's reason
};

struct Admission {
  std::string client_ip;
  std::optional<std::string> sid;
  std::optional<std::string> origin;  // normalised, when one was sent
  ConnectionLimiter::Lease lease;
};

struct UpgradeOutcome {
  std::optional<Rejection> rejection;  // set: refuse with it
  Admission admission;                 // valid when rejection is empty
};

UpgradeOutcome admit(const ProxyConfig& config, const UpgradeRequest& request, bool draining,
                     ConnectionLimiter& limiter, std::int64_t now_ms);

// The client address per step 3 (exposed for tests).
std::string client_ip(const UpgradeRequest& request, bool trust_proxy);

// True when `protocols` offers exactly `aero-l2-tunnel-v1` among its comma-separated entries.
bool offers_tunnel_subprotocol(std::span<const std::string_view> protocols);

}  // namespace aero::l2proxy
