// virtio-net micro-benchmarks: frames per second through the device model with flat guest
// memory and a minimal driver that re-posts prepared descriptors (split or packed ring), for
// transmit and receive, with and without TSO (segmented by the device, or handed whole to an
// offload-capable backend) and MRG_RXBUF; and the cost of one virtqueue operation (take a
// chain, complete it, publish).
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <vector>

#include "aero/base/clock.h"
#include "aero/devices/virtio_net.h"

namespace {

using namespace aero::devices;          // NOLINT
using namespace aero::devices::virtio;  // NOLINT
namespace vn = aero::devices::virtio_net;

struct NullIrq final : InterruptLine {
  void set_level(bool) override {}
  void signal_msix(std::uint16_t, std::uint64_t, std::uint32_t) override {}
};
struct SinkPort final : FramePort {
  std::uint64_t frames = 0, bytes = 0;
  bool transmit(aero::ByteSpan frame) override {
    ++frames;
    bytes += frame.size();
    return true;
  }
};
struct SinkOffloadPort final : OffloadFramePort {
  std::uint64_t frames = 0;
  OffloadCaps offload_caps() const override { return {true, true, true, 65600}; }
  bool transmit_offloaded(aero::ByteSpan, const FrameOffload&) override {
    ++frames;
    return true;
  }
};

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put64(std::uint8_t* p, std::uint64_t v) {
  put32(p, static_cast<std::uint32_t>(v));
  put32(p + 4, static_cast<std::uint32_t>(v >> 32));
}

constexpr std::uint16_t kQueue = 256;
constexpr std::uint64_t kRing[2] = {0x10000, 0x30000};
constexpr std::uint64_t kRxData = 0x100000;
constexpr std::uint64_t kTxData = 0x2000000;
constexpr std::uint64_t kTxSlot = 0x11000;
constexpr unsigned kBatch = 32;
constexpr std::int64_t kTsoPayload = 65535 - 40;  // the largest IPv4 packet

// A driver that posts the same prepared buffers again and again.
class Rig {
 public:
  Rig(std::uint64_t features, bool packed, std::uint32_t rx_buffer)
      : mem_(std::make_unique<VectorGuestMemory>(std::size_t{kTxData + kTxSlot * kQueue})),
        dev_(std::make_unique<VirtioNet>(*mem_, irq_, port_, clock_)),
        packed_(packed),
        rx_buffer_(rx_buffer) {
    VirtioNet& d = *dev_;
    d.config_write(0x04, 2, kPciCommandMemory | kPciCommandBusMaster);
    d.mmio_write(0x14, 1, kStatusAcknowledge | kStatusDriver);
    features |= kFeatureVersion1 | (packed ? kFeatureRingPacked : 0);
    d.mmio_write(0x08, 4, 0);
    d.mmio_write(0x0C, 4, features & 0xFFFFFFFF);
    d.mmio_write(0x08, 4, 1);
    d.mmio_write(0x0C, 4, features >> 32);
    d.mmio_write(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    for (std::uint16_t q = 0; q < 2; ++q) {
      d.mmio_write(0x16, 2, q);
      d.mmio_write(0x20, 8, kRing[q]);
      d.mmio_write(0x28, 8, kRing[q] + 16 * kQueue);
      d.mmio_write(0x30, 8, kRing[q] + 0x8000);
      d.mmio_write(0x1C, 2, 1);
    }
    d.mmio_write(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    d.poll(0);
  }

  VirtioNet& dev() { return *dev_; }
  SinkPort& port() { return port_; }
  std::uint8_t* at(std::uint64_t gpa) { return mem_->bytes().data() + gpa; }

  // Prepares every TX buffer with `header` followed by `frame`.
  void prepare_tx(const std::vector<std::uint8_t>& header, const std::vector<std::uint8_t>& frame) {
    tx_len_ = static_cast<std::uint32_t>(header.size() + frame.size());
    for (std::uint16_t i = 0; i < kQueue; ++i) {
      std::memcpy(at(kTxData + kTxSlot * i), header.data(), header.size());
      std::memcpy(at(kTxData + kTxSlot * i + header.size()), frame.data(), frame.size());
    }
  }
  void post_tx() { post(1, kTxData + kTxSlot * (cursor_[1] % kQueue), tx_len_, 0); }
  void post_rx() { post(0, kRxData + std::uint64_t{rx_buffer_} * (cursor_[0] % kQueue), rx_buffer_, kDescWrite); }
  void kick_tx() { dev_->mmio_write(kNotifyOffset + 4, 2, 1); }

 private:
  // One buffer, one descriptor. Split: descriptor + available ring entry + index. Packed: the
  // descriptor with the flags of the driver's wrap counter.
  void post(std::uint16_t q, std::uint64_t addr, std::uint32_t len, std::uint16_t flags) {
    std::uint32_t& c = cursor_[q];
    const std::uint16_t slot = static_cast<std::uint16_t>(c % kQueue);
    std::uint8_t* d = at(kRing[q] + 16ULL * slot);
    put64(d, addr);
    put32(d + 8, len);
    if (packed_) {
      const bool wrap = ((c / kQueue) & 1U) == 0;
      put16(d + 12, slot);
      put16(d + 14, static_cast<std::uint16_t>(flags | (wrap ? kPackedDescAvail : kPackedDescUsed)));
    } else {
      put16(d + 12, flags);
      put16(d + 14, 0);
      const std::uint64_t avail = kRing[q] + 16 * kQueue;
      put16(at(avail + 4 + 2ULL * slot), slot);
      put16(at(avail + 2), static_cast<std::uint16_t>(c + 1));
    }
    ++c;
  }

  NullIrq irq_;
  SinkPort port_;
  aero::ManualClock clock_;
  std::unique_ptr<VectorGuestMemory> mem_;
  std::unique_ptr<VirtioNet> dev_;
  bool packed_;
  std::uint32_t rx_buffer_;
  std::uint32_t tx_len_ = 0;
  std::uint32_t cursor_[2] = {0, 0};
};

std::vector<std::uint8_t> frame_of(std::size_t size) {
  std::vector<std::uint8_t> f(size, 0x5A);
  const std::uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};
  std::memcpy(f.data(), mac, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}

// An Ethernet + IPv4 + TCP frame with `payload` bytes (checksum field holds any seed).
std::vector<std::uint8_t> tcp_frame(std::size_t payload) {
  std::vector<std::uint8_t> f = frame_of(54 + payload);
  std::uint8_t* ip = f.data() + 14;
  std::memset(ip, 0, 40);
  ip[0] = 0x45;
  put16(ip + 2, 0);  // the device rewrites lengths per segment
  ip[8] = 64;
  ip[9] = 6;
  ip[12] = 10;
  ip[15] = 15;
  ip[16] = 10;
  ip[19] = 2;
  ip[20 + 12] = 0x50;
  ip[20 + 13] = 0x18;
  return f;
}

std::vector<std::uint8_t> header(std::uint8_t flags = 0, std::uint8_t gso = 0, std::uint16_t mss = 0) {
  std::vector<std::uint8_t> h(12, 0);
  h[0] = flags;
  h[1] = gso;
  put16(&h[2], 54);
  put16(&h[4], mss);
  put16(&h[6], 34);
  put16(&h[8], 16);
  return h;
}

void BM_Transmit(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Rig rig(vn::kMac, state.range(1) != 0, 2048);
  rig.prepare_tx(header(), frame_of(size));
  for (auto _ : state) {
    for (unsigned i = 0; i < kBatch; ++i) rig.post_tx();
    rig.kick_tx();
    rig.dev().poll(kBatch);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kBatch);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * kBatch * state.range(0));
  if (rig.port().frames != static_cast<std::uint64_t>(state.iterations()) * kBatch) state.SkipWithError("frames lost");
}
BENCHMARK(BM_Transmit)->ArgNames({"bytes", "packed"})->Args({64, 0})->Args({1514, 0})->Args({64, 1})->Args({1514, 1});

// A 64 KiB TSO frame (65,495 bytes of TCP payload, MSS 1448): segmented by the device (46
// segments with checksums), or handed whole to an offload-capable backend.
void BM_TransmitTso64KiB(benchmark::State& state) {
  const bool offload = state.range(0) != 0;
  Rig rig(vn::kMac | vn::kCsum | vn::kHostTso4, false, 2048);
  SinkOffloadPort offload_port;
  if (offload) rig.dev().set_offload_port(&offload_port);
  rig.prepare_tx(header(vn::kHdrNeedsCsum, vn::kGsoTcpv4, 1448), tcp_frame(static_cast<std::size_t>(kTsoPayload)));
  for (auto _ : state) {
    rig.post_tx();
    rig.kick_tx();
    rig.dev().poll(1);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * kTsoPayload);
  if (rig.port().frames + offload_port.frames == 0) state.SkipWithError("nothing sent");
}
BENCHMARK(BM_TransmitTso64KiB)->ArgNames({"offload_port"})->Arg(0)->Arg(1);

void BM_Receive(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const bool packed = state.range(1) != 0, mrg = state.range(2) != 0;
  // Without MRG_RXBUF a buffer holds a whole frame (1526 bytes); with it, 2 KiB buffers.
  Rig rig(vn::kMac | (mrg ? vn::kMrgRxbuf : 0), packed, mrg ? 2048 : 1526);
  const std::vector<std::uint8_t> frame = frame_of(size);
  for (auto _ : state) {
    for (unsigned i = 0; i < kBatch; ++i) rig.post_rx();
    for (unsigned i = 0; i < kBatch; ++i) {
      if (rig.dev().receive(frame) != RxResult::accepted) state.SkipWithError("not accepted");
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kBatch);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * kBatch * state.range(0));
}
BENCHMARK(BM_Receive)
    ->ArgNames({"bytes", "packed", "mrg"})
    ->Args({64, 0, 0})
    ->Args({1514, 0, 0})
    ->Args({64, 1, 0})
    ->Args({1514, 1, 0})
    ->Args({1514, 0, 1})
    ->Args({1514, 1, 1});

// A 64 KiB TCP frame from the backend: whole into 4 KiB MRG_RXBUF buffers for a guest with
// GUEST_TSO4, or segmented by the device (46 frames) for a guest without it.
void BM_ReceiveGso64KiB(benchmark::State& state) {
  const bool guest_tso = state.range(0) != 0;
  const std::uint64_t features = vn::kMac | vn::kMrgRxbuf |
                                 (guest_tso ? vn::kGuestCsum | vn::kGuestTso4 : 0);
  Rig rig(features, false, 4096);
  std::vector<std::uint8_t> frame = tcp_frame(static_cast<std::size_t>(kTsoPayload));
  put16(frame.data() + 16, static_cast<std::uint16_t>(frame.size() - 14));
  FrameOffload offload;
  offload.needs_csum = true;
  offload.csum_start = 34;
  offload.csum_offset = 16;
  offload.gso = GsoType::tcpv4;
  offload.gso_size = 1448;
  const unsigned buffers = guest_tso ? 17 : 46;
  for (auto _ : state) {
    for (unsigned i = 0; i < buffers; ++i) rig.post_rx();
    if (rig.dev().receive(frame, offload) != RxResult::accepted) state.SkipWithError("not accepted");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(BM_ReceiveGso64KiB)->ArgNames({"guest_tso"})->Arg(0)->Arg(1);

// One virtqueue operation: take a one-descriptor chain, complete it, publish (no device).
void BM_VirtqueueOperation(benchmark::State& state) {
  const bool packed = state.range(0) != 0;
  VectorGuestMemory mem(1U << 20);
  Virtqueue q;
  Virtqueue::Setup setup;
  setup.format = packed ? Virtqueue::Format::packed : Virtqueue::Format::split;
  setup.size = kQueue;
  setup.desc = 0x10000;
  setup.driver = 0x10000 + 16 * kQueue;
  setup.device = 0x18000;
  if (!q.start(mem, setup)) state.SkipWithError("setup");
  std::uint32_t cursor = 0;
  for (auto _ : state) {
    const std::uint16_t slot = static_cast<std::uint16_t>(cursor % kQueue);
    std::uint8_t* d = mem.bytes().data() + setup.desc + 16ULL * slot;
    put64(d, 0x40000);
    put32(d + 8, 1514);
    if (packed) {
      const bool wrap = ((cursor / kQueue) & 1U) == 0;
      put16(d + 12, slot);
      put16(d + 14, wrap ? kPackedDescAvail : kPackedDescUsed);
    } else {
      put16(d + 12, 0);
      put16(mem.bytes().data() + setup.driver + 4 + 2ULL * slot, slot);
      put16(mem.bytes().data() + setup.driver + 2, static_cast<std::uint16_t>(cursor + 1));
    }
    ++cursor;
    q.release();
    DescriptorChain chain;
    if (q.pop(chain) != PopResult::chain) state.SkipWithError("pop");
    bool notify = false;
    if (!q.push(chain, 0) || !q.publish(notify)) state.SkipWithError("push");
    benchmark::DoNotOptimize(notify);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_VirtqueueOperation)->ArgNames({"packed"})->Arg(0)->Arg(1);

}  // namespace
BENCHMARK_MAIN();
