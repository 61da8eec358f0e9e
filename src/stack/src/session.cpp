// The stack session's frame dispatch and local services; see session.h.
#include "aero/stack/session.h"

#include <algorithm>
#include <cstring>

#include "aero/wire/dhcp.h"

namespace aero::stack {

namespace {

constexpr std::size_t kEthernetAndIpv4 = wire::kEthernetHeaderLength + wire::kIpv4MinHeaderLength;
// Largest frame the session emits: an IPv4 packet of up to 65535 bytes plus the Ethernet header.
constexpr std::size_t kMaxFrame = wire::kEthernetHeaderLength + wire::kIpv4MaxTotalLength;
constexpr Ipv4Address kLimitedBroadcast{{255, 255, 255, 255}};

constexpr std::array<std::string_view, static_cast<std::size_t>(Drop::count_)> kDropNames = {
    "malformed_ethernet", "not_for_us",        "unsupported_ethertype", "malformed_arp",
    "malformed_ipv4",     "bad_ipv4_checksum", "ipv4_fragment",         "malformed_udp",
    "bad_udp_checksum",   "malformed_icmp",    "bad_icmp_checksum",     "malformed_dhcp",
    "unhandled_icmp",     "unhandled_protocol", "no_forwarding",
};

}  // namespace

std::string_view drop_name(Drop reason) {
  const auto index = static_cast<std::size_t>(reason);
  return index < kDropNames.size() ? kDropNames[index] : "unknown";
}

Session::Session(const StackConfig& config, SessionHost& host, Instant /*now*/)
    : config_(config), host_(host), dhcp_(config), tx_(kMaxFrame) {
  announce_gateway();
}

std::span<std::uint8_t> Session::payload_area() {
  return std::span<std::uint8_t>(tx_).subspan(kEthernetAndIpv4);
}

void Session::handle_guest_frame(ByteSpan bytes, Instant now) {
  ++stats_.frames_from_guest;
  auto frame = wire::EthernetFrame::parse(bytes);
  if (!frame) return drop(Drop::malformed_ethernet);
  const wire::MacAddress destination = frame->destination();
  if (destination != config_.gateway_mac && !destination.is_broadcast()) {
    return drop(Drop::not_for_us);
  }
  switch (frame->ethertype()) {
    case wire::kEtherTypeArp: return handle_arp(*frame);
    case wire::kEtherTypeIpv4: return handle_ipv4(*frame, now);
    default: return drop(Drop::unsupported_ethertype);
  }
}

void Session::handle_arp(const wire::EthernetFrame& frame) {
  auto arp = wire::ArpPacket::parse(frame.payload());
  if (!arp) return drop(Drop::malformed_arp);
  if (arp->sender_mac().is_unicast() && !arp->sender_mac().is_zero()) {
    guest_mac_ = arp->sender_mac();
  }
  if (arp->operation() != wire::kArpOperationRequest || !config_.owns(arp->target_ip())) return;
  // RFC 826: answer with our address, unicast to the asker. A probe (sender IP 0.0.0.0) for one
  // of our addresses is answered too, which tells the prober the address is taken.
  const auto reply = wire::ArpHeader::reply_to(*arp, config_.gateway_mac);
  const wire::EthernetHeader ethernet{arp->sender_mac(), config_.gateway_mac, wire::kEtherTypeArp, {}};
  std::span<std::uint8_t> out(tx_);
  if (!ethernet.emit(out) || !reply.emit(out.subspan(ethernet.header_length()))) return;
  deliver(ethernet.header_length() + reply.length());
  ++stats_.arp_replies;
}

void Session::announce_gateway() {
  // Gratuitous ARP request (RFC 5227 §3 "announcement"): sender and target IP both ours.
  wire::ArpHeader announcement;
  announcement.operation = wire::kArpOperationRequest;
  announcement.sender_mac = config_.gateway_mac;
  announcement.sender_ip = config_.gateway_ip;
  announcement.target_mac = wire::MacAddress{};
  announcement.target_ip = config_.gateway_ip;
  const wire::EthernetHeader ethernet{wire::MacAddress::broadcast(), config_.gateway_mac,
                                      wire::kEtherTypeArp, {}};
  std::span<std::uint8_t> out(tx_);
  if (!ethernet.emit(out) || !announcement.emit(out.subspan(ethernet.header_length()))) return;
  deliver(ethernet.header_length() + announcement.length());
}

void Session::handle_ipv4(const wire::EthernetFrame& frame, Instant now) {
  auto packet = wire::Ipv4Packet::parse(frame.payload());
  if (!packet) return drop(Drop::malformed_ipv4);
  if (!packet->checksum_ok()) return drop(Drop::bad_ipv4_checksum);
  if (packet->is_fragment()) return drop(Drop::ipv4_fragment);
  if (frame.source().is_unicast() && packet->source() != Ipv4Address{}) {
    guest_mac_ = frame.source();
  }
  const Ipv4Address destination = packet->destination();
  const bool local = config_.owns(destination) || destination == kLimitedBroadcast ||
                     destination == config_.broadcast_address();
  if (!local) return drop(Drop::no_forwarding);
  switch (packet->protocol()) {
    case wire::kIpProtocolIcmp: return handle_icmp(*packet);
    case wire::kIpProtocolUdp: return handle_udp(*packet, now);
    default: return drop(Drop::unhandled_protocol);
  }
}

void Session::handle_icmp(const wire::Ipv4Packet& packet) {
  auto icmp = wire::Icmpv4Packet::parse(packet.payload());
  if (!icmp) return drop(Drop::malformed_icmp);
  if (!icmp->checksum_ok()) return drop(Drop::bad_icmp_checksum);
  if (!icmp->is_echo_request() || !config_.owns(packet.destination()) || !guest_mac_) {
    return drop(Drop::unhandled_icmp);
  }
  const auto reply = wire::Icmpv4Header::echo_reply_to(*icmp);
  const ByteSpan data = icmp->echo_data();
  if (!reply.emit(payload_area(), data)) return drop(Drop::malformed_icmp);
  send_ipv4(*guest_mac_, packet.destination(), packet.source(), wire::kIpProtocolIcmp,
            reply.length(data.size()));
  ++stats_.echo_replies;
}

void Session::handle_udp(const wire::Ipv4Packet& packet, Instant now) {
  auto udp = wire::UdpPacket::parse(packet.payload());
  if (!udp) return drop(Drop::malformed_udp);
  if (!udp->checksum_ok(packet.source(), packet.destination())) return drop(Drop::bad_udp_checksum);
  if (udp->destination_port() == wire::kDhcpServerPort &&
      udp->source_port() == wire::kDhcpClientPort) {
    return handle_dhcp(udp->payload(), now);
  }
  // Broadcasts are never answered with ICMP errors (RFC 1122 §3.2.2).
  if (!config_.owns(packet.destination())) return;
  send_port_unreachable(packet);
}

void Session::handle_dhcp(ByteSpan payload, Instant now) {
  auto message = wire::DhcpMessage::parse(payload);
  if (!message) return drop(Drop::malformed_dhcp);
  // The DHCP message is built after the Ethernet, IPv4 and UDP headers of the reply frame.
  const auto dhcp_area = payload_area().subspan(wire::kUdpHeaderLength);
  const auto reply = dhcp_.handle(*message, now, dhcp_area);
  if (!reply) return;
  const wire::UdpHeader udp{wire::kDhcpServerPort, wire::kDhcpClientPort};
  const ByteSpan dhcp_bytes = dhcp_area.first(reply->length);
  if (!udp.emit(payload_area(), dhcp_bytes, config_.gateway_ip, reply->ip_destination)) return;
  send_ipv4(reply->mac_destination, config_.gateway_ip, reply->ip_destination,
            wire::kIpProtocolUdp, udp.length(reply->length));
}

void Session::send_port_unreachable(const wire::Ipv4Packet& offending) {
  if (!guest_mac_) return;
  const ByteSpan quote = wire::icmpv4_error_quote(offending);
  const auto header = wire::Icmpv4Header::destination_unreachable(3);  // port unreachable
  // The quote lives in the guest's frame, which is not tx_, so copying it in place is safe.
  const auto area = payload_area();
  std::memcpy(area.data() + wire::kIcmpv4HeaderLength, quote.data(), quote.size());
  if (!header.emit(area, area.subspan(wire::kIcmpv4HeaderLength, quote.size()))) return;
  send_ipv4(*guest_mac_, offending.destination(), offending.source(), wire::kIpProtocolIcmp,
            header.length(quote.size()));
  ++stats_.port_unreachables;
}

void Session::send_ipv4(const wire::MacAddress& destination_mac, Ipv4Address source,
                        Ipv4Address destination, std::uint8_t protocol,
                        std::size_t payload_length) {
  const wire::EthernetHeader ethernet{destination_mac, config_.gateway_mac, wire::kEtherTypeIpv4, {}};
  wire::Ipv4Header ip;
  ip.identification = next_ip_id_++;
  ip.dont_fragment = true;
  ip.ttl = 64;
  ip.protocol = protocol;
  ip.source = source;
  ip.destination = destination;
  ip.payload_length = payload_length;
  std::span<std::uint8_t> out(tx_);
  if (!ethernet.emit(out) || !ip.emit(out.subspan(wire::kEthernetHeaderLength))) return;
  deliver(kEthernetAndIpv4 + payload_length);
}

void Session::deliver(std::size_t length) {
  // IEEE 802.3 §4.2.3.3: frames are padded to the 60-byte minimum (without FCS); some NIC
  // drivers drop runts.
  if (length < wire::kEthernetMinFrameLength) {
    std::fill(tx_.begin() + static_cast<std::ptrdiff_t>(length),
              tx_.begin() + static_cast<std::ptrdiff_t>(wire::kEthernetMinFrameLength), 0);
    length = wire::kEthernetMinFrameLength;
  }
  host_.send_to_guest(ByteSpan(tx_).first(length));
  ++stats_.frames_to_guest;
}

}  // namespace aero::stack
