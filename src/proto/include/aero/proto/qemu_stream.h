// QEMU's `-netdev stream` / `-netdev socket` framing: each Ethernet frame travels over a byte
// stream (TCP or a unix socket) as a 4-byte big-endian length followed by that many bytes.
//
// QEMU itself accepts frames up to its receive buffer (64 KiB plus headroom); aero-net's native
// transports carry frames up to 65535 bytes by default (the largest an IPv4 packet plus an
// Ethernet header can need with TSO-sized segments), configurable.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "aero/base/bytes.h"
#include "aero/base/result.h"

namespace aero::qemu_stream {

inline constexpr std::size_t kLengthPrefix = 4;
inline constexpr std::size_t kDefaultMaxFrame = 65535;
// Shorter than an Ethernet header cannot be a frame.
inline constexpr std::size_t kMinFrame = 14;

// Appends the length prefix and the frame.
Result<void> encode_into(Bytes& out, ByteSpan frame, std::size_t max_frame = kDefaultMaxFrame);

// Incremental decoder: push() stream bytes as they arrive; on_frame(ByteSpan) is called for every
// complete frame (in place when the frame lies inside the pushed chunk). The length is checked
// against [kMinFrame, max_frame] as soon as the prefix is complete, before anything is buffered;
// a bad length fails the stream for good (kind "bad_length"), since a byte stream cannot resync.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame = kDefaultMaxFrame) : max_frame_(max_frame) {}

  template <class OnFrame>
  Result<void> push(ByteSpan chunk, OnFrame&& on_frame);

  std::size_t buffered_bytes() const { return buffer_.size(); }
  // True when the stream ended in the middle of a frame.
  bool has_partial_frame() const { return !buffer_.empty(); }

 private:
  Result<void> check_length(std::uint32_t length);
  static std::uint32_t read_length(ByteSpan bytes) {
    return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
           (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
  }

  std::size_t max_frame_;
  Bytes buffer_;  // the current incomplete frame, prefix first
  std::optional<Error> failure_;
};

template <class OnFrame>
Result<void> FrameDecoder::push(ByteSpan chunk, OnFrame&& on_frame) {
  if (failure_) return *failure_;
  while (!chunk.empty()) {
    if (buffer_.empty() && chunk.size() >= kLengthPrefix) {
      const std::uint32_t length = read_length(chunk);
      if (auto status = check_length(length); !status) return status;
      if (chunk.size() >= kLengthPrefix + length) {
        on_frame(chunk.subspan(kLengthPrefix, length));
        chunk = chunk.subspan(kLengthPrefix + length);
        continue;
      }
    }
    if (buffer_.size() < kLengthPrefix) {
      const std::size_t take = std::min(kLengthPrefix - buffer_.size(), chunk.size());
      buffer_.insert(buffer_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(take));
      chunk = chunk.subspan(take);
      if (buffer_.size() < kLengthPrefix) return {};
      if (auto status = check_length(read_length(buffer_)); !status) return status;
    }
    const std::size_t frame_end = kLengthPrefix + read_length(buffer_);
    const std::size_t take = std::min(frame_end - buffer_.size(), chunk.size());
    buffer_.insert(buffer_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(take));
    chunk = chunk.subspan(take);
    if (buffer_.size() < frame_end) return {};
    on_frame(ByteSpan(buffer_).subspan(kLengthPrefix));
    buffer_.clear();
  }
  return {};
}

}  // namespace aero::qemu_stream
