// E1000 interrupts: causes, mask, read-to-clear, INTx disable, ITR throttling and the
// RDTR/RADV/TIDV/TADV delay timers on a manual clock, LSC, MDAC.
#include <gtest/gtest.h>

#include "e1000_test_driver.h"

namespace aero::devices::test {
namespace {

using std::chrono::microseconds;
const std::array<std::uint8_t, 6> kOurs{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

TEST(E1000Irq, CausesMaskAndReadToClear) {
  E1000Harness h;
  h.bring_up();
  h.rd(ICR);
  h.wr(IMC, 0xFFFFFFFF);
  h.wr(ICS, ICR_TXDW);
  EXPECT_FALSE(h.irq.level);
  h.wr(IMS, ICR_TXDW);
  EXPECT_TRUE(h.irq.level);
  h.nic.config_write(0x04, 2, kPciCommandMemory | kPciCommandBusMaster | kPciCommandIntxDisable);
  EXPECT_FALSE(h.irq.level);
  h.nic.config_write(0x04, 2, kPciCommandMemory | kPciCommandBusMaster);
  EXPECT_TRUE(h.irq.level);
  EXPECT_EQ(h.rd(ICR), ICR_TXDW);
  EXPECT_FALSE(h.irq.level);
  EXPECT_EQ(h.rd(ICR), 0U);
}

TEST(E1000Irq, LinkChangeAndMdac) {
  E1000Harness h;
  h.bring_up();
  h.rd(ICR);
  h.nic.set_link_up(false);
  EXPECT_TRUE(h.irq.level);
  EXPECT_EQ(h.rd(STATUS) & STATUS_LU, 0U);
  EXPECT_EQ(h.mdic_read(PHY_BMSR) & 0x0004U, 0U);
  EXPECT_EQ(h.rd(ICR), ICR_LSC);
  h.nic.set_link_up(true);
  EXPECT_TRUE(h.rd(ICR) & ICR_LSC);
  h.wr(MDIC, MDIC_OP_READ | (1U << 21) | MDIC_INT_EN);
  EXPECT_TRUE(h.rd(ICR) & ICR_MDAC);
}

TEST(E1000Irq, ItrThrottlesAssertion) {
  E1000Harness h;
  h.bring_up();
  h.rd(ICR);
  h.wr(ITR, 1000);  // 256 us
  h.wr(ICS, ICR_TXDW);
  EXPECT_TRUE(h.irq.level);
  h.rd(ICR);
  h.wr(ICS, ICR_TXDW);
  EXPECT_FALSE(h.irq.level);  // too soon
  ASSERT_TRUE(h.nic.next_deadline());
  EXPECT_EQ(*h.nic.next_deadline() - h.clock.now(), microseconds(256));
  h.clock.advance(microseconds(255));
  h.nic.poll(h.clock.now());
  EXPECT_FALSE(h.irq.level);
  h.clock.advance(microseconds(1));
  h.nic.poll(h.clock.now());
  EXPECT_TRUE(h.irq.level);
  EXPECT_EQ(h.irq.rises, 2);
}

TEST(E1000Irq, ReceiveDelayTimers) {
  E1000Harness h;
  h.bring_up();
  h.rd(ICR);
  h.wr(RDTR, 100);   // 102.4 us per packet
  h.wr(RADV, 250);   // 256 us absolute
  const Bytes f = ethernet(kOurs, 0x0800, 100);
  ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_FALSE(h.irq.level);
  for (int i = 0; i < 3; ++i) {  // packets every 80 us keep restarting the packet timer
    h.clock.advance(microseconds(80));
    h.nic.poll(h.clock.now());
    EXPECT_FALSE(h.irq.level) << i;
    ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  }
  h.clock.advance(microseconds(80));  // 320 us > RADV: fired by the absolute timer
  h.nic.poll(h.clock.now());
  EXPECT_TRUE(h.irq.level);
  EXPECT_EQ(h.rd(ICR) & ICR_RXT0, ICR_RXT0);
  // Flush partial delay with FPD.
  ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_FALSE(h.irq.level);
  h.wr(RDTR, 100 | RDTR_FPD);
  EXPECT_TRUE(h.irq.level);
}

TEST(E1000Irq, TransmitDelayTimers) {
  E1000Harness h;
  h.bring_up();
  h.rd(ICR);
  h.wr(TIDV, 50);
  h.wr(TADV, 0);
  const Bytes f = ethernet(kOurs, 0x0800, 100);
  h.legacy(h.stage(f), 100, TXD_CMD_EOP | TXD_CMD_RS | TXD_CMD_IDE);
  h.kick();
  EXPECT_FALSE(h.irq.level);
  h.clock.advance(microseconds(52));
  h.nic.poll(h.clock.now());
  EXPECT_TRUE(h.irq.level);
  EXPECT_TRUE(h.rd(ICR) & ICR_TXDW);
  // Without IDE the write-back interrupts at once.
  h.legacy(h.stage(f), 100, TXD_CMD_EOP | TXD_CMD_RS);
  h.kick();
  EXPECT_TRUE(h.irq.level);
}

}  // namespace
}  // namespace aero::devices::test
