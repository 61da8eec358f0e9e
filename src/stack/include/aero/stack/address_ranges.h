// Special-purpose address ranges (RFC 6890 and the IANA special-purpose registries) that the
// egress policy refuses by default: a guest must not reach the proxy's own loopback, its private
// networks, link-local metadata services, or ranges that are not routable on the Internet.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "aero/base/ip_address.h"

namespace aero::stack {

struct Ipv4Cidr {
  Ipv4Address network{};
  std::uint8_t prefix_length = 32;

  // "a.b.c.d/n" (n 0..32) or a bare address (/32). Host bits must be zero.
  static std::optional<Ipv4Cidr> parse(std::string_view text);
  bool contains(Ipv4Address address) const;
  friend bool operator==(const Ipv4Cidr&, const Ipv4Cidr&) = default;
};

struct Ipv6Cidr {
  Ipv6Address network{};
  std::uint8_t prefix_length = 128;

  static std::optional<Ipv6Cidr> parse(std::string_view text);
  bool contains(const Ipv6Address& address) const;
  friend bool operator==(const Ipv6Cidr&, const Ipv6Cidr&) = default;
};

// The name of the special-purpose range containing `address` ("private", "loopback", ...), or
// nullopt for an ordinary public unicast address.
std::optional<std::string_view> special_purpose_range(Ipv4Address address);
// The same for IPv6. IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96) addresses are judged
// by their embedded IPv4 address.
std::optional<std::string_view> special_purpose_range(const Ipv6Address& address);

}  // namespace aero::stack
