// AIPC ring micro-benchmarks: nanoseconds per push and per pop of 64- and 1514-byte frames on
// one thread (the cost of the ring code and the copy), a push/pop pair through the NET rings
// backend, and a frame-queue push/pop pair for comparison.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "aero/devices/aipc_ring.h"
#include "aero/devices/backends.h"
#include "aero/devices/frame_queue.h"

namespace {

namespace aipc = aero::devices::aipc;

struct RingMemory {
  explicit RingMemory(std::uint32_t capacity)
      : words((aipc::kRingHeaderBytes + capacity) / 4),
        ring(*aipc::AipcRing::format(span(), capacity)) {}
  std::span<std::uint8_t> span() {
    return {reinterpret_cast<std::uint8_t*>(words.data()), words.size() * 4};  // NOLINT
  }
  std::vector<std::uint32_t> words;
  aipc::AipcRing ring;
};

// Pushes until full, then pops until empty, timing each half separately; reports ns per
// operation through the items counter.
void BM_RingPush(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  RingMemory m(aipc::kNetRingCapacity);
  const std::vector<std::uint8_t> frame(size, 0x5A);
  std::vector<std::uint8_t> out(2048);
  std::int64_t pushes = 0;
  for (auto _ : state) {
    if (m.ring.try_push(frame) != aipc::PushStatus::ok) {
      state.PauseTiming();
      while (m.ring.try_pop(out).status == aipc::PopStatus::ok) {
      }
      state.ResumeTiming();
      benchmark::DoNotOptimize(m.ring.try_push(frame));
    }
    ++pushes;
  }
  state.SetItemsProcessed(pushes);
  state.SetBytesProcessed(pushes * static_cast<std::int64_t>(size));
}
BENCHMARK(BM_RingPush)->Arg(64)->Arg(1514);

void BM_RingPop(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  RingMemory m(aipc::kNetRingCapacity);
  const std::vector<std::uint8_t> frame(size, 0x5A);
  std::vector<std::uint8_t> out(2048);
  std::int64_t pops = 0;
  for (auto _ : state) {
    aipc::PopResult r = m.ring.try_pop(out);
    if (r.status != aipc::PopStatus::ok) {
      state.PauseTiming();
      while (m.ring.try_push(frame) == aipc::PushStatus::ok) {
      }
      state.ResumeTiming();
      r = m.ring.try_pop(out);
    }
    benchmark::DoNotOptimize(r);
    ++pops;
  }
  state.SetItemsProcessed(pops);
  state.SetBytesProcessed(pops * static_cast<std::int64_t>(size));
}
BENCHMARK(BM_RingPop)->Arg(64)->Arg(1514);

// One push and one pop per iteration (the ring never fills): the steady-state round trip.
void BM_RingPushPop(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  RingMemory m(aipc::kNetRingCapacity);
  const std::vector<std::uint8_t> frame(size, 0x5A);
  std::vector<std::uint8_t> out(2048);
  for (auto _ : state) {
    benchmark::DoNotOptimize(m.ring.try_push(frame));
    benchmark::DoNotOptimize(m.ring.try_pop(out));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}
BENCHMARK(BM_RingPushPop)->Arg(64)->Arg(1514);

// NIC -> NET_TX through the backend, and NET_RX -> NIC (peek + pop) through the backend.
void BM_RingBackendRoundTrip(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const aipc::QueueSpec specs[] = {{aipc::queue_kind::net_tx, aipc::kNetRingCapacity},
                                   {aipc::queue_kind::net_rx, aipc::kNetRingCapacity}};
  std::vector<std::uint32_t> words(*aipc::buffer_size(specs) / 4);
  std::span<std::uint8_t> buffer(reinterpret_cast<std::uint8_t*>(words.data()),  // NOLINT
                                 words.size() * 4);
  (void)aipc::format_buffer(buffer, specs);
  auto backend = *aero::devices::AipcRingBackend::open(buffer);
  const auto tx = *aipc::find_queue(buffer, aipc::queue_kind::net_tx);
  const auto rx = *aipc::find_queue(buffer, aipc::queue_kind::net_rx);
  auto worker_tx = *aipc::AipcRing::attach(buffer.subspan(tx.offset_bytes, 16 + tx.capacity_bytes));
  auto worker_rx = *aipc::AipcRing::attach(buffer.subspan(rx.offset_bytes, 16 + rx.capacity_bytes));
  const std::vector<std::uint8_t> frame(size, 0x5A);
  std::vector<std::uint8_t> out(2048);
  for (auto _ : state) {
    benchmark::DoNotOptimize(backend.transmit(frame));
    benchmark::DoNotOptimize(worker_tx.try_pop(out));
    benchmark::DoNotOptimize(worker_rx.try_push(frame));
    benchmark::DoNotOptimize(backend.rx_peek());
    backend.rx_pop();
  }
  state.SetItemsProcessed(state.iterations() * 2);  // frames: one each way
}
BENCHMARK(BM_RingBackendRoundTrip)->Arg(64)->Arg(1514);

void BM_FrameQueuePushPop(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  aero::devices::FrameQueue q;
  const std::vector<std::uint8_t> frame(size, 0x5A);
  for (auto _ : state) {
    benchmark::DoNotOptimize(q.push(frame));
    benchmark::DoNotOptimize(q.front());
    q.pop();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FrameQueuePushPop)->Arg(64)->Arg(1514);

}  // namespace

BENCHMARK_MAIN();
