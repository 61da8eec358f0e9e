// aero-l2-tunnel-v1 codec; the message layout is described in l2_tunnel.h.
#include "aero/proto/l2_tunnel.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "aero/base/utf8.h"

namespace aero::l2 {

namespace {

std::string hex_byte(std::uint8_t value) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "0x%02x", static_cast<unsigned>(value));
  return text.data();
}

}  // namespace

std::string_view error_code_name(std::uint16_t code) {
  switch (code) {
    case 1: return "protocol_error";
    case 2: return "auth_required";
    case 3: return "auth_invalid";
    case 4: return "origin_missing";
    case 5: return "origin_denied";
    case 6: return "quota_bytes";
    case 7: return "quota_fps";
    case 8: return "quota_connections";
    case 9: return "backpressure";
    default: return "unknown";
  }
}

bool Message::has_known_type() const {
  return is(MessageType::frame) || is(MessageType::ping) || is(MessageType::pong) ||
         is(MessageType::error);
}

Result<Message> decode(ByteSpan message, const Limits& limits) {
  if (message.size() < kHeaderLength) {
    return make_error("too_short", "message too short: " + std::to_string(message.size()) +
                                       " < " + std::to_string(kHeaderLength));
  }
  if (message[0] != kMagic) return make_error("invalid_magic", "invalid magic: " + hex_byte(message[0]));
  if (message[1] != kVersion) {
    return make_error("unsupported_version", "unsupported version: " + hex_byte(message[1]));
  }
  Message out;
  out.type = message[2];
  out.flags = message[3];
  out.payload = message.subspan(kHeaderLength);
  const std::size_t max = limits.max_payload_for(out.type);
  if (out.payload.size() > max) {
    return make_error("payload_too_large", "payload too large: " +
                                               std::to_string(out.payload.size()) + " > " +
                                               std::to_string(max));
  }
  return out;
}

Result<void> encode_into(Bytes& out, std::uint8_t type, ByteSpan payload, const Limits& limits) {
  const std::size_t max = limits.max_payload_for(type);
  if (payload.size() > max) {
    return make_error("payload_too_large", "payload too large: " + std::to_string(payload.size()) +
                                               " > " + std::to_string(max));
  }
  ByteWriter writer(out);
  writer.reserve(kHeaderLength + payload.size());
  writer.u8(kMagic);
  writer.u8(kVersion);
  writer.u8(type);
  writer.u8(0);  // flags: always sent as zero
  writer.bytes(payload);
  return {};
}

Result<Bytes> encode(std::uint8_t type, ByteSpan payload, const Limits& limits) {
  Bytes out;
  auto status = encode_into(out, type, payload, limits);
  if (!status) return status.error();
  return out;
}

Bytes encode_structured_error(std::uint16_t code, std::string_view message,
                              std::size_t max_payload) {
  constexpr std::size_t kPrefix = 4;
  Bytes out;
  if (max_payload < kPrefix) return out;
  const ByteSpan text = as_bytes(message);
  // The length field is 16 bits, so the message is also capped at 65535 bytes.
  const std::size_t room = std::min<std::size_t>(max_payload - kPrefix, 0xFFFF);
  const std::size_t kept = utf8_prefix_length(text, room);
  ByteWriter writer(out);
  writer.reserve(kPrefix + kept);
  writer.u16be(code);
  writer.u16be(static_cast<std::uint16_t>(kept));
  writer.bytes(text.first(kept));
  return out;
}

std::optional<StructuredError> decode_structured_error(ByteSpan payload) {
  ByteReader reader(payload);
  const auto code = reader.u16be();
  const auto length = reader.u16be();
  if (!code || !length || reader.remaining() != *length) return std::nullopt;
  const ByteSpan text = reader.rest();
  if (!is_valid_utf8(text)) return std::nullopt;
  return StructuredError{*code, std::string(as_chars(text))};
}

}  // namespace aero::l2
