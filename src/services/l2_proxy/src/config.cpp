// Reading ProxyConfig from the environment. The names, aliases and defaults follow Aero's proxy
// (docs/l2-proxy.md has the table); every value that does not parse stops start-up with the
// variable's name in the message.
#include "aero/services/l2_proxy/config.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cstdlib>
#include <thread>

#include "aero/base/ip_address.h"
#include "aero/proto/origin.h"
#include "aero/stack/egress_policy.h"

namespace aero::l2proxy {

namespace {

Error bad(std::string message) { return make_error("bad_config", std::move(message)); }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

std::vector<std::string_view> split_list(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (!entry.empty()) out.push_back(entry);
  }
  return out;
}

// Reads variables; blank values count as unset (Aero: "empty = unset").
class Reader {
 public:
  explicit Reader(const EnvLookup& lookup) : lookup_(lookup) {}

  // The first of `names` that is set and not blank; `used` receives its name.
  std::optional<std::string> get(std::initializer_list<std::string_view> names,
                                 std::string_view* used = nullptr) const {
    for (const std::string_view name : names) {
      auto value = lookup_(name);
      if (!value) continue;
      const std::string_view trimmed = trim(*value);
      if (trimmed.empty()) continue;
      if (used != nullptr) *used = name;
      return std::string(trimmed);
    }
    return std::nullopt;
  }

  // An unsigned integer; out-of-range values are clamped to `max` when `clamp`, else refused.
  Result<std::optional<std::uint64_t>> number(std::initializer_list<std::string_view> names,
                                              std::uint64_t max, bool clamp = false) const {
    std::string_view name = *names.begin();
    auto value = get(names, &name);
    if (!value) return std::optional<std::uint64_t>{};
    std::uint64_t parsed = 0;
    const char* end = value->data() + value->size();
    const auto [ptr, ec] = std::from_chars(value->data(), end, parsed);
    if (ec == std::errc::result_out_of_range && ptr == end && clamp) {
      return std::optional<std::uint64_t>{max};
    }
    if (ec != std::errc{} || ptr != end) {
      return bad(std::string(name) + ": expected a non-negative integer, got '" + *value + "'");
    }
    if (parsed > max) {
      if (clamp) return std::optional<std::uint64_t>{max};
      return bad(std::string(name) + ": " + *value + " is over the maximum " +
                 std::to_string(max));
    }
    return std::optional<std::uint64_t>{parsed};
  }

  // Aero's booleans: 1/true/yes/on; we also refuse anything that is not 0/false/no/off.
  Result<bool> boolean(std::string_view name) const {
    auto value = get({name});
    if (!value) return false;
    const std::string v = lower(*value);
    if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
    if (v == "0" || v == "false" || v == "no" || v == "off") return false;
    return bad(std::string(name) + ": expected 1/true/yes/on or 0/false/no/off, got '" + *value +
               "'");
  }

  // Aero's switches that only the exact text "1" turns on; anything but "0" or "1" is refused.
  Result<bool> exactly_one(std::string_view name) const {
    auto value = get({name});
    if (!value) return false;
    if (*value == "1") return true;
    if (*value == "0") return false;
    return bad(std::string(name) + ": must be 1 or 0, got '" + *value + "'");
  }

 private:
  const EnvLookup& lookup_;
};

template <class T>
Result<void> set_number(const Reader& env, std::initializer_list<std::string_view> names,
                        std::uint64_t max, T& target, bool clamp = false) {
  auto value = env.number(names, max, clamp);
  if (!value) return value.error();
  if (*value) target = static_cast<T>(**value);
  return {};
}

Result<void> set_millis(const Reader& env, std::initializer_list<std::string_view> names,
                        std::uint64_t max, std::chrono::milliseconds& target, bool clamp = false) {
  auto value = env.number(names, max, clamp);
  if (!value) return value.error();
  if (*value) target = std::chrono::milliseconds(static_cast<std::int64_t>(**value));
  return {};
}

#define AERO_TRY(expr)                      \
  do {                                      \
    if (auto status_ = (expr); !status_) {  \
      return status_.error();               \
    }                                       \
  } while (false)

Result<void> read_auth(const Reader& env, ProxyConfig& config) {
  if (auto key = env.get({"AERO_L2_API_KEY", "AERO_L2_TOKEN"})) config.auth.api_key = *key;
  if (auto secret = env.get({"AERO_GATEWAY_SESSION_SECRET", "SESSION_SECRET",
                             "AERO_L2_SESSION_SECRET"})) {
    config.auth.session_secret = *secret;
  }
  if (auto secret = env.get({"AERO_L2_JWT_SECRET"})) config.auth.jwt_secret = *secret;
  if (auto aud = env.get({"AERO_L2_JWT_AUDIENCE"})) config.auth.jwt_audience = *aud;
  if (auto iss = env.get({"AERO_L2_JWT_ISSUER"})) config.auth.jwt_issuer = *iss;

  const bool escape_hatch = config.open && config.insecure_allow_no_auth;
  const auto& auth = config.auth;
  if (auto mode_text = env.get({"AERO_L2_AUTH_MODE"})) {
    const auto mode = parse_auth_mode(*mode_text);
    if (!mode) {
      return bad("AERO_L2_AUTH_MODE: unknown mode '" + *mode_text +
                 "' (none, session, cookie, token, api_key, jwt, cookie_or_jwt, "
                 "session_or_token, cookie_or_api_key, session_and_token, cookie_and_api_key)");
    }
    config.auth.mode = *mode;
  } else if (!auth.session_secret.empty()) {
    config.auth.mode = AuthMode::session_or_token;
  } else if (!auth.api_key.empty()) {
    config.auth.mode = AuthMode::token;
  } else {
    config.auth.mode = AuthMode::none;
  }

  const std::string mode_name(auth_mode_name(auth.mode));
  auto need = [&](bool present, std::string_view what) -> Result<void> {
    if (present) return {};
    return bad("AERO_L2_AUTH_MODE=" + mode_name + " needs " + std::string(what));
  };
  switch (auth.mode) {
    case AuthMode::none:
      if (!escape_hatch) {
        return bad(
            "AERO_L2_AUTH_MODE: no authentication configured (set AERO_L2_SESSION_SECRET, "
            "AERO_L2_API_KEY or AERO_L2_JWT_SECRET); an unauthenticated proxy needs both "
            "AERO_L2_OPEN=1 and AERO_L2_INSECURE_ALLOW_NO_AUTH=1");
      }
      break;
    case AuthMode::session:
      AERO_TRY(need(!auth.session_secret.empty(), "a session secret (AERO_L2_SESSION_SECRET)"));
      break;
    case AuthMode::token:
      AERO_TRY(need(!auth.api_key.empty(), "AERO_L2_API_KEY"));
      break;
    case AuthMode::jwt:
      AERO_TRY(need(!auth.jwt_secret.empty(), "AERO_L2_JWT_SECRET"));
      break;
    case AuthMode::cookie_or_jwt:
      AERO_TRY(need(!auth.session_secret.empty(), "a session secret (AERO_L2_SESSION_SECRET)"));
      AERO_TRY(need(!auth.jwt_secret.empty(), "AERO_L2_JWT_SECRET"));
      break;
    case AuthMode::session_or_token:
      AERO_TRY(need(!auth.session_secret.empty(), "a session secret (AERO_L2_SESSION_SECRET)"));
      break;
    case AuthMode::session_and_token:
      AERO_TRY(need(!auth.session_secret.empty(), "a session secret (AERO_L2_SESSION_SECRET)"));
      AERO_TRY(need(!auth.api_key.empty(), "AERO_L2_API_KEY"));
      break;
  }
  return {};
}

Result<void> read_origins_and_hosts(const Reader& env, const EnvLookup& lookup,
                                    ProxyConfig& config) {
  std::string_view origins_name = "AERO_L2_ALLOWED_ORIGINS";
  std::string origins = env.get({"AERO_L2_ALLOWED_ORIGINS", "ALLOWED_ORIGINS"}, &origins_name)
                            .value_or("");
  auto add_origins = [&](std::string_view variable, std::string_view text) -> Result<void> {
    for (const std::string_view entry : split_list(text)) {
      if (entry == "*") {
        config.allowed_origins.emplace_back("*");
        continue;
      }
      auto normalized = origin::normalize_origin(entry);
      if (!normalized) {
        return bad(std::string(variable) + ": invalid origin '" + std::string(entry) + "'");
      }
      config.allowed_origins.push_back(std::move(*normalized));
    }
    return {};
  };
  AERO_TRY(add_origins(origins_name, origins));
  if (auto extra = env.get({"AERO_L2_ALLOWED_ORIGINS_EXTRA"})) {
    AERO_TRY(add_origins("AERO_L2_ALLOWED_ORIGINS_EXTRA", *extra));
  }

  if (auto hosts = lookup("AERO_L2_ALLOWED_HOSTS")) {
    for (const std::string_view entry : split_list(*hosts)) {
      const bool has_space = entry.find_first_of(" \t") != std::string_view::npos;
      if (has_space || !origin::normalize_host_header(entry, "http")) {
        return bad("AERO_L2_ALLOWED_HOSTS: invalid host '" + std::string(entry) + "'");
      }
      config.allowed_hosts.push_back(lower(entry));
    }
  }
  auto trust_host = env.boolean("AERO_L2_TRUST_PROXY_HOST");
  if (!trust_host) return trust_host.error();
  config.trust_proxy_host = *trust_host;
  auto trust = env.boolean("AERO_L2_TRUST_PROXY");
  if (!trust) return trust.error();
  config.trust_proxy = *trust;
  return {};
}

Result<void> read_stack(const Reader& env, const EnvLookup& lookup, ProxyConfig& config) {
  stack::StackConfig& s = config.stack;
  auto policy = stack::egress_policy_from_env(lookup);
  if (!policy) return bad(policy.error().message);
  // AERO_L2_ALLOW_PRIVATE_IPS again, through our stricter boolean reader.
  auto allow_private = env.boolean("AERO_L2_ALLOW_PRIVATE_IPS");
  if (!allow_private) return allow_private.error();
  s.policy = std::move(*policy);
  s.policy.allow_private = *allow_private;

  std::uint64_t udp_flows = 256;
  AERO_TRY(set_number(env, {"AERO_L2_MAX_UDP_FLOWS_PER_TUNNEL"}, 65535, udp_flows, true));
  s.max_udp_flows = udp_flows == 0 ? 65535 : udp_flows;  // Aero: 0 = unlimited
  std::chrono::milliseconds udp_idle{60000};
  AERO_TRY(set_millis(env, {"AERO_L2_UDP_FLOW_IDLE_TIMEOUT_MS"}, 86400000, udp_idle, true));
  // Aero: 0 = never; the stack needs a deadline, a year is never in practice.
  s.udp_idle_timeout = udp_idle.count() == 0 ? std::chrono::milliseconds(365LL * 86400000) : udp_idle;
  AERO_TRY(set_number(env, {"AERO_L2_STACK_MAX_TCP_CONNECTIONS"}, 65535, s.tcp.max_connections, true));
  AERO_TRY(set_number(env, {"AERO_L2_STACK_MAX_PENDING_DNS"}, 65535, s.max_pending_dns, true));
  AERO_TRY(set_number(env, {"AERO_L2_STACK_MAX_DNS_CACHE_ENTRIES"}, 1000000,
                      s.max_dns_cache_entries, true));
  std::uint64_t buffered = s.tcp.receive_buffer;
  AERO_TRY(set_number(env, {"AERO_L2_STACK_MAX_BUFFERED_TCP_BYTES_PER_CONN"}, 64ULL << 20,
                      buffered, true));
  // The engine advertises this as its receive window; below 4 KiB a connection cannot work.
  s.tcp.receive_buffer = std::max<std::size_t>(buffered, 4096);
  std::chrono::milliseconds connect_timeout{5000};
  AERO_TRY(set_millis(env, {"AERO_L2_TCP_CONNECT_TIMEOUT_MS"}, 600000, connect_timeout));
  if (connect_timeout.count() > 0) s.tcp.connect_timeout = connect_timeout;
  std::chrono::milliseconds dns_timeout{2000};
  AERO_TRY(set_millis(env, {"AERO_L2_DNS_LOOKUP_TIMEOUT_MS"}, 60000, dns_timeout, true));
  // Aero: 0 = unbounded; pending queries must end some time, so 60 s (the clamp) it is.
  s.dns_timeout = dns_timeout.count() == 0 ? std::chrono::milliseconds(60000) : dns_timeout;
  std::uint64_t ttl = 60;
  AERO_TRY(set_number(env, {"AERO_L2_DNS_DEFAULT_TTL_SECS"}, 86400, ttl));
  s.dns_default_ttl = std::chrono::seconds(static_cast<std::int64_t>(ttl));
  std::uint64_t max_ttl = 300;
  AERO_TRY(set_number(env, {"AERO_L2_DNS_MAX_TTL_SECS"}, 86400, max_ttl));
  s.dns_max_ttl = std::chrono::seconds(static_cast<std::int64_t>(max_ttl));
  if (auto upstreams = env.get({"AERO_L2_DNS_UPSTREAMS"})) {
    for (const std::string_view entry : split_list(*upstreams)) {
      config.dns_upstreams.emplace_back(entry);
    }
  }

  // The test overrides bypass the egress policy: only for an open (development) proxy.
  for (const std::string_view name : {"AERO_L2_DNS_A", "AERO_L2_TCP_FORWARD", "AERO_L2_UDP_FORWARD"}) {
    auto value = env.get({name});
    if (!value) continue;
    if (!config.open) {
      return bad(std::string(name) +
                 ": test overrides bypass the egress policy and are honoured only with "
                 "AERO_L2_OPEN=1");
    }
    if (name == "AERO_L2_DNS_A") {
      auto names = stack::parse_static_names(name, *value);
      if (!names) return bad(names.error().message);
      s.dns_static = std::move(*names);
    } else {
      auto forwards = stack::parse_forward_list(name, *value);
      if (!forwards) return bad(forwards.error().message);
      (name == "AERO_L2_TCP_FORWARD" ? s.tcp_forwards : s.udp_forwards) = std::move(*forwards);
    }
  }
  if (auto valid = s.validate(); !valid) return bad("stack: " + valid.error().message);
  return {};
}

}  // namespace

std::string_view auth_mode_name(AuthMode mode) {
  switch (mode) {
    case AuthMode::none: return "none";
    case AuthMode::session: return "session";
    case AuthMode::token: return "token";
    case AuthMode::jwt: return "jwt";
    case AuthMode::cookie_or_jwt: return "cookie_or_jwt";
    case AuthMode::session_or_token: return "session_or_token";
    case AuthMode::session_and_token: return "session_and_token";
  }
  return "none";
}

std::optional<AuthMode> parse_auth_mode(std::string_view text) {
  const std::string mode = lower(trim(text));
  if (mode == "none") return AuthMode::none;
  if (mode == "session" || mode == "cookie") return AuthMode::session;
  if (mode == "token" || mode == "api_key") return AuthMode::token;
  if (mode == "jwt") return AuthMode::jwt;
  if (mode == "cookie_or_jwt") return AuthMode::cookie_or_jwt;
  if (mode == "session_or_token" || mode == "cookie_or_api_key") return AuthMode::session_or_token;
  if (mode == "session_and_token" || mode == "cookie_and_api_key") {
    return AuthMode::session_and_token;
  }
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::error: return "error";
    case LogLevel::warn: return "warn";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
    case LogLevel::trace: return "trace";
  }
  return "info";
}

std::size_t ProxyConfig::max_message_size() const {
  return 4 + std::max(max_frame_payload, max_control_payload);
}

Result<std::pair<std::string, std::uint16_t>> parse_listen_address(std::string_view text) {
  text = trim(text);
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("expected ip:port, got '" + std::string(text) + "'");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return bad("invalid port in '" + std::string(text) + "'");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (!Ipv6Address::parse(host)) return bad("invalid IPv6 address in '" + std::string(text) + "'");
  } else if (!Ipv4Address::parse(host)) {
    return bad("invalid IPv4 address in '" + std::string(text) + "' (IPv6 goes in brackets)");
  }
  return std::pair{std::string(host), static_cast<std::uint16_t>(port)};
}

Result<ProxyConfig> config_from_env(const EnvLookup& lookup, std::string_view default_version) {
  const Reader env(lookup);
  ProxyConfig config;
  config.version = std::string(default_version);

  std::string_view listen_name = "AERO_L2_PROXY_LISTEN_ADDR";
  if (auto listen = env.get({"AERO_L2_PROXY_LISTEN_ADDR", "AERO_L2_PROXY_BIND_ADDR"}, &listen_name)) {
    auto parsed = parse_listen_address(*listen);
    if (!parsed) return bad(std::string(listen_name) + ": " + parsed.error().message);
    config.listen_host = parsed->first;
    config.listen_port = parsed->second;
  }
  AERO_TRY(set_millis(env, {"AERO_L2_SHUTDOWN_GRACE_MS"}, 3600000, config.shutdown_grace));
  AERO_TRY(set_millis(env, {"AERO_L2_SHUTDOWN_DRAIN_MS"}, 3600000, config.shutdown_drain));

  // Payload limits: 0 = default (Aero). Frames above 65535 bytes exist on no link we serve.
  std::uint64_t frame_payload = 0;
  AERO_TRY(set_number(env, {"AERO_L2_MAX_FRAME_PAYLOAD", "AERO_L2_MAX_FRAME_SIZE"}, 65535,
                      frame_payload));
  if (frame_payload != 0) config.max_frame_payload = frame_payload;
  std::uint64_t control_payload = 0;
  AERO_TRY(set_number(env, {"AERO_L2_MAX_CONTROL_PAYLOAD"}, 65535, control_payload));
  if (control_payload != 0) config.max_control_payload = control_payload;

  AERO_TRY(set_millis(env, {"AERO_L2_PING_INTERVAL_MS"}, 3600000, config.ping_interval));
  AERO_TRY(set_millis(env, {"AERO_L2_IDLE_TIMEOUT_MS"}, 86400000, config.idle_timeout));
  std::uint64_t tcp_send = 0;
  AERO_TRY(set_number(env, {"AERO_L2_TCP_SEND_BUFFER"}, 1U << 20, tcp_send));
  if (tcp_send != 0) config.tcp_send_buffer = tcp_send;
  std::uint64_t ws_send = 0;
  AERO_TRY(set_number(env, {"AERO_L2_WS_SEND_BUFFER"}, 1U << 16, ws_send));
  if (ws_send != 0) config.ws_send_buffer = ws_send;
  AERO_TRY(set_millis(env, {"AERO_L2_BACKPRESSURE_TIMEOUT_MS"}, 3600000,
                      config.backpressure_timeout));
  if (config.backpressure_timeout.count() == 0) {
    return bad("AERO_L2_BACKPRESSURE_TIMEOUT_MS: must be positive");
  }

  if (auto dir = env.get({"AERO_L2_CAPTURE_DIR"})) config.capture_dir = *dir;
  AERO_TRY(set_number(env, {"AERO_L2_CAPTURE_MAX_BYTES"}, UINT64_MAX, config.capture_max_bytes));
  AERO_TRY(set_millis(env, {"AERO_L2_CAPTURE_FLUSH_INTERVAL_MS"}, 3600000,
                      config.capture_flush_interval));

  auto open = env.exactly_one("AERO_L2_OPEN");
  if (!open) return open.error();
  config.open = *open;
  auto no_auth = env.exactly_one("AERO_L2_INSECURE_ALLOW_NO_AUTH");
  if (!no_auth) return no_auth.error();
  config.insecure_allow_no_auth = *no_auth;
  AERO_TRY(read_auth(env, config));
  AERO_TRY(read_origins_and_hosts(env, lookup, config));

  AERO_TRY(set_number(env, {"AERO_L2_MAX_CONNECTIONS"}, 1U << 24, config.max_connections));
  AERO_TRY(set_number(env, {"AERO_L2_MAX_CONNECTIONS_PER_SESSION", "AERO_L2_MAX_TUNNELS_PER_SESSION"},
                      1U << 24, config.max_connections_per_session));
  AERO_TRY(set_number(env, {"AERO_L2_MAX_CONNECTIONS_PER_IP"}, 1U << 24,
                      config.max_connections_per_ip));
  AERO_TRY(set_number(env, {"AERO_L2_MAX_BYTES_PER_CONNECTION"}, UINT64_MAX,
                      config.max_bytes_per_connection));
  AERO_TRY(set_number(env, {"AERO_L2_MAX_FRAMES_PER_SECOND"}, UINT64_MAX,
                      config.max_frames_per_second));

  AERO_TRY(read_stack(env, lookup, config));

  if (auto v = env.get({"AERO_L2_PROXY_VERSION", "VERSION"})) config.version = *v;
  if (auto v = env.get({"AERO_L2_PROXY_GIT_SHA", "GIT_SHA"})) config.git_sha = *v;
  if (auto v = env.get({"AERO_L2_PROXY_BUILD_TIMESTAMP", "BUILD_TIMESTAMP"})) config.built_at = *v;

  std::string_view threads_name = "AERO_L2_WORKER_THREADS";
  if (auto threads = env.get({"AERO_L2_WORKER_THREADS", "AERO_TOKIO_WORKER_THREADS"}, &threads_name)) {
    unsigned parsed = 0;
    const auto [end, ec] = std::from_chars(threads->data(), threads->data() + threads->size(), parsed);
    if (ec != std::errc{} || end != threads->data() + threads->size() || parsed == 0 || parsed > 256) {
      return bad(std::string(threads_name) + ": expected 1..256, got '" + *threads + "'");
    }
    config.worker_threads = parsed;
  } else {
    config.worker_threads = std::max(1U, std::thread::hardware_concurrency());
  }

  // RUST_LOG is a tracing filter ("info", "aero_l2_proxy=debug,tower=warn"): take the most
  // verbose level it names. AERO_L2_LOG is a plain level.
  std::string_view log_name = "AERO_L2_LOG";
  if (auto filter = env.get({"AERO_L2_LOG", "RUST_LOG"}, &log_name)) {
    std::optional<LogLevel> level;
    for (std::string_view directive : split_list(*filter)) {
      if (const auto eq = directive.find('='); eq != std::string_view::npos) {
        directive = directive.substr(eq + 1);
      }
      const std::string word = lower(trim(directive));
      for (const LogLevel candidate : {LogLevel::error, LogLevel::warn, LogLevel::info,
                                       LogLevel::debug, LogLevel::trace}) {
        if (word == log_level_name(candidate) && (!level || candidate > *level)) level = candidate;
      }
      if (word == "off") level = level.value_or(LogLevel::error);
    }
    if (!level) return bad(std::string(log_name) + ": no log level in '" + *filter + "'");
    config.log_level = *level;
  }
  return config;
}

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  };
}

std::string config_json(const ProxyConfig& c) {
  auto secret = [](const std::string& value) -> boost::json::value {
    if (value.empty()) return nullptr;
    return "<set>";
  };
  boost::json::array origins(c.allowed_origins.begin(), c.allowed_origins.end());
  boost::json::array hosts(c.allowed_hosts.begin(), c.allowed_hosts.end());
  boost::json::object out{
      {"listen", c.listen_host + ":" + std::to_string(c.listen_port)},
      {"auth_mode", auth_mode_name(c.auth.mode)},
      {"api_key", secret(c.auth.api_key)},
      {"session_secret", secret(c.auth.session_secret)},
      {"jwt_secret", secret(c.auth.jwt_secret)},
      {"jwt_audience", c.auth.jwt_audience},
      {"jwt_issuer", c.auth.jwt_issuer},
      {"open", c.open},
      {"allowed_origins", origins},
      {"allowed_hosts", hosts},
      {"trust_proxy", c.trust_proxy},
      {"trust_proxy_host", c.trust_proxy_host},
      {"max_frame_payload", c.max_frame_payload},
      {"max_control_payload", c.max_control_payload},
      {"ping_interval_ms", c.ping_interval.count()},
      {"idle_timeout_ms", c.idle_timeout.count()},
      {"ws_send_buffer", c.ws_send_buffer},
      {"tcp_send_buffer", c.tcp_send_buffer},
      {"backpressure_timeout_ms", c.backpressure_timeout.count()},
      {"max_connections", c.max_connections},
      {"max_connections_per_session", c.max_connections_per_session},
      {"max_connections_per_ip", c.max_connections_per_ip},
      {"max_bytes_per_connection", c.max_bytes_per_connection},
      {"max_frames_per_second", c.max_frames_per_second},
      {"shutdown_grace_ms", c.shutdown_grace.count()},
      {"shutdown_drain_ms", c.shutdown_drain.count()},
      {"capture_dir", c.capture_dir},
      {"capture_max_bytes", c.capture_max_bytes},
      {"capture_flush_interval_ms", c.capture_flush_interval.count()},
      {"worker_threads", c.worker_threads},
      {"log_level", log_level_name(c.log_level)},
      {"stack",
       {{"max_tcp_connections", c.stack.tcp.max_connections},
        {"tcp_receive_buffer", c.stack.tcp.receive_buffer},
        {"tcp_connect_timeout_ms", c.stack.tcp.connect_timeout.count()},
        {"max_udp_flows", c.stack.max_udp_flows},
        {"udp_idle_timeout_ms", c.stack.udp_idle_timeout.count()},
        {"max_pending_dns", c.stack.max_pending_dns},
        {"max_dns_cache_entries", c.stack.max_dns_cache_entries},
        {"dns_timeout_ms", c.stack.dns_timeout.count()},
        {"dns_default_ttl_secs", c.stack.dns_default_ttl.count()},
        {"dns_max_ttl_secs", c.stack.dns_max_ttl.count()},
        {"allow_private_ips", c.stack.policy.allow_private},
        {"dns_static_names", c.stack.dns_static.size()},
        {"tcp_forwards", c.stack.tcp_forwards.size()},
        {"udp_forwards", c.stack.udp_forwards.size()}}},
      {"version", c.version},
      {"git_sha", c.git_sha},
      {"built_at", c.built_at},
  };
  return boost::json::serialize(out);
}

}  // namespace aero::l2proxy
