// The gateway's HTTP rules that need no sockets: request-target cap, the RFC 6455 handshake
// checks, the Origin guard and CORS headers, security headers, the aero_session cookie carrier,
// the client address, JSON errors and the plain-text upgrade rejection (Aero's gateway, see
// docs/gateway.md).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aero/services/gateway/config.h"
#include "aero/services/gateway/tcp_target.h"  // Rejection

namespace aero::gateway {

inline constexpr std::size_t kMaxUrlChars = 8192;         // longer request targets: 414
inline constexpr std::size_t kMaxRejectionBytes = 512;    // plain-text upgrade rejection body
inline constexpr std::size_t kMaxCloseReasonBytes = 123;  // RFC 6455 §5.5
inline constexpr std::size_t kMaxCookieHeaderChars = 16384;
inline constexpr std::size_t kMaxCookieValueChars = 4096;

using Header = std::pair<std::string_view, std::string_view>;  // name, value

// Every value of header `name` (case-insensitive) in order.
std::vector<std::string_view> header_values(std::span<const Header> headers, std::string_view name);

// One line for peers: control characters (C0, DEL, U+0085, U+2028, U+2029) and whitespace runs
// become one space, the result is trimmed and cut at a UTF-8 boundary to `max_bytes`.
std::string one_line(std::string_view text, std::size_t max_bytes);

// The first value of query parameter `name` in `query` (no '?'), percent-decoded with '+' as a
// space; nullopt when absent or malformed.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// RFC 6455 §4.2.1 as Aero's gateway checks it: Upgrade, Connection, Sec-WebSocket-Version and
// Sec-WebSocket-Key each at most once and within their length caps (256, 256, 32, 256);
// Upgrade lists the token "websocket", Connection lists "upgrade" (case-insensitive tokens);
// the version is 13; the key is not blank. 400 otherwise.
std::optional<Rejection> check_websocket_handshake(std::span<const Header> headers);

// Sec-WebSocket-Protocol as Aero checks it: the tokens of every such header, comma-separated,
// at most 4096 characters in all and 32 tokens, each an RFC 7230 token (else 400 "Invalid
// Sec-WebSocket-Protocol header"); `required` must be one of them, compared exactly (else 400
// "Missing required subprotocol: <required>").
std::optional<Rejection> check_subprotocol(std::span<const Header> headers, std::string_view required);

// The token relay's authentication (tools/net-proxy-server): the `token` query parameter (at most
// 4096 characters), else `Authorization: Bearer <token>` (at most 4096 characters; a repeated
// header counts as none). None: 401 "Missing auth token"; another token: 403 "Invalid auth
// token" (compared in constant time).
inline constexpr std::size_t kMaxProxyTokenChars = 4096;
std::optional<Rejection> check_proxy_token(std::string_view expected, const std::optional<std::string>& query_token,
                                           std::span<const std::string_view> authorization);

// The first aero_session cookie over every Cookie header (§3.4 of Aero's rules): a header over
// 16384 characters counts as empty and ends the search; the first aero_session pair wins even
// when empty (then: nullopt); values are trimmed, cut to 4096 characters and percent-decoded
// (kept raw when the decoding fails).
std::optional<std::string> session_cookie(std::span<const std::string_view> cookie_headers);

// The client address: the peer, or with TRUST_PROXY the first X-Forwarded-For entry.
std::string client_ip(std::string_view peer_ip, std::span<const std::string_view> x_forwarded_for,
                      bool trust_proxy);

// Whether the request reached us over HTTPS: a TLS socket, or with TRUST_PROXY a first
// X-Forwarded-Proto token equal to "https" (case-insensitive).
bool request_is_secure(bool tls, bool trust_proxy,
                       std::span<const std::string_view> x_forwarded_proto);

// The Origin guard, for requests that carry Origin.
struct OriginVerdict {
  bool present = false;                   // an Origin header was sent
  bool allowed = true;                    // false: 403 forbidden "Origin not allowed"
  std::optional<std::string> normalized;  // when valid
};
// HTTP routes: a present Origin must be single, valid and allowed (an empty allowlist means
// same-host, as origin.h). WebSocket upgrades (`websocket`): an empty allowlist denies.
OriginVerdict check_origin(const GatewayConfig& config, std::span<const std::string_view> origins,
                           std::span<const std::string_view> hosts, bool websocket);

// CORS response headers for an allowed Origin, plus the preflight ones when `preflight`
// (OPTIONS with Access-Control-Request-Method). `request_headers` is
// Access-Control-Request-Headers if sent.
std::vector<std::pair<std::string, std::string>> cors_headers(
    const std::string& normalized_origin, bool preflight,
    std::optional<std::string_view> request_headers);

// Headers every HTTP response carries (x-request-id first): nosniff, no-referrer, DENY framing,
// the permissions policy, and with CROSS_ORIGIN_ISOLATION COOP/COEP/CORP/Origin-Agent-Cluster.
// `inbound_request_id` is echoed when it is 1..128 visible ASCII characters; otherwise a new
// UUID v4 is used.
std::vector<std::pair<std::string, std::string>> security_headers(
    const GatewayConfig& config, std::optional<std::string_view> inbound_request_id);

// {"error":<id>,"message":<text>}
std::string json_error(std::string_view id, std::string_view message);

// The reason phrase for the statuses upgrades are refused with.
std::string_view reason_phrase(unsigned status);

// The route a path names after removing the base path: "/tcp" for "/aero/tcp" with base
// "/aero"; the path itself when it is not under the base path.
std::string_view route_path(std::string_view path, std::string_view base_path);

}  // namespace aero::gateway
