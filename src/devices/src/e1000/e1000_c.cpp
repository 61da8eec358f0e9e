// C API for the E1000: adapters from the C callback table to the C++ host interfaces.
#include "aero/devices/e1000_c.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>

#include "aero/devices/e1000.h"

namespace {

using aero::devices::E1000;

class CallbackHost final : public aero::devices::GuestMemory,
                           public aero::devices::InterruptLine,
                           public aero::devices::FramePort,
                           public aero::Clock {
 public:
  explicit CallbackHost(const aero_e1000_host& host) : host_(host) {}

  bool read(std::uint64_t gpa, std::span<std::uint8_t> out) override {
    return host_.mem_read(host_.user, gpa, out.data(), out.size()) != 0;
  }
  bool write(std::uint64_t gpa, std::span<const std::uint8_t> data) override {
    return host_.mem_write(host_.user, gpa, data.data(), data.size()) != 0;
  }
  void set_level(bool asserted) override { host_.set_irq(host_.user, asserted ? 1 : 0); }
  bool transmit(aero::ByteSpan frame) override {
    return host_.transmit(host_.user, frame.data(), frame.size()) != 0;
  }
  aero::Instant now() const override {
    return aero::Instant(std::chrono::nanoseconds(
        static_cast<std::int64_t>(std::min<std::uint64_t>(host_.now_ns(host_.user), INT64_MAX))));
  }
  std::int64_t unix_ms() const override { return 0; }

 private:
  aero_e1000_host host_;
};

aero::devices::E1000Config config_for(const std::uint8_t* mac) {
  aero::devices::E1000Config config;
  if (mac != nullptr) std::memcpy(config.mac.data(), mac, config.mac.size());
  return config;
}

}  // namespace

struct aero_e1000 {
  aero_e1000(const aero_e1000_host& h, const std::uint8_t* mac)
      : host(h), device(host, host, host, host, config_for(mac)) {}
  CallbackHost host;
  E1000 device;
};

extern "C" {

aero_e1000* aero_e1000_create(const aero_e1000_host* host, const uint8_t* mac) {
  if (host == nullptr || host->mem_read == nullptr || host->mem_write == nullptr ||
      host->set_irq == nullptr || host->transmit == nullptr || host->now_ns == nullptr) {
    return nullptr;
  }
  return new (std::nothrow) aero_e1000(*host, mac);
}

void aero_e1000_destroy(aero_e1000* nic) { delete nic; }

uint32_t aero_e1000_config_read(aero_e1000* nic, uint32_t offset, uint32_t size) {
  return nic->device.config_read(offset, size);
}
void aero_e1000_config_write(aero_e1000* nic, uint32_t offset, uint32_t size, uint32_t value) {
  nic->device.config_write(offset, size, value);
}
uint32_t aero_e1000_mmio_read(aero_e1000* nic, uint32_t offset, uint32_t size) {
  return nic->device.mmio_read(offset, size);
}
void aero_e1000_mmio_write(aero_e1000* nic, uint32_t offset, uint32_t size, uint32_t value) {
  nic->device.mmio_write(offset, size, value);
}
uint32_t aero_e1000_pio_read(aero_e1000* nic, uint32_t offset, uint32_t size) {
  return nic->device.pio_read(offset, size);
}
void aero_e1000_pio_write(aero_e1000* nic, uint32_t offset, uint32_t size, uint32_t value) {
  nic->device.pio_write(offset, size, value);
}

int aero_e1000_receive(aero_e1000* nic, const uint8_t* frame, size_t len) {
  if (frame == nullptr && len != 0) return AERO_E1000_RX_DROPPED;
  switch (nic->device.receive(aero::ByteSpan(frame, len))) {
    case aero::devices::RxResult::accepted:
      return AERO_E1000_RX_ACCEPTED;
    case aero::devices::RxResult::hold:
      return AERO_E1000_RX_HOLD;
    case aero::devices::RxResult::dropped:
      break;
  }
  return AERO_E1000_RX_DROPPED;
}

void aero_e1000_set_link(aero_e1000* nic, int up) { nic->device.set_link_up(up != 0); }

uint32_t aero_e1000_poll(aero_e1000* nic) { return nic->device.poll(nic->host.now()); }

uint64_t aero_e1000_next_deadline_ns(aero_e1000* nic) {
  const auto deadline = nic->device.next_deadline();
  if (!deadline) return AERO_E1000_NO_DEADLINE;
  const auto ns = deadline->time_since_epoch().count();
  return ns < 0 ? 0 : static_cast<uint64_t>(ns);
}

int aero_e1000_irq_level(aero_e1000* nic) { return nic->device.irq_level() ? 1 : 0; }

size_t aero_e1000_snapshot(aero_e1000* nic, uint8_t* buf, size_t cap) {
  const aero::Bytes snap = nic->device.snapshot();
  if (buf != nullptr && cap >= snap.size()) std::memcpy(buf, snap.data(), snap.size());
  return snap.size();
}

int aero_e1000_restore(aero_e1000* nic, const uint8_t* buf, size_t len) {
  if (buf == nullptr) return 0;
  return nic->device.restore(aero::ByteSpan(buf, len)).ok() ? 1 : 0;
}

}  // extern "C"
