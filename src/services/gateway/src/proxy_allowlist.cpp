// The development and token relays' target policy (proxy_allowlist.h).
#include "aero/services/gateway/proxy_allowlist.h"

#include <charconv>

#include "aero/services/gateway/tcp_target.h"

namespace aero::gateway {

namespace {

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

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// `*`, `N` or `A-B`; nullopt when `text` is not a port spec.
std::optional<PortRange> parse_port_spec(std::string_view text) {
  if (text == "*") return PortRange{};
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto port = parse_port(text);
    if (!port) return std::nullopt;
    return PortRange{*port, *port};
  }
  auto first = parse_port(text.substr(0, dash));
  auto last = parse_port(text.substr(dash + 1));
  if (!first || !last || *first > *last) return std::nullopt;
  return PortRange{*first, *last};
}

// A port spec's characters only: digits, '*' and '-' (so "/32" or an IPv6 group is not one).
bool looks_like_port_spec(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!(c >= '0' && c <= '9') && c != '*' && c != '-') return false;
  }
  return true;
}

IpAddress unmapped(const IpAddress& address) {
  if (address.is_v6()) {
    const auto& b = address.v6.bytes;
    bool mapped = b[10] == 0xFF && b[11] == 0xFF;
    for (int i = 0; i < 10 && mapped; ++i) mapped = b[static_cast<std::size_t>(i)] == 0;
    if (mapped) return IpAddress::from(Ipv4Address{{b[12], b[13], b[14], b[15]}});
  }
  return address;
}

// The host part: a name form, an IP literal or a CIDR.
Result<AllowRule> parse_host_part(std::string_view host, std::string_view entry) {
  AllowRule rule;
  if (host.empty()) return bad("AERO_PROXY_ALLOW: empty host in '" + std::string(entry) + "'");
  if (host == "*") {
    rule.kind = AllowRule::Kind::any_name;
    return rule;
  }
  if (host.find('/') != std::string_view::npos || IpAddress::parse(host)) {
    const bool v6 = host.find(':') != std::string_view::npos;
    if (v6) {
      auto cidr = stack::Ipv6Cidr::parse(host);
      if (!cidr) return bad("AERO_PROXY_ALLOW: invalid IPv6 address or CIDR in '" + std::string(entry) + "'");
      rule.kind = AllowRule::Kind::ipv6_cidr;
      rule.v6 = *cidr;
    } else {
      auto cidr = stack::Ipv4Cidr::parse(host);
      if (!cidr) return bad("AERO_PROXY_ALLOW: invalid IPv4 address or CIDR in '" + std::string(entry) + "'");
      rule.kind = AllowRule::Kind::ipv4_cidr;
      rule.v4 = *cidr;
    }
    return rule;
  }
  std::string_view name = host;
  if (name.starts_with("*.")) {
    name.remove_prefix(2);
    rule.kind = AllowRule::Kind::suffix;
  } else {
    rule.kind = AllowRule::Kind::exact_name;
  }
  auto normalized = normalize_hostname(name);
  if (!normalized) return bad("AERO_PROXY_ALLOW: invalid host name in '" + std::string(entry) + "'");
  rule.name = std::move(*normalized);
  return rule;
}

}  // namespace

bool AllowRule::matches_name(std::string_view host) const {
  switch (kind) {
    case Kind::any_name: return true;
    case Kind::exact_name: return host == name;
    case Kind::suffix:
      return host == name || (host.size() > name.size() && host.ends_with(name) &&
                              host[host.size() - name.size() - 1] == '.');
    default: return false;
  }
}

bool AllowRule::matches_address(const IpAddress& raw) const {
  const IpAddress address = unmapped(raw);
  if (kind == Kind::ipv4_cidr) return address.is_v4() && v4.contains(address.v4);
  if (kind == Kind::ipv6_cidr) return address.is_v6() && v6.contains(address.v6);
  return false;
}

Result<AllowRule> parse_allow_rule(std::string_view raw) {
  const std::string_view entry = trim(raw);
  std::string_view host = entry;
  PortRange ports;
  if (entry.starts_with('[')) {
    const std::size_t close = entry.find(']');
    if (close == std::string_view::npos) return bad("AERO_PROXY_ALLOW: unclosed '[' in '" + std::string(entry) + "'");
    host = entry.substr(1, close - 1);
    const std::string_view rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return bad("AERO_PROXY_ALLOW: unexpected text after ']' in '" + std::string(entry) + "'");
      }
      auto spec = parse_port_spec(rest.substr(1));
      if (!spec) return bad("AERO_PROXY_ALLOW: invalid port spec in '" + std::string(entry) + "'");
      ports = *spec;
    }
    if (host.find(':') == std::string_view::npos) {
      return bad("AERO_PROXY_ALLOW: brackets hold only IPv6 in '" + std::string(entry) + "'");
    }
  } else if (const bool ipv6_whole = entry.find(':') != entry.rfind(':') &&
                                     (IpAddress::parse(entry) || stack::Ipv6Cidr::parse(entry));
             !ipv6_whole) {
    // A bare IPv6 literal or CIDR is the host with every port; otherwise the text after the last
    // ':' is the port spec when it is one, else part of the host (which then fails as a host).
    if (const std::size_t colon = entry.rfind(':'); colon != std::string_view::npos) {
      const std::string_view after = entry.substr(colon + 1);
      if (after.empty()) return bad("AERO_PROXY_ALLOW: empty port after ':' in '" + std::string(entry) + "'");
      if (auto spec = parse_port_spec(after)) {
        host = entry.substr(0, colon);
        ports = *spec;
      } else if (looks_like_port_spec(after)) {
        return bad("AERO_PROXY_ALLOW: invalid port spec in '" + std::string(entry) + "'");
      }
    }
  }
  auto rule = parse_host_part(host, entry);
  if (!rule) return rule.error();
  rule->ports = ports;
  return rule;
}

Result<std::vector<AllowRule>> parse_allowlist(std::string_view text) {
  if (text.size() > kMaxAllowlistChars) return bad("AERO_PROXY_ALLOW: longer than 65536 characters");
  std::vector<AllowRule> rules;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (entry.empty()) continue;
    if (rules.size() == kMaxAllowlistEntries) return bad("AERO_PROXY_ALLOW: more than 4096 entries");
    auto rule = parse_allow_rule(entry);
    if (!rule) return rule.error();
    rules.push_back(std::move(*rule));
  }
  return rules;
}

bool is_public_unicast(const IpAddress& raw) {
  const IpAddress address = unmapped(raw);
  return address.is_v4() ? !stack::special_purpose_range(address.v4) : !stack::special_purpose_range(address.v6);
}

std::string_view ProxyPolicy::mode_name() const {
  if (open) return "open";
  return allow.empty() ? "public_only" : "allowlist";
}

ProxyDecision decide_proxy_target(const ProxyPolicy& policy, std::string_view host, std::uint16_t port,
                                  std::span<const IpAddress> addresses) {
  ProxyDecision decision;
  if (addresses.empty()) {
    decision.refusal = "DNS lookup failed";
    return decision;
  }
  if (policy.open) {
    decision.address = addresses.front();
    return decision;
  }
  if (!policy.allow.empty()) {
    bool name_matched = false;
    for (const IpAddress& address : addresses) {
      for (const AllowRule& rule : policy.allow) {
        if (!rule.ports.contains(port)) continue;
        if (rule.is_name_rule()) {
          if (host.empty() || !rule.matches_name(host)) continue;
          name_matched = true;
          if (!is_public_unicast(address)) continue;
        } else if (!rule.matches_address(address)) {
          continue;
        }
        decision.address = address;
        return decision;
      }
    }
    decision.refusal = name_matched ? "Target resolves to a non-public address" : "Target not in allowlist";
    return decision;
  }
  for (const IpAddress& address : addresses) {
    const IpAddress plain = unmapped(address);
    bool allowed = is_public_unicast(plain) || policy.allow_private_ips;
    for (const stack::Ipv4Cidr& cidr : policy.allow_private_cidrs) {
      allowed = allowed || (plain.is_v4() && cidr.contains(plain.v4));
    }
    if (allowed) {
      decision.address = address;
      return decision;
    }
  }
  decision.refusal = policy.ip_denied_message;
  return decision;
}

}  // namespace aero::gateway
