// The egress policy decisions and their configuration from the environment.
#include "aero/stack/egress_policy.h"

#include <algorithm>
#include <charconv>

namespace aero::stack {

namespace {

constexpr Decision kAllowed{true, "", ""};

Decision denied(std::string_view reason, std::string_view detail = "") {
  return Decision{false, reason, detail};
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string normalize_domain(std::string_view text) {
  text = trim(text);
  while (!text.empty() && text.front() == '.') text.remove_prefix(1);
  while (!text.empty() && text.back() == '.') text.remove_suffix(1);
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// True when `name` (already normalised) equals `suffix` or ends with "." + suffix.
bool matches_suffix(std::string_view name, std::string_view suffix) {
  if (suffix.empty() || name.size() < suffix.size()) return false;
  if (name.substr(name.size() - suffix.size()) != suffix) return false;
  return name.size() == suffix.size() || name[name.size() - suffix.size() - 1] == '.';
}

Decision check_port(const std::optional<std::vector<std::uint16_t>>& allowed, std::uint16_t port) {
  if (port == 0) return denied("port_not_allowed");
  if (!allowed) return kAllowed;
  return std::find(allowed->begin(), allowed->end(), port) != allowed->end()
             ? kAllowed
             : denied("port_not_allowed");
}

template <class Item, class Parse>
Result<std::vector<Item>> parse_list(std::string_view variable, std::string_view value,
                                     Parse parse) {
  std::vector<Item> out;
  while (!value.empty()) {
    const auto comma = value.find(',');
    const std::string_view entry = trim(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    if (entry.empty()) continue;
    auto item = parse(entry);
    if (!item) {
      return make_error("bad_config", std::string(variable) + ": invalid entry '" +
                                          std::string(entry) + "'");
    }
    out.push_back(std::move(*item));
  }
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

bool parse_env_bool(std::string_view value) {
  std::string text(trim(value));
  std::transform(text.begin(), text.end(), text.begin(), lower);
  return text == "1" || text == "true" || text == "yes" || text == "on";
}

EgressPolicy::EgressPolicy(EgressPolicyConfig config) : config_(std::move(config)) {
  for (auto* list : {&config_.allowed_domains, &config_.blocked_domains}) {
    for (auto& entry : *list) entry = normalize_domain(entry);
  }
}

Decision EgressPolicy::check_address(Ipv4Address destination) const {
  if (!config_.enabled) return denied("network_disabled");
  for (const auto& cidr : config_.deny_cidrs) {
    if (cidr.contains(destination)) return denied("denied_cidr");
  }
  for (const auto& cidr : config_.allow_cidrs) {
    if (cidr.contains(destination)) return kAllowed;
  }
  if (!config_.allow_cidrs.empty()) return denied("not_in_allow_list");
  if (!config_.allow_private) {
    if (auto range = special_purpose_range(destination)) return denied("special_purpose", *range);
  }
  return kAllowed;
}

Decision EgressPolicy::check_address(const Ipv6Address& destination) const {
  if (!config_.enabled) return denied("network_disabled");
  // IPv6 CIDR lists arrive with IPv6 egress; until then only the special-purpose rule applies,
  // and an allow list (IPv4-only today) admits no IPv6 destination.
  if (!config_.allow_cidrs.empty()) return denied("not_in_allow_list");
  if (!config_.allow_private) {
    if (auto range = special_purpose_range(destination)) return denied("special_purpose", *range);
  }
  return kAllowed;
}

Decision EgressPolicy::check_tcp_port(std::uint16_t port) const {
  if (!config_.enabled) return denied("network_disabled");
  return check_port(config_.tcp_ports, port);
}

Decision EgressPolicy::check_udp_port(std::uint16_t port) const {
  if (!config_.enabled) return denied("network_disabled");
  return check_port(config_.udp_ports, port);
}

Decision EgressPolicy::check_tcp(Ipv4Address destination, std::uint16_t port) const {
  if (auto verdict = check_tcp_port(port); !verdict) return verdict;
  return check_address(destination);
}

Decision EgressPolicy::check_udp(Ipv4Address destination, std::uint16_t port) const {
  if (auto verdict = check_udp_port(port); !verdict) return verdict;
  return check_address(destination);
}

Decision EgressPolicy::check_domain(std::string_view name) const {
  if (!config_.enabled) return denied("network_disabled");
  const std::string normalized = normalize_domain(name);
  if (normalized.empty()) return denied("bad_domain");
  for (const auto& suffix : config_.blocked_domains) {
    if (matches_suffix(normalized, suffix)) return denied("domain_blocked");
  }
  if (config_.allowed_domains.empty()) return kAllowed;
  for (const auto& suffix : config_.allowed_domains) {
    if (matches_suffix(normalized, suffix)) return kAllowed;
  }
  return denied("domain_not_allowed");
}

Result<EgressPolicyConfig> egress_policy_from_env(const EnvLookup& lookup) {
  EgressPolicyConfig config;
  if (auto value = lookup("AERO_L2_ALLOW_PRIVATE_IPS")) config.allow_private = parse_env_bool(*value);

  for (const auto& [variable, target] :
       {std::pair{std::string_view("AERO_L2_ALLOWED_TCP_PORTS"), &config.tcp_ports},
        std::pair{std::string_view("AERO_L2_ALLOWED_UDP_PORTS"), &config.udp_ports}}) {
    const auto value = lookup(variable);
    if (!value) continue;  // unset: every port
    auto ports = parse_list<std::uint16_t>(variable, *value, parse_port);
    if (!ports) return ports.error();
    *target = std::move(*ports);  // set but empty: no port
  }
  for (const auto& [variable, target] :
       {std::pair{std::string_view("AERO_L2_ALLOWED_CIDRS"), &config.allow_cidrs},
        std::pair{std::string_view("AERO_L2_DENIED_CIDRS"), &config.deny_cidrs}}) {
    const auto value = lookup(variable);
    if (!value) continue;
    auto cidrs = parse_list<Ipv4Cidr>(variable, *value, Ipv4Cidr::parse);
    if (!cidrs) return cidrs.error();
    *target = std::move(*cidrs);
  }
  for (const auto& [variable, target] :
       {std::pair{std::string_view("AERO_L2_ALLOWED_DOMAINS"), &config.allowed_domains},
        std::pair{std::string_view("AERO_L2_BLOCKED_DOMAINS"), &config.blocked_domains}}) {
    const auto value = lookup(variable);
    if (!value) continue;
    auto domains = parse_list<std::string>(variable, *value, [](std::string_view entry) {
      std::string name = normalize_domain(entry);
      return name.empty() ? std::optional<std::string>() : std::optional<std::string>(name);
    });
    if (!domains) return domains.error();
    *target = std::move(*domains);
  }
  return config;
}

}  // namespace aero::stack
