// ICMPv4 (RFC 792): echo, errors with a quoted datagram, checksums, emitters.
#include "aero/wire/icmpv4.h"

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

// Frame of Linux `ping 8.8.8.8` (id 0x0b5e, seq 1, 56 data bytes: a timeval, then 0x10..0x37).
const std::vector<std::uint8_t> kPingFrame = from_hex(
    "52 55 0a 00 02 02 52 54 00 12 34 56 08 00 45 00 00 54 4c 2e 40 00 40 01 d2 5c 0a 00 02 0f "
    "08 08 08 08 08 00 e1 e3 0b 5e 00 01 c3 b2 a1 65 00 00 00 00 e2 d1 04 00 00 00 00 00 10 11 "
    "12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f "
    "30 31 32 33 34 35 36 37");
// The ICMP part of 8.8.8.8's reply.
const std::vector<std::uint8_t> kPingReply = from_hex(
    "00 00 e9 e3 0b 5e 00 01 c3 b2 a1 65 00 00 00 00 e2 d1 04 00 00 00 00 00 10 11 12 13 14 15 "
    "16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 "
    "34 35 36 37");
// A DNS query from 10.0.2.15:45873 to 10.0.2.3:53 (IP header and UDP header shown first).
const std::vector<std::uint8_t> kDnsQueryPacket = from_hex(
    "45 00 00 39 1d 3f 00 00 40 11 45 64 0a 00 02 0f 0a 00 02 03 b3 31 00 35 00 25 4a 93 1a 2b "
    "01 00 00 01 00 00 00 00 00 00 07 65 78 61 6d 70 6c 65 03 63 6f 6d 00 00 01 00 01");
// The ICMP port unreachable 10.0.2.3 sends back for it.
const std::vector<std::uint8_t> kPortUnreachable = from_hex(
    "03 03 fe dd 00 00 00 00 45 00 00 39 1d 3f 00 00 40 11 45 64 0a 00 02 0f 0a 00 02 03 b3 31 "
    "00 35 00 25 4a 93");

Icmpv4Packet ping_request() {
  auto frame = EthernetFrame::parse(kPingFrame);
  auto ip = Ipv4Packet::parse(frame->payload());
  return Icmpv4Packet::parse(ip->payload()).value();
}

TEST(Icmpv4Packet, ParsesLinuxPing) {
  const Icmpv4Packet icmp = ping_request();
  EXPECT_TRUE(icmp.is_echo_request());
  EXPECT_FALSE(icmp.is_error());
  EXPECT_EQ(icmp.type(), kIcmpv4EchoRequest);
  EXPECT_EQ(icmp.code(), 0);
  EXPECT_EQ(icmp.checksum(), 0xE1E3);
  EXPECT_TRUE(icmp.checksum_ok());
  EXPECT_EQ(icmp.echo_identifier(), 0x0B5E);
  EXPECT_EQ(icmp.echo_sequence(), 1);
  EXPECT_EQ(icmp.rest_of_header(), 0x0B5E0001U);
  ASSERT_EQ(icmp.echo_data().size(), 56U);
  EXPECT_EQ(icmp.echo_data()[16], 0x10);
  EXPECT_EQ(icmp.echo_data()[55], 0x37);
  EXPECT_FALSE(icmp.quoted_datagram().has_value());
  EXPECT_EQ(icmp.message().size(), 64U);
}

TEST(Icmpv4Packet, BadChecksumIsReportedNotRejected) {
  auto bytes = kPingReply;
  bytes[20] ^= 0x01;
  auto icmp = Icmpv4Packet::parse(bytes);
  ASSERT_TRUE(icmp.ok());
  EXPECT_FALSE(icmp->checksum_ok());
}

TEST(Icmpv4Packet, RejectsTruncated) {
  for (std::size_t n = 0; n < 8; ++n) {
    EXPECT_EQ(Icmpv4Packet::parse(ByteSpan(kPingReply).first(n)).error().kind, "truncated");
  }
  auto header_only = Icmpv4Packet::parse(ByteSpan(kPingReply).first(8));
  ASSERT_TRUE(header_only.ok());
  EXPECT_TRUE(header_only->echo_data().empty());
}

TEST(Icmpv4Header, EchoReplyMatchesCapturedReply) {
  const Icmpv4Packet request = ping_request();
  const Icmpv4Header reply = Icmpv4Header::echo_reply_to(request);
  std::vector<std::uint8_t> out(reply.length(request.echo_data().size()));
  ASSERT_TRUE(reply.emit(out, request.echo_data()));
  EXPECT_EQ(out, kPingReply);
  auto parsed = Icmpv4Packet::parse(out);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->is_echo_reply());
  EXPECT_TRUE(parsed->checksum_ok());
}

TEST(Icmpv4Header, EmitInPlaceAndRefusals) {
  // Turning the request into the reply in its own buffer: the data is already in place.
  std::vector<std::uint8_t> buffer(kPingReply);
  buffer[0] = kIcmpv4EchoRequest;
  const ByteSpan data = ByteSpan(buffer).subspan(8);
  ASSERT_TRUE(Icmpv4Header::echo_reply(0x0B5E, 1).emit(buffer, data));
  EXPECT_EQ(buffer, kPingReply);

  std::vector<std::uint8_t> small(8 + 55, 0);
  EXPECT_FALSE(Icmpv4Header::echo_reply(1, 2).emit(small, ByteSpan(kPingReply).subspan(8)));
  EXPECT_TRUE(std::all_of(small.begin(), small.end(), [](std::uint8_t b) { return b == 0; }));

  Icmpv4Header request = Icmpv4Header::echo_request(7, 9);
  std::vector<std::uint8_t> out(8);
  ASSERT_TRUE(request.emit(out, {}));
  auto parsed = Icmpv4Packet::parse(out);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->is_echo_request());
  EXPECT_EQ(parsed->echo_identifier(), 7);
  EXPECT_EQ(parsed->echo_sequence(), 9);
  EXPECT_TRUE(parsed->checksum_ok());
}

TEST(Icmpv4Header, PortUnreachableQuotesHeaderAndEightBytes) {
  auto original = Ipv4Packet::parse(kDnsQueryPacket);
  ASSERT_TRUE(original.ok());
  const ByteSpan quote = icmpv4_error_quote(*original);
  EXPECT_EQ(quote.size(), 28U);
  const Icmpv4Header header = Icmpv4Header::destination_unreachable(kIcmpv4PortUnreachable);
  std::vector<std::uint8_t> out(header.length(quote.size()));
  ASSERT_TRUE(header.emit(out, quote));
  EXPECT_EQ(out, kPortUnreachable);
}

TEST(Icmpv4Packet, QuotedDatagramOfAnError) {
  auto icmp = Icmpv4Packet::parse(kPortUnreachable);
  ASSERT_TRUE(icmp.ok());
  EXPECT_TRUE(icmp->is_error());
  EXPECT_TRUE(icmp->checksum_ok());
  const auto quoted = icmp->quoted_datagram();
  ASSERT_TRUE(quoted.has_value());
  auto inner = Ipv4Packet::parse_quoted(*quoted);
  ASSERT_TRUE(inner.ok()) << inner.error().message;
  EXPECT_EQ(inner->protocol(), kIpProtocolUdp);
  EXPECT_EQ(inner->source().to_string(), "10.0.2.15");
  EXPECT_EQ(inner->total_length(), 57);
  ASSERT_EQ(inner->payload().size(), 8U);
  // The first 8 bytes are the UDP header: enough for the ports.
  EXPECT_EQ(inner->payload()[0], 0xB3);
  EXPECT_EQ(inner->payload()[1], 0x31);
  // Time exceeded quotes the same way.
  auto ttl = kPortUnreachable;
  ttl[0] = kIcmpv4TimeExceeded;
  EXPECT_TRUE(Icmpv4Packet::parse(ttl)->quoted_datagram().has_value());
}

TEST(Icmpv4Header, FragmentationNeededCarriesMtu) {
  auto original = Ipv4Packet::parse(kDnsQueryPacket);
  ASSERT_TRUE(original.ok());
  const auto header = Icmpv4Header::destination_unreachable(kIcmpv4FragmentationNeeded, 1400);
  const ByteSpan quote = icmpv4_error_quote(*original);
  std::vector<std::uint8_t> out(header.length(quote.size()));
  ASSERT_TRUE(header.emit(out, quote));
  auto icmp = Icmpv4Packet::parse(out);
  ASSERT_TRUE(icmp.ok());
  EXPECT_EQ(icmp->code(), kIcmpv4FragmentationNeeded);
  EXPECT_EQ(icmp->next_hop_mtu(), 1400);
  EXPECT_TRUE(icmp->checksum_ok());
  const auto exceeded = Icmpv4Header::time_exceeded(kIcmpv4TtlExceeded);
  EXPECT_EQ(exceeded.type, kIcmpv4TimeExceeded);
  EXPECT_EQ(exceeded.rest_of_header, 0U);
}

TEST(Icmpv4ErrorQuote, ShortPayloadAndCap) {
  // A datagram with fewer than 8 payload bytes is quoted whole.
  auto original = Ipv4Packet::parse_quoted(ByteSpan(kDnsQueryPacket).first(24));
  ASSERT_TRUE(original.ok());
  EXPECT_EQ(icmpv4_error_quote(*original).size(), 24U);
  // RFC 1812 §4.3.2.3: more may be quoted, but the error stays within 576 bytes.
  std::vector<std::uint8_t> big(1500, 0);
  big[0] = 0x45;
  big[2] = 0x05;
  big[3] = 0xDC;
  auto large = Ipv4Packet::parse(big);
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(icmpv4_error_quote(*large).size(), 28U);
  EXPECT_EQ(icmpv4_error_quote(*large, 100).size(), 120U);
  EXPECT_EQ(icmpv4_error_quote(*large, 10000).size(), 576U - 20U - 8U);
}

}  // namespace
}  // namespace aero::wire
