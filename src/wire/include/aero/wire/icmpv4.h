// ICMP for IPv4 (RFC 792).
//
//   0  u8  type     1  u8 code     2  u16 checksum (over the whole ICMP message)
//   4  u32 rest of header: echo identifier | sequence (types 0, 8); unused | next-hop MTU for
//          "fragmentation needed" (type 3 code 4, RFC 1191 §4); pointer (type 12)
//   8  ... data: echo data, or the quoted datagram of an error (the original IP header and at
//          least the first 8 bytes of its data)
//
// The checksum is not checked by parse(); the caller asks checksum_ok() and counts.
// Errors: "truncated" (fewer than 8 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "aero/base/bytes.h"
#include "aero/base/result.h"
#include "aero/wire/checksum.h"
#include "aero/wire/ipv4.h"

namespace aero::wire {

inline constexpr std::uint8_t kIcmpv4EchoReply = 0;
inline constexpr std::uint8_t kIcmpv4DestinationUnreachable = 3;
inline constexpr std::uint8_t kIcmpv4SourceQuench = 4;
inline constexpr std::uint8_t kIcmpv4Redirect = 5;
inline constexpr std::uint8_t kIcmpv4EchoRequest = 8;
inline constexpr std::uint8_t kIcmpv4TimeExceeded = 11;
inline constexpr std::uint8_t kIcmpv4ParameterProblem = 12;

// Destination unreachable codes (RFC 792; RFC 1812 §5.2.7.1 for 13).
inline constexpr std::uint8_t kIcmpv4NetUnreachable = 0;
inline constexpr std::uint8_t kIcmpv4HostUnreachable = 1;
inline constexpr std::uint8_t kIcmpv4ProtocolUnreachable = 2;
inline constexpr std::uint8_t kIcmpv4PortUnreachable = 3;
inline constexpr std::uint8_t kIcmpv4FragmentationNeeded = 4;
inline constexpr std::uint8_t kIcmpv4AdminProhibited = 13;
// Time exceeded codes.
inline constexpr std::uint8_t kIcmpv4TtlExceeded = 0;
inline constexpr std::uint8_t kIcmpv4ReassemblyTimeExceeded = 1;

inline constexpr std::size_t kIcmpv4HeaderLength = 8;
inline constexpr std::size_t kIcmpv4QuotedPayloadBytes = 8;  // RFC 792: "first 64 bits"

class Icmpv4Packet {
 public:
  static Result<Icmpv4Packet> parse(ByteSpan bytes);

  std::uint8_t type() const { return bytes_[0]; }
  std::uint8_t code() const { return bytes_[1]; }
  std::uint16_t checksum() const { return load_be16(bytes_, 2); }
  bool checksum_ok() const;  // the message sums to 0xFFFF (RFC 792)
  std::uint32_t rest_of_header() const { return load_be32(bytes_, 4); }

  bool is_echo_request() const { return type() == kIcmpv4EchoRequest; }
  bool is_echo_reply() const { return type() == kIcmpv4EchoReply; }
  bool is_error() const;  // types 3, 4, 5, 11, 12: the data quotes a datagram
  // Meaningful for echo request and reply.
  std::uint16_t echo_identifier() const { return load_be16(bytes_, 4); }
  std::uint16_t echo_sequence() const { return load_be16(bytes_, 6); }
  ByteSpan echo_data() const { return payload(); }
  // Type 3 code 4 (RFC 1191 §4).
  std::uint16_t next_hop_mtu() const { return load_be16(bytes_, 6); }
  // The quoted original datagram of an error message (parse it with
  // Ipv4Packet::parse_quoted), or nullopt for other types.
  std::optional<ByteSpan> quoted_datagram() const;

  ByteSpan header() const { return bytes_.first(kIcmpv4HeaderLength); }
  ByteSpan payload() const { return bytes_.subspan(kIcmpv4HeaderLength); }
  ByteSpan message() const { return bytes_; }

 private:
  explicit Icmpv4Packet(ByteSpan bytes) : bytes_(bytes) {}
  ByteSpan bytes_;
};

// Emitter for any ICMP message: the 8-byte header followed by `data`.
struct Icmpv4Header {
  std::uint8_t type = kIcmpv4EchoReply;
  std::uint8_t code = 0;
  std::uint32_t rest_of_header = 0;

  static Icmpv4Header echo_request(std::uint16_t identifier, std::uint16_t sequence);
  static Icmpv4Header echo_reply(std::uint16_t identifier, std::uint16_t sequence);
  // The reply to `request`: same identifier and sequence; emit it with request.echo_data().
  static Icmpv4Header echo_reply_to(const Icmpv4Packet& request);
  // Emit these with icmpv4_error_quote() of the offending datagram as data.
  static Icmpv4Header destination_unreachable(std::uint8_t code, std::uint16_t next_hop_mtu = 0);
  static Icmpv4Header time_exceeded(std::uint8_t code);

  std::size_t length(std::size_t data_length) const { return kIcmpv4HeaderLength + data_length; }
  // Writes the header and `data` (which may already be in place right after the header) and
  // the checksum over both. False (nothing written) when `out` is shorter than
  // length(data.size()) or that exceeds what an IPv4 packet can carry.
  bool emit(std::span<std::uint8_t> out, ByteSpan data) const;
};

// What an ICMP error about `original` quotes: its IP header and the first `payload_bytes` of its
// data (RFC 792; RFC 1812 §4.3.2.3 allows more), capped so the ICMP error's IPv4 packet (a
// 20-byte header, the 8-byte ICMP header, the quote) stays within 576 bytes.
ByteSpan icmpv4_error_quote(const Ipv4Packet& original,
                            std::size_t payload_bytes = kIcmpv4QuotedPayloadBytes);

}  // namespace aero::wire
