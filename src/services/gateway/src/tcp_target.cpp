// /tcp target parsing and the egress decision (tcp_target.h).
#include "aero/services/gateway/tcp_target.h"

#include <charconv>

#include "aero/services/gateway/http_rules.h"
#include "aero/stack/address_ranges.h"

namespace aero::gateway {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

Rejection bad_request(std::string message) { return Rejection{400, std::move(message), "bad_target"}; }

// One inet_aton part: 0x hex, leading-0 octal, or decimal.
std::optional<std::uint64_t> parse_aton_part(std::string_view part) {
  if (part.empty()) return std::nullopt;
  int base = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    base = 16;
    part.remove_prefix(2);
    if (part.empty()) return std::uint64_t{0};  // "0x" reads as 0 (inet_aton)
  } else if (part.size() >= 2 && part[0] == '0') {
    base = 8;
    part.remove_prefix(1);
  }
  if (part.size() > 12) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value, base);
  if (ec != std::errc{} || end != part.data() + part.size()) return std::nullopt;
  return value;
}

// Port: 1..16 decimal digits, value 1..65535.
std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > kMaxPortChars) return std::nullopt;
  std::uint32_t value = 0;
  for (const char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
    if (value > 65535) return std::nullopt;
  }
  if (value == 0) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<Ipv4Address> parse_ipv4_loose(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  // A single trailing '.' is accepted only after a strict dotted quad.
  if (text.back() == '.') {
    auto strict = Ipv4Address::parse(text.substr(0, text.size() - 1));
    return strict;
  }
  std::uint64_t parts[4] = {0, 0, 0, 0};
  std::size_t count = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    const std::string_view part = text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (count == 4) return std::nullopt;
    auto value = parse_aton_part(part);
    if (!value) return std::nullopt;
    parts[count++] = *value;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // Every part but the last is one byte; the last fills the remaining 4 - (count - 1) bytes.
  for (std::size_t i = 0; i + 1 < count; ++i) {
    if (parts[i] > 255) return std::nullopt;
  }
  const unsigned last_bits = static_cast<unsigned>(8 * (5 - count));
  if (last_bits < 64 && parts[count - 1] >= (std::uint64_t{1} << last_bits)) return std::nullopt;
  std::uint64_t value = parts[count - 1];
  for (std::size_t i = 0; i + 1 < count; ++i) value |= parts[i] << (8 * (3 - i));
  return Ipv4Address::from_u32(static_cast<std::uint32_t>(value));
}

std::optional<std::string> normalize_hostname(std::string_view raw) {
  std::string_view text = trim(raw);
  while (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty() || text.size() > 253) return std::nullopt;
  std::string out;
  out.reserve(text.size());
  std::size_t label = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '.') {
      if (label == 0 || out.back() == '-') return std::nullopt;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || is_digit(c) || c == '-') {
      if (c == '-' && label == 0) return std::nullopt;
      if (++label > 63) return std::nullopt;
    } else {
      return std::nullopt;  // includes every non-ASCII byte: IDNs arrive as xn-- labels
    }
    out.push_back(c);
  }
  if (out.back() == '-') return std::nullopt;
  return out;
}

ClassifiedHost classify_host(std::string_view host) {
  ClassifiedHost result;
  std::string_view text = trim(host);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
    if (text.find(':') == std::string_view::npos) return result;  // bracketed non-IPv6
  }
  if (text.find(':') != std::string_view::npos) {
    if (text.size() > kMaxIpv6LiteralChars) return result;
    auto v6 = Ipv6Address::parse(text);
    if (!v6) return result;
    result.kind = ClassifiedHost::Kind::ipv6;
    result.address = IpAddress::from(*v6);
    result.normalized = v6->to_string();
    return result;
  }
  if (auto v4 = parse_ipv4_loose(text)) {
    result.kind = ClassifiedHost::Kind::ipv4;
    result.address = IpAddress::from(*v4);
    result.normalized = v4->to_string();
    return result;
  }
  auto name = normalize_hostname(text);
  if (!name) return result;
  // A name whose last label is numeric would be read as an IPv4 address by URL parsers; since
  // it is not a valid one (parse_ipv4_loose failed), refuse it.
  const std::size_t last_dot = name->rfind('.');
  const std::string_view last = std::string_view(*name).substr(last_dot == std::string::npos ? 0 : last_dot + 1);
  if (!last.empty() && (parse_aton_part(last).has_value())) return result;
  result.kind = ClassifiedHost::Kind::name;
  result.normalized = std::move(*name);
  return result;
}

bool HostPattern::matches(const ClassifiedHost& host) const {
  switch (kind) {
    case Kind::ip:
      return host.is_ip() && host.normalized == value;
    case Kind::exact_name:
      return host.kind == ClassifiedHost::Kind::name && host.normalized == value;
    case Kind::subdomains: {
      if (host.kind != ClassifiedHost::Kind::name) return false;
      const std::string& name = host.normalized;
      return name.size() > value.size() + 1 && name.ends_with(value) &&
             name[name.size() - value.size() - 1] == '.';
    }
  }
  return false;
}

std::optional<HostPattern> parse_host_pattern(std::string_view text) {
  text = trim(text);
  if (text.starts_with("*.")) {
    auto suffix = normalize_hostname(text.substr(2));
    if (!suffix || suffix->find('*') != std::string::npos) return std::nullopt;
    return HostPattern{HostPattern::Kind::subdomains, std::move(*suffix)};
  }
  if (text.find('*') != std::string_view::npos) return std::nullopt;
  const ClassifiedHost host = classify_host(text);
  switch (host.kind) {
    case ClassifiedHost::Kind::ipv4:
    case ClassifiedHost::Kind::ipv6:
      return HostPattern{HostPattern::Kind::ip, host.normalized};
    case ClassifiedHost::Kind::name:
      return HostPattern{HostPattern::Kind::exact_name, host.normalized};
    case ClassifiedHost::Kind::invalid:
      break;
  }
  return std::nullopt;
}

std::optional<Rejection> parse_tcp_query(std::string_view query, TcpTarget& out) {
  const auto version = query_param(query, "v");
  if (version && (version->size() > kMaxVersionChars || (!version->empty() && *version != "1"))) {
    return bad_request("Unsupported TCP proxy protocol version");
  }
  if (auto target = query_param(query, "target")) {
    if (target->size() > kMaxTargetChars) return bad_request("Invalid target");
    const std::string_view t = *target;
    std::string_view host;
    std::string_view port;
    if (t.starts_with('[')) {
      const std::size_t close = t.find(']');
      if (close == std::string_view::npos || close == 1 || close + 1 >= t.size() || t[close + 1] != ':') {
        return bad_request("Invalid target");
      }
      host = t.substr(1, close - 1);
      port = t.substr(close + 2);
    } else {
      const std::size_t colon = t.rfind(':');
      if (colon == std::string_view::npos || colon == 0) return bad_request("Invalid target");
      host = t.substr(0, colon);
      port = t.substr(colon + 1);
      // An unbracketed IPv6 address would be ambiguous; brackets inside a host are invalid.
      if (host.find(':') != std::string_view::npos || host.find('[') != std::string_view::npos ||
          host.find(']') != std::string_view::npos) {
        return bad_request("Invalid target");
      }
    }
    const auto port_value = parse_port(port);
    if (!port_value) return bad_request("Invalid port");
    out = TcpTarget{std::string(host), *port_value};
    return std::nullopt;
  }
  auto host = query_param(query, "host");
  if (!host) return bad_request("Missing required query parameter: host");
  auto port = query_param(query, "port");
  if (!port) return bad_request("Missing required query parameter: port");
  if (host->size() > kMaxHostChars) return bad_request("Invalid host");
  std::string_view h = *host;
  const bool opens = h.starts_with('[');
  const bool closes = h.ends_with(']');
  if (opens != closes) return bad_request("Invalid host");
  if (opens) {
    if (h.size() < 3) return bad_request("Invalid host");
    h = h.substr(1, h.size() - 2);
  }
  if (h.empty() || h.find('[') != std::string_view::npos || h.find(']') != std::string_view::npos) {
    return bad_request("Invalid host");
  }
  const auto port_value = parse_port(*port);
  if (!port_value) return bad_request("Invalid port");
  out = TcpTarget{std::string(h), *port_value};
  return std::nullopt;
}

bool ip_allowed(const TcpPolicy& policy, const IpAddress& address) {
  if (policy.allow_private_ips) return true;
  stack::EgressPolicyConfig config;
  config.allow_private = false;
  const stack::EgressPolicy egress(config);
  return address.is_v4() ? egress.check_address(address.v4).allowed
                         : egress.check_address(address.v6).allowed;
}

TargetPlan plan_target(const TcpPolicy& policy, const TcpTarget& target) {
  TargetPlan plan;
  auto refuse = [&plan](unsigned status, std::string message, std::string_view reason) {
    plan.rejection = Rejection{status, std::move(message), reason};
    return plan;
  };
  if (policy.proxy) {
    const ClassifiedHost host = classify_host(target.host);
    if (host.kind == ClassifiedHost::Kind::invalid) return refuse(400, "Invalid host", "bad_target");
    if (!host.is_ip()) {
      plan.resolve_name = host.normalized;
      return plan;
    }
    const IpAddress literal[] = {host.address};
    ProxyDecision decision = decide_proxy_target(*policy.proxy, {}, target.port, literal);
    if (!decision.address) return refuse(403, std::move(decision.refusal), "ip_policy");
    plan.dial = decision.address;
    return plan;
  }
  if (!policy.allowed_ports.empty()) {
    bool listed = false;
    for (const std::uint16_t port : policy.allowed_ports) listed = listed || port == target.port;
    if (!listed) return refuse(403, "Target port not allowed", "port");
  }
  const ClassifiedHost host = classify_host(target.host);
  if (host.kind == ClassifiedHost::Kind::invalid) return refuse(400, "Invalid host", "bad_target");
  if (host.is_ip() && policy.require_dns_name) {
    return refuse(403, "IP-literal targets are not allowed", "host_policy");
  }
  for (const HostPattern& pattern : policy.blocked_hosts) {
    if (pattern.matches(host)) return refuse(403, "Target is blocked", "host_policy");
  }
  if (!policy.allowed_hosts.empty()) {
    bool allowed = false;
    for (const HostPattern& pattern : policy.allowed_hosts) allowed = allowed || pattern.matches(host);
    if (!allowed) return refuse(403, "Target host not allowed", "host_policy");
  }
  if (host.is_ip()) {
    if (!ip_allowed(policy, host.address)) {
      return refuse(403, "Target IP is not allowed by IP egress policy", "ip_policy");
    }
    plan.dial = host.address;
    return plan;
  }
  plan.resolve_name = host.normalized;
  return plan;
}

AddressChoice pick_address(const TcpPolicy& policy, std::span<const IpAddress> addresses, std::string_view name,
                           std::uint16_t port) {
  AddressChoice choice;
  if (addresses.empty()) {
    choice.rejection = Rejection{502, "DNS lookup failed", "dns"};
    return choice;
  }
  if (policy.proxy) {
    ProxyDecision decision = decide_proxy_target(*policy.proxy, name, port, addresses);
    if (decision.address) {
      choice.address = decision.address;
    } else {
      choice.rejection = Rejection{403, std::move(decision.refusal), "ip_policy"};
    }
    return choice;
  }
  for (const IpAddress& address : addresses) {
    if (ip_allowed(policy, address)) {
      choice.address = address;
      return choice;
    }
  }
  choice.rejection = Rejection{403, "Target IP is not allowed by IP egress policy", "ip_policy"};
  return choice;
}

}  // namespace aero::gateway
