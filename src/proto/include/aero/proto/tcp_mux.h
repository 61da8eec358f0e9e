// aero-tcp-mux-v1: many TCP streams over one WebSocket (subprotocol "aero-tcp-mux-v1").
//
// The WebSocket binary messages form one byte stream; frames may be split across messages or
// several may share one. Every frame is a 9-byte big-endian header and a payload:
//
//   offset 0  u8   msg_type   1 OPEN, 2 DATA, 3 CLOSE, 4 ERROR, 5 PING, 6 PONG
//   offset 1  u32  stream_id  0 is reserved for connection-level PING/PONG
//   offset 5  u32  length
//   offset 9  ...  payload
//
// Payloads:
//   OPEN   host_len u16 | host (1..1024 bytes UTF-8, no control or whitespace characters)
//          | port u16 | metadata_len u16 (<= 4096) | metadata (UTF-8, ignored by servers)
//   DATA   raw TCP bytes
//   CLOSE  flags u8, exactly one byte: 0x01 FIN (half-close) or 0x02 RST (abort)
//   ERROR  code u16 | message_len u16 (<= 1024) | UTF-8 message; length must match exactly
//   PING / PONG  opaque; PONG echoes the PING's stream_id and payload
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aero/base/bytes.h"
#include "aero/base/result.h"

namespace aero::mux {

inline constexpr std::string_view kSubprotocol = "aero-tcp-mux-v1";
inline constexpr std::size_t kHeaderLength = 9;
inline constexpr std::size_t kDefaultMaxPayload = 16 * 1024 * 1024;
inline constexpr std::size_t kMaxHostLength = 1024;
inline constexpr std::size_t kMaxMetadataLength = 4096;
inline constexpr std::size_t kMaxErrorMessageLength = 1024;

enum class MsgType : std::uint8_t { open = 1, data = 2, close = 3, error = 4, ping = 5, pong = 6 };

enum class ErrorCode : std::uint16_t {
  policy_denied = 1,
  dial_failed = 2,
  protocol_error = 3,
  unknown_stream = 4,
  stream_limit_exceeded = 5,
  stream_buffer_overflow = 6,
};

inline constexpr std::uint8_t kCloseFin = 0x01;
inline constexpr std::uint8_t kCloseRst = 0x02;

// A frame as seen by the parser's callback; `payload` is valid only during the callback.
struct FrameView {
  std::uint8_t msg_type = 0;  // raw: unknown types are the session's protocol error, not ours
  std::uint32_t stream_id = 0;
  ByteSpan payload;
};

// Appends one frame. Refuses a payload longer than a u32 can describe.
Result<void> encode_frame_into(Bytes& out, std::uint8_t msg_type, std::uint32_t stream_id,
                               ByteSpan payload);
Result<Bytes> encode_frame(MsgType type, std::uint32_t stream_id, ByteSpan payload);

struct OpenRequest {
  std::string host;
  std::uint16_t port = 0;
  std::string metadata;
  friend bool operator==(const OpenRequest&, const OpenRequest&) = default;
};
Result<Bytes> encode_open(const OpenRequest& open);
// kind "bad_open" with a message naming the rule that failed. Port 0 is decoded; refusing it is
// the egress policy's job.
Result<OpenRequest> decode_open(ByteSpan payload);

Bytes encode_close(std::uint8_t flags);
Result<std::uint8_t> decode_close(ByteSpan payload);  // kind "bad_close"

struct ErrorMessage {
  std::uint16_t code = 0;
  std::string message;
  friend bool operator==(const ErrorMessage&, const ErrorMessage&) = default;
};
// The message is cut at a UTF-8 boundary to kMaxErrorMessageLength bytes.
Bytes encode_error(std::uint16_t code, std::string_view message);
// kind "bad_error": "... length mismatch ..." when the length field disagrees with the payload.
Result<ErrorMessage> decode_error(ByteSpan payload);

// Incremental parser for the frame stream. Feed it WebSocket message bodies in order with
// push(); it calls `on_frame` for every complete frame. A frame that lies wholly inside one
// chunk is delivered straight from that chunk (no copy); otherwise its bytes are gathered in a
// buffer that grows only as bytes arrive and never exceeds 9 + max_payload bytes, because the
// length field is checked against max_payload as soon as the header is complete, before any
// payload byte is buffered.
// After an error the parser stays failed and returns the same error on every later call.
class StreamParser {
 public:
  explicit StreamParser(std::size_t max_payload = kDefaultMaxPayload) : max_payload_(max_payload) {}

  template <class OnFrame>
  Result<void> push(ByteSpan chunk, OnFrame&& on_frame);

  // Call when the byte stream ends: an incomplete frame is an error
  // (kind "truncated", "truncated tcp-mux frame stream").
  Result<void> finish() const;

  std::size_t buffered_bytes() const { return buffer_.size(); }
  std::size_t max_payload() const { return max_payload_; }

 private:
  struct Header {
    std::uint8_t msg_type;
    std::uint32_t stream_id;
    std::uint32_t length;
  };
  static Header read_header(ByteSpan bytes);
  Result<void> check_length(const Header& header);

  std::size_t max_payload_;
  Bytes buffer_;  // bytes of the current incomplete frame (header first)
  std::optional<Error> failure_;
};

template <class OnFrame>
Result<void> StreamParser::push(ByteSpan chunk, OnFrame&& on_frame) {
  if (failure_) return *failure_;
  while (!chunk.empty()) {
    if (buffer_.empty()) {
      // Fast path: complete frames lying entirely in the chunk are handed out in place.
      if (chunk.size() < kHeaderLength) {
        buffer_.assign(chunk.begin(), chunk.end());
        return {};
      }
      const Header header = read_header(chunk);
      if (auto status = check_length(header); !status) return status;
      const std::size_t frame_length = kHeaderLength + header.length;
      if (chunk.size() >= frame_length) {
        on_frame(FrameView{header.msg_type, header.stream_id,
                           chunk.subspan(kHeaderLength, header.length)});
        chunk = chunk.subspan(frame_length);
        continue;
      }
      buffer_.assign(chunk.begin(), chunk.end());
      return {};
    }
    // Slow path: complete the buffered header, then the buffered payload.
    if (buffer_.size() < kHeaderLength) {
      const std::size_t take = std::min(kHeaderLength - buffer_.size(), chunk.size());
      buffer_.insert(buffer_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(take));
      chunk = chunk.subspan(take);
      if (buffer_.size() < kHeaderLength) return {};
      const Header header = read_header(buffer_);
      if (auto status = check_length(header); !status) return status;
    }
    const Header header = read_header(buffer_);
    const std::size_t frame_length = kHeaderLength + header.length;
    const std::size_t take = std::min(frame_length - buffer_.size(), chunk.size());
    buffer_.insert(buffer_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(take));
    chunk = chunk.subspan(take);
    if (buffer_.size() < frame_length) return {};
    on_frame(FrameView{header.msg_type, header.stream_id,
                       ByteSpan(buffer_).subspan(kHeaderLength, header.length)});
    buffer_.clear();
  }
  return {};
}

}  // namespace aero::mux
