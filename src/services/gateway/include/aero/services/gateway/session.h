// POST /session and /udp-relay/token without sockets: the aero_session cookie (proto/
// session_token.h, so aero-l2-proxy accepts it with the same secret), the Set-Cookie header,
// the discovery body with endpoints and limits, and the UDP relay credential.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aero/base/result.h"
#include "aero/services/gateway/config.h"

namespace aero::gateway {

// The session a request carries: the verified cookie's sid, or nullopt.
std::optional<std::string> verified_session(const GatewayConfig& config,
                                            const std::optional<std::string>& cookie,
                                            std::int64_t now_ms);

struct IssuedSession {
  std::string sid;
  std::string token;
  std::int64_t expires_unix_seconds = 0;
  std::string set_cookie;  // the Set-Cookie header value
};
// A cookie for `existing_sid` (re-issue keeps the sid) or a new session id.
Result<IssuedSession> issue_session(const GatewayConfig& config,
                                    const std::optional<std::string>& existing_sid, bool secure,
                                    std::int64_t now_ms);

// The UDP relay credential: {"authMode":..,"token"?,"expiresAt"?} fields.
struct UdpRelayCredential {
  std::optional<std::string> token;
  std::optional<std::string> expires_at;  // ISO-8601
};
// api_key: the key, expiring now + TTL; jwt: an HS256 JWT (iat, exp, sid, origin?, aud?, iss?);
// none: nothing.
Result<UdpRelayCredential> mint_udp_relay_credential(const GatewayConfig& config,
                                                     std::string_view sid,
                                                     const std::optional<std::string>& origin,
                                                     std::int64_t now_ms);

// The 201 body of POST /session. `udp_relay` is the credential minted for it (ignored unless
// UDP_RELAY_BASE_URL is set; nullopt when minting failed: the fields are then omitted).
std::string session_body(const GatewayConfig& config, const IssuedSession& session,
                         const std::optional<UdpRelayCredential>& udp_relay);

// {"authMode":..,"token"?,"expiresAt"?}
std::string udp_relay_token_body(const GatewayConfig& config, const UdpRelayCredential& credential);

// "2026-01-17T12:00:00.000Z" for Unix milliseconds.
std::string iso8601_utc(std::int64_t unix_ms);

}  // namespace aero::gateway
