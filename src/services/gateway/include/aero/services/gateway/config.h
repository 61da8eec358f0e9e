// aero-gateway configuration: Aero's gateway variables (names and defaults as Aero reads them,
// docs/gateway.md has the table).
//
// Differences from Aero, all on the side of refusing to start rather than guessing:
//   * every malformed value stops start-up with a message naming the variable (Aero lists the
//     first five issues by key; we report the first one, with its value's problem);
//   * DNS_UPSTREAMS entries must be IP addresses (host names would need a resolver to find the
//     resolver) and DoH URL upstreams are refused: not implemented yet;
//   * TLS_ENABLED=1 checks more than readability: the certificate and the key must parse as PEM,
//     the key must not be encrypted (no passphrase prompt at start-up) and must match.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aero/base/result.h"
#include "aero/services/l2_proxy/config.h"  // LogLevel
#include "aero/services/gateway/tcp_target.h"

namespace aero::gateway {

using l2proxy::LogLevel;

enum class SameSite : std::uint8_t { lax, strict, none };
std::string_view same_site_name(SameSite value);  // "Lax", "Strict", "None"

enum class UdpRelayAuthMode : std::uint8_t { none, api_key, jwt };

// What the process serves (docs/gateway.md, "Modes"):
//   gateway    Aero's gateway (the default);
//   dev_proxy  Aero's net-proxy development relay (`--dev-proxy`): AERO_PROXY_* variables, no
//              cookie and no Origin check, the AERO_PROXY_OPEN / AERO_PROXY_ALLOW policy, policy
//              refusals as close 1008 after the upgrade, 127.0.0.1:8081 by default;
//   token_mux  tools/net-proxy-server (`--token-mux`): /tcp-mux only, AERO_PROXY_AUTH_TOKEN as
//              `?token=` or a Bearer header, 127.0.0.1:8080 by default.
enum class GatewayMode : std::uint8_t { gateway, dev_proxy, token_mux };
std::string_view gateway_mode_name(GatewayMode mode);  // "gateway", "dev-proxy", "token-mux"
std::string_view udp_relay_auth_mode_name(UdpRelayAuthMode mode);  // "none", "api_key", "jwt"

struct GatewayConfig {
  GatewayMode mode = GatewayMode::gateway;
  bool require_session = true;  // the session cookie on upgrades (not in the relay modes)
  bool check_origin = true;     // the Origin guard (not in the relay modes)
  std::string proxy_auth_token; // AERO_PROXY_AUTH_TOKEN (token_mux)
  std::string host = "0.0.0.0";  // HOST
  std::uint16_t port = 8080;     // PORT (0 only through --bind, for tests)
  LogLevel log_level = LogLevel::info;  // LOG_LEVEL (fatal counts as error)
  bool log_silent = false;              // LOG_LEVEL=silent

  // PUBLIC_BASE_URL without trailing '/', e.g. "https://example.com/aero".
  std::string public_base_url;
  // Its path without trailing '/': "" for the root, else "/aero". Routes answer under it too.
  std::string base_path;
  // ALLOWED_ORIGINS, normalised ("*" and "null" kept); default: PUBLIC_BASE_URL's origin.
  std::vector<std::string> allowed_origins;
  bool cross_origin_isolation = false;  // CROSS_ORIGIN_ISOLATION
  bool trust_proxy = false;             // TRUST_PROXY
  std::chrono::milliseconds shutdown_grace{10000};  // SHUTDOWN_GRACE_MS

  // AERO_GATEWAY_SESSION_SECRET, else SESSION_SECRET; else 32 random bytes (hex) per process.
  std::string session_secret;
  bool session_secret_generated = false;
  std::int64_t session_ttl_seconds = 86400;  // SESSION_TTL_SECONDS >= 1
  SameSite same_site = SameSite::lax;        // SESSION_COOKIE_SAMESITE

  std::uint64_t rate_limit_per_minute = 0;  // RATE_LIMIT_REQUESTS_PER_MINUTE, 0: off

  bool tls_enabled = false;  // TLS_ENABLED: HTTPS and wss:// on the listener
  std::string tls_cert_path, tls_key_path;  // TLS_CERT_PATH (PEM chain), TLS_KEY_PATH (PEM key)

  TcpPolicy tcp_policy;  // TCP_ALLOWED_HOSTS, TCP_BLOCKED_HOSTS, TCP_REQUIRE_DNS_NAME,
                         // TCP_ALLOW_PRIVATE_IPS, TCP_ALLOWED_PORTS
  std::vector<std::string> tcp_blocked_client_ips;  // TCP_BLOCKED_CLIENT_IPS (exact strings)
  std::size_t tcp_max_connections = 64;             // TCP_PROXY_MAX_CONNECTIONS, per session
  std::size_t tcp_max_connections_per_ip = 0;       // parsed, not enforced (as Aero)
  std::size_t tcp_max_message_bytes = 1048576;      // TCP_PROXY_MAX_MESSAGE_BYTES
  std::size_t tcp_max_tcp_buffer_bytes = 10485760;  // TCP_PROXY_MAX_TCP_BUFFER_BYTES
  std::chrono::milliseconds tcp_connect_timeout{10000};  // TCP_PROXY_CONNECT_TIMEOUT_MS
  std::chrono::milliseconds tcp_idle_timeout{300000};    // TCP_PROXY_IDLE_TIMEOUT_MS

  std::size_t mux_max_streams = 1024;                 // TCP_MUX_MAX_STREAMS
  std::size_t mux_max_stream_buffer_bytes = 1048576;  // TCP_MUX_MAX_STREAM_BUFFER_BYTES
  std::size_t mux_max_frame_payload_bytes = 16777216; // TCP_MUX_MAX_FRAME_PAYLOAD_BYTES
  // Per-socket OPEN and DATA rate limits (0: off); only the token relay sets them.
  double mux_open_rate_per_second = 0, mux_open_burst = 0;
  double mux_data_bytes_per_second = 0, mux_data_burst_bytes = 0;

  // The /udp relay (names of Aero's WebRTC UDP relay where it has them).
  std::size_t udp_max_payload_bytes = 1200;        // MAX_DATAGRAM_PAYLOAD_BYTES
  std::size_t udp_max_bindings = 128;              // MAX_UDP_BINDINGS_PER_SESSION
  std::size_t udp_max_allowed_remotes = 1024;      // MAX_ALLOWED_REMOTES_PER_BINDING
  std::chrono::milliseconds udp_binding_idle_timeout{60000};  // UDP_BINDING_IDLE_TIMEOUT_MS
  bool udp_prefer_v2 = false;                      // PREFER_V2
  bool udp_inbound_filter_any = false;             // UDP_INBOUND_FILTER_MODE: address_and_port | any
  std::size_t udp_send_queue_bytes = 1048576;      // UDP_SEND_QUEUE_BYTES

  std::size_t l2_max_frame_payload = 2048;   // AERO_L2_MAX_FRAME_PAYLOAD (advertised only)
  std::size_t l2_max_control_payload = 256;  // AERO_L2_MAX_CONTROL_PAYLOAD (advertised only)

  // DNS_UPSTREAMS as "ip:port" / "[v6]:port" for host::DnsResolver.
  std::vector<std::string> dns_upstreams{"1.1.1.1:53", "8.8.8.8:53"};
  std::chrono::milliseconds dns_upstream_timeout{2000};  // DNS_UPSTREAM_TIMEOUT_MS
  std::size_t dns_cache_max_entries = 10000;             // DNS_CACHE_MAX_ENTRIES
  std::uint32_t dns_cache_max_ttl_seconds = 300;         // DNS_CACHE_MAX_TTL_SECONDS
  std::uint32_t dns_cache_negative_ttl_seconds = 60;     // DNS_CACHE_NEGATIVE_TTL_SECONDS
  std::size_t dns_max_query_bytes = 4096;                // DNS_MAX_QUERY_BYTES
  std::size_t dns_max_response_bytes = 4096;             // DNS_MAX_RESPONSE_BYTES
  double dns_qps_per_ip = 10;                            // DNS_QPS_PER_IP, 0: off
  double dns_burst_per_ip = 20;                          // DNS_BURST_PER_IP, 0: off
  bool dns_allow_any = false;                            // DNS_ALLOW_ANY
  bool dns_allow_private_ptr = false;                    // DNS_ALLOW_PRIVATE_PTR
  // DNS_REQUIRE_SESSION: 0 lets /dns-query and /dns-json answer without the session cookie (a
  // development switch: DoH clients such as curl --doh-url cannot send a cookie).
  bool dns_require_session = true;

  std::optional<std::string> udp_relay_base_url;  // UDP_RELAY_BASE_URL, trailing '/' stripped
  UdpRelayAuthMode udp_relay_auth_mode = UdpRelayAuthMode::none;  // UDP_RELAY_AUTH_MODE
  std::string udp_relay_api_key;                  // UDP_RELAY_API_KEY
  std::string udp_relay_jwt_secret;               // UDP_RELAY_JWT_SECRET
  std::int64_t udp_relay_token_ttl_seconds = 300; // UDP_RELAY_TOKEN_TTL_SECONDS
  std::optional<std::string> udp_relay_audience;  // UDP_RELAY_AUDIENCE
  std::optional<std::string> udp_relay_issuer;    // UDP_RELAY_ISSUER

  std::string version = "dev";  // AERO_GATEWAY_VERSION
  std::string git_sha;          // AERO_GATEWAY_GIT_SHA / GIT_SHA, default: the version
  std::string built_at;         // AERO_GATEWAY_BUILD_TIMESTAMP / BUILD_TIMESTAMP
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Reads the configuration. Errors (kind "bad_config") name the variable at fault.
// In the relay modes the AERO_PROXY_* variables come last and win (docs/gateway.md lists them).
Result<GatewayConfig> config_from_env(const EnvLookup& lookup, GatewayMode mode = GatewayMode::gateway);

// The effective configuration as JSON, secrets replaced by "<set>".
std::string config_json(const GatewayConfig& config);

// TLS_CERT_PATH and TLS_KEY_PATH: readable, a PEM certificate (chain) and an unencrypted PEM
// private key that belongs to it. Errors name the variable at fault.
Result<void> validate_tls_files(const std::string& cert_path, const std::string& key_path);

// One DNS_UPSTREAMS entry -> "ip:port" ("[v6]:port"). Accepts host[:port] (port 53 by
// default), udp://host[:port] and [v6][:port]; the host must be an IP address. An unbracketed
// IPv6 address is refused (its last group would read as a port), so is a DoH URL.
Result<std::string> parse_dns_upstream(std::string_view entry);

}  // namespace aero::gateway
