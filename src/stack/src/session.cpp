// The stack session's frame dispatch and local services; see session.h.
#include "aero/stack/session.h"

#include <algorithm>
#include <cstring>

#include "aero/wire/checksum.h"
#include "aero/wire/dhcp.h"
#include "aero/wire/tcp.h"

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
    "unhandled_icmp",     "unhandled_protocol", "no_forwarding",         "not_forwardable",
    "policy_denied",      "udp_flow_limit",    "udp_open_failed",       "udp_send_failed",
    "udp_reply_unknown_flow", "echo_flow_limit", "echo_open_failed", "malformed_tcp",
    "bad_tcp_checksum",   "tcp_to_gateway",
};

}  // namespace

std::string_view drop_name(Drop reason) {
  const auto index = static_cast<std::size_t>(reason);
  return index < kDropNames.size() ? kDropNames[index] : "unknown";
}

Session::Session(const StackConfig& config, SessionHost& host, Instant /*now*/)
    : config_(config),
      host_(host),
      dhcp_(config_),
      policy_(config_.policy),
      udp_nat_(config_.max_udp_flows, config_.udp_idle_timeout),
      echo_flows_(config_.max_echo_flows, config_.echo_idle_timeout),
      reassembler_(config_.reassembly),
      dns_(config_, policy_),
      tcp_(config_.tcp, config_.mtu, host, *this),
      tx_(std::make_unique_for_overwrite<std::uint8_t[]>(kMaxFrame)),
      fragment_(wire::kEthernetHeaderLength + config_.mtu) {
  announce_gateway();
}

std::span<std::uint8_t> Session::tx() { return {tx_.get(), kMaxFrame}; }

std::span<std::uint8_t> Session::payload_area() {
  return tx().subspan(kEthernetAndIpv4);
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
    case wire::kEtherTypeArp: return handle_arp(*frame, now);
    case wire::kEtherTypeIpv4: return handle_ipv4(*frame, now);
    default: return drop(Drop::unsupported_ethertype);
  }
}

void Session::handle_arp(const wire::EthernetFrame& frame, Instant now) {
  auto arp = wire::ArpPacket::parse(frame.payload());
  if (!arp) return drop(Drop::malformed_arp);
  if (arp->sender_mac().is_unicast() && !arp->sender_mac().is_zero()) {
    const bool first = !guest_mac_;
    guest_mac_ = arp->sender_mac();
    // Inbound connections opened before the guest spoke sent their SYN nowhere.
    if (first && tcp_.half_open_count() != 0) tcp_.resend_syns(now);
  }
  if (arp->operation() != wire::kArpOperationRequest || !config_.owns(arp->target_ip())) return;
  // RFC 826: answer with our address, unicast to the asker. A probe (sender IP 0.0.0.0) for one
  // of our addresses is answered too, which tells the prober the address is taken.
  const auto reply = wire::ArpHeader::reply_to(*arp, config_.gateway_mac);
  const wire::EthernetHeader ethernet{arp->sender_mac(), config_.gateway_mac, wire::kEtherTypeArp, {}};
  const std::span<std::uint8_t> out = tx();
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
  const std::span<std::uint8_t> out = tx();
  if (!ethernet.emit(out) || !announcement.emit(out.subspan(ethernet.header_length()))) return;
  deliver(ethernet.header_length() + announcement.length());
}

void Session::handle_ipv4(const wire::EthernetFrame& frame, Instant now) {
  auto packet = wire::Ipv4Packet::parse(frame.payload());
  if (!packet) return drop(Drop::malformed_ipv4);
  if (!packet->checksum_ok()) return drop(Drop::bad_ipv4_checksum);
  if (frame.source().is_unicast() && packet->source() != Ipv4Address{}) {
    guest_mac_ = frame.source();
    if (config_.in_subnet(packet->source())) guest_ip_ = packet->source();
  }
  if (packet->is_fragment()) {
    const auto outcome = reassembler_.add(*packet, now);
    if (outcome.dropped()) return drop(Drop::ipv4_fragment);
    if (!outcome.complete()) return;
    // The datagram lives in the reassembler until its next add(), which cannot happen while
    // this one is dispatched.
    auto whole = wire::Ipv4Packet::parse(outcome.datagram);
    if (!whole) return drop(Drop::malformed_ipv4);
    return dispatch_ipv4(*whole, now);
  }
  dispatch_ipv4(*packet, now);
}

void Session::dispatch_ipv4(const wire::Ipv4Packet& packet, Instant now) {
  const Ipv4Address destination = packet.destination();
  const bool local = config_.owns(destination) || destination == kLimitedBroadcast ||
                     destination == config_.broadcast_address();
  if (!local) {
    if (destination.bytes[0] >= 224 || config_.in_subnet(destination)) {
      return drop(Drop::not_forwardable);  // multicast, class E, or another host on the link
    }
    if (packet.protocol() == wire::kIpProtocolIcmp) return handle_icmp(packet, now);
    if (packet.protocol() == wire::kIpProtocolTcp) return handle_tcp(packet, now);
    if (packet.protocol() == wire::kIpProtocolUdp) {
      auto udp = wire::UdpPacket::parse(packet.payload());
      if (!udp) return drop(Drop::malformed_udp);
      if (!udp->checksum_ok(packet.source(), destination)) return drop(Drop::bad_udp_checksum);
      return forward_udp(packet, *udp, now);
    }
    return drop(Drop::no_forwarding);
  }
  switch (packet.protocol()) {
    case wire::kIpProtocolIcmp: return handle_icmp(packet, now);
    case wire::kIpProtocolUdp: return handle_udp(packet, now);
    case wire::kIpProtocolTcp:
      if (config_.owns(destination)) return handle_tcp(packet, now);
      return drop(Drop::unhandled_protocol);
    default: return drop(Drop::unhandled_protocol);
  }
}

void Session::handle_icmp(const wire::Ipv4Packet& packet, Instant now) {
  auto icmp = wire::Icmpv4Packet::parse(packet.payload());
  if (!icmp) return drop(Drop::malformed_icmp);
  if (!icmp->checksum_ok()) return drop(Drop::bad_icmp_checksum);
  if (!icmp->is_echo_request() || !guest_mac_) return drop(Drop::unhandled_icmp);
  if (!config_.owns(packet.destination())) return forward_echo(packet, *icmp, now);
  const auto reply = wire::Icmpv4Header::echo_reply_to(*icmp);
  const ByteSpan data = icmp->echo_data();
  if (!reply.emit(payload_area(), data)) return drop(Drop::malformed_icmp);
  send_ipv4(*guest_mac_, packet.destination(), packet.source(), wire::kIpProtocolIcmp,
            reply.length(data.size()));
  ++stats_.echo_replies;
}

void Session::forward_echo(const wire::Ipv4Packet& packet, const wire::Icmpv4Packet& icmp,
                           Instant now) {
  const UdpFlowKey key{packet.source(), icmp.echo_identifier(), packet.destination(), 0};
  UdpFlow* flow = echo_flows_.find(key);
  if (flow == nullptr) {
    if (!policy_.check_address(key.remote_ip)) {
      drop(Drop::policy_denied);
      send_icmp_unreachable(packet, 13);  // communication administratively prohibited
      ++stats_.admin_prohibited;
      return;
    }
    flow = echo_flows_.insert(key, now);
    if (flow == nullptr) return drop(Drop::echo_flow_limit);
    if (!host_.icmp_open(flow->id, key.remote_ip)) {
      echo_flows_.remove(flow->id);
      return drop(Drop::echo_open_failed);
    }
  }
  flow->last_active = now;
  if (!host_.icmp_send(flow->id, icmp.message())) return drop(Drop::udp_send_failed);
  ++stats_.echo_forwarded;
}

void Session::handle_icmp_from_host(FlowId id, ByteSpan message, Instant now) {
  UdpFlow* flow = echo_flows_.find(id);
  if (flow == nullptr || !guest_mac_) return drop(Drop::udp_reply_unknown_flow);
  auto icmp = wire::Icmpv4Packet::parse(message);
  if (!icmp || !icmp->is_echo_reply()) return drop(Drop::unhandled_icmp);
  flow->last_active = now;
  // The host's socket may have used its own identifier; the guest gets its own back.
  const auto reply = wire::Icmpv4Header::echo_reply(flow->key.guest_port, icmp->echo_sequence());
  const ByteSpan data = icmp->echo_data();
  if (!reply.emit(payload_area(), data)) return drop(Drop::malformed_icmp);
  send_ipv4(*guest_mac_, flow->key.remote_ip, flow->key.guest_ip, wire::kIpProtocolIcmp,
            reply.length(data.size()));
  ++stats_.echo_replies_from_host;
}

void Session::handle_udp(const wire::Ipv4Packet& packet, Instant now) {
  auto udp = wire::UdpPacket::parse(packet.payload());
  if (!udp) return drop(Drop::malformed_udp);
  if (!udp->checksum_ok(packet.source(), packet.destination())) return drop(Drop::bad_udp_checksum);
  if (udp->destination_port() == wire::kDhcpServerPort &&
      udp->source_port() == wire::kDhcpClientPort) {
    return handle_dhcp(udp->payload(), now);
  }
  if (udp->destination_port() == wire::kDnsPort && packet.destination() == config_.dns_ip) {
    return handle_dns_query(packet, *udp, now);
  }
  // Broadcasts are never answered with ICMP errors (RFC 1122 §3.2.2).
  if (!config_.owns(packet.destination())) return;
  send_icmp_unreachable(packet, 3);  // port unreachable
  ++stats_.port_unreachables;
}

void Session::forward_udp(const wire::Ipv4Packet& packet, const wire::UdpPacket& udp,
                          Instant now) {
  const UdpFlowKey key{packet.source(), udp.source_port(), packet.destination(),
                       udp.destination_port()};
  UdpFlow* flow = udp_nat_.find(key);
  if (flow == nullptr) {
    Ipv4Address target = key.remote_ip;
    std::uint16_t target_port = key.remote_port;
    const auto forward = std::find_if(
        config_.udp_forwards.begin(), config_.udp_forwards.end(), [&](const auto& f) {
          return f.guest_ip == key.remote_ip && f.guest_port == key.remote_port;
        });
    const bool forwarded = forward != config_.udp_forwards.end();
    // Forwards bypass the address policy but not the port policy.
    const Decision decision = forwarded ? policy_.check_udp_port(key.remote_port)
                                        : policy_.check_udp(key.remote_ip, key.remote_port);
    if (!decision) {
      drop(Drop::policy_denied);
      send_icmp_unreachable(packet, 13);  // communication administratively prohibited
      ++stats_.admin_prohibited;
      return;
    }
    if (forwarded) {
      target = forward->target_ip;
      target_port = forward->target_port;
    }
    flow = udp_nat_.insert(key, now);
    if (flow == nullptr) return drop(Drop::udp_flow_limit);
    if (!host_.udp_open(flow->id, target, target_port)) {
      udp_nat_.remove(flow->id);
      return drop(Drop::udp_open_failed);
    }
    ++stats_.udp_flows_opened;
  }
  flow->last_active = now;
  if (!host_.udp_send(flow->id, udp.payload())) return drop(Drop::udp_send_failed);
  ++stats_.udp_to_host;
}

void Session::handle_udp_from_host(FlowId id, ByteSpan payload, Instant now) {
  UdpFlow* flow = udp_nat_.find(id);
  if (flow == nullptr) return drop(Drop::udp_reply_unknown_flow);
  flow->last_active = now;
  const std::size_t max_payload =
      wire::kIpv4MaxTotalLength - wire::kIpv4MinHeaderLength - wire::kUdpHeaderLength;
  if (payload.size() > max_payload || !guest_mac_) return drop(Drop::udp_send_failed);
  const auto area = payload_area();
  std::memcpy(area.data() + wire::kUdpHeaderLength, payload.data(), payload.size());
  ++stats_.udp_from_host;
  send_udp_to_guest(flow->key, payload.size());
}

void Session::handle_udp_unreachable(FlowId id, Instant /*now*/) {
  UdpFlow* flow = udp_nat_.find(id);
  if (flow == nullptr) return;
  const UdpFlowKey key = flow->key;
  udp_nat_.remove(id);
  host_.udp_close(id);
  if (!guest_mac_) return;
  // Rebuild the header of the guest's datagram for the quote: the guest's stack matches the
  // error to its socket by the quoted addresses and ports (RFC 1122 §4.1.3.3).
  std::array<std::uint8_t, wire::kIpv4MinHeaderLength + wire::kUdpHeaderLength> quote{};
  wire::Ipv4Header ip;
  ip.protocol = wire::kIpProtocolUdp;
  ip.source = key.guest_ip;
  ip.destination = key.remote_ip;
  ip.payload_length = wire::kUdpHeaderLength;
  const wire::UdpHeader udp{key.guest_port, key.remote_port};
  if (!ip.emit(quote) ||
      !udp.emit(std::span<std::uint8_t>(quote).subspan(wire::kIpv4MinHeaderLength), {},
                key.guest_ip, key.remote_ip)) {
    return;
  }
  auto original = wire::Ipv4Packet::parse(quote);
  if (!original) return;
  send_icmp_unreachable(*original, 3);
  ++stats_.port_unreachables;
}

void Session::poll(Instant now) {
  udp_nat_.expire(now, [this](FlowId id) {
    host_.udp_close(id);
    ++stats_.udp_flows_expired;
  });
  echo_flows_.expire(now, [this](FlowId id) { host_.icmp_close(id); });
  reassembler_.expire(now);
  tcp_.poll(now);
  const auto area = payload_area().subspan(wire::kUdpHeaderLength);
  dns_.expire(now, area, [this](const DnsForwarder::Answer& answer) {
    send_dns_to_guest(answer.client, answer.length);
  });
}

std::optional<Instant> Session::next_deadline() const {
  std::optional<Instant> earliest;
  for (const auto& candidate :
       {udp_nat_.next_deadline(), echo_flows_.next_deadline(), dns_.next_deadline(),
        reassembler_.next_deadline(), tcp_.next_deadline()}) {
    if (candidate && (!earliest || *candidate < *earliest)) earliest = candidate;
  }
  return earliest;
}

void Session::handle_tcp(const wire::Ipv4Packet& packet, Instant now) {
  auto segment = wire::TcpPacket::parse(packet.payload());
  if (!segment) return drop(Drop::malformed_tcp);
  if (!segment->checksum_ok(packet.source(), packet.destination())) {
    return drop(Drop::bad_tcp_checksum);
  }
  if (!guest_mac_) return drop(Drop::malformed_tcp);  // cannot answer
  TcpEngine::Admission admission;
  if (config_.owns(packet.destination())) {
    // No service listens on the gateway: every segment is refused as by a closed port.
    drop(Drop::tcp_to_gateway);
  } else if (segment->syn() && !segment->ack()) {
    const Ipv4Address destination = packet.destination();
    const std::uint16_t port = segment->destination_port();
    const auto forward = std::find_if(
        config_.tcp_forwards.begin(), config_.tcp_forwards.end(),
        [&](const auto& f) { return f.guest_ip == destination && f.guest_port == port; });
    if (forward != config_.tcp_forwards.end()) {
      admission.allowed = policy_.check_tcp_port(port).allowed;
      admission.target = forward->target_ip;
      admission.target_port = forward->target_port;
    } else {
      admission.allowed = policy_.check_tcp(destination, port).allowed;
      admission.target = destination;
      admission.target_port = port;
    }
    if (!admission.allowed && !tcp_.find({packet.source(), segment->source_port(), destination,
                                          port})) {
      drop(Drop::policy_denied);
    }
  }
  tcp_.handle_segment(packet.source(), packet.destination(), *segment, admission, now);
}

void Session::send_tcp_segment(Ipv4Address source, Ipv4Address destination, std::size_t length,
                               std::size_t frame_data) {
  if (!guest_mac_) return;
  send_ipv4(*guest_mac_, source, destination, wire::kIpProtocolTcp, length, frame_data);
}

void Session::send_tcp_unreachable(const TcpTuple& tuple, std::uint32_t syn_sequence,
                                   std::uint8_t code) {
  // The quote of the guest's SYN: its IPv4 header and first 8 bytes (RFC 792), rebuilt.
  std::array<std::uint8_t, wire::kIpv4MinHeaderLength + 8> quoted{};
  wire::Ipv4Header ip;
  ip.protocol = wire::kIpProtocolTcp;
  ip.ttl = 64;
  ip.source = tuple.guest_ip;
  ip.destination = tuple.remote_ip;
  ip.payload_length = 8;
  if (!ip.emit(quoted)) return;
  std::span<std::uint8_t> tcp_part = std::span(quoted).subspan(wire::kIpv4MinHeaderLength);
  wire::store_be16(tcp_part, 0, tuple.guest_port);
  wire::store_be16(tcp_part, 2, tuple.remote_port);
  wire::store_be32(tcp_part, 4, syn_sequence);
  auto offending = wire::Ipv4Packet::parse(quoted);
  if (!offending) return;
  send_icmp_unreachable(*offending, code);
}

std::optional<ConnectionId> Session::open_tcp_inbound(std::uint16_t guest_port, Instant now) {
  const Ipv4Address guest = guest_ip_.value_or(config_.guest_ip);
  // A guest that has not spoken yet is asked for its MAC; the SYN's retransmission reaches it.
  if (!guest_mac_) request_guest_mac(guest);
  return tcp_.open_inbound(guest, guest_port, config_.gateway_ip, now);
}

void Session::request_guest_mac(Ipv4Address guest) {
  wire::ArpHeader request;
  request.operation = wire::kArpOperationRequest;
  request.sender_mac = config_.gateway_mac;
  request.sender_ip = config_.gateway_ip;
  request.target_mac = wire::MacAddress{};
  request.target_ip = guest;
  const wire::EthernetHeader ethernet{wire::MacAddress::broadcast(), config_.gateway_mac,
                                      wire::kEtherTypeArp, {}};
  const std::span<std::uint8_t> out = tx();
  if (!ethernet.emit(out) || !request.emit(out.subspan(ethernet.header_length()))) return;
  deliver(ethernet.header_length() + request.length());
}

void Session::handle_dns_query(const wire::Ipv4Packet& packet, const wire::UdpPacket& udp,
                               Instant now) {
  const DnsClient client{packet.source(), udp.source_port()};
  const auto area = payload_area().subspan(wire::kUdpHeaderLength);
  const auto outcome = dns_.on_query(udp.payload(), client, now, area);
  switch (outcome.kind) {
    case DnsForwarder::Outcome::Kind::reply:
      return send_dns_to_guest(client, outcome.reply_length);
    case DnsForwarder::Outcome::Kind::forward:
      if (!host_.dns_query(outcome.forward_id, udp.payload())) {
        handle_dns_failure(outcome.forward_id, now);
      }
      return;
    case DnsForwarder::Outcome::Kind::drop:
      return;
  }
}

void Session::handle_dns_response(QueryId id, ByteSpan response, Instant now) {
  const auto area = payload_area().subspan(wire::kUdpHeaderLength);
  if (auto answer = dns_.on_response(id, response, now, area)) {
    send_dns_to_guest(answer->client, answer->length);
  }
}

void Session::handle_dns_failure(QueryId id, Instant /*now*/) {
  const auto area = payload_area().subspan(wire::kUdpHeaderLength);
  if (auto answer = dns_.on_failure(id, area)) send_dns_to_guest(answer->client, answer->length);
}

void Session::send_dns_to_guest(const DnsClient& client, std::size_t length) {
  if (length == 0 || !guest_mac_) return;
  send_udp_to_guest(UdpFlowKey{client.ip, client.port, config_.dns_ip, wire::kDnsPort}, length);
}

void Session::send_udp_to_guest(const UdpFlowKey& key, std::size_t payload_length) {
  const auto area = payload_area();
  const wire::UdpHeader udp{key.remote_port, key.guest_port};
  if (!udp.emit(area, area.subspan(wire::kUdpHeaderLength, payload_length), key.remote_ip,
                key.guest_ip)) {
    return;
  }
  const std::size_t datagram = wire::kUdpHeaderLength + payload_length;
  if (wire::kIpv4MinHeaderLength + datagram <= config_.mtu) {
    send_ipv4(*guest_mac_, key.remote_ip, key.guest_ip, wire::kIpProtocolUdp, datagram);
    return;
  }
  // RFC 791 §3.2: every fragment but the last carries a multiple of 8 bytes.
  const std::size_t chunk = (config_.mtu - wire::kIpv4MinHeaderLength) / 8 * 8;
  const std::uint16_t id = next_ip_id_++;
  const wire::EthernetHeader ethernet{*guest_mac_, config_.gateway_mac, wire::kEtherTypeIpv4, {}};
  for (std::size_t offset = 0; offset < datagram; offset += chunk) {
    const std::size_t length = std::min(chunk, datagram - offset);
    wire::Ipv4Header ip;
    ip.identification = id;
    ip.more_fragments = offset + length < datagram;
    ip.fragment_offset = static_cast<std::uint16_t>(offset);
    ip.protocol = wire::kIpProtocolUdp;
    ip.source = key.remote_ip;
    ip.destination = key.guest_ip;
    ip.payload_length = length;
    std::span<std::uint8_t> out(fragment_);
    if (!ethernet.emit(out) || !ip.emit(out.subspan(wire::kEthernetHeaderLength))) return;
    std::memcpy(out.data() + kEthernetAndIpv4, area.data() + offset, length);
    std::size_t frame_length = kEthernetAndIpv4 + length;
    if (frame_length < wire::kEthernetMinFrameLength) {
      std::fill(out.begin() + static_cast<std::ptrdiff_t>(frame_length),
                out.begin() + static_cast<std::ptrdiff_t>(wire::kEthernetMinFrameLength), 0);
      frame_length = wire::kEthernetMinFrameLength;
    }
    host_.send_to_guest(ByteSpan(fragment_).first(frame_length));
    ++stats_.frames_to_guest;
    ++stats_.fragments_to_guest;
  }
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

void Session::send_icmp_unreachable(const wire::Ipv4Packet& offending, std::uint8_t code) {
  if (!guest_mac_) return;
  const ByteSpan quote = wire::icmpv4_error_quote(offending);
  const auto header = wire::Icmpv4Header::destination_unreachable(code);
  // The quote lives in the guest's frame, which is not tx_, so copying it in place is safe.
  const auto area = payload_area();
  std::memcpy(area.data() + wire::kIcmpv4HeaderLength, quote.data(), quote.size());
  if (!header.emit(area, area.subspan(wire::kIcmpv4HeaderLength, quote.size()))) return;
  // The error comes from the gateway for destinations beyond it (RFC 1812 §4.3.2.4), from the
  // addressed host for the gateway's own ports.
  const Ipv4Address source =
      config_.owns(offending.destination()) ? offending.destination() : config_.gateway_ip;
  send_ipv4(*guest_mac_, source, offending.source(), wire::kIpProtocolIcmp,
            header.length(quote.size()));
}

void Session::send_ipv4(const wire::MacAddress& destination_mac, Ipv4Address source,
                        Ipv4Address destination, std::uint8_t protocol,
                        std::size_t payload_length, std::size_t tcp_frame_data) {
  const wire::EthernetHeader ethernet{destination_mac, config_.gateway_mac, wire::kEtherTypeIpv4, {}};
  wire::Ipv4Header ip;
  ip.identification = next_ip_id_++;
  ip.dont_fragment = true;
  ip.ttl = 64;
  ip.protocol = protocol;
  ip.source = source;
  ip.destination = destination;
  ip.payload_length = payload_length;
  const std::span<std::uint8_t> out = tx();
  if (!ethernet.emit(out) || !ip.emit(out.subspan(wire::kEthernetHeaderLength))) return;
  deliver(kEthernetAndIpv4 + payload_length, tcp_frame_data);
}

void Session::deliver(std::size_t length, std::size_t tcp_frame_data) {
  // IEEE 802.3 §4.2.3.3: frames are padded to the 60-byte minimum (without FCS); some NIC
  // drivers drop runts.
  if (length < wire::kEthernetMinFrameLength) {
    std::fill(tx_.get() + length, tx_.get() + wire::kEthernetMinFrameLength, std::uint8_t{0});
    length = wire::kEthernetMinFrameLength;
  }
  if (tcp_frame_data != 0) {
    host_.send_segmented_tcp_to_guest(ByteSpan(tx().first(length)), tcp_frame_data);
  } else {
    host_.send_to_guest(ByteSpan(tx().first(length)));
  }
  ++stats_.frames_to_guest;
}

}  // namespace aero::stack
