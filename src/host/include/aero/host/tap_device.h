// TAP devices: the guest side of a network namespace (or of any local VM) as a file descriptor
// of raw Ethernet frames.
#pragma once

#include <string>

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
};

// Opens (creating if needed) the TAP device `options.name` with IFF_TAP | IFF_NO_PI, in
// non-blocking mode. A TAP belongs to the namespace of the process that opens /dev/net/tun, so
// for `netns` this thread enters the namespace, opens the device, and returns to its own.
Result<FileDescriptor> open_tap(const TapOptions& options);

}  // namespace aero::host
