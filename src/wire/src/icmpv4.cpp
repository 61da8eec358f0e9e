// ICMPv4 (RFC 792) view and emitters.
#include "aero/wire/icmpv4.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "aero/wire/checksum.h"

namespace aero::wire {

Result<Icmpv4Packet> Icmpv4Packet::parse(ByteSpan bytes) {
  if (bytes.size() < kIcmpv4HeaderLength) {
    return make_error("truncated",
                      "ICMP message truncated: " + std::to_string(bytes.size()) + " < 8 bytes");
  }
  return Icmpv4Packet(bytes);
}

bool Icmpv4Packet::checksum_ok() const {
  return ones_complement_sum(bytes_) == 0xFFFF;
}

bool Icmpv4Packet::is_error() const {
  switch (type()) {
    case kIcmpv4DestinationUnreachable:
    case kIcmpv4SourceQuench:
    case kIcmpv4Redirect:
    case kIcmpv4TimeExceeded:
    case kIcmpv4ParameterProblem: return true;
    default: return false;
  }
}

std::optional<ByteSpan> Icmpv4Packet::quoted_datagram() const {
  if (!is_error()) return std::nullopt;
  return payload();
}

Icmpv4Header Icmpv4Header::echo_request(std::uint16_t identifier, std::uint16_t sequence) {
  return Icmpv4Header{kIcmpv4EchoRequest, 0, (std::uint32_t{identifier} << 16) | sequence};
}

Icmpv4Header Icmpv4Header::echo_reply(std::uint16_t identifier, std::uint16_t sequence) {
  return Icmpv4Header{kIcmpv4EchoReply, 0, (std::uint32_t{identifier} << 16) | sequence};
}

Icmpv4Header Icmpv4Header::echo_reply_to(const Icmpv4Packet& request) {
  return echo_reply(request.echo_identifier(), request.echo_sequence());
}

Icmpv4Header Icmpv4Header::destination_unreachable(std::uint8_t code, std::uint16_t next_hop_mtu) {
  // RFC 792: the rest of the header is unused (zero); RFC 1191 §4 puts the next-hop MTU in its
  // low 16 bits for code 4.
  return Icmpv4Header{kIcmpv4DestinationUnreachable, code, next_hop_mtu};
}

Icmpv4Header Icmpv4Header::time_exceeded(std::uint8_t code) {
  return Icmpv4Header{kIcmpv4TimeExceeded, code, 0};
}

bool Icmpv4Header::emit(std::span<std::uint8_t> out, ByteSpan data) const {
  const std::size_t total = length(data.size());
  if (out.size() < total || total > kIpv4MaxTotalLength - kIpv4MinHeaderLength) return false;
  const auto message = out.first(total);
  if (!data.empty() && data.data() != message.data() + kIcmpv4HeaderLength) {
    std::memmove(message.data() + kIcmpv4HeaderLength, data.data(), data.size());
  }
  message[0] = type;
  message[1] = code;
  store_be16(message, 2, 0);
  store_be32(message, 4, rest_of_header);
  store_be16(message, 2, internet_checksum(message));
  return true;
}

ByteSpan icmpv4_error_quote(const Ipv4Packet& original, std::size_t payload_bytes) {
  constexpr std::size_t kMaxQuote =
      kIpv4MinReassemblyLength - kIpv4MinHeaderLength - kIcmpv4HeaderLength;
  const ByteSpan packet = original.packet();
  const std::size_t wanted =
      original.header_length() + std::min(payload_bytes, original.payload().size());
  return packet.first(std::min(wanted, kMaxQuote));
}

}  // namespace aero::wire
