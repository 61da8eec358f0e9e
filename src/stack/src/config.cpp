// StackConfig helpers and validation.
#include "aero/stack/config.h"

#include <charconv>
#include <optional>
#include <string>
#include <utility>

namespace aero::stack {

namespace {

Error bad(std::string message) { return make_error("bad_config", std::move(message)); }

}  // namespace

Ipv4Address StackConfig::netmask() const {
  const std::uint32_t mask = prefix_length == 0 ? 0U : ~std::uint32_t{0} << (32U - prefix_length);
  return Ipv4Address::from_u32(mask);
}

Ipv4Address StackConfig::broadcast_address() const {
  return Ipv4Address::from_u32(gateway_ip.to_u32() | ~netmask().to_u32());
}

bool StackConfig::in_subnet(Ipv4Address address) const {
  const std::uint32_t mask = netmask().to_u32();
  return (address.to_u32() & mask) == (gateway_ip.to_u32() & mask);
}

Result<void> StackConfig::validate() const {
  if (prefix_length < 8 || prefix_length > 30) return bad("prefix_length must be 8..30");
  if (!gateway_mac.is_unicast() || gateway_mac.is_zero()) {
    return bad("gateway_mac must be a unicast address");
  }
  const std::uint32_t mask = netmask().to_u32();
  const std::uint32_t network = gateway_ip.to_u32() & mask;
  const std::uint32_t broadcast = network | ~mask;
  auto is_host_address = [&](Ipv4Address a) {
    const std::uint32_t v = a.to_u32();
    return (v & mask) == network && v != network && v != broadcast;
  };
  if (!is_host_address(gateway_ip)) return bad("gateway_ip must be a host address of its subnet");
  if (!is_host_address(dns_ip)) return bad("dns_ip must be in the gateway's subnet");
  if (dhcp_pool_size == 0 || dhcp_pool_size > 4096) return bad("dhcp_pool_size must be 1..4096");
  for (std::size_t i = 0; i < dhcp_pool_size; ++i) {
    const auto address = Ipv4Address::from_u32(guest_ip.to_u32() + static_cast<std::uint32_t>(i));
    if (!is_host_address(address)) return bad("the DHCP pool (guest_ip + pool size) must fit the subnet");
    if (owns(address)) return bad("the DHCP pool must not contain gateway_ip or dns_ip");
  }
  if (mtu < 576 || mtu > 65521) return bad("mtu must be 576..65521");
  if (lease_time < std::chrono::seconds(60) || lease_time > std::chrono::hours(24 * 365)) {
    return bad("lease_time must be 60 s .. 1 year");
  }
  if (offer_hold <= std::chrono::seconds(0)) return bad("offer_hold must be positive");
  if (domain_name.size() > 253) return bad("domain_name is longer than 253 characters");
  if (classless_routes.size() > 32) return bad("at most 32 classless_routes");
  for (const auto& route : classless_routes) {
    if (route.prefix_length > 32) return bad("classless route prefix over 32");
  }
  if (max_udp_flows > 65535) return bad("max_udp_flows must be 0..65535");
  if (max_pending_dns > 65535) return bad("max_pending_dns must be 0..65535");
  if (max_dns_cache_entries > 1000000) return bad("max_dns_cache_entries must be 0..1000000");
  if (dns_timeout.count() <= 0) return bad("dns_timeout must be positive");
  if (auto limits = reassembly.validate(); !limits) return bad("reassembly: " + limits.error().message);
  if (udp_idle_timeout.count() <= 0) return bad("udp_idle_timeout must be positive");
  if (tcp.max_connections > 65535) return bad("tcp.max_connections must be 0..65535");
  if (tcp.receive_buffer < 4096 || tcp.receive_buffer > (1U << 30)) {
    return bad("tcp.receive_buffer must be 4 KiB .. 1 GiB");
  }
  if (tcp.connect_timeout.count() <= 0) return bad("tcp.connect_timeout must be positive");
  if (tcp.min_rto.count() <= 0 || tcp.min_rto > tcp.max_rto || tcp.initial_rto < tcp.min_rto) {
    return bad("tcp retransmission timeouts must satisfy 0 < min_rto <= initial_rto, max_rto");
  }
  if (tcp.time_wait.count() < 0 || tcp.keepalive_idle.count() <= 0 ||
      tcp.keepalive_interval.count() <= 0) {
    return bad("tcp timers must be positive");
  }
  return {};
}

namespace {

std::optional<std::pair<Ipv4Address, std::uint16_t>> parse_endpoint(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto address = Ipv4Address::parse(text.substr(0, colon));
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (!address || ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return std::pair{*address, static_cast<std::uint16_t>(port)};
}

// The entries of a comma-separated list, spaces around them trimmed, empty ones skipped.
std::vector<std::string_view> list_entries(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view entry = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (!entry.empty()) out.push_back(entry);
  }
  return out;
}

}  // namespace

Result<std::vector<StackConfig::StaticName>> parse_static_names(std::string_view variable,
                                                                std::string_view text) {
  std::vector<StackConfig::StaticName> out;
  for (const std::string_view entry : list_entries(text)) {
    const auto equals = entry.find('=');
    std::string name(entry.substr(0, equals));
    while (!name.empty() && name.back() == '.') name.pop_back();
    for (char& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const auto address = equals == std::string_view::npos
                             ? std::nullopt
                             : Ipv4Address::parse(entry.substr(equals + 1));
    if (name.empty() || name.size() > 253 || !address) {
      return bad(std::string(variable) + ": invalid entry '" + std::string(entry) +
                 "' (expected name=ipv4)");
    }
    out.push_back({name, *address});
  }
  return out;
}

Result<std::vector<StackConfig::Forward>> parse_forward_list(std::string_view variable,
                                                             std::string_view text) {
  std::vector<StackConfig::Forward> out;
  for (const std::string_view entry : list_entries(text)) {
    const auto equals = entry.find('=');
    const auto from = parse_endpoint(entry.substr(0, equals));
    const auto to = equals == std::string_view::npos ? std::nullopt
                                                     : parse_endpoint(entry.substr(equals + 1));
    if (!from || !to) {
      return bad(std::string(variable) + ": invalid forward '" + std::string(entry) +
                 "' (expected ip:port=ip:port)");
    }
    out.push_back({from->first, from->second, to->first, to->second});
  }
  return out;
}

}  // namespace aero::stack
