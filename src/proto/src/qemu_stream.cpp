// QEMU stream framing; see qemu_stream.h.
#include "aero/proto/qemu_stream.h"

#include <string>

namespace aero::qemu_stream {

Result<void> encode_into(Bytes& out, ByteSpan frame, std::size_t max_frame) {
  if (frame.size() < kMinFrame || frame.size() > max_frame) {
    return make_error("bad_length", "frame of " + std::to_string(frame.size()) +
                                        " bytes outside " + std::to_string(kMinFrame) + ".." +
                                        std::to_string(max_frame));
  }
  ByteWriter writer(out);
  writer.reserve(kLengthPrefix + frame.size());
  writer.u32be(static_cast<std::uint32_t>(frame.size()));
  writer.bytes(frame);
  return {};
}

Result<void> FrameDecoder::check_length(std::uint32_t length) {
  if (length < kMinFrame || length > max_frame_) {
    failure_ = make_error("bad_length", "stream frame length " + std::to_string(length) +
                                            " outside " + std::to_string(kMinFrame) + ".." +
                                            std::to_string(max_frame_));
    buffer_.clear();
    buffer_.shrink_to_fit();
    return *failure_;
  }
  return {};
}

}  // namespace aero::qemu_stream
