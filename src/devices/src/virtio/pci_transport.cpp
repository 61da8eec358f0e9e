// virtio PCI transport: configuration space and capabilities (virtio 1.2 §4.1.2-§4.1.4),
// device status and feature negotiation (§2.1, §2.2, §3.1), reset, and interrupts (MSI-X per
// PCI 3.0 §6.8.2, INTx with the ISR status of §4.1.4.5). BAR0 and legacy register access are in
// pci_registers.cpp. See virtio_pci.h for the layout and rules.
#include <algorithm>

#include "aero/devices/virtio_pci.h"
#include "le.h"

namespace aero::devices::virtio {

namespace {

constexpr std::uint8_t kCapIdVendor = 0x09;
constexpr std::uint8_t kCapIdMsix = 0x11;
constexpr std::uint8_t kCfgTypeCommon = 1, kCfgTypeNotify = 2, kCfgTypeIsr = 3,
                       kCfgTypeDevice = 4, kCfgTypePciCfg = 5;
constexpr std::uint16_t kCommandWritable = 0x0547;  // IO, MEM, BME, PERR, SERR, INTx disable
constexpr std::uint16_t kMsixEnable = 1U << 15, kMsixFunctionMask = 1U << 14;
constexpr std::uint16_t kPciStatusCapList = 1U << 4, kPciStatusInterrupt = 1U << 3;
constexpr std::uint32_t kBar0Type = 0x4;  // memory, 64-bit, not prefetchable

// The byte at config offset `at` after a guest write of `value` to a BAR byte: the address
// bits below the BAR size are hard-wired so that writing all ones reads back the size mask.
std::uint8_t bar_byte(std::uint32_t at, std::uint8_t value, std::uint32_t size, std::uint32_t fixed) {
  const unsigned shift = 8 * (at & 3U);
  const std::uint32_t merged = ((std::uint32_t{value} << shift) & ~(size - 1)) | fixed;
  return static_cast<std::uint8_t>(merged >> shift);
}

}  // namespace

PciTransport::PciTransport(GuestMemory& memory, InterruptLine& irq, DeviceModel& device,
                           PciTransportConfig config)
    : memory_(memory), irq_(irq), device_(device), config_(config), dma_(memory, *this) {}

void PciTransport::init() {
  const std::uint16_t type = device_.device_type();
  const std::uint32_t pci_class = device_.pci_class();
  auto put16 = [&](std::size_t at, std::uint16_t v) { put_le16(&pci_[at], v); };
  auto put32 = [&](std::size_t at, std::uint32_t v) { put_le32(&pci_[at], v); };
  pci_.fill(0);
  put16(0x00, kPciVendorId);
  put16(0x02, static_cast<std::uint16_t>(
                  (config_.transitional ? kPciTransitionalDeviceBase : kPciModernDeviceBase) + type));
  put16(0x06, kPciStatusCapList);
  pci_[0x08] = config_.transitional ? 0 : 1;  // §4.1.2.1 revision
  pci_[0x09] = static_cast<std::uint8_t>(pci_class);
  pci_[0x0A] = static_cast<std::uint8_t>(pci_class >> 8);
  pci_[0x0B] = static_cast<std::uint8_t>(pci_class >> 16);
  put32(0x10, kBar0Type);
  if (config_.transitional) put32(0x18, 0x1);  // BAR2: I/O space
  put16(0x2C, kPciVendorId);
  put16(0x2E, type);
  pci_[0x34] = kCapCommon;
  pci_[0x3C] = 0xFF;  // interrupt line: not routed yet
  pci_[0x3D] = 0x01;  // INTA#
  // struct virtio_pci_cap (§4.1.4): vndr, next, len, cfg_type, bar, id, padding[2], offset,
  // length [, notify_off_multiplier].
  auto vendor_cap = [&](std::uint8_t at, std::uint8_t next, std::uint8_t len, std::uint8_t cfg_type,
                        std::uint32_t offset, std::uint32_t length) {
    pci_[at] = kCapIdVendor;
    pci_[at + 1U] = next;
    pci_[at + 2U] = len;
    pci_[at + 3U] = cfg_type;
    pci_[at + 4U] = 0;  // BAR0
    put32(at + 8U, offset);
    put32(at + 12U, length);
  };
  vendor_cap(kCapCommon, kCapNotify, 16, kCfgTypeCommon, kCommonCfgOffset, kRegionSize);
  vendor_cap(kCapNotify, kCapIsr, 20, kCfgTypeNotify, kNotifyOffset, kRegionSize);
  put32(kCapNotify + 16U, kNotifyMultiplier);
  vendor_cap(kCapIsr, kCapDevice, 16, kCfgTypeIsr, kIsrOffset, kIsrRegionSize);
  vendor_cap(kCapDevice, kCapPciCfg, 16, kCfgTypeDevice, kDeviceCfgOffset, kRegionSize);
  vendor_cap(kCapPciCfg, config_.msix ? kCapMsix : 0, 20, kCfgTypePciCfg, 0, 0);
  const std::uint16_t count = device_.queue_count();
  msix_vectors_ = config_.msix ? static_cast<std::uint16_t>(count + 1) : 0;
  if (config_.msix) {
    // MSI-X capability (PCI 3.0 §6.8.2.1): table and PBA in BAR0 (BIR 0).
    pci_[kCapMsix] = kCapIdMsix;
    put16(kCapMsix + 2U, static_cast<std::uint16_t>(msix_vectors_ - 1));
    msix_pba_offset_ = (kMsixTableOffset + 16U * msix_vectors_ + 7U) & ~7U;
    put32(kCapMsix + 4U, kMsixTableOffset);
    put32(kCapMsix + 8U, msix_pba_offset_);
    msix_table_.assign(16U * msix_vectors_, 0);
    for (std::uint16_t v = 0; v < msix_vectors_; ++v) msix_table_[16U * v + 12U] = 1;  // masked
    msix_pba_.assign((msix_vectors_ + 63U) / 64U, 0);
  }
  queues_.assign(count, Queue{});
  reset();
  counters_.resets = 0;
}

std::uint16_t PciTransport::command() const { return le16(&pci_[0x04]); }

bool PciTransport::msix_enabled() const {
  return config_.msix && (le16(&pci_[kCapMsix + 2U]) & kMsixEnable) != 0;
}

bool PciTransport::device_ok() const {
  return (status_ & kStatusDriverOk) && !(status_ & (kStatusNeedsReset | kStatusFailed)) &&
         bus_master();
}

bool PciTransport::queue_ready(std::uint16_t queue) const {
  return queue < queues_.size() && device_ok() && queues_[queue].vq.running() &&
         !queues_[queue].vq.broken();
}

// ---- Configuration space -------------------------------------------------------------------

std::uint32_t PciTransport::config_read(std::uint32_t offset, unsigned size) {
  if ((size != 1 && size != 2 && size != 4) || offset >= pci_.size() || size > pci_.size() - offset) {
    return 0;
  }
  const std::uint32_t data_at = kCapPciCfg + 16U;
  std::uint32_t data = 0;
  if (offset < data_at + 4 && offset + size > data_at) data = pci_cfg_read_data();
  std::uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    const std::uint32_t at = offset + i;
    std::uint8_t byte = pci_[at];
    if (at >= data_at && at < data_at + 4) byte = static_cast<std::uint8_t>(data >> (8 * (at - data_at)));
    v |= std::uint32_t{byte} << (8 * i);
  }
  return v;
}

void PciTransport::config_write(std::uint32_t offset, unsigned size, std::uint32_t value) {
  if ((size != 1 && size != 2 && size != 4) || offset >= pci_.size() || size > pci_.size() - offset) {
    return;
  }
  const std::uint32_t data_at = kCapPciCfg + 16U;
  if (offset == data_at) {
    pci_cfg_write_data(value);
    return;
  }
  for (unsigned i = 0; i < size; ++i) {
    const std::uint32_t at = offset + i;
    const auto byte = static_cast<std::uint8_t>(value >> (8 * i));
    if (at == 0x04 || at == 0x05) {
      const auto mask = static_cast<std::uint8_t>(kCommandWritable >> (8 * (at - 0x04)));
      pci_[at] = static_cast<std::uint8_t>(byte & mask);
    } else if (at == 0x0C || at == 0x0D || at == 0x3C) {
      pci_[at] = byte;
    } else if (at >= 0x10 && at < 0x14) {
      pci_[at] = bar_byte(at, byte, kBar0Size, kBar0Type);
    } else if (at >= 0x14 && at < 0x18) {
      pci_[at] = byte;  // BAR0 upper half
    } else if (at >= 0x18 && at < 0x1C && config_.transitional) {
      pci_[at] = bar_byte(at, byte, kLegacyBarSize, 0x1);
    } else if (config_.msix && at == kCapMsix + 3U) {
      pci_[at] = static_cast<std::uint8_t>((pci_[at] & 0x3FU) | (byte & 0xC0U));
    } else if (at == kCapPciCfg + 4U || (at >= kCapPciCfg + 8U && at < kCapPciCfg + 16U)) {
      pci_[at] = byte;  // bar, offset, length of the configuration access window
    }
  }
  msix_deliver_pending();
  update_intx();
}

// §4.1.4.9: a window onto BAR0 through configuration space. Only BAR0, lengths 1, 2 and 4,
// naturally aligned offsets; anything else reads 0 and ignores writes.
std::uint32_t PciTransport::pci_cfg_read_data() {
  const std::uint32_t offset = le32(&pci_[kCapPciCfg + 8U]);
  const std::uint32_t length = le32(&pci_[kCapPciCfg + 12U]);
  if (pci_[kCapPciCfg + 4U] != 0 || (length != 1 && length != 2 && length != 4) ||
      offset % length != 0 || offset >= kBar0Size) {
    return 0;
  }
  return static_cast<std::uint32_t>(bar0_access_read(offset, length));
}

void PciTransport::pci_cfg_write_data(std::uint32_t value) {
  const std::uint32_t offset = le32(&pci_[kCapPciCfg + 8U]);
  const std::uint32_t length = le32(&pci_[kCapPciCfg + 12U]);
  if (pci_[kCapPciCfg + 4U] != 0 || (length != 1 && length != 2 && length != 4) ||
      offset % length != 0 || offset >= kBar0Size) {
    return;
  }
  bar0_access_write(offset, length, value);
}

// ---- Status, features, reset -----------------------------------------------------------------

void PciTransport::reset() {
  status_ = 0;
  features_ = 0;
  driver_features_ = 0;
  device_feature_select_ = 0;
  driver_feature_select_ = 0;
  config_vector_ = kNoVector;
  queue_select_ = 0;
  legacy_ = false;
  const std::uint16_t max = device_.queue_max_size();
  for (Queue& q : queues_) {
    q.vq.stop();
    q = Queue{};
    q.size = max;
  }
  isr_ = 0;
  update_intx();
  ++counters_.resets;
  device_.device_reset();
}

// §3.1.1 driver initialization order; §2.1.1: the driver never clears a bit, the device owns
// DEVICE_NEEDS_RESET.
void PciTransport::write_status(std::uint8_t value) {
  if (value == 0) {
    reset();
    return;
  }
  const std::uint8_t old = status_;
  value = static_cast<std::uint8_t>((value & ~kStatusNeedsReset) | (old & kStatusNeedsReset));
  if ((value & kStatusFeaturesOk) && !(old & kStatusFeaturesOk) && !negotiate()) {
    value = static_cast<std::uint8_t>(value & ~kStatusFeaturesOk);
    ++counters_.features_rejected;
  }
  const bool driver_ok = (value & kStatusDriverOk) && !(old & kStatusDriverOk);
  if (driver_ok && !legacy_ && !(value & kStatusFeaturesOk)) {
    value = static_cast<std::uint8_t>(value & ~kStatusDriverOk);
    ++counters_.protocol_errors;
    status_ = value;
    return;
  }
  status_ = value;
  if (driver_ok) {
    start_queues();
    device_.driver_ok();
  }
}

bool PciTransport::negotiate() {
  const std::uint64_t offered = device_.offered_features();
  const std::uint64_t wanted = driver_features_;
  if ((wanted & ~offered) != 0) return false;
  if (!legacy_ && !(wanted & kFeatureVersion1)) return false;  // §4.1.2.3, modern interface
  if (!device_.features_acceptable(wanted)) return false;
  features_ = wanted;
  return true;
}

void PciTransport::start_queue(std::uint16_t index) {
  Queue& q = queues_[index];
  Virtqueue::Setup setup;
  setup.format = has(kFeatureRingPacked) ? Virtqueue::Format::packed : Virtqueue::Format::split;
  setup.size = q.size;
  setup.desc = q.desc;
  setup.driver = q.driver;
  setup.device = q.device;
  setup.event_idx = has(kFeatureEventIdx);
  setup.indirect = has(kFeatureIndirectDesc);
  setup.max_indirect = device_.queue_max_size();
  if (!q.vq.start(dma_, setup)) {
    ++counters_.protocol_errors;
    device_error();
  }
}

void PciTransport::start_queues() {
  for (std::uint16_t i = 0; i < queues_.size(); ++i) {
    if (queues_[i].enabled) start_queue(i);
  }
}

bool PciTransport::publish(std::uint16_t queue) {
  Queue& q = queues_[queue];
  bool notify = false;
  if (!q.vq.publish(notify)) {
    device_error();
    return false;
  }
  if (notify) signal(q.vector, 1);
  return true;
}

void PciTransport::config_changed(bool notify) {
  ++config_generation_;
  ++counters_.config_changes;
  if (notify && (status_ & kStatusDriverOk)) signal(config_vector_, 2);
}

void PciTransport::device_error() {
  if (status_ & kStatusNeedsReset) return;
  status_ = static_cast<std::uint8_t>(status_ | kStatusNeedsReset);
  ++counters_.device_errors;
  if (status_ & kStatusDriverOk) signal(config_vector_, 2);
}

// ---- Interrupts ------------------------------------------------------------------------------

std::uint16_t PciTransport::sanitize_vector(std::uint16_t vector) const {
  return (msix_enabled() && vector < msix_vectors_) ? vector : kNoVector;
}

void PciTransport::signal(std::uint16_t vector, std::uint8_t isr_bit) {
  if (!msix_enabled()) {
    isr_ = static_cast<std::uint8_t>(isr_ | isr_bit);
    update_intx();
    return;
  }
  if (vector == kNoVector || vector >= msix_vectors_) {
    ++counters_.msix_suppressed;
    return;
  }
  if (msix_masked(vector)) {
    msix_pba_[vector / 64U] |= 1ULL << (vector % 64U);
    ++counters_.msix_pending;
    return;
  }
  msix_deliver(vector);
}

void PciTransport::msix_deliver(std::uint16_t vector) {
  const std::uint8_t* entry = &msix_table_[16U * vector];
  ++counters_.msix_messages;
  irq_.signal_msix(vector, le64(entry), le32(entry + 8));
}

bool PciTransport::msix_masked(std::uint16_t vector) const {
  return (le16(&pci_[kCapMsix + 2U]) & kMsixFunctionMask) != 0 ||
         (msix_table_[16U * vector + 12U] & 1U) != 0;
}

void PciTransport::msix_deliver_pending() {
  if (!msix_enabled()) return;
  for (std::uint16_t v = 0; v < msix_vectors_; ++v) {
    const std::uint64_t bit = 1ULL << (v % 64U);
    if ((msix_pba_[v / 64U] & bit) && !msix_masked(v)) {
      msix_pba_[v / 64U] &= ~bit;
      msix_deliver(v);
    }
  }
}

void PciTransport::update_intx() {
  const bool pending = isr_ != 0;
  std::uint16_t status = le16(&pci_[0x06]);
  status = static_cast<std::uint16_t>(pending ? (status | kPciStatusInterrupt)
                                              : (status & ~kPciStatusInterrupt));
  put_le16(&pci_[0x06], status);
  const bool level = pending && !(command() & kPciCommandIntxDisable) && !msix_enabled();
  if (level == intx_level_) return;
  intx_level_ = level;
  if (level) ++counters_.intx_raised;
  irq_.set_level(level);
}

}  // namespace aero::devices::virtio
