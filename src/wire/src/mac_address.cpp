// MAC address text parsing and formatting.
#include "aero/wire/mac_address.h"

#include <algorithm>
#include <cassert>
#include <cstddef>

namespace aero::wire {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

MacAddress MacAddress::from_bytes(ByteSpan bytes) {
  assert(bytes.size() >= 6);
  MacAddress out;
  std::copy_n(bytes.begin(), out.bytes.size(), out.bytes.begin());
  return out;
}

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  constexpr std::size_t kTextLength = 17;  // 6 * 2 digits + 5 separators
  if (text.size() != kTextLength) return std::nullopt;
  const char separator = text[2];
  if (separator != ':' && separator != '-') return std::nullopt;
  MacAddress out;
  for (std::size_t i = 0; i < out.bytes.size(); ++i) {
    const std::size_t at = i * 3;
    if (i > 0 && text[at - 1] != separator) return std::nullopt;
    const int high = hex_value(text[at]);
    const int low = hex_value(text[at + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.bytes[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return out;
}

std::string MacAddress::to_string() const {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(17);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out.push_back(':');
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0x0FU]);
  }
  return out;
}

}  // namespace aero::wire
