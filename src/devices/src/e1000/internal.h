// Helpers shared by the E1000 implementation files: little-endian descriptor field access,
// the Ethernet CRC-32 (IEEE 802.3 §3.2.9) and 1.024 us / 256 ns timer units.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "aero/base/bytes.h"
#include "aero/base/clock.h"

namespace aero::devices::e1000_detail {

inline std::uint16_t le16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
inline std::uint64_t le64(const std::uint8_t* p) {
  return std::uint64_t{le32(p)} | (std::uint64_t{le32(p + 4)} << 32);
}
inline void put_le16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
inline void put_le32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

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
