// VirtioNet transmit (virtio 1.2 §5.1.6.2).
//
// Theory of operation: poll() takes up to `budget` chains from transmitq1. A chain is the
// virtio-net header followed by one Ethernet frame, all device-readable (the header may span
// descriptors, §2.6.4). Each chain is completed with length 0, whatever happens to the frame:
//  * malformed chain, a writable descriptor, a header shorter than required, a frame shorter
//    than 14 bytes or longer than kMaxFrameLength, a buffer outside guest memory: dropped,
//    counted;
//  * gso_type TCPV4/TCPV6 (with HOST_TSO4/6 negotiated; anything else is a bad header): the
//    frame goes whole to the OffloadFramePort if it takes it, otherwise it is segmented here;
//  * NEEDS_CSUM (with CSUM negotiated; ignored otherwise, §5.1.6.2.1): handed over as a partial
//    checksum, or completed here;
//  * otherwise the frame is sent as it is.
// The used ring is published once per poll, so one interrupt (at most) covers the batch.
#include "aero/devices/virtio_net.h"
#include "le.h"

namespace aero::devices {

using namespace virtio_net;  // NOLINT: feature names
using virtio::DescriptorChain;
using virtio::PopResult;

unsigned VirtioNet::tx_run(unsigned budget) {
  if (!transport_.queue_ready(kTxQueue)) {
    tx_pending_ = false;
    return 0;
  }
  virtio::Virtqueue& q = transport_.queue(kTxQueue);
  unsigned done = 0;
  bool drained = false;
  while (done < budget) {
    q.release();
    DescriptorChain chain;
    const PopResult r = q.pop(chain);
    if (r == PopResult::empty) {
      drained = true;
      break;
    }
    if (r != PopResult::chain) {  // broken (no_room cannot happen with an empty pool)
      transport_.device_error();
      tx_pending_ = false;
      return done;
    }
    ++done;
    if (chain.valid) {
      tx_chain(chain);
    } else {
      ++counters_.tx_bad_chain;
    }
    if (!q.push(chain, 0)) {
      transport_.device_error();
      tx_pending_ = false;
      return done;
    }
  }
  tx_pending_ = !drained;
  transport_.publish(kTxQueue);
  return done;
}

void VirtioNet::tx_chain(const DescriptorChain& chain) {
  const std::size_t hdr = header_length();
  if (chain.writable > 0) {
    ++counters_.tx_bad_chain;  // §5.1.6.2: transmit buffers are device-readable only
    return;
  }
  if (chain.readable < hdr) {
    ++counters_.tx_bad_header;
    return;
  }
  const std::uint64_t frame_length = chain.readable - hdr;
  if (frame_length < kMinFrameLength) {
    ++counters_.tx_runt;
    return;
  }
  if (frame_length > kMaxFrameLength) {
    ++counters_.tx_oversize;
    return;
  }
  std::span<std::uint8_t> buf(tx_buf_.data(), static_cast<std::size_t>(chain.readable));
  if (!transport_.queue(kTxQueue).read(chain, 0, buf)) {
    ++counters_.tx_dma_errors;
    return;
  }
  const std::uint8_t flags = buf[0];
  const auto gso = static_cast<std::uint8_t>(buf[1] & ~kGsoEcn);
  const std::uint16_t gso_size = virtio::le16(&buf[4]);
  const std::uint16_t csum_start = virtio::le16(&buf[6]);
  const std::uint16_t csum_offset = virtio::le16(&buf[8]);
  std::span<std::uint8_t> frame = buf.subspan(hdr);
  if (gso != kGsoNone) {
    GsoType type = GsoType::none;
    if (gso == kGsoTcpv4 && has(kHostTso4)) type = GsoType::tcpv4;
    if (gso == kGsoTcpv6 && has(kHostTso6)) type = GsoType::tcpv6;
    if (type == GsoType::none) {
      ++counters_.tx_bad_header;  // §5.1.6.2.1: only negotiated GSO types
      return;
    }
    ++counters_.tx_gso_frames;
    tx_gso(frame, type, gso_size);
    return;
  }
  if ((flags & kHdrNeedsCsum) && has(kCsum)) {
    if (offload_port_ != nullptr) {
      const OffloadCaps caps = offload_port_->offload_caps();
      if (caps.csum && frame.size() <= caps.max_frame && csum_start < frame.size()) {
        FrameOffload offload;
        offload.needs_csum = true;
        offload.csum_start = csum_start;
        offload.csum_offset = csum_offset;
        if (!link_up_) {
          ++counters_.tx_link_down;
        } else if (offload_port_->transmit_offloaded(frame, offload)) {
          ++counters_.tx_offloaded;
          ++counters_.tx_frames;
          counters_.tx_bytes += frame.size();
        } else {
          ++counters_.tx_backend_refused;
        }
        return;
      }
    }
    if (!complete_checksum(frame, csum_start, csum_offset)) {
      ++counters_.tx_offload_errors;
      return;
    }
    ++counters_.tx_csum_completed;
  }
  tx_emit(frame);
}

// A large TCP frame: whole to an offload-capable backend, else segmented here with full
// checksums (the guest's pseudo-header seed is not needed).
void VirtioNet::tx_gso(std::span<std::uint8_t> frame, GsoType type, std::uint16_t mss) {
  if (mss == 0) {
    ++counters_.tx_offload_errors;
    return;
  }
  if (offload_port_ != nullptr) {
    const OffloadCaps caps = offload_port_->offload_caps();
    const bool takes = type == GsoType::tcpv4 ? caps.tso4 : caps.tso6;
    if (takes && frame.size() <= caps.max_frame) {
      const auto layout = parse_tcp_frame(frame);
      if (!layout || layout->ipv6 != (type == GsoType::tcpv6)) {
        ++counters_.tx_offload_errors;
        return;
      }
      FrameOffload offload;
      offload.needs_csum = true;
      offload.csum_start = static_cast<std::uint16_t>(layout->l4_offset);
      offload.csum_offset = 16;
      offload.gso = type;
      offload.gso_size = mss;
      offload.hdr_len = static_cast<std::uint16_t>(layout->header_length);
      if (!link_up_) {
        ++counters_.tx_link_down;
      } else if (offload_port_->transmit_offloaded(frame, offload)) {
        ++counters_.tx_offloaded;
        ++counters_.tx_frames;
        counters_.tx_bytes += frame.size();
      } else {
        ++counters_.tx_backend_refused;
      }
      return;
    }
  }
  if (!segmenter_.start(frame, type, mss, kMaxTsoSegments)) {
    ++counters_.tx_offload_errors;
    return;
  }
  for (std::size_t i = 0; i < segmenter_.segment_count(); ++i) {
    const std::size_t length = segmenter_.build(i, seg_buf_);
    ++counters_.tx_gso_segments;
    tx_emit(ByteSpan(seg_buf_.data(), length));
  }
}

void VirtioNet::tx_emit(ByteSpan frame) {
  if (!link_up_) {
    ++counters_.tx_link_down;
    return;
  }
  if (port_.transmit(frame)) {
    ++counters_.tx_frames;
    counters_.tx_bytes += frame.size();
  } else {
    ++counters_.tx_backend_refused;
  }
}

}  // namespace aero::devices
