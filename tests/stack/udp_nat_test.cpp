// UDP NAT through the session: flows, policy, caps, expiry, replies, errors, fragmentation.
#include <gtest/gtest.h>

#include <map>

#include "aero/stack/session.h"
#include "aero/wire/icmpv4.h"
#include "fake_host.h"
#include "guest_frames.h"

namespace aero::stack {
namespace {

using namespace std::chrono_literals;

// A host whose sockets are records: what was opened, sent and closed.
class SocketHost : public test::RecordingHost {
 public:
  struct Socket {
    Ipv4Address destination;
    std::uint16_t port = 0;
    std::vector<Bytes> sent;
    bool closed = false;
  };
  bool udp_open(FlowId id, Ipv4Address destination, std::uint16_t port) override {
    if (refuse_open) return false;
    sockets[id] = Socket{destination, port, {}, false};
    return true;
  }
  bool udp_send(FlowId id, ByteSpan payload) override {
    sockets.at(id).sent.emplace_back(payload.begin(), payload.end());
    return true;
  }
  void udp_close(FlowId id) override { sockets.at(id).closed = true; }
  bool icmp_open(FlowId id, Ipv4Address destination) override {
    echo_sockets[id] = Socket{destination, 0, {}, false};
    return true;
  }
  bool icmp_send(FlowId id, ByteSpan message) override {
    echo_sockets.at(id).sent.emplace_back(message.begin(), message.end());
    return true;
  }
  void icmp_close(FlowId id) override { echo_sockets.at(id).closed = true; }

  std::map<FlowId, Socket> echo_sockets;

  std::map<FlowId, Socket> sockets;
  bool refuse_open = false;
};

const Ipv4Address kRemote{{93, 184, 216, 34}};

class UdpNatTest : public testing::Test {
 protected:
  Session& session() {
    if (!session_) {
      EXPECT_TRUE(config_.validate().ok());
      session_.emplace(config_, host_, now_);
      // The guest introduces itself, so the session knows its MAC.
      session_->handle_guest_frame(test::arp_request(test::kGuestMac, test::kGuestIp, test::kGatewayIp), now_);
      host_.take();
    }
    return *session_;
  }
  void send_udp(Ipv4Address destination, std::uint16_t port, ByteSpan payload,
                std::uint16_t source_port = 40000) {
    session().handle_guest_frame(test::udp_frame(test::kGuestMac, test::kGatewayMac, test::kGuestIp,
                                                 destination, source_port, port, payload),
                                 now_);
  }

  StackConfig config_;
  SocketHost host_;
  Instant now_{};
  std::optional<Session> session_;
};

TEST_F(UdpNatTest, OneSocketPerFlowAndRepliesComeBackFromTheRemote) {
  send_udp(kRemote, 53, Bytes{1, 2, 3});
  send_udp(kRemote, 53, Bytes{4, 5});
  ASSERT_EQ(host_.sockets.size(), 1U);
  const auto& [id, socket] = *host_.sockets.begin();
  EXPECT_EQ(socket.destination, kRemote);
  EXPECT_EQ(socket.port, 53);
  ASSERT_EQ(socket.sent.size(), 2U);
  EXPECT_EQ(socket.sent[1], (Bytes{4, 5}));
  send_udp(kRemote, 53, Bytes{6}, /*source_port=*/40001);
  EXPECT_EQ(host_.sockets.size(), 2U) << "another guest port is another flow";

  const Bytes reply{'o', 'k'};
  session().handle_udp_from_host(id, reply, now_);
  auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  const auto ip = test::ipv4_of(frames[0]);
  EXPECT_EQ(ip.source(), kRemote);
  EXPECT_EQ(ip.destination(), test::kGuestIp);
  auto udp = wire::UdpPacket::parse(ip.payload()).value();
  EXPECT_EQ(udp.source_port(), 53);
  EXPECT_EQ(udp.destination_port(), 40000);
  EXPECT_TRUE(udp.checksum_ok(ip.source(), ip.destination()));
  EXPECT_EQ(Bytes(udp.payload().begin(), udp.payload().end()), reply);
}

TEST_F(UdpNatTest, EveryDeniedRangeOpensNoSocketAndAnswersAdministrativelyProhibited) {
  for (const char* address : {"0.1.2.3", "10.1.2.3", "100.64.1.1", "127.0.0.1", "169.254.169.254",
                              "172.16.5.4", "192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.1.1",
                              "198.18.0.1", "198.51.100.1", "203.0.113.1"}) {
    send_udp(Ipv4Address::parse(address).value(), 53, Bytes{1});
    auto frames = host_.take();
    ASSERT_EQ(frames.size(), 1U) << address;
    auto icmp = wire::Icmpv4Packet::parse(test::ipv4_of(frames[0]).payload()).value();
    EXPECT_EQ(icmp.type(), 3) << address;
    EXPECT_EQ(icmp.code(), 13) << address;
  }
  // Multicast and the reserved block (with the limited broadcast) never leave the link at all.
  for (const char* address : {"224.0.0.251", "239.255.255.250", "240.0.0.1", "255.255.255.254"}) {
    send_udp(Ipv4Address::parse(address).value(), 5353, Bytes{1});
  }
  EXPECT_EQ(session().stats().dropped(Drop::not_forwardable), 4U);
  EXPECT_TRUE(host_.sockets.empty()) << "no host socket for any denied destination";
  EXPECT_EQ(session().stats().dropped(Drop::policy_denied), 13U);
}

TEST_F(UdpNatTest, PortPolicyAppliesToForwardsButAddressPolicyDoesNot) {
  config_.udp_forwards = {{Ipv4Address{{203, 0, 113, 7}}, 7, Ipv4Address{{127, 0, 0, 1}}, 17007}};
  config_.policy.udp_ports = std::vector<std::uint16_t>{7};
  send_udp(Ipv4Address{{203, 0, 113, 7}}, 7, Bytes{1});
  ASSERT_EQ(host_.sockets.size(), 1U);
  EXPECT_EQ(host_.sockets.begin()->second.destination, (Ipv4Address{{127, 0, 0, 1}}));
  EXPECT_EQ(host_.sockets.begin()->second.port, 17007);
  send_udp(kRemote, 53, Bytes{1});
  EXPECT_EQ(session().stats().dropped(Drop::policy_denied), 1U) << "port 53 is not allowed";
}

TEST_F(UdpNatTest, FlowCapIsEnforcedAndCounted) {
  config_.max_udp_flows = 3;
  for (std::uint16_t port = 1000; port < 1010; ++port) send_udp(kRemote, 53, Bytes{1}, port);
  EXPECT_EQ(host_.sockets.size(), 3U);
  EXPECT_EQ(session().stats().dropped(Drop::udp_flow_limit), 7U);
}

TEST_F(UdpNatTest, IdleFlowsExpireAndCloseTheirSockets) {
  send_udp(kRemote, 53, Bytes{1});
  now_ += 30s;
  send_udp(kRemote, 123, Bytes{1});
  EXPECT_EQ(session().next_deadline(), Instant{} + 60s);
  now_ += 31s;
  session().poll(now_);
  ASSERT_EQ(host_.sockets.size(), 2U);
  EXPECT_TRUE(host_.sockets.begin()->second.closed);
  EXPECT_FALSE(std::next(host_.sockets.begin())->second.closed);
  EXPECT_EQ(session().stats().udp_flows_expired, 1U);
  // A reply for an expired flow is dropped and counted.
  session().handle_udp_from_host(host_.sockets.begin()->first, Bytes{1}, now_);
  EXPECT_EQ(session().stats().dropped(Drop::udp_reply_unknown_flow), 1U);
}

TEST_F(UdpNatTest, UnreachablePeerBecomesPortUnreachableForTheGuest) {
  send_udp(kRemote, 9, Bytes{1}, 41000);
  const FlowId id = host_.sockets.begin()->first;
  session().handle_udp_unreachable(id, now_);
  EXPECT_TRUE(host_.sockets.at(id).closed);
  auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  const auto ip = test::ipv4_of(frames[0]);
  EXPECT_EQ(ip.source(), test::kGatewayIp);
  auto icmp = wire::Icmpv4Packet::parse(ip.payload()).value();
  EXPECT_EQ(icmp.type(), 3);
  EXPECT_EQ(icmp.code(), 3);
  auto quoted = wire::Ipv4Packet::parse_quoted(icmp.quoted_datagram().value()).value();
  EXPECT_EQ(quoted.destination(), kRemote);
  const auto ports = quoted.payload();
  EXPECT_EQ((ports[0] << 8) | ports[1], 41000);
  EXPECT_EQ((ports[2] << 8) | ports[3], 9);
}

TEST_F(UdpNatTest, LargeRepliesAreFragmentedToTheMtu) {
  send_udp(kRemote, 4000, Bytes{1});
  Bytes reply(5000);
  for (std::size_t i = 0; i < reply.size(); ++i) reply[i] = static_cast<std::uint8_t>(i * 7);
  session().handle_udp_from_host(host_.sockets.begin()->first, reply, now_);
  auto frames = host_.take();
  ASSERT_EQ(frames.size(), 4U);  // 5008 bytes of UDP in 1480-byte pieces
  Bytes reassembled;
  std::uint16_t id = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto ip = test::ipv4_of(frames[i]);
    EXPECT_TRUE(ip.checksum_ok());
    EXPECT_LE(ip.total_length(), 1500);
    EXPECT_EQ(ip.fragment_offset(), reassembled.size());
    EXPECT_EQ(ip.more_fragments(), i + 1 < frames.size());
    if (i == 0) id = ip.identification();
    EXPECT_EQ(ip.identification(), id);
    reassembled.insert(reassembled.end(), ip.payload().begin(), ip.payload().end());
  }
  auto udp = wire::UdpPacket::parse(reassembled).value();
  EXPECT_TRUE(udp.checksum_ok(kRemote, test::kGuestIp));
  EXPECT_EQ(Bytes(udp.payload().begin(), udp.payload().end()), reply);
  EXPECT_EQ(session().stats().fragments_to_guest, 4U);
}

TEST_F(UdpNatTest, OpenFailureForgetsTheFlow) {
  host_.refuse_open = true;
  send_udp(kRemote, 53, Bytes{1});
  EXPECT_EQ(session().stats().dropped(Drop::udp_open_failed), 1U);
  host_.refuse_open = false;
  send_udp(kRemote, 53, Bytes{1});
  EXPECT_EQ(host_.sockets.size(), 1U);
}

TEST_F(UdpNatTest, EchoBeyondTheGatewayTravelsThroughAnEchoSocket) {
  const Bytes data{'p', 'i', 'n', 'g'};
  session().handle_guest_frame(test::icmp_echo_frame(test::kGuestIp, kRemote, 0x77, 1, data), now_);
  session().handle_guest_frame(test::icmp_echo_frame(test::kGuestIp, kRemote, 0x77, 2, data), now_);
  ASSERT_EQ(host_.echo_sockets.size(), 1U);
  const auto& [id, socket] = *host_.echo_sockets.begin();
  EXPECT_EQ(socket.destination, kRemote);
  ASSERT_EQ(socket.sent.size(), 2U);
  // The host's socket answers with its own identifier; the guest gets its own back.
  Bytes reply(8 + data.size());
  wire::Icmpv4Header::echo_reply(0x9999, 2).emit(reply, data);
  session().handle_icmp_from_host(id, reply, now_);
  auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  const auto ip = test::ipv4_of(frames[0]);
  EXPECT_EQ(ip.source(), kRemote);
  auto icmp = wire::Icmpv4Packet::parse(ip.payload()).value();
  EXPECT_TRUE(icmp.is_echo_reply());
  EXPECT_TRUE(icmp.checksum_ok());
  EXPECT_EQ(icmp.echo_identifier(), 0x77);
  EXPECT_EQ(icmp.echo_sequence(), 2);
  now_ += 11s;
  session().poll(now_);
  EXPECT_TRUE(host_.echo_sockets.begin()->second.closed) << "idle echo flows expire";
}

TEST_F(UdpNatTest, EchoToADeniedAddressIsAdministrativelyProhibited) {
  session().handle_guest_frame(
      test::icmp_echo_frame(test::kGuestIp, Ipv4Address{{192, 168, 0, 1}}, 1, 1, Bytes{1}), now_);
  EXPECT_TRUE(host_.echo_sockets.empty());
  auto frames = host_.take();
  ASSERT_EQ(frames.size(), 1U);
  auto icmp = wire::Icmpv4Packet::parse(test::ipv4_of(frames[0]).payload()).value();
  EXPECT_EQ(icmp.type(), 3);
  EXPECT_EQ(icmp.code(), 13);
}

TEST(ForwardList, ParsesAerosGrammar) {
  auto forwards = parse_forward_list("AERO_L2_UDP_FORWARD", " 203.0.113.7:7=127.0.0.1:17007, 198.51.100.1:53=127.0.0.1:5353");
  ASSERT_TRUE(forwards.ok());
  ASSERT_EQ(forwards->size(), 2U);
  EXPECT_EQ((*forwards)[1].target_port, 5353);
  auto bad = parse_forward_list("AERO_L2_UDP_FORWARD", "203.0.113.7:7");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("AERO_L2_UDP_FORWARD"), std::string::npos);
  EXPECT_FALSE(parse_forward_list("X", "1.2.3.4:0=1.2.3.4:1").ok());
  EXPECT_FALSE(parse_forward_list("X", "1.2.3.4:1=host:1").ok());
}

}  // namespace
}  // namespace aero::stack
