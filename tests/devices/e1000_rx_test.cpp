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

// An IPv6 frame to us with `ext` bytes of extension headers (hop-by-hop first when present)
// before a TCP or UDP segment whose checksum the test computes independently.
Bytes ipv6_frame(std::uint8_t proto, std::size_t payload, std::uint8_t ext_type = 59,
                 std::size_t ext = 0) {
  const std::size_t l4_header = proto == 6 ? 20 : 8;
  const std::size_t l4_length = l4_header + payload;
  Bytes f = ethernet(kOurs, 0x86DD, 14 + 40 + ext + l4_length, 9);
  std::uint8_t* ip = f.data() + 14;
  std::memset(ip, 0, 40 + ext + l4_header);
  ip[0] = 0x60;
  ip[4] = static_cast<std::uint8_t>((ext + l4_length) >> 8);
  ip[5] = static_cast<std::uint8_t>(ext + l4_length);
  ip[6] = ext > 0 ? ext_type : proto;
  ip[7] = 64;
  for (int i = 0; i < 32; ++i) ip[8 + i] = static_cast<std::uint8_t>(0xA0 + i);
  if (ext > 0) {
    ip[40] = proto;
    ip[41] = static_cast<std::uint8_t>(ext / 8 - 1);
  }
  std::uint8_t* l4 = ip + 40 + ext;
  l4[1] = 80;
  l4[3] = 81;
  if (proto == 6) {
    l4[12] = 0x50;
  } else {
    l4[4] = static_cast<std::uint8_t>(l4_length >> 8);
    l4[5] = static_cast<std::uint8_t>(l4_length);
  }
  const std::size_t at = proto == 6 ? 16 : 6;
  const std::uint16_t sum = static_cast<std::uint16_t>(
      ~fold(pseudo6(ip, proto, static_cast<std::uint32_t>(l4_length)) + raw_sum(l4, l4_length)));
  l4[at] = static_cast<std::uint8_t>(sum >> 8);
  l4[at + 1] = static_cast<std::uint8_t>(sum);
  return f;
}

// SDM §3.2.9 table 3-5: TCP/UDP checksums over IPv6 are checked; IPv6 has no header
// checksum, so IPCS stays clear.
TEST(E1000Rx, ChecksumStatusIpv6) {
  E1000Harness h;
  h.bring_up();
  h.wr(RXCSUM, RXCSUM_IPOFL | RXCSUM_TUOFL);
  for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}}) {
    SCOPED_TRACE(static_cast<int>(proto));
    for (std::size_t payload : {std::size_t{0}, std::size_t{1}, std::size_t{333}}) {
      Bytes f = ipv6_frame(proto, payload);
      ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
      auto good = h.next_rx();
      EXPECT_EQ(good->status & (RXD_STA_IPCS | RXD_STA_TCPCS | RXD_STA_IXSM), RXD_STA_TCPCS);
      EXPECT_EQ(good->errors, 0);
      f[14 + 40 + 2] ^= 0x40;  // corrupt the destination port
      ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
      EXPECT_EQ(h.next_rx()->errors, RXD_ERR_TCPE);
    }
  }
  // Hop-by-hop and destination options are skipped.
  ASSERT_EQ(h.nic.receive(ipv6_frame(17, 50, 0, 16)), RxResult::accepted);
  auto hbh = h.next_rx();
  EXPECT_EQ(hbh->status & (RXD_STA_TCPCS | RXD_STA_IXSM), RXD_STA_TCPCS);
  EXPECT_EQ(hbh->errors, 0);
  ASSERT_EQ(h.nic.receive(ipv6_frame(6, 50, 60, 8)), RxResult::accepted);
  EXPECT_EQ(h.next_rx()->status & (RXD_STA_TCPCS | RXD_STA_IXSM), RXD_STA_TCPCS);
  // A fragment header is not checked.
  ASSERT_EQ(h.nic.receive(ipv6_frame(17, 50, 44, 8)), RxResult::accepted);
  EXPECT_EQ(h.next_rx()->status & (RXD_STA_TCPCS | RXD_STA_IXSM), RXD_STA_IXSM);
  // A payload length beyond the frame is not checked either.
  Bytes lying = ipv6_frame(6, 50);
  lying[14 + 4] = 0x40;
  ASSERT_EQ(h.nic.receive(lying), RxResult::accepted);
  EXPECT_EQ(h.next_rx()->status & (RXD_STA_TCPCS | RXD_STA_IXSM), RXD_STA_IXSM);
  // IPOFL alone checks nothing on IPv6.
  h.wr(RXCSUM, RXCSUM_IPOFL);
  ASSERT_EQ(h.nic.receive(ipv6_frame(6, 10)), RxResult::accepted);
  EXPECT_EQ(h.next_rx()->status & (RXD_STA_IPCS | RXD_STA_TCPCS | RXD_STA_IXSM), RXD_STA_IXSM);
}

// With CTRL.VME clear the tag stays in the frame; the checksum engine looks past it.
TEST(E1000Rx, ChecksumStatusBehindUnstrippedTag) {
  E1000Harness h;
  h.bring_up();
  h.wr(RXCSUM, RXCSUM_TUOFL);
  const Bytes plain = ipv6_frame(6, 100);
  Bytes tagged(plain.begin(), plain.begin() + 12);
  const std::uint8_t tag[4] = {0x81, 0x00, 0x00, 0x07};
  tagged.insert(tagged.end(), tag, tag + 4);
  tagged.insert(tagged.end(), plain.begin() + 12, plain.end());
  ASSERT_EQ(h.nic.receive(tagged), RxResult::accepted);
  auto got = h.next_rx();
  EXPECT_EQ(got->bytes, tagged);
  EXPECT_EQ(got->status & (RXD_STA_TCPCS | RXD_STA_IXSM | RXD_STA_VP), RXD_STA_TCPCS);
  EXPECT_EQ(got->errors, 0);
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
