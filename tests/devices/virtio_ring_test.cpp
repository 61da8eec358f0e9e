// Virtqueue behaviour seen through the virtio-net device: indirect chains, notification
// suppression in both directions (flags and EVENT_IDX, split and packed), receive hold and
// buffer sizing, reset with work in flight, hostile descriptors (loops, bad indexes, bad
// addresses, misused indirect tables, wrong directions) and the DEVICE_NEEDS_RESET path.
#include <gtest/gtest.h>

#include "virtio_test_driver.h"

namespace aero::devices::vtest {
namespace {

using namespace aero::devices::virtio;  // NOLINT: transport constants

const Bytes kFrame = ethernet(kDeviceMac, 0x0800, 200, 1);

std::uint8_t* desc_at(NetHarness& h, DriverQueue& q, std::uint16_t index) {
  return h.mem.bytes().data() + q.desc() + 16ULL * index;
}
void put_split_desc(std::uint8_t* d, std::uint64_t addr, std::uint32_t len, std::uint16_t flags,
                    std::uint16_t next) {
  wr64(d, addr);
  wr32(d + 8, len);
  wr16(d + 12, flags);
  wr16(d + 14, next);
}

// ---- Chains ------------------------------------------------------------------------------------

TEST(VirtioRing, HeaderAndFrameSpreadOverManyDescriptors) {
  for (const bool packed : {false, true}) {
    NetHarness h;
    ASSERT_TRUE(h.bring_up(vn::kMac, {.packed = packed}));
    const Bytes f = ethernet(kDeviceMac, 0x0800, 60, 3);
    h.send(f, {}, 9);  // 72 bytes over 9 descriptors: the header is split too
    ASSERT_EQ(h.port.frames.size(), 1U);
    EXPECT_EQ(h.port.frames[0], f);
    h.rx_pieces = 7;
    h.rx_buffer_size = 1526;
    h.post_rx(4);
    ASSERT_EQ(h.dev.receive(f), RxResult::accepted);
    auto got = h.next_rx();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->frame, f);
  }
}

TEST(VirtioRing, IndirectChainsBothWays) {
  for (const bool packed : {false, true}) {
    NetHarness h;
    ASSERT_TRUE(h.bring_up(vn::kMac | vn::kMrgRxbuf, {.packed = packed, .indirect = true}));
    const Bytes f = ethernet(kDeviceMac, 0x0800, 1514, 3);
    h.send(f, {}, 5, true);
    ASSERT_EQ(h.port.frames.size(), 1U);
    EXPECT_EQ(h.port.frames[0], f);
    h.rx_pieces = 4;
    h.rx_buffer_size = 800;
    h.post_rx(8, true);
    ASSERT_EQ(h.dev.receive(f), RxResult::accepted);
    auto got = h.next_rx();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->frame, f);
    EXPECT_EQ(got->buffers, 2U);
  }
}

TEST(VirtioRing, IndirectRulesAreEnforced) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac, {.indirect = true}));
  DriverQueue& q = h.txq;
  const std::uint64_t table = 0x300000, data = 0x310000;
  Bytes buf = NetHeader{}.encode(12);
  buf.insert(buf.end(), kFrame.begin(), kFrame.end());
  std::memcpy(h.mem.bytes().data() + data, buf.data(), buf.size());
  auto send_raw = [&](std::uint16_t head) {
    q.track_raw(head, 1);
    q.publish_raw_head(head);
    h.notify(VirtioNet::kTxQueue);
    h.dev.poll(16);
    auto u = q.pop_used();
    EXPECT_TRUE(u);
    return u ? u->len : 0xFFFFFFFFU;
  };
  std::uint8_t* t = h.mem.bytes().data() + table;
  put_split_desc(t, data, static_cast<std::uint32_t>(buf.size()), 0, 0);
  // A good table first.
  put_split_desc(desc_at(h, q, 0), table, 16, kDescIndirect, 0);
  EXPECT_EQ(send_raw(0), 0U);
  EXPECT_EQ(h.port.frames.size(), 1U);
  // Length not a multiple of 16.
  put_split_desc(desc_at(h, q, 1), table, 24, kDescIndirect, 0);
  send_raw(1);
  // INDIRECT together with NEXT.
  put_split_desc(desc_at(h, q, 2), table, 16, kDescIndirect | kDescNext, 3);
  send_raw(2);
  // A nested table.
  put_split_desc(t + 16, table, 16, kDescIndirect, 0);
  put_split_desc(desc_at(h, q, 4), table + 16, 16, kDescIndirect, 0);
  send_raw(4);
  // A loop inside the table.
  put_split_desc(t + 32, data, 10, kDescNext, 1);
  put_split_desc(t + 48, data, 10, kDescNext, 0);
  put_split_desc(desc_at(h, q, 5), table + 32, 32, kDescIndirect, 0);
  send_raw(5);
  // `next` beyond the table.
  put_split_desc(t + 64, data, 10, kDescNext, 9);
  put_split_desc(desc_at(h, q, 6), table + 64, 16, kDescIndirect, 0);
  send_raw(6);
  // Longer than the queue size allows.
  put_split_desc(desc_at(h, q, 7), table, 16 * 257, kDescIndirect, 0);
  send_raw(7);
  // Table outside guest memory.
  put_split_desc(desc_at(h, q, 8), 0xFFFFFFF0000ULL, 16, kDescIndirect, 0);
  send_raw(8);
  EXPECT_EQ(h.port.frames.size(), 1U);
  EXPECT_EQ(h.dev.counters().tx_bad_chain, 7U);
  EXPECT_FALSE(h.dev.device_status() & kStatusNeedsReset);
  // Without the feature an indirect descriptor is a bad chain.
  NetHarness plain;
  ASSERT_TRUE(plain.bring_up(vn::kMac));
  std::memcpy(plain.mem.bytes().data() + table, t, 16);
  std::memcpy(plain.mem.bytes().data() + data, buf.data(), buf.size());
  put_split_desc(desc_at(plain, plain.txq, 0), table, 16, kDescIndirect, 0);
  plain.txq.track_raw(0, 1);
  plain.txq.publish_raw_head(0);
  plain.notify(VirtioNet::kTxQueue);
  plain.dev.poll(16);
  EXPECT_EQ(plain.dev.counters().tx_bad_chain, 1U);
  EXPECT_TRUE(plain.port.frames.empty());
}

// ---- Hostile split descriptors ------------------------------------------------------------------

TEST(VirtioRing, SplitLoopsAndBadAddressesCompleteWithZero) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac));
  DriverQueue& q = h.txq;
  auto send_raw = [&](std::uint16_t head) {
    q.track_raw(head, 1);
    q.publish_raw_head(head);
    h.notify(VirtioNet::kTxQueue);
    h.dev.poll(64);
    auto u = q.pop_used();
    ASSERT_TRUE(u);
    EXPECT_EQ(u->id, head);
    EXPECT_EQ(u->len, 0U);
  };
  put_split_desc(desc_at(h, q, 0), 0x300000, 100, kDescNext, 1);  // 0 -> 1 -> 0
  put_split_desc(desc_at(h, q, 1), 0x300000, 100, kDescNext, 0);
  send_raw(0);
  put_split_desc(desc_at(h, q, 2), 0x300000, 100, kDescNext, 999);  // next out of range
  send_raw(2);
  put_split_desc(desc_at(h, q, 3), 0x7FFFFFFF0000ULL, 100, 0, 0);  // outside guest memory
  send_raw(3);
  put_split_desc(desc_at(h, q, 4), 0xFFFFFFFFFFFFFF00ULL, 0x200, 0, 0);  // address + length wraps
  send_raw(4);
  put_split_desc(desc_at(h, q, 5), 0x300000, 100, kDescWrite | kDescNext, 6);  // read after write
  put_split_desc(desc_at(h, q, 6), 0x300000, 100, 0, 0);
  send_raw(5);
  put_split_desc(desc_at(h, q, 7), 0x300000, 100, kDescWrite, 0);  // TX buffer writable
  send_raw(7);
  put_split_desc(desc_at(h, q, 8), 0x300000, 8, 0, 0);  // shorter than the header
  send_raw(8);
  put_split_desc(desc_at(h, q, 9), 0x300000, 12 + 10, 0, 0);  // a runt frame
  send_raw(9);
  put_split_desc(desc_at(h, q, 10), 0x300000, 12 + 70000, 0, 0);  // beyond the largest frame
  send_raw(10);
  const VirtioNetCounters& c = h.dev.counters();
  EXPECT_EQ(c.tx_bad_chain, 5U);  // loop, next, wrap, read-after-write, writable
  EXPECT_EQ(c.tx_dma_errors, 1U);
  EXPECT_EQ(c.tx_bad_header, 1U);
  EXPECT_EQ(c.tx_runt, 1U);
  EXPECT_EQ(c.tx_oversize, 1U);
  EXPECT_TRUE(h.port.frames.empty());
  EXPECT_FALSE(h.dev.device_status() & kStatusNeedsReset);
  // The queue still works.
  h.send(kFrame);
  EXPECT_EQ(h.port.frames.size(), 1U);
}

TEST(VirtioRing, HeadOutOfRangeNeedsReset) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac, {}, 0, true));
  h.txq.publish_raw_head(300);  // queue size 256
  h.notify(VirtioNet::kTxQueue);
  h.dev.poll(16);
  EXPECT_TRUE(h.dev.device_status() & kStatusNeedsReset);
  EXPECT_EQ(h.irq.msix.back(), 0U);  // configuration change notification
  EXPECT_EQ(h.dev.transport_counters().device_errors, 1U);
  // Nothing is processed until a reset; then everything works again.
  h.post_rx(2);
  EXPECT_EQ(h.dev.receive(kFrame), RxResult::dropped);
  EXPECT_EQ(h.dev.poll(16), 0U);
  ASSERT_TRUE(h.bring_up(vn::kMac));
  EXPECT_FALSE(h.dev.device_status() & kStatusNeedsReset);
  h.send(kFrame);
  EXPECT_EQ(h.port.frames.size(), 1U);
}

TEST(VirtioRing, AvailableIndexJumpNeedsReset) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac));
  h.rxq.set_avail_idx(257);
  EXPECT_EQ(h.dev.receive(kFrame), RxResult::dropped);
  EXPECT_TRUE(h.dev.device_status() & kStatusNeedsReset);
  EXPECT_EQ(h.dev.counters().rx_device_error, 1U);
  EXPECT_TRUE(h.irq.level);
  EXPECT_EQ(h.dev.mmio_read(kIsrOffset, 1), 2U);
}

TEST(VirtioRing, RingsOutsideGuestMemoryNeedReset) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac));
  // Move the used ring of the TX queue beyond memory: completing anything breaks the queue.
  h.set_status(0);
  h.set_status(kStatusAcknowledge | kStatusDriver);
  h.common_w(0x08, 4, 1);
  h.common_w(0x0C, 4, 1);
  h.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  h.common_w(0x16, 2, 1);
  h.common_w(0x20, 8, h.txq.desc());
  h.common_w(0x28, 8, h.txq.driver());
  h.common_w(0x30, 8, 0x7FFFFFFF000ULL);
  h.common_w(0x1C, 2, 1);
  h.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  h.txq.init(h.mem, h.txq.desc(), 0x200000, 4096, 256, {});
  ASSERT_TRUE(h.queue_tx(kFrame));
  h.notify(VirtioNet::kTxQueue);
  h.dev.poll(16);
  EXPECT_TRUE(h.dev.device_status() & kStatusNeedsReset);
}

TEST(VirtioRing, BusMasterGatesDma) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac));
  h.post_rx(2);
  ASSERT_TRUE(h.queue_tx(kFrame));
  h.notify(VirtioNet::kTxQueue);
  h.dev.config_write(0x04, 2, kPciCommandMemory);  // bus master off
  EXPECT_EQ(h.dev.poll(16), 0U);
  EXPECT_TRUE(h.port.frames.empty());
  EXPECT_EQ(h.dev.receive(kFrame), RxResult::dropped);
  EXPECT_EQ(h.dev.counters().rx_not_ready, 1U);
  EXPECT_FALSE(h.dev.device_status() & kStatusNeedsReset);
  h.dev.config_write(0x04, 2, kPciCommandMemory | kPciCommandBusMaster);
  EXPECT_EQ(h.dev.poll(16), 1U);
  EXPECT_EQ(h.port.frames.size(), 1U);
  EXPECT_EQ(h.dev.receive(kFrame), RxResult::accepted);
}

TEST(VirtioRing, ReceiveBufferWithReadableDescriptorIsDiscarded) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac | vn::kMrgRxbuf));
  DriverQueue& q = h.rxq;
  // Buffer 0: readable (wrong); then two good buffers.
  put_split_desc(desc_at(h, q, 200), 0x300000, 2048, 0, 0);
  q.track_raw(200, 1);
  q.publish_raw_head(200);
  h.rx_buffer_size = 1000;
  h.post_rx(2);
  ASSERT_EQ(h.dev.receive(ethernet(kDeviceMac, 0x0800, 1500, 4)), RxResult::accepted);
  auto bad = q.pop_used();
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->id, 200U);
  EXPECT_EQ(bad->len, 0U);
  auto got = h.next_rx();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->frame, ethernet(kDeviceMac, 0x0800, 1500, 4));
  EXPECT_EQ(h.dev.counters().rx_bad_chain, 1U);
}

TEST(VirtioRing, BadBufferInTheMiddleOfAMergedReceive) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac | vn::kMrgRxbuf));
  DriverQueue& q = h.rxq;
  h.rx_buffer_size = 600;
  h.post_rx(1);
  put_split_desc(desc_at(h, q, 250), 0x7FFFFFFF0000ULL, 600, kDescWrite, 0);  // outside memory
  q.track_raw(250, 1);
  q.publish_raw_head(250);
  h.post_rx(4);
  const Bytes f = ethernet(kDeviceMac, 0x0800, 1500, 6);
  ASSERT_EQ(h.dev.receive(f), RxResult::accepted);
  // The first good buffer and the bad one come back empty; the frame follows in three.
  for (int i = 0; i < 2; ++i) {
    auto u = q.pop_used();
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 0U);
  }
  auto got = h.next_rx();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->frame, f);
  EXPECT_EQ(got->buffers, 3U);
  EXPECT_EQ(h.dev.counters().rx_bad_chain, 1U);
  EXPECT_EQ(h.dev.counters().rx_buffers_discarded, 1U);
}

// ---- Hostile packed descriptors ----------------------------------------------------------------

TEST(VirtioRing, PackedListWithoutEndNeedsReset) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac, {.packed = true}, 8));
  for (int i = 0; i < 8; ++i) h.txq.publish_raw_packed(0x300000, 100, 0, kDescNext);
  h.notify(VirtioNet::kTxQueue);
  h.dev.poll(16);
  EXPECT_TRUE(h.dev.device_status() & kStatusNeedsReset);
}

TEST(VirtioRing, PackedRuleViolationsCompleteWithZero) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac, {.packed = true, .indirect = true}, 8));
  DriverQueue& q = h.txq;
  // An indirect descriptor inside a list of two.
  q.publish_raw_packed(0x300000, 50, 0, kDescNext);
  q.publish_raw_packed(0x300000, 16, 5, kDescIndirect);
  q.track_raw(5, 2);
  // Readable after writable.
  q.publish_raw_packed(0x300000, 50, 0, kDescWrite | kDescNext);
  q.publish_raw_packed(0x300000, 50, 6, 0);
  q.track_raw(6, 2);
  h.notify(VirtioNet::kTxQueue);
  h.dev.poll(16);
  for (const int id : {5, 6}) {
    auto u = q.pop_used();
    ASSERT_TRUE(u);
    EXPECT_EQ(u->id, id);
    EXPECT_EQ(u->len, 0U);
  }
  EXPECT_EQ(h.dev.counters().tx_bad_chain, 2U);
  EXPECT_FALSE(h.dev.device_status() & kStatusNeedsReset);
  h.send(kFrame);
  EXPECT_EQ(h.port.frames.size(), 1U);
}

// ---- Notification suppression ------------------------------------------------------------------

TEST(VirtioRing, EventIdxSuppressesKicks) {
  for (const bool packed : {false, true}) {
    for (const bool event_idx : {false, true}) {
      NetHarness h;
      ASSERT_TRUE(h.bring_up(vn::kMac, {.packed = packed, .event_idx = event_idx}));
      // Ten frames added one at a time before the device runs: with EVENT_IDX only the first
      // addition notifies; without it every one does.
      for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(h.queue_tx(kFrame));
        h.kick(h.txq, VirtioNet::kTxQueue);
      }
      h.dev.poll(64);
      EXPECT_EQ(h.port.frames.size(), 10U);
      EXPECT_EQ(h.kicks, event_idx ? 1 : 10) << packed;
      // After the device caught up, the next addition notifies again.
      h.kicks = 0;
      ASSERT_TRUE(h.queue_tx(kFrame));
      h.kick(h.txq, VirtioNet::kTxQueue);
      EXPECT_EQ(h.kicks, 1);
    }
  }
}

TEST(VirtioRing, InterruptSuppressionByFlags) {
  for (const bool packed : {false, true}) {
    NetHarness h;
    ASSERT_TRUE(h.bring_up(vn::kMac, {.packed = packed}, 0, true));
    h.post_rx(8);
    h.rxq.set_interrupts(false);
    ASSERT_EQ(h.dev.receive(kFrame), RxResult::accepted);
    EXPECT_TRUE(h.irq.msix.empty());
    h.rxq.set_interrupts(true);
    ASSERT_EQ(h.dev.receive(kFrame), RxResult::accepted);
    EXPECT_EQ(h.irq.msix.size(), 1U);
  }
}

TEST(VirtioRing, EventIdxSuppressesInterrupts) {
  for (const bool packed : {false, true}) {
    NetHarness h;
    ASSERT_TRUE(h.bring_up(vn::kMac, {.packed = packed, .event_idx = true}, 0, true));
    h.post_rx(16);
    // The first used buffer after DRIVER_OK always notifies (no used_event seen yet).
    ASSERT_EQ(h.dev.receive(kFrame), RxResult::accepted);
    EXPECT_EQ(h.irq.msix.size(), 1U);
    ASSERT_TRUE(h.next_rx());
    h.rxq.set_used_event_after(3);  // interrupt when the third next buffer is used
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(h.dev.receive(kFrame), RxResult::accepted);
      EXPECT_EQ(h.irq.msix.size(), i >= 2 ? 2U : 1U) << "packed " << packed << " frame " << i;
    }
    // Re-arming at the next used element gives an interrupt for the next frame.
    while (h.next_rx()) {
    }
    h.rxq.set_interrupts(true);
    ASSERT_EQ(h.dev.receive(kFrame), RxResult::accepted);
    EXPECT_EQ(h.irq.msix.size(), 3U);
  }
}

TEST(VirtioRing, OneInterruptPerTransmitBatch) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac, {.event_idx = true}, 0, true));
  h.txq.set_interrupts(true);
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(h.queue_tx(kFrame));
  h.kick(h.txq, VirtioNet::kTxQueue);
  EXPECT_EQ(h.dev.poll(256), 32U);
  EXPECT_EQ(h.port.frames.size(), 32U);
  EXPECT_EQ(h.irq.msix.size(), 1U);
}

// ---- Receive sizing and hold -------------------------------------------------------------------

TEST(VirtioRing, ReceiveHoldsUntilBuffersArePosted) {
  for (const bool mrg : {false, true}) {
    NetHarness h;
    ASSERT_TRUE(h.bring_up(vn::kMac | (mrg ? vn::kMrgRxbuf : 0)));
    const Bytes f = ethernet(kDeviceMac, 0x0800, 1514, 8);
    EXPECT_EQ(h.dev.receive(f), RxResult::hold);
    EXPECT_FALSE(h.dev.rx_ready());
    h.rx_buffer_size = mrg ? 600 : 1526;
    h.post_rx(mrg ? 2 : 1);
    if (mrg) {
      // Three buffers needed, two there: nothing is taken.
      EXPECT_EQ(h.dev.receive(f), RxResult::hold);
      EXPECT_FALSE(h.rxq.pop_used());
      h.post_rx(1);
    }
    EXPECT_TRUE(h.dev.rx_ready());
    EXPECT_EQ(h.dev.receive(f), RxResult::accepted);
    auto got = h.next_rx();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->frame, f);
    EXPECT_EQ(got->buffers, mrg ? 3U : 1U);
    EXPECT_EQ(h.dev.counters().rx_hold, mrg ? 2U : 1U);
  }
}

TEST(VirtioRing, FrameTooBigForBufferIsDroppedAndBufferKept) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac));
  h.rx_buffer_size = 512;
  h.post_rx(1);
  EXPECT_EQ(h.dev.receive(ethernet(kDeviceMac, 0x0800, 600, 1)), RxResult::dropped);
  EXPECT_EQ(h.dev.counters().rx_too_big_for_buffer, 1U);
  const Bytes small = ethernet(kDeviceMac, 0x0800, 400, 2);
  EXPECT_EQ(h.dev.receive(small), RxResult::accepted);
  auto got = h.next_rx();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->frame, small);
}

TEST(VirtioRing, MergedFrameTooBigForTheRingIsDropped) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac | vn::kMrgRxbuf, {}, 4));
  h.rx_buffer_size = 100;
  h.post_rx(4);
  EXPECT_EQ(h.dev.receive(ethernet(kDeviceMac, 0x0800, 1514, 1)), RxResult::dropped);
  EXPECT_EQ(h.dev.counters().rx_too_big_for_ring, 1U);
  EXPECT_EQ(h.dev.receive(ethernet(kDeviceMac, 0x0800, 300, 1)), RxResult::accepted);
}

TEST(VirtioRing, ResetWithWorkInFlight) {
  for (const bool packed : {false, true}) {
    NetHarness h;
    ASSERT_TRUE(h.bring_up(vn::kMac, {.packed = packed}));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(h.queue_tx(kFrame));
    h.post_rx(8);
    h.set_status(0);  // reset before the device ran
    h.dev.poll(64);
    EXPECT_TRUE(h.port.frames.empty());
    EXPECT_EQ(h.dev.receive(kFrame), RxResult::dropped);
    ASSERT_TRUE(h.bring_up(vn::kMac, {.packed = packed}));
    h.send(kFrame);
    EXPECT_EQ(h.port.frames.size(), 1U);
    h.post_rx(1);
    EXPECT_EQ(h.dev.receive(kFrame), RxResult::accepted);
  }
}

TEST(VirtioRing, WrapAroundManyTimes) {
  for (const bool packed : {false, true}) {
    NetHarness h;
    ASSERT_TRUE(h.bring_up(vn::kMac | vn::kMrgRxbuf, {.packed = packed, .event_idx = true}, 8));
    h.rx_buffer_size = 700;
    for (int i = 0; i < 500; ++i) {
      const Bytes f = ethernet(kDeviceMac, 0x0800, 60 + static_cast<std::size_t>(i) * 3 % 1400, static_cast<std::uint8_t>(i));
      h.send(f, {}, static_cast<std::size_t>(1 + i % 3));
      ASSERT_EQ(h.port.frames.back(), f);
      h.post_rx(8);
      ASSERT_EQ(h.dev.receive(f), RxResult::accepted);
      auto got = h.next_rx();
      ASSERT_TRUE(got);
      ASSERT_EQ(got->frame, f);
    }
  }
}

TEST(VirtioRing, PollBudgetAndDeadline) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac));
  EXPECT_TRUE(h.dev.next_deadline());  // after DRIVER_OK the device looks at its queues once
  EXPECT_EQ(h.dev.poll(8), 0U);
  EXPECT_FALSE(h.dev.next_deadline());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(h.queue_tx(kFrame));
  h.notify(VirtioNet::kTxQueue);
  EXPECT_TRUE(h.dev.next_deadline());
  EXPECT_EQ(h.dev.poll(8), 8U);
  EXPECT_TRUE(h.dev.next_deadline());
  EXPECT_EQ(h.dev.poll(8), 8U);
  EXPECT_EQ(h.dev.poll(8), 4U);
  EXPECT_FALSE(h.dev.next_deadline());
  EXPECT_EQ(h.port.frames.size(), 20U);
}

TEST(VirtioRing, BackendRefusalIsCounted) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac));
  h.port.refuse = true;
  EXPECT_EQ(h.send(kFrame), 1U);  // the buffer still completes
  EXPECT_EQ(h.dev.counters().tx_backend_refused, 1U);
  EXPECT_EQ(h.dev.counters().tx_frames, 0U);
}

}  // namespace
}  // namespace aero::devices::vtest
