// UDP (RFC 768) view and emitter.
#include "aero/wire/udp.h"

#include <cstring>
#include <string>

#include "aero/wire/checksum.h"
#include "aero/wire/ipv4.h"

namespace aero::wire {

Result<UdpPacket> UdpPacket::parse(ByteSpan bytes) {
  if (bytes.size() < kUdpHeaderLength) {
    return make_error("truncated",
                      "UDP datagram truncated: " + std::to_string(bytes.size()) + " < 8 bytes");
  }
  const std::size_t length = load_be16(bytes, 4);
  if (length < kUdpHeaderLength) {  // RFC 768: the length counts the 8-byte header
    return make_error("bad_length", "UDP length " + std::to_string(length) + " < 8");
  }
  if (length > bytes.size()) {
    return make_error("truncated", "UDP datagram truncated: " + std::to_string(bytes.size()) +
                                       " < length " + std::to_string(length));
  }
  return UdpPacket(bytes.first(length));
}

bool UdpPacket::checksum_ok(const Ipv4Address& source, const Ipv4Address& destination) const {
  if (!has_checksum()) return true;  // RFC 768: "all zero ... transmitter generated no checksum"
  ChecksumAccumulator sum;
  sum.add_u16(pseudo_header_sum(source, destination, kIpProtocolUdp, length())).add(bytes_);
  return sum.sum() == 0xFFFF;
}

bool UdpHeader::emit(std::span<std::uint8_t> out, ByteSpan payload, const Ipv4Address& source,
                     const Ipv4Address& destination) const {
  const std::size_t total = length(payload.size());
  if (out.size() < total || total > 0xFFFF) return false;
  const auto datagram = out.first(total);
  if (!payload.empty() && payload.data() != datagram.data() + kUdpHeaderLength) {
    std::memmove(datagram.data() + kUdpHeaderLength, payload.data(), payload.size());
  }
  const auto length16 = static_cast<std::uint16_t>(total);
  store_be16(datagram, 0, source_port);
  store_be16(datagram, 2, destination_port);
  store_be16(datagram, 4, length16);
  store_be16(datagram, 6, 0);
  ChecksumAccumulator sum;
  sum.add_u16(pseudo_header_sum(source, destination, kIpProtocolUdp, length16)).add(datagram);
  const std::uint16_t checksum = sum.finish();
  store_be16(datagram, 6, checksum == 0 ? std::uint16_t{0xFFFF} : checksum);  // RFC 768
  return true;
}

}  // namespace aero::wire
