// IPv4 (RFC 791) packets: header fields, length rules, fragments, options, checksum, emitter.
#include "aero/wire/ipv4.h"

#include <gtest/gtest.h>

#include "support/vectors.h"

#include <cstdint>
#include <string_view>
#include <vector>

#include "aero/wire/checksum.h"

namespace aero::wire {
namespace {

using aero::test::from_hex;

// Linux `ping 8.8.8.8` from 10.0.2.15: DF, TTL 64, 84 bytes.
const std::vector<std::uint8_t> kEchoRequest = from_hex(
    "45 00 00 54 4c 2e 40 00 40 01 d2 5c 0a 00 02 0f 08 08 08 08 08 00 e1 e3 0b 5e 00 01 "
    "c3 b2 a1 65 00 00 00 00 e2 d1 04 00 00 00 00 00 10 11 12 13 14 15 16 17 18 19 1a 1b "
    "1c 1d 1e 1f 20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 35 36 37");
// The last fragment (offset 1480) of a UDP datagram, followed by 6 bytes of Ethernet padding.
const std::vector<std::uint8_t> kLastFragment = from_hex(
    "45 00 00 28 77 77 00 b9 40 11 ea 83 0a 00 02 0f 0a 00 02 03 40 47 4e 55 5c 63 6a 71 "
    "78 7f 86 8d 94 9b a2 a9 b0 b7 be c5 00 00 00 00 00 00");
// IHL 6 with a Router Alert option (RFC 2113), TTL 1, to 224.0.0.251, carrying UDP.
const std::vector<std::uint8_t> kRouterAlert = from_hex(
    "46 00 00 2c 33 44 40 00 01 11 c4 6e 0a 00 02 0f e0 00 00 fb 94 04 00 00 14 e9 14 e9 "
    "00 14 e8 e9 00 00 00 00 00 00 00 00 00 00 00 00");

TEST(Ipv4Packet, ParsesPingRequest) {
  auto ip = Ipv4Packet::parse(kEchoRequest);
  ASSERT_TRUE(ip.ok()) << ip.error().message;
  EXPECT_EQ(ip->version(), 4);
  EXPECT_EQ(ip->header_length(), 20U);
  EXPECT_EQ(ip->dscp(), 0);
  EXPECT_EQ(ip->ecn(), 0);
  EXPECT_EQ(ip->total_length(), 84);
  EXPECT_EQ(ip->identification(), 0x4C2E);
  EXPECT_TRUE(ip->dont_fragment());
  EXPECT_FALSE(ip->more_fragments());
  EXPECT_FALSE(ip->reserved_flag());
  EXPECT_EQ(ip->fragment_offset(), 0);
  EXPECT_FALSE(ip->is_fragment());
  EXPECT_EQ(ip->ttl(), 64);
  EXPECT_EQ(ip->protocol(), kIpProtocolIcmp);
  EXPECT_EQ(ip->header_checksum(), 0xD25C);
  EXPECT_TRUE(ip->checksum_ok());
  EXPECT_EQ(ip->source().to_string(), "10.0.2.15");
  EXPECT_EQ(ip->destination().to_string(), "8.8.8.8");
  EXPECT_TRUE(ip->options().empty());
  EXPECT_EQ(ip->payload().size(), 64U);
  EXPECT_EQ(ip->payload()[0], 0x08);
  EXPECT_EQ(ip->packet().size(), 84U);
}

TEST(Ipv4Packet, FragmentIgnoresEthernetPadding) {
  auto ip = Ipv4Packet::parse(kLastFragment);
  ASSERT_TRUE(ip.ok()) << ip.error().message;
  EXPECT_TRUE(ip->checksum_ok());
  EXPECT_FALSE(ip->more_fragments());
  EXPECT_EQ(ip->fragment_offset(), 1480);
  EXPECT_TRUE(ip->is_fragment());
  EXPECT_EQ(ip->payload().size(), 20U);  // 46 bytes given, total length 40
  EXPECT_EQ(ip->payload().back(), 0xC5);

  auto first = kEchoRequest;  // MF alone also makes a fragment
  first[6] = 0x20;
  first[10] = 0;
  first[11] = 0;
  store_be16(first, 10, internet_checksum(ByteSpan(first).first(20)));
  auto mf = Ipv4Packet::parse(first);
  ASSERT_TRUE(mf.ok());
  EXPECT_TRUE(mf->more_fragments());
  EXPECT_TRUE(mf->is_fragment());
  EXPECT_TRUE(mf->checksum_ok());
}

TEST(Ipv4Packet, ExposesOptions) {
  auto ip = Ipv4Packet::parse(kRouterAlert);
  ASSERT_TRUE(ip.ok()) << ip.error().message;
  EXPECT_EQ(ip->header_length(), 24U);
  ASSERT_EQ(ip->options().size(), 4U);
  EXPECT_EQ(ip->options()[0], 0x94);
  EXPECT_TRUE(ip->checksum_ok());
  EXPECT_EQ(ip->payload().size(), 20U);
  EXPECT_EQ(ip->payload()[0], 0x14);
  EXPECT_EQ(ip->destination().to_string(), "224.0.0.251");
}

TEST(Ipv4Packet, BadChecksumIsReportedNotRejected) {
  auto bytes = kEchoRequest;
  bytes[8] = 63;  // TTL changed without fixing the checksum
  auto ip = Ipv4Packet::parse(bytes);
  ASSERT_TRUE(ip.ok());
  EXPECT_FALSE(ip->checksum_ok());
}

TEST(Ipv4Packet, RejectsMalformedLengths) {
  for (std::size_t n = 0; n < 20; ++n) {
    EXPECT_EQ(Ipv4Packet::parse(ByteSpan(kEchoRequest).first(n)).error().kind, "truncated") << n;
  }
  // The buffer ends before the total length.
  EXPECT_EQ(Ipv4Packet::parse(ByteSpan(kEchoRequest).first(83)).error().kind, "truncated");
  // IHL below 5.
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    auto bytes = kEchoRequest;
    bytes[0] = static_cast<std::uint8_t>(0x40 | ihl);
    EXPECT_EQ(Ipv4Packet::parse(bytes).error().kind, "bad_length") << int{ihl};
  }
  // Total length below the header length.
  auto short_total = kRouterAlert;
  short_total[3] = 23;
  EXPECT_EQ(Ipv4Packet::parse(short_total).error().kind, "bad_length");
  short_total[3] = 24;  // exactly the header: empty payload
  auto empty = Ipv4Packet::parse(short_total);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->payload().empty());
  // IHL 15 (60 bytes) in a 44-byte packet whose total length claims 60.
  auto long_ihl = kRouterAlert;
  long_ihl[0] = 0x4F;
  long_ihl[3] = 60;
  EXPECT_EQ(Ipv4Packet::parse(long_ihl).error().kind, "truncated");
  // IHL 15 beyond a total length of 44.
  long_ihl[3] = 44;
  EXPECT_EQ(Ipv4Packet::parse(long_ihl).error().kind, "bad_length");
}

TEST(Ipv4Packet, RejectsOtherVersions) {
  auto v6 = kEchoRequest;
  v6[0] = 0x65;
  EXPECT_EQ(Ipv4Packet::parse(v6).error().kind, "bad_version");
  v6[0] = 0x05;
  EXPECT_EQ(Ipv4Packet::parse(v6).error().kind, "bad_version");
}

TEST(Ipv4Packet, ParseQuotedAcceptsACutDatagram) {
  // An ICMP error quotes the header and 8 bytes of a 84-byte datagram.
  const ByteSpan quote = ByteSpan(kEchoRequest).first(28);
  EXPECT_EQ(Ipv4Packet::parse(quote).error().kind, "truncated");
  auto ip = Ipv4Packet::parse_quoted(quote);
  ASSERT_TRUE(ip.ok()) << ip.error().message;
  EXPECT_EQ(ip->total_length(), 84);
  EXPECT_EQ(ip->payload().size(), 8U);
  EXPECT_TRUE(ip->checksum_ok());
  // The header itself must still be whole and consistent.
  EXPECT_EQ(Ipv4Packet::parse_quoted(ByteSpan(kRouterAlert).first(22)).error().kind, "truncated");
  auto bad = kEchoRequest;
  bad[3] = 10;
  EXPECT_EQ(Ipv4Packet::parse_quoted(bad).error().kind, "bad_length");
  // A complete datagram: the same as parse(), padding ignored.
  auto whole = Ipv4Packet::parse_quoted(kLastFragment);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->payload().size(), 20U);
}

TEST(Ipv4Header, EmitMatchesCapturedHeader) {
  Ipv4Header header;
  header.identification = 0x4C2E;
  header.dont_fragment = true;
  header.ttl = 64;
  header.protocol = kIpProtocolIcmp;
  header.source = Ipv4Address::parse("10.0.2.15").value();
  header.destination = Ipv4Address::parse("8.8.8.8").value();
  header.payload_length = 64;
  EXPECT_EQ(header.total_length(), 84U);
  std::vector<std::uint8_t> out(20);
  ASSERT_TRUE(header.emit(out));
  EXPECT_EQ(out, std::vector<std::uint8_t>(kEchoRequest.begin(), kEchoRequest.begin() + 20));
}

TEST(Ipv4Header, EmitFragmentRoundTrips) {
  Ipv4Header header;
  header.dscp_ecn = 0xB8;  // EF
  header.identification = 0x7777;
  header.more_fragments = true;
  header.fragment_offset = 2960;
  header.ttl = 5;
  header.protocol = kIpProtocolUdp;
  header.source = Ipv4Address{{192, 0, 2, 1}};
  header.destination = Ipv4Address{{198, 51, 100, 2}};
  header.payload_length = 100;
  std::vector<std::uint8_t> out(120, 0xAB);
  ASSERT_TRUE(header.emit(out));
  auto ip = Ipv4Packet::parse(out);
  ASSERT_TRUE(ip.ok()) << ip.error().message;
  EXPECT_TRUE(ip->checksum_ok());
  EXPECT_EQ(ip->dscp(), 0xB8 >> 2);
  EXPECT_EQ(ip->identification(), 0x7777);
  EXPECT_TRUE(ip->more_fragments());
  EXPECT_FALSE(ip->dont_fragment());
  EXPECT_EQ(ip->fragment_offset(), 2960);
  EXPECT_EQ(ip->ttl(), 5);
  EXPECT_EQ(ip->protocol(), kIpProtocolUdp);
  EXPECT_EQ(ip->source(), header.source);
  EXPECT_EQ(ip->destination(), header.destination);
  EXPECT_EQ(ip->payload().size(), 100U);
  EXPECT_EQ(ip->payload()[0], 0xAB);  // the payload area is left alone
}

TEST(Ipv4Header, EmitRefusesBadInput) {
  Ipv4Header header;
  std::vector<std::uint8_t> small(19, 0);
  EXPECT_FALSE(header.emit(small));
  std::vector<std::uint8_t> out(20, 0);
  header.fragment_offset = 12;  // not a multiple of 8
  EXPECT_FALSE(header.emit(out));
  header.fragment_offset = 65528;  // the largest offset
  EXPECT_TRUE(header.emit(out));
  header.payload_length = 65535 - 20;
  EXPECT_TRUE(header.emit(out));
  header.payload_length = 65535 - 19;
  EXPECT_FALSE(header.emit(out));
}

}  // namespace
}  // namespace aero::wire
