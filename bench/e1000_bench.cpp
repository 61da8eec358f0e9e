// E1000 micro-benchmarks: transmit and receive frames per second at 64 and 1514 bytes, and a
// 64 KiB TSO send, through the full descriptor path with flat guest memory.
#include <benchmark/benchmark.h>

#include <cstring>

#include "aero/base/clock.h"
#include "aero/devices/e1000.h"

namespace {

using namespace aero::devices;         // NOLINT
using namespace aero::devices::e1000;  // NOLINT

struct NullIrq final : InterruptLine {
  void set_level(bool) override {}
};
struct SinkPort final : FramePort {
  std::uint64_t bytes = 0;
  bool transmit(aero::ByteSpan frame) override {
    bytes += frame.size();
    return true;
  }
};

constexpr std::uint32_t kRing = 256;
constexpr std::uint64_t kTxRing = 0x10000, kRxRing = 0x20000, kData = 0x100000;

struct Rig {
  VectorGuestMemory mem{4U << 20};
  aero::ManualClock clock;
  NullIrq irq;
  SinkPort port;
  E1000 nic{mem, irq, port, clock};
  Rig() {
    nic.config_write(0x04, 2, kPciCommandMemory | kPciCommandBusMaster);
    nic.mmio_write(TDBAL, 4, static_cast<std::uint32_t>(kTxRing));
    nic.mmio_write(TDLEN, 4, kRing * 16);
    nic.mmio_write(TCTL, 4, TCTL_EN | TCTL_PSP);
    nic.mmio_write(RDBAL, 4, static_cast<std::uint32_t>(kRxRing));
    nic.mmio_write(RDLEN, 4, kRing * 16);
    for (std::uint32_t i = 0; i < kRing; ++i) {
      const std::uint64_t buffer = kData + std::uint64_t{i} * 2048;
      std::memcpy(mem.bytes().data() + kRxRing + 16 * i, &buffer, 8);
    }
    nic.mmio_write(RDT, 4, kRing - 1);
    nic.mmio_write(RCTL, 4, RCTL_EN | RCTL_BAM | RCTL_SECRC);
  }
  std::uint8_t* desc(std::uint64_t ring, std::uint32_t i) {
    return mem.bytes().data() + ring + 16 * i;
  }
};

void BM_Transmit(benchmark::State& state) {
  Rig rig;
  const auto size = static_cast<std::uint16_t>(state.range(0));
  for (std::uint32_t i = 0; i < kRing; ++i) {
    std::uint8_t* d = rig.desc(kTxRing, i);
    const std::uint64_t addr = 0x300000;
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &size, 2);
    d[11] = TXD_CMD_EOP | TXD_CMD_RS;
  }
  std::uint32_t tail = 0;
  for (auto _ : state) {
    tail = (tail + 1) % kRing;
    rig.nic.mmio_write(TDT, 4, tail);
    rig.nic.poll(rig.clock.now());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * size);
}
BENCHMARK(BM_Transmit)->Arg(64)->Arg(1514);

void BM_Receive(benchmark::State& state) {
  Rig rig;
  std::vector<std::uint8_t> frame(static_cast<std::size_t>(state.range(0)), 0x5A);
  const auto mac = rig.nic.mac();
  std::memcpy(frame.data(), mac.data(), 6);
  std::uint32_t next = 0;
  for (auto _ : state) {
    if (rig.nic.receive(frame) != RxResult::accepted) state.SkipWithError("not accepted");
    // Recycle the descriptor as a driver would.
    rig.desc(kRxRing, next)[12] = 0;
    rig.nic.mmio_write(RDT, 4, next);
    next = (next + 1) % kRing;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Receive)->Arg(64)->Arg(1514);

void BM_Tso64KiB(benchmark::State& state) {
  Rig rig;
  constexpr std::uint32_t kPayload = 65536, kHeader = 54;
  std::uint8_t* pkt = rig.mem.bytes().data() + 0x300000;
  std::memset(pkt, 0, kHeader);
  pkt[12] = 0x08;
  pkt[14] = 0x45;
  pkt[23] = 6;
  pkt[46] = 0x50;
  // Context descriptor then one data descriptor per send; reuse two ring slots per iteration.
  std::uint32_t tail = 0;
  for (auto _ : state) {
    std::uint8_t* c = rig.desc(kTxRing, tail);
    std::memset(c, 0, 16);
    c[0] = 14;
    c[1] = 24;
    c[2] = 33;
    c[4] = 34;
    c[5] = 50;
    const std::uint32_t dw2 = kPayload | (std::uint32_t{TXD_TUCMD_IP | TXD_TUCMD_TCP |
                                                        TXD_CMD_TSE | TXD_CMD_DEXT} << 24);
    std::memcpy(c + 8, &dw2, 4);
    c[13] = kHeader;
    c[14] = 0xA8;  // MSS 1448
    c[15] = 0x05;
    tail = (tail + 1) % kRing;
    std::uint8_t* d = rig.desc(kTxRing, tail);
    const std::uint64_t addr = 0x300000;
    std::memcpy(d, &addr, 8);
    const std::uint32_t ddw2 = (kPayload + kHeader) | (1U << 20) |
                               (std::uint32_t{TXD_CMD_DEXT | TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS} << 24);
    std::memcpy(d + 8, &ddw2, 4);
    d[12] = 0;
    d[13] = TXD_POPTS_IXSM | TXD_POPTS_TXSM;
    tail = (tail + 1) % kRing;
    rig.nic.mmio_write(TDT, 4, tail);
    rig.nic.poll(rig.clock.now());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * kPayload);
}
BENCHMARK(BM_Tso64KiB);

}  // namespace
BENCHMARK_MAIN();
