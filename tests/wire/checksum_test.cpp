// Internet checksum (RFC 1071) and incremental update (RFC 1624): the fast sum against a naive
// reference, the RFCs' own examples, and split/odd-offset accumulation.
#include "aero/wire/checksum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace aero::wire {
namespace {

// RFC 1071 §4.1, word by word.
std::uint16_t naive_sum(ByteSpan data) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < data.size(); i += 2) {
    const std::uint32_t high = data[i];
    const std::uint32_t low = i + 1 < data.size() ? data[i + 1] : 0U;
    sum += (high << 8) | low;
    sum = (sum & 0xFFFFU) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(sum);
}

TEST(Checksum, FastSumMatchesNaiveForEveryLengthAndAlignment) {
  std::mt19937 rng(12345);
  std::vector<std::uint8_t> buffer(2000 + 16);
  for (std::size_t length = 0; length <= 2000; ++length) {
    for (auto& b : buffer) b = static_cast<std::uint8_t>(rng());
    const std::size_t offset = rng() % 16;
    const ByteSpan data(buffer.data() + offset, length);
    ASSERT_EQ(ones_complement_sum(data), naive_sum(data))
        << "length " << length << " offset " << offset;
  }
}

TEST(Checksum, CarriesAreNotLostOnAllOnesAndLargeBuffers) {
  for (const std::size_t length : {1U, 2U, 7U, 8U, 9U, 31U, 32U, 33U, 65535U, 70001U}) {
    const std::vector<std::uint8_t> ones(length, 0xFF);
    EXPECT_EQ(ones_complement_sum(ones), naive_sum(ones)) << length;
    const std::vector<std::uint8_t> mostly(length, 0xFE);
    EXPECT_EQ(ones_complement_sum(mostly), naive_sum(mostly)) << length;
  }
  EXPECT_EQ(ones_complement_sum({}), 0);
  EXPECT_EQ(internet_checksum({}), 0xFFFF);
}

TEST(Checksum, Rfc1071NumericalExample) {
  // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, so the checksum is 220d.
  const std::vector<std::uint8_t> data{0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7};
  EXPECT_EQ(ones_complement_sum(data), 0xDDF2);
  EXPECT_EQ(internet_checksum(data), 0x220D);
}

TEST(Checksum, KnownIpv4HeaderChecksum) {
  // 192.168.0.1 -> 192.168.0.199, UDP, total length 0x73: checksum b861.
  std::vector<std::uint8_t> header{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                   0x00, 0x00, 0xC0, 0xA8, 0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7};
  EXPECT_EQ(internet_checksum(header), 0xB861);
  header[10] = 0xB8;
  header[11] = 0x61;
  EXPECT_EQ(ones_complement_sum(header), 0xFFFF);
}

TEST(Checksum, AccumulatorOverPiecesEqualsTheWhole) {
  std::mt19937 rng(7);
  std::vector<std::uint8_t> data(301);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  const std::uint16_t whole = naive_sum(data);
  for (std::size_t a = 0; a <= data.size(); ++a) {
    const std::size_t b = a + (data.size() - a) / 3;
    ChecksumAccumulator sum;
    sum.add(ByteSpan(data).first(a))
        .add(ByteSpan(data).subspan(a, b - a))
        .add(ByteSpan(data).subspan(b));
    ASSERT_EQ(sum.sum(), whole) << "split at " << a << ", " << b;
    ASSERT_EQ(sum.finish(), static_cast<std::uint16_t>(~whole));
  }
  // Single odd bytes one by one.
  ChecksumAccumulator bytewise;
  for (const std::uint8_t b : data) bytewise.add(ByteSpan(&b, 1));
  EXPECT_EQ(bytewise.sum(), whole);
}

TEST(Checksum, AccumulatorFieldsAreBigEndian) {
  ChecksumAccumulator sum;
  sum.add_u16(0x1234).add_u32(0x56789ABC);
  const std::vector<std::uint8_t> bytes{0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC};
  EXPECT_EQ(sum.sum(), naive_sum(bytes));
  // After an odd byte, a u16 straddles two words.
  ChecksumAccumulator odd;
  const std::uint8_t first = 0xAB;
  odd.add(ByteSpan(&first, 1)).add_u16(0xCDEF);
  EXPECT_EQ(odd.sum(), naive_sum(std::vector<std::uint8_t>{0xAB, 0xCD, 0xEF}));
}

TEST(Checksum, PseudoHeaderSum) {
  const auto src = Ipv4Address::parse("10.0.2.15").value();
  const auto dst = Ipv4Address::parse("10.0.2.3").value();
  const std::vector<std::uint8_t> pseudo{10, 0, 2, 15, 10, 0, 2, 3, 0, 17, 0x00, 0x25};
  EXPECT_EQ(pseudo_header_sum(src, dst, 17, 0x25), naive_sum(pseudo));
}

TEST(Checksum, Rfc1624Examples) {
  // RFC 1624 §4: m = 0x5555 becomes m' = 0x3285 and the rest of the header sums to 0xCD7A, so
  // HC = 0xDD2F. Eqn. 3 gives 0x0000, the same as recomputing; eqn. 2 would give 0xFFFF.
  EXPECT_EQ(ones_complement_add(0xCD7A, 0x5555), 0x22D0);
  EXPECT_EQ(checksum_update16(0xDD2F, 0x5555, 0x3285), 0x0000);
  EXPECT_EQ(static_cast<std::uint16_t>(~ones_complement_add(0xCD7A, 0x3285)), 0x0000);
  // A no-op change keeps the checksum.
  EXPECT_EQ(checksum_update16(0x1234, 0xAAAA, 0xAAAA), 0x1234);
}

TEST(Checksum, IncrementalUpdateMatchesRecomputation) {
  std::mt19937 rng(99);
  std::vector<std::uint8_t> data(40);
  for (int round = 0; round < 2000; ++round) {
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    data[0] = 0x45;  // never all zero
    data[10] = 0;
    data[11] = 0;
    const std::uint16_t before = internet_checksum(data);
    store_be16(data, 10, before);

    const std::size_t at16 = 2 * (6 + rng() % 14);  // any even offset past the checksum
    const std::uint16_t old16 = load_be16(data, at16);
    const auto new16 = static_cast<std::uint16_t>(rng());
    store_be16(data, at16, new16);
    const std::uint16_t after16 = checksum_update16(before, old16, new16);
    store_be16(data, 10, after16);
    ASSERT_EQ(ones_complement_sum(data), 0xFFFF);

    const std::size_t at32 = 12 + 2 * (rng() % 13);
    const std::uint32_t old32 = load_be32(data, at32);
    const auto new32 = static_cast<std::uint32_t>(rng());
    store_be32(data, at32, new32);
    const std::uint16_t after32 = checksum_update32(after16, old32, new32);
    store_be16(data, 10, after32);
    ASSERT_EQ(ones_complement_sum(data), 0xFFFF);
    store_be16(data, 10, 0);
    const std::uint16_t recomputed = internet_checksum(data);
    // Recomputation and eqn. 3 agree except that either may use the other zero (0 vs 0xFFFF).
    EXPECT_TRUE(recomputed == after32 || (recomputed | after32) == 0xFFFF) << round;
  }
}

TEST(Checksum, AddressUpdateForNat) {
  std::vector<std::uint8_t> header{0x45, 0x00, 0x00, 0x54, 0x4C, 0x2E, 0x40, 0x00, 0x40, 0x01,
                                   0x00, 0x00, 10,   0,    2,    15,   8,    8,    8,    8};
  store_be16(header, 10, internet_checksum(header));
  const Ipv4Address old_src{{10, 0, 2, 15}};
  const Ipv4Address new_src{{203, 0, 113, 77}};
  const std::uint16_t updated = checksum_update_address(load_be16(header, 10), old_src, new_src);
  std::copy(new_src.bytes.begin(), new_src.bytes.end(), header.begin() + 12);
  store_be16(header, 10, 0);
  EXPECT_EQ(updated, internet_checksum(header));
}

TEST(Checksum, BigEndianHelpers) {
  std::vector<std::uint8_t> bytes(6, 0);
  store_be16(bytes, 0, 0xA1B2);
  store_be32(bytes, 2, 0xC3D4E5F6);
  EXPECT_EQ(bytes, (std::vector<std::uint8_t>{0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}));
  EXPECT_EQ(load_be16(bytes, 0), 0xA1B2);
  EXPECT_EQ(load_be32(bytes, 2), 0xC3D4E5F6U);
}

}  // namespace
}  // namespace aero::wire
