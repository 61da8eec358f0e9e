// Fuzz target: UDP relay v1/v2 datagram decoding.
// Invariant: every accepted frame re-encodes, in the version it arrived in, to the same bytes.
#include <cstddef>
#include <cstdint>

#include "aero/proto/udp_relay.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const aero::ByteSpan input(data, size);
  auto datagram = aero::udp_relay::decode(input);
  if (!datagram) return 0;
  if (datagram->payload.size() > aero::udp_relay::kDefaultMaxPayload) __builtin_trap();
  auto encoded = aero::udp_relay::encode(*datagram);
  if (!encoded || *encoded != aero::Bytes(data, data + size)) __builtin_trap();
  return 0;
}
