// aero-l2-proxy configuration: every AERO_L2_* variable of Aero's proxy (names, aliases and
// defaults as Aero reads them), plus a few of aero-net's own, each marked below.
//
// Differences from Aero, all on the side of refusing to start rather than guessing:
//   * a value that does not parse (a number, a boolean, an address, a list entry) is an error
//     whose message names the variable; Aero falls back to the default for some of them;
//   * the test overrides AERO_L2_DNS_A, AERO_L2_TCP_FORWARD and AERO_L2_UDP_FORWARD are refused
//     unless AERO_L2_OPEN=1 (they bypass the egress policy);
//   * without credentials configured the proxy refuses to start unless both AERO_L2_OPEN=1 and
//     AERO_L2_INSECURE_ALLOW_NO_AUTH=1 (Aero's rule), and AERO_L2_AUTH_MODE=none needs the same.
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
#include "aero/stack/config.h"

namespace aero::l2proxy {

// AERO_L2_AUTH_MODE (aliases in parentheses), see docs/l2-proxy.md:
//   none, session (cookie), token (api_key), jwt, cookie_or_jwt,
//   session_or_token (cookie_or_api_key), session_and_token (cookie_and_api_key)
enum class AuthMode : std::uint8_t {
  none,
  session,
  token,
  jwt,
  cookie_or_jwt,
  session_or_token,
  session_and_token,
};
std::string_view auth_mode_name(AuthMode mode);
std::optional<AuthMode> parse_auth_mode(std::string_view text);

enum class LogLevel : std::uint8_t { error, warn, info, debug, trace };
std::string_view log_level_name(LogLevel level);

struct AuthConfig {
  AuthMode mode = AuthMode::none;
  std::string api_key;         // AERO_L2_API_KEY (legacy AERO_L2_TOKEN)
  std::string session_secret;  // AERO_GATEWAY_SESSION_SECRET > SESSION_SECRET > AERO_L2_SESSION_SECRET
  std::string jwt_secret;      // AERO_L2_JWT_SECRET
  std::string jwt_audience;    // AERO_L2_JWT_AUDIENCE: enforced when set
  std::string jwt_issuer;      // AERO_L2_JWT_ISSUER: enforced when set
};

struct ProxyConfig {
  // AERO_L2_PROXY_LISTEN_ADDR (alias AERO_L2_PROXY_BIND_ADDR), "ip:port" ("[v6]:port").
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 8090;

  std::chrono::milliseconds shutdown_grace{3000};  // AERO_L2_SHUTDOWN_GRACE_MS
  // aero-net: AERO_L2_SHUTDOWN_DRAIN_MS, how long /readyz answers 503 before tunnels are closed
  // (so a load balancer stops sending new clients first).
  std::chrono::milliseconds shutdown_drain{0};

  std::size_t max_frame_payload = 2048;    // AERO_L2_MAX_FRAME_PAYLOAD (legacy ..._MAX_FRAME_SIZE)
  std::size_t max_control_payload = 256;   // AERO_L2_MAX_CONTROL_PAYLOAD
  std::chrono::milliseconds ping_interval{0};  // AERO_L2_PING_INTERVAL_MS, 0: no server pings
  std::chrono::milliseconds idle_timeout{0};   // AERO_L2_IDLE_TIMEOUT_MS, 0: off
  std::size_t tcp_send_buffer = 32;  // AERO_L2_TCP_SEND_BUFFER (accepted; see docs/l2-proxy.md)
  std::size_t ws_send_buffer = 64;   // AERO_L2_WS_SEND_BUFFER, messages
  // aero-net: AERO_L2_BACKPRESSURE_TIMEOUT_MS. A client whose send queue is full and that has
  // accepted nothing for this long is closed with ERROR backpressure; a slow one never is.
  std::chrono::milliseconds backpressure_timeout{30000};

  // Capture (pcapng), one file per tunnel.
  std::string capture_dir;                        // AERO_L2_CAPTURE_DIR, empty: off
  std::uint64_t capture_max_bytes = 64ULL << 20;  // AERO_L2_CAPTURE_MAX_BYTES, 0: no cap
  std::chrono::milliseconds capture_flush_interval{1000};  // AERO_L2_CAPTURE_FLUSH_INTERVAL_MS

  bool open = false;                    // AERO_L2_OPEN, exactly "1"
  bool insecure_allow_no_auth = false;  // AERO_L2_INSECURE_ALLOW_NO_AUTH, exactly "1"
  AuthConfig auth;

  // Origin allowlist: AERO_L2_ALLOWED_ORIGINS (else ALLOWED_ORIGINS) + ..._EXTRA. Empty:
  // same-host policy. Entries are kept normalised ("*" and "null" as such).
  std::vector<std::string> allowed_origins;
  // AERO_L2_ALLOWED_HOSTS, normalised host[:port] entries; empty: no Host check.
  std::vector<std::string> allowed_hosts;
  bool trust_proxy_host = false;  // AERO_L2_TRUST_PROXY_HOST
  bool trust_proxy = false;       // AERO_L2_TRUST_PROXY

  std::size_t max_connections = 64;              // AERO_L2_MAX_CONNECTIONS, 0: no cap
  std::size_t max_connections_per_session = 0;   // ..._PER_SESSION (alias MAX_TUNNELS_PER_SESSION)
  std::size_t max_connections_per_ip = 0;        // AERO_L2_MAX_CONNECTIONS_PER_IP
  std::uint64_t max_bytes_per_connection = 0;    // AERO_L2_MAX_BYTES_PER_CONNECTION
  std::uint64_t max_frames_per_second = 0;       // AERO_L2_MAX_FRAMES_PER_SECOND

  // The stack every tunnel gets: Aero's defaults, the egress policy from the environment
  // (AERO_L2_ALLOW_PRIVATE_IPS, AERO_L2_ALLOWED_TCP_PORTS/_UDP_PORTS, AERO_L2_ALLOWED_DOMAINS/
  // AERO_L2_BLOCKED_DOMAINS, aero-net's AERO_L2_ALLOWED_CIDRS/AERO_L2_DENIED_CIDRS), the stack
  // limits (AERO_L2_STACK_*, AERO_L2_MAX_UDP_FLOWS_PER_TUNNEL, AERO_L2_UDP_FLOW_IDLE_TIMEOUT_MS,
  // AERO_L2_TCP_CONNECT_TIMEOUT_MS, AERO_L2_DNS_*) and, in open mode, the test overrides.
  stack::StackConfig stack;
  // aero-net: AERO_L2_DNS_UPSTREAMS, comma list of ip[:port]; empty: /etc/resolv.conf.
  std::vector<std::string> dns_upstreams;

  std::string version;          // AERO_L2_PROXY_VERSION / VERSION
  std::string git_sha = "dev";  // AERO_L2_PROXY_GIT_SHA / GIT_SHA
  std::string built_at;         // AERO_L2_PROXY_BUILD_TIMESTAMP / BUILD_TIMESTAMP

  // Event loops, one thread each: AERO_L2_WORKER_THREADS (aero-net), else Aero's
  // AERO_TOKIO_WORKER_THREADS; default: the number of cores.
  unsigned worker_threads = 0;
  LogLevel log_level = LogLevel::info;  // RUST_LOG's level (a bare level word), aero-net: AERO_L2_LOG

  // The WebSocket layer's largest message: header + the larger payload limit.
  std::size_t max_message_size() const;
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Reads the configuration. Errors (kind "bad_config") name the variable at fault.
// `default_version` is the build's version, used when no version variable is set.
Result<ProxyConfig> config_from_env(const EnvLookup& lookup, std::string_view default_version);

// An EnvLookup over the process environment.
EnvLookup process_environment();

// The effective configuration as JSON, secrets replaced by "<set>".
std::string config_json(const ProxyConfig& config);

// Splits "host:port" / "[v6]:port" (the port is required).
Result<std::pair<std::string, std::uint16_t>> parse_listen_address(std::string_view text);

}  // namespace aero::l2proxy
