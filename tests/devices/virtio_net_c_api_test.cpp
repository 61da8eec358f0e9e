// virtio-net C API: presets and their layout, create-time validation, a guest brought up only
// through the C bus windows (modern with MSI-X, Aero's contract with INTx, transitional with
// the legacy BAR), frames both ways, hold, link changes, counters, and the pump ticking the
// device through the queue backend and the AIPC ring backend.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "aero/devices/backends_c.h"
#include "aero/devices/virtio_net_c.h"
#include "virtio_test_driver.h"
#include "devices/c_api_guest_memory.h"

namespace {

using aero::Bytes;
using aero::devices::VectorGuestMemory;
using aero::devices::vtest::DriverQueue;
using aero::devices::vtest::ethernet;
using aero::devices::vtest::RingOptions;
using aero::devices::vtest::rd16;

constexpr std::array<std::uint8_t, 6> kBroadcast{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

struct MsixMessage {
  std::uint16_t vector;
  std::uint64_t address;
  std::uint32_t data;
};

struct Host {
  VectorGuestMemory mem{4U << 20};
  std::vector<Bytes> tx;
  std::vector<MsixMessage> msix;
  int irq = 0;
  int refuse_tx = 0;
  std::uint64_t now = 5000;
  aero_pump* pump = nullptr;  // when set, transmit forwards to the pump
};

constexpr auto mem_read = aero::test::c_guest_read<Host>;
constexpr auto mem_write = aero::test::c_guest_write<Host>;
void set_irq(void* u, int level) { static_cast<Host*>(u)->irq = level; }
void signal_msix(void* u, uint16_t vector, uint64_t address, uint32_t data) {
  static_cast<Host*>(u)->msix.push_back({vector, address, data});
}
int transmit(void* u, const uint8_t* frame, size_t len) {
  auto* h = static_cast<Host*>(u);
  if (h->pump != nullptr) return aero_pump_transmit(h->pump, frame, len);
  h->tx.emplace_back(frame, frame + len);
  return h->refuse_tx ? 0 : 1;
}
uint64_t now_ns(void* u) { return static_cast<Host*>(u)->now; }

aero_virtio_net_host host_table(Host& h) {
  return aero_virtio_net_host{&h, mem_read, mem_write, set_irq, signal_msix, transmit, now_ns};
}

// A guest driver speaking to the device only through the C API's bus windows.
class CGuest {
 public:
  CGuest(Host& host, const aero_virtio_net_config* config) : host_(host) {
    const aero_virtio_net_host table = host_table(host);
    nic = aero_virtio_net_create(&table, config);
  }
  ~CGuest() { aero_virtio_net_destroy(nic); }
  CGuest(const CGuest&) = delete;
  CGuest& operator=(const CGuest&) = delete;

  std::uint64_t common(std::uint32_t off, std::uint32_t size) {
    return aero_virtio_net_mmio_read(nic, AERO_VIRTIO_PCI_COMMON_CFG + off, size);
  }
  void common_w(std::uint32_t off, std::uint32_t size, std::uint64_t v) {
    aero_virtio_net_mmio_write(nic, AERO_VIRTIO_PCI_COMMON_CFG + off, size, v);
  }
  void status(std::uint32_t s) { common_w(0x14, 1, s); }

  std::uint8_t find_capability(std::uint8_t id) {
    std::uint32_t at = aero_virtio_net_config_read(nic, 0x34, 1);
    for (int guard = 0; at != 0 && guard < 48; ++guard) {
      if (aero_virtio_net_config_read(nic, at, 1) == id) return static_cast<std::uint8_t>(at);
      at = aero_virtio_net_config_read(nic, at + 1, 1);
    }
    return 0;
  }

  // virtio 1.2 §3.1.1 through the C API; MSI-X vectors 0 (configuration), 1 + queue.
  bool bring_up(std::uint64_t wanted, bool msix, RingOptions ring = {}) {
    aero_virtio_net_config_write(nic, 0x04, 2, 0x0006);  // memory space, bus master
    if (msix) {
      const std::uint8_t cap = find_capability(0x11);
      EXPECT_NE(cap, 0);
      const std::uint32_t entries = (aero_virtio_net_config_read(nic, cap + 2U, 2) & 0x7FF) + 1;
      for (std::uint32_t v = 0; v < entries; ++v) {
        const std::uint32_t e = AERO_VIRTIO_PCI_MSIX_TABLE + 16 * v;
        aero_virtio_net_mmio_write(nic, e, 8, 0xFEE00000ULL + 0x1000 * v);
        aero_virtio_net_mmio_write(nic, e + 8, 4, 0x40 + v);
        aero_virtio_net_mmio_write(nic, e + 12, 4, 0);
      }
      aero_virtio_net_config_write(nic, cap + 2U, 2, 0x8000);
    }
    status(0);
    status(AERO_VIRTIO_STATUS_ACKNOWLEDGE);
    status(AERO_VIRTIO_STATUS_ACKNOWLEDGE | AERO_VIRTIO_STATUS_DRIVER);
    common_w(0x00, 4, 0);
    std::uint64_t offered = common(0x04, 4);
    common_w(0x00, 4, 1);
    offered |= common(0x04, 4) << 32;
    if (ring.packed) wanted |= AERO_VIRTIO_F_RING_PACKED;
    if (ring.event_idx) wanted |= AERO_VIRTIO_F_EVENT_IDX;
    if (ring.indirect) wanted |= AERO_VIRTIO_F_INDIRECT_DESC;
    features = (wanted | AERO_VIRTIO_F_VERSION_1) & offered;
    common_w(0x08, 4, 0);
    common_w(0x0C, 4, features & 0xFFFFFFFFU);
    common_w(0x08, 4, 1);
    common_w(0x0C, 4, features >> 32);
    status(AERO_VIRTIO_STATUS_ACKNOWLEDGE | AERO_VIRTIO_STATUS_DRIVER | AERO_VIRTIO_STATUS_FEATURES_OK);
    if ((aero_virtio_net_device_status(nic) & AERO_VIRTIO_STATUS_FEATURES_OK) == 0) return false;
    DriverQueue* queues[2] = {&rxq, &txq};
    for (std::uint16_t q = 0; q < 2; ++q) {
      common_w(0x16, 2, q);
      common_w(0x18, 2, 16);
      queues[q]->init(host_.mem, 0x10000 + 0x10000ULL * q, 0x100000 + 0x40000ULL * q, 4096, 16, ring);
      common_w(0x20, 8, queues[q]->desc());
      common_w(0x28, 8, queues[q]->driver());
      common_w(0x30, 8, queues[q]->device());
      if (msix) common_w(0x1A, 2, q + 1U);
      common_w(0x1C, 2, 1);
    }
    if (msix) common_w(0x10, 2, 0);
    status(AERO_VIRTIO_STATUS_ACKNOWLEDGE | AERO_VIRTIO_STATUS_DRIVER | AERO_VIRTIO_STATUS_FEATURES_OK |
           AERO_VIRTIO_STATUS_DRIVER_OK);
    return (aero_virtio_net_device_status(nic) & AERO_VIRTIO_STATUS_DRIVER_OK) != 0;
  }

  void notify(std::uint16_t q) {
    aero_virtio_net_mmio_write(nic, AERO_VIRTIO_PCI_NOTIFY + AERO_VIRTIO_PCI_NOTIFY_MULTIPLIER * q, 2, q);
  }
  void send(const Bytes& frame, std::size_t header) {
    Bytes buf(header, 0);
    buf.insert(buf.end(), frame.begin(), frame.end());
    ASSERT_TRUE(txq.add(buf, 1, {}, false));
    notify(AERO_VIRTIO_NET_TX_QUEUE);
  }
  void post_rx(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) ASSERT_TRUE(rxq.add({}, 0, {1526}, false));
    notify(AERO_VIRTIO_NET_RX_QUEUE);
  }
  // The next received frame without its header of `header` bytes.
  std::optional<Bytes> next_rx(std::size_t header) {
    const auto used = rxq.pop_used();
    if (!used) return std::nullopt;
    Bytes b = rxq.written(used->len);
    EXPECT_GE(b.size(), header);
    return Bytes(b.begin() + static_cast<std::ptrdiff_t>(header), b.end());
  }
  aero_virtio_net_counters counters() const {
    aero_virtio_net_counters c;
    aero_virtio_net_get_counters(nic, &c);
    return c;
  }

  aero_virtio_net* nic = nullptr;
  std::uint64_t features = 0;
  DriverQueue rxq, txq;

 private:
  Host& host_;
};

Bytes host_frame(std::size_t size, std::uint8_t seed) { return ethernet(kBroadcast, 0x0800, size, seed); }

TEST(VirtioNetCApi, Presets) {
  aero_virtio_net_config c;
  std::memset(&c, 0xAB, sizeof c);
  aero_virtio_net_config_default(&c);
  EXPECT_EQ(c.features & AERO_VIRTIO_NET_F_MRG_RXBUF, AERO_VIRTIO_NET_F_MRG_RXBUF);
  EXPECT_EQ(c.features & AERO_VIRTIO_F_RING_PACKED, AERO_VIRTIO_F_RING_PACKED);
  EXPECT_EQ(c.mtu, 1500);
  EXPECT_EQ(c.queue_size, 256);
  EXPECT_EQ(c.msix, 1);
  EXPECT_EQ(c.transitional, 0);
  EXPECT_EQ(c.short_header_with_version_1, 0);
  EXPECT_EQ(c.reserved[0] | c.reserved[1] | c.reserved[2], 0);
  const std::uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};
  EXPECT_EQ(std::memcmp(c.mac, mac, 6), 0);
  aero_virtio_net_config_aero_w7(&c);
  EXPECT_EQ(c.features, AERO_VIRTIO_F_VERSION_1 | AERO_VIRTIO_F_INDIRECT_DESC | AERO_VIRTIO_NET_F_MAC |
                            AERO_VIRTIO_NET_F_STATUS);
  EXPECT_EQ(c.short_header_with_version_1, 1);
  EXPECT_EQ(c.msix, 1);
}

TEST(VirtioNetCApi, CreateValidatesCallbacksAndConfig) {
  Host h;
  aero_virtio_net_host table = host_table(h);
  aero_virtio_net_config c;
  aero_virtio_net_config_default(&c);
  EXPECT_EQ(aero_virtio_net_create(nullptr, &c), nullptr);
  for (int missing = 0; missing < 5; ++missing) {
    aero_virtio_net_host t = table;
    if (missing == 0) t.mem_read = nullptr;
    if (missing == 1) t.mem_write = nullptr;
    if (missing == 2) t.set_irq = nullptr;
    if (missing == 3) t.transmit = nullptr;
    if (missing == 4) t.now_ns = nullptr;
    EXPECT_EQ(aero_virtio_net_create(&t, &c), nullptr) << missing;
  }
  table.signal_msix = nullptr;
  EXPECT_EQ(aero_virtio_net_create(&table, &c), nullptr);  // MSI-X needs its callback
  EXPECT_EQ(aero_virtio_net_create(&table, nullptr), nullptr);
  c.msix = 0;
  aero_virtio_net* nic = aero_virtio_net_create(&table, &c);  // INTx only: no callback needed
  ASSERT_NE(nic, nullptr);
  aero_virtio_net_destroy(nic);
  c.reserved[1] = 1;
  EXPECT_EQ(aero_virtio_net_create(&table, &c), nullptr);
}

TEST(VirtioNetCApi, ModernDeviceWithMsixMovesFramesBothWays) {
  Host h;
  CGuest g(h, nullptr);
  ASSERT_NE(g.nic, nullptr);
  EXPECT_EQ(aero_virtio_net_config_read(g.nic, 0, 4), 0x10411AF4U);
  EXPECT_EQ(aero_virtio_net_config_read(g.nic, 0x08, 4) >> 8, 0x020000U);  // class
  ASSERT_TRUE(g.bring_up(AERO_VIRTIO_NET_F_MAC | AERO_VIRTIO_NET_F_MRG_RXBUF | AERO_VIRTIO_NET_F_STATUS, true));
  EXPECT_EQ(aero_virtio_net_negotiated_features(g.nic),
            AERO_VIRTIO_F_VERSION_1 | AERO_VIRTIO_NET_F_MAC | AERO_VIRTIO_NET_F_MRG_RXBUF | AERO_VIRTIO_NET_F_STATUS);
  // Device configuration: the MAC, then STATUS with LINK_UP.
  EXPECT_EQ(aero_virtio_net_mmio_read(g.nic, AERO_VIRTIO_PCI_DEVICE_CFG, 1), 0x52U);
  EXPECT_EQ(aero_virtio_net_mmio_read(g.nic, AERO_VIRTIO_PCI_DEVICE_CFG + 6, 2), 1U);

  // Transmit: the header (12 bytes with VERSION_1) is stripped; a used-buffer MSI-X message
  // goes to the transmit queue's vector.
  const Bytes out = ethernet({0x02, 0, 0, 0, 0, 1}, 0x0800, 120, 4);
  g.send(out, 12);
  EXPECT_EQ(aero_virtio_net_next_deadline_ns(g.nic), h.now);
  EXPECT_EQ(aero_virtio_net_poll(g.nic, 64), 1U);
  ASSERT_EQ(h.tx.size(), 1U);
  EXPECT_EQ(h.tx[0], out);
  ASSERT_EQ(h.msix.size(), 1U);
  EXPECT_EQ(h.msix[0].vector, 2);
  EXPECT_EQ(h.msix[0].address, 0xFEE02000ULL);
  EXPECT_EQ(h.msix[0].data, 0x42U);
  EXPECT_EQ(aero_virtio_net_next_deadline_ns(g.nic), AERO_VIRTIO_NET_NO_DEADLINE);

  // Receive: hold without buffers, then accepted with num_buffers = 1 in the header.
  const Bytes in = host_frame(300, 9);
  EXPECT_EQ(aero_virtio_net_receive(g.nic, in.data(), in.size()), AERO_VIRTIO_NET_RX_HOLD);
  g.post_rx(2);
  EXPECT_EQ(aero_virtio_net_receive(g.nic, in.data(), in.size()), AERO_VIRTIO_NET_RX_ACCEPTED);
  const auto used = g.rxq.pop_used();
  ASSERT_TRUE(used);
  const Bytes written = g.rxq.written(used->len);
  ASSERT_EQ(written.size(), 12 + in.size());
  EXPECT_EQ(rd16(&written[10]), 1);
  EXPECT_EQ(Bytes(written.begin() + 12, written.end()), in);
  EXPECT_EQ(h.msix.back().vector, 1);
  EXPECT_EQ(aero_virtio_net_receive(g.nic, nullptr, 0), AERO_VIRTIO_NET_RX_DROPPED);  // a runt

  // Link down: a configuration change message on vector 0, STATUS without LINK_UP, frames
  // dropped and counted.
  aero_virtio_net_set_link(g.nic, 0);
  EXPECT_EQ(aero_virtio_net_link_up(g.nic), 0);
  EXPECT_EQ(h.msix.back().vector, 0);
  EXPECT_EQ(aero_virtio_net_mmio_read(g.nic, AERO_VIRTIO_PCI_DEVICE_CFG + 6, 2), 0U);
  EXPECT_EQ(aero_virtio_net_receive(g.nic, in.data(), in.size()), AERO_VIRTIO_NET_RX_DROPPED);
  aero_virtio_net_set_link(g.nic, 1);

  // A refused frame is counted.
  h.refuse_tx = 1;
  g.send(out, 12);
  aero_virtio_net_poll(g.nic, 64);

  const aero_virtio_net_counters c = g.counters();
  EXPECT_EQ(c.tx_frames, 1U);
  EXPECT_EQ(c.tx_bytes, out.size());
  EXPECT_EQ(c.tx_backend_refused, 1U);
  EXPECT_EQ(c.rx_frames, 1U);
  EXPECT_EQ(c.rx_bytes, in.size());
  EXPECT_EQ(c.rx_buffers, 1U);
  EXPECT_EQ(c.rx_hold, 1U);
  EXPECT_EQ(c.rx_runt, 1U);
  EXPECT_EQ(c.rx_link_down, 1U);
  EXPECT_EQ(c.notifications, 3U);
  EXPECT_EQ(c.config_changes, 2U);
  EXPECT_GE(c.msix_messages, 4U);
  EXPECT_EQ(c.resets, 1U);
  EXPECT_EQ(h.irq, 0);  // MSI-X on: the line stays low
  std::uint8_t mac[6] = {};
  aero_virtio_net_mac(g.nic, mac);
  EXPECT_EQ(mac[5], 0x57);
}

// Aero's contract with INTx: the offered features are the contract's, the header is 10 bytes
// with VERSION_1, there is no control queue, and ISR reads lower the line.
TEST(VirtioNetCApi, AeroW7ContractWithIntx) {
  Host h;
  aero_virtio_net_config c;
  aero_virtio_net_config_aero_w7(&c);
  CGuest g(h, &c);
  ASSERT_NE(g.nic, nullptr);
  ASSERT_TRUE(g.bring_up(~UINT64_C(0), false));
  EXPECT_EQ(g.features, c.features);
  EXPECT_EQ(g.common(0x12, 2), 2U);  // num_queues
  g.post_rx(1);
  const Bytes in = host_frame(64, 1);
  EXPECT_EQ(aero_virtio_net_receive(g.nic, in.data(), in.size()), AERO_VIRTIO_NET_RX_ACCEPTED);
  const auto got = g.next_rx(10);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, in);
  EXPECT_EQ(h.irq, 1);
  EXPECT_EQ(aero_virtio_net_irq_level(g.nic), 1);
  EXPECT_EQ(aero_virtio_net_mmio_read(g.nic, AERO_VIRTIO_PCI_ISR, 1), 1U);  // queue interrupt
  EXPECT_EQ(h.irq, 0);
  const Bytes out = ethernet({0x02, 0, 0, 0, 0, 1}, 0x0806, 60, 2);
  g.send(out, 10);
  aero_virtio_net_poll(g.nic, 8);
  ASSERT_EQ(h.tx.size(), 1U);
  EXPECT_EQ(h.tx[0], out);
  EXPECT_TRUE(h.msix.empty());
}

TEST(VirtioNetCApi, TransitionalDeviceHasTheLegacyBar) {
  Host h;
  aero_virtio_net_config c;
  aero_virtio_net_config_default(&c);
  c.transitional = 1;
  CGuest g(h, &c);
  ASSERT_NE(g.nic, nullptr);
  EXPECT_EQ(aero_virtio_net_config_read(g.nic, 0, 4), 0x10001AF4U);
  aero_virtio_net_config_write(g.nic, 0x04, 2, 0x0001);  // I/O space
  // Legacy header: device features (low 32 bits) at 0; the MAC after the 20-byte header.
  EXPECT_EQ(aero_virtio_net_pio_read(g.nic, 0, 4), static_cast<std::uint32_t>(c.features));
  EXPECT_EQ(aero_virtio_net_pio_read(g.nic, 0x14, 1), 0x52U);
  Host h2;
  CGuest modern(h2, nullptr);
  aero_virtio_net_config_write(modern.nic, 0x04, 2, 0x0001);
  EXPECT_EQ(aero_virtio_net_pio_read(modern.nic, 0x14, 1), 0U);
}

// ---- The pump -------------------------------------------------------------------------------

TEST(VirtioNetCApi, PumpThroughTheQueueBackendWithAChainBudget) {
  Host h;
  aero_backend* be = aero_queue_backend_create(nullptr, nullptr);
  ASSERT_NE(be, nullptr);
  h.pump = aero_pump_create(be, nullptr);
  ASSERT_NE(h.pump, nullptr);
  CGuest g(h, nullptr);
  ASSERT_TRUE(g.bring_up(AERO_VIRTIO_NET_F_MAC, false));
  g.post_rx(4);
  for (std::uint8_t i = 0; i < 5; ++i) g.send(ethernet({0x02, 0, 0, 0, 0, 1}, 0x0800, 80 + i, i), 12);
  const Bytes in = host_frame(200, 3);
  ASSERT_EQ(aero_queue_backend_push_rx(be, in.data(), in.size()), AERO_QUEUE_ACCEPTED);

  aero_pump_tick_result r;
  aero_pump_tick_virtio_net(h.pump, g.nic, 2, h.now, &r);
  EXPECT_EQ(r.polls, 1U);
  EXPECT_EQ(r.tx_frames, 2U);
  EXPECT_EQ(r.tx_deferred, 1);
  EXPECT_EQ(r.rx_frames, 1U);
  EXPECT_EQ(r.next_deadline_ns, h.now);
  aero_pump_tick_virtio_net(h.pump, g.nic, 2, h.now, &r);
  aero_pump_tick_virtio_net(h.pump, g.nic, 2, h.now, &r);
  EXPECT_EQ(r.tx_frames, 1U);
  EXPECT_EQ(r.tx_deferred, 0);
  EXPECT_EQ(r.next_deadline_ns, AERO_VIRTIO_NET_NO_DEADLINE);
  std::uint8_t buf[2048];
  for (std::uint8_t i = 0; i < 5; ++i) {
    ASSERT_EQ(aero_queue_backend_pop_tx(be, buf, sizeof buf), 80U + i);
    EXPECT_EQ(Bytes(buf, buf + 80 + i), ethernet({0x02, 0, 0, 0, 0, 1}, 0x0800, 80 + i, i));
  }
  EXPECT_EQ(aero_queue_backend_pop_tx(be, buf, sizeof buf), 0U);
  EXPECT_EQ(g.next_rx(12), in);
  aero_pump_tick_virtio_net(h.pump, g.nic, 0, h.now, nullptr);  // NULL result, default budget

  aero_pump_destroy(h.pump);
  h.pump = nullptr;
  aero_backend_destroy(be);
}

// Frames through Aero's AIPC rings; while the guest has no receive buffers the NET_RX frame
// stays in the backend, and it arrives once buffers are posted.
TEST(VirtioNetCApi, PumpThroughTheNetRingsHoldsWithoutBuffers) {
  const aero_aipc_queue_spec specs[2] = {{AERO_AIPC_KIND_NET_TX, 16384}, {AERO_AIPC_KIND_NET_RX, 16384}};
  const size_t size = aero_aipc_buffer_size(specs, 2);
  std::vector<std::uint32_t> words(size / 4);
  auto* ipc = reinterpret_cast<std::uint8_t*>(words.data());  // NOLINT
  ASSERT_EQ(aero_aipc_buffer_format(ipc, size, specs, 2), 1);
  std::uint32_t tx_at = 0, rx_at = 0, cap = 0;
  ASSERT_EQ(aero_aipc_buffer_find_queue(ipc, size, AERO_AIPC_KIND_NET_TX, 0, &tx_at, &cap), 1);
  ASSERT_EQ(aero_aipc_buffer_find_queue(ipc, size, AERO_AIPC_KIND_NET_RX, 0, &rx_at, &cap), 1);
  aero_aipc_ring* worker_tx = aero_aipc_ring_attach(ipc + tx_at, 16 + cap);
  aero_aipc_ring* worker_rx = aero_aipc_ring_attach(ipc + rx_at, 16 + cap);
  ASSERT_NE(worker_tx, nullptr);
  ASSERT_NE(worker_rx, nullptr);
  aero_backend* be = aero_ring_backend_create(ipc, size, nullptr);
  ASSERT_NE(be, nullptr);

  Host h;
  h.pump = aero_pump_create(be, nullptr);
  CGuest g(h, nullptr);
  ASSERT_TRUE(g.bring_up(AERO_VIRTIO_NET_F_MAC | AERO_VIRTIO_NET_F_MRG_RXBUF, true,
                         {.packed = true, .event_idx = true}));
  EXPECT_NE(aero_virtio_net_negotiated_features(g.nic) & AERO_VIRTIO_F_RING_PACKED, 0U);
  const Bytes in = host_frame(400, 5);
  ASSERT_EQ(aero_aipc_ring_push(worker_rx, in.data(), in.size()), AERO_AIPC_PUSH_OK);
  const Bytes out = ethernet({0x02, 0, 0, 0, 0, 1}, 0x0800, 98, 6);
  g.send(out, 12);

  aero_pump_tick_result r;
  aero_pump_tick_virtio_net(h.pump, g.nic, 0, h.now, &r);
  EXPECT_EQ(r.tx_frames, 1U);
  EXPECT_EQ(r.rx_frames, 0U);
  EXPECT_EQ(r.rx_held, 1);
  std::uint8_t buf[2048];
  size_t len = 0;
  ASSERT_EQ(aero_aipc_ring_pop(worker_tx, buf, sizeof buf, &len), AERO_AIPC_POP_OK);
  EXPECT_EQ(Bytes(buf, buf + len), out);

  g.post_rx(1);
  aero_pump_tick_virtio_net(h.pump, g.nic, 0, h.now, &r);
  EXPECT_EQ(r.rx_frames, 1U);
  EXPECT_EQ(r.rx_held, 0);
  EXPECT_EQ(g.next_rx(12), in);

  aero_backend_stats stats;
  aero_backend_get_stats(be, &stats);
  EXPECT_EQ(stats.tx_frames, 1U);
  EXPECT_EQ(stats.rx_frames, 1U);
  EXPECT_EQ(g.counters().rx_hold, 1U);

  aero_pump_destroy(h.pump);
  h.pump = nullptr;
  aero_backend_destroy(be);
  aero_aipc_ring_destroy(worker_tx);
  aero_aipc_ring_destroy(worker_rx);
}

}  // namespace
