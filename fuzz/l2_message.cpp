// Fuzz target: aero-l2-tunnel-v1 message decoding.
// Invariants: decode never reads out of bounds; an accepted message re-encodes to the same bytes
// (flags aside, which the encoder always sends as zero); limits are always respected.
#include <cstddef>
#include <cstdint>

#include "aero/proto/l2_tunnel.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const aero::ByteSpan input(data, size);
  // Exercise both the default limits and small ones chosen by the input's last byte.
  const std::size_t small = size > 0 ? data[size - 1] : 0;
  const aero::l2::Limits limit_sets[] = {{}, {small, small / 2}};
  for (const auto& limits : limit_sets) {
    auto message = aero::l2::decode(input, limits);
    if (!message) continue;
    if (message->payload.size() > limits.max_payload_for(message->type)) __builtin_trap();
    auto encoded = aero::l2::encode(message->type, message->payload, limits);
    if (!encoded || encoded->size() != size) __builtin_trap();
    for (std::size_t i = 0; i < size; ++i) {
      if (i != 3 && (*encoded)[i] != data[i]) __builtin_trap();
    }
    if (message->is(aero::l2::MessageType::error)) {
      (void)aero::l2::decode_structured_error(message->payload);
    }
  }
  return 0;
}
