// IPv4 (RFC 791) packet view and header emitter.
#include "aero/wire/ipv4.h"

#include <algorithm>
#include <string>

#include "aero/wire/checksum.h"

namespace aero::wire {

namespace {

Ipv4Address ip_at(ByteSpan bytes, std::size_t at) {
  Ipv4Address out;
  std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(at), 4, out.bytes.begin());
  return out;
}

Error truncated(std::string_view what, std::size_t have, std::size_t need) {
  return make_error("truncated", "IPv4 packet truncated: " + std::to_string(have) + " < " +
                                     std::to_string(need) + " bytes (" + std::string(what) + ")");
}

// The checks parse() and parse_quoted() share; returns the header length in bytes.
Result<std::size_t> check_header(ByteSpan bytes) {
  if (bytes.size() < kIpv4MinHeaderLength) return truncated("header", bytes.size(), 20);
  const unsigned version = bytes[0] >> 4U;
  if (version != 4) {  // RFC 791 §3.1 "Version"
    return make_error("bad_version", "IP version " + std::to_string(version) + " is not 4");
  }
  const std::size_t header_length = std::size_t{bytes[0] & 0x0FU} * 4;
  if (header_length < kIpv4MinHeaderLength) {  // RFC 791 §3.1 "IHL": minimum value 5
    return make_error("bad_length", "IPv4 IHL " + std::to_string(header_length / 4) + " < 5");
  }
  const std::size_t total_length = load_be16(bytes, 2);
  if (total_length < header_length) {  // RFC 791 §3.1 "Total Length" includes the header
    return make_error("bad_length", "IPv4 total length " + std::to_string(total_length) +
                                        " < header length " + std::to_string(header_length));
  }
  if (bytes.size() < header_length) return truncated("options", bytes.size(), header_length);
  return header_length;
}

}  // namespace

Result<Ipv4Packet> Ipv4Packet::parse(ByteSpan bytes) {
  auto header_length = check_header(bytes);
  if (!header_length) return header_length.error();
  const std::size_t total_length = load_be16(bytes, 2);
  if (bytes.size() < total_length) return truncated("total length", bytes.size(), total_length);
  return Ipv4Packet(bytes.first(total_length), *header_length);
}

Result<Ipv4Packet> Ipv4Packet::parse_quoted(ByteSpan bytes) {
  auto header_length = check_header(bytes);
  if (!header_length) return header_length.error();
  const std::size_t total_length = load_be16(bytes, 2);
  return Ipv4Packet(bytes.first(std::min(total_length, bytes.size())), *header_length);
}

std::uint16_t Ipv4Packet::fragment_offset() const {
  return static_cast<std::uint16_t>((load_be16(bytes_, 6) & 0x1FFFU) * 8U);
}
Ipv4Address Ipv4Packet::source() const {
  return ip_at(bytes_, 12);
}
Ipv4Address Ipv4Packet::destination() const {
  return ip_at(bytes_, 16);
}
bool Ipv4Packet::checksum_ok() const {
  return ones_complement_sum(header()) == 0xFFFF;
}

bool Ipv4Header::emit(std::span<std::uint8_t> out) const {
  if (out.size() < kIpv4MinHeaderLength || total_length() > kIpv4MaxTotalLength ||
      fragment_offset % 8 != 0) {
    return false;
  }
  const auto header = out.first(kIpv4MinHeaderLength);
  header[0] = 0x45;  // version 4, IHL 5
  header[1] = dscp_ecn;
  store_be16(header, 2, static_cast<std::uint16_t>(total_length()));
  store_be16(header, 4, identification);
  const unsigned flags = (dont_fragment ? 0x4000U : 0U) | (more_fragments ? 0x2000U : 0U);
  store_be16(header, 6, static_cast<std::uint16_t>(flags | (fragment_offset / 8U)));
  header[8] = ttl;
  header[9] = protocol;
  store_be16(header, 10, 0);
  std::copy(source.bytes.begin(), source.bytes.end(), header.begin() + 12);
  std::copy(destination.bytes.begin(), destination.bytes.end(), header.begin() + 16);
  store_be16(header, 10, internet_checksum(header));
  return true;
}

}  // namespace aero::wire
