// IPv4 packets (RFC 791 §3.1).
//
//   0  u8  version (4) | IHL (header length in 32-bit words, 5..15)
//   1  u8  DSCP (6 bits) | ECN (2 bits)        (RFC 2474, RFC 3168)
//   2  u16 total length (header + data)
//   4  u16 identification
//   6  u16 flags (reserved, DF, MF) | fragment offset (13 bits, in 8-byte units)
//   8  u8  TTL       9  u8 protocol      10  u16 header checksum
//  12  4B  source   16  4B destination    20  options (IHL * 4 - 20 bytes), then the data
//
// parse() checks, once: at least 20 bytes, version 4, IHL >= 5, IHL * 4 <= total length, total
// length <= the buffer. Bytes after the total length (Ethernet padding) are ignored. The header
// checksum is not checked by parse(); the caller asks checksum_ok() and counts.
//
// Errors: "truncated" (the buffer ends before 20 bytes, the header or the total length),
// "bad_version", "bad_length" (IHL < 5, or total length < IHL * 4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "aero/base/bytes.h"
#include "aero/base/ip_address.h"
#include "aero/base/result.h"
#include "aero/wire/checksum.h"

namespace aero::wire {

inline constexpr std::uint8_t kIpProtocolIcmp = 1;
inline constexpr std::uint8_t kIpProtocolTcp = 6;
inline constexpr std::uint8_t kIpProtocolUdp = 17;
inline constexpr std::size_t kIpv4MinHeaderLength = 20;
inline constexpr std::size_t kIpv4MaxHeaderLength = 60;
inline constexpr std::size_t kIpv4MaxTotalLength = 65535;
inline constexpr std::size_t kIpv4MinReassemblyLength = 576;  // RFC 791 §3.1, RFC 1122 §3.3.2

class Ipv4Packet {
 public:
  static Result<Ipv4Packet> parse(ByteSpan bytes);
  // For the datagram quoted inside an ICMP error (RFC 792), which is cut short by design: the
  // header must be complete and consistent as in parse(), but the buffer may end before the
  // total length; payload() is then what is present.
  static Result<Ipv4Packet> parse_quoted(ByteSpan bytes);

  std::uint8_t version() const { return static_cast<std::uint8_t>(bytes_[0] >> 4); }
  std::size_t header_length() const { return header_length_; }  // bytes
  std::uint8_t dscp() const { return static_cast<std::uint8_t>(bytes_[1] >> 2); }
  std::uint8_t ecn() const { return static_cast<std::uint8_t>(bytes_[1] & 0x03U); }
  std::uint16_t total_length() const { return load_be16(bytes_, 2); }
  std::uint16_t identification() const { return load_be16(bytes_, 4); }
  bool reserved_flag() const { return (bytes_[6] & 0x80U) != 0; }
  bool dont_fragment() const { return (bytes_[6] & 0x40U) != 0; }
  bool more_fragments() const { return (bytes_[6] & 0x20U) != 0; }
  std::uint16_t fragment_offset() const;  // in bytes (the field times 8)
  bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
  std::uint8_t ttl() const { return bytes_[8]; }
  std::uint8_t protocol() const { return bytes_[9]; }
  std::uint16_t header_checksum() const { return load_be16(bytes_, 10); }
  Ipv4Address source() const;
  Ipv4Address destination() const;
  // RFC 791 §3.1: the header's one's-complement sum, checksum included, is 0xFFFF.
  bool checksum_ok() const;

  ByteSpan options() const { return bytes_.subspan(20, header_length_ - 20); }
  ByteSpan header() const { return bytes_.first(header_length_); }
  ByteSpan payload() const { return bytes_.subspan(header_length_); }
  // Header and payload: the first total_length() bytes (fewer for a quoted datagram).
  ByteSpan packet() const { return bytes_; }

 private:
  Ipv4Packet(ByteSpan bytes, std::size_t header_length)
      : bytes_(bytes), header_length_(header_length) {}

  ByteSpan bytes_;
  std::size_t header_length_ = kIpv4MinHeaderLength;
};

// Emitter for a 20-byte header without options; the caller writes the payload after it.
struct Ipv4Header {
  std::uint8_t dscp_ecn = 0;  // the whole second byte
  std::uint16_t identification = 0;
  bool dont_fragment = false;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // in bytes; a multiple of 8
  std::uint8_t ttl = 64;
  std::uint8_t protocol = 0;
  Ipv4Address source;
  Ipv4Address destination;
  std::size_t payload_length = 0;

  std::size_t header_length() const { return kIpv4MinHeaderLength; }
  std::size_t total_length() const { return kIpv4MinHeaderLength + payload_length; }
  // Writes the 20-byte header with its checksum. False (nothing written) when `out` is shorter
  // than 20 bytes, the total length exceeds 65535, or the fragment offset is not a multiple of 8
  // below 65536.
  bool emit(std::span<std::uint8_t> out) const;
};

}  // namespace aero::wire
