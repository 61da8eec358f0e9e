// E1000 transmit descriptor engine.
//
// Theory of operation (SDM §3.3 transmit, §3.4 interrupt delay, §13.4.33-39 registers):
//  * The ring is TDLEN/16 descriptors at TDBAH:TDBAL. Hardware owns [TDH, TDT); poll() walks
//    from TDH towards TDT, at most `budget` descriptors per call, and writes TDH back.
//  * Preconditions: Bus Master Enable, TCTL.EN, TDLEN != 0, ring not halted. TDH or TDT at or
//    beyond the ring size, or a descriptor address outside guest memory, halts the ring and
//    counts a ring error; writing TDBAL/TDBAH/TDLEN/TDH, setting TCTL.EN, or a reset re-arms it.
//  * Descriptor kinds: legacy (CMD.DEXT = 0), context (DEXT, DTYP 0) and data (DEXT, DTYP 1).
//    Context descriptors load the offload context; legacy and data descriptors append their
//    buffer to the packet being assembled; EOP completes the packet (tx_finish, offloads and
//    emission in tx_offload.cpp).
//  * A packet's kind is latched by its first descriptor; a kind switch mid-packet drops the
//    partial packet (counted). Packets beyond the cap (16 KiB, or 256 KiB with TSE) enter drop
//    mode: later buffers are not read, and EOP discards the packet (counted).
//  * Completion: with RS, DD is written back to the descriptor status byte; TXDW is raised now,
//    or through TIDV/TADV when IDE is set and TIDV != 0. TXQE is raised when the walk empties
//    the ring.
#include <cstring>

#include "aero/devices/e1000.h"
#include "internal.h"

namespace aero::devices {

using namespace e1000;  // NOLINT: register names
using e1000_detail::le16;
using e1000_detail::le32;
using e1000_detail::le64;

bool E1000::tx_ready() const {
  return bus_master() && (reg(TCTL) & TCTL_EN) && !tx_halted_ && reg(TDLEN) != 0;
}

unsigned E1000::tx_run(unsigned budget) {
  if (!tx_ready()) return 0;
  const std::uint64_t count = reg(TDLEN) / kDescriptorSize;
  const std::uint64_t base = (std::uint64_t{reg(TDBAH)} << 32) | reg(TDBAL);
  std::uint32_t head = reg(TDH);
  const std::uint32_t tail = reg(TDT);
  if (head >= count || tail >= count || base > UINT64_MAX - count * kDescriptorSize) {
    ++counters_.tx_ring_errors;
    tx_halted_ = true;
    return 0;
  }
  const Instant now = clock_.now();
  unsigned processed = 0;
  std::array<std::uint8_t, kDescriptorSize> desc{};
  while (head != tail && processed < budget) {
    const std::uint64_t addr = base + std::uint64_t{head} * kDescriptorSize;
    if (!dma_read(addr, desc)) {
      ++counters_.tx_ring_errors;
      tx_halted_ = true;
      break;
    }
    tx_descriptor(desc.data(), now);
    const std::uint8_t cmd = desc[11];
    if (cmd & TXD_CMD_RS) {
      const std::uint8_t status = static_cast<std::uint8_t>(desc[12] | TXD_STA_DD);
      if (!dma_write(addr + 12, std::span<const std::uint8_t>(&status, 1))) {
        ++counters_.tx_ring_errors;
        tx_halted_ = true;
        break;
      }
      if ((cmd & TXD_CMD_IDE) && reg(TIDV) != 0) {
        arm_tx_delay(now);
      } else {
        raise(ICR_TXDW);
      }
    }
    head = static_cast<std::uint32_t>((head + 1) % count);
    ++processed;
    if (tx_halted_) break;
  }
  reg(TDH) = head;
  if (processed > 0 && head == tail) raise(ICR_TXQE);
  return processed;
}

void E1000::tx_descriptor(const std::uint8_t* d, Instant /*now*/) {
  const std::uint8_t cmd = d[11];
  const std::uint32_t dw2 = le32(d + 8);
  TxKind kind = TxKind::legacy;
  std::size_t length = le16(d + 8);
  if (cmd & TXD_CMD_DEXT) {
    const auto dtyp = static_cast<std::uint8_t>((dw2 >> 20) & 0xFU);
    if (dtyp == TXD_DTYP_CONTEXT) {  // §3.3.6 context descriptor
      tx_ctx_.ipcss = d[0];
      tx_ctx_.ipcso = d[1];
      tx_ctx_.ipcse = le16(d + 2);
      tx_ctx_.tucss = d[4];
      tx_ctx_.tucso = d[5];
      tx_ctx_.tucse = le16(d + 6);
      tx_ctx_.paylen = dw2 & 0xFFFFFU;
      tx_ctx_.tucmd = cmd;
      tx_ctx_.hdrlen = d[13];
      tx_ctx_.mss = le16(d + 14);
      return;
    }
    if (dtyp != TXD_DTYP_DATA) {
      ++counters_.tx_bad_descriptor;
      return;
    }
    kind = TxKind::extended;  // §3.3.7 data descriptor
    length = dw2 & 0xFFFFFU;
  }
  TxPacket& p = tx_pkt_;
  if (p.kind != TxKind::none && p.kind != kind) {
    ++counters_.tx_bad_descriptor;
    if (p.tse) stat_add(TSCTFC, 1);
    p = {};
  }
  if (p.kind == TxKind::none) {
    p.kind = kind;
    p.tse = kind == TxKind::extended && (cmd & TXD_CMD_TSE) != 0;
  }
  p.cmd = static_cast<std::uint8_t>(p.cmd | cmd);
  if (kind == TxKind::extended) p.popts = static_cast<std::uint8_t>(p.popts | d[13]);
  tx_append(le64(d), length);
  if (cmd & TXD_CMD_EOP) {
    // Legacy checksum fields and the VLAN tag are taken from the EOP descriptor (§3.3.3).
    p.cso = d[10];
    p.css = d[13];
    p.special = le16(d + 14);
    tx_finish();
  }
}

void E1000::tx_append(std::uint64_t addr, std::size_t length) {
  TxPacket& p = tx_pkt_;
  if (p.drop || length == 0) return;
  const std::size_t cap = p.tse ? kTxMaxTsoPacket : kTxMaxPacket;
  if (length > cap - p.length) {
    ++counters_.tx_oversize;
    p.drop = true;
    return;
  }
  if (!dma_read(addr, std::span<std::uint8_t>(tx_buf_.data() + p.length, length))) {
    ++counters_.tx_data_dma_errors;
    p.drop = true;
    return;
  }
  p.length += length;
}

}  // namespace aero::devices
