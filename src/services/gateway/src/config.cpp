// Reading GatewayConfig from the environment (config.h). Names and defaults are Aero's gateway's;
// every value that does not parse stops start-up with the variable's name in the message.
#include "aero/services/gateway/config.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "aero/base/ip_address.h"
#include "aero/proto/origin.h"
#include "aero/services/gateway/http_rules.h"

namespace aero::gateway {

namespace {

constexpr std::size_t kMaxListChars = 64 * 1024;
constexpr std::size_t kMaxListItems = 1024;
constexpr std::size_t kMaxHostPatterns = 4096;
constexpr std::size_t kMaxUpstreamChars = 4096;

Error bad(std::string message) { return make_error("bad_config", std::move(message)); }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n' || text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

// Comma list: entries trimmed, empties skipped, at most 64 KiB and `max_items` entries.
Result<std::vector<std::string>> split_list(std::string_view name, std::string_view text, std::size_t max_items) {
  if (text.size() > kMaxListChars) return bad(std::string(name) + ": longer than 65536 characters");
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (entry.empty()) continue;
    if (out.size() == max_items) return bad(std::string(name) + ": more than " + std::to_string(max_items) + " entries");
    out.emplace_back(entry);
  }
  return out;
}

class Reader {
 public:
  explicit Reader(const EnvLookup& lookup) : lookup_(lookup) {}

  // The first of `names` that is set and not blank.
  std::optional<std::string> get(std::initializer_list<std::string_view> names, std::string_view* used = nullptr) const {
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

  // An integer in [min, max].
  template <class T>
  Result<void> integer(std::string_view name, std::int64_t min, std::int64_t max, T& target) const {
    auto value = get({name});
    if (!value) return {};
    std::int64_t parsed = 0;
    const char* end = value->data() + value->size();
    const auto [ptr, ec] = std::from_chars(value->data(), end, parsed);
    if (ec != std::errc{} || ptr != end) return bad(std::string(name) + ": expected an integer, got '" + *value + "'");
    if (parsed < min || parsed > max) {
      return bad(std::string(name) + ": " + *value + " is outside " + std::to_string(min) + ".." + std::to_string(max));
    }
    target = static_cast<T>(parsed);
    return {};
  }

  Result<void> milliseconds(std::string_view name, std::int64_t min, std::chrono::milliseconds& target) const {
    std::int64_t value = target.count();
    auto status = integer(name, min, std::int64_t{1} << 40, value);
    if (!status) return status;
    target = std::chrono::milliseconds(value);
    return {};
  }

  // A non-negative number (rates may be fractional).
  Result<void> real(std::string_view name, double& target) const {
    auto value = get({name});
    if (!value) return {};
    double parsed = 0;
    const char* end = value->data() + value->size();
    const auto [ptr, ec] = std::from_chars(value->data(), end, parsed);
    if (ec != std::errc{} || ptr != end || !std::isfinite(parsed) || parsed < 0) {
      return bad(std::string(name) + ": expected a non-negative number, got '" + *value + "'");
    }
    target = parsed;
    return {};
  }

  // Aero's gateway switches: "1" on, "0" (or unset) off; we refuse anything else.
  Result<void> flag(std::string_view name, bool& target) const {
    auto value = get({name});
    if (!value) return {};
    const std::string v = lower(*value);
    if (v == "1" || v == "true") {
      target = true;
    } else if (v == "0" || v == "false") {
      target = false;
    } else {
      return bad(std::string(name) + ": must be 1 or 0, got '" + *value + "'");
    }
    return {};
  }

 private:
  const EnvLookup& lookup_;
};

#define AERO_TRY(expression)                \
  do {                                      \
    auto status_ = (expression);            \
    if (!status_) return status_.error();   \
  } while (false)

std::string random_secret() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) std::abort();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

Result<std::vector<HostPattern>> host_patterns(const Reader& env, std::string_view name) {
  std::vector<HostPattern> out;
  auto value = env.get({name});
  if (!value) return out;
  auto entries = split_list(name, *value, kMaxHostPatterns);
  if (!entries) return entries.error();
  for (const std::string& entry : *entries) {
    auto pattern = parse_host_pattern(entry);
    if (!pattern) return bad(std::string(name) + ": invalid host pattern '" + entry + "'");
    out.push_back(std::move(*pattern));
  }
  return out;
}

bool readable_file(const std::string& path) {
  std::ifstream file(path);
  return file.good();
}

// An encrypted key would make OpenSSL ask for a passphrase on the terminal: refuse it instead.
int no_passphrase(char*, int, int, void*) { return 0; }

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// The relay modes' variables (config.h, GatewayMode), applied over the gateway's.
Result<void> apply_relay_mode(const Reader& env, GatewayMode mode, GatewayConfig& c) {
  constexpr std::int64_t kBig = std::int64_t{1} << 40;
  c.mode = mode;
  c.require_session = false;
  c.check_origin = false;
  c.tcp_max_connections = static_cast<std::size_t>(kBig);  // no per-session cap: per-socket limits apply
  ProxyPolicy proxy;
  if (mode == GatewayMode::token_mux) {
    c.host = env.get({"AERO_PROXY_HOST"}).value_or("127.0.0.1");
    c.port = 8080;
    AERO_TRY(env.integer("AERO_PROXY_PORT", 0, 65535, c.port));
    auto token = env.get({"AERO_PROXY_AUTH_TOKEN"});
    if (!token) return bad("AERO_PROXY_AUTH_TOKEN: required with --token-mux");
    if (token->size() > kMaxProxyTokenChars) return bad("AERO_PROXY_AUTH_TOKEN: longer than 4096 characters");
    c.proxy_auth_token = *token;
    AERO_TRY(env.flag("AERO_PROXY_ALLOW_PRIVATE_IPS", proxy.allow_private_ips));
    if (auto cidrs = env.get({"AERO_PROXY_ALLOW_CIDRS"})) {
      auto entries = split_list("AERO_PROXY_ALLOW_CIDRS", *cidrs, kMaxListItems);
      if (!entries) return entries.error();
      for (const std::string& entry : *entries) {
        auto cidr = stack::Ipv4Cidr::parse(entry);
        if (!cidr) return bad("AERO_PROXY_ALLOW_CIDRS: '" + entry + "' is not an IPv4 CIDR");
        proxy.allow_private_cidrs.push_back(*cidr);
      }
    }
    proxy.ip_denied_message = "Target IP is blocked by IP egress policy";
    // tools/net-proxy-server's fixed limits.
    c.mux_max_streams = 256;
    c.mux_max_stream_buffer_bytes = 1048576;
    c.mux_max_frame_payload_bytes = 1048576;
    c.tcp_max_message_bytes = 1048576 + 9 + 64;
    c.mux_open_rate_per_second = 2;  // 120 per minute
    c.mux_open_burst = 120;
    c.mux_data_bytes_per_second = 5.0 * 1024 * 1024;
    c.mux_data_burst_bytes = 10.0 * 1024 * 1024;
  } else {
    c.host = env.get({"AERO_PROXY_LISTEN_HOST"}).value_or("127.0.0.1");
    c.port = 8081;
    AERO_TRY(env.integer("AERO_PROXY_PORT", 0, 65535, c.port));
    c.dns_require_session = false;  // net-proxy's DoH is unauthenticated
    AERO_TRY(env.flag("AERO_PROXY_OPEN", proxy.open));
    if (auto allow = env.get({"AERO_PROXY_ALLOW"})) {
      auto rules = parse_allowlist(*allow);
      if (!rules) return rules.error();
      proxy.allow = std::move(*rules);
    }
    AERO_TRY(env.milliseconds("AERO_PROXY_CONNECT_TIMEOUT_MS", 1, c.tcp_connect_timeout));
    AERO_TRY(env.milliseconds("AERO_PROXY_DNS_TIMEOUT_MS", 1, c.dns_upstream_timeout));
    c.dns_max_query_bytes = 512;
    AERO_TRY(env.integer("AERO_PROXY_DOH_MAX_QUERY_BYTES", 12, 65535, c.dns_max_query_bytes));
    AERO_TRY(env.integer("AERO_PROXY_WS_MAX_PAYLOAD_BYTES", 1, kBig, c.tcp_max_message_bytes));
    AERO_TRY(env.integer("AERO_PROXY_MAX_TCP_BUFFER_BYTES", 1, 256 * 1024 * 1024, c.tcp_max_tcp_buffer_bytes));
    AERO_TRY(env.integer("AERO_PROXY_TCP_MUX_MAX_STREAMS", 1, kBig, c.mux_max_streams));
    AERO_TRY(env.integer("AERO_PROXY_TCP_MUX_MAX_STREAM_BUFFER_BYTES", 1, kBig, c.mux_max_stream_buffer_bytes));
    AERO_TRY(env.integer("AERO_PROXY_TCP_MUX_MAX_FRAME_PAYLOAD_BYTES", 1, kBig, c.mux_max_frame_payload_bytes));
    AERO_TRY(env.integer("AERO_PROXY_UDP_RELAY_MAX_PAYLOAD_BYTES", 1, 65507, c.udp_max_payload_bytes));
    AERO_TRY(env.integer("AERO_PROXY_UDP_RELAY_MAX_BINDINGS", 1, kBig, c.udp_max_bindings));
    AERO_TRY(env.milliseconds("AERO_PROXY_UDP_RELAY_BINDING_IDLE_TIMEOUT_MS", 1, c.udp_binding_idle_timeout));
    AERO_TRY(env.flag("AERO_PROXY_UDP_RELAY_PREFER_V2", c.udp_prefer_v2));
    AERO_TRY(env.integer("AERO_PROXY_UDP_WS_BUFFER_LIMIT_BYTES", 1, kBig, c.udp_send_queue_bytes));
    if (auto filter = env.get({"AERO_PROXY_UDP_RELAY_INBOUND_FILTER_MODE"})) {
      const std::string v = lower(*filter);
      if (v == "any" || v == "full_cone") {
        c.udp_inbound_filter_any = true;
      } else if (v == "address_and_port" || v == "addrport" || v == "address+port") {
        c.udp_inbound_filter_any = false;
      } else {
        return bad("AERO_PROXY_UDP_RELAY_INBOUND_FILTER_MODE: expected address_and_port or any, got '" + *filter + "'");
      }
    }
    // Accepted for compatibility, without effect here (DoH answers come from DNS_UPSTREAMS, not
    // synthesised from the host resolver; the relays' back-pressure is one message at a time).
    std::size_t unused = 0;
    AERO_TRY(env.integer("AERO_PROXY_DOH_MAX_QNAME_LENGTH", 1, 253, unused));
    AERO_TRY(env.integer("AERO_PROXY_DOH_ANSWER_TTL_SECONDS", 0, kBig, unused));
    AERO_TRY(env.integer("AERO_PROXY_DOH_MAX_ANSWER_TTL_SECONDS", 0, kBig, unused));
    AERO_TRY(env.integer("AERO_PROXY_DOH_MAX_ANSWERS", 0, kBig, unused));
    AERO_TRY(env.integer("AERO_PROXY_WS_STREAM_HWM_BYTES", 1, kBig, unused));
  }
  c.tcp_policy = TcpPolicy{};
  c.tcp_policy.proxy = std::move(proxy);
  return {};
}

}  // namespace

std::string_view gateway_mode_name(GatewayMode mode) {
  switch (mode) {
    case GatewayMode::gateway: return "gateway";
    case GatewayMode::dev_proxy: return "dev-proxy";
    case GatewayMode::token_mux: return "token-mux";
  }
  return "gateway";
}

Result<void> validate_tls_files(const std::string& cert_path, const std::string& key_path) {
  if (cert_path.empty()) return bad("TLS_CERT_PATH: required when TLS_ENABLED=1");
  if (key_path.empty()) return bad("TLS_KEY_PATH: required when TLS_ENABLED=1");
  if (!readable_file(cert_path)) return bad("TLS_CERT_PATH: cannot read '" + cert_path + "'");
  if (!readable_file(key_path)) return bad("TLS_KEY_PATH: cannot read '" + key_path + "'");
  const std::unique_ptr<BIO, BioDeleter> cert_file(BIO_new_file(cert_path.c_str(), "r"));
  const std::unique_ptr<X509, X509Deleter> cert(
      cert_file ? PEM_read_bio_X509(cert_file.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (!cert) return bad("TLS_CERT_PATH: '" + cert_path + "' holds no PEM certificate");
  const std::unique_ptr<BIO, BioDeleter> key_file(BIO_new_file(key_path.c_str(), "r"));
  const std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      key_file ? PEM_read_bio_PrivateKey(key_file.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (!key) return bad("TLS_KEY_PATH: '" + key_path + "' holds no unencrypted PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return bad("TLS_KEY_PATH: the key in '" + key_path + "' does not belong to TLS_CERT_PATH's certificate");
  }
  return {};
}

std::string_view same_site_name(SameSite value) {
  switch (value) {
    case SameSite::lax: return "Lax";
    case SameSite::strict: return "Strict";
    case SameSite::none: return "None";
  }
  return "Lax";
}

std::string_view udp_relay_auth_mode_name(UdpRelayAuthMode mode) {
  switch (mode) {
    case UdpRelayAuthMode::none: return "none";
    case UdpRelayAuthMode::api_key: return "api_key";
    case UdpRelayAuthMode::jwt: return "jwt";
  }
  return "none";
}

Result<std::string> parse_dns_upstream(std::string_view entry) {
  const std::string_view raw = trim(entry);
  if (raw.size() > kMaxUpstreamChars) return bad("DNS_UPSTREAMS: entry longer than 4096 characters");
  std::string_view text = raw;
  const std::string lowered = lower(text.substr(0, 8));
  if (lowered.starts_with("http://") || lowered.starts_with("https://")) {
    return bad("DNS_UPSTREAMS: DoH upstream '" + std::string(raw) +
               "' is not supported yet; use UDP upstreams (ip[:port])");
  }
  if (lowered.starts_with("udp://")) text.remove_prefix(6);
  std::string_view host = text;
  std::uint16_t port = 53;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("DNS_UPSTREAMS: unclosed '[' in '" + std::string(raw) + "'");
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("DNS_UPSTREAMS: unexpected text after ']' in '" + std::string(raw) + "'");
      port_text = rest.substr(1);
    }
  } else {
    const std::size_t colon = text.find(':');
    if (colon != std::string_view::npos) {
      if (text.find(':', colon + 1) != std::string_view::npos) {
        return bad("DNS_UPSTREAMS: IPv6 upstream '" + std::string(raw) + "' must be bracketed: [addr]:port");
      }
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
    }
  }
  if (!port_text.empty() || text.ends_with(':')) {
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return bad("DNS_UPSTREAMS: invalid port in '" + std::string(raw) + "'");
    }
    port = static_cast<std::uint16_t>(value);
  }
  auto address = IpAddress::parse(host);
  if (!address) {
    return bad("DNS_UPSTREAMS: '" + std::string(raw) + "' is not an IP address (host names are not supported)");
  }
  const std::string h = address->to_string();
  return (address->is_v6() ? "[" + h + "]" : h) + ":" + std::to_string(port);
}

Result<GatewayConfig> config_from_env(const EnvLookup& lookup, GatewayMode serving) {
  const Reader env(lookup);
  GatewayConfig c;

  if (auto host = env.get({"HOST"})) c.host = *host;
  AERO_TRY(env.integer("PORT", 0, 65535, c.port));

  if (auto level = env.get({"LOG_LEVEL"})) {
    const std::string v = lower(*level);
    if (v == "fatal" || v == "error") {
      c.log_level = LogLevel::error;
    } else if (v == "warn") {
      c.log_level = LogLevel::warn;
    } else if (v == "info") {
      c.log_level = LogLevel::info;
    } else if (v == "debug") {
      c.log_level = LogLevel::debug;
    } else if (v == "trace") {
      c.log_level = LogLevel::trace;
    } else if (v == "silent") {
      c.log_silent = true;
    } else {
      return bad("LOG_LEVEL: expected fatal|error|warn|info|debug|trace|silent, got '" + *level + "'");
    }
  }

  AERO_TRY(env.flag("TLS_ENABLED", c.tls_enabled));
  if (c.tls_enabled) {
    c.tls_cert_path = env.get({"TLS_CERT_PATH"}).value_or("");
    c.tls_key_path = env.get({"TLS_KEY_PATH"}).value_or("");
    AERO_TRY(validate_tls_files(c.tls_cert_path, c.tls_key_path));
  }
  AERO_TRY(env.flag("DNS_REQUIRE_SESSION", c.dns_require_session));

  // PUBLIC_BASE_URL: http(s)://authority[/path]; the path is the base path of every route.
  const std::string default_base = std::string(c.tls_enabled ? "https" : "http") + "://localhost:" + std::to_string(c.port == 0 ? 8080 : c.port);
  std::string base = env.get({"PUBLIC_BASE_URL"}).value_or(default_base);
  while (!base.empty() && base.back() == '/') base.pop_back();
  {
    const std::string lowered = lower(base);
    const std::size_t scheme_end = lowered.starts_with("https://") ? 8 : lowered.starts_with("http://") ? 7 : 0;
    if (scheme_end == 0) return bad("PUBLIC_BASE_URL: must start with http:// or https://, got '" + base + "'");
    const std::size_t path_start = base.find('/', scheme_end);
    const std::string authority = base.substr(scheme_end, path_start == std::string::npos ? std::string::npos : path_start - scheme_end);
    std::string path = path_start == std::string::npos ? std::string() : base.substr(path_start);
    if (base.find_first_of("?#") != std::string::npos) return bad("PUBLIC_BASE_URL: must not carry a query or fragment");
    auto origin = origin::normalize_origin(lowered.substr(0, scheme_end) + authority);
    if (!origin || *origin == "null") return bad("PUBLIC_BASE_URL: invalid URL '" + base + "'");
    while (!path.empty() && path.back() == '/') path.pop_back();
    c.public_base_url = base;
    c.base_path = path;
    c.allowed_origins = {*origin};
  }
  if (auto origins = env.get({"ALLOWED_ORIGINS"})) {
    auto entries = split_list("ALLOWED_ORIGINS", *origins, kMaxListItems);
    if (!entries) return entries.error();
    c.allowed_origins.clear();
    for (const std::string& entry : *entries) {
      if (entry == "*" || entry == "null") {
        c.allowed_origins.push_back(entry);
        continue;
      }
      auto normalized = origin::normalize_origin(entry);
      if (!normalized) return bad("ALLOWED_ORIGINS: invalid origin '" + entry + "'");
      c.allowed_origins.push_back(std::move(*normalized));
    }
  }
  AERO_TRY(env.flag("CROSS_ORIGIN_ISOLATION", c.cross_origin_isolation));
  AERO_TRY(env.flag("TRUST_PROXY", c.trust_proxy));
  AERO_TRY(env.milliseconds("SHUTDOWN_GRACE_MS", 0, c.shutdown_grace));

  if (auto secret = env.get({"AERO_GATEWAY_SESSION_SECRET", "SESSION_SECRET"})) {
    c.session_secret = *secret;
  } else {
    c.session_secret = random_secret();
    c.session_secret_generated = true;
  }
  AERO_TRY(env.integer("SESSION_TTL_SECONDS", 1, std::int64_t{1} << 40, c.session_ttl_seconds));
  if (auto same_site = env.get({"SESSION_COOKIE_SAMESITE"})) {
    const std::string v = lower(*same_site);
    if (v == "lax") {
      c.same_site = SameSite::lax;
    } else if (v == "strict") {
      c.same_site = SameSite::strict;
    } else if (v == "none") {
      c.same_site = SameSite::none;
    } else {
      return bad("SESSION_COOKIE_SAMESITE: expected Lax, Strict or None, got '" + *same_site + "'");
    }
  }
  AERO_TRY(env.integer("RATE_LIMIT_REQUESTS_PER_MINUTE", 0, std::int64_t{1} << 40, c.rate_limit_per_minute));

  // TCP relay policy.
  auto allowed_hosts = host_patterns(env, "TCP_ALLOWED_HOSTS");
  if (!allowed_hosts) return allowed_hosts.error();
  c.tcp_policy.allowed_hosts = std::move(*allowed_hosts);
  auto blocked_hosts = host_patterns(env, "TCP_BLOCKED_HOSTS");
  if (!blocked_hosts) return blocked_hosts.error();
  c.tcp_policy.blocked_hosts = std::move(*blocked_hosts);
  AERO_TRY(env.flag("TCP_REQUIRE_DNS_NAME", c.tcp_policy.require_dns_name));
  AERO_TRY(env.flag("TCP_ALLOW_PRIVATE_IPS", c.tcp_policy.allow_private_ips));
  if (auto ports = env.get({"TCP_ALLOWED_PORTS"})) {
    auto entries = split_list("TCP_ALLOWED_PORTS", *ports, kMaxListItems);
    if (!entries) return entries.error();
    for (const std::string& entry : *entries) {
      unsigned value = 0;
      const auto [ptr, ec] = std::from_chars(entry.data(), entry.data() + entry.size(), value);
      if (ec != std::errc{} || ptr != entry.data() + entry.size() || value == 0 || value > 65535) {
        return bad("TCP_ALLOWED_PORTS: '" + entry + "' is not a port 1..65535");
      }
      c.tcp_policy.allowed_ports.push_back(static_cast<std::uint16_t>(value));
    }
  }
  if (auto ips = env.get({"TCP_BLOCKED_CLIENT_IPS"})) {
    auto entries = split_list("TCP_BLOCKED_CLIENT_IPS", *ips, kMaxListItems);
    if (!entries) return entries.error();
    c.tcp_blocked_client_ips = std::move(*entries);
  }
  constexpr std::int64_t kBig = std::int64_t{1} << 40;
  AERO_TRY(env.integer("TCP_PROXY_MAX_CONNECTIONS", 1, kBig, c.tcp_max_connections));
  AERO_TRY(env.integer("TCP_PROXY_MAX_CONNECTIONS_PER_IP", 0, kBig, c.tcp_max_connections_per_ip));
  AERO_TRY(env.integer("TCP_PROXY_MAX_MESSAGE_BYTES", 1, kBig, c.tcp_max_message_bytes));
  AERO_TRY(env.integer("TCP_PROXY_MAX_TCP_BUFFER_BYTES", 1, kBig, c.tcp_max_tcp_buffer_bytes));
  AERO_TRY(env.milliseconds("TCP_PROXY_CONNECT_TIMEOUT_MS", 1, c.tcp_connect_timeout));
  AERO_TRY(env.milliseconds("TCP_PROXY_IDLE_TIMEOUT_MS", 1, c.tcp_idle_timeout));
  AERO_TRY(env.integer("TCP_MUX_MAX_STREAMS", 1, kBig, c.mux_max_streams));
  AERO_TRY(env.integer("TCP_MUX_MAX_STREAM_BUFFER_BYTES", 1, kBig, c.mux_max_stream_buffer_bytes));
  AERO_TRY(env.integer("TCP_MUX_MAX_FRAME_PAYLOAD_BYTES", 1, kBig, c.mux_max_frame_payload_bytes));
  AERO_TRY(env.integer("MAX_DATAGRAM_PAYLOAD_BYTES", 1, 65507, c.udp_max_payload_bytes));
  AERO_TRY(env.integer("MAX_UDP_BINDINGS_PER_SESSION", 1, kBig, c.udp_max_bindings));
  AERO_TRY(env.integer("MAX_ALLOWED_REMOTES_PER_BINDING", 1, kBig, c.udp_max_allowed_remotes));
  AERO_TRY(env.milliseconds("UDP_BINDING_IDLE_TIMEOUT_MS", 1, c.udp_binding_idle_timeout));
  AERO_TRY(env.flag("PREFER_V2", c.udp_prefer_v2));
  AERO_TRY(env.integer("UDP_SEND_QUEUE_BYTES", 1, kBig, c.udp_send_queue_bytes));
  if (auto mode = env.get({"UDP_INBOUND_FILTER_MODE"})) {
    if (*mode == "any") {
      c.udp_inbound_filter_any = true;
    } else if (*mode != "address_and_port") {
      return bad("UDP_INBOUND_FILTER_MODE: expected address_and_port or any, got '" + *mode + "'");
    }
  }

  // Advertised L2 limits: AERO_L2_MAX_FRAME_PAYLOAD (alias ..._FRAME_SIZE); 0 means unset.
  {
    std::size_t frame = 0;
    const char* frame_name = env.get({"AERO_L2_MAX_FRAME_PAYLOAD"}) ? "AERO_L2_MAX_FRAME_PAYLOAD" : "AERO_L2_MAX_FRAME_SIZE";
    AERO_TRY(env.integer(frame_name, 0, kBig, frame));
    if (frame != 0) c.l2_max_frame_payload = frame;
    std::size_t control = 0;
    AERO_TRY(env.integer("AERO_L2_MAX_CONTROL_PAYLOAD", 0, kBig, control));
    if (control != 0) c.l2_max_control_payload = control;
  }

  // DNS.
  if (auto upstreams = env.get({"DNS_UPSTREAMS"})) {
    auto entries = split_list("DNS_UPSTREAMS", *upstreams, kMaxListItems);
    if (!entries) return entries.error();
    if (entries->empty()) return bad("DNS_UPSTREAMS: no upstream listed");
    c.dns_upstreams.clear();
    for (const std::string& entry : *entries) {
      auto upstream = parse_dns_upstream(entry);
      if (!upstream) return upstream.error();
      c.dns_upstreams.push_back(std::move(*upstream));
    }
  }
  AERO_TRY(env.milliseconds("DNS_UPSTREAM_TIMEOUT_MS", 1, c.dns_upstream_timeout));
  AERO_TRY(env.integer("DNS_CACHE_MAX_ENTRIES", 0, kBig, c.dns_cache_max_entries));
  AERO_TRY(env.integer("DNS_CACHE_MAX_TTL_SECONDS", 0, 0x7FFFFFFF, c.dns_cache_max_ttl_seconds));
  AERO_TRY(env.integer("DNS_CACHE_NEGATIVE_TTL_SECONDS", 0, 0x7FFFFFFF, c.dns_cache_negative_ttl_seconds));
  AERO_TRY(env.integer("DNS_MAX_QUERY_BYTES", 12, 65535, c.dns_max_query_bytes));
  AERO_TRY(env.integer("DNS_MAX_RESPONSE_BYTES", 12, 65535, c.dns_max_response_bytes));
  AERO_TRY(env.real("DNS_QPS_PER_IP", c.dns_qps_per_ip));
  AERO_TRY(env.real("DNS_BURST_PER_IP", c.dns_burst_per_ip));
  AERO_TRY(env.flag("DNS_ALLOW_ANY", c.dns_allow_any));
  AERO_TRY(env.flag("DNS_ALLOW_PRIVATE_PTR", c.dns_allow_private_ptr));

  // UDP relay discovery and credentials.
  if (auto relay = env.get({"UDP_RELAY_BASE_URL"})) {
    std::string url = *relay;
    const std::string lowered = lower(url);
    const bool scheme_ok = lowered.starts_with("http://") || lowered.starts_with("https://") ||
                           lowered.starts_with("ws://") || lowered.starts_with("wss://");
    const std::size_t authority = lowered.find("://") + 3;
    if (!scheme_ok || authority >= url.size() || url[authority] == '/') {
      return bad("UDP_RELAY_BASE_URL: expected an http(s):// or ws(s):// URL, got '" + url + "'");
    }
    while (!url.empty() && url.back() == '/') url.pop_back();
    c.udp_relay_base_url = std::move(url);
  }
  if (auto mode = env.get({"UDP_RELAY_AUTH_MODE"})) {
    const std::string v = lower(*mode);
    if (v == "none") {
      c.udp_relay_auth_mode = UdpRelayAuthMode::none;
    } else if (v == "api_key") {
      c.udp_relay_auth_mode = UdpRelayAuthMode::api_key;
    } else if (v == "jwt") {
      c.udp_relay_auth_mode = UdpRelayAuthMode::jwt;
    } else {
      return bad("UDP_RELAY_AUTH_MODE: expected none, api_key or jwt, got '" + *mode + "'");
    }
  }
  c.udp_relay_api_key = env.get({"UDP_RELAY_API_KEY"}).value_or("");
  c.udp_relay_jwt_secret = env.get({"UDP_RELAY_JWT_SECRET"}).value_or("");
  if (c.udp_relay_base_url) {
    if (c.udp_relay_auth_mode == UdpRelayAuthMode::api_key && c.udp_relay_api_key.empty()) {
      return bad("UDP_RELAY_API_KEY: required when UDP_RELAY_AUTH_MODE=api_key");
    }
    if (c.udp_relay_auth_mode == UdpRelayAuthMode::jwt && c.udp_relay_jwt_secret.empty()) {
      return bad("UDP_RELAY_JWT_SECRET: required when UDP_RELAY_AUTH_MODE=jwt");
    }
  }
  AERO_TRY(env.integer("UDP_RELAY_TOKEN_TTL_SECONDS", 1, kBig, c.udp_relay_token_ttl_seconds));
  c.udp_relay_audience = env.get({"UDP_RELAY_AUDIENCE"});
  c.udp_relay_issuer = env.get({"UDP_RELAY_ISSUER"});

  c.version = env.get({"AERO_GATEWAY_VERSION"}).value_or("dev");
  c.git_sha = env.get({"AERO_GATEWAY_GIT_SHA", "GIT_SHA"}).value_or(c.version);
  c.built_at = env.get({"AERO_GATEWAY_BUILD_TIMESTAMP", "BUILD_TIMESTAMP"}).value_or("");
  if (serving != GatewayMode::gateway) AERO_TRY(apply_relay_mode(env, serving, c));
  return c;
}

std::string config_json(const GatewayConfig& c) {
  namespace json = boost::json;
  json::array origins;
  for (const auto& o : c.allowed_origins) origins.emplace_back(o);
  json::array upstreams;
  for (const auto& u : c.dns_upstreams) upstreams.emplace_back(u);
  json::array ports;
  for (const auto p : c.tcp_policy.allowed_ports) ports.emplace_back(p);
  auto patterns = [](const std::vector<HostPattern>& list) {
    json::array out;
    for (const auto& p : list) out.emplace_back(p.kind == HostPattern::Kind::subdomains ? "*." + p.value : p.value);
    return out;
  };
  json::object body{
      {"mode", gateway_mode_name(c.mode)},
      {"proxyPolicy", c.tcp_policy.proxy ? json::value(c.tcp_policy.proxy->mode_name()) : json::value(nullptr)},
      {"proxyAuthToken", c.proxy_auth_token.empty() ? "" : "<set>"},
      {"host", c.host},
      {"port", c.port},
      {"publicBaseUrl", c.public_base_url},
      {"basePath", c.base_path},
      {"allowedOrigins", std::move(origins)},
      {"crossOriginIsolation", c.cross_origin_isolation},
      {"trustProxy", c.trust_proxy},
      {"shutdownGraceMs", c.shutdown_grace.count()},
      {"sessionSecret", c.session_secret_generated ? "<generated>" : "<set>"},
      {"sessionTtlSeconds", c.session_ttl_seconds},
      {"sessionCookieSameSite", same_site_name(c.same_site)},
      {"rateLimitRequestsPerMinute", c.rate_limit_per_minute},
      {"tlsEnabled", c.tls_enabled},
      {"tlsCertPath", c.tls_cert_path},
      {"tlsKeyPath", c.tls_key_path},
      {"dnsRequireSession", c.dns_require_session},
      {"tcpAllowedHosts", patterns(c.tcp_policy.allowed_hosts)},
      {"tcpBlockedHosts", patterns(c.tcp_policy.blocked_hosts)},
      {"tcpRequireDnsName", c.tcp_policy.require_dns_name},
      {"tcpAllowPrivateIps", c.tcp_policy.allow_private_ips},
      {"tcpAllowedPorts", std::move(ports)},
      {"tcpMaxConnections", c.tcp_max_connections},
      {"tcpMaxMessageBytes", c.tcp_max_message_bytes},
      {"tcpMaxTcpBufferBytes", c.tcp_max_tcp_buffer_bytes},
      {"tcpConnectTimeoutMs", c.tcp_connect_timeout.count()},
      {"tcpIdleTimeoutMs", c.tcp_idle_timeout.count()},
      {"tcpMuxMaxStreams", c.mux_max_streams},
      {"tcpMuxMaxStreamBufferBytes", c.mux_max_stream_buffer_bytes},
      {"tcpMuxMaxFramePayloadBytes", c.mux_max_frame_payload_bytes},
      {"udpMaxPayloadBytes", c.udp_max_payload_bytes},
      {"udpMaxBindings", c.udp_max_bindings},
      {"udpMaxAllowedRemotes", c.udp_max_allowed_remotes},
      {"udpBindingIdleTimeoutMs", c.udp_binding_idle_timeout.count()},
      {"udpPreferV2", c.udp_prefer_v2},
      {"udpInboundFilterMode", c.udp_inbound_filter_any ? "any" : "address_and_port"},
      {"udpSendQueueBytes", c.udp_send_queue_bytes},
      {"dnsUpstreams", std::move(upstreams)},
      {"dnsUpstreamTimeoutMs", c.dns_upstream_timeout.count()},
      {"dnsCacheMaxEntries", c.dns_cache_max_entries},
      {"dnsCacheMaxTtlSeconds", c.dns_cache_max_ttl_seconds},
      {"dnsCacheNegativeTtlSeconds", c.dns_cache_negative_ttl_seconds},
      {"dnsMaxQueryBytes", c.dns_max_query_bytes},
      {"dnsMaxResponseBytes", c.dns_max_response_bytes},
      {"dnsQpsPerIp", c.dns_qps_per_ip},
      {"dnsBurstPerIp", c.dns_burst_per_ip},
      {"dnsAllowAny", c.dns_allow_any},
      {"dnsAllowPrivatePtr", c.dns_allow_private_ptr},
      {"udpRelayBaseUrl", c.udp_relay_base_url ? json::value(*c.udp_relay_base_url) : json::value(nullptr)},
      {"udpRelayAuthMode", udp_relay_auth_mode_name(c.udp_relay_auth_mode)},
      {"udpRelayApiKey", c.udp_relay_api_key.empty() ? "" : "<set>"},
      {"udpRelayJwtSecret", c.udp_relay_jwt_secret.empty() ? "" : "<set>"},
      {"udpRelayTokenTtlSeconds", c.udp_relay_token_ttl_seconds},
      {"version", c.version},
      {"gitSha", c.git_sha},
      {"builtAt", c.built_at}};
  return json::serialize(body);
}

}  // namespace aero::gateway
