// TCP segments (RFC 9293 §3.1) and their options.
//
//   0  u16 source port      2  u16 destination port
//   4  u32 sequence number  8  u32 acknowledgment number
//  12  u8  data offset (header length in 32-bit words, 5..15) | reserved
//  13  u8  flags CWR ECE URG ACK PSH RST SYN FIN
//  14  u16 window          16  u16 checksum          18  u16 urgent pointer
//  20  options (data offset * 4 - 20 bytes), then the data
//
// Options (RFC 9293 §3.2): EOL (0) and NOP (1) are one byte; every other option is kind,
// length (>= 2, counting kind and length), data. Known options must have their defined length:
// MSS (2) 4, window scale (3) 3 (RFC 7323 §2), SACK-permitted (4) 2 and SACK (5) 2 + 8n for n
// in 1..4 (RFC 2018), timestamps (8) 10 (RFC 7323 §3). Unknown options are skipped by their
// length. A later copy of an option replaces an earlier one.
//
// parse() checks, once: at least 20 bytes, 5 <= data offset, data offset * 4 <= the buffer,
// and every option's length. The buffer is the IP payload; the data runs to its end. The
// checksum is not checked by parse(); the caller asks checksum_ok(source, destination).
//
// Errors: "truncated" (fewer than 20 bytes, or than the data offset), "bad_length" (data offset
// < 5, or a malformed option: length < 2, past the end of the options, or wrong for its kind).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "aero/base/bytes.h"
#include "aero/base/ip_address.h"
#include "aero/base/result.h"
#include "aero/wire/checksum.h"

namespace aero::wire {

inline constexpr std::size_t kTcpMinHeaderLength = 20;
inline constexpr std::size_t kTcpMaxHeaderLength = 60;
inline constexpr std::size_t kTcpMaxOptionsLength = 40;
inline constexpr std::size_t kTcpMaxSackBlocks = 4;

inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAck = 0x10;
inline constexpr std::uint8_t kTcpUrg = 0x20;
inline constexpr std::uint8_t kTcpEce = 0x40;  // RFC 3168 §6.1
inline constexpr std::uint8_t kTcpCwr = 0x80;

inline constexpr std::uint8_t kTcpOptionEnd = 0;
inline constexpr std::uint8_t kTcpOptionNop = 1;
inline constexpr std::uint8_t kTcpOptionMss = 2;
inline constexpr std::uint8_t kTcpOptionWindowScale = 3;
inline constexpr std::uint8_t kTcpOptionSackPermitted = 4;
inline constexpr std::uint8_t kTcpOptionSack = 5;
inline constexpr std::uint8_t kTcpOptionTimestamps = 8;

struct TcpSackBlock {
  std::uint32_t left = 0;   // first sequence number of the block
  std::uint32_t right = 0;  // sequence number just after the block
  friend bool operator==(const TcpSackBlock&, const TcpSackBlock&) = default;
};

struct TcpTimestamps {
  std::uint32_t value = 0;  // TSval
  std::uint32_t echo = 0;   // TSecr
  friend bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

// The options the stack understands.
struct TcpOptions {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;  // the shift count as sent (RFC 7323 caps use at 14)
  bool sack_permitted = false;
  std::array<TcpSackBlock, kTcpMaxSackBlocks> sack_blocks{};  // unused entries are zero
  std::size_t sack_block_count = 0;
  std::optional<TcpTimestamps> timestamps;

  // Bytes emit_options() writes: the options back to back, zero-padded (EOL) to a multiple of 4.
  std::size_t encoded_length() const;
  friend bool operator==(const TcpOptions&, const TcpOptions&) = default;
};

// One option as found in the header: kind and the bytes after the length byte (empty for NOP).
struct TcpOption {
  std::uint8_t kind = kTcpOptionEnd;
  ByteSpan data;
};

// Walks an options area, checking each option's length (see the top of this file).
class TcpOptionIterator {
 public:
  explicit TcpOptionIterator(ByteSpan options) : rest_(options) {}

  // The next option, or nullopt at EOL, at the end of the area, or at a malformed option
  // (then malformed() is true). NOP is returned like any other option.
  std::optional<TcpOption> next();
  bool malformed() const { return malformed_; }
  // The bytes not yet walked; after a malformed option, starting with that option.
  ByteSpan remaining() const { return rest_; }

 private:
  ByteSpan rest_;
  bool malformed_ = false;
};

// Parses an options area into TcpOptions; error "bad_length" for a malformed option.
Result<TcpOptions> parse_tcp_options(ByteSpan options);

class TcpPacket {
 public:
  static Result<TcpPacket> parse(ByteSpan bytes);

  std::uint16_t source_port() const { return load_be16(bytes_, 0); }
  std::uint16_t destination_port() const { return load_be16(bytes_, 2); }
  std::uint32_t sequence_number() const { return load_be32(bytes_, 4); }
  std::uint32_t ack_number() const { return load_be32(bytes_, 8); }
  std::size_t header_length() const { return header_length_; }  // bytes
  std::uint8_t flags() const { return bytes_[13]; }
  bool fin() const { return (flags() & kTcpFin) != 0; }
  bool syn() const { return (flags() & kTcpSyn) != 0; }
  bool rst() const { return (flags() & kTcpRst) != 0; }
  bool psh() const { return (flags() & kTcpPsh) != 0; }
  bool ack() const { return (flags() & kTcpAck) != 0; }
  bool urg() const { return (flags() & kTcpUrg) != 0; }
  bool ece() const { return (flags() & kTcpEce) != 0; }
  bool cwr() const { return (flags() & kTcpCwr) != 0; }
  std::uint16_t window() const { return load_be16(bytes_, 14); }
  std::uint16_t checksum() const { return load_be16(bytes_, 16); }
  std::uint16_t urgent_pointer() const { return load_be16(bytes_, 18); }
  // The sequence space the segment occupies: data, plus one each for SYN and FIN.
  std::size_t segment_length() const;
  // The pseudo-header (length = the whole buffer), header and data sum to 0xFFFF.
  bool checksum_ok(const Ipv4Address& source, const Ipv4Address& destination) const;

  const TcpOptions& options() const { return options_; }
  ByteSpan raw_options() const { return bytes_.subspan(20, header_length_ - 20); }
  ByteSpan header() const { return bytes_.first(header_length_); }
  ByteSpan payload() const { return bytes_.subspan(header_length_); }
  ByteSpan segment() const { return bytes_; }

 private:
  TcpPacket(ByteSpan bytes, std::size_t header_length, const TcpOptions& options)
      : bytes_(bytes), header_length_(header_length), options_(options) {}

  ByteSpan bytes_;
  std::size_t header_length_ = kTcpMinHeaderLength;
  TcpOptions options_;
};

struct TcpHeader {
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t sequence_number = 0;
  std::uint32_t ack_number = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint16_t urgent_pointer = 0;
  TcpOptions options;

  std::size_t header_length() const { return kTcpMinHeaderLength + options.encoded_length(); }
  std::size_t length(std::size_t payload_length) const { return header_length() + payload_length; }
  // Writes the header, options and `payload` (which may already be in place right after the
  // header) with the pseudo-header checksum. False (nothing written) when the options exceed 40
  // bytes or there are more than 4 SACK blocks, when `out` is shorter than
  // length(payload.size()), or when that exceeds what an IPv4 packet can carry.
  bool emit(std::span<std::uint8_t> out, ByteSpan payload, const Ipv4Address& source,
            const Ipv4Address& destination) const;
};

}  // namespace aero::wire
