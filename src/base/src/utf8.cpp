// Strict UTF-8 validation, following the well-formed byte sequences table of RFC 3629 §4.
#include "aero/base/utf8.h"

#include <cstdint>

namespace aero {

namespace {

bool is_continuation(std::uint8_t byte) { return (byte & 0xC0U) == 0x80U; }

// Length of the sequence starting with `lead` and the allowed range of its second byte
// (RFC 3629 §4 narrows the second byte for E0, ED, F0 and F4); 0 when `lead` cannot start one.
struct LeadInfo {
  std::size_t length;
  std::uint8_t second_min;
  std::uint8_t second_max;
};

LeadInfo classify(std::uint8_t lead) {
  if (lead < 0x80) return {1, 0, 0};
  if (lead >= 0xC2 && lead <= 0xDF) return {2, 0x80, 0xBF};
  if (lead == 0xE0) return {3, 0xA0, 0xBF};
  if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) return {3, 0x80, 0xBF};
  if (lead == 0xED) return {3, 0x80, 0x9F};  // excludes UTF-16 surrogates
  if (lead == 0xF0) return {4, 0x90, 0xBF};
  if (lead >= 0xF1 && lead <= 0xF3) return {4, 0x80, 0xBF};
  if (lead == 0xF4) return {4, 0x80, 0x8F};  // caps at U+10FFFF
  return {0, 0, 0};
}

}  // namespace

bool is_valid_utf8(ByteSpan text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const LeadInfo info = classify(text[i]);
    if (info.length == 0 || text.size() - i < info.length) return false;
    if (info.length > 1) {
      const std::uint8_t second = text[i + 1];
      if (second < info.second_min || second > info.second_max) return false;
      for (std::size_t k = 2; k < info.length; ++k) {
        if (!is_continuation(text[i + k])) return false;
      }
    }
    i += info.length;
  }
  return true;
}

std::size_t utf8_prefix_length(ByteSpan text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text.size();
  std::size_t cut = max_bytes;
  // Step back over continuation bytes so the cut lands before a lead byte (at most 3 steps).
  for (int steps = 0; steps < 3 && cut > 0 && is_continuation(text[cut]); ++steps) --cut;
  return cut;
}

}  // namespace aero
