// The object behind the C API's opaque virtio-net handle (virtio_net_c.h), shared by the
// device and pump halves of the C API: the callback table adapted to the C++ host interfaces,
// and the device built on it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "aero/devices/virtio_net.h"
#include "aero/devices/virtio_net_c.h"

namespace aero::devices::virtio_c {

class CallbackHost final : public GuestMemory, public InterruptLine, public FramePort, public Clock {
 public:
  explicit CallbackHost(const aero_virtio_net_host& host) : host_(host) {}

  bool read(std::uint64_t gpa, std::span<std::uint8_t> out) override {
    return host_.mem_read(host_.user, gpa, out.data(), out.size()) != 0;
  }
  bool write(std::uint64_t gpa, std::span<const std::uint8_t> data) override {
    return host_.mem_write(host_.user, gpa, data.data(), data.size()) != 0;
  }
  void set_level(bool asserted) override { host_.set_irq(host_.user, asserted ? 1 : 0); }
  // aero_virtio_net_create refuses MSI-X without the callback; a device without the MSI-X
  // capability never sends messages.
  void signal_msix(std::uint16_t vector, std::uint64_t address, std::uint32_t data) override {
    if (host_.signal_msix != nullptr) host_.signal_msix(host_.user, vector, address, data);
  }
  bool transmit(ByteSpan frame) override {
    return host_.transmit(host_.user, frame.data(), frame.size()) != 0;
  }
  Instant now() const override {
    return Instant(std::chrono::nanoseconds(
        static_cast<std::int64_t>(std::min<std::uint64_t>(host_.now_ns(host_.user), INT64_MAX))));
  }
  std::int64_t unix_ms() const override { return 0; }

 private:
  aero_virtio_net_host host_;
};

}  // namespace aero::devices::virtio_c

struct aero_virtio_net {
  aero_virtio_net(const aero_virtio_net_host& h, const aero::devices::VirtioNetConfig& config)
      : host(h), device(host, host, host, host, config) {}
  aero::devices::virtio_c::CallbackHost host;
  aero::devices::VirtioNet device;
};
