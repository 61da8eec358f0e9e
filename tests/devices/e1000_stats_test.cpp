// E1000 statistics registers (SDM §13.7): every register Linux e1000_update_stats reads on an
// 82540EM reads and clears; the counters the model keeps (good packets and octets, size
// buckets, broadcast/multicast, length errors, missed packets, no-buffer episodes, TSO
// contexts) count what the manual says; the 64-bit octet counters keep low-then-high reads
// consistent and reset on the high read.
#include <gtest/gtest.h>

#include <iterator>
#include <map>

#include "e1000_snapshot_edit.h"
#include "e1000_test_driver.h"

namespace aero::devices::test {
namespace {

const std::array<std::uint8_t, 6> kOurs{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
const std::array<std::uint8_t, 6> kPeer{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
const std::array<std::uint8_t, 6> kBroadcast{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
const std::array<std::uint8_t, 6> kMulticast{0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB};

// The registers e1000_update_stats reads on an 82543 or later MAC, the 82540EM included.
const std::uint32_t kLinuxStatistics[] = {
    CRCERRS, SYMERRS, MPC,     SCC,     ECOL,    MCC,     LATECOL, COLC,     DC,     SEC,
    RLEC,    XONRXC,  XONTXC,  XOFFRXC, XOFFTXC, FCRUC,   PRC64,   PRC127,   PRC255, PRC511,
    PRC1023, PRC1522, GPRC,    BPRC,    MPRC,    GPTC,    GORCL,   GORCH,    GOTCL,  GOTCH,
    RNBC,    RUC,     RFC,     ROC,     RJC,     TORL,    TORH,    TOTL,     TOTH,   TPR,
    TPT,     PTC64,   PTC127,  PTC255,  PTC511,  PTC1023, PTC1522, MPTC,     BPTC,   ALGNERRC,
    RXERRC,  TNCRS,   CEXTERR, TSCTC,   TSCTFC};

std::uint64_t wide(E1000Harness& h, std::uint32_t low) {
  const std::uint64_t lo = h.rd(low);
  return lo | (std::uint64_t{h.rd(low + 4)} << 32);
}

// Wire length (DA through FCS) of a frame the backend hands over without padding.
std::size_t wire(std::size_t frame) { return std::max<std::size_t>(frame, 60) + 4; }

TEST(E1000Stats, EveryLinuxStatisticReadsAndClearsOnRead) {
  E1000Harness h;
  h.bring_up(64, 8);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(h.nic.receive(ethernet(kOurs, 0x0800, 100)), RxResult::accepted);
  h.send_legacy(ethernet(kBroadcast, 0x0800, 100));
  h.nic.receive(Bytes(10, 0x52));  // runt
  for (int i = 0; i < 10; ++i) h.nic.receive(ethernet(kOurs, 0x0800, 100));  // ring full: hold
  std::map<std::uint32_t, std::uint32_t> first;
  for (std::uint32_t off : kLinuxStatistics) first[off] = h.rd(off);
  EXPECT_EQ(first[GPRC], 3U + 4U);
  EXPECT_EQ(first[GPTC], 1U);
  EXPECT_EQ(first[RUC], 1U);
  EXPECT_EQ(first[RNBC], 1U);
  for (std::uint32_t off : kLinuxStatistics) EXPECT_EQ(h.rd(off), 0U) << std::hex << off;
  // The whole block is read-only: writes change nothing.
  for (std::uint32_t off = STATS_FIRST; off <= STATS_LAST; off += 4) h.wr(off, 0x12345678);
  for (std::uint32_t off = STATS_FIRST; off <= STATS_LAST; off += 4) {
    EXPECT_EQ(h.rd(off), 0U) << std::hex << off;
  }
}

TEST(E1000Stats, ReceiveGoodPacketsOctetsAndSizeBuckets) {
  E1000Harness h;
  h.bring_up(64, 64, RCTL_LPE | RCTL_MPE);
  struct Case {
    std::size_t size;
    std::uint32_t bucket;  // 0: none (jumbo)
  };
  const Case cases[] = {{42, PRC64},    {60, PRC64},     {61, PRC127},   {123, PRC127},
                        {124, PRC255},  {251, PRC255},   {252, PRC511},  {507, PRC511},
                        {508, PRC1023}, {1019, PRC1023}, {1020, PRC1522}, {1514, PRC1522},
                        {4000, 0}};
  std::map<std::uint32_t, std::uint32_t> buckets;
  std::uint64_t octets = 0;
  for (const Case& c : cases) {
    ASSERT_EQ(h.nic.receive(ethernet(kOurs, 0x0800, c.size)), RxResult::accepted) << c.size;
    ASSERT_TRUE(h.next_rx());
    octets += wire(c.size);
    if (c.bucket != 0) ++buckets[c.bucket];
  }
  ASSERT_EQ(h.nic.receive(ethernet(kBroadcast, 0x0806, 42)), RxResult::accepted);
  ASSERT_TRUE(h.next_rx());
  ASSERT_EQ(h.nic.receive(ethernet(kMulticast, 0x0800, 300)), RxResult::accepted);
  ASSERT_TRUE(h.next_rx());
  octets += wire(42) + wire(300);
  ++buckets[PRC64];
  ++buckets[PRC511];
  // Filtered frames count only as "total" (TPR/TOR).
  h.wr(RCTL, h.rd(RCTL) & ~RCTL_MPE);
  ASSERT_EQ(h.nic.receive(ethernet(kMulticast, 0x0800, 300)), RxResult::dropped);
  const std::size_t good = std::size(cases) + 2;

  EXPECT_EQ(h.rd(GPRC), good);
  EXPECT_EQ(wide(h, GORCL), octets);
  EXPECT_EQ(h.rd(TPR), good + 1);
  EXPECT_EQ(wide(h, TORL), octets + wire(300));
  EXPECT_EQ(h.rd(BPRC), 1U);
  EXPECT_EQ(h.rd(MPRC), 1U);
  for (std::uint32_t b = PRC64; b <= PRC1522; b += 4) {
    EXPECT_EQ(h.rd(b), buckets[b]) << std::hex << b;
  }
}

TEST(E1000Stats, ReceiveLengthErrorsMissedAndNoBuffers) {
  E1000Harness h;
  h.bring_up(64, 8);  // 7 usable 2 KiB buffers
  EXPECT_EQ(h.nic.receive(Bytes(10, 0x52)), RxResult::dropped);
  EXPECT_EQ(h.nic.receive(ethernet(kOurs, 0x0800, 1519)), RxResult::dropped);
  EXPECT_EQ(h.rd(RUC), 1U);
  EXPECT_EQ(h.rd(ROC), 1U);
  EXPECT_EQ(h.rd(RLEC), 2U);
  // A frame no ring of this size can ever hold is missed.
  h.wr(RCTL, h.rd(RCTL) | RCTL_LPE);
  EXPECT_EQ(h.nic.receive(ethernet(kOurs, 0x0800, 16000)), RxResult::dropped);
  EXPECT_EQ(h.rd(MPC), 1U);
  EXPECT_EQ(h.rd(TPR), 3U);
  // A full ring holds frames: one RNBC per episode, no MPC, not counted as received yet.
  const Bytes f = ethernet(kOurs, 0x0800, 100);
  for (int i = 0; i < 7; ++i) ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_EQ(h.nic.receive(f), RxResult::hold);
  EXPECT_EQ(h.nic.receive(f), RxResult::hold);
  EXPECT_EQ(h.rd(RNBC), 1U);
  EXPECT_EQ(h.rd(MPC), 0U);
  EXPECT_EQ(h.rd(TPR), 7U);
  ASSERT_TRUE(h.next_rx());
  EXPECT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_EQ(h.nic.receive(f), RxResult::hold);  // a new episode
  EXPECT_EQ(h.rd(RNBC), 1U);
  // A disabled receiver counts nothing.
  h.wr(RCTL, 0);
  EXPECT_EQ(h.nic.receive(f), RxResult::dropped);
  EXPECT_EQ(h.rd(TPR), 1U);
  EXPECT_EQ(h.rd(TPR), 0U);
}

TEST(E1000Stats, TransmitGoodPacketsOctetsAndSizeBuckets) {
  E1000Harness h;
  h.bring_up();
  struct Case {
    std::size_t size;
    std::uint32_t bucket;
  };
  // With TCTL.PSP short frames are padded to 60 bytes, 64 on the wire.
  const Case cases[] = {{14, PTC64},    {60, PTC64},     {61, PTC127},    {123, PTC127},
                        {124, PTC255},  {251, PTC255},   {252, PTC511},   {507, PTC511},
                        {508, PTC1023}, {1019, PTC1023}, {1020, PTC1522}, {1514, PTC1522},
                        {9000, 0}};
  std::map<std::uint32_t, std::uint32_t> buckets;
  std::uint64_t octets = 0;
  for (const Case& c : cases) {
    h.send_legacy(ethernet(kPeer, 0x0800, c.size));
    octets += wire(c.size);
    if (c.bucket != 0) ++buckets[c.bucket];
  }
  h.send_legacy(ethernet(kBroadcast, 0x0806, 42));
  h.send_legacy(ethernet(kMulticast, 0x0800, 300));
  octets += wire(42) + wire(300);
  ++buckets[PTC64];
  ++buckets[PTC511];
  // Without PSP a short frame leaves as a runt: counted in TPT/TOT only.
  h.wr(TCTL, h.rd(TCTL) & ~TCTL_PSP);
  h.send_legacy(ethernet(kPeer, 0x0800, 20));
  const std::size_t good = std::size(cases) + 2;
  ASSERT_EQ(h.port.frames.size(), good + 1);

  EXPECT_EQ(h.rd(GPTC), good);
  EXPECT_EQ(wide(h, GOTCL), octets);
  EXPECT_EQ(h.rd(TPT), good + 1);
  EXPECT_EQ(wide(h, TOTL), octets + 24);
  EXPECT_EQ(h.rd(BPTC), 1U);
  EXPECT_EQ(h.rd(MPTC), 1U);
  for (std::uint32_t b = PTC64; b <= PTC1522; b += 4) {
    EXPECT_EQ(h.rd(b), buckets[b]) << std::hex << b;
  }
}

TEST(E1000Stats, VlanTagCountsInWireLength) {
  E1000Harness h;
  h.bring_up();
  h.wr(CTRL, h.rd(CTRL) | CTRL_VME);
  h.send_legacy(ethernet(kPeer, 0x0800, 1514), 4096, TXD_CMD_VLE, 5);
  ASSERT_EQ(h.port.frames.size(), 1U);
  EXPECT_EQ(h.port.frames[0].size(), 1518U);
  EXPECT_EQ(h.rd(GOTCL), 1522U);
  EXPECT_EQ(h.rd(PTC1522), 1U);
}

// A TCP segmentation context as Linux prepares it, with `mss` and a payload in one buffer.
void send_tso(E1000Harness& h, std::uint16_t mss, std::uint64_t buffer_override = 0) {
  Bytes f = ethernet(kPeer, 0x0800, 54 + 4000);
  std::uint8_t* ip = f.data() + 14;
  std::memset(ip, 0, 40);
  ip[0] = 0x45;
  ip[9] = 6;
  ip[32] = 0x50;  // TCP data offset
  h.context({.ipcss = 14, .ipcso = 24, .tucss = 34, .tucso = 50,
             .tucmd = TXD_TUCMD_IP | TXD_TUCMD_TCP | TXD_CMD_TSE, .hdrlen = 54, .ipcse = 33,
             .tucse = 0, .mss = mss, .paylen = 4000});
  const std::uint64_t at = buffer_override != 0 ? buffer_override : h.stage(f);
  h.data(at, static_cast<std::uint32_t>(f.size()), TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS,
         TXD_POPTS_IXSM | TXD_POPTS_TXSM);
  h.kick();
}

TEST(E1000Stats, TsoContextsTransmittedAndFailed) {
  E1000Harness h;
  h.bring_up();
  send_tso(h, 1000);
  EXPECT_EQ(h.port.frames.size(), 4U);
  EXPECT_EQ(h.rd(TSCTC), 1U);
  EXPECT_EQ(h.rd(TSCTFC), 0U);
  EXPECT_EQ(h.rd(GPTC), 4U);
  send_tso(h, 0);  // no MSS: the context cannot be segmented
  send_tso(h, 1000, 0xFFFFFFFF00);  // payload outside guest memory
  EXPECT_EQ(h.port.frames.size(), 4U);
  EXPECT_EQ(h.rd(TSCTC), 0U);
  EXPECT_EQ(h.rd(TSCTFC), 2U);
  EXPECT_EQ(h.nic.counters().tx_offload_errors, 1U);
  EXPECT_EQ(h.nic.counters().tx_data_dma_errors, 1U);
}

// ---- 64-bit counters ------------------------------------------------------------------------

TEST(E1000Stats, WideCounterLowThenHighIsConsistentAndResets) {
  E1000Harness h;
  h.bring_up();
  const Bytes f = ethernet(kOurs, 0x0800, 100);
  ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_EQ(h.rd(GORCL), 104U);  // latches the counter
  ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_EQ(h.rd(GORCH), 0U);  // reports the latched value and subtracts it
  EXPECT_EQ(h.rd(GORCL), 104U);  // the frame received between the two reads is not lost
  EXPECT_EQ(h.rd(GORCH), 0U);
  EXPECT_EQ(wide(h, GORCL), 0U);
  // Reading the high half alone resets the whole counter (SDM §13.7.31).
  ASSERT_EQ(h.nic.receive(f), RxResult::accepted);
  EXPECT_EQ(h.rd(GORCH), 0U);
  EXPECT_EQ(h.rd(GORCL), 0U);
}

TEST(E1000Stats, WideCountersCarryAcrossHalvesAndStickAtMaximum) {
  E1000Harness a;
  a.bring_up();
  const Bytes near_carry = with_registers(
      a.nic.snapshot(), {{GORCL, 0xFFFFFF00U}, {GORCH, 1}, {TORL, 0xFFFFFFF0U}, {TORH, 7},
                         {GOTCL, 0xFFFFFFF0U}, {GOTCH, 0xFFFFFFFFU}, {TOTL, 5}});
  E1000Harness h;
  h.bring_up();
  ASSERT_TRUE(h.nic.restore(near_carry).ok());
  EXPECT_EQ(h.rd(GORCL), 0xFFFFFF00U);
  ASSERT_EQ(h.nic.receive(ethernet(kOurs, 0x0800, 0x100)), RxResult::accepted);  // carries
  EXPECT_EQ(h.rd(GORCH), 1U);  // the latched upper half, not the carried one
  EXPECT_EQ(wide(h, GORCL), 0x104U);
  EXPECT_EQ(wide(h, TORL), (std::uint64_t{8} << 32) | 0xF4U);
  // Octet counters stick at 2^64 - 1.
  h.send_legacy(ethernet(kPeer, 0x0800, 100));
  EXPECT_EQ(wide(h, GOTCL), UINT64_MAX);
  EXPECT_EQ(wide(h, TOTL), 5U + 104U);
  EXPECT_EQ(wide(h, GOTCL), 0U);
}

TEST(E1000Stats, LatchSurvivesSnapshotAndBadLatchIsRefused) {
  E1000Harness a;
  a.bring_up();
  const Bytes start = with_registers(a.nic.snapshot(), {{TOTL, 10}, {TOTH, 3}});
  ASSERT_TRUE(a.nic.restore(start).ok());
  EXPECT_EQ(a.rd(TOTL), 10U);  // latched
  a.send_legacy(ethernet(kPeer, 0x0800, 100));
  const Bytes snap = a.nic.snapshot();
  E1000Harness b;
  ASSERT_TRUE(b.nic.restore(snap).ok());
  EXPECT_EQ(b.rd(TOTH), 3U);
  EXPECT_EQ(wide(b, TOTL), 104U);
  // A latch above its counter is refused: lower the counter under the latched value.
  const Bytes bad = with_registers(snap, {{TOTL, 1}, {TOTH, 0}});
  E1000Harness c;
  const auto refused = c.nic.restore(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "statistics latch");
}

}  // namespace
}  // namespace aero::devices::test
