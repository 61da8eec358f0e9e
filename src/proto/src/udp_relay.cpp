// UDP relay v1/v2 datagram codec; the layouts are described in udp_relay.h.
#include "aero/proto/udp_relay.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

namespace aero::udp_relay {

namespace {

std::string hex_byte(std::uint8_t value) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "0x%02x", static_cast<unsigned>(value));
  return text.data();
}

Error too_short(std::string_view what, std::size_t have, std::size_t need) {
  return make_error("too_short", std::string(what) + " too short: " + std::to_string(have) +
                                     " < " + std::to_string(need) + " bytes");
}

Result<Datagram> check_payload(Datagram datagram, std::size_t max_payload) {
  if (datagram.payload.size() > max_payload) {
    return make_error("payload_too_large", "datagram payload too large: " +
                                               std::to_string(datagram.payload.size()) + " > " +
                                               std::to_string(max_payload));
  }
  return datagram;
}

Result<Datagram> decode_v1(ByteSpan frame, std::size_t max_payload) {
  if (frame.size() < kV1HeaderLength) return too_short("v1 frame", frame.size(), kV1HeaderLength);
  ByteReader reader(frame);
  Datagram out;
  out.version = 1;
  out.guest_port = *reader.u16be();
  Ipv4Address remote;
  const ByteSpan address = *reader.take(4);
  std::copy(address.begin(), address.end(), remote.bytes.begin());
  out.remote_ip = IpAddress::from(remote);
  out.remote_port = *reader.u16be();
  out.payload = reader.rest();
  return check_payload(out, max_payload);
}

Result<Datagram> decode_v2(ByteSpan frame, std::size_t max_payload) {
  if (frame.size() < kV2Ipv4HeaderLength) {
    return too_short("v2 frame", frame.size(), kV2Ipv4HeaderLength);
  }
  ByteReader reader(frame.subspan(2));
  const std::uint8_t family = *reader.u8();
  const std::uint8_t type = *reader.u8();
  if (family != kFamilyIpv4 && family != kFamilyIpv6) {
    return make_error("unknown_address_family", "unknown address family " + hex_byte(family));
  }
  if (type != kTypeDatagram) {
    return make_error("unsupported_message_type", "unsupported v2 message type " + hex_byte(type));
  }
  const std::size_t header_length =
      family == kFamilyIpv4 ? kV2Ipv4HeaderLength : kV2Ipv6HeaderLength;
  if (frame.size() < header_length) return too_short("v2 IPv6 frame", frame.size(), header_length);
  Datagram out;
  out.version = 2;
  out.guest_port = *reader.u16be();
  if (family == kFamilyIpv4) {
    Ipv4Address remote;
    const ByteSpan address = *reader.take(4);
    std::copy(address.begin(), address.end(), remote.bytes.begin());
    out.remote_ip = IpAddress::from(remote);
  } else {
    Ipv6Address remote;
    const ByteSpan address = *reader.take(16);
    std::copy(address.begin(), address.end(), remote.bytes.begin());
    out.remote_ip = IpAddress::from(remote);
  }
  out.remote_port = *reader.u16be();
  out.payload = reader.rest();
  return check_payload(out, max_payload);
}

}  // namespace

Result<Datagram> decode(ByteSpan frame, std::size_t max_payload) {
  const bool is_v2 = frame.size() >= 2 && frame[0] == kV2Magic && frame[1] == kV2Version;
  return is_v2 ? decode_v2(frame, max_payload) : decode_v1(frame, max_payload);
}

Result<void> encode_into(Bytes& out, const Datagram& datagram, std::size_t max_payload) {
  if (datagram.payload.size() > max_payload) {
    return make_error("payload_too_large", "datagram payload too large: " +
                                               std::to_string(datagram.payload.size()) + " > " +
                                               std::to_string(max_payload));
  }
  ByteWriter writer(out);
  if (datagram.version == 1) {
    if (!datagram.remote_ip.is_v4()) {
      return make_error("ipv6_needs_v2", "IPv6 remote addresses need v2 framing");
    }
    writer.reserve(kV1HeaderLength + datagram.payload.size());
    writer.u16be(datagram.guest_port);
    writer.bytes(datagram.remote_ip.v4.bytes);
    writer.u16be(datagram.remote_port);
    writer.bytes(datagram.payload);
    return {};
  }
  if (datagram.version != 2) {
    return make_error("unsupported_version", "UDP relay framing version must be 1 or 2");
  }
  const bool v4 = datagram.remote_ip.is_v4();
  writer.reserve((v4 ? kV2Ipv4HeaderLength : kV2Ipv6HeaderLength) + datagram.payload.size());
  writer.u8(kV2Magic);
  writer.u8(kV2Version);
  writer.u8(v4 ? kFamilyIpv4 : kFamilyIpv6);
  writer.u8(kTypeDatagram);
  writer.u16be(datagram.guest_port);
  if (v4) {
    writer.bytes(datagram.remote_ip.v4.bytes);
  } else {
    writer.bytes(datagram.remote_ip.v6.bytes);
  }
  writer.u16be(datagram.remote_port);
  writer.bytes(datagram.payload);
  return {};
}

Result<Bytes> encode(const Datagram& datagram, std::size_t max_payload) {
  Bytes out;
  auto status = encode_into(out, datagram, max_payload);
  if (!status) return status.error();
  return out;
}

}  // namespace aero::udp_relay
