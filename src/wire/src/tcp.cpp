// TCP (RFC 9293) segment view, option parsing and emitter.
#include "aero/wire/tcp.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "aero/wire/checksum.h"
#include "aero/wire/ipv4.h"

namespace aero::wire {

namespace {

constexpr std::size_t kMssLength = 4;
constexpr std::size_t kWindowScaleLength = 3;
constexpr std::size_t kSackPermittedLength = 2;
constexpr std::size_t kTimestampsLength = 10;
constexpr std::size_t kSackBlockLength = 8;
constexpr std::size_t kMaxSegmentLength = 0xFFFF;  // the pseudo-header's 16-bit TCP length

// The defined total length of a known option kind, or 0 for kinds without one (unknown kinds,
// and SACK, whose length depends on its block count).
std::size_t fixed_length(std::uint8_t kind) {
  switch (kind) {
    case kTcpOptionMss: return kMssLength;
    case kTcpOptionWindowScale: return kWindowScaleLength;
    case kTcpOptionSackPermitted: return kSackPermittedLength;
    case kTcpOptionTimestamps: return kTimestampsLength;
    default: return 0;
  }
}

}  // namespace

std::size_t TcpOptions::encoded_length() const {
  std::size_t length = 0;
  if (mss) length += kMssLength;
  if (window_scale) length += kWindowScaleLength;
  if (sack_permitted) length += kSackPermittedLength;
  if (timestamps) length += kTimestampsLength;
  if (sack_block_count > 0) length += 2 + kSackBlockLength * sack_block_count;
  return (length + 3) & ~std::size_t{3};
}

std::optional<TcpOption> TcpOptionIterator::next() {
  if (rest_.empty() || malformed_) return std::nullopt;
  const std::uint8_t kind = rest_[0];
  if (kind == kTcpOptionEnd) {  // RFC 9293 §3.2: the end of the option list
    rest_ = {};
    return std::nullopt;
  }
  if (kind == kTcpOptionNop) {
    rest_ = rest_.subspan(1);
    return TcpOption{kind, {}};
  }
  // RFC 9293 §3.2, §3.10.7.4 (MUST-7): a length below 2 or past the end is malformed.
  const std::size_t length = rest_.size() >= 2 ? rest_[1] : 0;
  const std::size_t expected = fixed_length(kind);
  bool ok = length >= 2 && length <= rest_.size() && (expected == 0 || length == expected);
  if (kind == kTcpOptionSack) {  // RFC 2018 §3: 2 + 8n bytes; n <= 4 fits the 40-byte area
    ok = ok && length >= 2 + kSackBlockLength &&
         length <= 2 + kSackBlockLength * kTcpMaxSackBlocks && (length - 2) % kSackBlockLength == 0;
  }
  if (!ok) {
    malformed_ = true;
    return std::nullopt;
  }
  const TcpOption option{kind, rest_.subspan(2, length - 2)};
  rest_ = rest_.subspan(length);
  return option;
}

Result<TcpOptions> parse_tcp_options(ByteSpan options) {
  TcpOptions out;
  TcpOptionIterator it(options);
  while (const auto option = it.next()) {
    const ByteSpan data = option->data;
    switch (option->kind) {
      case kTcpOptionMss: out.mss = load_be16(data, 0); break;
      case kTcpOptionWindowScale: out.window_scale = data[0]; break;
      case kTcpOptionSackPermitted: out.sack_permitted = true; break;
      case kTcpOptionTimestamps:
        out.timestamps = TcpTimestamps{load_be32(data, 0), load_be32(data, 4)};
        break;
      case kTcpOptionSack:
        out.sack_blocks = {};
        out.sack_block_count = data.size() / kSackBlockLength;
        for (std::size_t i = 0; i < out.sack_block_count; ++i) {
          out.sack_blocks[i] = TcpSackBlock{load_be32(data, i * kSackBlockLength),
                                            load_be32(data, i * kSackBlockLength + 4)};
        }
        break;
      default: break;  // NOP, or an unknown option skipped by its length
    }
  }
  if (it.malformed()) {
    const ByteSpan bad = it.remaining();
    return make_error("bad_length", "malformed TCP option kind " + std::to_string(bad[0]) +
                                        " at offset " +
                                        std::to_string(options.size() - bad.size()) +
                                        (bad.size() >= 2 ? " length " + std::to_string(bad[1])
                                                         : std::string(" without a length")));
  }
  return out;
}

Result<TcpPacket> TcpPacket::parse(ByteSpan bytes) {
  if (bytes.size() < kTcpMinHeaderLength) {
    return make_error("truncated",
                      "TCP segment truncated: " + std::to_string(bytes.size()) + " < 20 bytes");
  }
  if (bytes.size() > kMaxSegmentLength) {
    return make_error("bad_length", "TCP segment longer than 65535 bytes");
  }
  const std::size_t header_length = static_cast<std::size_t>(bytes[12] >> 4) * 4;
  if (header_length < kTcpMinHeaderLength) {  // RFC 9293 §3.1 "Data Offset"
    return make_error("bad_length",
                      "TCP data offset " + std::to_string(header_length / 4) + " < 5");
  }
  if (header_length > bytes.size()) {
    return make_error("truncated", "TCP segment truncated: " + std::to_string(bytes.size()) +
                                       " < data offset " + std::to_string(header_length));
  }
  auto options = parse_tcp_options(bytes.subspan(20, header_length - 20));
  if (!options) return options.error();
  return TcpPacket(bytes, header_length, *options);
}

std::size_t TcpPacket::segment_length() const {
  return payload().size() + (syn() ? 1U : 0U) + (fin() ? 1U : 0U);
}

bool TcpPacket::checksum_ok(const Ipv4Address& source, const Ipv4Address& destination) const {
  ChecksumAccumulator sum;
  sum.add_u16(pseudo_header_sum(source, destination, kIpProtocolTcp,
                                static_cast<std::uint16_t>(bytes_.size())))
      .add(bytes_);
  return sum.sum() == 0xFFFF;
}

bool TcpHeader::emit(std::span<std::uint8_t> out, ByteSpan payload, const Ipv4Address& source,
                     const Ipv4Address& destination) const {
  const std::size_t options_length = options.encoded_length();
  const std::size_t total = length(payload.size());
  if (options_length > kTcpMaxOptionsLength || options.sack_block_count > kTcpMaxSackBlocks ||
      out.size() < total || total > kIpv4MaxTotalLength - kIpv4MinHeaderLength) {
    return false;
  }
  const std::size_t header_length = kTcpMinHeaderLength + options_length;
  const auto segment = out.first(total);
  if (!payload.empty() && payload.data() != segment.data() + header_length) {
    std::memmove(segment.data() + header_length, payload.data(), payload.size());
  }
  store_be16(segment, 0, source_port);
  store_be16(segment, 2, destination_port);
  store_be32(segment, 4, sequence_number);
  store_be32(segment, 8, ack_number);
  segment[12] = static_cast<std::uint8_t>((header_length / 4) << 4);
  segment[13] = flags;
  store_be16(segment, 14, window);
  store_be16(segment, 16, 0);
  store_be16(segment, 18, urgent_pointer);

  // Options back to back, then zeros (EOL) up to the 4-byte boundary (RFC 9293 §3.1 "Options").
  std::size_t at = kTcpMinHeaderLength;
  if (options.mss) {
    segment[at] = kTcpOptionMss;
    segment[at + 1] = kMssLength;
    store_be16(segment, at + 2, *options.mss);
    at += kMssLength;
  }
  if (options.window_scale) {
    segment[at] = kTcpOptionWindowScale;
    segment[at + 1] = kWindowScaleLength;
    segment[at + 2] = *options.window_scale;
    at += kWindowScaleLength;
  }
  if (options.sack_permitted) {
    segment[at] = kTcpOptionSackPermitted;
    segment[at + 1] = kSackPermittedLength;
    at += kSackPermittedLength;
  }
  if (options.timestamps) {
    segment[at] = kTcpOptionTimestamps;
    segment[at + 1] = kTimestampsLength;
    store_be32(segment, at + 2, options.timestamps->value);
    store_be32(segment, at + 6, options.timestamps->echo);
    at += kTimestampsLength;
  }
  if (options.sack_block_count > 0) {
    segment[at] = kTcpOptionSack;
    segment[at + 1] = static_cast<std::uint8_t>(2 + kSackBlockLength * options.sack_block_count);
    at += 2;
    for (std::size_t i = 0; i < options.sack_block_count; ++i) {
      store_be32(segment, at, options.sack_blocks[i].left);
      store_be32(segment, at + 4, options.sack_blocks[i].right);
      at += kSackBlockLength;
    }
  }
  std::fill(segment.begin() + static_cast<std::ptrdiff_t>(at),
            segment.begin() + static_cast<std::ptrdiff_t>(header_length), std::uint8_t{0});

  ChecksumAccumulator sum;
  sum.add_u16(
         pseudo_header_sum(source, destination, kIpProtocolTcp, static_cast<std::uint16_t>(total)))
      .add(segment);
  store_be16(segment, 16, sum.finish());
  return true;
}

}  // namespace aero::wire
