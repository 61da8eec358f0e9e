// E1000 snapshot: round trip (registers, EEPROM, PHY, timers, partial TX packet) and refusal of
// damaged snapshots without changing the device.
#include <gtest/gtest.h>

#include "e1000_snapshot_edit.h"
#include "e1000_test_driver.h"

namespace aero::devices::test {
namespace {

const std::array<std::uint8_t, 6> kPeer{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

TEST(E1000Snapshot, RoundTripContinuesWork) {
  E1000Harness a;
  a.bring_up();
  a.wr(RDTR, 100);
  a.wr(ITR, 500);
  a.wr(MTA + 8, 0x1234);
  a.nic.set_link_up(false);
  // A packet whose EOP descriptor is not yet visible.
  const Bytes f = ethernet(kPeer, 0x0800, 300);
  const std::uint64_t at = a.stage(f);
  a.legacy(at, 100, 0);
  a.kick();
  ASSERT_TRUE(a.nic.receive(ethernet({0x52, 0x54, 0, 0x12, 0x34, 0x56}, 0x0800, 80)) ==
              RxResult::accepted);
  const Bytes snap = a.nic.snapshot();

  E1000Harness b;
  std::memcpy(b.mem.bytes().data(), a.mem.bytes().data(), a.mem.size());
  ASSERT_TRUE(b.nic.restore(snap).ok());
  EXPECT_EQ(b.nic.snapshot(), snap);
  EXPECT_FALSE(b.nic.link_up());
  EXPECT_EQ(b.rd(MTA + 8), 0x1234U);
  EXPECT_EQ(b.rd(ITR), 500U);
  // The RX delay timer survives.
  ASSERT_TRUE(b.nic.next_deadline());
  // Finish the TX packet on the restored device.
  b.tx_count = a.tx_count;
  b.tx_tail = a.tx_tail;
  b.legacy(at + 100, 200, TXD_CMD_EOP | TXD_CMD_RS);
  b.kick();
  ASSERT_EQ(b.port.frames.size(), 1U);
  EXPECT_EQ(b.port.frames[0], f);
}

TEST(E1000Snapshot, DamagedSnapshotRefusedAndDeviceUnchanged) {
  E1000Harness a;
  a.bring_up();
  const Bytes good = a.nic.snapshot();
  E1000Harness b;
  b.bring_up(128, 64);
  b.wr(MTA, 0x55);
  const Bytes before = b.nic.snapshot();

  Bytes flipped = good;
  flipped[300] ^= 0x01;
  EXPECT_FALSE(b.nic.restore(flipped).ok());
  Bytes truncated(good.begin(), good.end() - 10);
  EXPECT_FALSE(b.nic.restore(truncated).ok());
  Bytes wrong_magic = good;
  wrong_magic[0] = 'X';
  EXPECT_FALSE(b.nic.restore(wrong_magic).ok());
  Bytes wrong_version = good;
  wrong_version[4] = 2;
  EXPECT_FALSE(b.nic.restore(wrong_version).ok());
  EXPECT_FALSE(b.nic.restore({}).ok());
  EXPECT_EQ(b.nic.snapshot(), before);
  EXPECT_TRUE(b.nic.restore(good).ok());
  EXPECT_EQ(b.rd(MTA), 0U);
}

// Minor 0 lacks the EEPROM programming state and the statistics latches; it restores with
// those at their reset values. A snapshot of an unknown later minor with extra fields is
// refused.
TEST(E1000Snapshot, OlderMinorRestoresNewerMinorRefused) {
  E1000Harness a;
  a.bring_up();
  a.wr(MTA + 4, 0x77);
  const Bytes current = a.nic.snapshot();
  E1000Harness b;
  ASSERT_TRUE(b.nic.restore(as_minor0(current)).ok());
  EXPECT_EQ(b.nic.snapshot(), current);
  Bytes newer = current;
  newer[6] = 2;
  newer.insert(newer.end() - 4, 0x00);
  const auto refused = b.nic.restore(reseal(newer));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "length mismatch");
}

// An EEPROM WRITE whose bits are all shifted in survives a snapshot and executes on the
// restored device when CS falls.
TEST(E1000Snapshot, PendingEepromWriteSurvives) {
  E1000Harness a;
  a.bring_up();
  MicrowireBus bus{a};
  bus.select();
  bus.ewen();
  bus.shift_out(0x5, 3);
  bus.shift_out(0x22, 6);
  bus.shift_out(0xCA, 8);
  const Bytes mid_data = a.nic.snapshot();
  bus.shift_out(0xFE, 8);
  const Bytes snap = a.nic.snapshot();
  E1000Harness b;
  ASSERT_TRUE(b.nic.restore(snap).ok());
  MicrowireBus restored{b, bus.eecd};
  restored.standby();
  EXPECT_TRUE(restored.wait_ready());
  restored.release();
  EXPECT_EQ(b.eerd(0x22), 0xCAFEU);
  EXPECT_NE(a.eerd(0x22), 0xCAFEU);
  // A write-data phase without a WRITE instruction is refused.
  Bytes bad = mid_data;
  const std::size_t op_at = bad.size() - 4 - 4 * 9 - 5;
  ASSERT_EQ(bad[op_at], 1);  // Op::write
  bad[op_at] = 2;            // Op::erase cannot be collecting data
  const auto refused = b.nic.restore(reseal(bad));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "eeprom state");
}

}  // namespace
}  // namespace aero::devices::test
