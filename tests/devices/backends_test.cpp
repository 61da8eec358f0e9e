// Frame backends: the queue backend refuses with reasons and never drops a queued frame; the
// AIPC ring backend writes NET_TX, holds frames while it is full and retries them in order,
// refuses only when the hold queue is full too, reads NET_RX with the capped pop, and turns
// corrupt rings into permanent, counted broken states.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "aero/devices/backends.h"

namespace {

using aero::Bytes;
using aero::ByteSpan;
using namespace aero::devices;  // NOLINT
namespace aipc = aero::devices::aipc;

Bytes frame(std::size_t size, std::uint32_t seed) {
  Bytes f(size);
  for (std::size_t i = 0; i < size; ++i) f[i] = static_cast<std::uint8_t>(seed * 29 + i);
  return f;
}

Bytes copy(std::optional<ByteSpan> s) {
  EXPECT_TRUE(s);
  return s ? Bytes(s->begin(), s->end()) : Bytes{};
}

// An AIPC buffer with NET_TX and NET_RX, and the network worker's handles on both rings.
struct IpcBuffer {
  explicit IpcBuffer(std::uint32_t tx_capacity = 8192, std::uint32_t rx_capacity = 8192)
      : specs{{aipc::queue_kind::net_tx, tx_capacity}, {aipc::queue_kind::net_rx, rx_capacity}},
        words((*aipc::buffer_size(specs) + 3) / 4) {
    EXPECT_TRUE(aipc::format_buffer(span(), specs).ok());
  }
  std::span<std::uint8_t> span() {
    return {reinterpret_cast<std::uint8_t*>(words.data()), *aipc::buffer_size(specs)};  // NOLINT
  }
  aipc::AipcRing worker(std::uint32_t kind) {
    const auto q = *aipc::find_queue(span(), kind);
    return *aipc::AipcRing::attach(span().subspan(q.offset_bytes, 16 + q.capacity_bytes));
  }
  std::uint8_t* ring_header(std::uint32_t kind) {
    return span().data() + aipc::find_queue(span(), kind)->offset_bytes;
  }
  std::vector<aipc::QueueSpec> specs;
  std::vector<std::uint32_t> words;
};

Bytes worker_pop(aipc::AipcRing& ring) {
  Bytes out(4096);
  const auto r = ring.try_pop(out);
  EXPECT_EQ(r.status, aipc::PopStatus::ok);
  out.resize(r.status == aipc::PopStatus::ok ? r.length : 0);
  return out;
}

// ---- FrameQueueBackend -----------------------------------------------------------------------

TEST(FrameQueueBackend, MovesFramesBothWays) {
  FrameQueueBackend be;
  EXPECT_TRUE(be.transmit(frame(60, 1)));
  EXPECT_TRUE(be.transmit(frame(61, 2)));
  EXPECT_EQ(copy(be.tx_peek()), frame(60, 1));
  be.tx_pop();
  EXPECT_EQ(copy(be.tx_peek()), frame(61, 2));
  be.tx_pop();
  EXPECT_FALSE(be.tx_peek());

  EXPECT_FALSE(be.rx_peek());
  EXPECT_EQ(be.push_rx(frame(70, 3)), QueueRefusal::none);
  EXPECT_EQ(copy(be.rx_peek()), frame(70, 3));
  EXPECT_EQ(copy(be.rx_peek()), frame(70, 3));  // peeking does not consume
  be.rx_pop();
  EXPECT_FALSE(be.rx_peek());
}

TEST(FrameQueueBackend, TxRefusalsAreBackPressureWithReasons) {
  FrameQueueBackend be({.tx = {.max_frames = 2, .max_bytes = 4096, .max_frame_size = 1514},
                        .rx = {}});
  EXPECT_FALSE(be.transmit(frame(10, 0)));    // runt
  EXPECT_FALSE(be.transmit(frame(1515, 0)));  // oversize
  EXPECT_FALSE(be.tx_congested());
  EXPECT_TRUE(be.transmit(frame(100, 1)));
  EXPECT_TRUE(be.transmit(frame(100, 2)));
  EXPECT_TRUE(be.tx_congested());
  EXPECT_FALSE(be.transmit(frame(100, 3)));  // frames full: refused, oldest kept
  const auto& c = be.tx_queue().counters();
  EXPECT_EQ(c.refused_runt, 1U);
  EXPECT_EQ(c.refused_oversize, 1U);
  EXPECT_EQ(c.refused_frames_full, 1U);
  EXPECT_EQ(copy(be.tx_peek()), frame(100, 1));
}

TEST(FrameQueueBackend, RxLimitsRefuseTheHost) {
  FrameQueueBackend be({.tx = {},
                        .rx = {.max_frames = 10, .max_bytes = 200, .max_frame_size = 150}});
  EXPECT_EQ(be.push_rx(frame(151, 0)), QueueRefusal::oversize);
  EXPECT_EQ(be.push_rx(frame(150, 0)), QueueRefusal::none);
  EXPECT_EQ(be.push_rx(frame(51, 0)), QueueRefusal::bytes_full);
  EXPECT_EQ(be.push_rx(frame(50, 0)), QueueRefusal::none);
  EXPECT_EQ(be.rx_queue().counters().refused_bytes_full, 1U);
  EXPECT_EQ(be.rx_queue().frames(), 2U);
}

// ---- AipcRingBackend -------------------------------------------------------------------------

TEST(AipcRingBackend, OpenFindsNetRings) {
  IpcBuffer ipc;
  auto be = AipcRingBackend::open(ipc.span());
  ASSERT_TRUE(be.ok());
  EXPECT_EQ(be->max_frame_size(), 2048U);
  // A buffer without NET_RX is refused.
  const aipc::QueueSpec only_tx[] = {{aipc::queue_kind::net_tx, 4096}};
  std::vector<std::uint32_t> words(*aipc::buffer_size(only_tx) / 4);
  std::span<std::uint8_t> buf(reinterpret_cast<std::uint8_t*>(words.data()),  // NOLINT
                              words.size() * 4);
  ASSERT_TRUE(aipc::format_buffer(buf, only_tx).ok());
  EXPECT_EQ(AipcRingBackend::open(buf).error().kind, "not_found");
}

TEST(AipcRingBackend, TransmitWritesNetTxInOrder) {
  IpcBuffer ipc;
  auto be = *AipcRingBackend::open(ipc.span());
  auto worker = ipc.worker(aipc::queue_kind::net_tx);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_TRUE(be.transmit(frame(60 + i, i)));
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(worker_pop(worker), frame(60 + i, i));
  EXPECT_EQ(be.counters().tx_frames, 3U);
  EXPECT_EQ(be.counters().tx_bytes, 183U);
  EXPECT_FALSE(be.tx_congested());
  EXPECT_FALSE(be.transmit(frame(2049, 0)));
  EXPECT_EQ(be.counters().tx_refused_oversize, 1U);
}

TEST(AipcRingBackend, FullNetTxHoldsAndRetriesInOrder) {
  IpcBuffer ipc(1024);  // about 2 frames of 500 bytes
  auto be = *AipcRingBackend::open(ipc.span());
  auto worker = ipc.worker(aipc::queue_kind::net_tx);
  for (std::uint32_t i = 0; i < 6; ++i) EXPECT_TRUE(be.transmit(frame(500, i)));  // none lost
  EXPECT_EQ(be.counters().tx_frames, 2U);
  EXPECT_EQ(be.counters().tx_held, 4U);
  EXPECT_EQ(be.tx_held_frames(), 4U);
  EXPECT_TRUE(be.tx_congested());
  std::uint32_t next = 0;
  for (int round = 0; round < 10 && next < 6; ++round) {
    Bytes out(4096);
    while (true) {
      const auto r = worker.try_pop(out);
      if (r.status != aipc::PopStatus::ok) break;
      EXPECT_EQ(Bytes(out.begin(), out.begin() + r.length), frame(500, next));
      ++next;
    }
    be.service();  // the pump's first step each tick
  }
  EXPECT_EQ(next, 6U);
  EXPECT_EQ(be.counters().tx_retried, 4U);
  EXPECT_EQ(be.tx_held_frames(), 0U);
}

TEST(AipcRingBackend, RefusesOnlyWhenTheHoldQueueIsFull) {
  IpcBuffer ipc(1024);
  auto be = *AipcRingBackend::open(
      ipc.span(), {.tx_hold = {.max_frames = 2, .max_bytes = 64 * 1024}});
  for (std::uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(be.transmit(frame(500, i)));
  EXPECT_FALSE(be.transmit(frame(500, 4)));
  EXPECT_EQ(be.counters().tx_refused_hold_full, 1U);
  EXPECT_EQ(be.counters().tx_held, 2U);
}

TEST(AipcRingBackend, CorruptNetTxBreaksTransmitForGood) {
  IpcBuffer ipc(1024);
  auto be = *AipcRingBackend::open(ipc.span());
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_TRUE(be.transmit(frame(500, i)));  // one held
  std::uint8_t* header = ipc.ring_header(aipc::queue_kind::net_tx);
  const std::uint32_t bogus_head = 5000;  // far ahead of tail_reserve
  std::memcpy(header, &bogus_head, 4);
  EXPECT_FALSE(be.transmit(frame(60, 9)));
  EXPECT_TRUE(be.counters().tx_broken);
  EXPECT_EQ(be.counters().tx_corrupt, 1U);
  EXPECT_EQ(be.counters().tx_dropped_broken, 1U);  // the held frame, counted
  EXPECT_EQ(be.counters().tx_refused_broken, 1U);
  EXPECT_FALSE(be.transmit(frame(60, 10)));
  EXPECT_EQ(be.counters().tx_refused_broken, 2U);
  EXPECT_TRUE(be.tx_congested());
}

TEST(AipcRingBackend, ReceiveKeepsFrameUntilPopped) {
  IpcBuffer ipc;
  auto be = *AipcRingBackend::open(ipc.span());
  auto worker = ipc.worker(aipc::queue_kind::net_rx);
  EXPECT_FALSE(be.rx_peek());
  ASSERT_EQ(worker.try_push(frame(100, 1)), aipc::PushStatus::ok);
  ASSERT_EQ(worker.try_push(frame(200, 2)), aipc::PushStatus::ok);
  EXPECT_EQ(copy(be.rx_peek()), frame(100, 1));
  EXPECT_EQ(copy(be.rx_peek()), frame(100, 1));  // a NIC hold: same frame next time
  be.rx_pop();
  EXPECT_EQ(copy(be.rx_peek()), frame(200, 2));
  be.rx_pop();
  EXPECT_FALSE(be.rx_peek());
  EXPECT_EQ(be.counters().rx_frames, 2U);
  EXPECT_EQ(be.counters().rx_bytes, 300U);
}

TEST(AipcRingBackend, OversizeNetRxRecordsAreSkippedBoundedPerPeek) {
  IpcBuffer ipc(8192, 65536);
  auto be = *AipcRingBackend::open(ipc.span(), {.rx_skips_per_peek = 4});
  auto worker = ipc.worker(aipc::queue_kind::net_rx);
  for (std::uint32_t i = 0; i < 6; ++i) {
    ASSERT_EQ(worker.try_push(frame(3000, i)), aipc::PushStatus::ok);
  }
  ASSERT_EQ(worker.try_push(frame(64, 7)), aipc::PushStatus::ok);
  EXPECT_FALSE(be.rx_peek());  // four skipped, then the call gives up for this time
  EXPECT_EQ(be.counters().rx_skipped_oversize, 4U);
  EXPECT_EQ(copy(be.rx_peek()), frame(64, 7));
  EXPECT_EQ(be.counters().rx_skipped_oversize, 6U);
  EXPECT_EQ(be.counters().rx_skipped_oversize_bytes, 18000U);
  EXPECT_FALSE(be.counters().rx_broken);
}

TEST(AipcRingBackend, CorruptNetRxBreaksReceiveForGood) {
  IpcBuffer ipc;
  auto be = *AipcRingBackend::open(ipc.span());
  auto worker = ipc.worker(aipc::queue_kind::net_rx);
  ASSERT_EQ(worker.try_push(frame(64, 1)), aipc::PushStatus::ok);
  std::uint8_t* data = ipc.ring_header(aipc::queue_kind::net_rx) + 16;
  const std::uint32_t bogus_len = 100000;
  std::memcpy(data, &bogus_len, 4);
  EXPECT_FALSE(be.rx_peek());
  EXPECT_TRUE(be.counters().rx_broken);
  EXPECT_EQ(be.counters().rx_corrupt, 1U);
  ASSERT_EQ(worker.try_push(frame(64, 2)), aipc::PushStatus::ok);
  EXPECT_FALSE(be.rx_peek());  // never read again
  EXPECT_EQ(be.counters().rx_corrupt, 1U);
}

}  // namespace
