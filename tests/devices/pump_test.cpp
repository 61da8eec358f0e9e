// The frame pump with the E1000: tick order (transmit before receive, same-tick replies),
// per-tick budgets and poll limits, back-pressure from a full NET_TX ring without loss, RX hold
// keeping frames in the backend, zero budgets, counted NIC drops, and the ring backend end to
// end.
#include <gtest/gtest.h>

#include <vector>

#include "aero/devices/backends.h"
#include "aero/devices/pump.h"
#include "e1000_test_driver.h"

namespace {

using aero::Bytes;
using aero::ByteSpan;
using namespace aero::devices;        // NOLINT
using namespace aero::devices::e1000;  // NOLINT
using aero::devices::test::E1000Harness;
using aero::devices::test::ethernet;
namespace aipc = aero::devices::aipc;

constexpr std::array<std::uint8_t, 6> kBroadcast{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

Bytes guest_frame(std::size_t size, std::uint8_t seed) {
  return ethernet({0x02, 0, 0, 0, 0, 0x01}, 0x0800, size, seed);
}
Bytes host_frame(std::size_t size, std::uint8_t seed) {
  return ethernet(kBroadcast, 0x0800, size, seed);
}

// Posts a frame on the guest's TX ring without ringing the doorbell.
void post_tx(E1000Harness& h, const Bytes& f) {
  const std::uint64_t at = h.stage(f);
  h.legacy(at, static_cast<std::uint16_t>(f.size()), TXD_CMD_EOP | TXD_CMD_RS);
}
void doorbell(E1000Harness& h) { h.wr(TDT, h.tx_tail); }

Bytes take_tx(FrameQueueBackend& be) {
  auto f = be.tx_peek();
  EXPECT_TRUE(f);
  Bytes out = f ? Bytes(f->begin(), f->end()) : Bytes{};
  be.tx_pop();
  return out;
}

struct QueueRig {
  explicit QueueRig(PumpConfig pump_config = {}, E1000Config nic_config = {},
                    FrameQueueBackendConfig backend_config = {})
      : backend(backend_config), pump(backend, pump_config), h(pump.nic_port(), nic_config),
        nic(h.nic) {
    h.bring_up();
  }
  PumpTickResult tick() { return pump.tick(nic, h.clock.now()); }
  FrameQueueBackend backend;
  NicPump pump;
  E1000Harness h;
  E1000PumpedNic nic;
};

TEST(Pump, TransmitsThenReceivesInOneTick) {
  QueueRig rig;
  for (std::uint8_t i = 0; i < 3; ++i) post_tx(rig.h, guest_frame(100 + i, i));
  doorbell(rig.h);
  ASSERT_EQ(rig.backend.push_rx(host_frame(200, 7)), QueueRefusal::none);
  ASSERT_EQ(rig.backend.push_rx(host_frame(300, 8)), QueueRefusal::none);
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.tx_frames, 3U);
  EXPECT_EQ(r.tx_bytes, 303U);
  EXPECT_EQ(r.rx_frames, 2U);
  EXPECT_EQ(r.rx_bytes, 500U);
  EXPECT_FALSE(r.rx_held);
  EXPECT_FALSE(r.tx_deferred);
  for (std::uint8_t i = 0; i < 3; ++i) EXPECT_EQ(take_tx(rig.backend), guest_frame(100 + i, i));
  EXPECT_EQ(rig.h.next_rx()->bytes, host_frame(200, 7));
  EXPECT_EQ(rig.h.next_rx()->bytes, host_frame(300, 8));
  EXPECT_EQ(rig.pump.counters().tx_frames, 3U);
  EXPECT_EQ(rig.pump.counters().rx_frames, 2U);
}

// A backend that answers every guest frame at once, like the stack answering ARP or DHCP.
class ReplyingBackend final : public FrameBackend {
 public:
  bool transmit(ByteSpan frame) override {
    return inner.push_rx(host_frame(frame.size() + 10, frame[14])) == QueueRefusal::none;
  }
  std::optional<ByteSpan> rx_peek() override { return inner.rx_peek(); }
  void rx_pop() override { inner.rx_pop(); }
  bool tx_congested() const override { return false; }
  FrameQueueBackend inner;
};

TEST(Pump, ReplyToAGuestFrameArrivesInTheSameTick) {
  ReplyingBackend backend;
  NicPump pump(backend);
  E1000Harness h(pump.nic_port());
  h.bring_up();
  E1000PumpedNic nic(h.nic);
  post_tx(h, guest_frame(80, 3));
  doorbell(h);
  const PumpTickResult r = pump.tick(nic, h.clock.now());
  EXPECT_EQ(r.tx_frames, 1U);
  EXPECT_EQ(r.rx_frames, 1U);
  const auto got = h.next_rx();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->bytes.size(), 90U);
}

TEST(Pump, WaitingTransmitIsDueWhenTheClockReadsLaterThanTheTick) {
  // An embedder's clock moves on between reading the tick's time and the model's own reads.
  QueueRig rig;
  post_tx(rig.h, guest_frame(64, 1));
  doorbell(rig.h);
  const PumpTickResult r = rig.pump.tick(rig.nic, rig.h.clock.now() - std::chrono::milliseconds(1));
  EXPECT_EQ(r.tx_frames, 1U);
  EXPECT_EQ(take_tx(rig.backend), guest_frame(64, 1));
}

TEST(Pump, TxFrameBudgetStopsFurtherPollsAndKeepsOrder) {
  QueueRig rig({.tx_frame_budget = 8, .rx_frame_budget = 256, .max_polls = 10},
               {.tx_descriptor_budget = 4});
  for (std::uint8_t i = 0; i < 20; ++i) post_tx(rig.h, guest_frame(64 + i, i));
  doorbell(rig.h);
  PumpTickResult r = rig.tick();
  EXPECT_EQ(r.polls, 2U);
  EXPECT_EQ(r.tx_frames, 8U);
  EXPECT_TRUE(r.tx_deferred);
  ASSERT_TRUE(r.next_deadline);
  EXPECT_EQ(*r.next_deadline, rig.h.clock.now());  // come back at once
  EXPECT_EQ(rig.pump.counters().tx_deferred_budget, 1U);
  unsigned ticks = 1;
  while (r.tx_deferred && ticks < 10) {
    r = rig.tick();
    ++ticks;
  }
  EXPECT_EQ(ticks, 3U);
  EXPECT_EQ(rig.pump.counters().tx_frames, 20U);
  for (std::uint8_t i = 0; i < 20; ++i) EXPECT_EQ(take_tx(rig.backend), guest_frame(64 + i, i));
}

TEST(Pump, MaxPollsBoundsATick) {
  QueueRig rig({.tx_frame_budget = 1000, .rx_frame_budget = 256, .max_polls = 2},
               {.tx_descriptor_budget = 4});
  for (std::uint8_t i = 0; i < 20; ++i) post_tx(rig.h, guest_frame(64, i));
  doorbell(rig.h);
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.polls, 2U);
  EXPECT_EQ(r.tx_frames, 8U);
  EXPECT_TRUE(r.tx_deferred);
}

TEST(Pump, RxBudgetBoundsATick) {
  QueueRig rig({.tx_frame_budget = 256, .rx_frame_budget = 3, .max_polls = 4});
  for (std::uint8_t i = 0; i < 10; ++i) {
    ASSERT_EQ(rig.backend.push_rx(host_frame(100, i)), QueueRefusal::none);
  }
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.rx_frames, 3U);
  EXPECT_TRUE(r.rx_budget_exhausted);
  ASSERT_TRUE(r.next_deadline);
  EXPECT_EQ(*r.next_deadline, rig.h.clock.now());
  EXPECT_EQ(rig.backend.rx_queue().frames(), 7U);
}

TEST(Pump, RxHoldLeavesTheFrameInTheBackend) {
  QueueRig rig;
  rig.h.setup_rx(8);
  rig.h.wr(RDT, 3);  // three buffers posted
  for (std::uint8_t i = 0; i < 6; ++i) {
    ASSERT_EQ(rig.backend.push_rx(host_frame(100 + i, i)), QueueRefusal::none);
  }
  PumpTickResult r = rig.tick();
  EXPECT_EQ(r.rx_frames, 3U);
  EXPECT_TRUE(r.rx_held);
  EXPECT_EQ(rig.backend.rx_queue().frames(), 3U);  // nothing dropped
  EXPECT_EQ(rig.pump.counters().rx_holds, 1U);
  std::uint8_t next = 0;
  for (int round = 0; round < 5 && next < 6; ++round) {
    while (auto f = rig.h.next_rx()) {  // the guest processes and recycles its buffers
      EXPECT_EQ(f->bytes, host_frame(100 + next, next));
      ++next;
    }
    r = rig.tick();
  }
  EXPECT_EQ(next, 6U);
  EXPECT_EQ(rig.backend.rx_queue().frames(), 0U);
  EXPECT_EQ(rig.h.nic.counters().rx_frames, 6U);
}

TEST(Pump, ZeroBudgetsLeaveNicAndBackendUntouched) {
  QueueRig rig({.tx_frame_budget = 0, .rx_frame_budget = 0, .max_polls = 4});
  post_tx(rig.h, guest_frame(64, 1));
  doorbell(rig.h);
  ASSERT_EQ(rig.backend.push_rx(host_frame(100, 2)), QueueRefusal::none);
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.polls, 0U);
  EXPECT_EQ(r.tx_frames, 0U);
  EXPECT_EQ(r.rx_frames, 0U);
  EXPECT_EQ(rig.h.rd(TDH), 0U);
  EXPECT_EQ(rig.backend.rx_queue().frames(), 1U);
  EXPECT_FALSE(rig.backend.tx_peek());
}

TEST(Pump, IdleNicIsNotPolled) {
  QueueRig rig;
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.polls, 0U);
  EXPECT_FALSE(r.next_deadline);
}

TEST(Pump, FramesTheNicDropsAreCountedAndConsumed) {
  QueueRig rig({}, {}, {.tx = {}, .rx = {.min_frame_size = 1}});
  ASSERT_EQ(rig.backend.push_rx(Bytes(10, 0xFF)), QueueRefusal::none);  // a runt
  ASSERT_EQ(rig.backend.push_rx(host_frame(100, 2)), QueueRefusal::none);
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.rx_dropped, 1U);
  EXPECT_EQ(r.rx_frames, 1U);
  EXPECT_EQ(rig.h.nic.counters().rx_runt, 1U);
  EXPECT_EQ(rig.pump.counters().rx_dropped, 1U);
  EXPECT_EQ(rig.backend.rx_queue().frames(), 0U);
}

// ---- With the AIPC ring backend --------------------------------------------------------------

struct IpcRig {
  explicit IpcRig(std::uint32_t tx_capacity, AipcRingBackendConfig backend_config = {},
                  E1000Config nic_config = {})
      : specs{{aipc::queue_kind::net_tx, tx_capacity}, {aipc::queue_kind::net_rx, 65536}},
        words(*aipc::buffer_size(specs) / 4),
        formatted(aipc::format_buffer(span(), specs).ok()),
        backend(*AipcRingBackend::open(span(), backend_config)),
        pump(backend),
        h(pump.nic_port(), nic_config),
        nic(h.nic),
        worker_tx(worker(aipc::queue_kind::net_tx)),
        worker_rx(worker(aipc::queue_kind::net_rx)) {
    h.bring_up();
  }
  std::span<std::uint8_t> span() {
    return {reinterpret_cast<std::uint8_t*>(words.data()), words.size() * 4};  // NOLINT
  }
  aipc::AipcRing worker(std::uint32_t kind) {
    const auto q = *aipc::find_queue(span(), kind);
    return *aipc::AipcRing::attach(span().subspan(q.offset_bytes, 16 + q.capacity_bytes));
  }
  std::vector<Bytes> drain_tx() {
    std::vector<Bytes> out;
    Bytes buf(4096);
    for (;;) {
      const auto r = worker_tx.try_pop(buf);
      if (r.status != aipc::PopStatus::ok) break;
      out.emplace_back(buf.begin(), buf.begin() + r.length);
    }
    return out;
  }
  PumpTickResult tick() { return pump.tick(nic, h.clock.now()); }

  std::vector<aipc::QueueSpec> specs;
  std::vector<std::uint32_t> words;
  bool formatted;
  AipcRingBackend backend;
  NicPump pump;
  E1000Harness h;
  E1000PumpedNic nic;
  aipc::AipcRing worker_tx;
  aipc::AipcRing worker_rx;
};

TEST(PumpRing, FramesCrossTheRingsBothWays) {
  IpcRig rig(65536);
  ASSERT_TRUE(rig.formatted);
  for (std::uint8_t i = 0; i < 3; ++i) {
    ASSERT_EQ(rig.worker_rx.try_push(host_frame(200 + i, i)), aipc::PushStatus::ok);
  }
  post_tx(rig.h, guest_frame(90, 5));
  post_tx(rig.h, guest_frame(91, 6));
  doorbell(rig.h);
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.tx_frames, 2U);
  EXPECT_EQ(r.rx_frames, 3U);
  const auto sent = rig.drain_tx();
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[0], guest_frame(90, 5));
  EXPECT_EQ(sent[1], guest_frame(91, 6));
  for (std::uint8_t i = 0; i < 3; ++i) EXPECT_EQ(rig.h.next_rx()->bytes, host_frame(200 + i, i));
}

// NET_TX holds two 1500-byte frames; the guest sends twelve. Nothing is lost: the backend
// holds what the ring cannot take, the pump stops polling while congested, and the guest's
// descriptors wait in its ring until the worker drains NET_TX.
TEST(PumpRing, FullNetTxIsBackPressureNotLoss) {
  IpcRig rig(4096, {}, {.tx_descriptor_budget = 4});
  for (std::uint8_t i = 0; i < 12; ++i) post_tx(rig.h, guest_frame(1500, i));
  doorbell(rig.h);
  std::vector<Bytes> received;
  PumpTickResult r = rig.tick();
  EXPECT_EQ(r.polls, 1U);  // congested after the first poll
  EXPECT_EQ(r.tx_frames, 4U);
  EXPECT_EQ(rig.backend.counters().tx_held, 2U);
  EXPECT_TRUE(r.tx_deferred);
  EXPECT_EQ(rig.pump.counters().tx_deferred_congested, 1U);
  for (int tick = 0; tick < 50 && received.size() < 12; ++tick) {
    for (auto& f : rig.drain_tx()) received.push_back(std::move(f));
    r = rig.tick();
  }
  for (auto& f : rig.drain_tx()) received.push_back(std::move(f));
  ASSERT_EQ(received.size(), 12U);
  for (std::uint8_t i = 0; i < 12; ++i) EXPECT_EQ(received[i], guest_frame(1500, i));
  EXPECT_EQ(rig.backend.counters().tx_refused_hold_full, 0U);
  EXPECT_EQ(rig.h.nic.counters().tx_backend_refused, 0U);
  EXPECT_EQ(rig.pump.counters().tx_refused, 0U);
}

TEST(PumpRing, RefusalBeyondTheHoldQueueIsCountedEverywhere) {
  IpcRig rig(4096, {.tx_hold = {.max_frames = 1, .max_bytes = 4096}},
             {.tx_descriptor_budget = 8});
  for (std::uint8_t i = 0; i < 6; ++i) post_tx(rig.h, guest_frame(1500, i));
  doorbell(rig.h);
  const PumpTickResult r = rig.tick();
  // Two in the ring, one held, three refused: counted by the backend, the pump and the NIC.
  EXPECT_EQ(r.tx_frames, 3U);
  EXPECT_EQ(r.tx_refused, 3U);
  EXPECT_EQ(rig.backend.counters().tx_refused_hold_full, 3U);
  EXPECT_EQ(rig.pump.counters().tx_refused, 3U);
  EXPECT_EQ(rig.h.nic.counters().tx_backend_refused, 3U);
}

TEST(PumpRing, NetRxFramesWaitWhileTheGuestHasNoBuffers) {
  IpcRig rig(65536);
  rig.h.setup_rx(8);
  rig.h.wr(RDT, 2);  // two buffers posted
  for (std::uint8_t i = 0; i < 5; ++i) {
    ASSERT_EQ(rig.worker_rx.try_push(host_frame(100, i)), aipc::PushStatus::ok);
  }
  std::uint8_t next = 0;
  for (int tick = 0; tick < 10 && next < 5; ++tick) {
    rig.tick();
    while (auto f = rig.h.next_rx()) {
      EXPECT_EQ(f->bytes, host_frame(100, next));
      ++next;
    }
  }
  EXPECT_EQ(next, 5U);
  EXPECT_EQ(rig.backend.counters().rx_frames, 5U);
}

}  // namespace
