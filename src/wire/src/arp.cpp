// ARP (RFC 826) view and emitter for Ethernet/IPv4.
#include "aero/wire/arp.h"

#include <algorithm>
#include <string>

#include "aero/wire/checksum.h"
#include "aero/wire/ethernet.h"

namespace aero::wire {

namespace {

constexpr std::size_t kArpFixedLength = 8;  // up to and including the operation

Ipv4Address ip_at(ByteSpan bytes, std::size_t at) {
  Ipv4Address out;
  std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(at), 4, out.bytes.begin());
  return out;
}

}  // namespace

Result<ArpPacket> ArpPacket::parse(ByteSpan bytes) {
  if (bytes.size() < kArpFixedLength) {
    return make_error("truncated",
                      "ARP packet truncated: " + std::to_string(bytes.size()) + " < 8 bytes");
  }
  // RFC 826 "Packet format": ar$hrd, ar$pro, ar$hln, ar$pln.
  const std::uint16_t hardware = load_be16(bytes, 0);
  const std::uint16_t protocol = load_be16(bytes, 2);
  if (hardware != kArpHardwareEthernet || protocol != kEtherTypeIpv4 || bytes[4] != 6 ||
      bytes[5] != 4) {
    return make_error("unsupported", "ARP is supported only for Ethernet and IPv4 (htype " +
                                         std::to_string(hardware) + ", ptype " +
                                         std::to_string(protocol) + ")");
  }
  if (bytes.size() < kArpPacketLength) {
    return make_error("truncated",
                      "ARP packet truncated: " + std::to_string(bytes.size()) + " < 28 bytes");
  }
  return ArpPacket(bytes.first(kArpPacketLength));
}

Ipv4Address ArpPacket::sender_ip() const {
  return ip_at(bytes_, 14);
}
Ipv4Address ArpPacket::target_ip() const {
  return ip_at(bytes_, 24);
}

ArpHeader ArpHeader::reply_to(const ArpPacket& request, const MacAddress& our_mac) {
  ArpHeader reply;
  reply.operation = kArpOperationReply;
  reply.sender_mac = our_mac;
  reply.sender_ip = request.target_ip();
  reply.target_mac = request.sender_mac();
  reply.target_ip = request.sender_ip();
  return reply;
}

bool ArpHeader::emit(std::span<std::uint8_t> out) const {
  if (out.size() < kArpPacketLength) return false;
  store_be16(out, 0, kArpHardwareEthernet);
  store_be16(out, 2, kEtherTypeIpv4);
  out[4] = 6;
  out[5] = 4;
  store_be16(out, 6, operation);
  std::copy(sender_mac.bytes.begin(), sender_mac.bytes.end(), out.begin() + 8);
  std::copy(sender_ip.bytes.begin(), sender_ip.bytes.end(), out.begin() + 14);
  std::copy(target_mac.bytes.begin(), target_mac.bytes.end(), out.begin() + 18);
  std::copy(target_ip.bytes.begin(), target_ip.bytes.end(), out.begin() + 24);
  return true;
}

}  // namespace aero::wire
