// UDP datagrams (RFC 768).
//
//   0  u16 source port     2  u16 destination port
//   4  u16 length (header + data, >= 8)    6  u16 checksum (0: none, for IPv4)
//   8  ... data
//
// parse() checks, once: at least 8 bytes, 8 <= length <= the buffer; data = [8, length), so
// bytes after the length (IP-level padding) are ignored. The checksum is not checked by
// parse(); the caller asks checksum_ok(source, destination) and counts.
//
// Errors: "truncated" (fewer than 8 bytes, or fewer than the length field), "bad_length"
// (length < 8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "aero/base/bytes.h"
#include "aero/base/ip_address.h"
#include "aero/base/result.h"
#include "aero/wire/checksum.h"

namespace aero::wire {

inline constexpr std::size_t kUdpHeaderLength = 8;

class UdpPacket {
 public:
  static Result<UdpPacket> parse(ByteSpan bytes);

  std::uint16_t source_port() const { return load_be16(bytes_, 0); }
  std::uint16_t destination_port() const { return load_be16(bytes_, 2); }
  std::uint16_t length() const { return load_be16(bytes_, 4); }
  std::uint16_t checksum() const { return load_be16(bytes_, 6); }
  bool has_checksum() const { return checksum() != 0; }
  // True when the checksum field is 0 ("no checksum", RFC 768) or the pseudo-header, header and
  // data sum to 0xFFFF.
  bool checksum_ok(const Ipv4Address& source, const Ipv4Address& destination) const;

  ByteSpan header() const { return bytes_.first(kUdpHeaderLength); }
  ByteSpan payload() const { return bytes_.subspan(kUdpHeaderLength); }
  ByteSpan datagram() const { return bytes_; }  // the first length() bytes

 private:
  explicit UdpPacket(ByteSpan bytes) : bytes_(bytes) {}
  ByteSpan bytes_;
};

struct UdpHeader {
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;

  std::size_t length(std::size_t payload_length) const { return kUdpHeaderLength + payload_length; }
  // Writes the header and `payload` (which may already be in place right after the header)
  // with the length and the pseudo-header checksum (a computed 0 is sent as 0xFFFF, RFC 768).
  // False (nothing written) when `out` is shorter than length(payload.size()) or that does not
  // fit the 16-bit length field.
  bool emit(std::span<std::uint8_t> out, ByteSpan payload, const Ipv4Address& source,
            const Ipv4Address& destination) const;
};

}  // namespace aero::wire
