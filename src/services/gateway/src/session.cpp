// Sessions and the UDP relay credential (session.h).
#include "aero/services/gateway/session.h"

#include <boost/json.hpp>
#include <ctime>

#include "aero/proto/relay_jwt.h"
#include "aero/proto/session_token.h"

namespace aero::gateway {

namespace {

ByteSpan bytes_of(const std::string& text) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());  // NOLINT
}

}  // namespace

std::string iso8601_utc(std::int64_t unix_ms) {
  std::int64_t seconds = unix_ms / 1000;
  std::int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[40];
  const int n = std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::optional<std::string> verified_session(const GatewayConfig& config,
                                            const std::optional<std::string>& cookie,
                                            std::int64_t now_ms) {
  if (!cookie) return std::nullopt;
  auto claims = session::verify(*cookie, bytes_of(config.session_secret), now_ms);
  if (!claims) return std::nullopt;
  return std::move(claims->sid);
}

Result<IssuedSession> issue_session(const GatewayConfig& config,
                                    const std::optional<std::string>& existing_sid, bool secure,
                                    std::int64_t now_ms) {
  IssuedSession issued;
  issued.sid = existing_sid ? *existing_sid : session::new_session_id();
  auto token = session::mint(bytes_of(config.session_secret), issued.sid, now_ms, config.session_ttl_seconds);
  if (!token) return token.error();
  issued.token = std::move(*token);
  issued.expires_unix_seconds = (now_ms + config.session_ttl_seconds * 1000) / 1000;
  // The token is base64url and '.', which encodeURIComponent leaves as they are.
  issued.set_cookie = "aero_session=" + issued.token + "; Max-Age=" + std::to_string(config.session_ttl_seconds) +
                      "; Path=/; HttpOnly; SameSite=" + std::string(same_site_name(config.same_site));
  if (secure) issued.set_cookie += "; Secure";
  return issued;
}

Result<UdpRelayCredential> mint_udp_relay_credential(const GatewayConfig& config,
                                                     std::string_view sid,
                                                     const std::optional<std::string>& origin,
                                                     std::int64_t now_ms) {
  UdpRelayCredential credential;
  switch (config.udp_relay_auth_mode) {
    case UdpRelayAuthMode::none:
      return credential;
    case UdpRelayAuthMode::api_key:
      credential.token = config.udp_relay_api_key;
      credential.expires_at = iso8601_utc(now_ms + config.udp_relay_token_ttl_seconds * 1000);
      return credential;
    case UdpRelayAuthMode::jwt: {
      relay_jwt::Claims claims = relay_jwt::make_claims(std::string(sid), now_ms, config.udp_relay_token_ttl_seconds);
      claims.origin = origin;
      claims.aud = config.udp_relay_audience;
      claims.iss = config.udp_relay_issuer;
      auto token = relay_jwt::mint(bytes_of(config.udp_relay_jwt_secret), claims);
      if (!token) return token.error();
      credential.token = std::move(*token);
      credential.expires_at = iso8601_utc(claims.exp * 1000);
      return credential;
    }
  }
  return credential;
}

std::string session_body(const GatewayConfig& config, const IssuedSession& session,
                         const std::optional<UdpRelayCredential>& udp_relay) {
  namespace json = boost::json;
  const std::string& base = config.base_path;
  json::object endpoints{{"tcp", base + "/tcp"},
                         {"tcpMux", base + "/tcp-mux"},
                         {"dnsQuery", base + "/dns-query"},
                         {"dnsJson", base + "/dns-json"},
                         {"l2", base + "/l2"},
                         {"udpRelayToken", base + "/udp-relay/token"}};
  json::object tcp_limits{{"maxConnections", config.tcp_max_connections},
                          {"maxMessageBytes", config.tcp_max_message_bytes},
                          {"connectTimeoutMs", config.tcp_connect_timeout.count()},
                          {"idleTimeoutMs", config.tcp_idle_timeout.count()}};
  json::object limits{{"tcp", std::move(tcp_limits)},
                      {"dns", json::object{{"maxQueryBytes", config.dns_max_query_bytes}}},
                      {"l2", json::object{{"maxFramePayloadBytes", config.l2_max_frame_payload},
                                          {"maxControlPayloadBytes", config.l2_max_control_payload}}}};
  json::object body{{"session", json::object{{"expiresAt", iso8601_utc(session.expires_unix_seconds * 1000)}}},
                    {"endpoints", std::move(endpoints)},
                    {"limits", std::move(limits)}};
  if (config.udp_relay_base_url) {
    json::object relay{{"baseUrl", *config.udp_relay_base_url},
                       {"authMode", udp_relay_auth_mode_name(config.udp_relay_auth_mode)},
                       {"endpoints", json::object{{"webrtcSignal", "/webrtc/signal"},
                                                  {"webrtcOffer", "/webrtc/offer"},
                                                  {"udp", "/udp"},
                                                  {"webrtcIce", "/webrtc/ice"}}}};
    if (udp_relay && udp_relay->token) relay["token"] = *udp_relay->token;
    if (udp_relay && udp_relay->expires_at) relay["expiresAt"] = *udp_relay->expires_at;
    body["udpRelay"] = std::move(relay);
  }
  return json::serialize(body);
}

std::string udp_relay_token_body(const GatewayConfig& config, const UdpRelayCredential& credential) {
  boost::json::object body{{"authMode", udp_relay_auth_mode_name(config.udp_relay_auth_mode)}};
  if (credential.token) body["token"] = *credential.token;
  if (credential.expires_at) body["expiresAt"] = *credential.expires_at;
  return boost::json::serialize(body);
}

}  // namespace aero::gateway
