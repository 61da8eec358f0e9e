// TAP devices: the guest side of a network namespace (or of any local VM) as a file descriptor
// of raw Ethernet frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "aero/base/bytes.h"
#include "aero/base/result.h"

namespace aero::host {

// An owned file descriptor, closed on destruction.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();

  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct TapOptions {
  std::string name = "tap0";
  // A named network namespace (as `ip netns add` makes, under /var/run/netns) to open the TAP
  // in; empty for the current namespace. Needs CAP_SYS_ADMIN.
  std::string netns;
  // Bring the link up after attaching (the guest's DHCP client needs carrier).
  bool bring_up = true;
  // IFF_VNET_HDR and offloads: 64 KiB TCP segments both ways (see below).
  bool vnet_header = false;
};

// Opens (creating if needed) the TAP device `options.name` with IFF_TAP | IFF_NO_PI, in
// non-blocking mode. A TAP belongs to the namespace of the process that opens /dev/net/tun, so
// for `netns` this thread enters the namespace, opens the device, and returns to its own.
Result<FileDescriptor> open_tap(const TapOptions& options);

// ---- virtio-net headers (IFF_VNET_HDR) ------------------------------------------------------
//
// With IFF_VNET_HDR every frame read from or written to the device starts with a struct
// virtio_net_hdr (virtio 1.2 §5.1.6: flags, gso_type, hdr_len, gso_size, csum_start,
// csum_offset; 10 bytes, host byte order for a TAP device on a little-endian host), and open_tap
// turns on checksum and TCPv4 segmentation offload (TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4):
//   * toward the guest, a header with VIRTIO_NET_HDR_GSO_TCPV4 lets one write carry a 64 KiB
//     TCP segment that the guest's kernel cuts into frames of gso_size data bytes;
//   * from the guest, the kernel may hand us such a segment whole, and leaves the checksums of
//     what it sends partial (VIRTIO_NET_HDR_F_NEEDS_CSUM): tap_frame_from_read completes them,
//     so that the session sees ordinary (if large) frames with valid checksums.
inline constexpr std::size_t kVnetHeaderLength = 10;

// Whether the open TAP device `fd` has IFF_VNET_HDR.
bool tap_has_vnet_header(int fd);
// What a read() from a device with IFF_VNET_HDR returned, header first: the frame behind the
// header, its checksum completed where the kernel left it partial. nullopt for a read shorter
// than the header or a checksum position outside the frame.
std::optional<std::span<std::uint8_t>> tap_frame_from_read(std::span<std::uint8_t> read);
// Writes one frame, behind an all-zero header (no offload) when `vnet_header`.
bool write_tap_frame(int fd, bool vnet_header, ByteSpan frame);
// Writes one Ethernet + IPv4 + TCP frame with a complete checksum whose TCP data the kernel is
// to cut into frames of `frame_data` bytes (segmentation offload; needs IFF_VNET_HDR).
// False when the frame is not such a segment or the write failed.
bool write_tap_tcp_segment(int fd, ByteSpan frame, std::size_t frame_data);

}  // namespace aero::host
