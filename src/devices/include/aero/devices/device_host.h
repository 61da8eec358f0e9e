// Host interfaces a device model uses: guest physical memory (DMA), an interrupt line, and the
// frame port that connects a NIC to its network backend. The clock is aero::Clock (base).
//
// Devices never touch the OS: the platform supplies these objects and keeps them alive for the
// device's lifetime. All calls are synchronous and single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "aero/base/bytes.h"

namespace aero::devices {

// True when [gpa, gpa + len) lies inside [0, size) without wrapping.
constexpr bool guest_range_ok(std::uint64_t gpa, std::uint64_t len, std::uint64_t size) {
  return len <= size && gpa <= size - len;
}

// Guest physical memory as seen by a bus-mastering device. Both calls either copy all bytes
// and return true, or copy nothing and return false (range outside memory, MMIO hole, ...).
class GuestMemory {
 public:
  virtual ~GuestMemory() = default;
  [[nodiscard]] virtual bool read(std::uint64_t gpa, std::span<std::uint8_t> out) = 0;
  [[nodiscard]] virtual bool write(std::uint64_t gpa, std::span<const std::uint8_t> data) = 0;
};

// Flat guest memory starting at physical address 0, for tests, fuzzing and benchmarks.
class VectorGuestMemory final : public GuestMemory {
 public:
  explicit VectorGuestMemory(std::size_t size) : bytes_(size, 0) {}

  bool read(std::uint64_t gpa, std::span<std::uint8_t> out) override {
    if (!guest_range_ok(gpa, out.size(), bytes_.size())) return false;
    if (!out.empty()) std::memcpy(out.data(), bytes_.data() + gpa, out.size());
    return true;
  }
  bool write(std::uint64_t gpa, std::span<const std::uint8_t> data) override {
    if (!guest_range_ok(gpa, data.size(), bytes_.size())) return false;
    if (!data.empty()) std::memcpy(bytes_.data() + gpa, data.data(), data.size());
    return true;
  }

  std::span<std::uint8_t> bytes() { return bytes_; }
  std::size_t size() const { return bytes_.size(); }

 private:
  std::vector<std::uint8_t> bytes_;
};

// A level-triggered INTx line, with an optional message-signalled hook for platforms that
// deliver the line as a message. The E1000 model calls signal_msi() on every rising edge of
// its line; it exposes no MSI capability to the guest (the 82540EM has none), so guest drivers
// always program INTx. virtio-net raises MSI-X messages through signal_msix().
class InterruptLine {
 public:
  virtual ~InterruptLine() = default;
  virtual void set_level(bool asserted) = 0;
  virtual void signal_msi() {}
  // An MSI-X message: the device writes `data` to `address` for table entry `vector`.
  virtual void signal_msix(std::uint16_t /*vector*/, std::uint64_t /*address*/,
                           std::uint32_t /*data*/) {}
};

// What a NIC does with a frame offered by its backend.
enum class RxResult : std::uint8_t {
  accepted,  // written to the guest's receive ring
  hold,      // no room now: the backend keeps the frame and offers it again later
  dropped,   // discarded for a counted reason (filtered, receiver disabled, malformed)
};

// The backend side of a NIC. The device calls transmit() for every frame the guest sends; the
// backend calls the device's receive() for every frame destined to the guest. transmit()
// returns false when the backend refuses the frame (the device counts it as dropped).
class FramePort {
 public:
  virtual ~FramePort() = default;
  [[nodiscard]] virtual bool transmit(ByteSpan frame) = 0;
};

}  // namespace aero::devices
