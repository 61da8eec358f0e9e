// E1000 construction, device reset (CTRL.RST, SDM §13.4.1) and the DMA gate (PCI Command Bus
// Master Enable).
#include <algorithm>

#include "aero/devices/e1000.h"
#include "internal.h"

namespace aero::devices {

using namespace e1000;  // NOLINT: register names

namespace e1000_detail {

std::uint32_t crc32(ByteSpan data, std::uint32_t crc) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1U) ? (0xEDB88320U ^ (c >> 1)) : (c >> 1);
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (std::uint8_t b : data) crc = table[(crc ^ b) & 0xFFU] ^ (crc >> 8);
  return ~crc;
}

}  // namespace e1000_detail

E1000::E1000(GuestMemory& memory, InterruptLine& irq, FramePort& port, const Clock& clock,
             E1000Config config)
    : memory_(memory),
      irq_(irq),
      port_(port),
      clock_(clock),
      config_(config),
      regs_(kBar0Size / 4, 0),
      tx_buf_(kTxMaxTsoPacket, 0),
      seg_buf_(kTxMaxPacket + 256, 0),
      out_buf_(kTxMaxPacket + 256 + 64, 0),
      rx_buf_(kRxMaxFrame + 64, 0) {
  if (config_.tx_descriptor_budget == 0) config_.tx_descriptor_budget = 1;
  // PCI configuration header (SDM §4.1, PCI 3.0 §6.1).
  auto put16 = [&](std::size_t at, std::uint16_t v) { e1000_detail::put_le16(&pci_[at], v); };
  put16(0x00, kVendorId);
  put16(0x02, kDeviceId);
  put16(0x06, 0x0000);   // status: no capabilities list
  pci_[0x08] = 0x00;     // revision
  pci_[0x0A] = 0x00;     // Ethernet controller
  pci_[0x0B] = 0x02;     // network controller
  pci_[0x0E] = 0x00;     // type 0 header
  e1000_detail::put_le32(&pci_[0x10], 0x00000000);  // BAR0: 32-bit memory, non-prefetchable
  e1000_detail::put_le32(&pci_[0x14], 0x00000001);  // BAR1: I/O
  put16(0x2C, kSubsystemVendorId);
  put16(0x2E, kSubsystemId);
  pci_[0x3D] = 0x01;  // INTA#
  pci_[0x3E] = 0xFF;  // min grant
  pci_[0x3F] = 0x00;  // max latency
  eeprom_init();
  reset();
}

std::array<std::uint8_t, 6> E1000::mac() const {
  std::array<std::uint8_t, 6> out{};
  for (unsigned i = 0; i < 3; ++i) {
    out[2 * i] = static_cast<std::uint8_t>(eeprom_[i]);
    out[2 * i + 1] = static_cast<std::uint8_t>(eeprom_[i] >> 8);
  }
  return out;
}

// CTRL.RST: every register returns to its initial value; the EEPROM is reloaded (RAL0/RAH0
// from words 0-2); the PHY is reset; queued work and timers are discarded. PCI configuration
// space is untouched (SDM §13.4.1: software reset does not affect PCI configuration).
void E1000::reset() {
  std::fill(regs_.begin(), regs_.end(), 0U);
  const auto m = mac();
  reg(RAL0) = std::uint32_t{m[0]} | (std::uint32_t{m[1]} << 8) | (std::uint32_t{m[2]} << 16) |
              (std::uint32_t{m[3]} << 24);
  reg(RAH0) = std::uint32_t{m[4]} | (std::uint32_t{m[5]} << 8) | RAH_AV;
  reg(VET) = 0x8100;
  reg(PBA) = 0x00100030;  // 48 KiB receive, 16 KiB transmit packet buffer
  reg(EECD) = EECD_PRES;
  reg(MDIC) = MDIC_READY;
  reg(CTRL) = CTRL_SLU;
  reg(TIPG) = 0x0060200A;
  microwire_ = {};
  wide_stat_latch_ = {};
  ioaddr_ = 0;
  timers_ = {};
  tx_ctx_ = {};
  tx_pkt_ = {};
  tx_halted_ = false;
  rx_halted_ = false;
  rx_overrun_reported_ = false;
  phy_reset();
  update_irq();
}

bool E1000::bus_master() const {
  return (e1000_detail::le16(&pci_[0x04]) & kPciCommandBusMaster) != 0;
}

bool E1000::dma_read(std::uint64_t gpa, std::span<std::uint8_t> out) {
  return bus_master() && memory_.read(gpa, out);
}

bool E1000::dma_write(std::uint64_t gpa, std::span<const std::uint8_t> data) {
  return bus_master() && memory_.write(gpa, data);
}

}  // namespace aero::devices
