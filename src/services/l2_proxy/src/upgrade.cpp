// The /l2 upgrade pipeline (upgrade.h).
#include "aero/services/l2_proxy/upgrade.h"

#include <chrono>

#include "aero/base/ip_address.h"
#include "aero/proto/origin.h"
#include "aero/services/l2_proxy/auth.h"

namespace aero::l2proxy {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

std::string_view unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

// A parameter of the first element of the first Forwarded header (RFC 7239 §4).
std::optional<std::string> forwarded_parameter(std::span<const std::string_view> headers,
                                               std::string_view name) {
  if (headers.empty()) return std::nullopt;
  std::string_view element = headers.front().substr(0, headers.front().find(','));
  while (!element.empty()) {
    const auto semi = element.find(';');
    const std::string_view pair = trim(element.substr(0, semi));
    element = semi == std::string_view::npos ? std::string_view{} : element.substr(semi + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (lower(trim(pair.substr(0, eq))) != name) continue;
    const std::string_view value = unquote(trim(pair.substr(eq + 1)));
    if (value.empty()) return std::nullopt;
    return std::string(value);
  }
  return std::nullopt;
}

// A node (RFC 7239 §6) or X-Forwarded-For entry without its port; nullopt unless an IP.
std::optional<std::string> node_address(std::string_view node) {
  node = trim(node);
  if (!node.empty() && node.front() == '[') {
    const auto close = node.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    node = node.substr(1, close - 1);
  } else if (node.find(':') != node.rfind(':')) {
    // A bare IPv6 address (X-Forwarded-For writes them so).
  } else if (const auto colon = node.find(':'); colon != std::string_view::npos) {
    node = node.substr(0, colon);
  }
  const auto address = IpAddress::parse(node);
  if (!address) return std::nullopt;
  return std::string(node);
}

std::optional<std::string> first_list_entry(std::span<const std::string_view> headers) {
  if (headers.empty()) return std::nullopt;
  const std::string_view entry = trim(headers.front().substr(0, headers.front().find(',')));
  if (entry.empty()) return std::nullopt;
  return std::string(entry);
}

Rejection reject(unsigned status, std::string body, std::string_view reason,
                 std::string_view auth_reason = {}) {
  return Rejection{status, std::move(body), reason, auth_reason};
}

std::optional<Rejection> check_host(const ProxyConfig& config, const UpgradeRequest& request,
                                    const std::optional<std::string>& origin) {
  if (config.allowed_hosts.empty()) return std::nullopt;
  std::optional<std::string> host;
  std::optional<std::string> scheme;
  if (config.trust_proxy_host) {
    host = forwarded_parameter(request.forwarded, "host");
    if (!host) host = first_list_entry(request.x_forwarded_host);
    scheme = forwarded_parameter(request.forwarded, "proto");
    if (!scheme) scheme = first_list_entry(request.x_forwarded_proto);
  }
  if (!host) {
    if (request.hosts.size() > 1) return reject(403, "invalid host", "host_invalid");
    if (!request.hosts.empty()) host = std::string(trim(request.hosts.front()));
  }
  if (!host || host->empty()) return reject(403, "missing host", "host_missing");
  if (!scheme && origin && origin->find("://") != std::string::npos) {
    scheme = origin->substr(0, origin->find("://"));
  }
  const std::string use_scheme = lower(scheme.value_or("http"));
  if (host->find_first_of(" \t") != std::string::npos) {
    return reject(403, "invalid host", "host_invalid");
  }
  const auto normalized = origin::normalize_host_header(*host, use_scheme);
  if (!normalized) return reject(403, "invalid host", "host_invalid");
  for (const auto& entry : config.allowed_hosts) {
    const auto allowed = origin::normalize_host_header(entry, use_scheme);
    if (allowed && *allowed == *normalized) return std::nullopt;
  }
  return reject(403, "host not allowed", "host_not_allowed");
}

}  // namespace

ConnectionLimiter::Lease& ConnectionLimiter::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    ip_ = std::move(other.ip_);
    sid_ = std::move(other.sid_);
    other.owner_ = nullptr;
  }
  return *this;
}

void ConnectionLimiter::Lease::release() {
  if (owner_ == nullptr) return;
  owner_->release(ip_, sid_);
  owner_ = nullptr;
}

ConnectionLimiter::Refusal ConnectionLimiter::acquire(const std::string& ip,
                                                      const std::optional<std::string>& sid,
                                                      Lease& lease) {
  const std::lock_guard lock(mutex_);
  const auto ip_it = by_ip_.find(ip);
  if (per_ip_ != 0 && ip_it != by_ip_.end() && ip_it->second >= per_ip_) return Refusal::per_ip;
  if (global_ != 0 && active_ >= global_) return Refusal::global;
  if (sid && per_session_ != 0) {
    const auto it = by_session_.find(*sid);
    if (it != by_session_.end() && it->second >= per_session_) return Refusal::per_session;
  }
  ++active_;
  ++by_ip_[ip];
  if (sid) ++by_session_[*sid];
  lease.release();
  lease.owner_ = this;
  lease.ip_ = ip;
  lease.sid_ = sid;
  return Refusal::none;
}

void ConnectionLimiter::release(const std::string& ip, const std::optional<std::string>& sid) {
  const std::lock_guard lock(mutex_);
  if (active_ > 0) --active_;
  if (auto it = by_ip_.find(ip); it != by_ip_.end() && --it->second == 0) by_ip_.erase(it);
  if (sid) {
    if (auto it = by_session_.find(*sid); it != by_session_.end() && --it->second == 0) {
      by_session_.erase(it);
    }
  }
}

std::size_t ConnectionLimiter::active() const {
  const std::lock_guard lock(mutex_);
  return active_;
}

bool offers_tunnel_subprotocol(std::span<const std::string_view> protocols) {
  for (std::string_view header : protocols) {
    while (!header.empty()) {
      const auto comma = header.find(',');
      if (trim(header.substr(0, comma)) == "aero-l2-tunnel-v1") return true;
      header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    }
  }
  return false;
}

std::string client_ip(const UpgradeRequest& request, bool trust_proxy) {
  if (trust_proxy) {
    if (auto node = forwarded_parameter(request.forwarded, "for")) {
      if (auto ip = node_address(*node)) return *ip;
    }
    if (auto entry = first_list_entry(request.x_forwarded_for)) {
      if (auto ip = node_address(*entry)) return *ip;
    }
  }
  return request.peer_ip;
}

UpgradeOutcome admit(const ProxyConfig& config, const UpgradeRequest& request, bool draining,
                     ConnectionLimiter& limiter, std::int64_t now_ms) {
  UpgradeOutcome out;
  if (draining) {
    out.rejection = reject(503, "shutting down", "shutting_down");
    return out;
  }
  if (!offers_tunnel_subprotocol(request.protocols)) {
    out.rejection = reject(400, "missing required subprotocol aero-l2-tunnel-v1", "subprotocol");
    return out;
  }
  if (!request.websocket_upgrade) {
    out.rejection = reject(426, "websocket upgrade required", "not_websocket");
    return out;
  }
  out.admission.client_ip = client_ip(request, config.trust_proxy);

  // One Origin header is the only form a browser sends; the auth step needs it for the JWT
  // origin binding, the Origin step below judges it.
  std::optional<std::string_view> raw_origin;
  if (request.origins.size() == 1) raw_origin = trim(request.origins.front());
  if (raw_origin) out.admission.origin = origin::normalize_origin(*raw_origin);

  const Credentials credentials =
      collect_credentials(request.cookies, request.target, request.authorization, request.protocols);
  const AuthResult auth = authenticate(config.auth, credentials, raw_origin, now_ms);
  if (!auth.ok) {
    const bool missing = auth.reason == "missing_credentials";
    out.rejection = reject(401, missing ? "authentication required" : "invalid credentials",
                           missing ? "auth_missing" : "auth_invalid", auth.reason);
    return out;
  }
  out.admission.sid = auth.sid;

  if (!config.open) {
    if (request.origins.empty()) {
      out.rejection = reject(403, "missing Origin header", "origin_missing");
      return out;
    }
    if (request.origins.size() > 1 || !out.admission.origin) {
      out.rejection = reject(403, "invalid Origin header", "origin_not_allowed");
      return out;
    }
    const std::string_view host = request.hosts.size() == 1 ? trim(request.hosts.front())
                                                            : std::string_view{};
    if (!origin::is_origin_allowed(*raw_origin, config.allowed_origins, host)) {
      out.rejection = reject(403, "origin not allowed", "origin_not_allowed");
      return out;
    }
  }

  if (auto host = check_host(config, request, out.admission.origin)) {
    out.rejection = std::move(host);
    return out;
  }

  switch (limiter.acquire(out.admission.client_ip, out.admission.sid, out.admission.lease)) {
    case ConnectionLimiter::Refusal::none:
      break;
    case ConnectionLimiter::Refusal::per_ip:
      out.rejection = reject(429, "too many connections from this address", "ip_limit");
      break;
    case ConnectionLimiter::Refusal::global:
      out.rejection = reject(429, "too many connections", "max_connections");
      break;
    case ConnectionLimiter::Refusal::per_session:
      out.rejection = reject(429, "quota_connections: too many tunnels for this session",
                             "max_connections_per_session");
      break;
  }
  return out;
}

}  // namespace aero::l2proxy
