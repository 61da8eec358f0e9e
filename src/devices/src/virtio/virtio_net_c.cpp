// C API for virtio-net (virtio_net_c.h): presets, validation of the embedder's callback table
// and configuration, and thin forwards to VirtioNet.
#include "aero/devices/virtio_net_c.h"

#include <cstddef>
#include <cstring>
#include <new>

#include "net_c_handle.h"

namespace {

using aero::devices::VirtioNet;
using aero::devices::VirtioNetConfig;
namespace vn = aero::devices::virtio_net;
namespace virtio = aero::devices::virtio;

// The C constants are the C++ ones.
static_assert(AERO_VIRTIO_NET_F_CSUM == vn::kCsum && AERO_VIRTIO_NET_F_GUEST_CSUM == vn::kGuestCsum &&
              AERO_VIRTIO_NET_F_MTU == vn::kMtu && AERO_VIRTIO_NET_F_MAC == vn::kMac &&
              AERO_VIRTIO_NET_F_GUEST_TSO4 == vn::kGuestTso4 && AERO_VIRTIO_NET_F_GUEST_TSO6 == vn::kGuestTso6 &&
              AERO_VIRTIO_NET_F_HOST_TSO4 == vn::kHostTso4 && AERO_VIRTIO_NET_F_HOST_TSO6 == vn::kHostTso6 &&
              AERO_VIRTIO_NET_F_MRG_RXBUF == vn::kMrgRxbuf && AERO_VIRTIO_NET_F_STATUS == vn::kStatus &&
              AERO_VIRTIO_NET_F_CTRL_VQ == vn::kCtrlVq && AERO_VIRTIO_NET_F_CTRL_RX == vn::kCtrlRx &&
              AERO_VIRTIO_NET_F_CTRL_RX_EXTRA == vn::kCtrlRxExtra &&
              AERO_VIRTIO_NET_F_CTRL_MAC_ADDR == vn::kCtrlMacAddr &&
              AERO_VIRTIO_F_INDIRECT_DESC == virtio::kFeatureIndirectDesc &&
              AERO_VIRTIO_F_EVENT_IDX == virtio::kFeatureEventIdx &&
              AERO_VIRTIO_F_VERSION_1 == virtio::kFeatureVersion1 &&
              AERO_VIRTIO_F_RING_PACKED == virtio::kFeatureRingPacked);
static_assert(AERO_VIRTIO_STATUS_ACKNOWLEDGE == virtio::kStatusAcknowledge &&
              AERO_VIRTIO_STATUS_DRIVER == virtio::kStatusDriver &&
              AERO_VIRTIO_STATUS_DRIVER_OK == virtio::kStatusDriverOk &&
              AERO_VIRTIO_STATUS_FEATURES_OK == virtio::kStatusFeaturesOk &&
              AERO_VIRTIO_STATUS_NEEDS_RESET == virtio::kStatusNeedsReset &&
              AERO_VIRTIO_STATUS_FAILED == virtio::kStatusFailed);
static_assert(AERO_VIRTIO_PCI_BAR0_SIZE == virtio::kBar0Size &&
              AERO_VIRTIO_PCI_COMMON_CFG == virtio::kCommonCfgOffset &&
              AERO_VIRTIO_PCI_NOTIFY == virtio::kNotifyOffset &&
              AERO_VIRTIO_PCI_NOTIFY_MULTIPLIER == virtio::kNotifyMultiplier &&
              AERO_VIRTIO_PCI_ISR == virtio::kIsrOffset && AERO_VIRTIO_PCI_DEVICE_CFG == virtio::kDeviceCfgOffset &&
              AERO_VIRTIO_PCI_MSIX_TABLE == virtio::kMsixTableOffset &&
              AERO_VIRTIO_PCI_LEGACY_BAR_SIZE == virtio::kLegacyBarSize);
static_assert(AERO_VIRTIO_NET_RX_QUEUE == VirtioNet::kRxQueue && AERO_VIRTIO_NET_TX_QUEUE == VirtioNet::kTxQueue &&
              AERO_VIRTIO_NET_CTRL_QUEUE == VirtioNet::kCtrlQueue);
// The layout JavaScript embedders read by offset.
static_assert(sizeof(aero_virtio_net_config) == 24 && offsetof(aero_virtio_net_config, mac) == 8 &&
              offsetof(aero_virtio_net_config, mtu) == 14 && offsetof(aero_virtio_net_config, queue_size) == 16 &&
              offsetof(aero_virtio_net_config, transitional) == 18 && offsetof(aero_virtio_net_config, msix) == 19 &&
              offsetof(aero_virtio_net_config, short_header_with_version_1) == 20);
// A counter added on the C++ side must be added to aero_virtio_net_counters as well.
static_assert(sizeof(aero::devices::VirtioNetCounters) == 34 * sizeof(std::uint64_t));
static_assert(sizeof(virtio::PciTransportCounters) == 11 * sizeof(std::uint64_t));
static_assert(sizeof(aero_virtio_net_counters) == 45 * sizeof(std::uint64_t));

void to_c(const VirtioNetConfig& from, aero_virtio_net_config* out) {
  *out = aero_virtio_net_config{};
  out->features = from.features;
  std::memcpy(out->mac, from.mac.data(), from.mac.size());
  out->mtu = from.mtu;
  out->queue_size = from.queue_size;
  out->transitional = from.transitional ? 1 : 0;
  out->msix = from.msix ? 1 : 0;
  out->short_header_with_version_1 = from.short_header_with_version_1 ? 1 : 0;
}

VirtioNetConfig from_c(const aero_virtio_net_config& in) {
  VirtioNetConfig c;
  c.features = in.features;
  std::memcpy(c.mac.data(), in.mac, c.mac.size());
  c.mtu = in.mtu;
  c.queue_size = in.queue_size;
  c.transitional = in.transitional != 0;
  c.msix = in.msix != 0;
  c.short_header_with_version_1 = in.short_header_with_version_1 != 0;
  return c;
}

}  // namespace

extern "C" {

void aero_virtio_net_config_default(aero_virtio_net_config* out) { to_c(VirtioNetConfig{}, out); }

void aero_virtio_net_config_aero_w7(aero_virtio_net_config* out) {
  to_c(VirtioNetConfig::aero_w7_contract(), out);
}

aero_virtio_net* aero_virtio_net_create(const aero_virtio_net_host* host,
                                        const aero_virtio_net_config* config) {
  aero_virtio_net_config c;
  if (config != nullptr) {
    c = *config;
  } else {
    aero_virtio_net_config_default(&c);
  }
  if (host == nullptr || host->mem_read == nullptr || host->mem_write == nullptr ||
      host->set_irq == nullptr || host->transmit == nullptr || host->now_ns == nullptr ||
      (c.msix != 0 && host->signal_msix == nullptr)) {
    return nullptr;
  }
  if (c.reserved[0] != 0 || c.reserved[1] != 0 || c.reserved[2] != 0) return nullptr;
  return new (std::nothrow) aero_virtio_net(*host, from_c(c));
}

void aero_virtio_net_destroy(aero_virtio_net* nic) { delete nic; }

uint32_t aero_virtio_net_config_read(aero_virtio_net* nic, uint32_t offset, uint32_t size) {
  return nic->device.config_read(offset, size);
}
void aero_virtio_net_config_write(aero_virtio_net* nic, uint32_t offset, uint32_t size,
                                  uint32_t value) {
  nic->device.config_write(offset, size, value);
}
uint64_t aero_virtio_net_mmio_read(aero_virtio_net* nic, uint32_t offset, uint32_t size) {
  return nic->device.mmio_read(offset, size);
}
void aero_virtio_net_mmio_write(aero_virtio_net* nic, uint32_t offset, uint32_t size,
                                uint64_t value) {
  nic->device.mmio_write(offset, size, value);
}
uint32_t aero_virtio_net_pio_read(aero_virtio_net* nic, uint32_t offset, uint32_t size) {
  return nic->device.pio_read(offset, size);
}
void aero_virtio_net_pio_write(aero_virtio_net* nic, uint32_t offset, uint32_t size,
                               uint32_t value) {
  nic->device.pio_write(offset, size, value);
}

int aero_virtio_net_receive(aero_virtio_net* nic, const uint8_t* frame, size_t len) {
  const aero::ByteSpan span = frame == nullptr ? aero::ByteSpan{} : aero::ByteSpan(frame, len);
  switch (nic->device.receive(span)) {  // a NULL frame is an empty one: a counted runt
    case aero::devices::RxResult::accepted:
      return AERO_VIRTIO_NET_RX_ACCEPTED;
    case aero::devices::RxResult::hold:
      return AERO_VIRTIO_NET_RX_HOLD;
    case aero::devices::RxResult::dropped:
      break;
  }
  return AERO_VIRTIO_NET_RX_DROPPED;
}

uint32_t aero_virtio_net_poll(aero_virtio_net* nic, uint32_t budget) { return nic->device.poll(budget); }

uint64_t aero_virtio_net_next_deadline_ns(aero_virtio_net* nic) {
  const auto deadline = nic->device.next_deadline();
  if (!deadline) return AERO_VIRTIO_NET_NO_DEADLINE;
  const auto ns = deadline->time_since_epoch().count();
  return ns < 0 ? 0 : static_cast<uint64_t>(ns);
}

void aero_virtio_net_set_link(aero_virtio_net* nic, int up) { nic->device.set_link_up(up != 0); }
int aero_virtio_net_link_up(const aero_virtio_net* nic) { return nic->device.link_up() ? 1 : 0; }

int aero_virtio_net_irq_level(const aero_virtio_net* nic) { return nic->device.irq_level() ? 1 : 0; }
uint32_t aero_virtio_net_device_status(const aero_virtio_net* nic) { return nic->device.device_status(); }
uint64_t aero_virtio_net_negotiated_features(const aero_virtio_net* nic) {
  return nic->device.negotiated_features();
}
void aero_virtio_net_mac(const aero_virtio_net* nic, uint8_t* out) {
  const auto mac = nic->device.mac();
  std::memcpy(out, mac.data(), mac.size());
}

void aero_virtio_net_get_counters(const aero_virtio_net* nic, aero_virtio_net_counters* out) {
  const aero::devices::VirtioNetCounters& d = nic->device.counters();
  const virtio::PciTransportCounters& t = nic->device.transport_counters();
  *out = aero_virtio_net_counters{
      d.tx_frames, d.tx_bytes, d.tx_gso_frames, d.tx_gso_segments, d.tx_offloaded,
      d.tx_csum_completed, d.tx_bad_chain, d.tx_bad_header, d.tx_runt, d.tx_oversize,
      d.tx_offload_errors, d.tx_dma_errors, d.tx_link_down, d.tx_backend_refused,
      d.rx_frames, d.rx_bytes, d.rx_buffers, d.rx_gso_segments, d.rx_csum_completed,
      d.rx_hold, d.rx_not_ready, d.rx_link_down, d.rx_filtered, d.rx_runt, d.rx_oversize,
      d.rx_offload_errors, d.rx_too_big_for_buffer, d.rx_too_big_for_ring, d.rx_bad_chain,
      d.rx_buffers_discarded, d.rx_device_error, d.ctrl_commands, d.ctrl_errors,
      d.ctrl_bad_chain,
      t.notifications, t.bad_notifications, t.features_rejected, t.protocol_errors,
      t.device_errors, t.msix_messages, t.msix_suppressed, t.msix_pending, t.intx_raised,
      t.config_changes, t.resets};
}

}  // extern "C"
