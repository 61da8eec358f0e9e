// Unit tests for aero::Ipv4Address, Ipv6Address and IpAddress: strict parsing (RFC 6943 §3.1.1
// dotted decimal, RFC 4291 §2.2 IPv6 text) and RFC 5952 §4 canonical output.
#include "aero/base/ip_address.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace aero {
namespace {

Ipv6Address v6_from_pieces(const std::array<std::uint16_t, 8>& pieces) {
  Ipv6Address address;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    address.bytes[2 * i] = static_cast<std::uint8_t>(pieces[i] >> 8);
    address.bytes[2 * i + 1] = static_cast<std::uint8_t>(pieces[i] & 0xFFU);
  }
  return address;
}

// Parses and formats, or returns "<invalid>".
std::string v6_canonical(std::string_view text) {
  const auto address = Ipv6Address::parse(text);
  return address ? address->to_string() : std::string("<invalid>");
}

// ---- IPv4 ----

TEST(Ipv4AddressTest, ParsesStrictDottedDecimal) {
  const auto address = Ipv4Address::parse("192.0.2.1");
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(address->bytes, (std::array<std::uint8_t, 4>{192, 0, 2, 1}));
  EXPECT_EQ(address->to_u32(), 0xC0000201U);
}

TEST(Ipv4AddressTest, ParsesBoundaryValues) {
  EXPECT_EQ(Ipv4Address::parse("0.0.0.0")->to_u32(), 0U);
  EXPECT_EQ(Ipv4Address::parse("255.255.255.255")->to_u32(), 0xFFFFFFFFU);
  EXPECT_EQ(Ipv4Address::parse("10.0.100.9")->to_string(), "10.0.100.9");
}

TEST(Ipv4AddressTest, RejectsNonStrictForms) {
  for (const std::string_view text :
       {"",           "1",       "1.2",        "1.2.3",    "1.2.3.4.5", "1.2.3.4.",
        ".1.2.3.4",   "1..2.3",  "01.2.3.4",   "1.2.3.00", "256.0.0.1", "1.2.3.1000",
        "0x7f.0.0.1", "127.1",   "4294967295", "1.2.3.-4", "1.2.3.+4",  " 1.2.3.4",
        "1.2.3.4 ",   "1.2.3.a", "1.2.3.4/8",  "1:2:3:4"}) {
    EXPECT_FALSE(Ipv4Address::parse(text).has_value()) << '"' << text << '"';
  }
}

TEST(Ipv4AddressTest, ConvertsToAndFromHostOrder) {
  const Ipv4Address address = Ipv4Address::from_u32(0x7F000001U);
  EXPECT_EQ(address.bytes, (std::array<std::uint8_t, 4>{127, 0, 0, 1}));
  EXPECT_EQ(address.to_string(), "127.0.0.1");
  EXPECT_EQ(Ipv4Address::from_u32(0xFFFFFFFFU).to_string(), "255.255.255.255");
  for (const std::uint32_t value : {0U, 1U, 0x08000001U, 0xC0A80101U, 0xFFFFFFFEU}) {
    EXPECT_EQ(Ipv4Address::from_u32(value).to_u32(), value);
  }
}

TEST(Ipv4AddressTest, RoundTripsThroughText) {
  for (const std::string_view text : {"0.0.0.0", "1.2.3.4", "100.64.0.1", "255.255.255.255"}) {
    const auto address = Ipv4Address::parse(text);
    ASSERT_TRUE(address.has_value()) << text;
    EXPECT_EQ(address->to_string(), text);
    EXPECT_EQ(Ipv4Address::parse(address->to_string()), address);
  }
}

// ---- IPv6 parsing ----

TEST(Ipv6AddressTest, ParsesFullForm) {
  const auto address = Ipv6Address::parse("2001:0db8:0000:0000:0000:ff00:0042:8329");
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(*address, v6_from_pieces({0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329}));
}

TEST(Ipv6AddressTest, ParsesCompressedForms) {
  EXPECT_EQ(Ipv6Address::parse("::"), v6_from_pieces({0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(Ipv6Address::parse("::1"), v6_from_pieces({0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(Ipv6Address::parse("1::"), v6_from_pieces({1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(Ipv6Address::parse("1:2::7:8"), v6_from_pieces({1, 2, 0, 0, 0, 0, 7, 8}));
  // `::` may stand for a single zero piece, at either end or inside.
  EXPECT_EQ(Ipv6Address::parse("1:2:3:4:5:6:7::"), v6_from_pieces({1, 2, 3, 4, 5, 6, 7, 0}));
  EXPECT_EQ(Ipv6Address::parse("::2:3:4:5:6:7:8"), v6_from_pieces({0, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(Ipv6Address::parse("1:2:3::5:6:7:8"), v6_from_pieces({1, 2, 3, 0, 5, 6, 7, 8}));
}

TEST(Ipv6AddressTest, ParsesHexDigitsInEitherCase) {
  EXPECT_EQ(Ipv6Address::parse("ABCD:ef01::Ff"),
            v6_from_pieces({0xabcd, 0xef01, 0, 0, 0, 0, 0, 0xff}));
  EXPECT_EQ(Ipv6Address::parse("0:0:0:0:0:0:0:A"), v6_from_pieces({0, 0, 0, 0, 0, 0, 0, 0xa}));
}

TEST(Ipv6AddressTest, ParsesTrailingDottedQuad) {
  EXPECT_EQ(Ipv6Address::parse("::ffff:192.0.2.1"),
            v6_from_pieces({0, 0, 0, 0, 0, 0xffff, 0xc000, 0x201}));
  EXPECT_EQ(Ipv6Address::parse("::1.2.3.4"), v6_from_pieces({0, 0, 0, 0, 0, 0, 0x102, 0x304}));
  EXPECT_EQ(Ipv6Address::parse("1:2:3:4:5:6:255.255.255.255"),
            v6_from_pieces({1, 2, 3, 4, 5, 6, 0xffff, 0xffff}));
  EXPECT_EQ(Ipv6Address::parse("1::0.0.0.0"), v6_from_pieces({1, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(Ipv6AddressTest, RejectsMalformedText) {
  for (const std::string_view text : {
           "",                       // empty
           ":",                      // lone colon
           ":::",                    // triple colon
           ":1::2",                  // leading single colon
           "1::2:",                  // trailing single colon
           "1:2:3:4:5:6:7:8:",       // trailing colon after eight pieces
           "1::2::3",                // two `::`
           "1:2:3:4:5:6:7",          // seven pieces, no `::`
           "1:2:3:4:5:6:7:8:9",      // nine pieces
           "1:2:3:4:5:6:7:8::",      // `::` with eight explicit pieces
           "::1:2:3:4:5:6:7:8",      // `::` standing for no piece
           "1:2:3:4::5:6:7:8",       // same, in the middle
           "12345::",                // five hex digits
           "g::",                    // not hex
           "1:2:3:4:5:6:7:1.2.3.4",  // dotted quad beyond the last 32 bits
           "::1.2.3",                // three-part dotted quad
           "::1.2.3.4.5",            // five-part dotted quad
           "::1.2.3.256",            // octet out of range
           "::01.2.3.4",             // leading zero in dotted quad
           "::0x1.2.3.4",            // hex in dotted quad
           "::1.2.3.4:5",            // text after the dotted quad
           "::ffff:c0.0.2.1",        // hex digits before the dots
           "1.2.3.4",                // bare IPv4
           "::.1.2.3",               // dot without digits
           "[::1]",                  // brackets belong to URLs, not addresses
           "fe80::1%eth0",           // zone ids are not accepted
           " ::1",                   // whitespace
           "::1 ",                   //
           "1:2:3:4:5:6:7:8/64",     // prefix length
       }) {
    EXPECT_FALSE(Ipv6Address::parse(text).has_value()) << '"' << text << '"';
  }
}

// ---- IPv6 output (RFC 5952 §4) ----

TEST(Ipv6AddressTest, FormatsLowerCaseWithoutLeadingZeros) {
  EXPECT_EQ(v6_canonical("2001:0DB8:000A:00BC:0DEF:1:2:3"), "2001:db8:a:bc:def:1:2:3");
}

TEST(Ipv6AddressTest, CompressesLongestZeroRun) {
  EXPECT_EQ(v6_canonical("2001:db8:0:0:1:0:0:0"), "2001:db8:0:0:1::");  // §4.2.3: longest
  EXPECT_EQ(v6_canonical("2001:0:0:0:1:0:0:1"), "2001::1:0:0:1");
  EXPECT_EQ(v6_canonical("0:0:0:0:0:0:0:0"), "::");
  EXPECT_EQ(v6_canonical("0:0:0:0:0:0:0:1"), "::1");
  EXPECT_EQ(v6_canonical("1:0:0:0:0:0:0:0"), "1::");
  EXPECT_EQ(v6_canonical("2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
}

TEST(Ipv6AddressTest, CompressesFirstRunOnTies) {
  EXPECT_EQ(v6_canonical("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");  // §4.2.3: first
  EXPECT_EQ(v6_canonical("1:0:0:2:3:0:0:4"), "1::2:3:0:0:4");
  EXPECT_EQ(v6_canonical("0:0:1:2:3:4:0:0"), "::1:2:3:4:0:0");
}

TEST(Ipv6AddressTest, NeverCompressesASingleZeroPiece) {
  EXPECT_EQ(v6_canonical("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");  // §4.2.2
  EXPECT_EQ(v6_canonical("1::2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
  EXPECT_EQ(v6_canonical("0:1:0:1:0:1:0:1"), "0:1:0:1:0:1:0:1");
  EXPECT_EQ(v6_canonical("1:2:3:4:5:6:7::"), "1:2:3:4:5:6:7:0");
}

TEST(Ipv6AddressTest, NeverFormatsDottedQuad) {
  EXPECT_EQ(v6_canonical("::ffff:192.0.2.1"), "::ffff:c000:201");
  EXPECT_EQ(v6_canonical("::FFFF:1.2.3.4"), "::ffff:102:304");
  EXPECT_EQ(v6_canonical("::192.0.2.1"), "::c000:201");
  EXPECT_EQ(v6_canonical("64:ff9b::0.0.0.0"), "64:ff9b::");
}

TEST(Ipv6AddressTest, CanonicalTextRoundTrips) {
  for (const std::string_view text :
       {"::", "::1", "1::", "2001:db8::1", "2001:db8:0:1:1:1:1:1", "2001:db8::1:0:0:1",
        "fe80::200:5eff:fe00:5301", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "1:0:0:2::", "::ffff:c000:201", "1:2:3:4:5:6:7:8"}) {
    const auto address = Ipv6Address::parse(text);
    ASSERT_TRUE(address.has_value()) << text;
    EXPECT_EQ(address->to_string(), text);
  }
}

TEST(Ipv6AddressTest, FormattedTextParsesToTheSameAddress) {
  // Walk every pattern of zero and non-zero pieces so each compression position is covered.
  for (unsigned mask = 0; mask < 256; ++mask) {
    std::array<std::uint16_t, 8> pieces{};
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      pieces[i] =
          (mask >> i) & 1U ? static_cast<std::uint16_t>(0x1000 * i + 0xa) : std::uint16_t{0};
    }
    const Ipv6Address address = v6_from_pieces(pieces);
    const std::string text = address.to_string();
    EXPECT_EQ(Ipv6Address::parse(text), address) << text;
    EXPECT_EQ(text.find(":::"), std::string::npos) << text;
  }
}

// ---- Either family ----

TEST(IpAddressTest, ParsesEitherFamily) {
  const auto v4 = IpAddress::parse("192.0.2.1");
  ASSERT_TRUE(v4.has_value());
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->v4, Ipv4Address::from_u32(0xC0000201U));
  EXPECT_EQ(v4->to_string(), "192.0.2.1");

  const auto v6 = IpAddress::parse("2001:DB8::1");
  ASSERT_TRUE(v6.has_value());
  EXPECT_TRUE(v6->is_v6());
  EXPECT_EQ(v6->to_string(), "2001:db8::1");
}

TEST(IpAddressTest, ChoosesIpv6WhenTextHasAColon) {
  const auto mapped = IpAddress::parse("::ffff:192.0.2.1");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_TRUE(mapped->is_v6());
  EXPECT_EQ(mapped->to_string(), "::ffff:c000:201");
}

TEST(IpAddressTest, RejectsInvalidText) {
  for (const std::string_view text :
       {"", "localhost", "1.2.3", "01.2.3.4", "1.2.3.4:80", ":::", "[::1]", "::g"}) {
    EXPECT_FALSE(IpAddress::parse(text).has_value()) << '"' << text << '"';
  }
}

TEST(IpAddressTest, ComparesFamilyAndValue) {
  EXPECT_EQ(IpAddress::parse("10.0.0.1"), IpAddress::from(Ipv4Address::from_u32(0x0A000001U)));
  EXPECT_NE(IpAddress::parse("::"), IpAddress::parse("0.0.0.0"));
  EXPECT_NE(IpAddress::parse("::1"), IpAddress::parse("::2"));
}

}  // namespace
}  // namespace aero
