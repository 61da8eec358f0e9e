// Ethernet II / 802.1Q frames and MAC addresses.
#include "aero/wire/ethernet.h"

#include <gtest/gtest.h>

#include "support/vectors.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

namespace aero::wire {
namespace {

using aero::test::from_hex;

// ARP who-has 10.0.2.2 tell 10.0.2.15, broadcast, padded to the 60-byte minimum.
const std::vector<std::uint8_t> kArpRequestFrame = from_hex(
    "ff ff ff ff ff ff 52 54 00 12 34 56 08 06 00 01 08 00 06 04 00 01 52 54 00 12 34 56 0a 00 "
    "02 0f 00 00 00 00 00 00 0a 00 02 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
// The same request tagged with VLAN 100, priority 3.
const std::vector<std::uint8_t> kVlanArpRequestFrame = from_hex(
    "ff ff ff ff ff ff 52 54 00 12 34 56 81 00 60 64 08 06 00 01 08 00 06 04 00 01 52 54 00 12 "
    "34 56 0a 00 02 0f 00 00 00 00 00 00 0a 00 02 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00");

TEST(MacAddress, ParseAndFormat) {
  const auto mac = MacAddress::parse("52:54:00:12:34:5A");
  ASSERT_TRUE(mac.has_value());
  EXPECT_EQ(mac->to_string(), "52:54:00:12:34:5a");
  EXPECT_EQ(MacAddress::parse("52-54-00-12-34-5a"), mac);
  EXPECT_FALSE(MacAddress::parse("52:54:00:12:34").has_value());
  EXPECT_FALSE(MacAddress::parse("52:54:00:12:34:5g").has_value());
  EXPECT_FALSE(MacAddress::parse("52:54-00:12:34:5a").has_value());
  EXPECT_FALSE(MacAddress::parse("52:54:00:12:34:5a:").has_value());
  EXPECT_FALSE(MacAddress::parse("5254.0012.345a.00").has_value());
  EXPECT_EQ(MacAddress::broadcast().to_string(), "ff:ff:ff:ff:ff:ff");
}

TEST(MacAddress, Classification) {
  EXPECT_TRUE(MacAddress::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddress::broadcast().is_multicast());
  const auto mdns = MacAddress::parse("01:00:5e:00:00:fb").value();
  EXPECT_TRUE(mdns.is_multicast());
  EXPECT_FALSE(mdns.is_broadcast());
  const auto guest = MacAddress::parse("52:54:00:12:34:56").value();
  EXPECT_TRUE(guest.is_unicast());
  EXPECT_TRUE(guest.is_locally_administered());
  EXPECT_FALSE(MacAddress::parse("00:1b:21:00:00:01")->is_locally_administered());
  EXPECT_TRUE(MacAddress{}.is_zero());
  EXPECT_FALSE(guest.is_zero());
}

TEST(EthernetFrame, ParsesUntaggedFrameWithPadding) {
  auto frame = EthernetFrame::parse(kArpRequestFrame);
  ASSERT_TRUE(frame.ok()) << frame.error().message;
  EXPECT_TRUE(frame->destination().is_broadcast());
  EXPECT_EQ(frame->source().to_string(), "52:54:00:12:34:56");
  EXPECT_EQ(frame->ethertype(), kEtherTypeArp);
  EXPECT_FALSE(frame->vlan_id().has_value());
  EXPECT_FALSE(frame->vlan_tci().has_value());
  EXPECT_EQ(frame->header().size(), 14U);
  EXPECT_EQ(frame->payload().size(), 46U);  // 28 bytes of ARP and 18 of padding
  EXPECT_EQ(frame->payload()[0], 0x00);
  EXPECT_EQ(frame->payload()[1], 0x01);
}

TEST(EthernetFrame, ParsesVlanTag) {
  auto frame = EthernetFrame::parse(kVlanArpRequestFrame);
  ASSERT_TRUE(frame.ok()) << frame.error().message;
  EXPECT_EQ(frame->ethertype(), kEtherTypeArp);
  EXPECT_EQ(frame->vlan_id(), 100);
  EXPECT_EQ(frame->vlan_priority(), 3);
  EXPECT_EQ(frame->vlan_tci(), 0x6064);
  EXPECT_EQ(frame->header().size(), 18U);
  EXPECT_EQ(frame->payload().size(), 42U);
  // The payload after the tag is the same ARP packet as in the untagged frame.
  EXPECT_TRUE(std::equal(frame->payload().begin(), frame->payload().begin() + 28,
                         kArpRequestFrame.begin() + 14));
}

TEST(EthernetFrame, RejectsShortFrames) {
  for (std::size_t n = 0; n < 14; ++n) {
    auto frame = EthernetFrame::parse(ByteSpan(kArpRequestFrame).first(n));
    ASSERT_FALSE(frame.ok());
    EXPECT_EQ(frame.error().kind, "truncated") << n;
  }
  // A header alone (no payload) is a valid, empty frame.
  auto header_only = EthernetFrame::parse(ByteSpan(kArpRequestFrame).first(14));
  ASSERT_TRUE(header_only.ok());
  EXPECT_TRUE(header_only->payload().empty());
  // A tag needs 18 bytes.
  for (std::size_t n = 14; n < 18; ++n) {
    auto frame = EthernetFrame::parse(ByteSpan(kVlanArpRequestFrame).first(n));
    ASSERT_FALSE(frame.ok());
    EXPECT_EQ(frame.error().kind, "truncated") << n;
  }
  EXPECT_TRUE(EthernetFrame::parse(ByteSpan(kVlanArpRequestFrame).first(18)).ok());
}

TEST(EthernetFrame, RejectsLengthFieldsAndStackedTags) {
  auto llc = kArpRequestFrame;
  llc[12] = 0x00;
  llc[13] = 0x2E;  // an 802.3 length of 46
  EXPECT_EQ(EthernetFrame::parse(llc).error().kind, "unsupported");
  llc[12] = 0x05;
  llc[13] = 0xFF;  // 1535: still below 0x0600
  EXPECT_EQ(EthernetFrame::parse(llc).error().kind, "unsupported");
  auto stacked = kVlanArpRequestFrame;
  stacked[16] = 0x81;
  stacked[17] = 0x00;
  EXPECT_EQ(EthernetFrame::parse(stacked).error().kind, "unsupported");
  auto inner_llc = kVlanArpRequestFrame;
  inner_llc[16] = 0x00;
  EXPECT_EQ(EthernetFrame::parse(inner_llc).error().kind, "unsupported");
}

TEST(EthernetHeader, EmitRoundTrips) {
  EthernetHeader header;
  header.destination = MacAddress::broadcast();
  header.source = MacAddress::parse("52:54:00:12:34:56").value();
  header.ethertype = kEtherTypeArp;
  std::vector<std::uint8_t> out(14);
  ASSERT_TRUE(header.emit(out));
  EXPECT_TRUE(std::equal(out.begin(), out.end(), kArpRequestFrame.begin()));

  header.vlan_tci = 0x6064;
  EXPECT_EQ(header.header_length(), 18U);
  EXPECT_FALSE(header.emit(out));  // too small: nothing written
  EXPECT_TRUE(std::equal(out.begin(), out.end(), kArpRequestFrame.begin()));
  out.resize(18);
  ASSERT_TRUE(header.emit(out));
  EXPECT_TRUE(std::equal(out.begin(), out.end(), kVlanArpRequestFrame.begin()));
  auto parsed = EthernetFrame::parse(out);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->vlan_id(), 100);
  EXPECT_EQ(parsed->ethertype(), kEtherTypeArp);
}

}  // namespace
}  // namespace aero::wire
