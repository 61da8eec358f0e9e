// E1000 receive engine.
//
// Theory of operation (SDM §3.2 receive, §13.4.22 RCTL, §13.4.15 RXCSUM):
//  * The backend offers one frame (without FCS) to receive(). Preconditions: Bus Master
//    Enable, RCTL.EN, RDLEN != 0, ring not halted; otherwise the frame is dropped and counted
//    (a disabled receiver drops frames on the wire too).
//  * Size: at least an Ethernet header; at most 1518 bytes (1522 tagged) unless RCTL.LPE
//    allows up to 16380. Frames shorter than 60 bytes are padded to 60, as the wire minimum.
//    Checked after address filtering, as ROC/RUC count only frames that pass the filters.
//  * Filtering (§3.2.1): broadcast needs BAM (or MPE); multicast needs MPE, an exact RAL/RAH
//    match or its MTA hash bit (12 bits of the address chosen by RCTL.MO); unicast needs UPE
//    or an exact match among the 16 RAL/RAH entries with AV set. A frame tagged with VET is
//    checked against the VLAN filter table when RCTL.VFE is set.
//  * RX checksum (§3.2.9, table 3-5; RXCSUM §13.4.15): IPOFL checks the IPv4 header checksum
//    (IPCS, error IPE); TUOFL checks TCP and UDP over IPv4 (not fragments, not UDP without a
//    checksum) and over IPv6 (TCPCS, error TCPE), skipping IPv6 hop-by-hop and destination
//    options headers; IPv6 with a routing or fragment header is not checked. IPv6 has no
//    header checksum, so IPCS is never set for it. A tag left in the frame (CTRL.VME clear) is
//    skipped. IXSM is set when nothing was checked.
//  * VLAN stripping (CTRL.VME): the tag is removed, VP set and the TCI stored in the
//    descriptor's special field. Unless RCTL.SECRC, the 4-byte FCS is appended (drivers
//    subtract it).
//  * Placement: the frame is split over ceil(len / buffer size) descriptors from RDH; the
//    hardware owns [RDH, RDT). When fewer are owned the frame is held (RxResult::hold): the
//    backend keeps it; RNBC counts the episode and RXO is raised once until the guest posts
//    buffers. A frame that needs more descriptors than the ring can ever hold is dropped.
//  * Statistics (§13.7): every frame an enabled receiver takes to a final outcome (delivered or
//    dropped, not held) counts in TPR/TOR; delivered frames in GPRC, GORC, the PRC size buckets
//    and BPRC/MPRC; length errors in RUC or ROC and RLEC; frames lost after passing the filters
//    (no room in any ring, descriptor DMA failure) in MPC; hold episodes in RNBC. Octets are
//    wire octets: the frame as received, at least 60 bytes, plus the 4-byte FCS.
//  * Write-back: length, packet checksum (from RXCSUM.PCSS), status DD (EOP on the last), VP,
//    IXSM or IPCS/TCPCS, errors IPE/TCPE, special. Then RDH advances, statistics update,
//    RXT0 goes through the receive delay timers and RXDMT0 is raised when the owned count
//    falls to RDMTS (1/2, 1/4, 1/8 of the ring).
//  * Descriptor or buffer addresses outside guest memory halt the ring (counted) until the
//    guest rewrites RDBAL/RDBAH/RDLEN/RDH or re-enables the receiver.
#include <algorithm>
#include <cstring>

#include "aero/devices/e1000.h"
#include "aero/wire/checksum.h"
#include "aero/wire/ethernet.h"
#include "aero/wire/ipv4.h"
#include "internal.h"

namespace aero::devices {

using namespace e1000;  // NOLINT: register names
using wire::load_be16;

std::size_t E1000::rx_buffer_size() const {
  const std::uint32_t rctl = reg(RCTL);
  const unsigned bsize = (rctl >> RCTL_BSIZE_SHIFT) & 3U;
  if (rctl & RCTL_BSEX) {
    static constexpr std::size_t kExtended[4] = {2048, 16384, 8192, 4096};
    return kExtended[bsize];
  }
  static constexpr std::size_t kNormal[4] = {2048, 1024, 512, 256};
  return kNormal[bsize];
}

bool E1000::rx_address_accepted(ByteSpan frame) const {
  const std::uint32_t rctl = reg(RCTL);
  const bool multicast = (frame[0] & 1U) != 0;
  const bool broadcast =
      std::all_of(frame.begin(), frame.begin() + 6, [](std::uint8_t b) { return b == 0xFF; });
  if (broadcast) return (rctl & (RCTL_BAM | RCTL_MPE)) != 0;
  if (multicast && (rctl & RCTL_MPE)) return true;
  if (!multicast && (rctl & RCTL_UPE)) return true;
  const std::uint32_t lo = std::uint32_t{frame[0]} | (std::uint32_t{frame[1]} << 8) |
                           (std::uint32_t{frame[2]} << 16) | (std::uint32_t{frame[3]} << 24);
  const std::uint32_t hi = std::uint32_t{frame[4]} | (std::uint32_t{frame[5]} << 8);
  for (unsigned i = 0; i < kReceiveAddresses; ++i) {
    const std::uint32_t rah = reg(RAH0 + 8 * i);
    if ((rah & RAH_AV) && reg(RAL0 + 8 * i) == lo && (rah & 0xFFFFU) == hi) return true;
  }
  if (!multicast) return false;
  // §13.4.22 MO: which 12 bits of the last two address bytes index the MTA bit vector.
  const unsigned mo = (rctl >> RCTL_MO_SHIFT) & 3U;
  const unsigned word = (std::uint32_t{frame[4]} | (std::uint32_t{frame[5]} << 8));
  const unsigned hash = (word >> (4 - mo)) & 0xFFFU;
  return ((reg(MTA + 4 * (hash >> 5)) >> (hash & 31U)) & 1U) != 0;
}

namespace {

// Bounded walk over the IPv6 extension headers the checksum engine skips (RFC 8200 §4).
constexpr unsigned kMaxIpv6ExtensionHeaders = 8;
constexpr std::uint8_t kIpv6HopByHop = 0, kIpv6DestinationOptions = 60;

// The one's-complement sum over a TCP or UDP segment and its pseudo-header is 0xFFFF when the
// stored checksum is right.
bool ipv6_l4_checksum_ok(ByteSpan ip, std::uint8_t proto, ByteSpan l4) {
  wire::ChecksumAccumulator acc;
  acc.add(ip.subspan(8, 32));  // source and destination addresses
  acc.add_u32(static_cast<std::uint32_t>(l4.size()));
  acc.add_u32(proto);
  acc.add(l4);
  return acc.sum() == 0xFFFF;
}

}  // namespace

void E1000::rx_checksum_status(ByteSpan frame, std::uint8_t& status,
                               std::uint8_t& errors) const {
  const std::uint32_t rxcsum = reg(RXCSUM);
  bool checked = false;
  std::size_t l3 = wire::kEthernetHeaderLength;
  std::uint16_t type = load_be16(frame, 12);
  if (type == static_cast<std::uint16_t>(reg(VET)) && frame.size() >= l3 + 4) {
    type = load_be16(frame, 16);  // the tag stayed in the frame (CTRL.VME clear)
    l3 += 4;
  }
  const ByteSpan l3_bytes = frame.subspan(l3);
  if ((rxcsum & (RXCSUM_IPOFL | RXCSUM_TUOFL)) && type == wire::kEtherTypeIpv4) {
    auto ip = wire::Ipv4Packet::parse(l3_bytes);
    if (ip) {
      if (rxcsum & RXCSUM_IPOFL) {
        checked = true;
        status |= RXD_STA_IPCS;
        if (!ip->checksum_ok()) errors |= RXD_ERR_IPE;
      }
      const std::uint8_t proto = ip->protocol();
      const ByteSpan l4 = ip->payload();
      const bool tcp = proto == wire::kIpProtocolTcp && l4.size() >= 20;
      const bool udp = proto == wire::kIpProtocolUdp && l4.size() >= 8 && load_be16(l4, 6) != 0;
      if ((rxcsum & RXCSUM_TUOFL) && !ip->is_fragment() && (tcp || udp)) {
        checked = true;
        status |= RXD_STA_TCPCS;
        wire::ChecksumAccumulator acc;
        acc.add_u16(wire::pseudo_header_sum(ip->source(), ip->destination(), proto,
                                            static_cast<std::uint16_t>(l4.size())));
        acc.add(l4);
        if (acc.sum() != 0xFFFF) errors |= RXD_ERR_TCPE;
      }
    }
  } else if ((rxcsum & RXCSUM_TUOFL) && type == wire::kEtherTypeIpv6 && l3_bytes.size() >= 40 &&
             (l3_bytes[0] >> 4) == 6) {
    // The payload length bounds the packet; bytes after it are Ethernet padding.
    const std::size_t end = 40 + std::size_t{load_be16(l3_bytes, 4)};
    if (end <= l3_bytes.size()) {
      std::uint8_t next = l3_bytes[6];
      std::size_t at = 40;
      for (unsigned n = 0; n < kMaxIpv6ExtensionHeaders && at + 8 <= end &&
                           (next == kIpv6HopByHop || next == kIpv6DestinationOptions);
           ++n) {
        next = l3_bytes[at];
        at += 8 + 8 * std::size_t{l3_bytes[at + 1]};
      }
      const std::size_t l4_size = at <= end ? end - at : 0;
      const bool tcp = next == wire::kIpProtocolTcp && l4_size >= 20;
      const bool udp = next == wire::kIpProtocolUdp && l4_size >= 8;
      if (tcp || udp) {
        checked = true;
        status |= RXD_STA_TCPCS;
        if (!ipv6_l4_checksum_ok(l3_bytes, next, l3_bytes.subspan(at, l4_size))) {
          errors |= RXD_ERR_TCPE;
        }
      }
    }
  }
  if (!checked) status |= RXD_STA_IXSM;
}

void E1000::rx_count_seen(std::size_t wire_length) {
  stat_add(TPR, 1);
  stat_add64(TORL, wire_length);
}

RxResult E1000::receive(ByteSpan frame) {
  const std::uint32_t rctl = reg(RCTL);
  if (!bus_master() || !(rctl & RCTL_EN) || rx_halted_ || reg(RDLEN) == 0) {
    ++counters_.rx_disabled;
    return RxResult::dropped;
  }
  const std::size_t wire_length =
      std::max<std::size_t>(frame.size(), wire::kEthernetMinFrameLength) + 4;
  if (frame.size() < wire::kEthernetHeaderLength) {
    ++counters_.rx_runt;
    stat_add(RUC, 1);
    stat_add(RLEC, 1);
    rx_count_seen(wire_length);
    return RxResult::dropped;
  }
  if (!rx_address_accepted(frame)) {
    ++counters_.rx_filtered;
    rx_count_seen(wire_length);
    return RxResult::dropped;
  }
  const std::uint16_t vet = static_cast<std::uint16_t>(reg(VET));
  const bool tagged = frame.size() >= 18 && load_be16(frame, 12) == vet;
  const std::size_t max = (rctl & RCTL_LPE) ? kRxMaxFrame : 1518U + (tagged ? 4U : 0U);
  if (frame.size() > max) {
    ++counters_.rx_oversize;
    stat_add(ROC, 1);
    stat_add(RLEC, 1);
    rx_count_seen(wire_length);
    return RxResult::dropped;
  }
  std::uint16_t tci = 0;
  if (tagged) {
    tci = load_be16(frame, 14);
    const unsigned vid = tci & 0xFFFU;
    if ((rctl & RCTL_VFE) && !((reg(VFTA + 4 * (vid >> 5)) >> (vid & 31U)) & 1U)) {
      ++counters_.rx_vlan_filtered;
      rx_count_seen(wire_length);
      return RxResult::dropped;
    }
  }
  const bool strip = tagged && (reg(CTRL) & CTRL_VME);

  // Stage the frame as it lands in guest memory.
  std::uint8_t* s = rx_buf_.data();
  std::size_t length = 0;
  if (strip) {
    std::memcpy(s, frame.data(), 12);
    std::memcpy(s + 12, frame.data() + 16, frame.size() - 16);
    length = frame.size() - 4;
  } else {
    std::memcpy(s, frame.data(), frame.size());
    length = frame.size();
  }
  if (length < wire::kEthernetMinFrameLength) {
    std::memset(s + length, 0, wire::kEthernetMinFrameLength - length);
    length = wire::kEthernetMinFrameLength;
  }
  const ByteSpan payload(s, length);
  std::uint8_t status = 0;
  std::uint8_t errors = 0;
  rx_checksum_status(payload, status, errors);
  const std::uint8_t pcss = static_cast<std::uint8_t>(reg(RXCSUM));
  const std::uint16_t packet_csum =
      pcss < length ? wire::ones_complement_sum(payload.subspan(pcss)) : 0;
  if (!(rctl & RCTL_SECRC)) {
    e1000_detail::put_le32(s + length, e1000_detail::crc32(payload));
    length += 4;
  }
  if (strip) status |= RXD_STA_VP;

  // Ring space.
  const std::uint64_t count = reg(RDLEN) / kDescriptorSize;
  const std::uint64_t base = (std::uint64_t{reg(RDBAH)} << 32) | reg(RDBAL);
  std::uint32_t head = reg(RDH);
  const std::uint32_t tail = reg(RDT);
  if (head >= count || tail >= count || base > UINT64_MAX - count * kDescriptorSize) {
    ++counters_.rx_ring_errors;
    rx_halted_ = true;
    stat_add(MPC, 1);
    rx_count_seen(wire_length);
    return RxResult::dropped;
  }
  const std::size_t buffer = rx_buffer_size();
  const std::size_t needed = (length + buffer - 1) / buffer;
  const std::uint64_t owned = (tail + count - head) % count;
  if (needed > count - 1) {
    ++counters_.rx_too_big_for_ring;
    stat_add(MPC, 1);
    rx_count_seen(wire_length);
    return RxResult::dropped;
  }
  if (needed > owned) {
    ++counters_.rx_hold;
    if (!rx_overrun_reported_) {
      rx_overrun_reported_ = true;
      stat_add(RNBC, 1);
      raise(ICR_RXO);
    }
    return RxResult::hold;
  }

  std::array<std::uint8_t, kDescriptorSize> desc{};
  std::size_t done = 0;
  for (std::size_t i = 0; i < needed; ++i) {
    const std::uint64_t addr = base + std::uint64_t{head} * kDescriptorSize;
    const std::size_t chunk = std::min(buffer, length - done);
    const bool eop = i + 1 == needed;
    if (!dma_read(addr, desc) ||
        !dma_write(e1000_detail::le64(desc.data()), ByteSpan(s + done, chunk))) {
      ++counters_.rx_ring_errors;
      rx_halted_ = true;
      reg(RDH) = head;
      stat_add(MPC, 1);
      rx_count_seen(wire_length);
      return RxResult::dropped;
    }
    e1000_detail::put_le16(&desc[8], static_cast<std::uint16_t>(chunk));
    e1000_detail::put_le16(&desc[10], packet_csum);
    desc[12] = static_cast<std::uint8_t>(RXD_STA_DD | (eop ? (RXD_STA_EOP | status) : 0U));
    desc[13] = eop ? errors : 0;
    e1000_detail::put_le16(&desc[14], eop && strip ? tci : 0);
    if (!dma_write(addr + 8, ByteSpan(desc.data() + 8, 8))) {
      ++counters_.rx_ring_errors;
      rx_halted_ = true;
      reg(RDH) = head;
      stat_add(MPC, 1);
      rx_count_seen(wire_length);
      return RxResult::dropped;
    }
    done += chunk;
    head = static_cast<std::uint32_t>((head + 1) % count);
  }
  reg(RDH) = head;

  stat_add(GPRC, 1);
  stat_add64(GORCL, wire_length);
  stat_size_bucket(PRC64, wire_length);
  rx_count_seen(wire_length);
  if (frame[0] & 1U) {
    const bool broadcast =
        std::all_of(frame.begin(), frame.begin() + 6, [](std::uint8_t b) { return b == 0xFF; });
    stat_add(broadcast ? BPRC : MPRC, 1);
  }
  ++counters_.rx_frames;

  const std::uint64_t left = (tail + count - head) % count;
  const unsigned rdmts = (rctl >> RCTL_RDMTS_SHIFT) & 3U;
  if (rdmts < 3 && left <= (count >> (rdmts + 1))) raise(ICR_RXDMT0);
  arm_rx_delay(clock_.now());
  return RxResult::accepted;
}

}  // namespace aero::devices
