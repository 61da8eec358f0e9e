// E1000 receive: sizes up to 16128 bytes over several descriptors, filters, VLAN strip and
// filter, RX checksum status, back-pressure when the ring is full.
#include <gtest/gtest.h>

#include "e1000_checksum.h"
#include "e1000_test_driver.h"

namespace aero::devices::test {
namespace {

const std::array<std::uint8_t, 6> kOurs{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

TEST(E1000Rx, FramesSplitOverDescriptors) {
  E1000Harness h;
  h.bring_up(64, 256, RCTL_LPE | (1U << RCTL_BSIZE_SHIFT));  // 1024-byte buffers
  for (std::size_t size : std::initializer_list<std::size_t>{14, 60, 61, 1024, 1025, 1514, 9000, 16128}) {
    const Bytes f = ethernet(kOurs, 0x0800, size, static_cast<std::uint8_t>(size));
    ASSERT_EQ(h.nic.receive(f), RxResult::accepted) << size;
    auto got = h.next_rx();
    ASSERT_TRUE(got.has_value()) << size;
    const std::size_t expect = std::max<std::size_t>(size, 60);
    ASSERT_EQ(got->bytes.size(), expect);
    EXPECT_TRUE(std::equal(f.begin(), f.end(), got->bytes.begin()));
    EXPECT_EQ(got->descriptors, (expect + 1023) / 1024);
    EXPECT_TRUE(got->status & RXD_STA_EOP);
  }
  EXPECT_EQ(h.nic.counters().rx_frames, 8U);
}

TEST(E1000Rx, EveryFrameSizeFrom14To16128) {
  E1000Harness h;
  h.bring_up(64, 256, RCTL_LPE | (1U << RCTL_BSIZE_SHIFT));  // 1024-byte buffers
  for (std::size_t size = 14; size <= 16128; ++size) {
    const Bytes f = ethernet(kOurs, 0x0800, size, static_cast<std::uint8_t>(size * 3));
    ASSERT_EQ(h.nic.receive(f), RxResult::accepted) << size;
    auto got = h.next_rx();
    ASSERT_TRUE(got.has_value()) << size;
    ASSERT_EQ(got->bytes.size(), std::max<std::size_t>(size, 60)) << size;
    ASSERT_TRUE(std::equal(f.begin(), f.end(), got->bytes.begin())) << size;
  }
  EXPECT_EQ(h.nic.counters().rx_frames, 16128U - 14U + 1U);
}

TEST(E1000Rx, LongFrameNeedsLpe) {
  E1000Harness h;
  h.bring_up();
  EXPECT_EQ(h.nic.receive(ethernet(kOurs, 0x0800, 1519)), RxResult::dropped);
  EXPECT_EQ(h.nic.counters().rx_oversize, 1U);
  EXPECT_EQ(h.rd(ROC), 1U);
}

TEST(E1000Rx, FcsAppendedWithoutSecrc) {
  E1000Harness h;
  h.bring_up();
  h.wr(RCTL, h.rd(RCTL) & ~RCTL_SECRC);
  ASSERT_EQ(h.nic.receive(ethernet(kOurs, 0x0800, 100)), RxResult::accepted);
  EXPECT_EQ(h.next_rx()->bytes.size(), 104U);
}

TEST(E1000Rx, AddressFilters) {
  E1000Harness h;
  h.bring_up();
  const std::array<std::uint8_t, 6> other{0x52, 0x54, 0x00, 0x99, 0x99, 0x99};
  const std::array<std::uint8_t, 6> bcast{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  const std::array<std::uint8_t, 6> mcast{0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB};
  EXPECT_EQ(h.nic.receive(ethernet(other, 0x0800, 60)), RxResult::dropped);
  EXPECT_EQ(h.nic.receive(ethernet(bcast, 0x0800, 60)), RxResult::accepted);
  EXPECT_EQ(h.nic.receive(ethernet(mcast, 0x0800, 60)), RxResult::dropped);
  // MTA hash with MO = 0: bits 47:36 of the address.
  const unsigned hash = ((mcast[4] >> 4) | (mcast[5] << 4)) & 0xFFFU;
  h.wr(MTA + 4 * (hash >> 5), 1U << (hash & 31U));
  EXPECT_EQ(h.nic.receive(ethernet(mcast, 0x0800, 60)), RxResult::accepted);
  // A second exact address in RAL/RAH[3].
  h.wr(RAL0 + 24, 0x99005452);
  h.wr(RAH0 + 24, 0x9999 | RAH_AV);
  EXPECT_EQ(h.nic.receive(ethernet(other, 0x0800, 60)), RxResult::accepted);
  h.wr(RCTL, h.rd(RCTL) & ~RCTL_BAM);
  EXPECT_EQ(h.nic.receive(ethernet(bcast, 0x0800, 60)), RxResult::dropped);
  h.wr(RCTL, h.rd(RCTL) | RCTL_UPE);
  EXPECT_EQ(h.nic.receive(ethernet({0x02, 1, 2, 3, 4, 5}, 0x0800, 60)), RxResult::accepted);
  EXPECT_EQ(h.nic.counters().rx_filtered, 3U);
}

TEST(E1000Rx, VlanStripAndFilter) {
  E1000Harness h;
  h.bring_up();
  h.wr(CTRL, h.rd(CTRL) | CTRL_VME);
  h.wr(RCTL, h.rd(RCTL) | RCTL_VFE);
  Bytes f = ethernet(kOurs, 0x8100, 200);
  f[14] = 0x30;  // PCP 1, VID 5
  f[15] = 0x05;
  f[16] = 0x08;
  f[17] = 0x00;
  EXPECT_EQ(h.nic.receive(f), RxResult::dropped);
  EXPECT_EQ(h.nic.counters().rx_vlan_filtered, 1U);
  h.wr(VFTA, 1U << 5);
  ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  auto got = h.next_rx();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->bytes.size(), 196U);
  EXPECT_TRUE(got->status & RXD_STA_VP);
  EXPECT_EQ(got->special, 0x3005);
  EXPECT_EQ(got->bytes[12], 0x08);
  EXPECT_TRUE(std::equal(f.begin() + 18, f.end(), got->bytes.begin() + 14));
}

TEST(E1000Rx, ChecksumStatus) {
  E1000Harness h;
  h.bring_up();
  h.wr(RXCSUM, RXCSUM_IPOFL | RXCSUM_TUOFL);
  Bytes f = ethernet(kOurs, 0x0800, 14 + 20 + 8 + 50);
  std::uint8_t* ip = f.data() + 14;
  std::memset(ip, 0, 28);
  ip[0] = 0x45;
  ip[3] = 78;
  ip[8] = 64;
  ip[9] = 17;
  ip[12] = 10;
  ip[15] = 1;
  ip[16] = 10;
  ip[19] = 2;
  const std::uint16_t hs = static_cast<std::uint16_t>(~fold(raw_sum(ip, 20)));
  ip[10] = static_cast<std::uint8_t>(hs >> 8);
  ip[11] = static_cast<std::uint8_t>(hs);
  ip[21] = 53;
  ip[23] = 53;
  ip[25] = 58;
  const std::uint16_t us = static_cast<std::uint16_t>(~fold(pseudo4(ip, 17, 58) + raw_sum(ip + 20, 58)));
  ip[26] = static_cast<std::uint8_t>(us >> 8);
  ip[27] = static_cast<std::uint8_t>(us);
  ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  auto good = h.next_rx();
  EXPECT_EQ(good->status & (RXD_STA_IPCS | RXD_STA_TCPCS | RXD_STA_IXSM),
            RXD_STA_IPCS | RXD_STA_TCPCS);
  EXPECT_EQ(good->errors, 0);
  f[60] ^= 0xFF;  // corrupt the payload
  ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_EQ(h.next_rx()->errors, RXD_ERR_TCPE);
}

TEST(E1000Rx, BackPressureWhenRingFull) {
  E1000Harness h;
  h.bring_up(64, 8);  // 7 usable buffers
  const Bytes f = ethernet(kOurs, 0x0800, 100);
  for (int i = 0; i < 7; ++i) ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_EQ(h.nic.receive(f), RxResult::hold);
  EXPECT_EQ(h.nic.receive(f), RxResult::hold);
  EXPECT_TRUE(h.rd(ICR) & ICR_RXO);
  EXPECT_EQ(h.rd(RNBC), 1U);
  ASSERT_TRUE(h.next_rx());  // the driver returns one buffer
  EXPECT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_EQ(h.nic.counters().rx_hold, 2U);
}

TEST(E1000Rx, RxDescriptorThreshold) {
  E1000Harness h;
  h.bring_up(64, 16);  // RDMTS 0: half the ring
  const Bytes f = ethernet(kOurs, 0x0800, 100);
  h.rd(ICR);
  for (int i = 0; i < 6; ++i) ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_FALSE(h.rd(ICR) & ICR_RXDMT0);
  ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_TRUE(h.rd(ICR) & ICR_RXDMT0);
}

TEST(E1000Rx, DisabledReceiverAndBadRing) {
  E1000Harness h;
  h.bring_up();
  h.wr(RCTL, 0);
  EXPECT_EQ(h.nic.receive(ethernet(kOurs, 0x0800, 60)), RxResult::dropped);
  h.setup_rx(32);
  h.write_rx_desc(0);
  std::uint8_t* d = h.rx_desc(0);
  for (int k = 0; k < 8; ++k) d[k] = 0xFF;  // buffer outside memory
  EXPECT_EQ(h.nic.receive(ethernet(kOurs, 0x0800, 60)), RxResult::dropped);
  EXPECT_TRUE(h.nic.rx_halted());
  EXPECT_EQ(h.nic.counters().rx_ring_errors, 1U);
  h.setup_rx(32);
  EXPECT_EQ(h.nic.receive(ethernet(kOurs, 0x0800, 60)), RxResult::accepted);
}

}  // namespace
}  // namespace aero::devices::test
