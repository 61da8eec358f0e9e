// TAP device set-up through /dev/net/tun (linux/if_tun.h), optionally inside another network
// namespace (setns(2)).
#include "aero/host/tap_device.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "aero/wire/checksum.h"

namespace aero::host {

namespace {

Error system_error(std::string_view kind, const std::string& what) {
  return make_error(kind, what + ": " + std::strerror(errno));
}

// Enters a network namespace for the lifetime of the object and returns on destruction.
class NetnsGuard {
 public:
  static Result<NetnsGuard> enter(const std::string& name) {
    NetnsGuard guard;
    if (name.empty()) return guard;
    guard.original_ = FileDescriptor(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!guard.original_.valid()) return system_error("netns", "cannot open own network namespace");
    const std::string path = "/var/run/netns/" + name;
    FileDescriptor target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!target.valid()) return system_error("netns", "cannot open network namespace " + path);
    if (::setns(target.get(), CLONE_NEWNET) != 0) {
      return system_error("netns", "cannot enter network namespace " + name);
    }
    return guard;
  }
  NetnsGuard(NetnsGuard&&) = default;
  NetnsGuard& operator=(NetnsGuard&&) = default;
  ~NetnsGuard() {
    if (original_.valid()) (void)::setns(original_.get(), CLONE_NEWNET);
  }

 private:
  NetnsGuard() = default;
  FileDescriptor original_;
};

Result<void> set_link_up(const std::string& name) {
  FileDescriptor control(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!control.valid()) return system_error("tap", "socket for SIOCSIFFLAGS");
  ifreq request{};
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(control.get(), SIOCGIFFLAGS, &request) != 0) {
    return system_error("tap", "SIOCGIFFLAGS " + name);
  }
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (::ioctl(control.get(), SIOCSIFFLAGS, &request) != 0) {
    return system_error("tap", "SIOCSIFFLAGS " + name);
  }
  return {};
}

}  // namespace

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

Result<FileDescriptor> open_tap(const TapOptions& options) {
  if (options.name.empty() || options.name.size() >= IFNAMSIZ) {
    return make_error("tap", "TAP name must be 1.." + std::to_string(IFNAMSIZ - 1) + " characters");
  }
  auto netns = NetnsGuard::enter(options.netns);
  if (!netns) return netns.error();
  FileDescriptor tun(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!tun.valid()) return system_error("tap", "cannot open /dev/net/tun");
  ifreq request{};
  std::strncpy(request.ifr_name, options.name.c_str(), IFNAMSIZ - 1);
  request.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | (options.vnet_header ? IFF_VNET_HDR : 0));
  if (::ioctl(tun.get(), TUNSETIFF, &request) != 0) {
    return system_error("tap", "TUNSETIFF " + options.name);
  }
  if (options.vnet_header &&
      ::ioctl(tun.get(), TUNSETOFFLOAD, static_cast<unsigned long>(TUN_F_CSUM | TUN_F_TSO4)) != 0) {
    return system_error("tap", "TUNSETOFFLOAD " + options.name);
  }
  if (options.bring_up) {
    if (auto up = set_link_up(options.name); !up) return up.error();
  }
  return tun;
}

namespace {

// struct virtio_net_hdr (virtio 1.2 §5.1.6), spelled out: <linux/virtio_net.h> is not valid C++.
struct VnetHeader {
  std::uint8_t flags = 0;
  std::uint8_t gso_type = 0;
  std::uint16_t hdr_len = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
};
static_assert(sizeof(VnetHeader) == kVnetHeaderLength);
constexpr std::uint8_t kVnetNeedsChecksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr std::uint8_t kVnetGsoTcpV4 = 1;       // VIRTIO_NET_HDR_GSO_TCPV4

bool write_parts(int fd, const VnetHeader& header, ByteSpan head, ByteSpan rest) {
  std::array<iovec, 3> parts{{
      {const_cast<VnetHeader*>(&header), sizeof header},
      {const_cast<std::uint8_t*>(head.data()), head.size()},
      {const_cast<std::uint8_t*>(rest.data()), rest.size()},
  }};
  const auto total = static_cast<ssize_t>(sizeof header + head.size() + rest.size());
  return ::writev(fd, parts.data(), static_cast<int>(parts.size())) == total;
}

}  // namespace

bool tap_has_vnet_header(int fd) {
  ifreq request{};
  return ::ioctl(fd, TUNGETIFF, &request) == 0 && (request.ifr_flags & IFF_VNET_HDR) != 0;
}

std::optional<std::span<std::uint8_t>> tap_frame_from_read(std::span<std::uint8_t> read) {
  if (read.size() < kVnetHeaderLength) return std::nullopt;
  VnetHeader header;
  std::memcpy(&header, read.data(), sizeof header);
  const std::span<std::uint8_t> frame = read.subspan(kVnetHeaderLength);
  if ((header.flags & kVnetNeedsChecksum) != 0) {
    // A partial checksum: the field holds the pseudo-header sum; the sum from csum_start to
    // the end, complemented, goes in its place.
    const std::size_t start = header.csum_start;
    const std::size_t field = start + std::size_t{header.csum_offset};
    if (field + 2 > frame.size()) return std::nullopt;
    const std::uint16_t sum = wire::ones_complement_sum(ByteSpan(frame).subspan(start));
    wire::store_be16(frame, field, static_cast<std::uint16_t>(~sum));
  }
  return frame;
}

bool write_tap_frame(int fd, bool vnet_header, ByteSpan frame) {
  if (!vnet_header) {
    return ::write(fd, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
  }
  return write_parts(fd, VnetHeader{}, frame.first(0), frame);
}

bool write_tap_tcp_segment(int fd, ByteSpan frame, std::size_t frame_data) {
  constexpr std::size_t kEthernet = 14;
  if (frame.size() < kEthernet + 20 + 20 || frame_data == 0 || frame_data > 0xFFFF) return false;
  const std::size_t ip_header = static_cast<std::size_t>(frame[kEthernet] & 0x0F) * 4;
  const std::size_t tcp_at = kEthernet + ip_header;
  if (ip_header < 20 || frame[kEthernet + 9] != 6 || frame.size() < tcp_at + 20) return false;
  const std::size_t tcp_header = static_cast<std::size_t>(frame[tcp_at + 12] >> 4) * 4;
  const std::size_t headers = tcp_at + tcp_header;
  if (tcp_header < 20 || frame.size() <= headers) return false;

  // The session computed the whole TCP checksum. TSO needs VIRTIO_NET_HDR_F_NEEDS_CSUM: the
  // kernel sums each frame from csum_start on, starting from what the checksum field holds,
  // which must then be the pseudo-header sum alone (RFC 9293 §3.1), for each frame's length —
  // the convention of a partial checksum. So the headers go out from a patched copy.
  std::array<std::uint8_t, kEthernet + 60 + 60> copy{};
  std::memcpy(copy.data(), frame.data(), headers);
  std::array<std::uint8_t, 12> pseudo{};
  std::memcpy(pseudo.data(), frame.data() + kEthernet + 12, 8);  // source, destination
  pseudo[9] = 6;                                                 // protocol: TCP
  wire::store_be16(pseudo, 10, static_cast<std::uint16_t>(frame.size() - tcp_at));
  wire::store_be16(copy, tcp_at + 16, wire::ones_complement_sum(pseudo));

  VnetHeader header;
  header.flags = kVnetNeedsChecksum;
  header.gso_type = kVnetGsoTcpV4;
  header.hdr_len = static_cast<std::uint16_t>(headers);
  header.gso_size = static_cast<std::uint16_t>(frame_data);
  header.csum_start = static_cast<std::uint16_t>(tcp_at);
  header.csum_offset = 16;  // the checksum's offset in the TCP header
  return write_parts(fd, header, ByteSpan(copy).first(headers), frame.subspan(headers));
}

}  // namespace aero::host
