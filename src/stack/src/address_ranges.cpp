// The special-purpose range tables and CIDR matching.
#include "aero/stack/address_ranges.h"

#include <algorithm>
#include <array>
#include <utility>
#include <charconv>

namespace aero::stack {

namespace {

struct NamedV4Range {
  std::uint32_t network;
  std::uint8_t prefix_length;
  std::string_view name;
};

constexpr std::uint32_t v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

// IANA IPv4 Special-Purpose Address Registry (RFC 6890 §2.2.2 and updates), plus multicast
// (RFC 5771) and the reserved class E block (RFC 1112 §4), which includes the limited broadcast.
constexpr std::array<NamedV4Range, 16> kSpecialV4 = {{
    {v4(0, 0, 0, 0), 8, "this_network"},           // RFC 791
    {v4(10, 0, 0, 0), 8, "private"},               // RFC 1918
    {v4(100, 64, 0, 0), 10, "shared_cgnat"},       // RFC 6598
    {v4(127, 0, 0, 0), 8, "loopback"},             // RFC 1122 §3.2.1.3
    {v4(169, 254, 0, 0), 16, "link_local"},        // RFC 3927 (cloud metadata lives here)
    {v4(172, 16, 0, 0), 12, "private"},            // RFC 1918
    {v4(192, 0, 0, 0), 24, "ietf_protocol"},       // RFC 6890
    {v4(192, 0, 2, 0), 24, "documentation"},       // RFC 5737 TEST-NET-1
    {v4(192, 88, 99, 0), 24, "relay_anycast"},     // RFC 7526 (deprecated 6to4 relays)
    {v4(192, 168, 0, 0), 16, "private"},           // RFC 1918
    {v4(198, 18, 0, 0), 15, "benchmarking"},       // RFC 2544
    {v4(198, 51, 100, 0), 24, "documentation"},    // RFC 5737 TEST-NET-2
    {v4(203, 0, 113, 0), 24, "documentation"},     // RFC 5737 TEST-NET-3
    {v4(224, 0, 0, 0), 4, "multicast"},            // RFC 5771
    {v4(240, 0, 0, 0), 4, "reserved"},             // RFC 1112 §4, incl. 255.255.255.255
    {v4(255, 255, 255, 255), 32, "broadcast"},     // RFC 919 (inside 240/4; kept for the name)
}};

std::uint32_t mask_for(std::uint8_t prefix_length) {
  return prefix_length == 0 ? 0U : ~std::uint32_t{0} << (32U - prefix_length);
}

bool v4_in(std::uint32_t address, std::uint32_t network, std::uint8_t prefix_length) {
  const std::uint32_t mask = mask_for(prefix_length);
  return (address & mask) == (network & mask);
}

struct NamedV6Range {
  std::string_view network;
  std::string_view name;
};

// IANA IPv6 Special-Purpose Address Registry (RFC 6890 §2.2.3 and updates).
constexpr std::array<NamedV6Range, 14> kSpecialV6 = {{
    {"::/128", "unspecified"},               // RFC 4291
    {"::1/128", "loopback"},                 // RFC 4291
    {"64:ff9b::/96", "nat64"},               // RFC 6052: would reach IPv4 through a translator
    {"64:ff9b:1::/48", "nat64_local"},       // RFC 8215
    {"100::/64", "discard"},                 // RFC 6666
    {"2001::/23", "ietf_protocol"},          // RFC 2928 (includes Teredo 2001::/32)
    {"2001:db8::/32", "documentation"},      // RFC 3849
    {"2002::/16", "6to4"},                   // RFC 3056
    {"3fff::/20", "documentation"},          // RFC 9637
    {"5f00::/16", "segment_routing"},        // RFC 9602
    {"fc00::/7", "unique_local"},            // RFC 4193
    {"fe80::/10", "link_local"},             // RFC 4291
    {"fec0::/10", "site_local"},             // RFC 3879 (deprecated)
    {"ff00::/8", "multicast"},               // RFC 4291
}};

std::optional<std::uint8_t> parse_prefix(std::string_view text, std::uint8_t max) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value > max) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;  // no leading zeros
  return static_cast<std::uint8_t>(value);
}

bool v6_prefix_matches(const Ipv6Address& a, const Ipv6Address& network, std::uint8_t prefix) {
  const std::size_t whole = prefix / 8U;
  for (std::size_t i = 0; i < whole; ++i) {
    if (a.bytes[i] != network.bytes[i]) return false;
  }
  const unsigned rest = prefix % 8U;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFU << (8U - rest));
  return (a.bytes[whole] & mask) == (network.bytes[whole] & mask);
}

}  // namespace

std::optional<Ipv4Cidr> Ipv4Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  const auto address = Ipv4Address::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  std::uint8_t prefix = 32;
  if (slash != std::string_view::npos) {
    const auto parsed = parse_prefix(text.substr(slash + 1), 32);
    if (!parsed) return std::nullopt;
    prefix = *parsed;
  }
  if ((address->to_u32() & ~mask_for(prefix)) != 0) return std::nullopt;  // host bits set
  return Ipv4Cidr{*address, prefix};
}

bool Ipv4Cidr::contains(Ipv4Address address) const {
  return v4_in(address.to_u32(), network.to_u32(), prefix_length);
}

std::optional<Ipv6Cidr> Ipv6Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  const auto address = Ipv6Address::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  std::uint8_t prefix = 128;
  if (slash != std::string_view::npos) {
    const auto parsed = parse_prefix(text.substr(slash + 1), 128);
    if (!parsed) return std::nullopt;
    prefix = *parsed;
  }
  // Host bits must be zero.
  for (unsigned bit = prefix; bit < 128; ++bit) {
    if ((address->bytes[bit / 8] >> (7 - bit % 8)) & 1U) return std::nullopt;
  }
  return Ipv6Cidr{*address, prefix};
}

bool Ipv6Cidr::contains(const Ipv6Address& address) const {
  return v6_prefix_matches(address, network, prefix_length);
}

std::optional<std::string_view> special_purpose_range(Ipv4Address address) {
  const std::uint32_t value = address.to_u32();
  for (const auto& range : kSpecialV4) {
    if (v4_in(value, range.network, range.prefix_length)) return range.name;
  }
  return std::nullopt;
}

std::optional<std::string_view> special_purpose_range(const Ipv6Address& address) {
  // ::ffff:a.b.c.d and the deprecated ::a.b.c.d carry an IPv4 address; judge that address, so
  // ::ffff:127.0.0.1 is loopback. (:: and ::1 are inside ::/96 and are handled by the table.)
  bool zero_prefix = true;
  for (std::size_t i = 0; i < 10; ++i) zero_prefix = zero_prefix && address.bytes[i] == 0;
  const bool mapped = zero_prefix && address.bytes[10] == 0xFF && address.bytes[11] == 0xFF;
  const bool compatible = zero_prefix && address.bytes[10] == 0 && address.bytes[11] == 0 &&
                          (address.bytes[12] | address.bytes[13]) != 0;
  if (mapped || compatible) {
    Ipv4Address embedded;
    std::copy(address.bytes.begin() + 12, address.bytes.end(), embedded.bytes.begin());
    if (auto name = special_purpose_range(embedded)) return name;
    return mapped ? std::optional<std::string_view>("ipv4_mapped")
                  : std::optional<std::string_view>("ipv4_compatible");
  }
  // Parsed once; the table is constant and checked by the tests.
  static const auto kParsed = [] {
    std::array<std::pair<Ipv6Cidr, std::string_view>, kSpecialV6.size()> parsed{};
    for (std::size_t i = 0; i < kSpecialV6.size(); ++i) {
      parsed[i] = {Ipv6Cidr::parse(kSpecialV6[i].network).value_or(Ipv6Cidr{}), kSpecialV6[i].name};
    }
    return parsed;
  }();
  for (const auto& [cidr, name] : kParsed) {
    if (cidr.contains(address)) return name;
  }
  return std::nullopt;
}

}  // namespace aero::stack
