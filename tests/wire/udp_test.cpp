// UDP (RFC 768): length rules, pseudo-header checksum, "no checksum", emitter.
#include "aero/wire/udp.h"

#include <gtest/gtest.h>

#include "support/vectors.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "aero/wire/ipv4.h"

namespace aero::wire {
namespace {

using aero::test::from_hex;

const Ipv4Address kGuest{{10, 0, 2, 15}};
const Ipv4Address kResolver{{10, 0, 2, 3}};

// A DNS query for example.com A (id 0x1a2b, RD) from 10.0.2.15:45873 to 10.0.2.3:53.
const std::vector<std::uint8_t> kDnsQuery = from_hex(
    "b3 31 00 35 00 25 4a 93 1a 2b 01 00 00 01 00 00 00 00 00 00 07 65 78 61 6d 70 6c 65 03 63 "
    "6f 6d 00 00 01 00 01");

TEST(UdpPacket, ParsesDnsQuery) {
  auto udp = UdpPacket::parse(kDnsQuery);
  ASSERT_TRUE(udp.ok()) << udp.error().message;
  EXPECT_EQ(udp->source_port(), 45873);
  EXPECT_EQ(udp->destination_port(), 53);
  EXPECT_EQ(udp->length(), 37);
  EXPECT_EQ(udp->checksum(), 0x4A93);
  EXPECT_TRUE(udp->has_checksum());
  EXPECT_TRUE(udp->checksum_ok(kGuest, kResolver));
  EXPECT_FALSE(udp->checksum_ok(Ipv4Address{{10, 0, 2, 16}}, kResolver));
  ASSERT_EQ(udp->payload().size(), 29U);
  EXPECT_EQ(udp->payload()[0], 0x1A);
  EXPECT_EQ(udp->header().size(), 8U);
}

TEST(UdpPacket, ChecksumThroughTheIpPacket) {
  const auto packet = from_hex(
      "45 00 00 39 1d 3f 00 00 40 11 45 64 0a 00 02 0f 0a 00 02 03 b3 31 00 35 00 25 4a 93 1a 2b "
      "01 00 00 01 00 00 00 00 00 00 07 65 78 61 6d 70 6c 65 03 63 6f 6d 00 00 01 00 01 00 00");
  auto ip = Ipv4Packet::parse(packet);  // with two bytes of link padding
  ASSERT_TRUE(ip.ok());
  auto udp = UdpPacket::parse(ip->payload());
  ASSERT_TRUE(udp.ok());
  EXPECT_TRUE(udp->checksum_ok(ip->source(), ip->destination()));
}

TEST(UdpPacket, ZeroChecksumMeansNone) {
  auto bytes = kDnsQuery;
  bytes[6] = 0;
  bytes[7] = 0;
  auto udp = UdpPacket::parse(bytes);
  ASSERT_TRUE(udp.ok());
  EXPECT_FALSE(udp->has_checksum());
  EXPECT_TRUE(udp->checksum_ok(kGuest, kResolver));
  bytes[7] = 1;
  EXPECT_FALSE(UdpPacket::parse(bytes)->checksum_ok(kGuest, kResolver));
}

TEST(UdpPacket, LengthRules) {
  for (std::size_t n = 0; n < 8; ++n) {
    EXPECT_EQ(UdpPacket::parse(ByteSpan(kDnsQuery).first(n)).error().kind, "truncated") << n;
  }
  auto bytes = kDnsQuery;
  for (std::uint8_t length = 0; length < 8; ++length) {
    bytes[5] = length;
    EXPECT_EQ(UdpPacket::parse(bytes).error().kind, "bad_length") << int{length};
  }
  bytes[5] = 8;  // header only
  auto empty = UdpPacket::parse(bytes);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->payload().empty());
  EXPECT_EQ(empty->datagram().size(), 8U);
  // The length field decides the payload; bytes after it are ignored.
  bytes[5] = 20;
  auto shorter = UdpPacket::parse(bytes);
  ASSERT_TRUE(shorter.ok());
  EXPECT_EQ(shorter->payload().size(), 12U);
  // Longer than the buffer.
  bytes[5] = 38;
  EXPECT_EQ(UdpPacket::parse(bytes).error().kind, "truncated");
  EXPECT_EQ(UdpPacket::parse(ByteSpan(kDnsQuery).first(36)).error().kind, "truncated");
}

TEST(UdpHeader, EmitMatchesCapturedQuery) {
  const UdpHeader header{45873, 53};
  const ByteSpan payload = ByteSpan(kDnsQuery).subspan(8);
  std::vector<std::uint8_t> out(header.length(payload.size()));
  ASSERT_TRUE(header.emit(out, payload, kGuest, kResolver));
  EXPECT_EQ(out, kDnsQuery);
  // Payload already in place.
  std::vector<std::uint8_t> in_place(kDnsQuery);
  std::fill(in_place.begin(), in_place.begin() + 8, std::uint8_t{0});
  ASSERT_TRUE(header.emit(in_place, ByteSpan(in_place).subspan(8), kGuest, kResolver));
  EXPECT_EQ(in_place, kDnsQuery);
}

TEST(UdpHeader, ComputedZeroIsSentAsAllOnes) {
  const UdpHeader header{1000, 2000};
  std::vector<std::uint8_t> payload{0, 0};
  std::vector<std::uint8_t> out(10);
  ASSERT_TRUE(header.emit(out, payload, kGuest, kResolver));
  // Choose the payload word that makes the sum 0xFFFF, so the checksum computes to 0.
  const std::uint16_t first = static_cast<std::uint16_t>((out[6] << 8) | out[7]);
  payload = {static_cast<std::uint8_t>(first >> 8), static_cast<std::uint8_t>(first)};
  ASSERT_TRUE(header.emit(out, payload, kGuest, kResolver));
  EXPECT_EQ(out[6], 0xFF);
  EXPECT_EQ(out[7], 0xFF);
  auto udp = UdpPacket::parse(out);
  ASSERT_TRUE(udp.ok());
  EXPECT_TRUE(udp->has_checksum());
  EXPECT_TRUE(udp->checksum_ok(kGuest, kResolver));
}

TEST(UdpHeader, EmitRefusals) {
  const UdpHeader header{1, 2};
  std::vector<std::uint8_t> out(9, 0x11);
  const std::vector<std::uint8_t> payload{1, 2};
  EXPECT_FALSE(header.emit(out, payload, kGuest, kResolver));
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0x11; }));
  std::vector<std::uint8_t> huge(70000, 0);
  EXPECT_FALSE(header.emit(huge, ByteSpan(huge).first(65535 - 7), kGuest, kResolver));
  EXPECT_TRUE(header.emit(huge, ByteSpan(huge).subspan(8, 65535 - 8), kGuest, kResolver));
}

}  // namespace
}  // namespace aero::wire
