// The frame pump with virtio-net (VirtioNetPumpedNic), driven by the test-side virtio driver:
// frames both ways through the queue backend and the AIPC ring backend on split and packed
// rings, the per-tick chain budget, TSO segments counted as frames, a full receive ring holding
// frames in the backend without loss (one buffer each, and MRG_RXBUF all-or-none), back-pressure
// from a full NET_TX, and the tick order of reference §4 (transmit chains first, then frames
// for the guest), identical from run to run.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "aero/devices/backends.h"
#include "aero/devices/pump.h"
#include "virtio_test_driver.h"

namespace {

using aero::Bytes;
using aero::ByteSpan;
using namespace aero::devices;         // NOLINT
using namespace aero::devices::vtest;  // NOLINT
namespace aipc = aero::devices::aipc;

constexpr std::array<std::uint8_t, 6> kBroadcast{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
constexpr std::array<std::uint8_t, 6> kGateway{0x02, 0, 0, 0, 0, 0x01};

Bytes guest_frame(std::size_t size, std::uint8_t seed) { return ethernet(kGateway, 0x0800, size, seed); }
Bytes host_frame(std::size_t size, std::uint8_t seed) { return ethernet(kBroadcast, 0x0800, size, seed); }

// The guest queues a frame on transmitq1 without notifying the device.
void post_tx(NetHarness& h, const Bytes& f) { ASSERT_TRUE(h.queue_tx(f)); }
void doorbell(NetHarness& h) { h.kick(h.txq, VirtioNet::kTxQueue); }

Bytes take_tx(FrameQueueBackend& be) {
  auto f = be.tx_peek();
  EXPECT_TRUE(f);
  Bytes out = f ? Bytes(f->begin(), f->end()) : Bytes{};
  be.tx_pop();
  return out;
}

// The guest's view of what it received, in order; it recycles each buffer it read.
std::vector<Bytes> guest_receive(NetHarness& h) {
  std::vector<Bytes> out;
  while (auto f = h.next_rx()) out.push_back(f->frame);
  return out;
}

struct RingKind {
  const char* name;
  RingOptions ring;
  std::uint64_t features;
};

// Test names and messages show the kind's name rather than its bytes.
void PrintTo(const RingKind& kind, std::ostream* os) { *os << kind.name; }

const RingKind kRingKinds[] = {
    {"split", {}, 0},
    {"split_event_idx_mrg", {.event_idx = true}, vn::kMrgRxbuf},
    {"packed", {.packed = true}, 0},
    {"packed_event_idx_indirect_mrg", {.packed = true, .event_idx = true, .indirect = true}, vn::kMrgRxbuf},
};

struct QueueRig {
  explicit QueueRig(PumpConfig pump_config = {},
                    unsigned chains_per_tick = VirtioNetPumpedNic::kDefaultChainsPerTick,
                    FrameQueueBackendConfig backend_config = {}, VirtioNetConfig nic_config = {})
      : backend(backend_config), pump(backend, pump_config), h(pump.nic_port(), nic_config),
        nic(h.dev, chains_per_tick) {}
  PumpTickResult tick() { return pump.tick(nic, h.clock.now()); }
  FrameQueueBackend backend;
  NicPump pump;
  NetHarness h;
  VirtioNetPumpedNic nic;
};

class VirtioPump : public ::testing::TestWithParam<RingKind> {};

TEST_P(VirtioPump, TransmitsThenReceivesInOneTick) {
  QueueRig rig;
  ASSERT_TRUE(rig.h.bring_up(GetParam().features, GetParam().ring));
  ASSERT_EQ(rig.h.post_rx(8), 8U);
  for (std::uint8_t i = 0; i < 3; ++i) post_tx(rig.h, guest_frame(100 + i, i));
  doorbell(rig.h);
  ASSERT_EQ(rig.backend.push_rx(host_frame(200, 7)), QueueRefusal::none);
  ASSERT_EQ(rig.backend.push_rx(host_frame(300, 8)), QueueRefusal::none);
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.polls, 1U);
  EXPECT_EQ(r.tx_frames, 3U);
  EXPECT_EQ(r.tx_bytes, 303U);
  EXPECT_EQ(r.rx_frames, 2U);
  EXPECT_EQ(r.rx_bytes, 500U);
  EXPECT_FALSE(r.rx_held);
  EXPECT_FALSE(r.tx_deferred);
  EXPECT_FALSE(r.next_deadline);  // nothing left to do
  for (std::uint8_t i = 0; i < 3; ++i) EXPECT_EQ(take_tx(rig.backend), guest_frame(100 + i, i));
  EXPECT_EQ(rig.h.reclaim_tx(), 3U);
  EXPECT_EQ(guest_receive(rig.h), (std::vector<Bytes>{host_frame(200, 7), host_frame(300, 8)}));
  EXPECT_EQ(rig.pump.counters().tx_frames, 3U);
  EXPECT_EQ(rig.pump.counters().rx_frames, 2U);
  EXPECT_EQ(rig.h.dev.counters().tx_frames, 3U);
  EXPECT_EQ(rig.h.dev.counters().rx_frames, 2U);
}

// A receive ring of three buffers and ten frames waiting: each tick fills what the guest
// posted and the rest waits in the backend; the guest gets all ten, in order, none dropped.
TEST_P(VirtioPump, FullReceiveRingHoldsFramesInTheBackend) {
  QueueRig rig;
  ASSERT_TRUE(rig.h.bring_up(GetParam().features, GetParam().ring, 8));
  ASSERT_EQ(rig.h.post_rx(3), 3U);
  for (std::uint8_t i = 0; i < 10; ++i) {
    ASSERT_EQ(rig.backend.push_rx(host_frame(100 + i, i)), QueueRefusal::none);
  }
  PumpTickResult r = rig.tick();
  EXPECT_EQ(r.rx_frames, 3U);
  EXPECT_TRUE(r.rx_held);
  EXPECT_EQ(r.rx_dropped, 0U);
  EXPECT_EQ(rig.backend.rx_queue().frames(), 7U);
  EXPECT_EQ(rig.pump.counters().rx_holds, 1U);
  std::vector<Bytes> got;
  for (int round = 0; round < 10 && got.size() < 10; ++round) {
    for (Bytes& f : guest_receive(rig.h)) got.push_back(std::move(f));
    rig.h.post_rx(3);
    r = rig.tick();
  }
  for (Bytes& f : guest_receive(rig.h)) got.push_back(std::move(f));
  ASSERT_EQ(got.size(), 10U);
  for (std::uint8_t i = 0; i < 10; ++i) EXPECT_EQ(got[i], host_frame(100 + i, i));
  EXPECT_EQ(rig.backend.rx_queue().frames(), 0U);
  EXPECT_EQ(rig.pump.counters().rx_dropped, 0U);
  const VirtioNetCounters& c = rig.h.dev.counters();
  EXPECT_EQ(c.rx_frames, 10U);
  EXPECT_GE(c.rx_hold, 3U);
  EXPECT_EQ(c.rx_too_big_for_buffer + c.rx_too_big_for_ring + c.rx_not_ready + c.rx_device_error, 0U);
}

INSTANTIATE_TEST_SUITE_P(Rings, VirtioPump, ::testing::ValuesIn(kRingKinds),
                         [](const auto& kind) { return std::string(kind.param.name); });

// With MRG_RXBUF a 1400-byte frame needs three 512-byte buffers and takes all of them or none:
// with four posted, one frame goes in and the next waits (one buffer left is not enough).
TEST(VirtioPumpHold, MergeableFramesTakeAllTheirBuffersOrNone) {
  QueueRig rig;
  rig.h.rx_buffer_size = 512;
  ASSERT_TRUE(rig.h.bring_up(vn::kMrgRxbuf));
  ASSERT_EQ(rig.h.post_rx(4), 4U);
  for (std::uint8_t i = 0; i < 4; ++i) {
    ASSERT_EQ(rig.backend.push_rx(host_frame(1400, i)), QueueRefusal::none);
  }
  PumpTickResult r = rig.tick();
  EXPECT_EQ(r.rx_frames, 1U);
  EXPECT_TRUE(r.rx_held);
  auto first = rig.h.next_rx();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->buffers, 3U);
  EXPECT_EQ(first->frame, host_frame(1400, 0));
  EXPECT_FALSE(rig.h.next_rx());  // the fourth buffer is still the guest's
  std::vector<Bytes> got;
  for (int round = 0; round < 10 && got.size() < 3; ++round) {
    rig.h.post_rx(3);
    r = rig.tick();
    for (Bytes& f : guest_receive(rig.h)) got.push_back(std::move(f));
  }
  ASSERT_EQ(got.size(), 3U);
  for (std::uint8_t i = 1; i < 4; ++i) EXPECT_EQ(got[i - 1U], host_frame(1400, i));
  EXPECT_EQ(rig.h.dev.counters().rx_buffers, 12U);
  EXPECT_EQ(rig.h.dev.counters().rx_buffers_discarded, 0U);
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

TEST(VirtioPumpOrder, ReplyToAGuestFrameArrivesInTheSameTick) {
  ReplyingBackend backend;
  NicPump pump(backend);
  NetHarness h(pump.nic_port());
  ASSERT_TRUE(h.bring_up(0));
  h.post_rx(4);
  VirtioNetPumpedNic nic(h.dev);
  post_tx(h, guest_frame(80, 3));
  doorbell(h);
  const PumpTickResult r = pump.tick(nic, h.clock.now());
  EXPECT_EQ(r.tx_frames, 1U);
  EXPECT_EQ(r.rx_frames, 1U);
  const auto got = h.next_rx();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->frame, host_frame(90, guest_frame(80, 3)[14]));
}

// Records what the pump asks of the backend, in order.
class RecordingBackend final : public FrameBackend {
 public:
  bool transmit(ByteSpan frame) override {
    log.push_back("tx " + std::to_string(frame.size()));
    return true;
  }
  std::optional<ByteSpan> rx_peek() override {
    if (pending.empty()) {
      log.push_back("peek none");
      return std::nullopt;
    }
    log.push_back("peek " + std::to_string(pending.front().size()));
    return ByteSpan(pending.front());
  }
  void rx_pop() override {
    log.push_back("pop");
    pending.erase(pending.begin());
  }
  void service() override { log.push_back("service"); }
  bool tx_congested() const override { return false; }
  std::vector<Bytes> pending;
  std::vector<std::string> log;
};

// Reference §4: the guest's transmit chains are drained first (bounded per tick), then frames
// go to the guest; the same inputs give the same sequence of backend calls, tick by tick.
TEST(VirtioPumpOrder, TransmitChainsFirstThenReceiveAndTheSameEveryRun) {
  auto run = [](std::vector<std::string>& log, std::vector<Bytes>& guest_got) {
    RecordingBackend backend;
    NicPump pump(backend, {.tx_frame_budget = 256, .rx_frame_budget = 2, .max_polls = 4});
    NetHarness h(pump.nic_port());
    ASSERT_TRUE(h.bring_up(0));
    h.post_rx(2);
    VirtioNetPumpedNic nic(h.dev, 3);
    for (std::uint8_t i = 0; i < 5; ++i) post_tx(h, guest_frame(60 + i, i));
    doorbell(h);
    for (std::uint8_t i = 0; i < 4; ++i) backend.pending.push_back(host_frame(200 + i, i));
    for (int tick = 0; tick < 3; ++tick) {
      backend.log.push_back("tick");
      pump.tick(nic, h.clock.now());
      for (Bytes& f : guest_receive(h)) guest_got.push_back(std::move(f));
      h.reclaim_tx();
      h.post_rx(1);
    }
    log = backend.log;
  };
  std::vector<std::string> log1, log2;
  std::vector<Bytes> got1, got2;
  run(log1, got1);
  run(log2, got2);
  const std::vector<std::string> expected{
      // Tick 1: three chains (the budget), then two frames (the RX budget).
      "tick", "service", "tx 60", "tx 61", "tx 62", "peek 200", "pop", "peek 201", "pop",
      // Tick 2: the last two chains, then one frame (one buffer posted) and a hold.
      "tick", "service", "tx 63", "tx 64", "peek 202", "pop", "peek 203",
      // Tick 3: the held frame again, first.
      "tick", "service", "peek 203", "pop", "peek none"};
  EXPECT_EQ(log1, expected);
  EXPECT_EQ(log1, log2);
  ASSERT_EQ(got1.size(), 4U);
  for (std::uint8_t i = 0; i < 4; ++i) EXPECT_EQ(got1[i], host_frame(200 + i, i));
  EXPECT_EQ(got1, got2);
}

TEST(VirtioPumpBudget, ChainsPerTickStopFurtherPollsAndKeepOrder) {
  QueueRig rig({.tx_frame_budget = 1000, .rx_frame_budget = 256, .max_polls = 10}, 8);
  ASSERT_TRUE(rig.h.bring_up(0));
  for (std::uint8_t i = 0; i < 20; ++i) post_tx(rig.h, guest_frame(64 + i, i));
  doorbell(rig.h);
  PumpTickResult r = rig.tick();
  EXPECT_EQ(r.polls, 1U);
  EXPECT_EQ(r.tx_frames, 8U);
  EXPECT_EQ(rig.nic.chains_this_tick(), 8U);
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
  EXPECT_FALSE(r.next_deadline);
  EXPECT_EQ(rig.pump.counters().tx_frames, 20U);
  for (std::uint8_t i = 0; i < 20; ++i) EXPECT_EQ(take_tx(rig.backend), guest_frame(64 + i, i));
  EXPECT_EQ(rig.h.reclaim_tx(), 20U);
}

// The pump's frame budget counts frames, so a TSO chain cut into segments uses one chain of
// the adapter's budget and as many frames as segments; they leave in order, checksummed.
TEST(VirtioPumpBudget, TsoSegmentsCountAsFrames) {
  QueueRig rig({.tx_frame_budget = 2, .rx_frame_budget = 256, .max_polls = 4});
  ASSERT_TRUE(rig.h.bring_up(vn::kCsum | vn::kHostTso4));
  NetHeader tso;
  tso.flags = vn::kHdrNeedsCsum;
  tso.gso_type = vn::kGsoTcpv4;
  tso.gso_size = 1400;
  tso.hdr_len = 54;
  tso.csum_start = 34;
  tso.csum_offset = 16;
  ASSERT_TRUE(rig.h.queue_tx(tcp_frame(false, 4000, 1000, true), tso));
  post_tx(rig.h, guest_frame(70, 1));
  doorbell(rig.h);
  PumpTickResult r = rig.tick();
  EXPECT_EQ(r.polls, 1U);
  EXPECT_EQ(r.tx_frames, 4U);  // one poll took both chains: three segments and a frame
  EXPECT_EQ(rig.nic.chains_this_tick(), 2U);
  EXPECT_EQ(rig.h.dev.counters().tx_gso_segments, 3U);
  std::vector<std::size_t> sizes;
  for (int i = 0; i < 3; ++i) {
    const Bytes seg = take_tx(rig.backend);
    EXPECT_TRUE(tcp_checksums_ok(seg));
    sizes.push_back(seg.size());
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{54 + 1400, 54 + 1400, 54 + 1200}));
  EXPECT_EQ(take_tx(rig.backend), guest_frame(70, 1));
}

TEST(VirtioPumpBudget, ZeroBudgetsLeaveNicAndBackendUntouched) {
  QueueRig rig({.tx_frame_budget = 0, .rx_frame_budget = 0, .max_polls = 4});
  ASSERT_TRUE(rig.h.bring_up(0));
  rig.h.post_rx(4);
  post_tx(rig.h, guest_frame(64, 1));
  doorbell(rig.h);
  ASSERT_EQ(rig.backend.push_rx(host_frame(100, 2)), QueueRefusal::none);
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.polls, 0U);
  EXPECT_EQ(r.tx_frames, 0U);
  EXPECT_EQ(r.rx_frames, 0U);
  EXPECT_EQ(rig.h.reclaim_tx(), 0U);
  EXPECT_EQ(rig.backend.rx_queue().frames(), 1U);
  EXPECT_FALSE(rig.backend.tx_peek());
  EXPECT_EQ(rig.h.dev.counters().tx_frames + rig.h.dev.counters().rx_frames, 0U);
}

TEST(VirtioPumpBudget, IdleDeviceIsNotPolled) {
  QueueRig rig;
  ASSERT_TRUE(rig.h.bring_up(0));
  PumpTickResult r = rig.tick();  // DRIVER_OK asks for one look at the queues
  r = rig.tick();
  EXPECT_EQ(r.polls, 0U);
  EXPECT_FALSE(r.next_deadline);
}

// Frames that arrive before the driver is ready are dropped by the device, counted by it and
// by the pump, and consumed: a device that is not running must not stall the backend.
TEST(VirtioPumpBudget, FramesBeforeDriverOkAreCountedDrops) {
  QueueRig rig;
  ASSERT_EQ(rig.backend.push_rx(host_frame(100, 1)), QueueRefusal::none);
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.rx_dropped, 1U);
  EXPECT_EQ(rig.h.dev.counters().rx_not_ready, 1U);
  EXPECT_EQ(rig.pump.counters().rx_dropped, 1U);
  EXPECT_EQ(rig.backend.rx_queue().frames(), 0U);
}

// A real clock moves between the tick's time and the device's own reading; the adapter
// reports waiting work as due at the tick's time so the pump still polls.
TEST(VirtioPumpBudget, WorkIsDueAtTheTicksTimeEvenWhenTheClockMoved) {
  QueueRig rig;
  ASSERT_TRUE(rig.h.bring_up(0));
  post_tx(rig.h, guest_frame(64, 1));
  doorbell(rig.h);
  const aero::Instant tick_time = rig.h.clock.now();
  rig.h.clock.advance(std::chrono::microseconds(5));  // the device's clock is ahead
  const PumpTickResult r = rig.pump.tick(rig.nic, tick_time);
  EXPECT_EQ(r.tx_frames, 1U);
}

// ---- With the AIPC ring backend --------------------------------------------------------------

struct IpcRig {
  explicit IpcRig(std::uint32_t tx_capacity, unsigned chains_per_tick = 256,
                  AipcRingBackendConfig backend_config = {})
      : specs{{aipc::queue_kind::net_tx, tx_capacity}, {aipc::queue_kind::net_rx, 65536}},
        words(*aipc::buffer_size(specs) / 4),
        formatted(aipc::format_buffer(span(), specs).ok()),
        backend(*AipcRingBackend::open(span(), backend_config)),
        pump(backend),
        h(pump.nic_port()),
        nic(h.dev, chains_per_tick),
        worker_tx(worker(aipc::queue_kind::net_tx)),
        worker_rx(worker(aipc::queue_kind::net_rx)) {}
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
      out.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.length));
    }
    return out;
  }
  PumpTickResult tick() { return pump.tick(nic, h.clock.now()); }

  std::vector<aipc::QueueSpec> specs;
  std::vector<std::uint32_t> words;
  bool formatted;
  AipcRingBackend backend;
  NicPump pump;
  NetHarness h;
  VirtioNetPumpedNic nic;
  aipc::AipcRing worker_tx;
  aipc::AipcRing worker_rx;
};

class VirtioPumpRing : public ::testing::TestWithParam<RingKind> {};

TEST_P(VirtioPumpRing, FramesCrossTheRingsBothWays) {
  IpcRig rig(65536);
  ASSERT_TRUE(rig.formatted);
  ASSERT_TRUE(rig.h.bring_up(GetParam().features, GetParam().ring));
  rig.h.post_rx(8);
  for (std::uint8_t i = 0; i < 3; ++i) {
    ASSERT_EQ(rig.worker_rx.try_push(host_frame(200 + i, i)), aipc::PushStatus::ok);
  }
  post_tx(rig.h, guest_frame(90, 5));
  post_tx(rig.h, guest_frame(91, 6));
  doorbell(rig.h);
  const PumpTickResult r = rig.tick();
  EXPECT_EQ(r.tx_frames, 2U);
  EXPECT_EQ(r.rx_frames, 3U);
  EXPECT_EQ(rig.drain_tx(), (std::vector<Bytes>{guest_frame(90, 5), guest_frame(91, 6)}));
  EXPECT_EQ(guest_receive(rig.h),
            (std::vector<Bytes>{host_frame(200, 0), host_frame(201, 1), host_frame(202, 2)}));
  EXPECT_EQ(rig.backend.counters().tx_frames, 2U);
  EXPECT_EQ(rig.backend.counters().rx_frames, 3U);
}

// Five NET_RX frames, two receive buffers at a time: the frame the device holds stays staged
// in the backend and comes first on the next tick.
TEST_P(VirtioPumpRing, NetRxFramesWaitWhileTheGuestHasNoBuffers) {
  IpcRig rig(65536);
  ASSERT_TRUE(rig.h.bring_up(GetParam().features, GetParam().ring, 8));
  rig.h.post_rx(2);
  for (std::uint8_t i = 0; i < 5; ++i) {
    ASSERT_EQ(rig.worker_rx.try_push(host_frame(100, i)), aipc::PushStatus::ok);
  }
  std::vector<Bytes> got;
  for (int tick = 0; tick < 10 && got.size() < 5; ++tick) {
    rig.tick();
    for (Bytes& f : guest_receive(rig.h)) got.push_back(std::move(f));
    rig.h.post_rx(2);
  }
  ASSERT_EQ(got.size(), 5U);
  for (std::uint8_t i = 0; i < 5; ++i) EXPECT_EQ(got[i], host_frame(100, i));
  EXPECT_EQ(rig.backend.counters().rx_frames, 5U);
  EXPECT_GE(rig.h.dev.counters().rx_hold, 1U);
  EXPECT_EQ(rig.pump.counters().rx_dropped, 0U);
}

INSTANTIATE_TEST_SUITE_P(Rings, VirtioPumpRing, ::testing::ValuesIn(kRingKinds),
                         [](const auto& kind) { return std::string(kind.param.name); });

// NET_TX holds two 1500-byte frames; the guest sends twelve. Nothing is lost: the backend
// holds what the ring cannot take, the pump stops polling while congested, and the guest's
// chains wait in transmitq1 until the worker drains NET_TX.
TEST(VirtioPumpRingTx, FullNetTxIsBackPressureNotLoss) {
  IpcRig rig(4096, 4);
  ASSERT_TRUE(rig.h.bring_up(0));
  for (std::uint8_t i = 0; i < 12; ++i) post_tx(rig.h, guest_frame(1500, i));
  doorbell(rig.h);
  PumpTickResult r = rig.tick();
  EXPECT_EQ(r.polls, 1U);
  EXPECT_EQ(r.tx_frames, 4U);
  EXPECT_EQ(rig.backend.counters().tx_held, 2U);
  EXPECT_TRUE(r.tx_deferred);
  std::vector<Bytes> received;
  for (int tick = 0; tick < 50 && received.size() < 12; ++tick) {
    for (Bytes& f : rig.drain_tx()) received.push_back(std::move(f));
    r = rig.tick();
  }
  for (Bytes& f : rig.drain_tx()) received.push_back(std::move(f));
  ASSERT_EQ(received.size(), 12U);
  for (std::uint8_t i = 0; i < 12; ++i) EXPECT_EQ(received[i], guest_frame(1500, i));
  EXPECT_EQ(rig.backend.counters().tx_refused_hold_full, 0U);
  EXPECT_EQ(rig.h.dev.counters().tx_backend_refused, 0U);
  EXPECT_EQ(rig.pump.counters().tx_refused, 0U);
  EXPECT_EQ(rig.h.reclaim_tx(), 12U);
}

}  // namespace
