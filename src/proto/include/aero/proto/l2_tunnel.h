// aero-l2-tunnel-v1: raw Ethernet frames and control messages over one WebSocket binary message
// (or one WebRTC DataChannel message) each.
//
//   byte 0   magic   0xA2
//   byte 1   version 0x03            (0x02 is the UDP relay v2 prefix; never valid here)
//   byte 2   type    0x00 FRAME, 0x01 PING, 0x02 PONG, 0x7F ERROR; others are surfaced as-is
//   byte 3   flags   sent as 0; receivers ignore every bit
//   byte 4.. payload FRAME: an Ethernet frame without FCS; PING/PONG: opaque (PONG echoes PING);
//                    ERROR: UTF-8 text, or structured `code u16 | length u16 | UTF-8 message`
//
// The payload limit is checked against the message length before anything is copied: FRAME
// payloads against `max_frame_payload` (default 2048), every other type, unknown ones included,
// against `max_control_payload` (default 256). Decoding never copies: the payload is a view
// into the message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aero/base/bytes.h"
#include "aero/base/result.h"

namespace aero::l2 {

inline constexpr std::string_view kSubprotocol = "aero-l2-tunnel-v1";
// Offered by browsers in addition to kSubprotocol to carry a credential; never selected.
inline constexpr std::string_view kTokenSubprotocolPrefix = "aero-l2-token.";
inline constexpr std::uint8_t kMagic = 0xA2;
inline constexpr std::uint8_t kVersion = 0x03;
inline constexpr std::size_t kHeaderLength = 4;
inline constexpr std::size_t kDefaultMaxFramePayload = 2048;
inline constexpr std::size_t kDefaultMaxControlPayload = 256;

enum class MessageType : std::uint8_t { frame = 0x00, ping = 0x01, pong = 0x02, error = 0x7F };

// Structured ERROR codes (the tunnel's close reasons).
enum class ErrorCode : std::uint16_t {
  protocol_error = 1,
  auth_required = 2,
  auth_invalid = 3,
  origin_missing = 4,
  origin_denied = 5,
  quota_bytes = 6,
  quota_fps = 7,
  quota_connections = 8,
  backpressure = 9,
};

// "protocol_error" ... "backpressure"; "unknown" for codes outside 1..9.
std::string_view error_code_name(std::uint16_t code);

struct Limits {
  std::size_t max_frame_payload = kDefaultMaxFramePayload;
  std::size_t max_control_payload = kDefaultMaxControlPayload;

  std::size_t max_payload_for(std::uint8_t type) const {
    return type == static_cast<std::uint8_t>(MessageType::frame) ? max_frame_payload
                                                                  : max_control_payload;
  }
};

// A decoded message; `payload` points into the decoded buffer.
struct Message {
  std::uint8_t type = 0;  // raw, so unknown types survive decoding
  std::uint8_t flags = 0;
  ByteSpan payload;

  bool is(MessageType t) const { return type == static_cast<std::uint8_t>(t); }
  // False for types this version does not define; callers ignore those (spec: "unknown types:
  // ignore"), they are not decode errors.
  bool has_known_type() const;
};

// Decode errors carry the exact texts Aero's implementations produce:
//   kind "too_short"            "message too short: N < 4"
//   kind "invalid_magic"        "invalid magic: 0xNN"
//   kind "unsupported_version"  "unsupported version: 0xNN"
//   kind "payload_too_large"    "payload too large: N > M"
Result<Message> decode(ByteSpan message, const Limits& limits = {});

// Appends one encoded message (flags 0) to `out`; refuses a payload over the type's limit.
Result<void> encode_into(Bytes& out, std::uint8_t type, ByteSpan payload,
                         const Limits& limits = {});
Result<Bytes> encode(std::uint8_t type, ByteSpan payload, const Limits& limits = {});
inline Result<Bytes> encode(MessageType type, ByteSpan payload, const Limits& limits = {}) {
  return encode(static_cast<std::uint8_t>(type), payload, limits);
}

struct StructuredError {
  std::uint16_t code = 0;
  std::string message;
  friend bool operator==(const StructuredError&, const StructuredError&) = default;
};

// The ERROR payload `code | length | message`. The message is cut at a UTF-8 code-point
// boundary so the payload fits `max_payload`; if even the 4-byte prefix does not fit, the
// payload is empty. `message` is expected to be valid UTF-8 (invalid input is still cut safely).
Bytes encode_structured_error(std::uint16_t code, std::string_view message,
                              std::size_t max_payload = kDefaultMaxControlPayload);

// Parses an ERROR payload as structured only when its length is exactly 4 + the length field and
// the message is valid UTF-8; otherwise nullopt (the payload is then free text).
std::optional<StructuredError> decode_structured_error(ByteSpan payload);

}  // namespace aero::l2
