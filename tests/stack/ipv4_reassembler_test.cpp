// IPv4 fragment reassembly: orderings, duplicates, overlaps, limits, timeouts and the memory cap.
#include "aero/stack/ipv4_reassembler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <vector>

#include "aero/wire/checksum.h"
#include "aero/wire/ipv4.h"

namespace aero::stack {
namespace {

using namespace std::chrono_literals;

const Ipv4Address kSource{{10, 0, 2, 15}};
const Ipv4Address kDestination{{93, 184, 216, 34}};

struct Datagram {
  Ipv4Address source = kSource;
  Ipv4Address destination = kDestination;
  std::uint8_t protocol = wire::kIpProtocolUdp;
  std::uint16_t identification = 0x1234;
  bool dont_fragment = false;
  std::uint8_t ttl = 64;
  Bytes options;  // a multiple of 4 bytes, at most 40
  Bytes payload;
};

Bytes pattern(std::size_t size, std::uint32_t seed = 1) {
  Bytes out(size);
  std::mt19937 random(seed);
  for (auto& byte : out) byte = static_cast<std::uint8_t>(random());
  return out;
}

// One fragment of `d`: payload bytes [offset, offset + length), MF as given.
Bytes fragment(const Datagram& d, std::size_t offset, std::size_t length, bool more) {
  const std::size_t header_length = wire::kIpv4MinHeaderLength + d.options.size();
  Bytes out(header_length + length);
  wire::Ipv4Header header;
  header.identification = d.identification;
  header.dont_fragment = d.dont_fragment;
  header.more_fragments = more;
  header.fragment_offset = static_cast<std::uint16_t>(offset);
  header.ttl = d.ttl;
  header.protocol = d.protocol;
  header.source = d.source;
  header.destination = d.destination;
  header.payload_length = d.options.size() + length;
  EXPECT_TRUE(header.emit(out));
  if (!d.options.empty()) {
    out[0] = static_cast<std::uint8_t>(0x40U | (header_length / 4));
    std::copy(d.options.begin(), d.options.end(), out.begin() + 20);
    wire::store_be16(out, 10, 0);
    wire::store_be16(out, 10, wire::internet_checksum(ByteSpan(out).first(header_length)));
  }
  std::copy_n(d.payload.begin() + static_cast<std::ptrdiff_t>(offset), length,
              out.begin() + static_cast<std::ptrdiff_t>(header_length));
  return out;
}

// Cuts `d` into fragments of `size` data bytes (a multiple of 8), in order.
std::vector<Bytes> fragments(const Datagram& d, std::size_t size) {
  std::vector<Bytes> out;
  for (std::size_t at = 0; at < d.payload.size(); at += size) {
    const std::size_t length = std::min(size, d.payload.size() - at);
    out.push_back(fragment(d, at, length, at + length < d.payload.size()));
  }
  return out;
}

ReassemblyOutcome feed(Ipv4Reassembler& reassembler, const Bytes& bytes, Instant now = Instant{}) {
  auto packet = wire::Ipv4Packet::parse(bytes);
  EXPECT_TRUE(packet.ok());
  return reassembler.add(packet.value(), now);
}

// The completed datagram carries the offset-0 fragment's header made whole, and all the data.
void expect_datagram(const ReassemblyOutcome& outcome, const Datagram& d) {
  ASSERT_TRUE(outcome.complete());
  auto ip = wire::Ipv4Packet::parse(outcome.datagram);
  ASSERT_TRUE(ip.ok());
  EXPECT_TRUE(ip->checksum_ok());
  EXPECT_FALSE(ip->is_fragment());
  EXPECT_FALSE(ip->more_fragments());
  EXPECT_EQ(ip->fragment_offset(), 0);
  EXPECT_EQ(ip->dont_fragment(), d.dont_fragment);
  EXPECT_EQ(ip->total_length(), outcome.datagram.size());
  EXPECT_EQ(ip->header_length(), 20 + d.options.size());
  EXPECT_TRUE(
      std::equal(ip->options().begin(), ip->options().end(), d.options.begin(), d.options.end()));
  EXPECT_EQ(ip->identification(), d.identification);
  EXPECT_EQ(ip->protocol(), d.protocol);
  EXPECT_EQ(ip->source(), d.source);
  EXPECT_EQ(ip->destination(), d.destination);
  EXPECT_EQ(ip->ttl(), d.ttl);
  ASSERT_EQ(ip->payload().size(), d.payload.size());
  EXPECT_TRUE(std::equal(ip->payload().begin(), ip->payload().end(), d.payload.begin()));
}

// Feeds `frames` in the given order: every one but the last is pending, the last completes.
void expect_reassembles(Ipv4Reassembler& reassembler, const std::vector<Bytes>& frames,
                        const Datagram& d) {
  for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
    const auto outcome = feed(reassembler, frames[i]);
    ASSERT_TRUE(outcome.pending()) << "fragment " << i;
  }
  expect_datagram(feed(reassembler, frames.back()), d);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 0U);
  EXPECT_EQ(reassembler.bytes_buffered(), 0U);
}

TEST(Ipv4ReassemblerTest, InOrder) {
  Ipv4Reassembler reassembler;
  const Datagram d{.payload = pattern(3000)};
  const auto frames = fragments(d, 1480);
  ASSERT_EQ(frames.size(), 3U);
  expect_reassembles(reassembler, frames, d);
  EXPECT_EQ(reassembler.stats().reassembled, 1U);
  EXPECT_EQ(reassembler.stats().fragments, 3U);
  EXPECT_EQ(reassembler.stats().refused(), 0U);
}

TEST(Ipv4ReassemblerTest, ReverseOrder) {
  Ipv4Reassembler reassembler;
  const Datagram d{.dont_fragment = true, .payload = pattern(4001)};
  auto frames = fragments(d, 1000 / 8 * 8);
  std::reverse(frames.begin(), frames.end());
  expect_reassembles(reassembler, frames, d);
}

TEST(Ipv4ReassemblerTest, RandomOrder) {
  Ipv4Reassembler reassembler;
  std::mt19937 random(7);
  for (const std::size_t size : {8U, 16U, 64U, 256U, 264U, 512U, 1480U}) {
    for (std::uint32_t round = 0; round < 5; ++round) {
      const Datagram d{.identification = static_cast<std::uint16_t>(size + round),
                       .payload = pattern(1 + random() % 9000, round)};
      auto frames = fragments(d, size);
      if (frames.size() < 2) continue;
      std::shuffle(frames.begin(), frames.end(), random);
      expect_reassembles(reassembler, frames, d);
    }
  }
  EXPECT_EQ(reassembler.stats().refused(), 0U);
}

TEST(Ipv4ReassemblerTest, InterleavedDatagrams) {
  Ipv4Reassembler reassembler;
  const Datagram a{.identification = 1, .payload = pattern(2500, 1)};
  const Datagram b{.identification = 2, .payload = pattern(2500, 2)};
  const auto fa = fragments(a, 1000 / 8 * 8);
  const auto fb = fragments(b, 1000 / 8 * 8);
  ASSERT_EQ(fa.size(), 3U);
  EXPECT_TRUE(feed(reassembler, fa[0]).pending());
  EXPECT_TRUE(feed(reassembler, fb[2]).pending());
  EXPECT_TRUE(feed(reassembler, fa[2]).pending());
  EXPECT_TRUE(feed(reassembler, fb[0]).pending());
  EXPECT_EQ(reassembler.datagrams_in_progress(), 2U);
  expect_datagram(feed(reassembler, fb[1]), b);
  expect_datagram(feed(reassembler, fa[1]), a);
}

TEST(Ipv4ReassemblerTest, KeyIsSourceDestinationProtocolAndIdentification) {
  Ipv4Reassembler reassembler;
  const Datagram base{.payload = pattern(100)};
  Datagram other_protocol = base;
  other_protocol.protocol = wire::kIpProtocolTcp;
  Datagram other_source = base;
  other_source.source = Ipv4Address{{10, 0, 2, 16}};
  Datagram other_destination = base;
  other_destination.destination = Ipv4Address{{1, 1, 1, 1}};
  Datagram other_id = base;
  other_id.identification = 0x4321;
  const std::array<const Datagram*, 5> all = {&base, &other_protocol, &other_source,
                                              &other_destination, &other_id};
  for (const Datagram* d : all) {
    EXPECT_TRUE(feed(reassembler, fragment(*d, 0, 48, true)).pending());
  }
  EXPECT_EQ(reassembler.datagrams_in_progress(), 5U);
  for (const Datagram* d : all) {
    expect_datagram(feed(reassembler, fragment(*d, 48, 52, false)), *d);
  }
}

TEST(Ipv4ReassemblerTest, IdenticalDuplicatesAreIgnored) {
  Ipv4Reassembler reassembler;
  const Datagram d{.payload = pattern(3000)};
  const auto frames = fragments(d, 1480);
  EXPECT_TRUE(feed(reassembler, frames[2]).pending());
  EXPECT_TRUE(feed(reassembler, frames[2]).pending());
  EXPECT_TRUE(feed(reassembler, frames[0]).pending());
  EXPECT_TRUE(feed(reassembler, frames[0]).pending());
  EXPECT_TRUE(feed(reassembler, frames[2]).pending());
  expect_datagram(feed(reassembler, frames[1]), d);
  EXPECT_EQ(reassembler.stats().duplicates, 3U);
  EXPECT_EQ(reassembler.stats().refused(), 0U);
  // A duplicate after completion starts a new datagram that will time out.
  EXPECT_TRUE(feed(reassembler, frames[1]).pending());
  EXPECT_EQ(reassembler.datagrams_in_progress(), 1U);
}

TEST(Ipv4ReassemblerTest, IdenticalOverlapsAreAccepted) {
  Ipv4Reassembler reassembler;
  const Datagram d{.payload = pattern(100)};
  EXPECT_TRUE(feed(reassembler, fragment(d, 0, 32, true)).pending());
  EXPECT_TRUE(feed(reassembler, fragment(d, 16, 40, true)).pending());  // [16, 56)
  EXPECT_TRUE(feed(reassembler, fragment(d, 8, 64, true)).pending());   // [8, 72)
  expect_datagram(feed(reassembler, fragment(d, 64, 36, false)), d);    // [64, 100)
  EXPECT_EQ(reassembler.stats().overlap, 0U);
}

TEST(Ipv4ReassemblerTest, ConflictingOverlapDropsTheDatagram) {
  Ipv4Reassembler reassembler;
  const Datagram d{.payload = pattern(100)};
  Datagram forged = d;
  forged.payload[20] ^= 0xFF;
  EXPECT_TRUE(feed(reassembler, fragment(d, 0, 32, true)).pending());
  EXPECT_TRUE(feed(reassembler, fragment(d, 64, 36, false)).pending());
  EXPECT_GT(reassembler.bytes_buffered(), 0U);
  const auto outcome = feed(reassembler, fragment(forged, 16, 48, true));  // [16, 64)
  ASSERT_TRUE(outcome.dropped());
  EXPECT_EQ(outcome.reason, ReassemblyDrop::overlap);
  EXPECT_EQ(reassembler.stats().overlap, 1U);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 0U);
  EXPECT_EQ(reassembler.bytes_buffered(), 0U);
  // The rest of the original cannot complete the dropped datagram: it starts afresh.
  EXPECT_TRUE(feed(reassembler, fragment(d, 32, 32, true)).pending());
  EXPECT_EQ(reassembler.stats().reassembled, 0U);

  // A conflict inside the last fragment's partial unit counts too.
  Ipv4Reassembler second;
  Datagram forged_tail = d;
  forged_tail.payload[99] ^= 0x01;
  EXPECT_TRUE(feed(second, fragment(d, 96, 4, false)).pending());
  EXPECT_TRUE(feed(second, fragment(d, 96, 4, false)).pending());
  EXPECT_EQ(feed(second, fragment(forged_tail, 96, 4, false)).reason, ReassemblyDrop::overlap);
  EXPECT_EQ(second.bytes_buffered(), 0U);
}

TEST(Ipv4ReassemblerTest, TinyEightByteFragments) {
  Ipv4Reassembler reassembler;
  const Datagram d{.payload = pattern(1003)};
  auto frames = fragments(d, 8);
  ASSERT_EQ(frames.size(), 126U);
  std::shuffle(frames.begin(), frames.end(), std::mt19937(3));
  for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
    ASSERT_TRUE(feed(reassembler, frames[i]).pending());
    EXPECT_LE(reassembler.bytes_buffered(), 4 * Ipv4Reassembler::kBlockSize);
  }
  expect_datagram(feed(reassembler, frames.back()), d);
}

TEST(Ipv4ReassemblerTest, LargestDatagram) {
  Ipv4Reassembler reassembler;
  const Datagram d{.payload = pattern(65535 - 20)};
  auto frames = fragments(d, 1480);
  std::shuffle(frames.begin(), frames.end(), std::mt19937(5));
  expect_reassembles(reassembler, frames, d);
  EXPECT_EQ(reassembler.stats().too_big, 0U);

  // One byte more is the ping of death: the datagram is dropped.
  const Datagram big{.identification = 9, .payload = pattern(65535 - 20 + 1)};
  EXPECT_TRUE(feed(reassembler, fragment(big, 0, 1480, true)).pending());
  const auto outcome = feed(reassembler, fragment(big, 65512, 4, false));
  ASSERT_TRUE(outcome.dropped());
  EXPECT_EQ(outcome.reason, ReassemblyDrop::too_big);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 0U);
  EXPECT_EQ(reassembler.bytes_buffered(), 0U);
}

TEST(Ipv4ReassemblerTest, OptionsInTheFirstFragmentCountTowardsTheSize) {
  Ipv4Reassembler reassembler;
  // Router alert (RFC 2113): the first fragment's options are the datagram's.
  const Bytes options{0x94, 0x04, 0x00, 0x00};
  const Datagram fits{.ttl = 9, .options = options, .payload = pattern(65535 - 24)};
  auto frames = fragments(fits, 8192);
  std::reverse(frames.begin(), frames.end());
  expect_reassembles(reassembler, frames, fits);

  // 65535 - 20 data bytes fit a bare header, but not the offset-0 fragment's 24-byte header,
  // which arrives last and is checked against everything already held.
  Datagram too_big{.identification = 2, .payload = pattern(65535 - 20)};
  auto rest = fragments(too_big, 8192);
  for (std::size_t i = 1; i < rest.size(); ++i) EXPECT_TRUE(feed(reassembler, rest[i]).pending());
  too_big.options = options;
  const auto outcome = feed(reassembler, fragment(too_big, 0, 8192, true));
  EXPECT_EQ(outcome.reason, ReassemblyDrop::too_big);
  EXPECT_EQ(reassembler.bytes_buffered(), 0U);
}

TEST(Ipv4ReassemblerTest, SmallerMaximumDatagramSize) {
  Ipv4Reassembler reassembler({.max_datagram_size = 1500});
  const Datagram fits{.payload = pattern(1480)};
  expect_reassembles(reassembler, fragments(fits, 800), fits);
  const Datagram too_big{.identification = 2, .payload = pattern(1481)};
  const auto frames = fragments(too_big, 800);
  EXPECT_TRUE(feed(reassembler, frames[0]).pending());
  EXPECT_EQ(feed(reassembler, frames[1]).reason, ReassemblyDrop::too_big);
  EXPECT_EQ(reassembler.stats().too_big, 1U);
}

TEST(Ipv4ReassemblerTest, MalformedAndInconsistentFragments) {
  Ipv4Reassembler reassembler;
  const Datagram d{.payload = pattern(200)};
  auto count = [&] { return reassembler.stats().bad_fragment; };

  // Not a fragment at all.
  EXPECT_EQ(feed(reassembler, fragment(d, 0, 200, false)).reason, ReassemblyDrop::bad_fragment);
  EXPECT_EQ(count(), 1U);
  // No data.
  EXPECT_EQ(feed(reassembler, fragment(d, 8, 0, true)).reason, ReassemblyDrop::bad_fragment);
  EXPECT_EQ(feed(reassembler, fragment(d, 200, 0, false)).reason, ReassemblyDrop::bad_fragment);
  // RFC 791 §3.2: MF set but not a multiple of 8 bytes.
  EXPECT_EQ(feed(reassembler, fragment(d, 0, 12, true)).reason, ReassemblyDrop::bad_fragment);
  EXPECT_EQ(count(), 4U);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 0U);

  // A second last fragment with another end drops the datagram.
  EXPECT_TRUE(feed(reassembler, fragment(d, 0, 64, true)).pending());
  EXPECT_TRUE(feed(reassembler, fragment(d, 160, 40, false)).pending());
  EXPECT_EQ(feed(reassembler, fragment(d, 160, 39, false)).reason, ReassemblyDrop::bad_fragment);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 0U);
  EXPECT_EQ(count(), 5U);

  // Data past the end the last fragment set.
  EXPECT_TRUE(feed(reassembler, fragment(d, 64, 16, false)).pending());  // claims end 80
  EXPECT_EQ(feed(reassembler, fragment(d, 64, 24, true)).reason, ReassemblyDrop::bad_fragment);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 0U);

  // A last fragment ending before data already held.
  EXPECT_TRUE(feed(reassembler, fragment(d, 64, 96, true)).pending());  // [64, 160)
  EXPECT_EQ(feed(reassembler, fragment(d, 64, 40, false)).reason, ReassemblyDrop::bad_fragment);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 0U);
  EXPECT_EQ(count(), 7U);
  EXPECT_EQ(reassembler.bytes_buffered(), 0U);
  EXPECT_EQ(reassembler.stats().refused(), count());
}

TEST(Ipv4ReassemblerTest, TimeoutFreesTheDatagram) {
  Ipv4Reassembler reassembler;
  EXPECT_EQ(reassembler.next_deadline(), std::nullopt);
  const Instant t0 = Instant{} + 1000s;
  const Datagram d{.payload = pattern(3000)};
  const auto frames = fragments(d, 1480);
  EXPECT_TRUE(feed(reassembler, frames[0], t0).pending());
  EXPECT_TRUE(feed(reassembler, frames[1], t0 + 10s).pending());
  EXPECT_EQ(reassembler.next_deadline(), t0 + 30s) << "fixed when the first fragment arrived";
  reassembler.expire(t0 + 29s);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 1U);
  reassembler.expire(t0 + 30s);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 0U);
  EXPECT_EQ(reassembler.bytes_buffered(), 0U);
  EXPECT_EQ(reassembler.stats().timed_out, 1U);
  EXPECT_EQ(reassembler.next_deadline(), std::nullopt);

  // add() expires stale datagrams itself: the late last fragment starts a new datagram.
  EXPECT_TRUE(feed(reassembler, frames[0], t0 + 40s).pending());
  EXPECT_TRUE(feed(reassembler, frames[2], t0 + 71s).pending());
  EXPECT_EQ(reassembler.stats().timed_out, 2U);
  EXPECT_EQ(reassembler.next_deadline(), t0 + 101s);

  Ipv4Reassembler quick({.timeout = 2s});
  EXPECT_TRUE(feed(quick, frames[0], t0).pending());
  EXPECT_EQ(quick.next_deadline(), t0 + 2s);
}

TEST(Ipv4ReassemblerTest, FullSlotsRefuseNewDatagramsUntilOneFrees) {
  Ipv4Reassembler reassembler({.max_datagrams = 2});
  const Datagram a{.identification = 1, .payload = pattern(100)};
  const Datagram b{.identification = 2, .payload = pattern(100)};
  const Datagram c{.identification = 3, .payload = pattern(100)};
  EXPECT_TRUE(feed(reassembler, fragment(a, 0, 48, true)).pending());
  EXPECT_TRUE(feed(reassembler, fragment(b, 0, 48, true)).pending());
  EXPECT_EQ(feed(reassembler, fragment(c, 0, 48, true)).reason, ReassemblyDrop::no_slot);
  // Datagrams in progress still complete (no eviction).
  expect_datagram(feed(reassembler, fragment(a, 48, 52, false)), a);
  EXPECT_TRUE(feed(reassembler, fragment(c, 0, 48, true)).pending());
  EXPECT_EQ(reassembler.stats().no_slot, 1U);
}

TEST(Ipv4ReassemblerTest, ByteCapRefusesFragmentsAndDropsTheirDatagram) {
  constexpr std::size_t kBlock = Ipv4Reassembler::kBlockSize;
  Ipv4Reassembler reassembler({.max_buffered_bytes = 4 * kBlock + 100});
  EXPECT_EQ(reassembler.capacity_bytes(), 4 * kBlock) << "whole blocks";
  const Datagram a{.identification = 1, .payload = pattern(4 * kBlock)};
  const Datagram b{.identification = 2, .payload = pattern(4 * kBlock)};
  EXPECT_TRUE(feed(reassembler, fragment(a, 0, 2 * kBlock, true)).pending());
  EXPECT_EQ(reassembler.bytes_buffered(), 2 * kBlock);
  // A new datagram that does not fit is refused; nothing of it is kept.
  EXPECT_EQ(feed(reassembler, fragment(b, 0, 3 * kBlock, true)).reason, ReassemblyDrop::byte_cap);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 1U);
  EXPECT_EQ(reassembler.bytes_buffered(), 2 * kBlock);
  EXPECT_TRUE(feed(reassembler, fragment(b, 0, kBlock, true)).pending());
  // A datagram in progress that cannot take its next fragment is dropped, freeing its blocks.
  EXPECT_EQ(feed(reassembler, fragment(a, 2 * kBlock, 2 * kBlock, false)).reason,
            ReassemblyDrop::byte_cap);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 1U);
  EXPECT_EQ(reassembler.bytes_buffered(), kBlock);
  expect_datagram(feed(reassembler, fragment(b, kBlock, 3 * kBlock, false)), b);
  EXPECT_EQ(reassembler.stats().byte_cap, 2U);
}

// A peer sprays first-seen fragments of distinct datagrams with random sizes and offsets: the
// buffered bytes never pass the cap, and every fragment is either held or counted as refused.
TEST(Ipv4ReassemblerTest, FloodOfDistinctIdentifiersStaysWithinTheCaps) {
  const Ipv4ReassemblyLimits limits{.max_datagrams = 64};  // and the default 256 KiB
  Ipv4Reassembler reassembler(limits);
  std::mt19937 random(11);
  std::array<std::uint64_t, 6> refused_by_reason{};
  std::uint64_t pending = 0;
  std::uint64_t complete = 0;
  std::size_t peak = 0;
  Instant now{};
  constexpr std::size_t kFragments = 20000;
  for (std::size_t i = 0; i < kFragments; ++i) {
    Datagram d{.identification = static_cast<std::uint16_t>(i)};
    d.source.bytes[3] = static_cast<std::uint8_t>(random());
    // Small fragments run out of slots, fragments of up to 16 KiB out of bytes.
    const std::size_t length = 8 * (1 + random() % (random() % 2 == 0 ? 2048 : 32));
    const std::size_t offset = 8 * (random() % 8190);  // up to 65512
    d.payload = Bytes(offset + length, static_cast<std::uint8_t>(i));
    const auto outcome = feed(reassembler, fragment(d, offset, length, random() % 4 != 0), now);
    if (outcome.pending()) ++pending;
    if (outcome.complete()) ++complete;
    if (outcome.dropped()) ++refused_by_reason[static_cast<std::size_t>(outcome.reason)];
    peak = std::max(peak, reassembler.bytes_buffered());
    ASSERT_LE(reassembler.bytes_buffered(), limits.max_buffered_bytes);
    ASSERT_LE(reassembler.datagrams_in_progress(), limits.max_datagrams);
    now += 5ms;  // 100 s in all: the timeout recycles the slots a few times
  }
  const auto& stats = reassembler.stats();
  EXPECT_EQ(stats.fragments, kFragments);
  EXPECT_EQ(complete, 0U);
  EXPECT_EQ(pending + stats.refused(), kFragments);
  EXPECT_EQ(refused_by_reason[static_cast<std::size_t>(ReassemblyDrop::no_slot)], stats.no_slot);
  EXPECT_EQ(refused_by_reason[static_cast<std::size_t>(ReassemblyDrop::byte_cap)], stats.byte_cap);
  EXPECT_EQ(refused_by_reason[static_cast<std::size_t>(ReassemblyDrop::too_big)], stats.too_big);
  EXPECT_EQ(refused_by_reason[static_cast<std::size_t>(ReassemblyDrop::bad_fragment)],
            stats.bad_fragment);
  EXPECT_EQ(refused_by_reason[static_cast<std::size_t>(ReassemblyDrop::overlap)], 0U);
  EXPECT_GT(stats.no_slot, 0U);
  EXPECT_GT(stats.byte_cap, 0U);
  EXPECT_GT(stats.too_big, 0U);
  EXPECT_GT(peak, limits.max_buffered_bytes * 9 / 10) << "the flood did press on the cap";

  // Every datagram the flood started is freed by the timeout, none by anything else.
  reassembler.expire(now + limits.timeout);
  EXPECT_EQ(reassembler.bytes_buffered(), 0U);
  EXPECT_EQ(reassembler.datagrams_in_progress(), 0U);
  EXPECT_EQ(stats.timed_out, pending);
  // Then a legitimate datagram goes through.
  const Datagram legit{.identification = 0xFFFF, .payload = pattern(3000)};
  expect_reassembles(reassembler, fragments(legit, 1480), legit);
}

TEST(Ipv4ReassemblerTest, LimitsValidation) {
  EXPECT_TRUE(Ipv4ReassemblyLimits{}.validate().ok());
  EXPECT_FALSE(Ipv4ReassemblyLimits{.max_datagrams = 0}.validate().ok());
  EXPECT_FALSE(Ipv4ReassemblyLimits{.max_buffered_bytes = 8}.validate().ok());
  EXPECT_FALSE(Ipv4ReassemblyLimits{.max_datagram_size = 575}.validate().ok());
  EXPECT_FALSE(Ipv4ReassemblyLimits{.max_datagram_size = 65536}.validate().ok());
  EXPECT_FALSE(Ipv4ReassemblyLimits{.timeout = 0s}.validate().ok());
  EXPECT_EQ(Ipv4ReassemblyLimits{.max_datagrams = 0}.validate().error().kind, "bad_config");

  // Out-of-range values are clamped rather than trusted.
  Ipv4Reassembler clamped(
      {.max_datagrams = 0, .max_buffered_bytes = 1, .max_datagram_size = 1, .timeout = -1s});
  EXPECT_EQ(clamped.limits().max_datagrams, 1U);
  EXPECT_EQ(clamped.capacity_bytes(), Ipv4Reassembler::kBlockSize);
  EXPECT_EQ(clamped.limits().max_datagram_size, 576U);
  EXPECT_EQ(clamped.limits().timeout, 30s);
  EXPECT_EQ(Ipv4Reassembler().capacity_bytes(), 256U * 1024U);

  EXPECT_EQ(reassembly_drop_name(ReassemblyDrop::byte_cap), "byte_cap");
  EXPECT_EQ(reassembly_drop_name(static_cast<ReassemblyDrop>(99)), "unknown");
}

}  // namespace
}  // namespace aero::stack
