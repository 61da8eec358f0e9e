// E1000 transmit offloads and frame emission: legacy checksum insertion (SDM §3.3.3.1),
// context-based IP/TCP/UDP checksums (§3.3.6-3.3.7), TCP segmentation (§3.5), VLAN tag
// insertion (§3.3.3, CTRL.VME + CMD.VLE) and short-packet padding (TCTL.PSP, §13.4.33).
//
// Checksums follow the hardware model: the one's-complement sum from the start offset to the
// end offset (inclusive; 0 means the end of the packet) is complemented and stored at the
// offset given. The TCP/UDP field holds the driver's pseudo-header seed and is part of the sum.
// The IPv4 header checksum field is zeroed first (drivers leave it 0; a per-segment header
// changes under TSO anyway).
//
// TSO: the first HDRLEN bytes are the prototype header. Each segment carries at most MSS
// payload bytes; per segment the IPv4 total length and identification (base + i) or the IPv6
// payload length are rewritten, the TCP sequence number advances by the bytes already sent,
// FIN and PSH are kept only on the last segment, and the TCP checksum seed (the pseudo-header
// sum without length, as drivers prepare it) gets the segment's L4 length added.
//
// Statistics (§13.7): every emitted frame counts in TPT/TOT; frames of at least 64 wire bytes
// (with FCS) are "good" and count in GPTC, GOTC, the PTC size buckets and BPTC/MPTC. A TSE
// packet counts once in TSCTC when all its segments were emitted, or once in TSCTFC when it
// failed (DMA error, oversize, inconsistent context). Statistics describe the wire: a frame the
// backend refuses (tx_backend_refused) has still left the MAC.
#include <algorithm>
#include <cstring>

#include "aero/devices/e1000.h"
#include "aero/wire/checksum.h"
#include "aero/wire/ethernet.h"
#include "internal.h"

namespace aero::devices {

using namespace e1000;  // NOLINT: register names
using wire::load_be16;
using wire::load_be32;
using wire::ones_complement_add;
using wire::ones_complement_sum;
using wire::store_be16;
using wire::store_be32;

namespace {

// [start, end) for a checksum range whose inclusive end field is 0 for "end of packet".
bool checksum_range(std::size_t size, std::size_t start, std::size_t end_inclusive,
                    std::size_t field, std::size_t& end) {
  end = end_inclusive == 0 ? size : end_inclusive + 1;
  return start < end && end <= size && field + 2 <= size;
}

}  // namespace

void E1000::tx_finish() {
  TxPacket& p = tx_pkt_;
  if (p.drop) {
    if (p.tse) stat_add(TSCTFC, 1);
    p = {};
    return;
  }
  if (p.length < wire::kEthernetHeaderLength) {
    ++counters_.tx_runt;
    if (p.tse) stat_add(TSCTFC, 1);
    p = {};
    return;
  }
  std::span<std::uint8_t> frame(tx_buf_.data(), p.length);
  if (p.kind == TxKind::legacy) {
    if (p.cmd & TXD_CMD_IC) {
      std::size_t end = 0;
      if (checksum_range(frame.size(), p.css, 0, p.cso, end)) {
        const std::uint16_t sum = ones_complement_sum(frame.subspan(p.css, end - p.css));
        store_be16(frame, p.cso, static_cast<std::uint16_t>(~sum));
      } else {
        ++counters_.tx_offload_errors;
      }
    }
    tx_emit(frame);
  } else if (p.tse) {
    stat_add(tx_segment() ? TSCTC : TSCTFC, 1);
  } else {
    tx_checksums(frame, p.popts, false, 0);
    tx_emit(frame);
  }
  p = {};
}

void E1000::tx_checksums(std::span<std::uint8_t> frame, std::uint8_t popts, bool segment,
                         std::size_t l4_length) {
  const TxContext& c = tx_ctx_;
  std::size_t end = 0;
  if (popts & TXD_POPTS_IXSM) {
    if (checksum_range(frame.size(), c.ipcss, c.ipcse, c.ipcso, end)) {
      store_be16(frame, c.ipcso, 0);
      const std::uint16_t sum = ones_complement_sum(frame.subspan(c.ipcss, end - c.ipcss));
      store_be16(frame, c.ipcso, static_cast<std::uint16_t>(~sum));
    } else {
      ++counters_.tx_offload_errors;
    }
  }
  if (popts & TXD_POPTS_TXSM) {
    if (checksum_range(frame.size(), c.tucss, c.tucse, c.tucso, end)) {
      std::uint16_t sum = ones_complement_sum(frame.subspan(c.tucss, end - c.tucss));
      if (segment) sum = ones_complement_add(sum, static_cast<std::uint16_t>(l4_length));
      auto csum = static_cast<std::uint16_t>(~sum);
      if (!(c.tucmd & TXD_TUCMD_TCP) && csum == 0) csum = 0xFFFF;  // UDP: 0 means "none"
      store_be16(frame, c.tucso, csum);
    } else {
      ++counters_.tx_offload_errors;
    }
  }
}

// Returns false, emitting nothing, when the context cannot describe this packet.
bool E1000::tx_segment() {
  const TxContext& c = tx_ctx_;
  const TxPacket& p = tx_pkt_;
  const bool v4 = (c.tucmd & TXD_TUCMD_IP) != 0;
  const bool tcp = (c.tucmd & TXD_TUCMD_TCP) != 0;
  const std::size_t hdr = c.hdrlen;
  const std::size_t mss = c.mss;
  const std::size_t ip_min = v4 ? 20 : 40;
  const std::size_t l4_min = tcp ? 20 : 8;
  if (hdr < wire::kEthernetHeaderLength || hdr > p.length || mss == 0 ||
      hdr + mss > seg_buf_.size() || std::size_t{c.ipcss} + ip_min > c.tucss ||
      std::size_t{c.tucss} + l4_min > hdr) {
    ++counters_.tx_offload_errors;
    return false;
  }
  const std::size_t payload = p.length - hdr;
  const std::size_t segments = payload == 0 ? 1 : (payload + mss - 1) / mss;
  if (segments > kTxMaxTsoSegments) {
    ++counters_.tx_offload_errors;
    return false;
  }
  const ByteSpan packet(tx_buf_.data(), p.length);
  const std::uint16_t base_id = load_be16(packet, c.ipcss + 4U);
  const std::uint32_t base_seq = load_be32(packet, c.tucss + 4U);
  for (std::size_t i = 0; i < segments; ++i) {
    const std::size_t offset = i * mss;
    const std::size_t chunk = std::min(mss, payload - offset);
    const bool last = i + 1 == segments;
    std::memcpy(seg_buf_.data(), tx_buf_.data(), hdr);
    if (chunk > 0) std::memcpy(seg_buf_.data() + hdr, tx_buf_.data() + hdr + offset, chunk);
    const std::size_t length = hdr + chunk;
    std::span<std::uint8_t> seg(seg_buf_.data(), length);
    if (v4) {
      store_be16(seg, c.ipcss + 2U, static_cast<std::uint16_t>(length - c.ipcss));
      store_be16(seg, c.ipcss + 4U, static_cast<std::uint16_t>(base_id + i));
    } else {
      store_be16(seg, c.ipcss + 4U, static_cast<std::uint16_t>(length - c.ipcss - 40));
    }
    if (tcp) {
      store_be32(seg, c.tucss + 4U, static_cast<std::uint32_t>(base_seq + offset));
      if (!last) seg[c.tucss + 13U] = static_cast<std::uint8_t>(seg[c.tucss + 13U] & ~0x09U);
    } else {
      store_be16(seg, c.tucss + 4U, static_cast<std::uint16_t>(length - c.tucss));
    }
    tx_checksums(seg, p.popts, true, length - c.tucss);
    tx_emit(seg);
    ++counters_.tx_tso_segments;
  }
  return true;
}

void E1000::tx_emit(std::span<const std::uint8_t> frame) {
  const TxPacket& p = tx_pkt_;
  const bool vlan = (p.cmd & TXD_CMD_VLE) && (reg(CTRL) & CTRL_VME);
  const std::size_t tagged = frame.size() + (vlan ? 4U : 0U);
  const bool pad = (reg(TCTL) & TCTL_PSP) && tagged < wire::kEthernetMinFrameLength;
  std::span<const std::uint8_t> out = frame;
  if (vlan || pad) {
    std::uint8_t* o = out_buf_.data();
    if (vlan) {
      std::memcpy(o, frame.data(), 12);
      std::span<std::uint8_t> tag(o + 12, 4);
      store_be16(tag, 0, static_cast<std::uint16_t>(reg(VET)));
      store_be16(tag, 2, p.special);
      std::memcpy(o + 16, frame.data() + 12, frame.size() - 12);
    } else {
      std::memcpy(o, frame.data(), frame.size());
    }
    std::size_t length = tagged;
    if (pad) {
      std::memset(o + length, 0, wire::kEthernetMinFrameLength - length);
      length = wire::kEthernetMinFrameLength;
    }
    out = std::span<const std::uint8_t>(o, length);
  }
  const std::size_t wire_length = out.size() + 4;  // with the FCS the MAC appends
  stat_add(TPT, 1);
  stat_add64(TOTL, wire_length);
  if (wire_length >= 64) {
    stat_add(GPTC, 1);
    stat_add64(GOTCL, wire_length);
    stat_size_bucket(PTC64, wire_length);
    if (out[0] & 1U) {
      const bool broadcast = std::all_of(out.begin(), out.begin() + 6, [](std::uint8_t b) {
        return b == 0xFF;
      });
      stat_add(broadcast ? BPTC : MPTC, 1);
    }
  }
  if (port_.transmit(out)) {
    ++counters_.tx_frames;
  } else {
    ++counters_.tx_backend_refused;
  }
}

}  // namespace aero::devices
