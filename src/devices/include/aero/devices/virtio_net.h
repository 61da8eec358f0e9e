// VirtioNet: a virtio network device (virtio 1.2 §5.1) behind the virtio PCI transport, with
// one queue pair (receiveq1 = 0, transmitq1 = 1) and an optional control queue (2).
//
// Offered by default: VERSION_1, RING_PACKED, INDIRECT_DESC, EVENT_IDX, MAC, STATUS, MTU,
// CSUM, GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6, MRG_RXBUF, CTRL_VQ, CTRL_RX, CTRL_RX_EXTRA,
// CTRL_MAC_ADDR. VirtioNetConfig::aero_w7_contract() gives Aero's contract instead (VERSION_1,
// INDIRECT_DESC, MAC, STATUS; two queues; 10-byte header), for Aero's Windows 7 driver.
//
// Work model (single-threaded, like the E1000 model):
//  * transmit happens in poll(budget): at most `budget` TX chains per call after the driver
//    notified the transmit queue (or a previous poll stopped at its budget); control commands
//    are handled in the same call. next_deadline() returns `now` while TX work remains.
//  * receive happens in receive(frame), called by the backend. It returns RxResult::hold when
//    the guest has not posted enough buffers: nothing is taken from the ring and the backend
//    offers the frame again later. With MRG_RXBUF a frame is spread over as many buffers as it
//    needs, all taken together or none.
//  * Offloads toward the backend: a TSO frame from the guest goes to an OffloadFramePort as one
//    large frame with its FrameOffload when one is attached and takes that GSO type and size;
//    otherwise the device segments it (TcpSegmenter) and sends the segments through
//    FramePort::transmit(). Partial checksums likewise: handed over, or completed here.
//  * Offloads toward the guest: receive(frame, offload) takes a large TCP frame or a partial
//    checksum from the backend; the guest gets it as is when it negotiated GUEST_TSO4/6 or
//    GUEST_CSUM, else the device segments it or completes the checksum.
//  * Receive filtering (§5.1.6.5.1-2): with CTRL_RX negotiated the driver's promiscuous,
//    all-multicast, all-unicast, no-multicast, no-unicast, no-broadcast modes and MAC table
//    (64 entries; more switches that class to "all") apply. Promiscuous mode is on after reset,
//    as in QEMU, so a driver that never sends RX commands loses nothing.
// No allocation happens per frame: TX assembly, segment and RX staging buffers are allocated
// at construction. Snapshot/restore is not implemented yet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "aero/base/bytes.h"
#include "aero/base/clock.h"
#include "aero/devices/device_host.h"
#include "aero/devices/net_offload.h"
#include "aero/devices/virtio_pci.h"

namespace aero::devices {

namespace virtio_net {
// Feature bits (§5.1.3).
inline constexpr std::uint64_t kCsum = 1ULL << 0;
inline constexpr std::uint64_t kGuestCsum = 1ULL << 1;
inline constexpr std::uint64_t kMtu = 1ULL << 3;
inline constexpr std::uint64_t kMac = 1ULL << 5;
inline constexpr std::uint64_t kGuestTso4 = 1ULL << 7;
inline constexpr std::uint64_t kGuestTso6 = 1ULL << 8;
inline constexpr std::uint64_t kHostTso4 = 1ULL << 11;
inline constexpr std::uint64_t kHostTso6 = 1ULL << 12;
inline constexpr std::uint64_t kMrgRxbuf = 1ULL << 15;
inline constexpr std::uint64_t kStatus = 1ULL << 16;
inline constexpr std::uint64_t kCtrlVq = 1ULL << 17;
inline constexpr std::uint64_t kCtrlRx = 1ULL << 18;
inline constexpr std::uint64_t kCtrlRxExtra = 1ULL << 20;
inline constexpr std::uint64_t kCtrlMacAddr = 1ULL << 23;
// Everything this model implements (the generic ring features included).
inline constexpr std::uint64_t kImplemented =
    kCsum | kGuestCsum | kMtu | kMac | kGuestTso4 | kGuestTso6 | kHostTso4 | kHostTso6 |
    kMrgRxbuf | kStatus | kCtrlVq | kCtrlRx | kCtrlRxExtra | kCtrlMacAddr |
    virtio::kFeatureIndirectDesc | virtio::kFeatureEventIdx | virtio::kFeatureVersion1 |
    virtio::kFeatureRingPacked;
// Aero's AERO-W7-VIRTIO v1 contract set.
inline constexpr std::uint64_t kAeroW7Contract =
    kMac | kStatus | virtio::kFeatureIndirectDesc | virtio::kFeatureVersion1;

// struct virtio_net_hdr (§5.1.6): flags, gso_type, hdr_len, gso_size, csum_start,
// csum_offset, num_buffers.
inline constexpr std::uint8_t kHdrNeedsCsum = 1;
inline constexpr std::uint8_t kHdrDataValid = 2;
inline constexpr std::uint8_t kGsoNone = 0, kGsoTcpv4 = 1, kGsoUdp = 3, kGsoTcpv6 = 4, kGsoEcn = 0x80;
inline constexpr std::size_t kHeaderLength = 12;        // with num_buffers
inline constexpr std::size_t kShortHeaderLength = 10;   // legacy without MRG_RXBUF
inline constexpr std::uint16_t kStatusLinkUp = 1;
// Control queue (§5.1.6.5).
inline constexpr std::uint8_t kCtrlClassRx = 0, kCtrlClassMac = 1;
inline constexpr std::uint8_t kCtrlRxPromisc = 0, kCtrlRxAllmulti = 1, kCtrlRxAlluni = 2,
                              kCtrlRxNomulti = 3, kCtrlRxNouni = 4, kCtrlRxNobcast = 5;
inline constexpr std::uint8_t kCtrlMacTableSet = 0, kCtrlMacAddrSet = 1;
inline constexpr std::uint8_t kCtrlOk = 0, kCtrlErr = 1;
}  // namespace virtio_net

struct VirtioNetConfig {
  std::array<std::uint8_t, 6> mac{0x52, 0x54, 0x00, 0x12, 0x34, 0x57};
  std::uint64_t features = virtio_net::kImplemented;  // offered (masked to kImplemented)
  std::uint16_t mtu = 1500;          // reported with VIRTIO_NET_F_MTU (68..65535)
  std::uint16_t queue_size = 256;    // maximum queue size, a power of two (1..32768)
  bool transitional = false;         // legacy I/O BAR as well (device ID 0x1000)
  bool msix = true;
  // Aero's Windows 7 driver uses the 10-byte header even with VERSION_1; the specification
  // has 12 bytes whenever VERSION_1 or MRG_RXBUF is negotiated (§5.1.6.1 legacy note).
  bool short_header_with_version_1 = false;

  // Aero's contract: features, queue count and header as Aero's own virtio-net model.
  static VirtioNetConfig aero_w7_contract() {
    VirtioNetConfig c;
    c.features = virtio_net::kAeroW7Contract;
    c.short_header_with_version_1 = true;
    return c;
  }
};

// Why frames, buffers or commands were refused; every drop has exactly one counter.
struct VirtioNetCounters {
  std::uint64_t tx_frames = 0;            // frames handed to the backend (segments included)
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_gso_frames = 0;        // TSO frames from the guest
  std::uint64_t tx_gso_segments = 0;      // segments the device cut
  std::uint64_t tx_offloaded = 0;         // frames given to the OffloadFramePort whole
  std::uint64_t tx_csum_completed = 0;    // partial checksums completed by the device
  std::uint64_t tx_bad_chain = 0;         // malformed chain (completed with length 0)
  std::uint64_t tx_bad_header = 0;        // header shorter than required, or unnegotiated GSO
  std::uint64_t tx_runt = 0;              // frame shorter than an Ethernet header
  std::uint64_t tx_oversize = 0;          // frame beyond kMaxFrameLength
  std::uint64_t tx_offload_errors = 0;    // GSO/checksum request inconsistent with the frame
  std::uint64_t tx_dma_errors = 0;        // buffer outside guest memory
  std::uint64_t tx_link_down = 0;
  std::uint64_t tx_backend_refused = 0;
  std::uint64_t rx_frames = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_buffers = 0;           // receive buffers used (num_buffers summed)
  std::uint64_t rx_gso_segments = 0;      // segments the device cut for a guest without GUEST_TSO
  std::uint64_t rx_csum_completed = 0;
  std::uint64_t rx_hold = 0;              // not enough buffers: backend keeps the frame
  std::uint64_t rx_not_ready = 0;         // driver not ready, queue not started, no bus master
  std::uint64_t rx_link_down = 0;
  std::uint64_t rx_filtered = 0;          // destination not accepted by the RX mode / MAC table
  std::uint64_t rx_runt = 0;
  std::uint64_t rx_oversize = 0;          // beyond the negotiated MTU or kMaxFrameLength
  std::uint64_t rx_offload_errors = 0;    // offload description inconsistent with the frame
  std::uint64_t rx_too_big_for_buffer = 0;  // (no MRG_RXBUF) the next buffer is too small
  std::uint64_t rx_too_big_for_ring = 0;    // (MRG_RXBUF) the whole ring is too small
  std::uint64_t rx_bad_chain = 0;         // malformed buffer (completed with length 0)
  std::uint64_t rx_buffers_discarded = 0; // buffers completed with length 0 with a bad one
  std::uint64_t rx_device_error = 0;      // frame lost to an unrecoverable ring error
  std::uint64_t ctrl_commands = 0;
  std::uint64_t ctrl_errors = 0;          // answered VIRTIO_NET_ERR
  std::uint64_t ctrl_bad_chain = 0;
};

class VirtioNet final : private virtio::DeviceModel {
 public:
  static constexpr std::uint16_t kRxQueue = 0, kTxQueue = 1, kCtrlQueue = 2;
  static constexpr std::uint16_t kDeviceType = 1;
  // Ethernet header + 802.1Q tag + the largest IPv4/IPv6 payload.
  static constexpr std::size_t kMaxFrameLength = 14 + 4 + 65535;
  static constexpr std::size_t kMinFrameLength = 14;
  static constexpr std::size_t kMaxTsoSegments = 1024;
  static constexpr std::size_t kMacTableEntries = 64;
  static constexpr std::size_t kCtrlMaxCommand = 65536;  // readable bytes of one command

  VirtioNet(GuestMemory& memory, InterruptLine& irq, FramePort& port, const Clock& clock,
            VirtioNetConfig config = {});
  VirtioNet(const VirtioNet&) = delete;
  VirtioNet& operator=(const VirtioNet&) = delete;

  // ---- Bus windows ---------------------------------------------------------------------------
  std::uint32_t config_read(std::uint32_t offset, unsigned size) { return transport_.config_read(offset, size); }
  void config_write(std::uint32_t offset, unsigned size, std::uint32_t value) {
    transport_.config_write(offset, size, value);
  }
  // BAR0, sizes 1, 2, 4, 8.
  std::uint64_t mmio_read(std::uint32_t offset, unsigned size) { return transport_.bar0_read(offset, size); }
  void mmio_write(std::uint32_t offset, unsigned size, std::uint64_t value) {
    transport_.bar0_write(offset, size, value);
  }
  // BAR2 of a transitional device (legacy header), sizes 1, 2, 4.
  std::uint32_t pio_read(std::uint32_t offset, unsigned size) { return transport_.legacy_read(offset, size); }
  void pio_write(std::uint32_t offset, unsigned size, std::uint32_t value) {
    transport_.legacy_write(offset, size, value);
  }

  // ---- Backend side --------------------------------------------------------------------------
  RxResult receive(ByteSpan frame) { return receive(frame, FrameOffload{}); }
  RxResult receive(ByteSpan frame, const FrameOffload& offload);
  // Optional: a backend that takes large and partially checksummed frames whole.
  void set_offload_port(OffloadFramePort* port) { offload_port_ = port; }
  // Link state (VIRTIO_NET_S_LINK_UP); a change is a configuration change notification.
  void set_link_up(bool up);
  bool link_up() const { return link_up_; }
  // True when the driver is ready and has posted at least one receive buffer.
  bool rx_ready();

  // ---- Time ----------------------------------------------------------------------------------
  // Transmits up to `budget` frames (chains) and handles pending control commands. Returns the
  // number of chains processed.
  unsigned poll(unsigned budget);
  unsigned poll(Instant /*now*/, unsigned budget) { return poll(budget); }
  // `now` while transmit work remains, nullopt when idle.
  std::optional<Instant> next_deadline() const;

  // ---- State ---------------------------------------------------------------------------------
  const VirtioNetCounters& counters() const { return counters_; }
  const virtio::PciTransportCounters& transport_counters() const { return transport_.counters(); }
  std::array<std::uint8_t, 6> mac() const { return mac_; }
  std::uint8_t device_status() const { return transport_.status(); }
  std::uint64_t negotiated_features() const { return transport_.features(); }
  std::uint64_t offered_features() const override { return offered_; }
  bool irq_level() const { return transport_.irq_level(); }
  // Header length in use (12, or 10 for a legacy driver / Aero's contract without MRG_RXBUF).
  std::size_t header_length() const;
  bool promiscuous() const { return filter_.promisc; }

 private:
  struct RxFilter {
    bool promisc = true, allmulti = false, alluni = false;
    bool nomulti = false, nouni = false, nobcast = false;
    bool uni_overflow = false, multi_overflow = false;
    std::size_t unicast = 0, multicast = 0;  // entries used in the tables
    std::array<std::array<std::uint8_t, 6>, kMacTableEntries> uni{}, multi{};
  };
  // One packet to place in receive buffers: the virtio-net header fields and the bytes.
  struct RxPacket {
    std::array<std::uint8_t, virtio_net::kHeaderLength> header{};
    ByteSpan bytes;
  };
  enum class Place : std::uint8_t { ok, empty, too_big, ring_too_small, bad_chain, broken };
  struct Pending {
    virtio::DescriptorChain chain;
    std::uint32_t written = 0;
  };

  // virtio::DeviceModel
  std::uint16_t device_type() const override { return kDeviceType; }
  std::uint32_t pci_class() const override { return 0x020000; }  // network, Ethernet
  bool features_acceptable(std::uint64_t features) const override;
  std::uint16_t queue_count() const override;
  std::uint16_t queue_max_size() const override { return config_.queue_size; }
  std::uint32_t config_size() const override { return 12; }
  std::uint8_t config_byte(std::uint32_t offset) const override;
  void config_write_byte(std::uint32_t offset, std::uint8_t value, bool legacy) override;
  void device_reset() override;
  void driver_ok() override;
  void queue_notified(std::uint16_t queue) override;

  bool has(std::uint64_t feature) const { return transport_.has(feature); }
  // tx.cpp
  unsigned tx_run(unsigned budget);
  void tx_chain(const virtio::DescriptorChain& chain);
  void tx_gso(std::span<std::uint8_t> frame, GsoType type, std::uint16_t mss);
  void tx_emit(ByteSpan frame);
  // rx.cpp
  bool rx_accepts(ByteSpan frame) const;
  RxResult rx_deliver(const RxPacket& packet, bool segmented);
  Place rx_place(const RxPacket& packet);
  void rx_discard_bad_chains(const virtio::Virtqueue::Mark& start);
  // ctrl.cpp
  unsigned ctrl_run();
  std::uint8_t ctrl_command(ByteSpan command);
  std::uint8_t ctrl_mac_table(ByteSpan data);

  FramePort& port_;
  const Clock& clock_;
  VirtioNetConfig config_;
  std::uint64_t offered_ = 0;
  OffloadFramePort* offload_port_ = nullptr;
  std::array<std::uint8_t, 6> mac_{};
  bool link_up_ = true;
  bool tx_pending_ = false;
  bool ctrl_pending_ = false;
  RxFilter filter_{};
  std::vector<std::uint8_t> tx_buf_;     // header + frame as read from the guest
  std::vector<std::uint8_t> seg_buf_;    // one segment (TX and RX)
  std::vector<std::uint8_t> rx_stage_;   // RX frame copy when the device must change it
  std::vector<std::uint8_t> ctrl_buf_;
  std::vector<Pending> pending_;         // RX buffers taken for the frame being placed
  std::size_t rx_chains_popped_ = 0;     // chains taken by the frame being placed
  TcpSegmenter segmenter_;
  VirtioNetCounters counters_{};
  virtio::PciTransport transport_;
};

}  // namespace aero::devices
