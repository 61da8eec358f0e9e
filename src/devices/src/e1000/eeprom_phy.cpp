// E1000 EEPROM (EERD and the EECD Microwire bit-bang interface) and the internal PHY behind
// MDIC.
//
// EEPROM contents (SDM §5.6, table 5-2): words 0-2 the MAC address, word 0x0A initialization
// control 1 (signature 01b in bits 15:14), 0x0B/0x0C subsystem id/vendor, 0x0D/0x0E device and
// vendor id, 0x0F initialization control 2, unprogrammed words 0xFFFF, and word 0x3F chosen so
// the 64 words sum to 0xBABA (the check drivers perform).
//
// Microwire theory of operation (SDM §5.5, 93C46-style 64 x 16 part, 6 address bits): while
// CS is high, each rising edge of SK shifts DI in. Leading zeros are ignored until the start
// bit (1); then 2 opcode bits and 6 address bits follow. After the READ opcode (10b) the part
// drives a dummy 0 on DO, and each further rising edge presents the next data bit, MSB first;
// after 16 bits the address increments (sequential read). Write/erase opcodes are accepted and
// ignored (the EEPROM is read-only to the guest). CS low returns to the command phase.
// EE_GNT follows EE_REQ at once (the device never owns the EEPROM itself).
#include "aero/devices/e1000.h"
#include "internal.h"

namespace aero::devices {

using namespace e1000;  // NOLINT: register names

void E1000::eeprom_init() {
  eeprom_.fill(0xFFFF);
  for (unsigned i = 0; i < 3; ++i) {
    eeprom_[i] = static_cast<std::uint16_t>(config_.mac[2 * i] | (config_.mac[2 * i + 1] << 8));
  }
  eeprom_[0x04] = 0xFFFF;  // LED configuration: defaults
  eeprom_[0x05] = 0x0000;  // image version
  eeprom_[0x08] = 0x0000;  // PBA number
  eeprom_[0x09] = 0x0000;
  eeprom_[0x0A] = 0x4000;  // ICW1: signature 01b, nothing loaded from the EEPROM
  eeprom_[0x0B] = kSubsystemId;
  eeprom_[0x0C] = kSubsystemVendorId;
  eeprom_[0x0D] = kDeviceId;
  eeprom_[0x0E] = kVendorId;
  eeprom_[0x0F] = 0x0000;  // ICW2: no pause advertisement
  eeprom_update_checksum();
}

// Recomputes the checksum word after the contents change.
void E1000::eeprom_update_checksum() {
  std::uint16_t sum = 0;
  for (unsigned i = 0; i + 1 < kEepromWords; ++i) sum = static_cast<std::uint16_t>(sum + eeprom_[i]);
  eeprom_[kEepromWords - 1] = static_cast<std::uint16_t>(kEepromChecksumTarget - sum);
}

// §13.4.4 EERD: START with the word address in bits 15:8 completes at once with DONE and the
// word in bits 31:16. Addresses beyond the 64-word part read 0xFFFF.
void E1000::eerd_write(std::uint32_t value) {
  if (!(value & EERD_START)) {
    reg(EERD) = value & 0x0000FF00U;
    return;
  }
  const std::uint32_t address = (value >> 8) & 0xFFU;
  const std::uint16_t word = address < kEepromWords ? eeprom_[address] : 0xFFFF;
  reg(EERD) = (address << 8) | EERD_DONE | (std::uint32_t{word} << 16);
}

std::uint32_t E1000::eecd_read() const {
  std::uint32_t v = reg(EECD) | EECD_PRES;
  v &= ~(EECD_DO | EECD_GNT);
  if (microwire_.out) v |= EECD_DO;
  if (v & EECD_REQ) v |= EECD_GNT;
  return v;
}

void E1000::eecd_write(std::uint32_t value) {
  // Software controls SK, CS, DI, FWE (5:4) and EE_REQ; the rest is status.
  reg(EECD) = (value & (EECD_SK | EECD_CS | EECD_DI | 0x30U | EECD_REQ)) | EECD_PRES;
  Microwire& mw = microwire_;
  const bool sk = (value & EECD_SK) != 0;
  const bool rising = sk && !mw.sk;
  mw.sk = sk;
  if (!(value & EECD_CS)) {
    const bool keep_sk = mw.sk;
    mw = {};
    mw.sk = keep_sk;
    return;
  }
  if (!rising) return;
  const bool di = (value & EECD_DI) != 0;
  switch (mw.phase) {
    case Microwire::Phase::command:
      if (mw.bits == 0 && !di) return;  // waiting for the start bit
      mw.shift = static_cast<std::uint16_t>((static_cast<unsigned>(mw.shift) << 1U) | (di ? 1U : 0U));
      if (++mw.bits < 9) return;  // start + 2 opcode + 6 address bits
      if (((mw.shift >> 6) & 0x3U) == 0x2U) {  // READ
        mw.address = static_cast<std::uint8_t>(mw.shift & 0x3FU);
        mw.phase = Microwire::Phase::read;
        mw.out_bit = 0;
        mw.out = false;  // dummy zero
      } else {
        mw.phase = Microwire::Phase::idle;
      }
      return;
    case Microwire::Phase::read: {
      const std::uint16_t word = eeprom_[mw.address % kEepromWords];
      mw.out = ((word >> (15 - mw.out_bit)) & 1U) != 0;
      if (++mw.out_bit == 16) {
        mw.out_bit = 0;
        mw.address = static_cast<std::uint8_t>((mw.address + 1) % kEepromWords);
      }
      return;
    }
    case Microwire::Phase::idle:
      return;
  }
}

// PHY defaults (SDM §13.5): autonegotiation enabled and complete, 1000BASE-T full duplex with
// a link partner advertising the same.
void E1000::phy_reset() {
  phy_.fill(0);
  phy_[PHY_BMCR] = 0x1140;        // AN enable, full duplex, 1000 Mb/s
  phy_[PHY_ID1] = kPhyId1;
  phy_[PHY_ID2] = kPhyId2;
  phy_[PHY_ANAR] = 0x0DE1;        // pause, 100/10 full/half, 802.3
  phy_[PHY_GBCR] = 0x0300;        // advertise 1000BASE-T full and half duplex
  phy_[PHY_EXT_STATUS] = 0x3000;  // 1000BASE-T full/half capable
  phy_[PHY_PSCR] = 0x0068;
  phy_update_link();
}

void E1000::phy_update_link() {
  // BMSR: 100/10 full/half, extended status, preamble suppression, AN ability, ext caps.
  std::uint16_t bmsr = 0x7949;
  if (link_up_) bmsr |= 0x0024;  // link status, AN complete
  phy_[PHY_BMSR] = bmsr;
  phy_[PHY_ANLPAR] = link_up_ ? 0x45E1 : 0;  // partner: ack, pause, 100/10 full/half
  phy_[PHY_ANER] = link_up_ ? 0x000F : 0x0004;
  phy_[PHY_GBSR] = link_up_ ? 0x3C00 : 0;    // receivers OK, partner 1000 full/half
  // PHY specific status: 1000 Mb/s, full duplex, resolved, link (real time).
  phy_[PHY_PSSR] = link_up_ ? 0xAC00 : 0x0000;
}

void E1000::phy_write(unsigned index, std::uint16_t value) {
  switch (index) {
    case PHY_BMCR:
      if (value & 0x8000) {  // reset, self-clearing
        phy_reset();
        return;
      }
      phy_[PHY_BMCR] = static_cast<std::uint16_t>(value & ~0x0200U);  // restart AN completes
      return;
    case PHY_BMSR:
    case PHY_ID1:
    case PHY_ID2:
    case PHY_ANLPAR:
    case PHY_ANER:
    case PHY_GBSR:
    case PHY_EXT_STATUS:
    case PHY_PSSR:
      return;  // read-only
    default:
      phy_[index % phy_.size()] = value;
  }
}

// §13.4.5 MDIC: the operation completes at once; READY is set, the data field holds the read
// value, and MDAC is raised when the I bit asked for it. Only PHY address 1 answers; others
// complete with the E bit set.
void E1000::mdic_write(std::uint32_t value) {
  const std::uint32_t op = value & (3U << 26);
  const unsigned phy_address = (value >> 21) & 0x1FU;
  const unsigned index = (value >> 16) & 0x1FU;
  std::uint32_t result = value & ~(MDIC_READY | MDIC_ERROR);
  if (op == MDIC_OP_READ || op == MDIC_OP_WRITE) {
    if (phy_address != kPhyAddress) {
      result |= MDIC_ERROR;
    } else if (op == MDIC_OP_READ) {
      result = (result & ~0xFFFFU) | phy_[index];
    } else {
      phy_write(index, static_cast<std::uint16_t>(value));
    }
  }
  reg(MDIC) = result | MDIC_READY;
  if (value & MDIC_INT_EN) raise(ICR_MDAC);
}

}  // namespace aero::devices
