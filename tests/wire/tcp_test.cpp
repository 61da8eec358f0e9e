// TCP (RFC 9293): header fields, options (RFC 7323, RFC 2018), length rules, checksum, emitter.
#include "aero/wire/tcp.h"

#include <gtest/gtest.h>

#include "support/vectors.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

namespace aero::wire {
namespace {

using aero::test::from_hex;

const Ipv4Address kGuest{{10, 0, 2, 15}};
const Ipv4Address kServer{{93, 184, 216, 34}};

// A Linux SYN, 10.0.2.15:51234 -> 93.184.216.34:80, options MSS 1460, SACK-permitted,
// timestamps (TSval 0x0002a2b3, TSecr 0), NOP, window scale 7.
const std::vector<std::uint8_t> kSyn = from_hex(
    "c8 22 00 50 6b 8b 45 67 00 00 00 00 a0 02 fa f0 ef 0a 00 00 02 04 05 b4 04 02 08 0a 00 02 "
    "a2 b3 00 00 00 00 01 03 03 07");
// An ACK with NOP NOP timestamps NOP NOP SACK(one block).
const std::vector<std::uint8_t> kSackAck = from_hex(
    "c8 22 00 50 6b 8b 45 68 1c 2d 3e 4f b0 10 01 f5 a2 90 00 00 01 01 08 0a 00 02 a2 c0 1f 2e "
    "3d 4c 01 01 05 0a 6b 8b 50 00 6b 8b 60 00");
// The server's PSH|ACK with 19 bytes of data, no options.
const std::vector<std::uint8_t> kData = from_hex(
    "00 50 c8 22 1c 2d 3e 4f 6b 8b 45 68 50 18 ff ff d0 1a 00 00 48 54 54 50 2f 31 2e 31 20 32 "
    "30 30 20 4f 4b 0d 0a 0d 0a");

TEST(TcpPacket, ParsesLinuxSyn) {
  auto tcp = TcpPacket::parse(kSyn);
  ASSERT_TRUE(tcp.ok()) << tcp.error().message;
  EXPECT_EQ(tcp->source_port(), 51234);
  EXPECT_EQ(tcp->destination_port(), 80);
  EXPECT_EQ(tcp->sequence_number(), 0x6B8B4567U);
  EXPECT_EQ(tcp->ack_number(), 0U);
  EXPECT_EQ(tcp->header_length(), 40U);
  EXPECT_EQ(tcp->flags(), kTcpSyn);
  EXPECT_TRUE(tcp->syn());
  EXPECT_FALSE(tcp->ack() || tcp->fin() || tcp->rst() || tcp->psh() || tcp->urg() || tcp->ece() ||
               tcp->cwr());
  EXPECT_EQ(tcp->window(), 64240);
  EXPECT_EQ(tcp->checksum(), 0xEF0A);
  EXPECT_EQ(tcp->urgent_pointer(), 0);
  EXPECT_TRUE(tcp->checksum_ok(kGuest, kServer));
  EXPECT_FALSE(tcp->checksum_ok(kGuest, Ipv4Address{{93, 184, 216, 35}}));
  EXPECT_TRUE(tcp->payload().empty());
  EXPECT_EQ(tcp->segment_length(), 1U);
  EXPECT_EQ(tcp->raw_options().size(), 20U);

  const TcpOptions& options = tcp->options();
  EXPECT_EQ(options.mss, 1460);
  EXPECT_TRUE(options.sack_permitted);
  EXPECT_EQ(options.window_scale, 7);
  ASSERT_TRUE(options.timestamps.has_value());
  EXPECT_EQ(options.timestamps->value, 0x0002A2B3U);
  EXPECT_EQ(options.timestamps->echo, 0U);
  EXPECT_EQ(options.sack_block_count, 0U);
}

TEST(TcpPacket, ParsesSackBlocksAndTimestamps) {
  auto tcp = TcpPacket::parse(kSackAck);
  ASSERT_TRUE(tcp.ok()) << tcp.error().message;
  EXPECT_TRUE(tcp->ack());
  EXPECT_EQ(tcp->ack_number(), 0x1C2D3E4FU);
  EXPECT_TRUE(tcp->checksum_ok(kGuest, kServer));
  const TcpOptions& options = tcp->options();
  EXPECT_FALSE(options.mss.has_value());
  EXPECT_FALSE(options.sack_permitted);
  ASSERT_EQ(options.sack_block_count, 1U);
  EXPECT_EQ(options.sack_blocks[0], (TcpSackBlock{0x6B8B5000, 0x6B8B6000}));
  EXPECT_EQ(options.timestamps, (TcpTimestamps{0x0002A2C0, 0x1F2E3D4C}));
}

TEST(TcpPacket, ParsesDataSegment) {
  auto tcp = TcpPacket::parse(kData);
  ASSERT_TRUE(tcp.ok());
  EXPECT_TRUE(tcp->psh());
  EXPECT_TRUE(tcp->ack());
  EXPECT_EQ(tcp->header_length(), 20U);
  EXPECT_TRUE(tcp->raw_options().empty());
  EXPECT_EQ(tcp->options(), TcpOptions{});
  ASSERT_EQ(tcp->payload().size(), 19U);
  EXPECT_EQ(tcp->payload()[0], 'H');
  EXPECT_EQ(tcp->segment_length(), 19U);
  EXPECT_TRUE(tcp->checksum_ok(kServer, kGuest));
  auto corrupted = kData;
  corrupted.back() ^= 0x20;
  EXPECT_FALSE(TcpPacket::parse(corrupted)->checksum_ok(kServer, kGuest));
}

TEST(TcpOptionIterator, WalksEveryOption) {
  TcpOptionIterator it(ByteSpan(kSyn).subspan(20));
  std::vector<int> kinds;
  std::vector<std::size_t> sizes;
  while (auto option = it.next()) {
    kinds.push_back(option->kind);
    sizes.push_back(option->data.size());
  }
  EXPECT_FALSE(it.malformed());
  EXPECT_EQ(kinds, (std::vector<int>{2, 4, 8, 1, 3}));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 0, 8, 0, 1}));
}

TEST(TcpOptions, EndOfListStopsAndUnknownOptionsAreSkipped) {
  // Unknown kind 30 (MPTCP) with 4 bytes, MSS, EOL, then garbage that must not be read.
  const std::vector<std::uint8_t> area{30, 4, 0xAA, 0xBB, 2, 4, 0x05, 0xDC, 0, 0xFF, 0x01, 0x00};
  auto options = parse_tcp_options(area);
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_EQ(options->mss, 1500);
  EXPECT_FALSE(options->window_scale.has_value());
  // The later copy of an option wins.
  const std::vector<std::uint8_t> twice{2, 4, 0x05, 0xB4, 2, 4, 0x02, 0x18};
  EXPECT_EQ(parse_tcp_options(twice)->mss, 536);
  EXPECT_TRUE(parse_tcp_options({}).ok());
}

TEST(TcpOptions, MalformedOptionsAreBadLength) {
  const std::vector<std::vector<std::uint8_t>> cases{
      {2},                                    // no length byte
      {30, 0},                                // length below 2
      {30, 1, 0, 0},                          // length below 2
      {30, 6, 0, 0},                          // past the end
      {2, 3, 0, 1, 1, 1, 1, 1},               // MSS length 3
      {2, 5, 0, 0, 0, 1, 1, 1},               // MSS length 5
      {3, 2, 1, 1},                           // window scale length 2
      {3, 4, 7, 0},                           // window scale length 4
      {4, 3, 0, 1},                           // SACK-permitted length 3
      {8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},   // timestamps length 9
      {5, 2, 1, 1},                           // SACK with no block
      {5, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1},   // SACK length 9
      {5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},  // SACK length 11
      {1, 1, 1, 8, 10, 0, 0, 0},              // timestamps past the end
  };
  for (const auto& area : cases) {
    auto options = parse_tcp_options(area);
    ASSERT_FALSE(options.ok()) << testing::PrintToString(area);
    EXPECT_EQ(options.error().kind, "bad_length");
  }
  // SACK with more than 4 blocks can only be built by hand: 42 bytes.
  std::vector<std::uint8_t> five(42, 0);
  five[0] = 5;
  five[1] = 42;
  EXPECT_EQ(parse_tcp_options(five).error().kind, "bad_length");
  five[1] = 34;  // 4 blocks, then 8 zero bytes (EOL)
  auto four = parse_tcp_options(five);
  ASSERT_TRUE(four.ok());
  EXPECT_EQ(four->sack_block_count, 4U);
}

TEST(TcpPacket, RejectsMalformedHeaders) {
  for (std::size_t n = 0; n < 20; ++n) {
    EXPECT_EQ(TcpPacket::parse(ByteSpan(kSyn).first(n)).error().kind, "truncated") << n;
  }
  for (std::size_t n = 20; n < 40; ++n) {  // data offset 10 needs 40 bytes
    EXPECT_EQ(TcpPacket::parse(ByteSpan(kSyn).first(n)).error().kind, "truncated") << n;
  }
  auto bytes = kSyn;
  for (std::uint8_t offset = 0; offset < 5; ++offset) {
    bytes[12] = static_cast<std::uint8_t>(offset << 4);
    EXPECT_EQ(TcpPacket::parse(bytes).error().kind, "bad_length") << int{offset};
  }
  // A bad option inside an otherwise good header fails the whole parse.
  bytes = kSyn;
  bytes[21] = 5;  // MSS length 5
  EXPECT_EQ(TcpPacket::parse(bytes).error().kind, "bad_length");
  // Data offset 6 makes the header end inside the SACK-permitted option (cut) -> the options
  // area is just MSS; the rest is payload.
  bytes = kSyn;
  bytes[12] = 0x60;
  auto shorter = TcpPacket::parse(bytes);
  ASSERT_TRUE(shorter.ok());
  EXPECT_EQ(shorter->options().mss, 1460);
  EXPECT_FALSE(shorter->options().sack_permitted);
  EXPECT_EQ(shorter->payload().size(), 16U);
  // Data offset 7 ends inside the timestamps option.
  bytes[12] = 0x70;
  EXPECT_EQ(TcpPacket::parse(bytes).error().kind, "bad_length");
}

TEST(TcpHeader, EmitRoundTripsTheSyn) {
  auto syn = TcpPacket::parse(kSyn);
  ASSERT_TRUE(syn.ok());
  TcpHeader header;
  header.source_port = syn->source_port();
  header.destination_port = syn->destination_port();
  header.sequence_number = syn->sequence_number();
  header.ack_number = syn->ack_number();
  header.flags = syn->flags();
  header.window = syn->window();
  header.options = syn->options();
  EXPECT_EQ(header.options.encoded_length(), 20U);  // 4 + 3 + 2 + 10, padded
  std::vector<std::uint8_t> out(header.length(0));
  ASSERT_TRUE(header.emit(out, {}, kGuest, kServer));
  auto parsed = TcpPacket::parse(out);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->checksum_ok(kGuest, kServer));
  EXPECT_EQ(parsed->options(), syn->options());
  EXPECT_EQ(parsed->sequence_number(), syn->sequence_number());
  EXPECT_EQ(parsed->window(), syn->window());
  EXPECT_EQ(parsed->flags(), kTcpSyn);
  EXPECT_EQ(out[39], 0);  // the padding is EOL
}

TEST(TcpHeader, EmitMatchesCapturedDataSegment) {
  TcpHeader header;
  header.source_port = 80;
  header.destination_port = 51234;
  header.sequence_number = 0x1C2D3E4F;
  header.ack_number = 0x6B8B4568;
  header.flags = kTcpPsh | kTcpAck;
  header.window = 65535;
  const ByteSpan payload = ByteSpan(kData).subspan(20);
  std::vector<std::uint8_t> out(header.length(payload.size()));
  ASSERT_TRUE(header.emit(out, payload, kServer, kGuest));
  EXPECT_EQ(out, kData);
}

TEST(TcpHeader, EmitSackBlocksAndLimits) {
  TcpHeader header;
  header.flags = kTcpAck;
  header.options.timestamps = TcpTimestamps{1, 2};
  header.options.sack_block_count = 3;
  header.options.sack_blocks[0] = {10, 20};
  header.options.sack_blocks[1] = {30, 40};
  header.options.sack_blocks[2] = {50, 60};
  EXPECT_EQ(header.options.encoded_length(), 36U);  // 10 + 26
  std::vector<std::uint8_t> out(80, 0x77);
  ASSERT_TRUE(header.emit(out, ByteSpan(out).first(3), kGuest, kServer));
  auto parsed = TcpPacket::parse(ByteSpan(out).first(header.length(3)));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->options(), header.options);
  EXPECT_EQ(parsed->payload().size(), 3U);
  EXPECT_TRUE(parsed->checksum_ok(kGuest, kServer));

  header.options.sack_block_count = 4;  // 10 + 34 = 44 > 40
  header.options.sack_blocks[3] = {70, 80};
  std::fill(out.begin(), out.end(), std::uint8_t{0x77});
  EXPECT_FALSE(header.emit(out, {}, kGuest, kServer));
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0x77; }));
  header.options.timestamps.reset();
  EXPECT_TRUE(header.emit(out, {}, kGuest, kServer));
  header.options.sack_block_count = 5;
  EXPECT_FALSE(header.emit(out, {}, kGuest, kServer));
  header.options.sack_block_count = 0;
  std::vector<std::uint8_t> small(19);
  EXPECT_FALSE(header.emit(small, {}, kGuest, kServer));
}

}  // namespace
}  // namespace aero::wire
