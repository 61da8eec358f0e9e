// The DHCP server through the session: RFC 2131 client states, lease state, replies' options and
// addressing.
#include <gtest/gtest.h>

#include "aero/stack/session.h"
#include "fake_host.h"
#include "guest_frames.h"

namespace aero::stack {
namespace {

using namespace std::chrono_literals;
using test::DhcpClientMessage;
using test::dhcp_frame;
using test::dhcp_of;
using wire::DhcpMessageType;

class DhcpServerTest : public testing::Test {
 protected:
  DhcpServerTest() { config_.domain_name = "aero.test"; }

  Session& session() {
    if (!session_) {
      EXPECT_TRUE(config_.validate().ok());
      session_.emplace(config_, host_, now_);
      host_.take();  // the gateway announcement
    }
    return *session_;
  }

  // Sends one client message and returns the server's reply, if any. Reply bytes are kept alive
  // in last_reply_frame_.
  std::optional<wire::DhcpMessage> exchange(const DhcpClientMessage& message) {
    session().handle_guest_frame(dhcp_frame(message), now_);
    auto frames = host_.take();
    if (frames.empty()) return std::nullopt;
    EXPECT_EQ(frames.size(), 1U);
    last_reply_frame_ = frames.back();
    return dhcp_of(last_reply_frame_);
  }

  // DISCOVER, OFFER, REQUEST, ACK: returns the bound address.
  Ipv4Address lease(const wire::MacAddress& mac, std::uint32_t xid = 1) {
    auto offer = exchange({.type = DhcpMessageType::discover, .xid = xid, .mac = mac});
    EXPECT_TRUE(offer.has_value());
    if (!offer) return {};
    auto ack = exchange({.type = DhcpMessageType::request, .xid = xid, .mac = mac,
                         .requested_ip = offer->yiaddr(), .server_id = test::kGatewayIp});
    EXPECT_TRUE(ack.has_value());
    EXPECT_EQ(ack->message_type(), DhcpMessageType::ack);
    return ack ? ack->yiaddr() : Ipv4Address{};
  }

  StackConfig config_;
  test::RecordingHost host_;
  Instant now_{};
  std::optional<Session> session_;
  Bytes last_reply_frame_;
};

TEST_F(DhcpServerTest, DiscoverGetsAnOfferWithTheConfiguration) {
  auto offer = exchange({.type = DhcpMessageType::discover, .xid = 0xCAFE});
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->message_type(), DhcpMessageType::offer);
  EXPECT_EQ(offer->xid(), 0xCAFEU);
  EXPECT_EQ(offer->yiaddr(), test::kGuestIp);
  EXPECT_EQ(offer->server_id(), test::kGatewayIp);
  EXPECT_EQ(offer->lease_time(), 86400U);
  EXPECT_EQ(offer->find(wire::dhcp_option::subnet_mask).value().size(), 4U);
  EXPECT_TRUE(offer->find(wire::dhcp_option::router).has_value());
  EXPECT_TRUE(offer->find(wire::dhcp_option::dns_servers).has_value());
  EXPECT_TRUE(offer->find(wire::dhcp_option::broadcast_address).has_value());
  EXPECT_TRUE(offer->find(wire::dhcp_option::interface_mtu).has_value());
  const auto t1 = offer->find(wire::dhcp_option::renewal_time).value();
  EXPECT_EQ((t1[0] << 24) | (t1[1] << 16) | (t1[2] << 8) | t1[3], 43200);
  const auto domain = offer->find(wire::dhcp_option::domain_name).value();
  EXPECT_EQ(as_chars(domain), "aero.test");
  // No ciaddr and no broadcast flag: unicast to the offered address and chaddr (RFC 2131 §4.1).
  const auto ip = test::ipv4_of(last_reply_frame_);
  EXPECT_EQ(ip.destination(), test::kGuestIp);
  EXPECT_EQ(wire::EthernetFrame::parse(last_reply_frame_)->destination(), test::kGuestMac);
  EXPECT_EQ(session().dhcp_stats().offers, 1U);
}

TEST_F(DhcpServerTest, BroadcastFlagIsHonoured) {
  auto offer = exchange({.type = DhcpMessageType::discover, .broadcast_flag = true});
  ASSERT_TRUE(offer.has_value());
  EXPECT_TRUE(offer->broadcast());
  EXPECT_EQ(test::ipv4_of(last_reply_frame_).destination(), test::kBroadcastIp);
  EXPECT_TRUE(wire::EthernetFrame::parse(last_reply_frame_)->destination().is_broadcast());
}

TEST_F(DhcpServerTest, SelectingRequestIsAckedAndBindsTheLease) {
  EXPECT_EQ(lease(test::kGuestMac), test::kGuestIp);
  EXPECT_EQ(session().dhcp_stats().acks, 1U);
}

TEST_F(DhcpServerTest, RequestForAnAddressNotOfferedIsNaked) {
  exchange({.type = DhcpMessageType::discover});
  auto nak = exchange({.type = DhcpMessageType::request,
                       .requested_ip = Ipv4Address{{10, 0, 2, 20}},
                       .server_id = test::kGatewayIp});
  ASSERT_TRUE(nak.has_value());
  EXPECT_EQ(nak->message_type(), DhcpMessageType::nak);
  EXPECT_EQ(nak->yiaddr(), Ipv4Address{});
  EXPECT_TRUE(nak->find(wire::dhcp_option::message).has_value());
  EXPECT_EQ(test::ipv4_of(last_reply_frame_).destination(), test::kBroadcastIp) << "NAKs broadcast";
}

TEST_F(DhcpServerTest, RequestForAnotherServerReleasesOurOffer) {
  const wire::MacAddress other{{0x52, 0x54, 0x00, 0, 0, 2}};
  config_.dhcp_pool_size = 1;
  exchange({.type = DhcpMessageType::discover});
  EXPECT_FALSE(exchange({.type = DhcpMessageType::request, .requested_ip = test::kGuestIp,
                         .server_id = Ipv4Address{{10, 0, 2, 3}}})
                   .has_value());
  EXPECT_EQ(session().dhcp_stats().other_server, 1U);
  // The single address is free again for another client.
  EXPECT_EQ(lease(other), test::kGuestIp);
}

TEST_F(DhcpServerTest, InitRebootRenewingAndRebinding) {
  const Ipv4Address address = lease(test::kGuestMac);
  // INIT-REBOOT: no server id, requested IP, ciaddr 0.
  auto reboot = exchange({.type = DhcpMessageType::request, .requested_ip = address});
  ASSERT_TRUE(reboot.has_value());
  EXPECT_EQ(reboot->message_type(), DhcpMessageType::ack);
  // RENEWING: ciaddr set, unicast; the reply goes to ciaddr.
  now_ += 12h;
  auto renew = exchange({.type = DhcpMessageType::request, .ciaddr = address});
  ASSERT_TRUE(renew.has_value());
  EXPECT_EQ(renew->message_type(), DhcpMessageType::ack);
  EXPECT_EQ(renew->ciaddr(), address);
  EXPECT_EQ(test::ipv4_of(last_reply_frame_).destination(), address);
  // INIT-REBOOT with an address from another network: NAK (RFC 2131 §4.3.2).
  auto wrong = exchange({.type = DhcpMessageType::request, .requested_ip = Ipv4Address{{192, 168, 1, 50}}});
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->message_type(), DhcpMessageType::nak);
}

TEST_F(DhcpServerTest, AddressHeldByAnotherClientIsRefused) {
  const wire::MacAddress other{{0x52, 0x54, 0x00, 0, 0, 2}};
  const Ipv4Address first = lease(test::kGuestMac);
  auto steal = exchange({.type = DhcpMessageType::request, .mac = other, .requested_ip = first});
  ASSERT_TRUE(steal.has_value());
  EXPECT_EQ(steal->message_type(), DhcpMessageType::nak);
  EXPECT_NE(lease(other, 2), first) << "the second client gets its own address";
}

TEST_F(DhcpServerTest, LeaseExpiryFreesTheAddress) {
  config_.dhcp_pool_size = 1;
  const wire::MacAddress other{{0x52, 0x54, 0x00, 0, 0, 2}};
  lease(test::kGuestMac);
  EXPECT_FALSE(exchange({.type = DhcpMessageType::discover, .mac = other}).has_value());
  EXPECT_EQ(session().dhcp_stats().pool_exhausted, 1U);
  now_ += 86401s;
  EXPECT_EQ(lease(other), test::kGuestIp);
}

TEST_F(DhcpServerTest, UnansweredOfferIsHeldThenReleased) {
  config_.dhcp_pool_size = 1;
  const wire::MacAddress other{{0x52, 0x54, 0x00, 0, 0, 2}};
  exchange({.type = DhcpMessageType::discover});
  EXPECT_FALSE(exchange({.type = DhcpMessageType::discover, .mac = other}).has_value());
  now_ += 61s;
  EXPECT_TRUE(exchange({.type = DhcpMessageType::discover, .mac = other}).has_value());
}

TEST_F(DhcpServerTest, ReleaseFreesAndTheClientGetsItsAddressBack) {
  const Ipv4Address address = lease(test::kGuestMac);
  EXPECT_FALSE(exchange({.type = DhcpMessageType::release, .ciaddr = address,
                         .server_id = test::kGatewayIp})
                   .has_value());
  EXPECT_EQ(session().dhcp_stats().releases, 1U);
  const wire::MacAddress other{{0x52, 0x54, 0x00, 0, 0, 2}};
  EXPECT_NE(lease(other, 2), address) << "a never-used address is preferred for a new client";
  EXPECT_EQ(lease(test::kGuestMac, 3), address) << "the old client gets its address back";
}

TEST_F(DhcpServerTest, DeclinedAddressRests) {
  config_.dhcp_pool_size = 2;
  const Ipv4Address first = lease(test::kGuestMac);
  exchange({.type = DhcpMessageType::decline, .requested_ip = first, .server_id = test::kGatewayIp});
  EXPECT_EQ(session().dhcp_stats().declines, 1U);
  auto offer = exchange({.type = DhcpMessageType::discover, .xid = 9});
  ASSERT_TRUE(offer.has_value());
  EXPECT_NE(offer->yiaddr(), first);
  now_ += 601s;
  const wire::MacAddress other{{0x52, 0x54, 0x00, 0, 0, 2}};
  EXPECT_EQ(lease(other, 10), first) << "after the rest period the address is usable again";
}

TEST_F(DhcpServerTest, InformGetsConfigurationWithoutALease) {
  const Ipv4Address address{{10, 0, 2, 99}};
  auto ack = exchange({.type = DhcpMessageType::inform, .ciaddr = address});
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->message_type(), DhcpMessageType::ack);
  EXPECT_EQ(ack->yiaddr(), Ipv4Address{});
  EXPECT_FALSE(ack->lease_time().has_value());
  EXPECT_TRUE(ack->find(wire::dhcp_option::dns_servers).has_value());
  EXPECT_EQ(test::ipv4_of(last_reply_frame_).destination(), address);
}

TEST_F(DhcpServerTest, ClientIdentifierKeysTheLease) {
  // Same client id from two MACs is one client (RFC 2131 §4.2).
  const Bytes id{0x01, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};
  auto first = exchange({.type = DhcpMessageType::discover, .client_id = id});
  const wire::MacAddress other{{0x52, 0x54, 0x00, 0, 0, 2}};
  auto second = exchange({.type = DhcpMessageType::discover, .mac = other, .client_id = id});
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->yiaddr(), second->yiaddr());
}

TEST_F(DhcpServerTest, ClasslessRoutesIncludeTheDefaultRoute) {
  config_.classless_routes = {{Ipv4Address{{10, 9, 0, 0}}, 16, test::kGatewayIp}};
  auto offer = exchange({.type = DhcpMessageType::discover});
  ASSERT_TRUE(offer.has_value());
  const auto data = offer->find(wire::dhcp_option::classless_static_routes).value();
  std::array<wire::DhcpClasslessRoute, 4> routes{};
  const auto count = wire::parse_classless_routes(data, routes);
  ASSERT_TRUE(count.ok());
  ASSERT_EQ(*count, 2U);
  EXPECT_EQ(routes[1].prefix_length, 0);
  EXPECT_EQ(routes[1].router, test::kGatewayIp);
}

TEST_F(DhcpServerTest, FloodOfClientsStaysWithinThePool) {
  config_.dhcp_pool_size = 4;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const wire::MacAddress mac{{0x52, 0x54, static_cast<std::uint8_t>(i >> 16),
                                static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 1}};
    session().handle_guest_frame(dhcp_frame({.type = DhcpMessageType::discover, .xid = i, .mac = mac}), now_);
  }
  EXPECT_EQ(host_.take().size(), 4U) << "only as many offers as the pool has addresses";
  EXPECT_EQ(session().dhcp_stats().pool_exhausted, 996U);
}

TEST_F(DhcpServerTest, RepliesOnlyToRequests) {
  auto frame = dhcp_frame({.type = DhcpMessageType::offer});
  session().handle_guest_frame(frame, now_);
  EXPECT_TRUE(host_.take().empty());
  EXPECT_EQ(session().dhcp_stats().ignored, 1U);
}

}  // namespace
}  // namespace aero::stack
