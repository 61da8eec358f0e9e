// Helpers shared by the E1000 implementation files: little-endian descriptor field access,
// the Ethernet CRC-32 (IEEE 802.3 §3.2.9) and 1.024 us / 256 ns timer units.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "aero/base/bytes.h"
#include "aero/base/clock.h"
#include "../little_endian.h"

namespace aero::devices::e1000_detail {

using devices::le16;
using devices::le32;
using devices::le64;
using devices::put_le16;
using devices::put_le32;

// Reflected CRC-32, polynomial 0xEDB88320 (the Ethernet FCS and the snapshot trailer).
std::uint32_t crc32(ByteSpan data, std::uint32_t crc = 0);

// SDM §13.4.40 (RDTR), §13.4.44 (RADV), §13.4.39/45 (TIDV/TADV): 1.024 us units.
inline Duration delay_units(std::uint32_t units) {
  return std::chrono::nanoseconds(std::int64_t{units & 0xFFFF} * 1024);
}
// SDM §13.4.18 (ITR): minimum inter-interrupt interval in 256 ns units.
inline Duration itr_units(std::uint32_t units) {
  return std::chrono::nanoseconds(std::int64_t{units & 0xFFFF} * 256);
}

}  // namespace aero::devices::e1000_detail
