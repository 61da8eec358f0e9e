// C API of the backends, the AIPC ring and the pump: layout, ring push/pop codes, queue
// backend refusals and stats, and an E1000 created through its C API pumped through a queue
// backend and through the NET rings.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "aero/devices/backends_c.h"
#include "aero/devices/e1000_c.h"
#include "aero/devices/e1000_regs.h"
#include "devices/c_api_guest_memory.h"

namespace {

using namespace aero::devices::e1000;  // NOLINT

struct Aligned {
  explicit Aligned(std::size_t bytes) : words((bytes + 3) / 4), size(bytes) {}
  std::uint8_t* data() { return reinterpret_cast<std::uint8_t*>(words.data()); }  // NOLINT
  std::vector<std::uint32_t> words;
  std::size_t size;
};

std::vector<std::uint8_t> frame(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> f(n);
  for (std::size_t i = 0; i < n; ++i) f[i] = static_cast<std::uint8_t>(seed + i);
  std::memset(f.data(), 0xFF, 6);  // broadcast
  return f;
}

TEST(BackendsCApi, AipcLayoutAndRing) {
  const aero_aipc_queue_spec specs[] = {{AERO_AIPC_KIND_NET_TX, 256}, {AERO_AIPC_KIND_NET_RX, 512}};
  const size_t size = aero_aipc_buffer_size(specs, 2);
  EXPECT_EQ(size, 16U + 32 + 16 + 256 + 16 + 512);
  const aero_aipc_queue_spec bad[] = {{0, 5}};
  EXPECT_EQ(aero_aipc_buffer_size(bad, 1), 0U);
  Aligned buf(size);
  EXPECT_EQ(aero_aipc_buffer_format(buf.data(), size - 1, specs, 2), 0);
  ASSERT_EQ(aero_aipc_buffer_format(buf.data(), size, specs, 2), 1);
  uint32_t offset = 0, capacity = 0;
  ASSERT_EQ(aero_aipc_buffer_find_queue(buf.data(), size, AERO_AIPC_KIND_NET_RX, 0, &offset,
                                        &capacity), 1);
  EXPECT_EQ(offset, 48U + 16 + 256);
  EXPECT_EQ(capacity, 512U);
  EXPECT_EQ(aero_aipc_buffer_find_queue(buf.data(), size, 9, 0, &offset, &capacity), 0);

  aero_aipc_ring* producer = aero_aipc_ring_attach(buf.data() + offset, 16 + capacity);
  aero_aipc_ring* consumer = aero_aipc_ring_attach(buf.data() + offset, 16 + capacity);
  ASSERT_NE(producer, nullptr);
  EXPECT_EQ(aero_aipc_ring_capacity(producer), 512U);
  const auto f = frame(100, 1);
  EXPECT_EQ(aero_aipc_ring_push(producer, f.data(), f.size()), AERO_AIPC_PUSH_OK);
  EXPECT_EQ(aero_aipc_ring_used_bytes(consumer), 104U);
  const auto big = frame(509, 2);
  EXPECT_EQ(aero_aipc_ring_push(producer, big.data(), big.size()), AERO_AIPC_PUSH_TOO_LARGE);
  const auto mid = frame(400, 3);
  EXPECT_EQ(aero_aipc_ring_push(producer, mid.data(), mid.size()), AERO_AIPC_PUSH_OK);
  EXPECT_EQ(aero_aipc_ring_push(producer, mid.data(), mid.size()), AERO_AIPC_PUSH_FULL);
  std::uint8_t out[200];
  size_t len = 0;
  EXPECT_EQ(aero_aipc_ring_pop(consumer, out, sizeof out, &len), AERO_AIPC_POP_OK);
  EXPECT_EQ(len, 100U);
  EXPECT_EQ(std::memcmp(out, f.data(), 100), 0);
  EXPECT_EQ(aero_aipc_ring_pop(consumer, out, sizeof out, &len), AERO_AIPC_POP_TOO_LARGE);
  EXPECT_EQ(len, 400U);
  EXPECT_EQ(aero_aipc_ring_pop(consumer, out, sizeof out, &len), AERO_AIPC_POP_EMPTY);
  EXPECT_EQ(aero_aipc_ring_publish(producer), 1);
  // Damage the length word of the next record (placed at offset 0 after a wrap marker).
  EXPECT_EQ(aero_aipc_ring_push(producer, f.data(), f.size()), AERO_AIPC_PUSH_OK);
  const std::uint32_t bogus = 100000;
  std::memcpy(buf.data() + offset + 16, &bogus, 4);
  EXPECT_EQ(aero_aipc_ring_pop(consumer, out, sizeof out, &len), AERO_AIPC_POP_CORRUPT);
  aero_aipc_ring_destroy(producer);
  aero_aipc_ring_destroy(consumer);

  Aligned standalone(16 + 64);
  aero_aipc_ring* fresh = aero_aipc_ring_format(standalone.data(), standalone.size, 64);
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(aero_aipc_ring_capacity(fresh), 64U);
  aero_aipc_ring_destroy(fresh);
  EXPECT_EQ(aero_aipc_ring_format(standalone.data(), standalone.size, 65), nullptr);
  EXPECT_EQ(aero_aipc_ring_attach(standalone.data(), 8), nullptr);
}

TEST(BackendsCApi, QueueBackendRefusalsAndStats) {
  const aero_frame_limits tx{2, 0, 1514, 0};
  aero_backend* be = aero_queue_backend_create(&tx, nullptr);
  ASSERT_NE(be, nullptr);
  const auto f = frame(100, 1);
  EXPECT_EQ(aero_backend_transmit(be, f.data(), f.size()), 1);
  EXPECT_EQ(aero_backend_transmit(be, f.data(), f.size()), 1);
  EXPECT_EQ(aero_backend_transmit(be, f.data(), f.size()), 0);
  EXPECT_EQ(aero_backend_transmit(be, f.data(), 5), 0);
  std::uint8_t out[50];
  EXPECT_EQ(aero_queue_backend_pop_tx(be, out, sizeof out), 100U);  // too small: kept
  std::uint8_t big[2048];
  EXPECT_EQ(aero_queue_backend_pop_tx(be, big, sizeof big), 100U);
  EXPECT_EQ(std::memcmp(big, f.data(), 100), 0);
  EXPECT_EQ(aero_queue_backend_push_rx(be, f.data(), 10), AERO_QUEUE_REFUSED_RUNT);
  const auto huge = frame(2049, 0);
  EXPECT_EQ(aero_queue_backend_push_rx(be, huge.data(), huge.size()), AERO_QUEUE_REFUSED_OVERSIZE);
  EXPECT_EQ(aero_queue_backend_push_rx(be, f.data(), f.size()), AERO_QUEUE_ACCEPTED);
  aero_backend_stats stats{};
  aero_backend_get_stats(be, &stats);
  EXPECT_EQ(stats.tx_frames, 2U);
  EXPECT_EQ(stats.tx_refused_full, 1U);
  EXPECT_EQ(stats.tx_refused_runt, 1U);
  EXPECT_EQ(stats.tx_queued_frames, 1U);
  EXPECT_EQ(stats.rx_frames, 1U);
  EXPECT_EQ(stats.rx_refused, 2U);
  EXPECT_EQ(stats.rx_queued_frames, 1U);
  aero_backend_destroy(be);
}

// ---- An E1000 through its C API, pumped -------------------------------------------------------

struct Host {
  std::vector<std::uint8_t> mem = std::vector<std::uint8_t>(1U << 20, 0);
  aero_pump* pump = nullptr;
  std::uint64_t now = 1000;
};

constexpr auto mem_read = aero::test::c_guest_read<Host>;
constexpr auto mem_write = aero::test::c_guest_write<Host>;
void set_irq(void*, int) {}
int transmit(void* u, const uint8_t* f, size_t len) {
  return aero_pump_transmit(static_cast<Host*>(u)->pump, f, len);
}
uint64_t now_ns(void* u) { return static_cast<Host*>(u)->now; }

constexpr std::uint32_t kTxRing = 0x1000, kRxRing = 0x2000, kTxBuf = 0x8000, kRxBuf = 0x10000;

// Rings of 8 descriptors; RX buffers of 2048 bytes; one TX frame posted.
aero_e1000* bring_up(Host& host, const std::vector<std::uint8_t>& tx_frame) {
  static const aero_e1000_host cb{nullptr, mem_read, mem_write, set_irq, transmit, now_ns};
  aero_e1000_host mine = cb;
  mine.user = &host;
  aero_e1000* nic = aero_e1000_create(&mine, nullptr);
  aero_e1000_config_write(nic, 0x04, 2, kPciCommandMemory | kPciCommandBusMaster);
  aero_e1000_mmio_write(nic, TDBAL, 4, kTxRing);
  aero_e1000_mmio_write(nic, TDLEN, 4, 8 * 16);
  aero_e1000_mmio_write(nic, TCTL, 4, TCTL_EN | TCTL_PSP);
  for (std::uint32_t i = 0; i < 8; ++i) {
    const std::uint32_t addr = kRxBuf + i * 2048;
    std::memcpy(host.mem.data() + kRxRing + 16 * i, &addr, 4);
  }
  aero_e1000_mmio_write(nic, RDBAL, 4, kRxRing);
  aero_e1000_mmio_write(nic, RDLEN, 4, 8 * 16);
  aero_e1000_mmio_write(nic, RDT, 4, 7);
  aero_e1000_mmio_write(nic, RCTL, 4, RCTL_EN | RCTL_BAM | RCTL_SECRC);
  std::memcpy(host.mem.data() + kTxBuf, tx_frame.data(), tx_frame.size());
  std::uint8_t* d = host.mem.data() + kTxRing;
  const std::uint32_t addr = kTxBuf;
  std::memcpy(d, &addr, 4);
  d[8] = static_cast<std::uint8_t>(tx_frame.size());
  d[9] = static_cast<std::uint8_t>(tx_frame.size() >> 8);
  d[11] = TXD_CMD_EOP | TXD_CMD_RS;
  aero_e1000_mmio_write(nic, TDT, 4, 1);
  return nic;
}

TEST(BackendsCApi, PumpE1000ThroughQueueBackend) {
  Host host;
  aero_backend* be = aero_queue_backend_create(nullptr, nullptr);
  host.pump = aero_pump_create(be, nullptr);
  ASSERT_NE(host.pump, nullptr);
  const auto out_frame = frame(120, 1);
  aero_e1000* nic = bring_up(host, out_frame);
  const auto in_frame = frame(300, 2);
  ASSERT_EQ(aero_queue_backend_push_rx(be, in_frame.data(), in_frame.size()),
            AERO_QUEUE_ACCEPTED);
  aero_pump_tick_result r{};
  aero_pump_tick_e1000(host.pump, nic, host.now, &r);
  EXPECT_EQ(r.polls, 1U);
  EXPECT_EQ(r.tx_frames, 1U);
  EXPECT_EQ(r.tx_bytes, 120U);
  EXPECT_EQ(r.rx_frames, 1U);
  EXPECT_EQ(r.rx_bytes, 300U);
  std::uint8_t got[2048];
  ASSERT_EQ(aero_queue_backend_pop_tx(be, got, sizeof got), 120U);
  EXPECT_EQ(std::memcmp(got, out_frame.data(), 120), 0);
  // The received frame is in the first RX buffer, its descriptor done.
  const std::uint8_t* desc = host.mem.data() + kRxRing;
  EXPECT_EQ(desc[8] | (desc[9] << 8), 300);
  EXPECT_TRUE(desc[12] & RXD_STA_DD);
  EXPECT_EQ(std::memcmp(host.mem.data() + kRxBuf, in_frame.data(), 300), 0);
  aero_pump_tick_e1000(host.pump, nic, host.now, nullptr);  // idle tick, no result wanted
  aero_e1000_destroy(nic);
  aero_pump_destroy(host.pump);
  aero_backend_destroy(be);
}

TEST(BackendsCApi, PumpE1000ThroughNetRings) {
  const aero_aipc_queue_spec specs[] = {{AERO_AIPC_KIND_NET_TX, 8192},
                                        {AERO_AIPC_KIND_NET_RX, 8192}};
  const size_t size = aero_aipc_buffer_size(specs, 2);
  Aligned ipc(size);
  ASSERT_EQ(aero_aipc_buffer_format(ipc.data(), size, specs, 2), 1);
  EXPECT_EQ(aero_ring_backend_create(ipc.data(), size - 4, nullptr), nullptr);
  aero_backend* be = aero_ring_backend_create(ipc.data(), size, nullptr);
  ASSERT_NE(be, nullptr);
  uint32_t tx_off = 0, tx_cap = 0, rx_off = 0, rx_cap = 0;
  ASSERT_EQ(aero_aipc_buffer_find_queue(ipc.data(), size, AERO_AIPC_KIND_NET_TX, 0, &tx_off,
                                        &tx_cap), 1);
  ASSERT_EQ(aero_aipc_buffer_find_queue(ipc.data(), size, AERO_AIPC_KIND_NET_RX, 0, &rx_off,
                                        &rx_cap), 1);
  aero_aipc_ring* worker_tx = aero_aipc_ring_attach(ipc.data() + tx_off, 16 + tx_cap);
  aero_aipc_ring* worker_rx = aero_aipc_ring_attach(ipc.data() + rx_off, 16 + rx_cap);
  const auto in_frame = frame(64, 9);
  ASSERT_EQ(aero_aipc_ring_push(worker_rx, in_frame.data(), in_frame.size()), AERO_AIPC_PUSH_OK);

  Host host;
  const aero_pump_config config{16, 16, 2};
  host.pump = aero_pump_create(be, &config);
  const auto out_frame = frame(70, 4);
  aero_e1000* nic = bring_up(host, out_frame);
  aero_pump_tick_result r{};
  aero_pump_tick_e1000(host.pump, nic, host.now, &r);
  EXPECT_EQ(r.tx_frames, 1U);
  EXPECT_EQ(r.rx_frames, 1U);
  std::uint8_t got[2048];
  size_t len = 0;
  ASSERT_EQ(aero_aipc_ring_pop(worker_tx, got, sizeof got, &len), AERO_AIPC_POP_OK);
  ASSERT_EQ(len, 70U);
  EXPECT_EQ(std::memcmp(got, out_frame.data(), 70), 0);
  EXPECT_EQ(std::memcmp(host.mem.data() + kRxBuf, in_frame.data(), 64), 0);
  aero_backend_stats stats{};
  aero_backend_get_stats(be, &stats);
  EXPECT_EQ(stats.tx_frames, 1U);
  EXPECT_EQ(stats.rx_frames, 1U);
  EXPECT_EQ(stats.tx_broken, 0);
  EXPECT_EQ(aero_queue_backend_push_rx(be, in_frame.data(), in_frame.size()),
            AERO_QUEUE_NOT_A_QUEUE);
  aero_e1000_destroy(nic);
  aero_pump_destroy(host.pump);
  aero_backend_destroy(be);
  aero_aipc_ring_destroy(worker_tx);
  aero_aipc_ring_destroy(worker_rx);
}

}  // namespace
