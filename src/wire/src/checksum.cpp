// The Internet checksum (RFC 1071) and incremental update (RFC 1624).
//
// The fast sum adds the buffer as native-order 32-bit halves of 64-bit loads into a 64-bit
// accumulator, folds once at the end, and swaps the result to big-endian order on little-endian
// hosts; RFC 1071 §2 (B) shows the one's-complement sum is independent of byte order, and §2 (C)
// that carries can be deferred. Loads go through std::memcpy, so any alignment is fine.
#include "aero/wire/checksum.h"

#include <array>
#include <bit>
#include <cstring>

namespace aero::wire {

namespace {

std::uint16_t swap16(std::uint16_t value) {
  return static_cast<std::uint16_t>((value << 8) | (value >> 8));
}

std::uint16_t fold(std::uint64_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xFFFFU) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

template <class T>
T load_native(const std::uint8_t* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

// Adds the two 32-bit halves: no overflow of the 64-bit accumulator before 2^31 words of 8
// bytes, far beyond any packet.
std::uint64_t add64(std::uint64_t sum, std::uint64_t word) {
  return sum + (word & 0xFFFFFFFFU) + (word >> 32);
}

}  // namespace

std::uint16_t ones_complement_sum(ByteSpan data) {
  std::uint64_t sum = 0;
  const std::uint8_t* at = data.data();
  std::size_t left = data.size();
  while (left >= 32) {
    sum = add64(sum, load_native<std::uint64_t>(at));
    sum = add64(sum, load_native<std::uint64_t>(at + 8));
    sum = add64(sum, load_native<std::uint64_t>(at + 16));
    sum = add64(sum, load_native<std::uint64_t>(at + 24));
    at += 32;
    left -= 32;
  }
  while (left >= 8) {
    sum = add64(sum, load_native<std::uint64_t>(at));
    at += 8;
    left -= 8;
  }
  if (left >= 4) {
    sum += load_native<std::uint32_t>(at);
    at += 4;
    left -= 4;
  }
  if (left >= 2) {
    sum += load_native<std::uint16_t>(at);
    at += 2;
    left -= 2;
  }
  if (left == 1) {
    // The last byte is the high byte of a word whose low byte is zero (RFC 1071 §4.1).
    const std::array<std::uint8_t, 2> last{*at, 0};
    sum += load_native<std::uint16_t>(last.data());
  }
  const std::uint16_t native = fold(sum);
  return std::endian::native == std::endian::little ? swap16(native) : native;
}

std::uint16_t ones_complement_add(std::uint16_t a, std::uint16_t b) {
  return fold(std::uint64_t{a} + b);
}

std::uint16_t internet_checksum(ByteSpan data) {
  return static_cast<std::uint16_t>(~ones_complement_sum(data));
}

ChecksumAccumulator& ChecksumAccumulator::add(ByteSpan data) {
  const std::uint16_t piece = ones_complement_sum(data);
  sum_ = ones_complement_add(sum_, odd_ ? swap16(piece) : piece);
  if ((data.size() & 1U) != 0) odd_ = !odd_;
  return *this;
}

ChecksumAccumulator& ChecksumAccumulator::add_u16(std::uint16_t value) {
  const std::array<std::uint8_t, 2> bytes{static_cast<std::uint8_t>(value >> 8),
                                          static_cast<std::uint8_t>(value)};
  return add(bytes);
}

ChecksumAccumulator& ChecksumAccumulator::add_u32(std::uint32_t value) {
  std::array<std::uint8_t, 4> bytes{};
  store_be32(bytes, 0, value);
  return add(bytes);
}

ChecksumAccumulator& ChecksumAccumulator::add(const Ipv4Address& address) {
  return add(ByteSpan(address.bytes));
}

std::uint16_t pseudo_header_sum(const Ipv4Address& source, const Ipv4Address& destination,
                                std::uint8_t protocol, std::uint16_t length) {
  ChecksumAccumulator sum;
  sum.add(source).add(destination).add_u16(protocol).add_u16(length);
  return sum.sum();
}

std::uint16_t checksum_update16(std::uint16_t checksum, std::uint16_t old_value,
                                std::uint16_t new_value) {
  // RFC 1624 §3 eqn. 3: HC' = ~(~HC + ~m + m').
  const std::uint64_t sum = std::uint64_t{static_cast<std::uint16_t>(~checksum)} +
                            static_cast<std::uint16_t>(~old_value) + new_value;
  return static_cast<std::uint16_t>(~fold(sum));
}

std::uint16_t checksum_update32(std::uint16_t checksum, std::uint32_t old_value,
                                std::uint32_t new_value) {
  const std::uint64_t sum = std::uint64_t{static_cast<std::uint16_t>(~checksum)} +
                            static_cast<std::uint16_t>(~(old_value >> 16)) +
                            static_cast<std::uint16_t>(~old_value) + (new_value >> 16) +
                            (new_value & 0xFFFFU);
  return static_cast<std::uint16_t>(~fold(sum));
}

std::uint16_t checksum_update_address(std::uint16_t checksum, const Ipv4Address& old_address,
                                      const Ipv4Address& new_address) {
  return checksum_update32(checksum, load_be32(old_address.bytes, 0),
                           load_be32(new_address.bytes, 0));
}

}  // namespace aero::wire
