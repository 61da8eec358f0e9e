// Builders for guest frames used by the stack tests.
#include "guest_frames.h"

#include <array>

#include "aero/wire/arp.h"
#include "aero/wire/ethernet.h"
#include "aero/wire/icmpv4.h"
#include "aero/wire/ipv4.h"
#include "aero/wire/udp.h"

namespace aero::test {

Bytes arp_request(const wire::MacAddress& sender_mac, Ipv4Address sender_ip, Ipv4Address target_ip,
                  const wire::MacAddress& destination) {
  Bytes frame(wire::kEthernetHeaderLength + wire::kArpPacketLength);
  const wire::EthernetHeader ethernet{destination, sender_mac, wire::kEtherTypeArp, {}};
  wire::ArpHeader arp;
  arp.operation = wire::kArpOperationRequest;
  arp.sender_mac = sender_mac;
  arp.sender_ip = sender_ip;
  arp.target_ip = target_ip;
  ethernet.emit(frame);
  arp.emit(std::span<std::uint8_t>(frame).subspan(wire::kEthernetHeaderLength));
  return frame;
}

Bytes ipv4_frame(const wire::MacAddress& source_mac, const wire::MacAddress& destination_mac,
                 Ipv4Address source, Ipv4Address destination, std::uint8_t protocol,
                 ByteSpan payload, bool corrupt_header_checksum) {
  Bytes frame(wire::kEthernetHeaderLength + wire::kIpv4MinHeaderLength + payload.size());
  const wire::EthernetHeader ethernet{destination_mac, source_mac, wire::kEtherTypeIpv4, {}};
  wire::Ipv4Header ip;
  ip.identification = 77;
  ip.protocol = protocol;
  ip.source = source;
  ip.destination = destination;
  ip.payload_length = payload.size();
  std::span<std::uint8_t> out(frame);
  ethernet.emit(out);
  ip.emit(out.subspan(wire::kEthernetHeaderLength));
  std::copy(payload.begin(), payload.end(),
            frame.begin() + wire::kEthernetHeaderLength + wire::kIpv4MinHeaderLength);
  if (corrupt_header_checksum) frame[wire::kEthernetHeaderLength + 10] ^= 0x01;
  return frame;
}

Bytes udp_frame(const wire::MacAddress& source_mac, const wire::MacAddress& destination_mac,
                Ipv4Address source, Ipv4Address destination, std::uint16_t source_port,
                std::uint16_t destination_port, ByteSpan payload) {
  Bytes udp(wire::kUdpHeaderLength + payload.size());
  const wire::UdpHeader header{source_port, destination_port};
  header.emit(udp, payload, source, destination);
  return ipv4_frame(source_mac, destination_mac, source, destination, wire::kIpProtocolUdp, udp);
}

Bytes icmp_echo_frame(Ipv4Address source, Ipv4Address destination, std::uint16_t id,
                      std::uint16_t sequence, ByteSpan data, bool corrupt_checksum) {
  Bytes icmp(wire::kIcmpv4HeaderLength + data.size());
  wire::Icmpv4Header::echo_request(id, sequence).emit(icmp, data);
  if (corrupt_checksum) icmp[2] ^= 0x10;
  return ipv4_frame(kGuestMac, kGatewayMac, source, destination, wire::kIpProtocolIcmp, icmp);
}

Bytes dhcp_frame(const DhcpClientMessage& message) {
  std::array<std::uint8_t, 600> buffer{};
  wire::DhcpHeader header;
  header.op = wire::BootpOp::request;
  header.xid = message.xid;
  header.ciaddr = message.ciaddr;
  header.flags = message.broadcast_flag ? wire::kDhcpBroadcastFlag : 0;
  std::copy(message.mac.bytes.begin(), message.mac.bytes.end(), header.chaddr.begin());
  auto builder = wire::DhcpBuilder::start(buffer, header).value();
  (void)builder.add_message_type(message.type);
  if (message.requested_ip) (void)builder.add_addresses(wire::dhcp_option::requested_ip, std::array{*message.requested_ip});
  if (message.server_id) (void)builder.add_server_id(*message.server_id);
  if (message.client_id) (void)builder.add(wire::dhcp_option::client_id, *message.client_id);
  const std::size_t length = builder.finish().value();
  const bool has_address = message.ciaddr != kZero;
  return udp_frame(message.mac, has_address ? kGatewayMac : wire::MacAddress::broadcast(),
                   message.ciaddr, has_address ? kGatewayIp : kBroadcastIp, wire::kDhcpClientPort,
                   wire::kDhcpServerPort, ByteSpan(buffer).first(length));
}

}  // namespace aero::test
