// Fuzz target: the structured ERROR payload of aero-l2-tunnel-v1.
// Invariants: an accepted payload re-encodes byte for byte; encoding any text under any limit
// yields a payload within the limit that decodes to a prefix of the text cut at a UTF-8
// boundary.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aero/base/utf8.h"
#include "aero/proto/l2_tunnel.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const aero::ByteSpan input(data, size);
  if (auto parsed = aero::l2::decode_structured_error(input)) {
    const auto again = aero::l2::encode_structured_error(parsed->code, parsed->message, size);
    if (again != aero::Bytes(data, data + size)) __builtin_trap();
  }
  if (size < 3) return 0;
  const auto code = static_cast<std::uint16_t>((data[0] << 8) | data[1]);
  const std::size_t max_payload = data[2];
  const aero::ByteSpan text = input.subspan(3);
  if (!aero::is_valid_utf8(text)) return 0;
  const std::string_view message = aero::as_chars(text);
  const auto payload = aero::l2::encode_structured_error(code, message, max_payload);
  if (payload.size() > max_payload) __builtin_trap();
  if (max_payload < 4) {
    if (!payload.empty()) __builtin_trap();
    return 0;
  }
  const auto decoded = aero::l2::decode_structured_error(payload);
  if (!decoded || decoded->code != code) __builtin_trap();
  if (message.substr(0, decoded->message.size()) != decoded->message) __builtin_trap();
  return 0;
}
