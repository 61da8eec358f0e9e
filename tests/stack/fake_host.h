// A SessionHost that records every frame sent to the guest, with parsing helpers.
#pragma once

#include <optional>
#include <vector>

#include "aero/stack/session.h"
#include "aero/wire/dhcp.h"
#include "aero/wire/ethernet.h"
#include "aero/wire/ipv4.h"
#include "aero/wire/udp.h"

namespace aero::test {

class RecordingHost : public stack::SessionHost {
 public:
  void send_to_guest(ByteSpan frame) override { frames.emplace_back(frame.begin(), frame.end()); }

  std::vector<Bytes> take() { return std::exchange(frames, {}); }
  std::vector<Bytes> frames;
};

// The IPv4 packet inside an Ethernet frame (asserting it parses).
inline wire::Ipv4Packet ipv4_of(const Bytes& frame) {
  return wire::Ipv4Packet::parse(wire::EthernetFrame::parse(frame).value().payload()).value();
}

// The DHCP message inside a reply frame, or nullopt when it is not one.
inline std::optional<wire::DhcpMessage> dhcp_of(const Bytes& frame) {
  auto ethernet = wire::EthernetFrame::parse(frame);
  if (!ethernet || ethernet->ethertype() != wire::kEtherTypeIpv4) return std::nullopt;
  auto ip = wire::Ipv4Packet::parse(ethernet->payload());
  if (!ip || ip->protocol() != wire::kIpProtocolUdp) return std::nullopt;
  auto udp = wire::UdpPacket::parse(ip->payload());
  if (!udp || udp->source_port() != 67 || udp->destination_port() != 68) return std::nullopt;
  if (!udp->checksum_ok(ip->source(), ip->destination())) return std::nullopt;
  auto dhcp = wire::DhcpMessage::parse(udp->payload());
  if (!dhcp) return std::nullopt;
  return *dhcp;
}

}  // namespace aero::test
