// E1000 bring-up as the Linux e1000 driver performs it: PCI identity and BARs, reset, EEPROM
// (EERD and EECD Microwire bit-bang), PHY over MDIC, I/O window.
#include <gtest/gtest.h>

#include "e1000_test_driver.h"

namespace aero::devices::test {
namespace {

TEST(E1000Bringup, PciIdentityAndBars) {
  E1000Harness h;
  EXPECT_EQ(h.nic.config_read(0x00, 2), 0x8086U);
  EXPECT_EQ(h.nic.config_read(0x02, 2), 0x100EU);
  EXPECT_EQ(h.nic.config_read(0x0B, 1), 0x02U);
  EXPECT_EQ(h.nic.config_read(0x3D, 1), 0x01U);
  h.nic.config_write(0x10, 4, 0xFFFFFFFF);
  EXPECT_EQ(h.nic.config_read(0x10, 4), 0xFFFE0000U);
  h.nic.config_write(0x14, 4, 0xFFFFFFFF);
  EXPECT_EQ(h.nic.config_read(0x14, 4), 0xFFFFFFC1U);
  h.nic.config_write(0x10, 4, 0xFEBC0000);
  EXPECT_EQ(h.nic.config_read(0x10, 4), 0xFEBC0000U);
  h.nic.config_write(0x00, 4, 0);  // read-only identity
  EXPECT_EQ(h.nic.config_read(0x00, 4), 0x100E8086U);
}

TEST(E1000Bringup, LinuxStyleBringUp) {
  E1000Harness h;
  h.bring_up();
  EXPECT_EQ(h.rd(STATUS) & (STATUS_LU | STATUS_FD), STATUS_LU | STATUS_FD);
  const auto mac = h.nic.mac();
  EXPECT_EQ(h.eerd(0), mac[0] | (mac[1] << 8));
  EXPECT_EQ(h.rd(RAL0), 0x12005452U);
  EXPECT_EQ(h.rd(RAH0), 0x80005634U);
  EXPECT_EQ(h.mdic_read(PHY_BMSR) & 0x0024U, 0x0024U);
  EXPECT_EQ(h.mdic_read(PHY_PSSR) & 0xC000U, 0x8000U);  // 1000 Mb/s
  EXPECT_EQ(h.mdic_read(PHY_GBSR) & 0x0800U, 0x0800U);  // partner 1000 full
  h.mdic_write(PHY_ANAR, 0x01E1);
  EXPECT_EQ(h.mdic_read(PHY_ANAR), 0x01E1U);
  // Another PHY address reports an error.
  h.wr(MDIC, MDIC_OP_READ | (2U << 21) | (PHY_ID1 << 16));
  EXPECT_TRUE(h.rd(MDIC) & MDIC_ERROR);
}

// Bit-bangs a Microwire READ as e1000_read_eeprom does for the 82540 (6 address bits).
std::uint16_t microwire_read(E1000Harness& h, unsigned word) {
  std::uint32_t eecd = h.rd(EECD) | EECD_REQ;
  h.wr(EECD, eecd);
  EXPECT_TRUE(h.rd(EECD) & EECD_GNT);
  eecd = (eecd & ~(EECD_DI | EECD_SK)) | EECD_CS;
  h.wr(EECD, eecd);
  auto shift_out = [&](std::uint32_t data, int count) {
    for (int i = count - 1; i >= 0; --i) {
      eecd = (data >> i) & 1U ? (eecd | EECD_DI) : (eecd & ~EECD_DI);
      h.wr(EECD, eecd);
      h.wr(EECD, eecd | EECD_SK);
      h.wr(EECD, eecd);
    }
    eecd &= ~EECD_DI;
    h.wr(EECD, eecd);
  };
  shift_out(0x6, 3);  // start bit + READ opcode
  shift_out(word, 6);
  std::uint16_t data = 0;
  for (int i = 0; i < 16; ++i) {
    data = static_cast<std::uint16_t>(data << 1);
    h.wr(EECD, eecd | EECD_SK);
    if (h.rd(EECD) & EECD_DO) data |= 1;
    h.wr(EECD, eecd);
  }
  h.wr(EECD, eecd & ~(EECD_CS | EECD_REQ));
  return data;
}

TEST(E1000Bringup, EecdMicrowireMatchesEerd) {
  E1000Harness h;
  h.bring_up();
  std::uint16_t sum = 0;
  for (unsigned w = 0; w < kEepromWords; ++w) {
    const std::uint16_t v = microwire_read(h, w);
    EXPECT_EQ(v, h.eerd(w)) << "word " << w;
    sum = static_cast<std::uint16_t>(sum + v);
  }
  EXPECT_EQ(sum, kEepromChecksumTarget);
}

// e1000_write_eeprom_microwire: EWEN, then per word WRITE + data, CS toggled to execute, DO
// polled for "ready", then EWDS. e1000_update_eeprom_checksum writes the checksum word last.
TEST(E1000Bringup, EecdMicrowireWritesAsLinuxDoes) {
  E1000Harness h;
  h.bring_up();
  MicrowireBus bus{h};
  bus.select();
  bus.ewen();
  EXPECT_TRUE(bus.write(0x20, 0xBEEF));
  EXPECT_TRUE(bus.write(0x21, 0x0123));
  std::uint16_t sum = 0;
  for (unsigned w = 0; w + 1 < kEepromWords; ++w) sum = static_cast<std::uint16_t>(sum + bus.read(w));
  EXPECT_TRUE(bus.write(kEepromWords - 1, static_cast<std::uint16_t>(kEepromChecksumTarget - sum)));
  bus.ewds();
  bus.release();
  EXPECT_EQ(h.eerd(0x20), 0xBEEFU);
  EXPECT_EQ(microwire_read(h, 0x21), 0x0123U);
  sum = 0;
  for (unsigned w = 0; w < kEepromWords; ++w) sum = static_cast<std::uint16_t>(sum + h.eerd(w));
  EXPECT_EQ(sum, kEepromChecksumTarget);
  EXPECT_EQ(h.nic.counters().eeprom_writes, 3U);
  EXPECT_EQ(h.nic.counters().eeprom_writes_refused, 0U);
}

TEST(E1000Bringup, EepromWritesNeedEwenAndCompleteInstructions) {
  E1000Harness h;
  h.bring_up();
  const std::uint16_t before = h.eerd(0x30);
  MicrowireBus bus{h};
  bus.select();
  EXPECT_FALSE(bus.write(0x30, 0x1111));  // write-disabled since power-up: never ready
  EXPECT_EQ(h.nic.counters().eeprom_writes_refused, 1U);
  bus.ewen();
  bus.ewds();
  bus.standby();
  EXPECT_FALSE(bus.write(0x30, 0x2222));  // disabled again by EWDS
  // CS falling before all 16 data bits aborts the instruction.
  bus.ewen();
  bus.shift_out(0x5, 3);
  bus.shift_out(0x30, 6);
  bus.shift_out(0x33, 8);
  bus.standby();
  EXPECT_FALSE(bus.wait_ready());
  bus.release();
  EXPECT_EQ(h.eerd(0x30), before);
  EXPECT_EQ(h.nic.counters().eeprom_writes, 0U);
  EXPECT_EQ(h.nic.counters().eeprom_writes_refused, 2U);
  // A device reset clears the write-enable latch.
  bus.select();
  bus.ewen();
  h.wr(CTRL, CTRL_RST);
  bus.select();
  EXPECT_FALSE(bus.write(0x30, 0x4444));
  bus.release();
  EXPECT_EQ(h.eerd(0x30), before);
}

TEST(E1000Bringup, EepromEraseWriteAllEraseAll) {
  E1000Harness h;
  h.bring_up();
  MicrowireBus bus{h};
  bus.select();
  bus.ewen();
  bus.shift_out(0x7, 3);  // ERASE word 1
  bus.shift_out(1, 6);
  bus.standby();
  EXPECT_TRUE(bus.wait_ready());
  bus.standby();
  EXPECT_EQ(bus.read(1), 0xFFFFU);
  bus.shift_out(0x11, 5);  // WRAL
  bus.shift_out(0, 4);
  bus.shift_out(0xA5C3, 16);
  bus.standby();
  EXPECT_TRUE(bus.wait_ready());
  bus.standby();
  bus.release();
  for (unsigned w = 0; w < kEepromWords; ++w) ASSERT_EQ(h.eerd(w), 0xA5C3U) << w;
  bus.select();
  bus.shift_out(0x12, 5);  // ERAL
  bus.shift_out(0, 4);
  bus.standby();
  EXPECT_TRUE(bus.wait_ready());
  bus.release();
  for (unsigned w = 0; w < kEepromWords; ++w) ASSERT_EQ(h.eerd(w), 0xFFFFU) << w;
  EXPECT_EQ(h.nic.counters().eeprom_writes, 3U);
}

// The MAC address lives in EEPROM words 0-2 and is loaded into RAL0/RAH0 on reset.
TEST(E1000Bringup, EepromMacWriteTakesEffectAtReset) {
  E1000Harness h;
  h.bring_up();
  MicrowireBus bus{h};
  bus.select();
  bus.ewen();
  EXPECT_TRUE(bus.write(0, 0x1102));
  EXPECT_TRUE(bus.write(1, 0x3322));
  EXPECT_TRUE(bus.write(2, 0x5544));
  bus.ewds();
  bus.release();
  EXPECT_EQ(h.rd(RAL0), 0x12005452U);  // unchanged until reset
  h.wr(CTRL, CTRL_RST);
  EXPECT_EQ(h.rd(RAL0), 0x33221102U);
  EXPECT_EQ(h.rd(RAH0), 0x5544U | RAH_AV);
  const std::array<std::uint8_t, 6> mac{0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  EXPECT_EQ(h.nic.mac(), mac);
}

TEST(E1000Bringup, IoWindowReachesRegisters) {
  E1000Harness h;
  h.bring_up();
  h.nic.pio_write(0, 4, IMS);
  EXPECT_EQ(h.nic.pio_read(4, 4), h.rd(IMS));
  h.nic.pio_write(0, 4, RDTR);
  h.nic.pio_write(4, 4, 0x20);
  EXPECT_EQ(h.rd(RDTR), 0x20U);
  EXPECT_EQ(h.nic.pio_read(0x10, 4), 0U);
}

TEST(E1000Bringup, ResetRestoresDefaults) {
  E1000Harness h;
  h.bring_up();
  h.wr(ICS, ICR_LSC);
  EXPECT_TRUE(h.irq.level);
  h.wr(CTRL, CTRL_RST);
  EXPECT_FALSE(h.irq.level);
  EXPECT_EQ(h.rd(IMS), 0U);
  EXPECT_EQ(h.rd(RCTL), 0U);
  EXPECT_EQ(h.rd(TDLEN), 0U);
  EXPECT_EQ(h.rd(RAH0) & RAH_AV, RAH_AV);
}

TEST(E1000Bringup, StatisticsClearOnRead) {
  E1000Harness h;
  h.bring_up();
  h.send_legacy(ethernet({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 0x0800, 100));
  EXPECT_EQ(h.rd(GPTC), 1U);
  EXPECT_EQ(h.rd(GPTC), 0U);
  EXPECT_EQ(h.rd(BPTC), 1U);
  EXPECT_EQ(h.rd(GOTCL), 104U);
}

}  // namespace
}  // namespace aero::devices::test
