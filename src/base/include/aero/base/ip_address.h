// IPv4 and IPv6 addresses in network byte order, with strict text parsing and canonical text
// output.
//
// Text forms:
//  * IPv4 is parsed only in strict dotted-decimal (four decimal parts 0..255, no leading zeros,
//    as RFC 6943 §3.1.1 recommends for security checks). The WHATWG URL "IPv4 number" forms
//    (octal, hex, shorthand) belong to the Origin code, not here.
//  * IPv6 is parsed per RFC 4291 §2.2 (hex pieces of 1..4 digits, one `::`, an optional trailing
//    dotted-quad), which is also what the WHATWG URL standard's IPv6 parser accepts; no zone ids.
//  * IPv6 output follows RFC 5952 §4 (lower case, no leading zeros, the longest run of two or more
//    zero pieces shortened to `::`, the first such run on ties, no dotted-quad form), which is
//    identical to WHATWG IPv6 serialisation.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aero {

struct Ipv4Address {
  std::array<std::uint8_t, 4> bytes{};

  static std::optional<Ipv4Address> parse(std::string_view text);
  static Ipv4Address from_u32(std::uint32_t host_order);
  std::uint32_t to_u32() const;  // host order
  std::string to_string() const;
  friend bool operator==(const Ipv4Address&, const Ipv4Address&) = default;
};

struct Ipv6Address {
  std::array<std::uint8_t, 16> bytes{};

  static std::optional<Ipv6Address> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const Ipv6Address&, const Ipv6Address&) = default;
};

// Either family; `family` tells which member is meaningful.
struct IpAddress {
  enum class Family : std::uint8_t { v4, v6 };
  Family family = Family::v4;
  Ipv4Address v4{};
  Ipv6Address v6{};

  static IpAddress from(Ipv4Address a) { return IpAddress{Family::v4, a, {}}; }
  static IpAddress from(Ipv6Address a) { return IpAddress{Family::v6, {}, a}; }
  // Parses either family (IPv6 when the text contains ':').
  static std::optional<IpAddress> parse(std::string_view text);
  bool is_v4() const { return family == Family::v4; }
  bool is_v6() const { return family == Family::v6; }
  std::string to_string() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

}  // namespace aero
