// aero-tcp-mux-v1: golden vectors (tcp-mux-v1.json) and the stream parser's rules.
#include "aero/proto/tcp_mux.h"

#include <gtest/gtest.h>

#include <random>

#include "support/vectors.h"

namespace aero::mux {
namespace {

using aero::test::from_b64;
using aero::test::int_field;
using aero::test::string_field;

std::vector<boost::json::value> section(const char* name) {
  static const boost::json::value doc = aero::test::load_vectors("tcp-mux-v1.json");
  const auto& list = doc.at(name).as_array();
  return {list.begin(), list.end()};
}

std::string param_name(const testing::TestParamInfo<boost::json::value>& info) {
  return aero::test::test_name(string_field(info.param, "name"));
}

struct Collected {
  std::uint8_t msg_type;
  std::uint32_t stream_id;
  Bytes payload;
};

Result<void> push_all(StreamParser& parser, ByteSpan chunk, std::vector<Collected>& out) {
  return parser.push(chunk, [&](const FrameView& frame) {
    out.push_back({frame.msg_type, frame.stream_id, Bytes(frame.payload.begin(), frame.payload.end())});
  });
}

class MuxFrameVector : public testing::TestWithParam<boost::json::value> {};
TEST_P(MuxFrameVector, EncodesAndParses) {
  const auto& v = GetParam();
  const Bytes frame = from_b64(string_field(v, "frame_b64"));
  const Bytes payload = from_b64(string_field(v, "payload_b64"));
  const auto type = static_cast<MsgType>(int_field(v, "msgType"));
  const auto stream_id = static_cast<std::uint32_t>(int_field(v, "streamId"));
  auto encoded = encode_frame(type, stream_id, payload);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(*encoded, frame);

  StreamParser parser;
  std::vector<Collected> frames;
  ASSERT_TRUE(push_all(parser, frame, frames).ok());
  ASSERT_TRUE(parser.finish().ok());
  ASSERT_EQ(frames.size(), 1U);
  EXPECT_EQ(frames[0].msg_type, static_cast<std::uint8_t>(type));
  EXPECT_EQ(frames[0].stream_id, stream_id);
  EXPECT_EQ(frames[0].payload, payload);
}
INSTANTIATE_TEST_SUITE_P(Golden, MuxFrameVector, testing::ValuesIn(section("frames")), param_name);

class MuxOpenVector : public testing::TestWithParam<boost::json::value> {};
TEST_P(MuxOpenVector, EncodesAndDecodes) {
  const auto& v = GetParam();
  const Bytes payload = from_b64(string_field(v, "payload_b64"));
  OpenRequest open{string_field(v, "host"), static_cast<std::uint16_t>(int_field(v, "port")),
                   aero::test::has_field(v, "metadata") ? string_field(v, "metadata") : ""};
  auto encoded = encode_open(open);
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;
  EXPECT_EQ(*encoded, payload);
  auto decoded = decode_open(payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(*decoded, open);
}
INSTANTIATE_TEST_SUITE_P(Golden, MuxOpenVector, testing::ValuesIn(section("openPayloads")),
                         param_name);

class MuxCloseVector : public testing::TestWithParam<boost::json::value> {};
TEST_P(MuxCloseVector, EncodesAndDecodes) {
  const auto& v = GetParam();
  const Bytes payload = from_b64(string_field(v, "payload_b64"));
  const auto flags = static_cast<std::uint8_t>(int_field(v, "flags"));
  EXPECT_EQ(encode_close(flags), payload);
  auto decoded = decode_close(payload);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, flags);
}
INSTANTIATE_TEST_SUITE_P(Golden, MuxCloseVector, testing::ValuesIn(section("closePayloads")),
                         param_name);

class MuxErrorVector : public testing::TestWithParam<boost::json::value> {};
TEST_P(MuxErrorVector, EncodesAndDecodes) {
  const auto& v = GetParam();
  const Bytes payload = from_b64(string_field(v, "payload_b64"));
  auto decoded = decode_error(payload);
  if (aero::test::bool_field_or(v, "expectError", false)) {
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().message.find(string_field(v, "errorContains")), std::string::npos)
        << decoded.error().message;
    return;
  }
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  const ErrorMessage expected{static_cast<std::uint16_t>(int_field(v, "code")),
                              string_field(v, "message")};
  EXPECT_EQ(*decoded, expected);
  EXPECT_EQ(encode_error(expected.code, expected.message), payload);
}
INSTANTIATE_TEST_SUITE_P(Golden, MuxErrorVector, testing::ValuesIn(section("errorPayloads")),
                         param_name);

class MuxParserStreamVector : public testing::TestWithParam<boost::json::value> {};
TEST_P(MuxParserStreamVector, ReassemblesChunks) {
  const auto& v = GetParam();
  StreamParser parser;
  std::vector<Collected> frames;
  for (const auto& chunk : aero::test::field(v, "chunks_b64").as_array()) {
    ASSERT_TRUE(push_all(parser, from_b64(chunk.as_string()), frames).ok());
  }
  const auto finished = parser.finish();
  if (aero::test::bool_field_or(v, "expectError", false)) {
    ASSERT_FALSE(finished.ok());
    EXPECT_NE(finished.error().message.find(string_field(v, "errorContains")), std::string::npos)
        << finished.error().message;
    return;
  }
  ASSERT_TRUE(finished.ok());
  const auto& expected = aero::test::field(v, "expectFrames").as_array();
  ASSERT_EQ(frames.size(), expected.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].msg_type, int_field(expected[i], "msgType"));
    EXPECT_EQ(frames[i].stream_id, int_field(expected[i], "streamId"));
    EXPECT_EQ(frames[i].payload, from_b64(string_field(expected[i], "payload_b64")));
  }
}
INSTANTIATE_TEST_SUITE_P(Golden, MuxParserStreamVector,
                         testing::ValuesIn(section("parserStreams")), param_name);

Bytes two_frames() {
  Bytes stream;
  EXPECT_TRUE(encode_frame_into(stream, 1, 7, encode_open({"example.com", 443, ""}).value()).ok());
  EXPECT_TRUE(encode_frame_into(stream, 2, 7, as_bytes("hello, world")).ok());
  EXPECT_TRUE(encode_frame_into(stream, 6, 0, {}).ok());
  return stream;
}

TEST(MuxStreamParser, AcceptsInputSplitAtEveryByte) {
  const Bytes stream = two_frames();
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    StreamParser parser;
    std::vector<Collected> frames;
    ASSERT_TRUE(push_all(parser, ByteSpan(stream).first(split), frames).ok());
    ASSERT_TRUE(push_all(parser, ByteSpan(stream).subspan(split), frames).ok());
    ASSERT_TRUE(parser.finish().ok()) << split;
    ASSERT_EQ(frames.size(), 3U) << split;
    EXPECT_EQ(frames[1].payload, Bytes(as_bytes("hello, world").begin(), as_bytes("hello, world").end()));
    EXPECT_EQ(frames[2].msg_type, 6);
  }
}

TEST(MuxStreamParser, AcceptsOneByteAtATimeAndRandomChunks) {
  const Bytes stream = two_frames();
  StreamParser bytewise;
  std::vector<Collected> frames;
  for (const std::uint8_t byte : stream) ASSERT_TRUE(push_all(bytewise, Bytes{byte}, frames).ok());
  EXPECT_EQ(frames.size(), 3U);
  EXPECT_EQ(bytewise.buffered_bytes(), 0U);

  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    StreamParser parser;
    std::vector<Collected> got;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      const std::size_t n = std::min<std::size_t>(rng() % 23, stream.size() - pos);
      ASSERT_TRUE(push_all(parser, ByteSpan(stream).subspan(pos, n), got).ok());
      pos += n;
    }
    ASSERT_EQ(got.size(), 3U);
  }
}

TEST(MuxStreamParser, RejectsOversizedLengthBeforeBuffering) {
  StreamParser parser(/*max_payload=*/64);
  Bytes header;
  ASSERT_TRUE(encode_frame_into(header, 2, 1, Bytes(65)).ok());
  header.resize(kHeaderLength);  // only the header arrives
  std::vector<Collected> frames;
  // Header delivered in two pieces: the check fires when the 9th byte arrives.
  ASSERT_TRUE(push_all(parser, ByteSpan(header).first(5), frames).ok());
  auto status = push_all(parser, ByteSpan(header).subspan(5), frames);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, "payload_too_large");
  EXPECT_EQ(parser.buffered_bytes(), 0U);
  // The parser stays failed.
  EXPECT_FALSE(push_all(parser, Bytes{1, 2, 3}, frames).ok());
  EXPECT_FALSE(parser.finish().ok());
  EXPECT_TRUE(frames.empty());
}

TEST(MuxStreamParser, MaxPayloadIsInclusive) {
  StreamParser parser(16);
  Bytes stream;
  ASSERT_TRUE(encode_frame_into(stream, 2, 1, Bytes(16, 0x55)).ok());
  std::vector<Collected> frames;
  ASSERT_TRUE(push_all(parser, stream, frames).ok());
  EXPECT_EQ(frames.size(), 1U);
  EXPECT_EQ(StreamParser().max_payload(), 16U * 1024 * 1024);
}

TEST(MuxStreamParser, UnknownTypesAreDeliveredForTheSessionToJudge) {
  StreamParser parser;
  Bytes stream;
  ASSERT_TRUE(encode_frame_into(stream, 0x99, 3, as_bytes("x")).ok());
  std::vector<Collected> frames;
  ASSERT_TRUE(push_all(parser, stream, frames).ok());
  ASSERT_EQ(frames.size(), 1U);
  EXPECT_EQ(frames[0].msg_type, 0x99);
}

TEST(MuxOpen, RejectsEachMalformedField) {
  EXPECT_EQ(decode_open(Bytes{0}).error().kind, "bad_open");
  EXPECT_FALSE(decode_open(Bytes{0, 0, 0, 80, 0, 0}).ok());           // empty host
  EXPECT_FALSE(decode_open(Bytes{0, 2, 'a', 0, 80, 0, 0}).ok());      // host shorter than length
  EXPECT_FALSE(decode_open(Bytes{0, 1, ' ', 0, 80, 0, 0}).ok());      // whitespace host
  EXPECT_FALSE(decode_open(Bytes{0, 1, 0x07, 0, 80, 0, 0}).ok());     // control character
  EXPECT_FALSE(decode_open(Bytes{0, 1, 0xC3, 0, 80, 0, 0}).ok());     // broken UTF-8
  EXPECT_FALSE(decode_open(Bytes{0, 1, 'a', 0, 80, 0}).ok());         // no metadata length
  EXPECT_FALSE(decode_open(Bytes{0, 1, 'a', 0, 80, 0, 1}).ok());      // metadata missing
  EXPECT_FALSE(decode_open(Bytes{0, 1, 'a', 0, 80, 0, 0, 9}).ok());   // trailing byte
  EXPECT_FALSE(decode_open(Bytes{0, 1, 'a', 0, 80, 0x10, 0x01}).ok()); // metadata > 4096
  Bytes long_host{0x04, 0x01};  // 1025
  long_host.resize(2 + 1025 + 4, 'h');
  EXPECT_FALSE(decode_open(long_host).ok());
  EXPECT_TRUE(decode_open(Bytes{0, 1, 'a', 0, 0, 0, 0}).ok()) << "port 0 is the policy's call";
}

TEST(MuxOpen, HostAndMetadataCapsAreInclusive) {
  OpenRequest open{std::string(1024, 'h'), 443, std::string(4096, 'm')};
  auto encoded = encode_open(open);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(decode_open(*encoded).value(), open);
  open.host.push_back('h');
  EXPECT_FALSE(encode_open(open).ok());
  open.host.pop_back();
  open.metadata.push_back('m');
  EXPECT_FALSE(encode_open(open).ok());
}

TEST(MuxClose, RequiresExactlyOneKnownFlag) {
  EXPECT_FALSE(decode_close(Bytes{}).ok());
  EXPECT_FALSE(decode_close(Bytes{1, 1}).ok());
  EXPECT_FALSE(decode_close(Bytes{0}).ok());
  EXPECT_FALSE(decode_close(Bytes{3}).ok());
  EXPECT_EQ(decode_close(Bytes{2}).value(), kCloseRst);
}

TEST(MuxError, CapsAndValidatesTheMessage) {
  const Bytes long_error = encode_error(2, std::string(2000, 'e'));
  EXPECT_EQ(long_error.size(), 4U + 1024U);
  EXPECT_EQ(decode_error(long_error).value().message.size(), 1024U);
  EXPECT_FALSE(decode_error(Bytes{0, 1, 0, 1, 0xFF}).ok());
  EXPECT_FALSE(decode_error(Bytes{0, 1}).ok());
  Bytes oversized{0, 1, 0x04, 0x01};
  oversized.resize(4 + 1025, 'x');
  EXPECT_FALSE(decode_error(oversized).ok());
}

}  // namespace
}  // namespace aero::mux
