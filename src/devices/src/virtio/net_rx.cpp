// VirtioNet receive (virtio 1.2 §5.1.6.3-§5.1.6.4) and receive filtering (§5.1.6.5.1-2).
//
// Theory of operation: receive(frame, offload) checks readiness, link, size and the filter
// (each refusal is RxResult::dropped with its counter), decides the header (partial checksum
// and GSO passed through when the guest negotiated them, or done here), then places the
// packet — or, for a GSO frame the guest cannot take, every segment — as one transaction:
//  * without MRG_RXBUF each packet takes one buffer, which must hold header + packet; a buffer
//    too small drops the frame and stays in the ring;
//  * with MRG_RXBUF a packet fills buffers in order, every buffer but the last completely,
//    and the first header's num_buffers says how many (§5.1.6.4.1);
//  * buffers run out: the transaction is rewound (the ring is as before) and the result is
//    hold; the ring can never hold the frame: dropped;
//  * a malformed buffer (not write-only, too short for the header, outside guest memory): the
//    transaction is rewound, that buffer and the ones taken before it are completed with
//    length 0 (counted) and placing starts again, at most queue-size times.
// Bytes are written into buffers before they are published, which is harmless when the
// transaction is rewound: the driver still owns nothing of them.
#include <algorithm>
#include <cstring>

#include "aero/devices/virtio_net.h"
#include "le.h"

namespace aero::devices {

using namespace virtio_net;  // NOLINT: feature names
using virtio::DescriptorChain;
using virtio::PopResult;

namespace {

constexpr std::size_t kEthernetHeader = 14;
constexpr std::size_t kVlanTag = 4;

bool tagged(ByteSpan frame) {
  const std::uint16_t type = static_cast<std::uint16_t>((frame[12] << 8) | frame[13]);
  return type == 0x8100 || type == 0x88A8;
}

}  // namespace

bool VirtioNet::rx_accepts(ByteSpan frame) const {
  const RxFilter& f = filter_;
  if (!has(kCtrlRx) || f.promisc) return true;
  const ByteSpan dst = frame.first(6);
  auto listed = [&](const auto& table, std::size_t used) {
    return std::any_of(table.begin(), table.begin() + static_cast<std::ptrdiff_t>(used),
                       [&](const auto& mac) { return std::equal(mac.begin(), mac.end(), dst.begin()); });
  };
  if (dst[0] & 1U) {
    if (std::all_of(dst.begin(), dst.end(), [](std::uint8_t b) { return b == 0xFF; })) return !f.nobcast;
    if (f.nomulti) return false;
    return f.allmulti || f.multi_overflow || listed(f.multi, f.multicast);
  }
  if (f.nouni) return false;
  if (f.alluni || f.uni_overflow) return true;
  return std::equal(mac_.begin(), mac_.end(), dst.begin()) || listed(f.uni, f.unicast);
}

RxResult VirtioNet::receive(ByteSpan frame, const FrameOffload& offload) {
  if (!transport_.queue_ready(kRxQueue)) {
    ++counters_.rx_not_ready;
    return RxResult::dropped;
  }
  if (!link_up_) {
    ++counters_.rx_link_down;
    return RxResult::dropped;
  }
  if (frame.size() < kMinFrameLength) {
    ++counters_.rx_runt;
    return RxResult::dropped;
  }
  if (frame.size() > kMaxFrameLength) {
    ++counters_.rx_oversize;
    return RxResult::dropped;
  }
  if (!rx_accepts(frame)) {
    ++counters_.rx_filtered;
    return RxResult::dropped;
  }
  RxPacket packet;
  packet.bytes = frame;
  std::uint8_t* h = packet.header.data();
  virtio::put_le16(h + 10, 1);  // num_buffers
  if (offload.gso != GsoType::none) {
    const bool v6 = offload.gso == GsoType::tcpv6;
    const auto layout = parse_tcp_frame(frame);
    if (!layout || layout->ipv6 != v6 || offload.gso_size == 0) {
      ++counters_.rx_offload_errors;
      return RxResult::dropped;
    }
    if (has(kGuestCsum) && has(v6 ? kGuestTso6 : kGuestTso4)) {
      // §5.1.6.4.2: GSO always with NEEDS_CSUM and the pseudo-header in the checksum field.
      h[0] = kHdrNeedsCsum;
      h[1] = v6 ? kGsoTcpv6 : kGsoTcpv4;
      virtio::put_le16(h + 2, static_cast<std::uint16_t>(layout->header_length));
      virtio::put_le16(h + 4, offload.gso_size);
      virtio::put_le16(h + 6, static_cast<std::uint16_t>(layout->l4_offset));
      virtio::put_le16(h + 8, 16);
      if (!offload.needs_csum) {
        std::memcpy(rx_stage_.data(), frame.data(), frame.size());
        std::span<std::uint8_t> staged(rx_stage_.data(), frame.size());
        seed_tcp_checksum(staged, *layout);
        packet.bytes = staged;
      }
      return rx_deliver(packet, false);
    }
    if (!segmenter_.start(frame, offload.gso, offload.gso_size, kMaxTsoSegments)) {
      ++counters_.rx_offload_errors;
      return RxResult::dropped;
    }
    // Segments carry complete checksums computed here.
    h[0] = has(kGuestCsum) ? kHdrDataValid : 0;
    return rx_deliver(packet, true);
  }
  if (offload.needs_csum) {
    if (offload.csum_start >= frame.size() || frame.size() - offload.csum_start < offload.csum_offset + 2U) {
      ++counters_.rx_offload_errors;
      return RxResult::dropped;
    }
    if (has(kGuestCsum)) {
      h[0] = kHdrNeedsCsum;
      virtio::put_le16(h + 6, offload.csum_start);
      virtio::put_le16(h + 8, offload.csum_offset);
    } else {
      std::memcpy(rx_stage_.data(), frame.data(), frame.size());
      std::span<std::uint8_t> staged(rx_stage_.data(), frame.size());
      (void)complete_checksum(staged, offload.csum_start, offload.csum_offset);
      ++counters_.rx_csum_completed;
      packet.bytes = staged;
    }
  } else if (offload.csum_valid && has(kGuestCsum)) {
    h[0] = kHdrDataValid;
  }
  // §5.1.4.1: with MTU negotiated, no packet beyond mtu + the Ethernet header (and a tag).
  if (has(kMtu) && frame.size() > config_.mtu + kEthernetHeader + (tagged(frame) ? kVlanTag : 0)) {
    ++counters_.rx_oversize;
    return RxResult::dropped;
  }
  return rx_deliver(packet, false);
}

RxResult VirtioNet::rx_deliver(const RxPacket& packet, bool segmented) {
  virtio::Virtqueue& q = transport_.queue(kRxQueue);
  const std::size_t packets = segmented ? segmenter_.segment_count() : 1;
  for (unsigned attempt = 0; attempt <= config_.queue_size; ++attempt) {
    q.release();
    const virtio::Virtqueue::Mark start = q.mark();
    pending_.clear();
    rx_chains_popped_ = 0;
    Place result = Place::ok;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < packets && result == Place::ok; ++i) {
      if (segmented) {
        RxPacket segment;
        segment.header = packet.header;
        const std::size_t length = segmenter_.build(i, seg_buf_);
        segment.bytes = ByteSpan(seg_buf_.data(), length);
        bytes += length;
        result = rx_place(segment);
      } else {
        bytes += packet.bytes.size();
        result = rx_place(packet);
      }
    }
    switch (result) {
      case Place::ok:
        for (const Pending& p : pending_) {
          if (!q.push(p.chain, p.written)) {
            transport_.device_error();
            ++counters_.rx_device_error;
            return RxResult::dropped;
          }
        }
        if (!transport_.publish(kRxQueue)) {  // the used index could not be written
          pending_.clear();
          ++counters_.rx_device_error;
          return RxResult::dropped;
        }
        counters_.rx_frames += packets;
        counters_.rx_bytes += bytes;
        counters_.rx_buffers += pending_.size();
        if (segmented) counters_.rx_gso_segments += packets;
        pending_.clear();
        return RxResult::accepted;
      case Place::empty:
        q.rewind(start);
        pending_.clear();
        ++counters_.rx_hold;
        return RxResult::hold;
      case Place::too_big:
        q.rewind(start);
        pending_.clear();
        ++counters_.rx_too_big_for_buffer;
        return RxResult::dropped;
      case Place::ring_too_small:
        q.rewind(start);
        pending_.clear();
        ++counters_.rx_too_big_for_ring;
        return RxResult::dropped;
      case Place::broken:
        pending_.clear();
        transport_.device_error();
        ++counters_.rx_device_error;
        return RxResult::dropped;
      case Place::bad_chain:
        rx_discard_bad_chains(start);
        if (!transport_.queue_ready(kRxQueue)) {
          ++counters_.rx_device_error;
          return RxResult::dropped;
        }
        break;  // place again after the bad buffer
    }
  }
  ++counters_.rx_hold;
  return RxResult::hold;
}

// Completes, with length 0, every buffer taken by the failed transaction up to and including
// the malformed one (they are taken again in the same order after the rewind).
void VirtioNet::rx_discard_bad_chains(const virtio::Virtqueue::Mark& start) {
  virtio::Virtqueue& q = transport_.queue(kRxQueue);
  const std::size_t count = rx_chains_popped_;
  pending_.clear();
  q.rewind(start);
  for (std::size_t i = 0; i < count; ++i) {
    q.release();
    DescriptorChain chain;
    if (q.pop(chain) != PopResult::chain || !q.push(chain, 0)) {
      transport_.device_error();
      return;
    }
  }
  ++counters_.rx_bad_chain;
  counters_.rx_buffers_discarded += count - 1;
  transport_.publish(kRxQueue);
}

VirtioNet::Place VirtioNet::rx_place(const RxPacket& packet) {
  virtio::Virtqueue& q = transport_.queue(kRxQueue);
  const std::size_t hdr = header_length();
  const std::size_t total = hdr + packet.bytes.size();
  const bool merge = has(kMrgRxbuf);
  const std::size_t first = pending_.size();
  const ByteSpan header(packet.header.data(), hdr);
  std::size_t placed = 0;
  while (placed < total) {
    if (rx_chains_popped_ >= q.setup().size) return Place::ring_too_small;
    DescriptorChain chain;
    const PopResult r = q.pop(chain);
    if (r == PopResult::empty) return Place::empty;
    if (r == PopResult::broken) return Place::broken;
    if (r == PopResult::no_room) return Place::ring_too_small;
    ++rx_chains_popped_;
    // §5.1.6.3.1: receive buffers are device-writable and each holds at least a header.
    if (!chain.valid || chain.readable > 0 || chain.writable < hdr) return Place::bad_chain;
    if (!merge && chain.writable < total) return Place::too_big;
    const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(chain.writable, total - placed));
    std::size_t done = 0;
    if (placed < hdr) {
      const std::size_t n = std::min(hdr - placed, chunk);
      if (!q.write(chain, 0, header.subspan(placed, n))) return Place::bad_chain;
      done = n;
    }
    if (done < chunk) {
      const std::size_t from = placed + done - hdr;
      if (!q.write(chain, done, packet.bytes.subspan(from, chunk - done))) return Place::bad_chain;
    }
    pending_.push_back(Pending{chain, static_cast<std::uint32_t>(chunk)});
    placed += chunk;
  }
  const std::size_t buffers = pending_.size() - first;
  if (buffers > 1) {
    std::array<std::uint8_t, 2> count{};
    virtio::put_le16(count.data(), static_cast<std::uint16_t>(buffers));
    if (!q.write(pending_[first].chain, 10, count)) return Place::bad_chain;
  }
  return Place::ok;
}

}  // namespace aero::devices
