// Guest-memory callbacks for the C API tests: `Host` is the test's callback context with a
// member `mem` (a byte vector or a VectorGuestMemory). Out-of-range accesses fail, as a
// platform's would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "aero/devices/device_host.h"

namespace aero::test {

inline std::span<std::uint8_t> guest_span(std::vector<std::uint8_t>& mem) { return mem; }
inline std::span<std::uint8_t> guest_span(devices::VectorGuestMemory& mem) { return mem.bytes(); }

template <class Host>
int c_guest_read(void* user, std::uint64_t gpa, std::uint8_t* dst, std::size_t len) {
  const auto mem = guest_span(static_cast<Host*>(user)->mem);
  if (!devices::guest_range_ok(gpa, len, mem.size())) return 0;
  if (len != 0) std::memcpy(dst, mem.data() + gpa, len);
  return 1;
}

template <class Host>
int c_guest_write(void* user, std::uint64_t gpa, const std::uint8_t* src, std::size_t len) {
  const auto mem = guest_span(static_cast<Host*>(user)->mem);
  if (!devices::guest_range_ok(gpa, len, mem.size())) return 0;
  if (len != 0) std::memcpy(mem.data() + gpa, src, len);
  return 1;
}

}  // namespace aero::test
