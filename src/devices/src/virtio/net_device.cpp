// VirtioNet: construction, the features it offers and their dependencies (virtio 1.2 §5.1.3),
// the device configuration layout (§5.1.4), reset, link state and the poll loop. Transmit,
// receive and the control queue are in net_tx.cpp, net_rx.cpp and net_ctrl.cpp.
#include <bit>

#include "aero/devices/virtio_net.h"

namespace aero::devices {

using namespace virtio_net;  // NOLINT: feature names

namespace {

std::uint16_t clamp_queue_size(std::uint16_t size) {
  if (size == 0) return 1;
  return static_cast<std::uint16_t>(std::bit_floor(std::min<std::uint32_t>(size, virtio::kMaxQueueSize)));
}

// Drops offered features whose prerequisites are not offered (§5.1.3.1).
std::uint64_t consistent_offer(std::uint64_t f, std::uint16_t mtu) {
  f &= kImplemented;
  f |= virtio::kFeatureVersion1;
  if (!(f & kCsum)) f &= ~(kHostTso4 | kHostTso6);
  if (!(f & kGuestCsum)) f &= ~(kGuestTso4 | kGuestTso6);
  if (!(f & kCtrlVq)) f &= ~(kCtrlRx | kCtrlRxExtra | kCtrlMacAddr);
  if (mtu < 68) f &= ~kMtu;  // §5.1.4.1: 68..65535
  return f;
}

}  // namespace

VirtioNet::VirtioNet(GuestMemory& memory, InterruptLine& irq, FramePort& port, const Clock& clock,
                     VirtioNetConfig config)
    : port_(port),
      clock_(clock),
      config_(config),
      tx_buf_(kHeaderLength + kMaxFrameLength, 0),
      seg_buf_(kMaxFrameLength, 0),
      rx_stage_(kMaxFrameLength, 0),
      ctrl_buf_(kCtrlMaxCommand, 0),
      transport_(memory, irq, *this,
                 virtio::PciTransportConfig{.transitional = config.transitional, .msix = config.msix}) {
  config_.queue_size = clamp_queue_size(config_.queue_size);
  offered_ = consistent_offer(config_.features, config_.mtu);
  mac_ = config_.mac;
  pending_.reserve(config_.queue_size);
  transport_.init();
}

bool VirtioNet::features_acceptable(std::uint64_t f) const {
  // §5.1.3.1 feature bit requirements; packed rings only with the version 1 interface.
  if ((f & (kGuestTso4 | kGuestTso6)) && !(f & kGuestCsum)) return false;
  if ((f & (kHostTso4 | kHostTso6)) && !(f & kCsum)) return false;
  if ((f & (kCtrlRx | kCtrlRxExtra | kCtrlMacAddr)) && !(f & kCtrlVq)) return false;
  if ((f & virtio::kFeatureRingPacked) && !(f & virtio::kFeatureVersion1)) return false;
  return true;
}

std::uint16_t VirtioNet::queue_count() const { return (offered_ & kCtrlVq) ? 3 : 2; }

// struct virtio_net_config (§5.1.4): mac[6], le16 status, le16 max_virtqueue_pairs, le16 mtu.
std::uint8_t VirtioNet::config_byte(std::uint32_t offset) const {
  if (offset < 6) return mac_[offset];
  const std::uint16_t status = link_up_ ? kStatusLinkUp : 0;
  switch (offset) {
    case 6:
      return (offered_ & kStatus) ? static_cast<std::uint8_t>(status) : 0;
    case 8:
      return 1;  // max_virtqueue_pairs
    case 10:
      return (offered_ & kMtu) ? static_cast<std::uint8_t>(config_.mtu) : 0;
    case 11:
      return (offered_ & kMtu) ? static_cast<std::uint8_t>(config_.mtu >> 8) : 0;
    default:
      return 0;
  }
}

// §5.1.4.2: only a legacy driver may write the MAC; the modern configuration is read-only.
void VirtioNet::config_write_byte(std::uint32_t offset, std::uint8_t value, bool legacy) {
  if (legacy && offset < 6) mac_[offset] = value;
}

void VirtioNet::device_reset() {
  mac_ = config_.mac;
  filter_ = RxFilter{};
  tx_pending_ = false;
  ctrl_pending_ = false;
  pending_.clear();
}

void VirtioNet::driver_ok() {
  // Buffers may already be waiting: look at every queue once.
  tx_pending_ = true;
  ctrl_pending_ = true;
}

void VirtioNet::queue_notified(std::uint16_t queue) {
  if (queue == kTxQueue) tx_pending_ = true;
  if (queue == kCtrlQueue) ctrl_pending_ = true;
}

std::size_t VirtioNet::header_length() const {
  // §5.1.6: 12 bytes with VERSION_1 or MRG_RXBUF; a legacy driver without MRG_RXBUF uses 10.
  if (has(kMrgRxbuf)) return kHeaderLength;
  if (transport_.legacy() || !has(virtio::kFeatureVersion1)) return kShortHeaderLength;
  return config_.short_header_with_version_1 ? kShortHeaderLength : kHeaderLength;
}

void VirtioNet::set_link_up(bool up) {
  if (up == link_up_) return;
  link_up_ = up;
  if (offered_ & kStatus) transport_.config_changed();
}

bool VirtioNet::rx_ready() {
  return transport_.queue_ready(kRxQueue) && transport_.queue(kRxQueue).has_available();
}

unsigned VirtioNet::poll(unsigned budget) {
  if (!transport_.device_ok()) return 0;
  unsigned done = 0;
  if (ctrl_pending_) done += ctrl_run();
  if (tx_pending_ && budget > 0) done += tx_run(budget);
  return done;
}

std::optional<Instant> VirtioNet::next_deadline() const {
  if (transport_.device_ok() && (tx_pending_ || ctrl_pending_)) return clock_.now();
  return std::nullopt;
}

}  // namespace aero::devices
