// aero-tcp-mux-v1 codec; the frame and payload layouts are described in tcp_mux.h.
#include "aero/proto/tcp_mux.h"

#include <limits>

#include "aero/base/utf8.h"

namespace aero::mux {

namespace {

// Host names travel as typed by the client; anything that is a control character or
// whitespace cannot be part of a host name or address literal and is refused early.
bool is_acceptable_host(ByteSpan host) {
  for (const std::uint8_t byte : host) {
    if (byte <= 0x20 || byte == 0x7F) return false;
  }
  return is_valid_utf8(host);
}

}  // namespace

Result<void> encode_frame_into(Bytes& out, std::uint8_t msg_type, std::uint32_t stream_id,
                               ByteSpan payload) {
  if (payload.size() > std::numeric_limits<std::uint32_t>::max()) {
    return make_error("payload_too_large", "tcp-mux frame payload exceeds 4 GiB");
  }
  ByteWriter writer(out);
  writer.reserve(kHeaderLength + payload.size());
  writer.u8(msg_type);
  writer.u32be(stream_id);
  writer.u32be(static_cast<std::uint32_t>(payload.size()));
  writer.bytes(payload);
  return {};
}

Result<Bytes> encode_frame(MsgType type, std::uint32_t stream_id, ByteSpan payload) {
  Bytes out;
  auto status = encode_frame_into(out, static_cast<std::uint8_t>(type), stream_id, payload);
  if (!status) return status.error();
  return out;
}

Result<Bytes> encode_open(const OpenRequest& open) {
  const ByteSpan host = as_bytes(open.host);
  if (host.empty() || host.size() > kMaxHostLength || !is_acceptable_host(host)) {
    return make_error("bad_open", "OPEN host must be 1..1024 bytes of UTF-8 without spaces");
  }
  if (open.metadata.size() > kMaxMetadataLength || !is_valid_utf8(as_bytes(open.metadata))) {
    return make_error("bad_open", "OPEN metadata must be at most 4096 bytes of UTF-8");
  }
  Bytes out;
  ByteWriter writer(out);
  writer.reserve(6 + host.size() + open.metadata.size());
  writer.u16be(static_cast<std::uint16_t>(host.size()));
  writer.bytes(host);
  writer.u16be(open.port);
  writer.u16be(static_cast<std::uint16_t>(open.metadata.size()));
  writer.bytes(open.metadata);
  return out;
}

Result<OpenRequest> decode_open(ByteSpan payload) {
  ByteReader reader(payload);
  const auto host_length = reader.u16be();
  if (!host_length) return make_error("bad_open", "OPEN payload too short for host length");
  if (*host_length == 0 || *host_length > kMaxHostLength) {
    return make_error("bad_open", "OPEN host length " + std::to_string(*host_length) +
                                      " outside 1..1024");
  }
  const auto host = reader.take(*host_length);
  if (!host) return make_error("bad_open", "OPEN payload too short for host");
  if (!is_acceptable_host(*host)) {
    return make_error("bad_open", "OPEN host is not UTF-8 or contains control/whitespace");
  }
  const auto port = reader.u16be();
  const auto metadata_length = reader.u16be();
  if (!port || !metadata_length) return make_error("bad_open", "OPEN payload too short for port");
  if (*metadata_length > kMaxMetadataLength) {
    return make_error("bad_open", "OPEN metadata length " + std::to_string(*metadata_length) +
                                      " > 4096");
  }
  const auto metadata = reader.take(*metadata_length);
  if (!metadata) return make_error("bad_open", "OPEN payload too short for metadata");
  if (!is_valid_utf8(*metadata)) return make_error("bad_open", "OPEN metadata is not UTF-8");
  if (!reader.empty()) return make_error("bad_open", "OPEN payload has trailing bytes");
  return OpenRequest{std::string(as_chars(*host)), *port, std::string(as_chars(*metadata))};
}

Bytes encode_close(std::uint8_t flags) { return Bytes{flags}; }

Result<std::uint8_t> decode_close(ByteSpan payload) {
  if (payload.size() != 1) {
    return make_error("bad_close", "CLOSE payload must be exactly 1 byte, got " +
                                       std::to_string(payload.size()));
  }
  const std::uint8_t flags = payload[0];
  if (flags != kCloseFin && flags != kCloseRst) {
    return make_error("bad_close", "CLOSE flags must be FIN (1) or RST (2), got " +
                                       std::to_string(flags));
  }
  return flags;
}

Bytes encode_error(std::uint16_t code, std::string_view message) {
  const ByteSpan text = as_bytes(message);
  const std::size_t kept = utf8_prefix_length(text, kMaxErrorMessageLength);
  Bytes out;
  ByteWriter writer(out);
  writer.reserve(4 + kept);
  writer.u16be(code);
  writer.u16be(static_cast<std::uint16_t>(kept));
  writer.bytes(text.first(kept));
  return out;
}

Result<ErrorMessage> decode_error(ByteSpan payload) {
  ByteReader reader(payload);
  const auto code = reader.u16be();
  const auto length = reader.u16be();
  if (!code || !length) return make_error("bad_error", "ERROR payload too short");
  if (reader.remaining() != *length) {
    return make_error("bad_error", "ERROR payload length mismatch: message_len " +
                                       std::to_string(*length) + ", " +
                                       std::to_string(reader.remaining()) + " bytes follow");
  }
  if (*length > kMaxErrorMessageLength) {
    return make_error("bad_error", "ERROR message longer than 1024 bytes");
  }
  const ByteSpan text = reader.rest();
  if (!is_valid_utf8(text)) return make_error("bad_error", "ERROR message is not UTF-8");
  return ErrorMessage{*code, std::string(as_chars(text))};
}

StreamParser::Header StreamParser::read_header(ByteSpan bytes) {
  ByteReader reader(bytes.first(kHeaderLength));
  Header header{};
  header.msg_type = *reader.u8();
  header.stream_id = *reader.u32be();
  header.length = *reader.u32be();
  return header;
}

Result<void> StreamParser::check_length(const Header& header) {
  if (header.length > max_payload_) {
    failure_ = make_error("payload_too_large", "tcp-mux frame payload too large: " +
                                                   std::to_string(header.length) + " > " +
                                                   std::to_string(max_payload_));
    buffer_.clear();
    buffer_.shrink_to_fit();
    return *failure_;
  }
  return {};
}

Result<void> StreamParser::finish() const {
  if (failure_) return *failure_;
  if (!buffer_.empty()) {
    return make_error("truncated", "truncated tcp-mux frame stream: " +
                                       std::to_string(buffer_.size()) +
                                       " bytes of an incomplete frame at end of stream");
  }
  return {};
}

}  // namespace aero::mux
