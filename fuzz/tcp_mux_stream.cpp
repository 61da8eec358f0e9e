// Fuzz target: the aero-tcp-mux-v1 incremental stream parser and payload decoders.
// The input is parsed twice: in one piece, and in chunks whose sizes come from the first byte.
// Invariants: both parses see the same frames and the same outcome; the parser never buffers
// more than one header plus the payload cap; payload decoders never crash.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "aero/proto/tcp_mux.h"

namespace {

struct Seen {
  std::uint8_t type;
  std::uint32_t stream_id;
  aero::Bytes payload;
  bool operator==(const Seen&) const = default;
};

constexpr std::size_t kMaxPayload = 512;

void inspect(const aero::mux::FrameView& frame) {
  switch (static_cast<aero::mux::MsgType>(frame.msg_type)) {
    case aero::mux::MsgType::open:
      if (auto open = aero::mux::decode_open(frame.payload)) {
        auto encoded = aero::mux::encode_open(*open);
        if (!encoded || *encoded != aero::Bytes(frame.payload.begin(), frame.payload.end())) {
          __builtin_trap();
        }
      }
      break;
    case aero::mux::MsgType::close: (void)aero::mux::decode_close(frame.payload); break;
    case aero::mux::MsgType::error:
      if (auto error = aero::mux::decode_error(frame.payload)) {
        if (aero::mux::encode_error(error->code, error->message) !=
            aero::Bytes(frame.payload.begin(), frame.payload.end())) {
          __builtin_trap();
        }
      }
      break;
    default: break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 17;
  const aero::ByteSpan stream(data + 1, size - 1);

  std::vector<Seen> whole;
  aero::mux::StreamParser one_shot(kMaxPayload);
  const auto whole_status = one_shot.push(stream, [&](const aero::mux::FrameView& frame) {
    inspect(frame);
    whole.push_back({frame.msg_type, frame.stream_id,
                     aero::Bytes(frame.payload.begin(), frame.payload.end())});
  });

  std::vector<Seen> chunked;
  aero::mux::StreamParser incremental(kMaxPayload);
  bool chunked_ok = true;
  for (std::size_t pos = 0; pos < stream.size() && chunked_ok; pos += step) {
    const auto chunk = stream.subspan(pos, std::min(step, stream.size() - pos));
    chunked_ok = incremental
                     .push(chunk,
                           [&](const aero::mux::FrameView& frame) {
                             chunked.push_back({frame.msg_type, frame.stream_id,
                                                aero::Bytes(frame.payload.begin(),
                                                            frame.payload.end())});
                           })
                     .ok();
    if (incremental.buffered_bytes() > aero::mux::kHeaderLength + kMaxPayload) __builtin_trap();
  }
  if (chunked_ok != whole_status.ok() || chunked != whole) __builtin_trap();
  if (one_shot.finish().ok() != incremental.finish().ok()) __builtin_trap();
  return 0;
}
