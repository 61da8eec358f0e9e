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
// bit (1); then 2 opcode bits and 6 address bits follow:
//  * READ (10b): the part drives a dummy 0 on DO, and each further rising edge presents the
//    next data bit, MSB first; after 16 bits the address increments (sequential read).
//  * EWEN (00b, address 11xxxxb) and EWDS (00b, 00xxxxb) set and clear the write-enable latch
//    at once; the latch starts cleared and a device reset clears it again.
//  * WRITE (01b) and WRAL (00b, 01xxxxb) take 16 data bits, MSB first; ERASE (11b) and ERAL
//    (00b, 10xxxxb) take none. The instruction executes when CS falls after all its bits, and
//    only while writes are enabled (otherwise it is ignored and counted). Programming completes
//    at once: when CS rises again DO reads 1 ("ready"), until the next start bit.
// Writes change the contents for EERD, Microwire reads and the MAC loaded at the next reset;
// nothing recomputes the checksum word (drivers write it themselves). CS low always returns to
// the command phase. EE_GNT follows EE_REQ at once (the device never owns the EEPROM itself).
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
  const Microwire& mw = microwire_;
  std::uint32_t v = reg(EECD) | EECD_PRES;
  v &= ~(EECD_DO | EECD_GNT);
  const bool showing_ready =
      (v & EECD_CS) && mw.ready && mw.phase == Microwire::Phase::command && mw.bits == 0;
  if (mw.out || showing_ready) v |= EECD_DO;
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
    if (mw.phase == Microwire::Phase::idle && mw.op != Microwire::Op::none) eeprom_execute();
    // Back to the command phase; the write-enable latch and the ready status persist.
    mw.phase = Microwire::Phase::command;
    mw.op = Microwire::Op::none;
    mw.out = false;
    mw.bits = 0;
    mw.shift = 0;
    mw.address = 0;
    mw.out_bit = 0;
    mw.data = 0;
    return;
  }
  if (!rising) return;
  const bool di = (value & EECD_DI) != 0;
  switch (mw.phase) {
    case Microwire::Phase::command:
      if (mw.bits == 0 && !di) return;  // waiting for the start bit
      mw.ready = false;
      mw.shift = static_cast<std::uint16_t>((static_cast<unsigned>(mw.shift) << 1U) | (di ? 1U : 0U));
      if (++mw.bits < 9) return;  // start + 2 opcode + 6 address bits
      eeprom_command(mw.shift);
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
    case Microwire::Phase::write_data:
      mw.data = static_cast<std::uint16_t>((static_cast<unsigned>(mw.data) << 1U) | (di ? 1U : 0U));
      if (++mw.out_bit == 16) {  // complete: executes when CS falls
        mw.out_bit = 0;
        mw.phase = Microwire::Phase::idle;
      }
      return;
    case Microwire::Phase::idle:
      return;
  }
}

// Decodes the 9 command bits: start bit, 2 opcode bits, 6 address bits.
void E1000::eeprom_command(std::uint16_t command) {
  Microwire& mw = microwire_;
  const unsigned opcode = (command >> 6) & 0x3U;
  const auto address = static_cast<std::uint8_t>(command & 0x3FU);
  mw.address = address;
  mw.out_bit = 0;
  mw.phase = Microwire::Phase::idle;
  switch (opcode) {
    case 0x2:  // READ
      mw.phase = Microwire::Phase::read;
      mw.out = false;  // dummy zero
      return;
    case 0x1:  // WRITE
      mw.op = Microwire::Op::write;
      mw.phase = Microwire::Phase::write_data;
      return;
    case 0x3:  // ERASE
      mw.op = Microwire::Op::erase;
      return;
    default:  // 00b: the two high address bits select EWDS, WRAL, ERAL or EWEN
      switch (address >> 4) {
        case 0x0:
          mw.write_enabled = false;
          return;
        case 0x1:
          mw.op = Microwire::Op::write_all;
          mw.phase = Microwire::Phase::write_data;
          return;
        case 0x2:
          mw.op = Microwire::Op::erase_all;
          return;
        default:
          mw.write_enabled = true;
          return;
      }
  }
}

// Runs the programming instruction whose bits are complete; called when CS falls.
void E1000::eeprom_execute() {
  Microwire& mw = microwire_;
  if (!mw.write_enabled) {
    ++counters_.eeprom_writes_refused;
    return;
  }
  const unsigned word = mw.address % kEepromWords;
  switch (mw.op) {
    case Microwire::Op::write:
      eeprom_[word] = mw.data;
      break;
    case Microwire::Op::erase:
      eeprom_[word] = 0xFFFF;
      break;
    case Microwire::Op::write_all:
      eeprom_.fill(mw.data);
      break;
    case Microwire::Op::erase_all:
      eeprom_.fill(0xFFFF);
      break;
    case Microwire::Op::none:
      return;
  }
  ++counters_.eeprom_writes;
  mw.ready = true;
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
