// The session's frame dispatch: ARP, ICMP echo, port unreachable, drops and their counters.
#include "aero/stack/session.h"

#include <gtest/gtest.h>

#include "aero/wire/arp.h"
#include "aero/wire/icmpv4.h"
#include "aero/wire/tcp.h"
#include "fake_host.h"
#include "guest_frames.h"

namespace aero::stack {
namespace {

class SessionTest : public testing::Test {
 protected:
  SessionTest() : session_(config_, host_, Instant{}) {}

  void send(const Bytes& frame) { session_.handle_guest_frame(frame, Instant{}); }

  StackConfig config_;
  test::RecordingHost host_;
  Session session_;
};

TEST_F(SessionTest, AnnouncesTheGatewayOnStart) {
  ASSERT_EQ(host_.frames.size(), 1U);
  const Bytes& frame = host_.frames[0];
  EXPECT_EQ(frame.size(), 60U) << "padded to the Ethernet minimum";
  auto ethernet = wire::EthernetFrame::parse(frame).value();
  EXPECT_TRUE(ethernet.destination().is_broadcast());
  auto arp = wire::ArpPacket::parse(ethernet.payload()).value();
  EXPECT_EQ(arp.sender_ip(), test::kGatewayIp);
  EXPECT_EQ(arp.target_ip(), test::kGatewayIp);
  EXPECT_EQ(arp.sender_mac(), test::kGatewayMac);
}

TEST_F(SessionTest, AnswersArpForOwnedAddressesOnly) {
  host_.take();
  send(test::arp_request(test::kGuestMac, test::kGuestIp, test::kGatewayIp));
  auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  auto ethernet = wire::EthernetFrame::parse(frames[0]).value();
  EXPECT_EQ(ethernet.destination(), test::kGuestMac);
  auto reply = wire::ArpPacket::parse(ethernet.payload()).value();
  EXPECT_TRUE(reply.is_reply());
  EXPECT_EQ(reply.sender_mac(), test::kGatewayMac);
  EXPECT_EQ(reply.sender_ip(), test::kGatewayIp);
  EXPECT_EQ(reply.target_ip(), test::kGuestIp);
  EXPECT_EQ(session_.guest_mac(), test::kGuestMac);

  send(test::arp_request(test::kGuestMac, test::kGuestIp, Ipv4Address{{10, 0, 2, 77}}));
  EXPECT_TRUE(host_.take().empty()) << "no proxy ARP for addresses we do not own";
}

TEST_F(SessionTest, DefendsOwnedAddressesAgainstDuplicateAddressProbes) {
  host_.take();
  // RFC 5227 probe: sender IP 0.0.0.0, target the address being claimed.
  send(test::arp_request(test::kGuestMac, test::kZero, test::kGatewayIp));
  auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  auto reply = wire::ArpPacket::parse(wire::EthernetFrame::parse(frames[0])->payload()).value();
  EXPECT_EQ(reply.sender_ip(), test::kGatewayIp);
  // A probe for the guest's own address gets no answer: nobody else holds it.
  send(test::arp_request(test::kGuestMac, test::kZero, test::kGuestIp));
  EXPECT_TRUE(host_.take().empty());
}

TEST_F(SessionTest, AnswersEchoRequestsToTheGateway) {
  host_.take();
  const Bytes data{'p', 'i', 'n', 'g', 0, 1, 2, 3};
  send(test::icmp_echo_frame(test::kGuestIp, test::kGatewayIp, 0x4242, 7, data));
  auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  const auto ip = test::ipv4_of(frames[0]);
  EXPECT_TRUE(ip.checksum_ok());
  EXPECT_EQ(ip.source(), test::kGatewayIp);
  EXPECT_EQ(ip.destination(), test::kGuestIp);
  EXPECT_EQ(ip.ttl(), 64);
  auto icmp = wire::Icmpv4Packet::parse(ip.payload()).value();
  EXPECT_TRUE(icmp.is_echo_reply());
  EXPECT_TRUE(icmp.checksum_ok());
  EXPECT_EQ(icmp.echo_identifier(), 0x4242);
  EXPECT_EQ(icmp.echo_sequence(), 7);
  EXPECT_EQ(Bytes(icmp.echo_data().begin(), icmp.echo_data().end()), data);
  EXPECT_EQ(session_.stats().echo_replies, 1U);
}

TEST_F(SessionTest, DropsCorruptChecksumsAndCountsThem) {
  host_.take();
  send(test::icmp_echo_frame(test::kGuestIp, test::kGatewayIp, 1, 1, Bytes{1}, /*corrupt=*/true));
  EXPECT_EQ(session_.stats().dropped(Drop::bad_icmp_checksum), 1U);
  const Bytes payload{8, 0, 0, 0, 0, 0, 0, 0};
  send(test::ipv4_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp, test::kGatewayIp, 1,
                        payload, /*corrupt_header_checksum=*/true));
  EXPECT_EQ(session_.stats().dropped(Drop::bad_ipv4_checksum), 1U);
  EXPECT_TRUE(host_.take().empty());
}

TEST_F(SessionTest, UnservedUdpPortGetsPortUnreachableQuotingTheDatagram) {
  host_.take();
  send(test::arp_request(test::kGuestMac, test::kGuestIp, test::kGatewayIp));
  host_.take();
  const Bytes payload{'h', 'e', 'l', 'l', 'o'};
  const Bytes frame = test::udp_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp,
                                      test::kGatewayIp, 40000, 9999, payload);
  send(frame);
  auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  const auto ip = test::ipv4_of(frames[0]);
  auto icmp = wire::Icmpv4Packet::parse(ip.payload()).value();
  EXPECT_EQ(icmp.type(), 3);
  EXPECT_EQ(icmp.code(), 3);
  EXPECT_TRUE(icmp.checksum_ok());
  // The quote is the offending IP header and the first 8 bytes of its payload (RFC 792).
  const auto quoted = icmp.quoted_datagram().value();
  const ByteSpan original_ip(frame.data() + 14, frame.size() - 14);
  ASSERT_GE(quoted.size(), 28U);
  EXPECT_TRUE(std::equal(quoted.begin(), quoted.begin() + 28, original_ip.begin()));
  // Broadcast UDP is never answered with an error (RFC 1122 §3.2.2).
  send(test::udp_frame(test::kGuestMac, wire::MacAddress::broadcast(), test::kGuestIp,
                       test::kBroadcastIp, 40000, 9999, payload));
  EXPECT_TRUE(host_.take().empty());
}

TEST_F(SessionTest, CountsEachDropReason) {
  host_.take();
  send(Bytes(10, 0));
  EXPECT_EQ(session_.stats().dropped(Drop::malformed_ethernet), 1U);
  send(test::arp_request(test::kGuestMac, test::kGuestIp, test::kGatewayIp,
                         wire::MacAddress{{0x02, 0, 0, 0, 0, 9}}));
  EXPECT_EQ(session_.stats().dropped(Drop::not_for_us), 1U);
  Bytes ipv6 = test::arp_request(test::kGuestMac, test::kGuestIp, test::kGatewayIp);
  ipv6[12] = 0x86;
  ipv6[13] = 0xDD;
  send(ipv6);
  EXPECT_EQ(session_.stats().dropped(Drop::unsupported_ethertype), 1U);
  Bytes short_arp = test::arp_request(test::kGuestMac, test::kGuestIp, test::kGatewayIp);
  short_arp.resize(30);
  send(short_arp);
  EXPECT_EQ(session_.stats().dropped(Drop::malformed_arp), 1U);
  send(test::udp_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp,
                       Ipv4Address{{93, 184, 216, 34}}, 40000, 80, Bytes{1}));
  EXPECT_EQ(session_.stats().dropped(Drop::udp_open_failed), 1U) << "this host has no sockets";
  send(test::ipv4_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp,
                        Ipv4Address{{93, 184, 216, 34}}, 132, Bytes(20, 0)));  // SCTP
  EXPECT_EQ(session_.stats().dropped(Drop::no_forwarding), 1U);
  Bytes tcp_header(20, 0);
  tcp_header[12] = 0x50;  // data offset 5; the checksum (0) is wrong
  send(test::ipv4_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp,
                        Ipv4Address{{93, 184, 216, 34}}, 6, tcp_header));
  EXPECT_EQ(session_.stats().dropped(Drop::bad_tcp_checksum), 1U);
  send(test::ipv4_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp,
                        Ipv4Address{{93, 184, 216, 34}}, 6, Bytes(12, 0)));
  EXPECT_EQ(session_.stats().dropped(Drop::malformed_tcp), 1U);
  send(test::udp_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp,
                       Ipv4Address{{239, 255, 255, 250}}, 40000, 1900, Bytes{1}));
  EXPECT_EQ(session_.stats().dropped(Drop::not_forwardable), 1U);
  send(test::ipv4_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp, test::kGatewayIp,
                        47, Bytes{1, 2, 3, 4}));
  EXPECT_EQ(session_.stats().dropped(Drop::unhandled_protocol), 1U);
  EXPECT_TRUE(host_.take().empty());
  EXPECT_EQ(drop_name(Drop::no_forwarding), "no_forwarding");
  EXPECT_EQ(drop_name(Drop::count_), "unknown");
}

// Splits an IPv4 packet (in an Ethernet frame) into fragments carrying `chunk` payload bytes.
std::vector<Bytes> fragment(const Bytes& frame, std::size_t chunk) {
  const auto ip = test::ipv4_of(frame);
  const ByteSpan payload = ip.payload();
  std::vector<Bytes> out;
  for (std::size_t offset = 0; offset < payload.size(); offset += chunk) {
    const std::size_t length = std::min(chunk, payload.size() - offset);
    Bytes piece(14 + 20 + length);
    const wire::EthernetHeader ethernet{test::kGatewayMac, test::kGuestMac, wire::kEtherTypeIpv4, {}};
    wire::Ipv4Header header;
    header.identification = ip.identification();
    header.more_fragments = offset + length < payload.size();
    header.fragment_offset = static_cast<std::uint16_t>(offset);
    header.protocol = ip.protocol();
    header.source = ip.source();
    header.destination = ip.destination();
    header.payload_length = length;
    ethernet.emit(piece);
    header.emit(std::span<std::uint8_t>(piece).subspan(14));
    std::copy(payload.begin() + static_cast<std::ptrdiff_t>(offset),
              payload.begin() + static_cast<std::ptrdiff_t>(offset + length), piece.begin() + 34);
    out.push_back(std::move(piece));
  }
  return out;
}

TEST_F(SessionTest, ReassemblesFragmentedDatagramsBeforeAnsweringThem) {
  host_.take();
  const Bytes data(3000, 0x5A);
  const Bytes echo = test::icmp_echo_frame(test::kGuestIp, test::kGatewayIp, 9, 1, data);
  auto pieces = fragment(echo, 1480);
  ASSERT_EQ(pieces.size(), 3U);
  std::swap(pieces[0], pieces[2]);  // out of order
  for (const auto& piece : pieces) send(piece);
  EXPECT_EQ(session_.reassembly_stats().reassembled, 1U);
  auto frames = host_.take();
  ASSERT_FALSE(frames.empty()) << "the reassembled echo was answered";
  EXPECT_EQ(session_.stats().echo_replies, 1U);
}

TEST_F(SessionTest, FragmentFloodStaysWithinTheReassemblyCap) {
  host_.take();
  const Bytes data(1600, 1);
  for (std::uint16_t id = 0; id < 2000; ++id) {
    Bytes echo = test::icmp_echo_frame(test::kGuestIp, test::kGatewayIp, id, id, data);
    // A distinct IP identification per datagram; only the first fragment is ever sent.
    echo[14 + 4] = static_cast<std::uint8_t>(id >> 8);
    echo[14 + 5] = static_cast<std::uint8_t>(id);
    echo[14 + 10] = 0;
    echo[14 + 11] = 0;
    const auto pieces = fragment(echo, 1024);
    send(pieces[0]);
    ASSERT_LE(session_.reassembly_bytes_buffered(), config_.reassembly.max_buffered_bytes);
  }
  EXPECT_GT(session_.stats().dropped(Drop::ipv4_fragment), 1900U) << "refused, not buffered";
  EXPECT_TRUE(host_.take().empty());
}

TEST(StackConfig, ValidationNamesTheField) {
  StackConfig config;
  EXPECT_TRUE(config.validate().ok());
  config.dns_ip = Ipv4Address{{10, 0, 3, 2}};
  EXPECT_NE(config.validate().error().message.find("dns_ip"), std::string::npos);
  config = StackConfig{};
  config.guest_ip = Ipv4Address{{10, 0, 2, 250}};
  EXPECT_NE(config.validate().error().message.find("pool"), std::string::npos);
  config = StackConfig{};
  config.guest_ip = Ipv4Address{{10, 0, 2, 1}};
  EXPECT_FALSE(config.validate().ok()) << "pool would contain the gateway";
  config = StackConfig{};
  config.mtu = 100;
  EXPECT_FALSE(config.validate().ok());
  config = StackConfig{};
  config.prefix_length = 31;
  EXPECT_FALSE(config.validate().ok());
}

Bytes tcp_syn_frame(Ipv4Address destination, std::uint16_t port) {
  wire::TcpHeader header;
  header.source_port = 40000;
  header.destination_port = port;
  header.sequence_number = 1000;
  header.flags = wire::kTcpSyn;
  header.window = 65535;
  Bytes segment(header.length(0));
  EXPECT_TRUE(header.emit(segment, {}, test::kGuestIp, destination));
  return test::ipv4_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp, destination, 6,
                          segment);
}

TEST_F(SessionTest, TcpToTheGatewayIsRefusedWithRst) {
  host_.take();
  send(tcp_syn_frame(test::kGatewayIp, 22));
  const auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  const auto ip = test::ipv4_of(frames[0]);
  EXPECT_EQ(ip.protocol(), 6);
  EXPECT_EQ(ip.source(), test::kGatewayIp);
  const auto tcp = wire::TcpPacket::parse(ip.payload()).value();
  EXPECT_TRUE(tcp.checksum_ok(ip.source(), ip.destination()));
  EXPECT_EQ(tcp.flags(), wire::kTcpRst | wire::kTcpAck);
  EXPECT_EQ(tcp.ack_number(), 1001U);
  EXPECT_EQ(session_.stats().dropped(Drop::tcp_to_gateway), 1U);
}

TEST_F(SessionTest, TcpBeyondTheGatewayWithoutHostSocketsIsReset) {
  host_.take();
  send(tcp_syn_frame(Ipv4Address{{93, 184, 216, 34}}, 443));
  const auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  const auto ip = test::ipv4_of(frames[0]);
  EXPECT_EQ(ip.source(), (Ipv4Address{{93, 184, 216, 34}}));
  EXPECT_EQ(wire::TcpPacket::parse(ip.payload()).value().flags(), wire::kTcpRst | wire::kTcpAck);
  EXPECT_EQ(session_.tcp_stats().connect_unreachable, 1U);
  EXPECT_EQ(session_.tcp().connection_count(), 0U);
}

TEST_F(SessionTest, TcpToAPolicyDeniedAddressIsResetAndCounted) {
  host_.take();
  send(tcp_syn_frame(Ipv4Address{{192, 168, 1, 1}}, 80));
  const auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  EXPECT_EQ(session_.stats().dropped(Drop::policy_denied), 1U);
  EXPECT_EQ(session_.tcp_stats().policy_denied, 1U);
}

}  // namespace
}  // namespace aero::stack
