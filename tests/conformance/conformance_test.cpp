// The unified conformance files (conformance/aero-vectors-v1.json and -v2.json): every case of
// every section, against every codec. Bytes here are lowercase hex.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <tuple>

#include "aero/proto/l2_tunnel.h"
#include "aero/proto/relay_jwt.h"
#include "aero/proto/session_token.h"
#include "aero/proto/tcp_mux.h"
#include "aero/proto/udp_relay.h"
#include "support/vectors.h"

namespace aero {
namespace {

using test::field;
using test::from_hex;
using test::int_field;
using test::string_field;

struct Case {
  std::string name;  // "<file>_<section>_<vector>"
  boost::json::value vector;
  boost::json::value section;  // the enclosing section, for shared fields (secret, time)
};

const std::array<const char*, 2> kFiles = {"conformance/aero-vectors-v1.json",
                                           "conformance/aero-vectors-v2.json"};

const boost::json::value& document(const char* file) {
  static std::map<std::string, boost::json::value> cache;
  auto [it, inserted] = cache.try_emplace(file);
  if (inserted) it->second = test::load_vectors(file);
  return it->second;
}

std::string file_tag(const char* file) { return std::string(file).find("v1") != std::string::npos ? "v1" : "v2"; }

// Cases from `section` → `list` (an array of named vectors) in every file that has it.
std::vector<Case> list_cases(const char* section_name, const char* list_name) {
  std::vector<Case> out;
  for (const char* file : kFiles) {
    const auto* section = document(file).as_object().if_contains(section_name);
    if (section == nullptr) continue;
    for (const auto& v : section->at(list_name).as_array()) {
      out.push_back({test::test_name(file_tag(file) + "_" + list_name + "_" +
                                     std::string(v.at("name").as_string())),
                     v, *section});
    }
  }
  return out;
}

// Cases from `section` → `tokens` (an object of named tokens) in every file.
std::vector<Case> token_cases(const char* section_name) {
  std::vector<Case> out;
  for (const char* file : kFiles) {
    const auto& section = document(file).at(section_name);
    for (const auto& [key, v] : section.at("tokens").as_object()) {
      boost::json::object named = v.as_object();
      named["name"] = key;
      out.push_back({test::test_name(file_tag(file) + "_" + std::string(key)), named, section});
    }
  }
  return out;
}

std::string case_name(const testing::TestParamInfo<Case>& info) { return info.param.name; }

// --- aero-l2-tunnel-v1 -------------------------------------------------------------------------

class L2Valid : public testing::TestWithParam<Case> {};
TEST_P(L2Valid, DecodesAndEncodes) {
  const auto& v = GetParam().vector;
  const Bytes wire = from_hex(string_field(v, "wireHex"));
  const Bytes payload = from_hex(string_field(v, "payloadHex"));
  auto message = l2::decode(wire);
  ASSERT_TRUE(message.ok()) << message.error().message;
  EXPECT_EQ(message->type, int_field(v, "msgType"));
  EXPECT_EQ(message->flags, int_field(v, "flags"));
  EXPECT_EQ(Bytes(message->payload.begin(), message->payload.end()), payload);
  EXPECT_EQ(l2::encode(message->type, payload).value(), wire);
  if (test::has_field(v, "structured")) {
    const auto& s = field(v, "structured");
    const auto parsed = l2::decode_structured_error(payload);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->code, int_field(s, "code"));
    EXPECT_EQ(parsed->message, string_field(s, "message"));
    EXPECT_EQ(l2::encode_structured_error(parsed->code, parsed->message), payload);
  }
}
INSTANTIATE_TEST_SUITE_P(Conformance, L2Valid,
                         testing::ValuesIn(list_cases("aero-l2-tunnel-v1", "valid")), case_name);

class L2Invalid : public testing::TestWithParam<Case> {};
TEST_P(L2Invalid, FailsWithTheListedErrorCode) {
  const auto& v = GetParam().vector;
  auto message = l2::decode(from_hex(string_field(v, "wireHex")));
  ASSERT_FALSE(message.ok());
  EXPECT_EQ(message.error().kind, string_field(v, "errorCode"));
}
INSTANTIATE_TEST_SUITE_P(Conformance, L2Invalid,
                         testing::ValuesIn(list_cases("aero-l2-tunnel-v1", "invalid")), case_name);

// --- aero-tcp-mux-v1 ---------------------------------------------------------------------------

class MuxFrame : public testing::TestWithParam<Case> {};
TEST_P(MuxFrame, EncodesAndParses) {
  const auto& v = GetParam().vector;
  const Bytes frame = from_hex(string_field(v, "frameHex"));
  const Bytes payload = from_hex(string_field(v, "payloadHex"));
  const auto type = static_cast<std::uint8_t>(int_field(v, "msgType"));
  const auto stream_id = static_cast<std::uint32_t>(int_field(v, "streamId"));
  Bytes encoded;
  ASSERT_TRUE(mux::encode_frame_into(encoded, type, stream_id, payload).ok());
  EXPECT_EQ(encoded, frame);
  mux::StreamParser parser;
  int frames = 0;
  ASSERT_TRUE(parser
                  .push(frame,
                        [&](const mux::FrameView& f) {
                          ++frames;
                          EXPECT_EQ(f.msg_type, type);
                          EXPECT_EQ(f.stream_id, stream_id);
                          EXPECT_EQ(Bytes(f.payload.begin(), f.payload.end()), payload);
                        })
                  .ok());
  EXPECT_EQ(frames, 1);
  EXPECT_TRUE(parser.finish().ok());
}
INSTANTIATE_TEST_SUITE_P(Conformance, MuxFrame,
                         testing::ValuesIn(list_cases("aero-tcp-mux-v1", "frames")), case_name);

class MuxOpen : public testing::TestWithParam<Case> {};
TEST_P(MuxOpen, EncodesAndDecodes) {
  const auto& v = GetParam().vector;
  const mux::OpenRequest open{string_field(v, "host"),
                              static_cast<std::uint16_t>(int_field(v, "port")),
                              test::has_field(v, "metadata") ? string_field(v, "metadata") : ""};
  const Bytes payload = from_hex(string_field(v, "payloadHex"));
  EXPECT_EQ(mux::encode_open(open).value(), payload);
  EXPECT_EQ(mux::decode_open(payload).value(), open);
}
INSTANTIATE_TEST_SUITE_P(Conformance, MuxOpen,
                         testing::ValuesIn(list_cases("aero-tcp-mux-v1", "openPayloads")),
                         case_name);

class MuxClose : public testing::TestWithParam<Case> {};
TEST_P(MuxClose, EncodesAndDecodes) {
  const auto& v = GetParam().vector;
  const Bytes payload = from_hex(string_field(v, "payloadHex"));
  const auto flags = static_cast<std::uint8_t>(int_field(v, "flags"));
  EXPECT_EQ(mux::encode_close(flags), payload);
  EXPECT_EQ(mux::decode_close(payload).value(), flags);
}
INSTANTIATE_TEST_SUITE_P(Conformance, MuxClose,
                         testing::ValuesIn(list_cases("aero-tcp-mux-v1", "closePayloads")),
                         case_name);

class MuxError : public testing::TestWithParam<Case> {};
TEST_P(MuxError, DecodesOrFails) {
  const auto& v = GetParam().vector;
  const Bytes payload = from_hex(string_field(v, "payloadHex"));
  auto decoded = mux::decode_error(payload);
  if (test::bool_field_or(v, "expectError", false)) {
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().message.find(string_field(v, "errorContains")), std::string::npos);
    return;
  }
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->code, int_field(v, "code"));
  EXPECT_EQ(decoded->message, string_field(v, "message"));
  EXPECT_EQ(mux::encode_error(decoded->code, decoded->message), payload);
}
INSTANTIATE_TEST_SUITE_P(Conformance, MuxError,
                         testing::ValuesIn(list_cases("aero-tcp-mux-v1", "errorPayloads")),
                         case_name);

class MuxStream : public testing::TestWithParam<Case> {};
TEST_P(MuxStream, ReassemblesChunks) {
  const auto& v = GetParam().vector;
  mux::StreamParser parser;
  std::vector<std::tuple<std::uint8_t, std::uint32_t, Bytes>> frames;
  for (const auto& chunk : field(v, "chunksHex").as_array()) {
    ASSERT_TRUE(parser
                    .push(from_hex(chunk.as_string()),
                          [&](const mux::FrameView& f) {
                            frames.emplace_back(f.msg_type, f.stream_id,
                                                Bytes(f.payload.begin(), f.payload.end()));
                          })
                    .ok());
  }
  auto finished = parser.finish();
  if (test::bool_field_or(v, "expectError", false)) {
    ASSERT_FALSE(finished.ok());
    EXPECT_NE(finished.error().message.find(string_field(v, "errorContains")), std::string::npos);
    return;
  }
  ASSERT_TRUE(finished.ok());
  const auto& expected = field(v, "expectFrames").as_array();
  ASSERT_EQ(frames.size(), expected.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(std::get<0>(frames[i]), int_field(expected[i], "msgType"));
    EXPECT_EQ(std::get<1>(frames[i]), int_field(expected[i], "streamId"));
    EXPECT_EQ(std::get<2>(frames[i]), from_hex(string_field(expected[i], "payloadHex")));
  }
}
INSTANTIATE_TEST_SUITE_P(Conformance, MuxStream,
                         testing::ValuesIn(list_cases("aero-tcp-mux-v1", "parserStreams")),
                         case_name);

// --- UDP relay v1/v2 ---------------------------------------------------------------------------

class UdpRelay : public testing::TestWithParam<Case> {};
TEST_P(UdpRelay, DecodesAndEncodes) {
  const auto& v = GetParam().vector;
  const Bytes frame = from_hex(string_field(v, "frameHex"));
  auto decoded = udp_relay::decode(frame);
  if (test::bool_field_or(v, "expectError", false)) {
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
  EXPECT_EQ(Bytes(decoded->payload.begin(), decoded->payload.end()),
            from_hex(string_field(v, "payloadHex")));
  EXPECT_EQ(udp_relay::encode(*decoded).value(), frame);
}
INSTANTIATE_TEST_SUITE_P(Conformance, UdpRelay,
                         testing::ValuesIn(list_cases("aero-udp-relay-v1v2", "vectors")),
                         case_name);

// --- aero_session ------------------------------------------------------------------------------

class SessionToken : public testing::TestWithParam<Case> {};
TEST_P(SessionToken, VerifiesAsListed) {
  const auto& [name, v, section] = GetParam();
  const std::string secret = string_field(section, "secret");
  const std::int64_t now_ms = int_field(section, "nowMs");
  const auto& claims = field(v, "claims");
  auto verified = session::verify(string_field(v, "token"), as_bytes(secret), now_ms);
  const std::string kind = string_field(v, "name");
  if (kind == "valid") {
    ASSERT_TRUE(verified.ok()) << verified.error().message;
    EXPECT_EQ(verified->sid, string_field(claims, "sid"));
    EXPECT_EQ(verified->exp, static_cast<double>(int_field(claims, "exp")));
    // Minting the same session at the same time reproduces the token byte for byte.
    auto minted = session::mint(as_bytes(secret), string_field(claims, "sid"), now_ms,
                                int_field(section, "ttlSeconds"));
    ASSERT_TRUE(minted.ok());
    EXPECT_EQ(*minted, string_field(v, "token"));
  } else if (kind == "expired") {
    ASSERT_FALSE(verified.ok());
    EXPECT_EQ(verified.error().kind, "expired");
  } else {
    ASSERT_EQ(kind, "badSignature") << "a token case this test does not know";
    ASSERT_FALSE(verified.ok());
    EXPECT_EQ(verified.error().kind, "bad_signature");
  }
}
INSTANTIATE_TEST_SUITE_P(Conformance, SessionToken, testing::ValuesIn(token_cases("aero_session")),
                         case_name);

// --- relay JWT ---------------------------------------------------------------------------------

class RelayJwt : public testing::TestWithParam<Case> {};
TEST_P(RelayJwt, VerifiesAsListed) {
  const auto& [name, v, section] = GetParam();
  const std::string secret = string_field(section, "secret");
  const std::int64_t now = int_field(section, "nowUnix");
  const auto& claims = field(v, "claims");
  auto verified = relay_jwt::verify(string_field(v, "token"), as_bytes(secret), now);
  const std::string kind = string_field(v, "name");
  if (kind == "valid") {
    ASSERT_TRUE(verified.ok()) << verified.error().message;
    EXPECT_EQ(verified->sid, string_field(claims, "sid"));
    EXPECT_EQ(verified->iat, int_field(claims, "iat"));
    EXPECT_EQ(verified->exp, int_field(claims, "exp"));
    EXPECT_EQ(verified->origin, string_field(claims, "origin"));
    EXPECT_EQ(verified->aud, string_field(claims, "aud"));
    EXPECT_EQ(verified->iss, string_field(claims, "iss"));
    auto fresh = relay_jwt::make_claims(string_field(claims, "sid"), now * 1000,
                                        int_field(section, "ttlSeconds"));
    fresh.origin = string_field(claims, "origin");
    fresh.aud = string_field(claims, "aud");
    fresh.iss = string_field(claims, "iss");
    auto minted = relay_jwt::mint(as_bytes(secret), fresh);
    ASSERT_TRUE(minted.ok());
    EXPECT_EQ(*minted, string_field(v, "token"));
  } else if (kind == "expired") {
    ASSERT_FALSE(verified.ok());
    EXPECT_EQ(verified.error().kind, "expired");
  } else {
    ASSERT_EQ(kind, "badSignature") << "a token case this test does not know";
    ASSERT_FALSE(verified.ok());
    EXPECT_EQ(verified.error().kind, "bad_signature");
  }
}
INSTANTIATE_TEST_SUITE_P(Conformance, RelayJwt,
                         testing::ValuesIn(token_cases("aero-udp-relay-jwt-hs256")), case_name);

}  // namespace
}  // namespace aero
