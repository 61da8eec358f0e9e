// UDP relay v1/v2 framing: golden vectors (udp-relay.json) and the codec's own rules.
#include "aero/proto/udp_relay.h"

#include <gtest/gtest.h>

#include "support/vectors.h"

namespace aero::udp_relay {
namespace {

using aero::test::from_b64;
using aero::test::int_field;
using aero::test::string_field;

std::vector<boost::json::value> udp_vectors() {
  static const boost::json::value doc = aero::test::load_vectors("udp-relay.json");
  const auto& list = doc.at("vectors").as_array();
  return {list.begin(), list.end()};
}

class UdpRelayVector : public testing::TestWithParam<boost::json::value> {};

TEST_P(UdpRelayVector, MatchesGoldenBytes) {
  const auto& v = GetParam();
  const Bytes frame = from_b64(string_field(v, "frame_b64"));
  auto decoded = decode(frame);
  if (aero::test::bool_field_or(v, "expectError", false)) {
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().message.find(string_field(v, "errorContains")), std::string::npos)
        << decoded.error().message;
    return;
  }
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->version, int_field(v, "version"));
  EXPECT_EQ(decoded->guest_port, int_field(v, "guestPort"));
  EXPECT_EQ(decoded->remote_ip.to_string(), string_field(v, "remoteIp"));
  EXPECT_EQ(decoded->remote_port, int_field(v, "remotePort"));
  const Bytes payload = from_b64(string_field(v, "payload_b64"));
  EXPECT_EQ(Bytes(decoded->payload.begin(), decoded->payload.end()), payload);

  Datagram datagram;
  datagram.version = static_cast<int>(int_field(v, "version"));
  datagram.guest_port = static_cast<std::uint16_t>(int_field(v, "guestPort"));
  datagram.remote_ip = IpAddress::parse(string_field(v, "remoteIp")).value();
  datagram.remote_port = static_cast<std::uint16_t>(int_field(v, "remotePort"));
  datagram.payload = payload;
  auto encoded = encode(datagram);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(*encoded, frame);
}

INSTANTIATE_TEST_SUITE_P(Golden, UdpRelayVector, testing::ValuesIn(udp_vectors()),
                         aero::test::VectorName());

Datagram sample(int version, IpAddress address, std::size_t payload_size, Bytes& storage) {
  storage.assign(payload_size, 0x5A);
  Datagram d;
  d.version = version;
  d.guest_port = 5353;
  d.remote_ip = address;
  d.remote_port = 53;
  d.payload = storage;
  return d;
}

TEST(UdpRelay, PayloadCapIsInclusiveBothWays) {
  Bytes storage;
  const auto v4 = IpAddress::parse("192.0.2.7").value();
  auto at_cap = encode(sample(2, v4, 1200, storage));
  ASSERT_TRUE(at_cap.ok());
  EXPECT_TRUE(decode(*at_cap).ok());
  EXPECT_EQ(decode(*at_cap, 1199).error().kind, "payload_too_large");
  EXPECT_EQ(encode(sample(1, v4, 1201, storage)).error().kind, "payload_too_large");
  EXPECT_TRUE(encode(sample(1, v4, 1201, storage), 1500).ok());
}

TEST(UdpRelay, Ipv6NeedsV2) {
  Bytes storage;
  const auto v6 = IpAddress::parse("2001:db8::53").value();
  EXPECT_EQ(encode(sample(1, v6, 3, storage)).error().kind, "ipv6_needs_v2");
  auto encoded = encode(sample(2, v6, 3, storage));
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded->size(), kV2Ipv6HeaderLength + 3);
  EXPECT_EQ(decode(*encoded)->remote_ip, v6);
  EXPECT_EQ(encode(sample(3, v6, 3, storage)).error().kind, "unsupported_version");
}

TEST(UdpRelay, ShortFramesAndEmptyPayloads) {
  EXPECT_EQ(decode(Bytes{}).error().kind, "too_short");
  EXPECT_EQ(decode(Bytes{0xA2}).error().kind, "too_short");  // one byte: v1, too short
  auto empty_v1 = decode(Bytes{0, 1, 10, 0, 0, 1, 0, 2});
  ASSERT_TRUE(empty_v1.ok());
  EXPECT_TRUE(empty_v1->payload.empty());
  // A v2 IPv4 header of exactly 12 bytes; an IPv6 one needs 24.
  EXPECT_TRUE(decode(Bytes{0xA2, 0x02, 0x04, 0x00, 0, 1, 10, 0, 0, 1, 0, 2}).ok());
  Bytes v6(23, 0);
  v6[0] = 0xA2;
  v6[1] = 0x02;
  v6[2] = 0x06;
  EXPECT_EQ(decode(v6).error().kind, "too_short");
  v6.push_back(0);
  EXPECT_TRUE(decode(v6).ok());
}

TEST(UdpRelay, V1FrameThatHappensToStartWithA2IsNotV2UnlessVersionMatches) {
  // A2 03 ... is a v1 frame for guest port 0xA203.
  auto decoded = decode(Bytes{0xA2, 0x03, 10, 0, 0, 1, 0, 53, 'x'});
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->version, 1);
  EXPECT_EQ(decoded->guest_port, 0xA203);
}

}  // namespace
}  // namespace aero::udp_relay
