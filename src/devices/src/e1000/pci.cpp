// E1000 PCI configuration space (PCI Local Bus 3.0 §6.1, SDM §4.1): identity, Command
// (I/O, memory, bus master, INTx disable), BAR0 (128 KiB memory) and BAR1 (64-byte I/O).
//
// Writable bytes: Command (0x04-0x05, defined bits only), cache line size (0x0C), latency
// timer (0x0D), BAR0/BAR1 (0x10-0x17, low bits hard-wired so that writing all-ones reads back
// the size mask), interrupt line (0x3C). Everything else is read-only; reads beyond 0xFF or with
// a size other than 1, 2 or 4 return 0.
#include "aero/devices/e1000.h"
#include "internal.h"

namespace aero::devices {

using namespace e1000;  // NOLINT: register names

namespace {

constexpr std::uint16_t kCommandWritable = 0x0547;  // IO, MEM, BME, PERR, SERR, INTx disable

// The byte at `offset` after a guest write of `value` to a BAR byte.
std::uint8_t bar_byte(std::uint32_t offset, std::uint8_t value) {
  const bool bar0 = offset < 0x14;
  const std::uint32_t mask = bar0 ? ~(kBar0Size - 1) : ~(kBar1Size - 1);
  const std::uint32_t fixed = bar0 ? 0x0U : 0x1U;
  const unsigned shift = 8 * (offset & 3U);
  const std::uint32_t merged = ((std::uint32_t{value} << shift) & mask) | fixed;
  return static_cast<std::uint8_t>(merged >> shift);
}

}  // namespace

std::uint32_t E1000::config_read(std::uint32_t offset, unsigned size) const {
  if ((size != 1 && size != 2 && size != 4) || offset >= pci_.size() ||
      offset + size > pci_.size()) {
    return 0;
  }
  std::uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= std::uint32_t{pci_[offset + i]} << (8 * i);
  return v;
}

void E1000::config_write(std::uint32_t offset, unsigned size, std::uint32_t value) {
  if ((size != 1 && size != 2 && size != 4) || offset >= pci_.size() ||
      offset + size > pci_.size()) {
    return;
  }
  for (unsigned i = 0; i < size; ++i) {
    const std::uint32_t at = offset + i;
    const auto byte = static_cast<std::uint8_t>(value >> (8 * i));
    if (at == 0x04) {
      pci_[at] = static_cast<std::uint8_t>(byte & kCommandWritable);
    } else if (at == 0x05) {
      pci_[at] = static_cast<std::uint8_t>(byte & (kCommandWritable >> 8));
    } else if (at == 0x0C || at == 0x0D || at == 0x3C) {
      pci_[at] = byte;
    } else if (at >= 0x10 && at < 0x18) {
      pci_[at] = bar_byte(at, byte);
    }
  }
  update_irq();  // INTx Disable may have changed
}

}  // namespace aero::devices
