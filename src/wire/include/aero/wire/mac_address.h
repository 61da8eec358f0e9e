// 48-bit IEEE 802 MAC addresses (IEEE 802-2014 §8.2): text form, broadcast and group tests.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aero/base/bytes.h"

namespace aero::wire {

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};

  static constexpr MacAddress broadcast() {
    return MacAddress{{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}};
  }
  // The first six bytes of `bytes`, which must hold at least six.
  static MacAddress from_bytes(ByteSpan bytes);
  // Six two-digit hex groups separated by ':' or '-' (one separator throughout), either case.
  static std::optional<MacAddress> parse(std::string_view text);
  // Lower-case, colon-separated: "52:54:00:12:34:56".
  std::string to_string() const;

  bool is_broadcast() const { return *this == broadcast(); }
  // The I/G bit, the least significant bit of the first octet (IEEE 802-2014 §8.2.2); broadcast
  // is a multicast (group) address too.
  bool is_multicast() const { return (bytes[0] & 0x01U) != 0; }
  bool is_unicast() const { return !is_multicast(); }
  // The U/L bit (IEEE 802-2014 §8.2.2).
  bool is_locally_administered() const { return (bytes[0] & 0x02U) != 0; }
  bool is_zero() const { return *this == MacAddress{}; }

  friend bool operator==(const MacAddress&, const MacAddress&) = default;
};

}  // namespace aero::wire
