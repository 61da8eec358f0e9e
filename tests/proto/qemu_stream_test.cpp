// QEMU -netdev stream framing: round trips, splits at every byte, length bounds.
#include "aero/proto/qemu_stream.h"

#include <gtest/gtest.h>

namespace aero::qemu_stream {
namespace {

Bytes frame_of(std::size_t size, std::uint8_t fill) { return Bytes(size, fill); }

std::vector<Bytes> decode_all(FrameDecoder& decoder, ByteSpan stream, bool& ok) {
  std::vector<Bytes> frames;
  ok = decoder.push(stream, [&](ByteSpan f) { frames.emplace_back(f.begin(), f.end()); }).ok();
  return frames;
}

TEST(QemuStream, EncodesLengthPrefix) {
  Bytes out;
  ASSERT_TRUE(encode_into(out, frame_of(60, 0xAB)).ok());
  ASSERT_EQ(out.size(), 64U);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 0);
  EXPECT_EQ(out[2], 0);
  EXPECT_EQ(out[3], 60);
}

TEST(QemuStream, SplitAtEveryByteGivesTheSameFrames) {
  Bytes stream;
  ASSERT_TRUE(encode_into(stream, frame_of(14, 1)).ok());
  ASSERT_TRUE(encode_into(stream, frame_of(1514, 2)).ok());
  ASSERT_TRUE(encode_into(stream, frame_of(60, 3)).ok());
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    FrameDecoder decoder;
    bool ok1 = false;
    bool ok2 = false;
    auto frames = decode_all(decoder, ByteSpan(stream).first(split), ok1);
    auto rest = decode_all(decoder, ByteSpan(stream).subspan(split), ok2);
    frames.insert(frames.end(), rest.begin(), rest.end());
    ASSERT_TRUE(ok1 && ok2);
    ASSERT_EQ(frames.size(), 3U) << split;
    EXPECT_EQ(frames[1], frame_of(1514, 2));
    EXPECT_FALSE(decoder.has_partial_frame());
  }
}

TEST(QemuStream, LengthBoundsAreCheckedBeforeBuffering) {
  FrameDecoder decoder(/*max_frame=*/1514);
  bool ok = true;
  decode_all(decoder, Bytes{0x00, 0x00, 0x05, 0xEB}, ok);  // 1515
  EXPECT_FALSE(ok);
  EXPECT_EQ(decoder.buffered_bytes(), 0U);
  decode_all(decoder, Bytes{0, 0, 0, 14}, ok);
  EXPECT_FALSE(ok) << "a failed stream stays failed";

  FrameDecoder short_frames;
  decode_all(short_frames, Bytes{0, 0, 0, 13}, ok);
  EXPECT_FALSE(ok);

  Bytes out;
  EXPECT_FALSE(encode_into(out, frame_of(13, 0)).ok());
  EXPECT_FALSE(encode_into(out, frame_of(1515, 0), 1514).ok());
  EXPECT_TRUE(encode_into(out, frame_of(65535, 0)).ok());
  EXPECT_FALSE(encode_into(out, frame_of(65536, 0)).ok());
}

TEST(QemuStream, ReportsAPartialFrameAtEndOfStream) {
  FrameDecoder decoder;
  bool ok = false;
  decode_all(decoder, Bytes{0, 0, 0, 20, 1, 2, 3}, ok);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(decoder.has_partial_frame());
  EXPECT_EQ(decoder.buffered_bytes(), 7U);
}

}  // namespace
}  // namespace aero::qemu_stream
