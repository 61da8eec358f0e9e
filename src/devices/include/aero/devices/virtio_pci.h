// The virtio PCI transport (virtio 1.2 §4.1): configuration space with the virtio vendor
// capabilities, BAR0 with the modern structures, an optional legacy I/O BAR (transitional
// device, §4.1.4.8), MSI-X and INTx, the device status handshake, feature negotiation and
// reset. It knows no device type: a DeviceModel supplies features, queues and the
// device-specific configuration, and uses the transport's virtqueues and notifications.
//
// Identity and layout follow Aero's "AERO-W7-VIRTIO v1" contract so Aero's Windows 7 drivers
// find what they expect:
//
//   vendor 1AF4, device 1040 + type (modern) or 1000 + type - 1 (transitional),
//   revision 1 (0 when transitional, §4.1.2.1), class 02/00/00, subsystem 1AF4 / type, INTA#.
//
//   BAR0 (64-bit memory, 16 KiB)        BAR2 (I/O, 256 bytes, transitional only)
//   0x0000  common configuration         legacy header (§4.1.4.8), then device config
//   0x1000  notifications (4 * queue)
//   0x2000  ISR status (read clears)
//   0x3000  device configuration
//   0x3100  MSI-X table (16 * vectors), then the PBA 8-byte aligned
//
//   Capabilities: 0x40 common, 0x50 notify (multiplier 4), 0x64 ISR, 0x74 device,
//   0x84 PCI configuration access (cfg_type 5, §4.1.4.9), 0x98 MSI-X.
//
// Accesses: BAR0 needs PCI Command Memory Space (reads return all ones otherwise), BAR2 needs
// I/O Space, and every DMA needs Bus Master Enable. Common-configuration fields accept any
// access size; a write that covers part of a field merges into it.
//
// Device status (§2.1, §3.1): writing 0 resets the device. FEATURES_OK is kept only when the
// driver's features are a subset of the offered ones, include VERSION_1 (modern interface) and
// pass the device's dependency rules; otherwise it reads back clear. DRIVER_OK (after
// FEATURES_OK, or directly for a legacy driver) starts the enabled queues. The device sets
// DEVICE_NEEDS_RESET on an unrecoverable queue error and sends a configuration change
// notification; nothing is processed until the driver resets the device. FAILED stops
// processing too.
//
// Interrupts (§4.1.4.5, §4.1.5): with MSI-X enabled, each queue and the configuration use the
// vector the driver chose; NO_VECTOR (0xFFFF) or a vector beyond the table suppresses the
// message; a masked vector (or function mask) sets its pending bit and the message is sent when
// it is unmasked. Without MSI-X, ISR bit 0 (queue) or bit 1 (configuration) is set and INTx is
// asserted while ISR != 0 and Command.INTx Disable is clear; reading ISR clears it and lowers
// the line. A vector register written while MSI-X is disabled, or with a value beyond the
// table, reads back NO_VECTOR (as Aero's model does).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "aero/devices/device_host.h"
#include "aero/devices/virtqueue.h"

namespace aero::devices::virtio {

// Device status bits (§2.1).
inline constexpr std::uint8_t kStatusAcknowledge = 1;
inline constexpr std::uint8_t kStatusDriver = 2;
inline constexpr std::uint8_t kStatusDriverOk = 4;
inline constexpr std::uint8_t kStatusFeaturesOk = 8;
inline constexpr std::uint8_t kStatusNeedsReset = 0x40;
inline constexpr std::uint8_t kStatusFailed = 0x80;

// Device-independent feature bits (§6).
inline constexpr std::uint64_t kFeatureIndirectDesc = 1ULL << 28;
inline constexpr std::uint64_t kFeatureEventIdx = 1ULL << 29;
inline constexpr std::uint64_t kFeatureVersion1 = 1ULL << 32;
inline constexpr std::uint64_t kFeatureRingPacked = 1ULL << 34;

inline constexpr std::uint16_t kNoVector = 0xFFFF;

// PCI identity and layout constants (see the file comment).
inline constexpr std::uint16_t kPciVendorId = 0x1AF4;
inline constexpr std::uint16_t kPciModernDeviceBase = 0x1040;
inline constexpr std::uint16_t kPciTransitionalDeviceBase = 0x0FFF;  // + type: net = 0x1000
inline constexpr std::uint32_t kBar0Size = 0x4000;
inline constexpr std::uint32_t kLegacyBarSize = 0x100;
inline constexpr std::uint32_t kCommonCfgOffset = 0x0000;
inline constexpr std::uint32_t kNotifyOffset = 0x1000;
inline constexpr std::uint32_t kNotifyMultiplier = 4;
inline constexpr std::uint32_t kIsrOffset = 0x2000;
inline constexpr std::uint32_t kDeviceCfgOffset = 0x3000;
inline constexpr std::uint32_t kMsixTableOffset = 0x3100;
inline constexpr std::uint32_t kRegionSize = 0x100;  // common, notify and device regions
inline constexpr std::uint32_t kIsrRegionSize = 0x20;
inline constexpr std::uint8_t kCapCommon = 0x40, kCapNotify = 0x50, kCapIsr = 0x64,
                              kCapDevice = 0x74, kCapPciCfg = 0x84, kCapMsix = 0x98;
// PCI Command register bits (PCI 3.0 §6.2.2).
inline constexpr std::uint16_t kPciCommandIo = 1U << 0;
inline constexpr std::uint16_t kPciCommandMemory = 1U << 1;
inline constexpr std::uint16_t kPciCommandBusMaster = 1U << 2;
inline constexpr std::uint16_t kPciCommandIntxDisable = 1U << 10;

// What a virtio device type provides to the transport.
class DeviceModel {
 public:
  virtual ~DeviceModel() = default;
  virtual std::uint16_t device_type() const = 0;
  // PCI class code: base class << 16 | subclass << 8 | programming interface.
  virtual std::uint32_t pci_class() const = 0;
  virtual std::uint64_t offered_features() const = 0;
  // Device-specific rules on a feature set already known to be offered (dependencies).
  virtual bool features_acceptable(std::uint64_t features) const = 0;
  virtual std::uint16_t queue_count() const = 0;
  virtual std::uint16_t queue_max_size() const = 0;
  // Device configuration space (little-endian); reads beyond it return 0.
  virtual std::uint32_t config_size() const = 0;
  virtual std::uint8_t config_byte(std::uint32_t offset) const = 0;
  // A driver write to the configuration (legacy drivers may write the MAC, §5.1.4.2).
  virtual void config_write_byte(std::uint32_t offset, std::uint8_t value, bool legacy) = 0;
  virtual void device_reset() = 0;                      // status 0 written (or transport reset)
  virtual void driver_ok() = 0;                         // queues started
  virtual void queue_notified(std::uint16_t queue) = 0;  // available-buffer notification
};

struct PciTransportConfig {
  bool transitional = false;  // legacy I/O BAR2 and the transitional device ID
  bool msix = true;           // MSI-X capability (needs InterruptLine::signal_msix)
};

struct PciTransportCounters {
  std::uint64_t notifications = 0;       // available-buffer notifications received
  std::uint64_t bad_notifications = 0;   // to a queue that does not exist
  std::uint64_t features_rejected = 0;   // FEATURES_OK refused
  std::uint64_t protocol_errors = 0;     // DRIVER_OK without FEATURES_OK, bad queue setup
  std::uint64_t device_errors = 0;       // DEVICE_NEEDS_RESET raised
  std::uint64_t msix_messages = 0;
  std::uint64_t msix_suppressed = 0;     // NO_VECTOR or a vector beyond the table
  std::uint64_t msix_pending = 0;        // held by a mask
  std::uint64_t intx_raised = 0;
  std::uint64_t config_changes = 0;
  std::uint64_t resets = 0;
};

class PciTransport {
 public:
  PciTransport(GuestMemory& memory, InterruptLine& irq, DeviceModel& device,
               PciTransportConfig config);
  // Builds configuration space and queues from the device model; call once, after the
  // device model is constructed.
  void init();

  // ---- Bus windows ---------------------------------------------------------------------------
  std::uint32_t config_read(std::uint32_t offset, unsigned size);
  void config_write(std::uint32_t offset, unsigned size, std::uint32_t value);
  std::uint64_t bar0_read(std::uint32_t offset, unsigned size);
  void bar0_write(std::uint32_t offset, unsigned size, std::uint64_t value);
  std::uint32_t legacy_read(std::uint32_t offset, unsigned size);
  void legacy_write(std::uint32_t offset, unsigned size, std::uint32_t value);

  // ---- For the device model ------------------------------------------------------------------
  // DRIVER_OK set, no NEEDS_RESET or FAILED, bus mastering on.
  bool device_ok() const;
  // device_ok() and the queue started.
  bool queue_ready(std::uint16_t queue) const;
  Virtqueue& queue(std::uint16_t queue) { return queues_[queue].vq; }
  std::uint64_t features() const { return features_; }
  bool has(std::uint64_t feature) const { return (features_ & feature) != 0; }
  bool legacy() const { return legacy_; }
  // Publishes the queue's completions and sends the used-buffer notification if wanted.
  // False (and NEEDS_RESET) when the queue broke.
  bool publish(std::uint16_t queue);
  // A configuration change (§2.5.1): bumps config_generation and, when `notify` and after
  // DRIVER_OK, sends a configuration change notification.
  void config_changed(bool notify = true);
  // An unrecoverable error: DEVICE_NEEDS_RESET and a configuration change notification.
  void device_error();
  // DMA through this object is refused while Bus Master Enable is clear.
  GuestMemory& dma() { return dma_; }

  // ---- State ---------------------------------------------------------------------------------
  std::uint8_t status() const { return status_; }
  std::uint8_t isr() const { return isr_; }
  bool irq_level() const { return intx_level_; }
  bool msix_enabled() const;
  bool bus_master() const { return (command() & kPciCommandBusMaster) != 0; }
  std::uint16_t msix_vectors() const { return msix_vectors_; }
  const PciTransportCounters& counters() const { return counters_; }

 private:
  struct Queue {
    Virtqueue vq;
    std::uint16_t size = 0;
    std::uint16_t vector = kNoVector;
    bool enabled = false;
    std::uint64_t desc = 0, driver = 0, device = 0;
  };
  // Bus-master gate in front of guest memory.
  class DmaGate final : public GuestMemory {
   public:
    DmaGate(GuestMemory& memory, const PciTransport& transport)
        : memory_(memory), transport_(transport) {}
    bool read(std::uint64_t gpa, std::span<std::uint8_t> out) override {
      return transport_.bus_master() && memory_.read(gpa, out);
    }
    bool write(std::uint64_t gpa, std::span<const std::uint8_t> data) override {
      return transport_.bus_master() && memory_.write(gpa, data);
    }

   private:
    GuestMemory& memory_;
    const PciTransport& transport_;
  };

  std::uint16_t command() const;
  void reset();
  void write_status(std::uint8_t value);
  bool negotiate();
  void start_queue(std::uint16_t index);
  void start_queues();
  // Common configuration (§4.1.4.3): a 64-byte image; writes merge into fields.
  void common_image(std::array<std::uint8_t, 0x40>& out) const;
  std::uint64_t common_read(std::uint32_t offset, unsigned size) const;
  void common_write(std::uint32_t offset, unsigned size, std::uint64_t value);
  void common_field_write(std::uint32_t field, std::uint64_t value);
  std::uint16_t sanitize_vector(std::uint16_t vector) const;
  // Interrupts.
  void signal(std::uint16_t vector, std::uint8_t isr_bit);
  void update_intx();
  std::uint64_t msix_read(std::uint32_t offset, unsigned size) const;
  void msix_write(std::uint32_t offset, unsigned size, std::uint64_t value);
  bool msix_masked(std::uint16_t vector) const;
  void msix_deliver_pending();
  // Legacy header (§4.1.4.8).
  std::uint32_t legacy_config_offset() const { return msix_enabled() ? 0x18 : 0x14; }
  void legacy_set_pfn(std::uint32_t pfn);
  std::uint8_t device_config_read_byte(std::uint32_t offset) const;
  // BAR0 without the Memory Space gate (also used by the PCI configuration access capability).
  std::uint64_t bar0_access_read(std::uint32_t offset, unsigned size);
  void bar0_access_write(std::uint32_t offset, unsigned size, std::uint64_t value);
  void msix_deliver(std::uint16_t vector);
  std::uint32_t pci_cfg_read_data();
  void pci_cfg_write_data(std::uint32_t value);

  GuestMemory& memory_;
  InterruptLine& irq_;
  DeviceModel& device_;
  PciTransportConfig config_;
  DmaGate dma_;
  std::array<std::uint8_t, 256> pci_{};
  std::vector<Queue> queues_;
  std::uint16_t msix_vectors_ = 0;
  std::vector<std::uint8_t> msix_table_;
  std::vector<std::uint64_t> msix_pba_;
  std::uint32_t msix_pba_offset_ = 0;
  // Transport registers.
  std::uint8_t status_ = 0;
  std::uint8_t isr_ = 0;
  std::uint8_t config_generation_ = 0;
  bool intx_level_ = false;
  bool legacy_ = false;
  std::uint32_t device_feature_select_ = 0;
  std::uint32_t driver_feature_select_ = 0;
  std::uint64_t driver_features_ = 0;
  std::uint64_t features_ = 0;
  std::uint16_t config_vector_ = kNoVector;
  std::uint16_t queue_select_ = 0;
  PciTransportCounters counters_{};
};

}  // namespace aero::devices::virtio
