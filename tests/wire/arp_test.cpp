// ARP (RFC 826) for Ethernet/IPv4.
#include "aero/wire/arp.h"

#include <gtest/gtest.h>

#include "support/vectors.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "aero/wire/ethernet.h"

namespace aero::wire {
namespace {

using aero::test::from_hex;

// Ethernet payloads: who-has 10.0.2.2 tell 10.0.2.15 (with 18 bytes of frame padding), and the
// reply "10.0.2.2 is at 52:55:0a:00:02:02".
const std::vector<std::uint8_t> kRequest = from_hex(
    "00 01 08 00 06 04 00 01 52 54 00 12 34 56 0a 00 02 0f 00 00 00 00 00 00 0a 00 02 02 "
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
const std::vector<std::uint8_t> kReply =
    from_hex("00 01 08 00 06 04 00 02 52 55 0a 00 02 02 0a 00 02 02 52 54 00 12 34 56 0a 00 02 0f");

TEST(ArpPacket, ParsesRequestIgnoringPadding) {
  auto arp = ArpPacket::parse(kRequest);
  ASSERT_TRUE(arp.ok()) << arp.error().message;
  EXPECT_TRUE(arp->is_request());
  EXPECT_EQ(arp->operation(), kArpOperationRequest);
  EXPECT_EQ(arp->sender_mac().to_string(), "52:54:00:12:34:56");
  EXPECT_EQ(arp->sender_ip().to_string(), "10.0.2.15");
  EXPECT_TRUE(arp->target_mac().is_zero());
  EXPECT_EQ(arp->target_ip().to_string(), "10.0.2.2");
  EXPECT_EQ(arp->packet().size(), kArpPacketLength);
}

TEST(ArpPacket, ReplyToRequestMatchesCapturedReply) {
  auto request = ArpPacket::parse(kRequest);
  ASSERT_TRUE(request.ok());
  const auto gateway = MacAddress::parse("52:55:0a:00:02:02").value();
  const ArpHeader reply = ArpHeader::reply_to(*request, gateway);
  std::vector<std::uint8_t> out(reply.length());
  ASSERT_TRUE(reply.emit(out));
  EXPECT_EQ(out, kReply);
  auto parsed = ArpPacket::parse(out);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->is_reply());
  EXPECT_EQ(parsed->sender_mac(), gateway);
  EXPECT_EQ(parsed->target_ip().to_string(), "10.0.2.15");
}

TEST(ArpPacket, EmitRefusesShortBuffer) {
  ArpHeader header;
  std::vector<std::uint8_t> out(27, 0xEE);
  EXPECT_FALSE(header.emit(out));
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0xEE; }));
}

TEST(ArpPacket, RejectsTruncatedPackets) {
  for (std::size_t n = 0; n < kArpPacketLength; ++n) {
    auto arp = ArpPacket::parse(ByteSpan(kReply).first(n));
    ASSERT_FALSE(arp.ok());
    EXPECT_EQ(arp.error().kind, "truncated") << n;
  }
}

TEST(ArpPacket, RejectsOtherHardwareAndProtocols) {
  const auto with = [](std::size_t at, std::uint8_t value) {
    auto bytes = kReply;
    bytes[at] = value;
    return ArpPacket::parse(bytes);
  };
  EXPECT_EQ(with(1, 6).error().kind, "unsupported");     // IEEE 802 networks (htype 6)
  EXPECT_EQ(with(2, 0x86).error().kind, "unsupported");  // ptype 0x86DD
  EXPECT_EQ(with(4, 8).error().kind, "unsupported");     // hlen 8
  EXPECT_EQ(with(5, 16).error().kind, "unsupported");    // plen 16
  // Checked on the fixed part before the length: a short non-Ethernet packet is unsupported.
  auto odd = kReply;
  odd[5] = 16;
  EXPECT_EQ(ArpPacket::parse(ByteSpan(odd).first(8)).error().kind, "unsupported");
}

TEST(ArpPacket, ThroughAVlanTaggedFrame) {
  const auto frame_bytes = from_hex(
      "ff ff ff ff ff ff 52 54 00 12 34 56 81 00 60 64 08 06 00 01 08 00 06 04 00 01 52 54 00 12 "
      "34 56 0a 00 02 0f 00 00 00 00 00 00 0a 00 02 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
  auto frame = EthernetFrame::parse(frame_bytes);
  ASSERT_TRUE(frame.ok());
  ASSERT_EQ(frame->ethertype(), kEtherTypeArp);
  auto arp = ArpPacket::parse(frame->payload());
  ASSERT_TRUE(arp.ok());
  EXPECT_EQ(arp->target_ip().to_string(), "10.0.2.2");
}

}  // namespace
}  // namespace aero::wire
