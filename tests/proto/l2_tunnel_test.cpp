// aero-l2-tunnel-v1: golden vectors (l2-tunnel-v1.json) and the codec's own rules.
#include "aero/proto/l2_tunnel.h"

#include <gtest/gtest.h>

#include "support/vectors.h"

namespace aero::l2 {
namespace {

using aero::test::from_b64;

std::vector<boost::json::value> tunnel_vectors() {
  static const boost::json::value doc = aero::test::load_vectors("l2-tunnel-v1.json");
  const auto& list = doc.at("vectors").as_array();
  return {list.begin(), list.end()};
}

class L2TunnelVector : public testing::TestWithParam<boost::json::value> {};

TEST_P(L2TunnelVector, MatchesGoldenBytes) {
  const auto& v = GetParam();
  const Bytes wire = from_b64(aero::test::string_field(v, "wire_b64"));
  // frame_b64 and wire_b64 are two names for the same bytes in this file.
  ASSERT_EQ(wire, from_b64(aero::test::string_field(v, "frame_b64")));
  auto decoded = decode(wire);
  if (aero::test::bool_field_or(v, "expectError", false)) {
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().message.find(aero::test::string_field(v, "errorContains")),
              std::string::npos)
        << decoded.error().message;
    return;
  }
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  const Bytes payload = from_b64(aero::test::string_field(v, "payload_b64"));
  const auto type = static_cast<std::uint8_t>(aero::test::int_field(v, "type"));
  EXPECT_EQ(decoded->type, type);
  EXPECT_EQ(decoded->flags, aero::test::int_field(v, "flags"));
  EXPECT_EQ(Bytes(decoded->payload.begin(), decoded->payload.end()), payload);
  EXPECT_TRUE(decoded->has_known_type());

  auto encoded = encode(type, payload);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(*encoded, wire);

  if (aero::test::has_field(v, "code")) {
    const auto structured = decode_structured_error(payload);
    ASSERT_TRUE(structured.has_value());
    EXPECT_EQ(structured->code, aero::test::int_field(v, "code"));
    EXPECT_EQ(structured->message, aero::test::string_field(v, "message"));
    const auto code = static_cast<std::uint16_t>(structured->code);
    EXPECT_EQ(encode_structured_error(code, structured->message), payload);
  } else if (decoded->is(MessageType::error)) {
    EXPECT_FALSE(decode_structured_error(payload).has_value()) << "free-text ERROR payload";
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, L2TunnelVector, testing::ValuesIn(tunnel_vectors()),
                         aero::test::VectorName());

Bytes message(std::uint8_t type, std::size_t payload_size) {
  Bytes out{kMagic, kVersion, type, 0};
  out.resize(kHeaderLength + payload_size, 0xAB);
  return out;
}

TEST(L2Tunnel, DecodeErrorsUseExactTexts) {
  EXPECT_EQ(decode(Bytes{0xA2, 0x03, 0x00}).error().message, "message too short: 3 < 4");
  EXPECT_EQ(decode(Bytes{}).error().kind, "too_short");
  EXPECT_EQ(decode(Bytes{0x00, 0x03, 0x00, 0x00}).error().message, "invalid magic: 0x00");
  EXPECT_EQ(decode(Bytes{0xA2, 0xFF, 0x00, 0x00}).error().message, "unsupported version: 0xff");
  // Version 2 is the UDP relay's prefix, never a tunnel message.
  EXPECT_EQ(decode(Bytes{0xA2, 0x02, 0x00, 0x00}).error().kind, "unsupported_version");
  EXPECT_EQ(decode(message(0, 2049)).error().message, "payload too large: 2049 > 2048");
  EXPECT_EQ(decode(message(1, 257)).error().message, "payload too large: 257 > 256");
}

TEST(L2Tunnel, LimitsAreInclusiveAndConfigurable) {
  EXPECT_TRUE(decode(message(0, 2048)).ok());
  EXPECT_TRUE(decode(message(0x7F, 256)).ok());
  const Limits jumbo{.max_frame_payload = 9216, .max_control_payload = 16};
  EXPECT_TRUE(decode(message(0, 9216), jumbo).ok());
  EXPECT_FALSE(decode(message(0, 9217), jumbo).ok());
  EXPECT_FALSE(decode(message(2, 17), jumbo).ok());
  EXPECT_EQ(encode(MessageType::frame, Bytes(9217), jumbo).error().kind, "payload_too_large");
}

TEST(L2Tunnel, UnknownTypesAreSurfacedAndBoundByTheControlLimit) {
  auto decoded = decode(message(0x42, 3));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->type, 0x42);
  EXPECT_FALSE(decoded->has_known_type());
  EXPECT_FALSE(decode(message(0x42, 257)).ok());
}

TEST(L2Tunnel, UnknownFlagsAreIgnored) {
  Bytes wire = message(0, 14);
  wire[3] = 0xFF;
  auto decoded = decode(wire);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->flags, 0xFF);
  EXPECT_EQ(decoded->payload.size(), 14U);
}

TEST(L2Tunnel, EmptyFrameAndPingPayloadsAreValid) {
  EXPECT_TRUE(decode(message(0, 0)).ok());
  EXPECT_TRUE(decode(message(1, 0)).ok());
}

TEST(L2Tunnel, ErrorCodeNamesCoverTheNineCodes) {
  EXPECT_EQ(error_code_name(1), "protocol_error");
  EXPECT_EQ(error_code_name(5), "origin_denied");
  EXPECT_EQ(error_code_name(9), "backpressure");
  EXPECT_EQ(error_code_name(0), "unknown");
  EXPECT_EQ(error_code_name(10), "unknown");
}

TEST(L2TunnelStructuredError, RoundTrips) {
  const Bytes payload = encode_structured_error(7, "quota: frames per second");
  const auto decoded = decode_structured_error(payload);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, (StructuredError{7, "quota: frames per second"}));
}

TEST(L2TunnelStructuredError, TruncatesAtUtf8Boundary) {
  // "é" is two bytes; a limit that would split it keeps the whole character out.
  const std::string text = "ab\xC3\xA9";
  const Bytes cut = encode_structured_error(1, text, 4 + 3);
  ASSERT_EQ(cut.size(), 6U);
  EXPECT_EQ(cut[3], 2);  // length field
  EXPECT_EQ(decode_structured_error(cut)->message, "ab");
  EXPECT_EQ(encode_structured_error(1, text, 4 + 4).size(), 8U);
  // A 3-byte and a 4-byte character cut in every position.
  const std::string wide = "\xE2\x82\xAC\xF0\x9F\x98\x80";  // "€😀"
  for (std::size_t room = 0; room <= 7; ++room) {
    const auto decoded = decode_structured_error(encode_structured_error(1, wide, 4 + room));
    ASSERT_TRUE(decoded.has_value()) << room;
    const std::size_t expected = room < 3 ? 0 : (room < 7 ? 3 : 7);
    EXPECT_EQ(decoded->message.size(), expected) << room;
  }
}

TEST(L2TunnelStructuredError, TooSmallLimitGivesEmptyPayload) {
  EXPECT_TRUE(encode_structured_error(1, "x", 3).empty());
  EXPECT_EQ(encode_structured_error(1, "xyz", 4).size(), 4U);
}

TEST(L2TunnelStructuredError, OnlyExactLengthValidUtf8IsStructured) {
  EXPECT_FALSE(decode_structured_error(Bytes{0, 1, 0, 2, 'a'}).has_value());
  EXPECT_FALSE(decode_structured_error(Bytes{0, 1, 0, 1, 'a', 'b'}).has_value());
  EXPECT_FALSE(decode_structured_error(Bytes{0, 1, 0, 1, 0xFF}).has_value());
  EXPECT_FALSE(decode_structured_error(Bytes{0, 1, 0}).has_value());
  EXPECT_TRUE(decode_structured_error(Bytes{0, 9, 0, 0}).has_value());
}

}  // namespace
}  // namespace aero::l2
