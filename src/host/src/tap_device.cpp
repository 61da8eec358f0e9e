// TAP device set-up through /dev/net/tun (linux/if_tun.h), optionally inside another network
// namespace (setns(2)).
#include "aero/host/tap_device.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
  request.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(tun.get(), TUNSETIFF, &request) != 0) {
    return system_error("tap", "TUNSETIFF " + options.name);
  }
  if (options.bring_up) {
    if (auto up = set_link_up(options.name); !up) return up.error();
  }
  return tun;
}

}  // namespace aero::host
