// Fuzz target: the QEMU stream frame decoder. The input is decoded whole and in chunks whose size
// comes from the first byte; both must yield the same frames and outcome, and every frame must
// re-encode to its bytes in the stream.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "aero/proto/qemu_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 31;
  const aero::ByteSpan stream(data + 1, size - 1);
  constexpr std::size_t kMax = 2048;

  std::vector<aero::Bytes> whole;
  aero::qemu_stream::FrameDecoder one_shot(kMax);
  const bool whole_ok =
      one_shot.push(stream, [&](aero::ByteSpan f) { whole.emplace_back(f.begin(), f.end()); }).ok();

  std::vector<aero::Bytes> chunked;
  aero::qemu_stream::FrameDecoder incremental(kMax);
  bool chunked_ok = true;
  for (std::size_t pos = 0; pos < stream.size() && chunked_ok; pos += step) {
    const auto chunk = stream.subspan(pos, std::min(step, stream.size() - pos));
    chunked_ok = incremental
                     .push(chunk, [&](aero::ByteSpan f) { chunked.emplace_back(f.begin(), f.end()); })
                     .ok();
    if (incremental.buffered_bytes() > aero::qemu_stream::kLengthPrefix + kMax) __builtin_trap();
  }
  if (whole_ok != chunked_ok || whole != chunked) __builtin_trap();

  aero::Bytes reencoded;
  for (const auto& frame : whole) {
    if (!aero::qemu_stream::encode_into(reencoded, frame, kMax).ok()) __builtin_trap();
  }
  if (whole_ok && !one_shot.has_partial_frame() &&
      reencoded != aero::Bytes(stream.begin(), stream.end())) {
    __builtin_trap();
  }
  return 0;
}
