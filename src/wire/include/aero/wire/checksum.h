// The Internet checksum (RFC 1071), the IPv4 pseudo-header sum used by UDP and TCP (RFC 768,
// RFC 9293 §3.1), and incremental checksum update (RFC 1624), plus the big-endian field helpers
// the packet views and emitters share.
//
// Sums are one's-complement sums of big-endian 16-bit words, folded to 16 bits and not yet
// complemented; a checksum is the complement of a sum. A packet whose stored checksum is right
// sums (including that checksum) to 0xFFFF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "aero/base/bytes.h"
#include "aero/base/ip_address.h"

namespace aero::wire {

// Big-endian loads and stores at a fixed offset. Callers only pass offsets inside a span whose
// size they have already checked.
inline std::uint16_t load_be16(ByteSpan bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}
inline std::uint32_t load_be32(ByteSpan bytes, std::size_t at) {
  return (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) |
         (std::uint32_t{bytes[at + 2]} << 8) | std::uint32_t{bytes[at + 3]};
}
inline void store_be16(std::span<std::uint8_t> bytes, std::size_t at, std::uint16_t value) {
  bytes[at] = static_cast<std::uint8_t>(value >> 8);
  bytes[at + 1] = static_cast<std::uint8_t>(value);
}
inline void store_be32(std::span<std::uint8_t> bytes, std::size_t at, std::uint32_t value) {
  bytes[at] = static_cast<std::uint8_t>(value >> 24);
  bytes[at + 1] = static_cast<std::uint8_t>(value >> 16);
  bytes[at + 2] = static_cast<std::uint8_t>(value >> 8);
  bytes[at + 3] = static_cast<std::uint8_t>(value);
}

// One's-complement sum of `data` read as big-endian 16-bit words from an even offset; an odd
// final byte is padded with a zero byte (RFC 1071 §4.1). Works 8 bytes at a time with a 64-bit
// accumulator (RFC 1071 §2 (B)-(C): byte order independence and deferred carries).
std::uint16_t ones_complement_sum(ByteSpan data);

// a + b with the end-around carry.
std::uint16_t ones_complement_add(std::uint16_t a, std::uint16_t b);

// The RFC 1071 checksum of `data`: the complement of its sum.
std::uint16_t internet_checksum(ByteSpan data);

// Sums a message given in pieces of any length, as if they were one contiguous buffer: a piece
// that starts at an odd offset of the message is summed and byte-swapped (RFC 1071 §2 (B)).
class ChecksumAccumulator {
 public:
  ChecksumAccumulator& add(ByteSpan data);
  ChecksumAccumulator& add_u16(std::uint16_t value);  // two big-endian bytes
  ChecksumAccumulator& add_u32(std::uint32_t value);  // four big-endian bytes
  ChecksumAccumulator& add(const Ipv4Address& address);

  std::uint16_t sum() const { return sum_; }
  std::uint16_t finish() const { return static_cast<std::uint16_t>(~sum_); }

 private:
  std::uint16_t sum_ = 0;
  bool odd_ = false;  // an odd number of bytes has been added so far
};

// Sum of the IPv4 pseudo-header (RFC 768; RFC 9293 §3.1): source, destination, a zero byte,
// protocol, and the UDP or TCP length (header plus data).
std::uint16_t pseudo_header_sum(const Ipv4Address& source, const Ipv4Address& destination,
                                std::uint8_t protocol, std::uint16_t length);

// RFC 1624 §3 eqn. 3: the checksum after a 16-bit field of the covered data changes from
// old_value to new_value, HC' = ~(~HC + ~m + m'). The caller keeps protocol rules: a UDP
// checksum of 0 means "none" and stays 0, and a UDP result of 0 is sent as 0xFFFF (RFC 768).
std::uint16_t checksum_update16(std::uint16_t checksum, std::uint16_t old_value,
                                std::uint16_t new_value);
// The same for a 32-bit field at an even offset (both of its 16-bit halves).
std::uint16_t checksum_update32(std::uint16_t checksum, std::uint32_t old_value,
                                std::uint32_t new_value);
// The same for an IPv4 address (NAT rewriting a header or a pseudo-header address).
std::uint16_t checksum_update_address(std::uint16_t checksum, const Ipv4Address& old_address,
                                      const Ipv4Address& new_address);

}  // namespace aero::wire
