// One VM's network: the stack session, sans-I/O.
//
// Frames from the guest and the current time go in (handle_guest_frame); frames for the guest
// come out through SessionHost::send_to_guest, synchronously, from a buffer the session owns.
// The session answers for the gateway and DNS addresses on the virtual link:
//
//   Ethernet  accepts frames addressed to the gateway MAC or broadcast; an 802.1Q tag is
//             tolerated. Other destinations and EtherTypes are dropped and counted.
//   ARP       answers requests for every address the stack owns, including duplicate-address
//             probes (RFC 5227 §2.1.1: a probe for our address is answered so the prober backs
//             off); learns the guest's MAC from its ARP and IPv4 traffic; announces the gateway
//             with a gratuitous ARP (RFC 5227 §3) when the session starts.
//   IPv4      checks the header checksum (bad ones dropped and counted) and takes datagrams for
//             the gateway, DNS and broadcast addresses.
//   DHCP      UDP 68 -> 67, handled by DhcpServer.
//   DNS       UDP to dns_ip:53, handled by DnsForwarder (upstream through SessionHost).
//   ICMP      echo requests to the gateway are answered here.
//   UDP       to a port nobody serves on the gateway: ICMP port unreachable (RFC 1122 §4.1.3.1).
//
//   UDP NAT   datagrams to other destinations: the egress policy decides per new flow (a denial
//             answers ICMP administratively prohibited, RFC 1812 §5.2.7.1); each flow gets one
//             host socket connected to the destination, so only that peer's replies come back;
//             flows are capped and expire when idle. Replies larger than the MTU are fragmented.
//
//   ICMP echo beyond the gateway: the same policy; allowed echoes travel through an unprivileged
//             ping socket (or a raw socket for root) per guest identifier and destination, and
//             the replies come back with the guest's identifier; denied ones are answered with
//             administratively prohibited.
//
//   Fragments from the guest are reassembled (bounded by StackConfig::reassembly) before any of
//             the above; malformed, overlapping or excess fragments are dropped and counted.
//
//   TCP       to destinations beyond the gateway ends in TcpEngine (tcp_engine.h), one host
//             socket per connection; the egress policy (or a TCP forward) decides at the SYN.
//             TCP to the gateway's own addresses is answered with RST: no service listens.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "aero/base/bytes.h"
#include "aero/base/clock.h"
#include "aero/stack/config.h"
#include "aero/stack/dhcp_server.h"
#include "aero/stack/dns_forwarder.h"
#include "aero/stack/egress_policy.h"
#include "aero/stack/ipv4_reassembler.h"
#include "aero/stack/tcp_engine.h"
#include "aero/stack/udp_nat.h"
#include "aero/wire/arp.h"
#include "aero/wire/ethernet.h"
#include "aero/wire/icmpv4.h"
#include "aero/wire/ipv4.h"
#include "aero/wire/mac_address.h"
#include "aero/wire/udp.h"

namespace aero::stack {

// The session's view of the world outside it. The socket operations have defaults for hosts
// without sockets (a session on such a host forwards nothing and counts it).
class SessionHost : public TcpSocketHost {
 public:
  virtual ~SessionHost() = default;
  // A frame for the guest; `frame` is valid only during the call.
  virtual void send_to_guest(ByteSpan frame) = 0;
  // With segmentation offload on (Session::set_guest_segmentation_offload), an Ethernet frame
  // holding one IPv4 TCP segment longer than the guest's MTU allows, whose data the transport
  // cuts into frames of `frame_data` bytes (each with a copy of the headers, sequence numbers
  // and checksums adjusted). Only hosts that turn offload on receive these.
  virtual void send_segmented_tcp_to_guest(ByteSpan frame, std::size_t /*frame_data*/) {
    send_to_guest(frame);
  }

  // Opens a UDP socket connected to destination:port for flow `id` (so only that peer's
  // replies arrive). False when it cannot; the session then forgets the flow.
  virtual bool udp_open(FlowId /*id*/, Ipv4Address /*destination*/, std::uint16_t /*port*/) {
    return false;
  }
  virtual bool udp_send(FlowId /*id*/, ByteSpan /*payload*/) { return false; }
  virtual void udp_close(FlowId /*id*/) {}

  // Echo flows (ping): a socket toward `destination` for guest echo requests; icmp_send gets
  // the whole ICMP echo message (the host may rewrite its identifier), replies come back
  // through Session::handle_icmp_from_host.
  virtual bool icmp_open(FlowId /*id*/, Ipv4Address /*destination*/) { return false; }
  virtual bool icmp_send(FlowId /*id*/, ByteSpan /*message*/) { return false; }
  virtual void icmp_close(FlowId /*id*/) {}

  // Sends a guest's DNS query upstream; the answer comes back through
  // Session::handle_dns_response or handle_dns_failure with the same id.
  virtual bool dns_query(QueryId /*id*/, ByteSpan /*query*/) { return false; }
};

// Why a guest frame was not handled; each reason has its own counter and metrics label.
enum class Drop : std::uint8_t {
  malformed_ethernet,
  not_for_us,
  unsupported_ethertype,
  malformed_arp,
  malformed_ipv4,
  bad_ipv4_checksum,
  ipv4_fragment,
  malformed_udp,
  bad_udp_checksum,
  malformed_icmp,
  bad_icmp_checksum,
  malformed_dhcp,
  unhandled_icmp,
  unhandled_protocol,
  no_forwarding,
  not_forwardable,     // broadcast or multicast destinations beyond the link
  policy_denied,       // the egress policy refused the destination
  udp_flow_limit,      // the session's UDP flow table is full
  udp_open_failed,
  udp_send_failed,
  udp_reply_unknown_flow,
  echo_flow_limit,
  echo_open_failed,
  malformed_tcp,
  bad_tcp_checksum,
  tcp_to_gateway,  // answered with RST
  count_,
};
std::string_view drop_name(Drop reason);

struct SessionStats {
  std::uint64_t frames_from_guest = 0;
  std::uint64_t frames_to_guest = 0;
  std::uint64_t arp_replies = 0;
  std::uint64_t echo_replies = 0;
  std::uint64_t port_unreachables = 0;
  std::uint64_t admin_prohibited = 0;   // ICMP errors for policy denials
  std::uint64_t udp_flows_opened = 0;
  std::uint64_t udp_flows_expired = 0;
  std::uint64_t udp_to_host = 0;
  std::uint64_t udp_from_host = 0;
  std::uint64_t fragments_to_guest = 0;
  std::uint64_t echo_forwarded = 0;
  std::uint64_t echo_replies_from_host = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(Drop::count_)> drops{};

  std::uint64_t dropped(Drop reason) const { return drops[static_cast<std::size_t>(reason)]; }
};

class Session final : private TcpSegmentSink {
 public:
  // `config` must have passed validate(); the session keeps its own copy. `host` must outlive
  // the session. Announces the gateway to the guest.
  Session(const StackConfig& config, SessionHost& host, Instant now);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void handle_guest_frame(ByteSpan frame, Instant now);

  // A datagram the host received on flow `id`'s socket.
  void handle_udp_from_host(FlowId id, ByteSpan payload, Instant now);
  // The host learned the flow's peer is unreachable (ICMP port unreachable on its socket):
  // tells the guest (RFC 1122 §4.1.3.3) and closes the flow.
  void handle_udp_unreachable(FlowId id, Instant now);

  // An ICMP message (an echo reply) received on echo flow `id`'s socket.
  void handle_icmp_from_host(FlowId id, ByteSpan message, Instant now);

  // The upstream answer to a query the session passed to SessionHost::dns_query.
  void handle_dns_response(QueryId id, ByteSpan response, Instant now);
  void handle_dns_failure(QueryId id, Instant now);

  // TCP host socket events (see TcpSocketHost).
  void handle_tcp_connected(ConnectionId id, Instant now) { tcp_.handle_connected(id, now); }
  void handle_tcp_connect_failed(ConnectionId id, TcpConnectError error, Instant now) {
    tcp_.handle_connect_failed(id, error, now);
  }
  void handle_tcp_readable(ConnectionId id, Instant now) { tcp_.handle_readable(id, now); }
  void handle_tcp_writable(ConnectionId id, Instant now) { tcp_.handle_writable(id, now); }
  // A host peer connected to an inbound forward for guest port `guest_port`: the connection
  // reaches the guest from the gateway address. nullopt when the table is full.
  std::optional<ConnectionId> open_tcp_inbound(std::uint16_t guest_port, Instant now);

  // TCP batching (TcpEngine::set_batching): the host calls flush() after each batch of guest
  // frames it handed over.
  void set_tcp_batching(bool on) { tcp_.set_batching(on); }
  // TCP segmentation offload toward the guest (TcpEngine::set_segmentation_offload): for hosts
  // whose transport implements SessionHost::send_segmented_tcp_to_guest.
  void set_guest_segmentation_offload(std::size_t max_segment_data) {
    tcp_.set_segmentation_offload(max_segment_data);
  }
  void flush(Instant now) { tcp_.flush(now); }

  // Runs the timers due at `now` (UDP flow expiry, DNS timeouts, TCP); the next one is
  // next_deadline().
  void poll(Instant now);
  std::optional<Instant> next_deadline() const;

  const SessionStats& stats() const { return stats_; }
  const DhcpStats& dhcp_stats() const { return dhcp_.stats(); }
  const DnsStats& dns_stats() const { return dns_.stats(); }
  const TcpStats& tcp_stats() const { return tcp_.stats(); }
  const TcpEngine& tcp() const { return tcp_; }
  const Ipv4ReassemblyStats& reassembly_stats() const { return reassembler_.stats(); }
  std::size_t reassembly_bytes_buffered() const { return reassembler_.bytes_buffered(); }
  std::optional<wire::MacAddress> guest_mac() const { return guest_mac_; }

 private:
  void handle_arp(const wire::EthernetFrame& frame, Instant now);
  void handle_ipv4(const wire::EthernetFrame& frame, Instant now);
  void dispatch_ipv4(const wire::Ipv4Packet& packet, Instant now);
  void handle_icmp(const wire::Ipv4Packet& packet, Instant now);
  void forward_echo(const wire::Ipv4Packet& packet, const wire::Icmpv4Packet& icmp, Instant now);
  void handle_udp(const wire::Ipv4Packet& packet, Instant now);
  void handle_dhcp(ByteSpan payload, Instant now);
  void handle_tcp(const wire::Ipv4Packet& packet, Instant now);

  // TcpSegmentSink
  std::span<std::uint8_t> tcp_segment_area() override { return payload_area(); }
  void send_tcp_segment(Ipv4Address source, Ipv4Address destination, std::size_t length,
                        std::size_t frame_data) override;
  void send_tcp_unreachable(const TcpTuple& tuple, std::uint32_t syn_sequence,
                            std::uint8_t code) override;
  void handle_dns_query(const wire::Ipv4Packet& packet, const wire::UdpPacket& udp, Instant now);
  // Sends the DNS message at payload_area() + 8 from dns_ip:53 to the client.
  void send_dns_to_guest(const DnsClient& client, std::size_t length);
  void forward_udp(const wire::Ipv4Packet& packet, const wire::UdpPacket& udp, Instant now);
  void send_icmp_unreachable(const wire::Ipv4Packet& offending, std::uint8_t code);
  // Sends the UDP datagram payload (already at payload_area() + 8) to the guest, fragmenting
  // it to the link MTU when needed (RFC 791 §3.2).
  void send_udp_to_guest(const UdpFlowKey& key, std::size_t payload_length);

  void announce_gateway();
  void request_guest_mac(Ipv4Address guest);  // ARP request (RFC 826)
  // Builds Ethernet + IPv4 headers in front of `payload_length` bytes already written at
  // payload_area() and hands the frame to the host (for the host to segment, with
  // `tcp_frame_data` non-zero: see SessionHost::send_segmented_tcp_to_guest).
  void send_ipv4(const wire::MacAddress& destination_mac, Ipv4Address source,
                 Ipv4Address destination, std::uint8_t protocol, std::size_t payload_length,
                 std::size_t tcp_frame_data = 0);
  std::span<std::uint8_t> payload_area();
  // Pads tx_[0, length) to the Ethernet minimum and hands it to the host.
  void deliver(std::size_t length, std::size_t tcp_frame_data = 0);
  void drop(Drop reason) { ++stats_.drops[static_cast<std::size_t>(reason)]; }

  const StackConfig config_;  // before dhcp_, which keeps a reference to it
  SessionHost& host_;
  DhcpServer dhcp_;
  EgressPolicy policy_;
  UdpNat udp_nat_;
  UdpNat echo_flows_;
  Ipv4Reassembler reassembler_;  // key: guest address, echo identifier (as the port), destination
  DnsForwarder dns_;
  TcpEngine tcp_;
  std::optional<wire::MacAddress> guest_mac_;
  std::optional<Ipv4Address> guest_ip_;  // the guest's source address, once seen
  std::uint16_t next_ip_id_ = 1;
  SessionStats stats_;
  // One outgoing frame at a time, as large as the largest IPv4 datagram (a host's UDP datagram
  // is built here before it is fragmented). Left uninitialised, so that an idle session's pages
  // stay untouched (not resident) beyond the few its small frames use.
  std::unique_ptr<std::uint8_t[]> tx_;
  std::span<std::uint8_t> tx();
  Bytes fragment_;  // one outgoing fragment, when a datagram exceeds the MTU
};

}  // namespace aero::stack
