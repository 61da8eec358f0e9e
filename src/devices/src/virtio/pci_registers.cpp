// virtio PCI transport registers: BAR0 regions (common configuration §4.1.4.3, notifications
// §4.1.4.4, ISR §4.1.4.5, device configuration §4.1.4.6, MSI-X table and PBA) and the legacy
// I/O header of a transitional device (§4.1.4.8).
#include <algorithm>

#include "aero/devices/virtio_pci.h"
#include "le.h"

namespace aero::devices::virtio {

namespace {

constexpr std::uint64_t all_ones(unsigned size) {
  return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

bool valid_size(unsigned size) { return size == 1 || size == 2 || size == 4 || size == 8; }

// struct virtio_pci_common_cfg field offsets and sizes (§4.1.4.3).
struct Field {
  std::uint8_t offset;
  std::uint8_t size;
};
constexpr Field kCommonFields[] = {
    {0x00, 4}, {0x04, 4}, {0x08, 4}, {0x0C, 4}, {0x10, 2}, {0x12, 2}, {0x14, 1}, {0x15, 1},
    {0x16, 2}, {0x18, 2}, {0x1A, 2}, {0x1C, 2}, {0x1E, 2}, {0x20, 8}, {0x28, 8}, {0x30, 8},
    {0x38, 2}, {0x3A, 2}};
constexpr std::uint32_t kCommonSize = 0x3C;

std::uint64_t load(const std::uint8_t* p, unsigned size) {
  std::uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

// ---- BAR0 ------------------------------------------------------------------------------------

std::uint64_t PciTransport::bar0_read(std::uint32_t offset, unsigned size) {
  if (!valid_size(size)) return 0;
  if (!(command() & kPciCommandMemory)) return all_ones(size);
  return bar0_access_read(offset, size);
}

void PciTransport::bar0_write(std::uint32_t offset, unsigned size, std::uint64_t value) {
  if (!valid_size(size) || !(command() & kPciCommandMemory)) return;
  bar0_access_write(offset, size, value);
}

std::uint64_t PciTransport::bar0_access_read(std::uint32_t offset, unsigned size) {
  if (offset >= kBar0Size || size > kBar0Size - offset) return 0;
  if (offset < kCommonCfgOffset + kRegionSize) return common_read(offset, size);
  if (offset >= kIsrOffset && offset < kIsrOffset + kIsrRegionSize) {
    if (offset != kIsrOffset) return 0;
    // §4.1.4.5.1: reading ISR status clears it and de-asserts INTx.
    const std::uint8_t value = isr_;
    isr_ = 0;
    update_intx();
    return value;
  }
  if (offset >= kDeviceCfgOffset && offset < kDeviceCfgOffset + kRegionSize) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) {
      v |= std::uint64_t{device_config_read_byte(offset - kDeviceCfgOffset + i)} << (8 * i);
    }
    return v;
  }
  if (config_.msix && offset >= kMsixTableOffset) return msix_read(offset, size);
  return 0;  // notification region and holes
}

void PciTransport::bar0_access_write(std::uint32_t offset, unsigned size, std::uint64_t value) {
  if (offset >= kBar0Size || size > kBar0Size - offset) return;
  if (offset < kCommonCfgOffset + kRegionSize) {
    common_write(offset, size, value);
  } else if (offset >= kNotifyOffset && offset < kNotifyOffset + kRegionSize) {
    // §4.1.4.4: queue q is notified at queue_notify_off(q) * multiplier = 4q. The value (the
    // queue index, no NOTIFICATION_DATA) is not needed.
    const std::uint32_t rel = offset - kNotifyOffset;
    const std::uint32_t q = rel / kNotifyMultiplier;
    if (rel % kNotifyMultiplier != 0 || q >= queues_.size()) {
      ++counters_.bad_notifications;
      return;
    }
    ++counters_.notifications;
    device_.queue_notified(static_cast<std::uint16_t>(q));
  } else if (offset >= kDeviceCfgOffset && offset < kDeviceCfgOffset + kRegionSize) {
    for (unsigned i = 0; i < size; ++i) {
      device_.config_write_byte(offset - kDeviceCfgOffset + i, static_cast<std::uint8_t>(value >> (8 * i)),
                                false);
    }
  } else if (config_.msix && offset >= kMsixTableOffset) {
    msix_write(offset, size, value);
  }
}

std::uint8_t PciTransport::device_config_read_byte(std::uint32_t offset) const {
  return offset < device_.config_size() ? device_.config_byte(offset) : 0;
}

// ---- Common configuration ----------------------------------------------------------------------

void PciTransport::common_image(std::array<std::uint8_t, 0x40>& out) const {
  out.fill(0);
  std::uint8_t* p = out.data();
  const std::uint64_t offered = device_.offered_features();
  put_le32(p + 0x00, device_feature_select_);
  if (device_feature_select_ < 2) {
    put_le32(p + 0x04, static_cast<std::uint32_t>(offered >> (32 * device_feature_select_)));
  }
  put_le32(p + 0x08, driver_feature_select_);
  if (driver_feature_select_ < 2) {
    put_le32(p + 0x0C, static_cast<std::uint32_t>(driver_features_ >> (32 * driver_feature_select_)));
  }
  put_le16(p + 0x10, config_vector_);
  put_le16(p + 0x12, static_cast<std::uint16_t>(queues_.size()));
  p[0x14] = status_;
  p[0x15] = config_generation_;
  put_le16(p + 0x16, queue_select_);
  if (queue_select_ < queues_.size()) {
    const Queue& q = queues_[queue_select_];
    put_le16(p + 0x18, q.size);
    put_le16(p + 0x1A, q.vector);
    put_le16(p + 0x1C, q.enabled ? 1 : 0);
    put_le16(p + 0x1E, queue_select_);  // queue_notify_off
    put_le64(p + 0x20, q.desc);
    put_le64(p + 0x28, q.driver);
    put_le64(p + 0x30, q.device);
  }
}

std::uint64_t PciTransport::common_read(std::uint32_t offset, unsigned size) const {
  std::array<std::uint8_t, 0x40> image{};
  common_image(image);
  std::uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    const std::uint32_t at = offset + i;
    if (at < image.size()) v |= std::uint64_t{image[at]} << (8 * i);
  }
  return v;
}

// A write of any size merges into every field it touches, in address order; each field's rule
// then applies to the merged value.
void PciTransport::common_write(std::uint32_t offset, unsigned size, std::uint64_t value) {
  if (offset >= kCommonSize) return;
  std::array<std::uint8_t, 0x40> image{};
  for (const Field& f : kCommonFields) {
    const std::uint32_t begin = std::max<std::uint32_t>(offset, f.offset);
    const std::uint32_t end = std::min<std::uint32_t>(offset + size, f.offset + f.size);
    if (begin >= end) continue;
    common_image(image);  // fresh: an earlier field (queue_select) may change later ones
    for (std::uint32_t at = begin; at < end; ++at) {
      image[at] = static_cast<std::uint8_t>(value >> (8 * (at - offset)));
    }
    common_field_write(f.offset, load(&image[f.offset], f.size));
  }
}

void PciTransport::common_field_write(std::uint32_t field, std::uint64_t value) {
  const bool queue_valid = queue_select_ < queues_.size();
  Queue* q = queue_valid ? &queues_[queue_select_] : nullptr;
  const bool queue_writable = q != nullptr && !q->enabled;  // §4.1.4.3.2
  switch (field) {
    case 0x00:
      device_feature_select_ = static_cast<std::uint32_t>(value);
      break;
    case 0x08:
      driver_feature_select_ = static_cast<std::uint32_t>(value);
      break;
    case 0x0C:
      if (driver_feature_select_ < 2 && !(status_ & kStatusFeaturesOk)) {
        const unsigned shift = 32 * driver_feature_select_;
        driver_features_ = (driver_features_ & ~(0xFFFFFFFFULL << shift)) |
                           ((value & 0xFFFFFFFFULL) << shift);
      }
      break;
    case 0x10:
      config_vector_ = sanitize_vector(static_cast<std::uint16_t>(value));
      break;
    case 0x14:
      write_status(static_cast<std::uint8_t>(value));
      break;
    case 0x16:
      queue_select_ = static_cast<std::uint16_t>(value);
      break;
    case 0x18:
      if (queue_writable) q->size = static_cast<std::uint16_t>(value);
      break;
    case 0x1A:
      if (q != nullptr) q->vector = sanitize_vector(static_cast<std::uint16_t>(value));
      break;
    case 0x1C: {
      // Writing 0 is not allowed without VIRTIO_F_RING_RESET (§4.1.4.3.2): ignored.
      if (!queue_writable || (value & 0xFFFF) != 1) break;
      const bool split = !has(kFeatureRingPacked);
      const std::uint16_t size = q->size;
      if (size == 0 || size > device_.queue_max_size() || (split && (size & (size - 1)) != 0)) {
        ++counters_.protocol_errors;  // §2.7: a split ring's size is a power of two
        break;
      }
      q->enabled = true;
      if (status_ & kStatusDriverOk) start_queue(queue_select_);
      break;
    }
    case 0x20:
      if (queue_writable) q->desc = value;
      break;
    case 0x28:
      if (queue_writable) q->driver = value;
      break;
    case 0x30:
      if (queue_writable) q->device = value;
      break;
    default:
      break;  // read-only fields
  }
}

// ---- MSI-X table and PBA (PCI 3.0 §6.8.2.6-§6.8.2.10) ----------------------------------------

std::uint64_t PciTransport::msix_read(std::uint32_t offset, unsigned size) const {
  const std::uint32_t table_end = kMsixTableOffset + static_cast<std::uint32_t>(msix_table_.size());
  if (offset >= kMsixTableOffset && offset + size <= table_end) {
    return load(&msix_table_[offset - kMsixTableOffset], size);
  }
  const std::uint32_t pba_size = static_cast<std::uint32_t>(msix_pba_.size() * 8);
  if (offset >= msix_pba_offset_ && offset + size <= msix_pba_offset_ + pba_size) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) {
      const std::uint32_t bit_byte = offset - msix_pba_offset_ + i;
      const auto byte = static_cast<std::uint8_t>(msix_pba_[bit_byte / 8] >> (8 * (bit_byte % 8)));
      v |= std::uint64_t{byte} << (8 * i);
    }
    return v;
  }
  return 0;
}

void PciTransport::msix_write(std::uint32_t offset, unsigned size, std::uint64_t value) {
  const std::uint32_t table_end = kMsixTableOffset + static_cast<std::uint32_t>(msix_table_.size());
  if (offset < kMsixTableOffset || offset + size > table_end) return;  // the PBA is read-only
  for (unsigned i = 0; i < size; ++i) {
    const std::uint32_t at = offset - kMsixTableOffset + i;
    auto byte = static_cast<std::uint8_t>(value >> (8 * i));
    if (at % 16 == 12) byte &= 1;            // vector control: only the mask bit
    else if (at % 16 > 12) byte = 0;         // reserved
    msix_table_[at] = byte;
  }
  msix_deliver_pending();
}

// ---- Legacy header (§4.1.4.8), BAR2 of a transitional device --------------------------------
//
//   0x00 u32 host features (bits 0-31)   0x04 u32 guest features   0x08 u32 queue PFN
//   0x0C u16 queue size                  0x0E u16 queue select     0x10 u16 queue notify
//   0x12 u8 status                       0x13 u8 ISR (read clears)
//   with MSI-X enabled: 0x14 u16 config vector, 0x16 u16 queue vector
//   then the device configuration.

std::uint32_t PciTransport::legacy_read(std::uint32_t offset, unsigned size) {
  if ((size != 1 && size != 2 && size != 4) || !config_.transitional) return 0;
  if (!(command() & kPciCommandIo)) return static_cast<std::uint32_t>(all_ones(size));
  if (offset >= kLegacyBarSize || size > kLegacyBarSize - offset) return 0;
  const std::uint32_t config_at = legacy_config_offset();
  std::array<std::uint8_t, 0x18> header{};
  put_le32(&header[0x00], static_cast<std::uint32_t>(device_.offered_features()));
  put_le32(&header[0x04], static_cast<std::uint32_t>(features_));
  if (queue_select_ < queues_.size()) {
    const Queue& q = queues_[queue_select_];
    put_le32(&header[0x08], q.enabled ? static_cast<std::uint32_t>(q.desc >> 12) : 0);
    put_le16(&header[0x0C], device_.queue_max_size());
    put_le16(&header[0x16], q.vector);
  }
  put_le16(&header[0x0E], queue_select_);
  header[0x12] = status_;
  header[0x13] = isr_;
  put_le16(&header[0x14], config_vector_);
  std::uint32_t v = 0;
  bool isr_read = false;
  for (unsigned i = 0; i < size; ++i) {
    const std::uint32_t at = offset + i;
    std::uint8_t byte = 0;
    if (at < config_at) {
      byte = header[at];
      isr_read = isr_read || at == 0x13;
    } else {
      byte = device_config_read_byte(at - config_at);
    }
    v |= std::uint32_t{byte} << (8 * i);
  }
  if (isr_read) {
    isr_ = 0;
    update_intx();
  }
  return v;
}

void PciTransport::legacy_write(std::uint32_t offset, unsigned size, std::uint32_t value) {
  if ((size != 1 && size != 2 && size != 4) || !config_.transitional) return;
  if (!(command() & kPciCommandIo) || offset >= kLegacyBarSize || size > kLegacyBarSize - offset) return;
  const std::uint32_t config_at = legacy_config_offset();
  if (offset >= config_at) {
    for (unsigned i = 0; i < size; ++i) {
      device_.config_write_byte(offset + i - config_at, static_cast<std::uint8_t>(value >> (8 * i)), true);
    }
    return;
  }
  switch (offset) {
    case 0x04:
      // A legacy driver accepts features by writing them; no FEATURES_OK step (§4.1.4.8).
      if (status_ & kStatusDriverOk) break;
      legacy_ = true;
      driver_features_ = value;
      features_ = value & device_.offered_features() & 0xFFFFFFFFULL;
      break;
    case 0x08:
      legacy_ = true;
      legacy_set_pfn(value);
      break;
    case 0x0E:
      queue_select_ = static_cast<std::uint16_t>(value);
      break;
    case 0x10:
      if ((value & 0xFFFF) < queues_.size()) {
        ++counters_.notifications;
        device_.queue_notified(static_cast<std::uint16_t>(value));
      } else {
        ++counters_.bad_notifications;
      }
      break;
    case 0x12:
      if ((value & 0xFF) != 0) legacy_ = true;
      write_status(static_cast<std::uint8_t>(value));
      break;
    case 0x14:
      if (msix_enabled()) config_vector_ = sanitize_vector(static_cast<std::uint16_t>(value));
      break;
    case 0x16:
      if (msix_enabled() && queue_select_ < queues_.size()) {
        queues_[queue_select_].vector = sanitize_vector(static_cast<std::uint16_t>(value));
      }
      break;
    default:
      break;
  }
}

// Legacy ring placement (§2.7.2 legacy interface): descriptors at PFN * 4096, the available
// ring right after them, the used ring at the next 4096-byte boundary. PFN 0 stops the queue.
void PciTransport::legacy_set_pfn(std::uint32_t pfn) {
  if (queue_select_ >= queues_.size()) return;
  Queue& q = queues_[queue_select_];
  if (pfn == 0) {
    q.vq.stop();
    q.enabled = false;
    q.desc = q.driver = q.device = 0;
    return;
  }
  const std::uint64_t size = device_.queue_max_size();
  q.size = device_.queue_max_size();
  q.desc = std::uint64_t{pfn} << 12;
  q.driver = q.desc + 16 * size;
  q.device = (q.driver + 4 + 2 * size + 2 + 4095) & ~std::uint64_t{4095};
  q.enabled = true;
  if (status_ & kStatusDriverOk) start_queue(queue_select_);
}

}  // namespace aero::devices::virtio
