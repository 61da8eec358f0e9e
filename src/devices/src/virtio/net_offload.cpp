// Software offloads for NIC models: header parsing, partial-checksum completion and TCP
// segmentation (see net_offload.h for the rules). The segment checksums are computed from
// scratch (pseudo-header per RFC 9293 §3.1 for IPv4 and RFC 8200 §8.1 for IPv6) so a guest's
// wrong seed cannot produce a frame whose checksum depends on it.
#include "aero/devices/net_offload.h"

#include <algorithm>
#include <cstring>

#include "aero/wire/checksum.h"
#include "aero/wire/ethernet.h"
#include "aero/wire/ipv4.h"

namespace aero::devices {

using wire::load_be16;
using wire::load_be32;
using wire::store_be16;
using wire::store_be32;

namespace {

constexpr std::uint16_t kEtherTypeQinQ = 0x88A8;  // IEEE 802.1ad service tag
constexpr std::size_t kIpv6HeaderLength = 40;
constexpr std::size_t kTcpMinHeaderLength = 20;
constexpr std::size_t kTcpChecksumOffset = 16;
constexpr std::uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpCwr = 0x80;

// Folded sum of the TCP pseudo-header for a TCP segment of `tcp_length` bytes.
std::uint16_t pseudo_header(ByteSpan frame, const TcpFrameLayout& layout, std::size_t tcp_length) {
  wire::ChecksumAccumulator acc;
  if (layout.ipv6) {
    acc.add(frame.subspan(layout.l3_offset + 8, 32));
    acc.add_u32(static_cast<std::uint32_t>(tcp_length));
    acc.add_u32(wire::kIpProtocolTcp);
  } else {
    acc.add(frame.subspan(layout.l3_offset + 12, 8));
    acc.add_u16(wire::kIpProtocolTcp);
    acc.add_u16(static_cast<std::uint16_t>(tcp_length));
  }
  return acc.sum();
}

}  // namespace

std::optional<TcpFrameLayout> parse_tcp_frame(ByteSpan frame) {
  if (frame.size() < wire::kEthernetHeaderLength) return std::nullopt;
  std::size_t offset = wire::kEthernetHeaderLength;
  std::uint16_t ethertype = load_be16(frame, 12);
  for (int tags = 0; tags < 2 && (ethertype == wire::kEtherTypeVlan || ethertype == kEtherTypeQinQ);
       ++tags) {
    if (frame.size() < offset + wire::kVlanTagLength) return std::nullopt;
    ethertype = load_be16(frame, offset + 2);
    offset += wire::kVlanTagLength;
  }
  TcpFrameLayout layout;
  layout.l3_offset = offset;
  if (ethertype == wire::kEtherTypeIpv4) {
    if (frame.size() < offset + wire::kIpv4MinHeaderLength) return std::nullopt;
    const std::size_t ihl = static_cast<std::size_t>(frame[offset] & 0x0FU) * 4;
    if ((frame[offset] >> 4) != 4 || ihl < wire::kIpv4MinHeaderLength) return std::nullopt;
    if (frame[offset + 9] != wire::kIpProtocolTcp) return std::nullopt;
    if ((load_be16(frame, offset + 6) & 0x3FFFU) != 0) return std::nullopt;  // a fragment
    layout.l4_offset = offset + ihl;
  } else if (ethertype == wire::kEtherTypeIpv6) {
    if (frame.size() < offset + kIpv6HeaderLength) return std::nullopt;
    if ((frame[offset] >> 4) != 6 || frame[offset + 6] != wire::kIpProtocolTcp) return std::nullopt;
    layout.l4_offset = offset + kIpv6HeaderLength;
    layout.ipv6 = true;
  } else {
    return std::nullopt;
  }
  if (frame.size() < layout.l4_offset + kTcpMinHeaderLength) return std::nullopt;
  const std::size_t data_offset = static_cast<std::size_t>(frame[layout.l4_offset + 12] >> 4) * 4;
  if (data_offset < kTcpMinHeaderLength || frame.size() < layout.l4_offset + data_offset) {
    return std::nullopt;
  }
  layout.header_length = layout.l4_offset + data_offset;
  return layout;
}

bool complete_checksum(std::span<std::uint8_t> frame, std::size_t csum_start,
                       std::size_t csum_offset) {
  if (csum_start >= frame.size() || csum_offset > frame.size() - csum_start ||
      frame.size() - csum_start - csum_offset < 2) {
    return false;
  }
  const std::uint16_t sum = wire::ones_complement_sum(ByteSpan(frame).subspan(csum_start));
  const auto checksum = static_cast<std::uint16_t>(~sum);
  store_be16(frame, csum_start + csum_offset, checksum == 0 ? 0xFFFF : checksum);
  return true;
}

void seed_tcp_checksum(std::span<std::uint8_t> frame, const TcpFrameLayout& layout) {
  const std::uint16_t seed = pseudo_header(frame, layout, frame.size() - layout.l4_offset);
  store_be16(frame, layout.l4_offset + kTcpChecksumOffset, seed);
}

bool TcpSegmenter::start(ByteSpan frame, GsoType type, std::size_t mss, std::size_t max_segments) {
  count_ = 0;
  const auto layout = parse_tcp_frame(frame);
  if (!layout || mss == 0 || layout->ipv6 != (type == GsoType::tcpv6) || type == GsoType::none) {
    return false;
  }
  const std::size_t payload = frame.size() - layout->header_length;
  const std::size_t count = payload == 0 ? 1 : (payload + mss - 1) / mss;
  if (count > max_segments) return false;
  frame_ = frame;
  layout_ = *layout;
  mss_ = mss;
  count_ = count;
  return true;
}

std::size_t TcpSegmenter::build(std::size_t index, std::span<std::uint8_t> out) const {
  if (index >= count_) return 0;
  const TcpFrameLayout& l = layout_;
  const std::size_t payload = frame_.size() - l.header_length;
  const std::size_t offset = index * mss_;
  const std::size_t chunk = std::min(mss_, payload - offset);
  const std::size_t length = l.header_length + chunk;
  if (out.size() < length) return 0;
  std::memcpy(out.data(), frame_.data(), l.header_length);
  if (chunk > 0) std::memcpy(out.data() + l.header_length, frame_.data() + l.header_length + offset, chunk);
  std::span<std::uint8_t> seg = out.first(length);
  if (l.ipv6) {
    store_be16(seg, l.l3_offset + 4, static_cast<std::uint16_t>(length - l.l3_offset - kIpv6HeaderLength));
  } else {
    const std::size_t ihl = l.l4_offset - l.l3_offset;
    store_be16(seg, l.l3_offset + 2, static_cast<std::uint16_t>(length - l.l3_offset));
    store_be16(seg, l.l3_offset + 4,
               static_cast<std::uint16_t>(load_be16(frame_, l.l3_offset + 4) + index));
    store_be16(seg, l.l3_offset + 10, 0);
    store_be16(seg, l.l3_offset + 10, wire::internet_checksum(ByteSpan(seg).subspan(l.l3_offset, ihl)));
  }
  store_be32(seg, l.l4_offset + 4,
             static_cast<std::uint32_t>(load_be32(frame_, l.l4_offset + 4) + offset));
  std::uint8_t flags = seg[l.l4_offset + 13];
  if (index + 1 != count_) flags = static_cast<std::uint8_t>(flags & ~(kTcpFin | kTcpPsh));
  if (index != 0) flags = static_cast<std::uint8_t>(flags & ~kTcpCwr);
  seg[l.l4_offset + 13] = flags;
  store_be16(seg, l.l4_offset + kTcpChecksumOffset, 0);
  const std::size_t tcp_length = length - l.l4_offset;
  wire::ChecksumAccumulator acc;
  acc.add_u16(pseudo_header(seg, l, tcp_length));
  acc.add(ByteSpan(seg).subspan(l.l4_offset));
  store_be16(seg, l.l4_offset + kTcpChecksumOffset, acc.finish());
  return length;
}

}  // namespace aero::devices
