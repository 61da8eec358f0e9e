// Edits E1000 snapshots for tests, following the layout documented in snapshot.cpp, with an
// independent CRC-32: register values the guest cannot reach quickly (counters near their
// limits) and older format versions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

#include "aero/base/bytes.h"

namespace aero::devices::test {

// Bitwise CRC-32 (IEEE 802.3), independent of the model's table-driven one.
inline std::uint32_t crc32_bitwise(const std::uint8_t* p, std::size_t n) {
  std::uint32_t crc = 0xFFFFFFFFU;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
  }
  return ~crc;
}
inline std::uint32_t get32(const Bytes& b, std::size_t at) {
  return std::uint32_t{b[at]} | (std::uint32_t{b[at + 1]} << 8) |
         (std::uint32_t{b[at + 2]} << 16) | (std::uint32_t{b[at + 3]} << 24);
}
inline void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Rewrites the body length and the CRC of a snapshot whose body changed (its last 4 bytes are
// the old CRC).
inline Bytes reseal(Bytes out) {
  out.resize(out.size() - 4);
  const auto body = static_cast<std::uint32_t>(out.size() - 12);
  for (int i = 0; i < 4; ++i) {
    out[8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(body >> (8 * i));
  }
  put32(out, crc32_bitwise(out.data(), out.size()));
  return out;
}

// Rewrites register values inside a snapshot (layout documented in snapshot.cpp: 12-byte
// header, 256 bytes of PCI configuration, then the register count and (index, value) pairs),
// to start counters near the 32-bit and 64-bit limits without 4 GiB of traffic.
inline Bytes with_registers(const Bytes& snap, const std::map<std::uint32_t, std::uint32_t>& set) {
  constexpr std::size_t kCountAt = 12 + 256;
  const std::uint32_t count = get32(snap, kCountAt);
  std::map<std::uint32_t, std::uint32_t> regs;
  for (std::uint32_t i = 0; i < count; ++i) {
    regs[get32(snap, kCountAt + 4 + 8 * i)] = get32(snap, kCountAt + 8 + 8 * i);
  }
  for (const auto& [offset, value] : set) {
    if (value == 0) {
      regs.erase(offset / 4);  // the list holds nonzero registers only
    } else {
      regs[offset / 4] = value;
    }
  }
  Bytes out(snap.begin(), snap.begin() + kCountAt);
  put32(out, static_cast<std::uint32_t>(regs.size()));
  for (const auto& [index, value] : regs) {
    put32(out, index);
    put32(out, value);
  }
  out.insert(out.end(), snap.begin() + static_cast<std::ptrdiff_t>(kCountAt + 4 + 8 * count),
             snap.end());
  return reseal(std::move(out));
}

// The same state as a minor-0 snapshot: the minor-1 fields (EEPROM programming state, 5 bytes;
// four statistics latches, 9 bytes each) removed from the end of the body.
inline Bytes as_minor0(const Bytes& snap) {
  constexpr std::size_t kMinor1Fields = 5 + 4 * 9;
  Bytes out(snap.begin(), snap.end() - static_cast<std::ptrdiff_t>(kMinor1Fields + 4));
  out[6] = 0;
  out[7] = 0;
  out.resize(out.size() + 4);  // stands for the CRC
  return reseal(std::move(out));
}

}  // namespace aero::devices::test
