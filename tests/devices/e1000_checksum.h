// An independent Internet checksum (RFC 1071) for verifying the device's offloads; it shares
// no code with the model.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aero::devices::test {

inline std::uint32_t raw_sum(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) acc += static_cast<std::uint32_t>((p[i] << 8) | p[i + 1]);
  if (n & 1U) acc += static_cast<std::uint32_t>(p[n - 1] << 8);
  return acc;
}
inline std::uint16_t fold(std::uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xFFFFU) + (acc >> 16);
  return static_cast<std::uint16_t>(acc);
}
// Sum (not complemented) of the IPv4 pseudo-header.
inline std::uint32_t pseudo4(const std::uint8_t* ip, std::uint8_t proto, std::uint32_t len) {
  return raw_sum(ip + 12, 8) + proto + len;
}
inline std::uint32_t pseudo6(const std::uint8_t* ip, std::uint8_t proto, std::uint32_t len) {
  return raw_sum(ip + 8, 32) + proto + (len >> 16) + (len & 0xFFFFU);
}

}  // namespace aero::devices::test
