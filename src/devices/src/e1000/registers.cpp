// E1000 register file: BAR0 MMIO and BAR1 I/O window decoding, and the per-register read and
// write semantics of SDM §13.4. Registers without behaviour are plain read/write storage.
#include <array>

#include "aero/devices/e1000.h"
#include "internal.h"

namespace aero::devices {

using namespace e1000;  // NOLINT: register names

namespace {

std::uint32_t size_mask(unsigned size) {
  return size >= 4 ? 0xFFFFFFFFU : ((1U << (8 * size)) - 1U);
}
bool valid_size(unsigned size) { return size == 1 || size == 2 || size == 4; }

}  // namespace

// Sub-dword accesses read or merge into the aligned dword (SDM §13.1: registers are 32-bit;
// narrower accesses address bytes of the dword). An access crossing a dword is not decoded.
std::uint32_t E1000::mmio_read(std::uint32_t offset, unsigned size) {
  if (!valid_size(size) || offset >= kBar0Size || (offset & 3U) + size > 4) return 0;
  const std::uint32_t shift = 8 * (offset & 3U);
  return (reg_read(offset & ~3U) >> shift) & size_mask(size);
}

void E1000::mmio_write(std::uint32_t offset, unsigned size, std::uint32_t value) {
  if (!valid_size(size) || offset >= kBar0Size || (offset & 3U) + size > 4) return;
  const std::uint32_t aligned = offset & ~3U;
  if (size == 4) {
    reg_write(aligned, value);
    return;
  }
  const std::uint32_t shift = 8 * (offset & 3U);
  const std::uint32_t mask = size_mask(size) << shift;
  // Causes and mask registers act on the bits written only; the others merge with the stored
  // value (not the read value, so read side effects do not fire).
  if (aligned == ICR || aligned == ICS || aligned == IMS || aligned == IMC) {
    reg_write(aligned, (value << shift) & mask);
    return;
  }
  reg_write(aligned, (reg(aligned) & ~mask) | ((value << shift) & mask));
}

// BAR1 (SDM §13.2.2): IOADDR (offset 0) latches a register offset; IODATA (offset 4) reads or
// writes the register it names. Other offsets are reserved and read 0.
std::uint32_t E1000::pio_read(std::uint32_t offset, unsigned size) {
  if (!valid_size(size) || offset >= kBar1Size || (offset & 3U) + size > 4) return 0;
  const std::uint32_t shift = 8 * (offset & 3U);
  if (offset < 4) return (ioaddr_ >> shift) & size_mask(size);
  if (offset < 8) {
    if (ioaddr_ >= kBar0Size) return 0;
    return mmio_read(ioaddr_ + (offset & 3U), size);
  }
  return 0;
}

void E1000::pio_write(std::uint32_t offset, unsigned size, std::uint32_t value) {
  if (!valid_size(size) || offset >= kBar1Size || (offset & 3U) + size > 4) return;
  const std::uint32_t shift = 8 * (offset & 3U);
  if (offset < 4) {
    const std::uint32_t mask = size_mask(size) << shift;
    ioaddr_ = ((ioaddr_ & ~mask) | ((value << shift) & mask)) & 0x0001FFFCU;
  } else if (offset < 8) {
    mmio_write(ioaddr_ + (offset & 3U), size, value);
  }
}

// Statistics (SDM §13.7). Counters stick at their maximum instead of wrapping.
void E1000::stat_add(std::uint32_t offset, std::uint64_t amount) {
  const std::uint64_t sum = std::uint64_t{reg(offset)} + amount;
  reg(offset) = sum > 0xFFFFFFFFU ? 0xFFFFFFFFU : static_cast<std::uint32_t>(sum);
}

void E1000::stat_add64(std::uint32_t low_offset, std::uint64_t amount) {
  std::uint64_t v = (std::uint64_t{reg(low_offset + 4)} << 32) | reg(low_offset);
  v = amount > UINT64_MAX - v ? UINT64_MAX : v + amount;
  reg(low_offset) = static_cast<std::uint32_t>(v);
  reg(low_offset + 4) = static_cast<std::uint32_t>(v >> 32);
}

// PRC64..PRC1522 and PTC64..PTC1522 (§13.7.21-26, 13.7.42-47): six consecutive counters for
// 64, 65-127, 128-255, 256-511, 512-1023 and 1024-1522 bytes on the wire (DA through CRC).
// Shorter and longer (jumbo) frames fall in no bucket.
void E1000::stat_size_bucket(std::uint32_t first_bucket, std::size_t wire_length) {
  if (wire_length < 64 || wire_length > 1522) return;
  static constexpr std::array<std::size_t, 5> kUpper = {64, 127, 255, 511, 1023};
  std::uint32_t bucket = 0;
  while (bucket < kUpper.size() && wire_length > kUpper[bucket]) ++bucket;
  stat_add(first_bucket + 4 * bucket, 1);
}

// Clear-on-read statistics. The four 64-bit octet counters reset when their high half is read
// (§13.7.31-32, 13.7.38-39); drivers read the low half first. Reading the low half latches the
// full value, and the high half then returns the latched upper bits and subtracts exactly what
// the two reads reported, so octets counted between the two reads are neither torn across the
// halves nor lost. A high-half read without a preceding low-half read returns the upper bits and
// resets the whole counter, as the manual describes.
std::uint32_t E1000::stat_read(std::uint32_t offset) {
  for (unsigned i = 0; i < kWideStats; ++i) {
    const std::uint32_t low = kWideStatLow[i];
    if (offset != low && offset != low + 4) continue;
    const std::uint64_t value = (std::uint64_t{reg(low + 4)} << 32) | reg(low);
    WideStatLatch& latch = wide_stat_latch_[i];
    if (offset == low) {
      latch = {true, value};
      return static_cast<std::uint32_t>(value);
    }
    const std::uint64_t reported = latch.valid ? latch.value : value;
    latch = {};
    const std::uint64_t rest = value >= reported ? value - reported : 0;  // it only grows
    reg(low) = static_cast<std::uint32_t>(rest);
    reg(low + 4) = static_cast<std::uint32_t>(rest >> 32);
    return static_cast<std::uint32_t>(reported >> 32);
  }
  const std::uint32_t v = reg(offset);
  reg(offset) = 0;
  return v;
}

std::uint32_t E1000::reg_read(std::uint32_t offset) {
  switch (offset) {
    case STATUS: {  // §13.4.2: link state follows the host link; always 1000 Mb/s full duplex
      std::uint32_t s = STATUS_FD | STATUS_SPEED_1000;
      if (link_up_) s |= STATUS_LU;
      return s;
    }
    case EECD:
      return eecd_read();
    case ICR: {  // §13.4.17: reading clears every cause and deasserts the line
      const std::uint32_t v = reg(ICR);
      reg(ICR) = 0;
      update_irq();
      return v;
    }
    case ICS:
    case IMC:
      return 0;  // write-only
    default:
      break;
  }
  if (offset >= STATS_FIRST && offset <= STATS_LAST) return stat_read(offset);
  return reg(offset);
}

void E1000::reg_write(std::uint32_t offset, std::uint32_t value) {
  switch (offset) {
    case CTRL:
      if (value & CTRL_RST) {
        reset();
        return;
      }
      if (value & CTRL_PHY_RST) phy_reset();
      reg(CTRL) = value & ~(CTRL_RST | CTRL_PHY_RST);
      return;
    case STATUS:
      return;  // read-only
    case EECD:
      eecd_write(value);
      return;
    case EERD:
      eerd_write(value);
      return;
    case MDIC:
      mdic_write(value);
      return;
    case ICR:  // write 1 to clear
      reg(ICR) &= ~value;
      update_irq();
      return;
    case ICS:  // §13.4.19: sets causes
      raise(value & kInterruptCauseMask);
      return;
    case IMS:  // §13.4.20
      reg(IMS) |= value & kInterruptCauseMask;
      update_irq();
      return;
    case IMC:  // §13.4.21
      reg(IMS) &= ~value;
      update_irq();
      return;
    case ITR:
      reg(ITR) = value & 0xFFFF;
      update_irq();
      return;
    case RCTL:
      if ((value & RCTL_EN) && !(reg(RCTL) & RCTL_EN)) rx_halted_ = false;
      reg(RCTL) = value;
      rx_overrun_reported_ = false;
      return;
    case TCTL:
      if ((value & TCTL_EN) && !(reg(TCTL) & TCTL_EN)) tx_halted_ = false;
      reg(TCTL) = value;
      return;
    case RDBAL:
      reg(RDBAL) = value & ~0xFU;  // §13.4.23: 16-byte aligned
      rx_halted_ = false;
      return;
    case TDBAL:
      reg(TDBAL) = value & ~0xFU;
      tx_halted_ = false;
      return;
    case RDLEN:
    case TDLEN:
      reg(offset) = value & 0x000FFF80U;  // §13.4.25: 128-byte multiple, 20 bits
      (offset == RDLEN ? rx_halted_ : tx_halted_) = false;
      return;
    case RDBAH:
    case RDH:
      reg(offset) = offset == RDH ? (value & 0xFFFF) : value;
      rx_halted_ = false;
      return;
    case TDBAH:
    case TDH:
      reg(offset) = offset == TDH ? (value & 0xFFFF) : value;
      tx_halted_ = false;
      return;
    case RDT:  // §13.4.28: the RX doorbell; new buffers end an overrun episode
      reg(RDT) = value & 0xFFFF;
      rx_overrun_reported_ = false;
      return;
    case TDT:  // §13.4.38: the TX doorbell; work runs in poll()
      reg(TDT) = value & 0xFFFF;
      return;
    case RDTR:  // §13.4.30: writing FPD flushes the receive interrupt delay
      reg(RDTR) = value & 0xFFFF;
      if ((value & RDTR_FPD) && (timers_.rx_packet || timers_.rx_absolute)) {
        timers_.rx_packet.reset();
        timers_.rx_absolute.reset();
        raise(ICR_RXT0);
      }
      return;
    case RADV:
    case TIDV:
    case TADV:
      reg(offset) = value & 0xFFFF;
      return;
    case VET:
      reg(VET) = value & 0xFFFF;
      return;
    default:
      break;
  }
  if (offset >= STATS_FIRST && offset <= STATS_LAST) return;  // read-only counters
  if (offset >= RAL0 && offset < RAL0 + 8 * kReceiveAddresses && (offset & 4U)) {
    reg(offset) = value & (RAH_AV | 0x0003FFFFU);  // §13.4.32: AV, AS, address bytes 4-5
    return;
  }
  reg(offset) = value;
}

}  // namespace aero::devices
