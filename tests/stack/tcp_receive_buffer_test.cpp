#include "aero/stack/tcp_receive_buffer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace aero::stack {
namespace {

ByteSpan bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};  // NOLINT
}

std::string drain(TcpReceiveBuffer& buffer) {
  std::string out;
  for (ByteSpan part : buffer.readable()) out.append(part.begin(), part.end());
  buffer.consume(buffer.pending());
  return out;
}

TEST(TcpReceiveBuffer, InOrderDataIsPendingAndTheWindowShrinks) {
  TcpReceiveBuffer buffer(16);
  const auto inserted = buffer.insert(0, bytes("hello"));
  EXPECT_EQ(inserted.stored, 5U);
  EXPECT_EQ(inserted.advanced, 5U);
  EXPECT_EQ(buffer.window(), 11U);
  EXPECT_EQ(drain(buffer), "hello");
  EXPECT_EQ(buffer.window(), 16U);
}

TEST(TcpReceiveBuffer, DataBeyondTheWindowIsCut) {
  TcpReceiveBuffer buffer(8);
  EXPECT_EQ(buffer.insert(0, bytes("0123456789")).stored, 8U);
  EXPECT_EQ(buffer.insert(0, bytes("x")).stored, 0U);
  EXPECT_EQ(drain(buffer), "01234567");
}

TEST(TcpReceiveBuffer, GapsFillInAnyOrderAndWrapTheRing) {
  TcpReceiveBuffer buffer(10);
  buffer.insert(0, bytes("abcdef"));
  EXPECT_EQ(drain(buffer), "abcdef");  // head now at 6: the next data wraps
  EXPECT_EQ(buffer.insert(4, bytes("ef")).advanced, 0U);
  EXPECT_EQ(buffer.insert(7, bytes("hi")).advanced, 0U);
  ASSERT_EQ(buffer.out_of_order().size(), 2U);
  EXPECT_EQ(buffer.out_of_order()[0].begin, 4U);
  EXPECT_EQ(buffer.out_of_order()[1].end, 9U);
  EXPECT_EQ(buffer.insert(0, bytes("abcd")).advanced, 6U);
  EXPECT_EQ(buffer.insert(0, bytes("gh")).advanced, 3U);  // offsets follow the in-order end; overlaps "h"
  EXPECT_FALSE(buffer.has_out_of_order());
  EXPECT_EQ(drain(buffer), "abcdefghi");
}

TEST(TcpReceiveBuffer, TooManyRangesAreRefusedButTheNextInOrderByteIsNot) {
  TcpReceiveBuffer buffer(100);
  for (std::size_t i = 0; i < TcpReceiveBuffer::kMaxRanges; ++i) {
    EXPECT_FALSE(buffer.insert(2 + 3 * i, bytes("x")).refused);
  }
  EXPECT_TRUE(buffer.insert(90, bytes("y")).refused);
  const auto first = buffer.insert(0, bytes("ab"));  // joins range 0 at offset 2
  EXPECT_FALSE(first.refused);
  EXPECT_EQ(first.advanced, 3U);
}

TEST(TcpReceiveBuffer, RandomSegmentsReassembleTheStream) {
  std::mt19937 random(7);
  for (int round = 0; round < 200; ++round) {
    const std::size_t capacity = 64 + random() % 512;
    TcpReceiveBuffer buffer(capacity);
    std::string stream(2000, '\0');
    for (auto& ch : stream) ch = static_cast<char>('a' + random() % 26);
    std::string out;
    std::size_t delivered = 0;  // stream offset of the in-order end
    for (int step = 0; step < 100000 && out.size() < stream.size(); ++step) {
      if (random() % 3 == 0) out += drain(buffer);
      const std::size_t offset = random() % std::min<std::size_t>(buffer.window() + 1, 300);
      const std::size_t at = delivered + offset;
      if (at >= stream.size()) continue;
      const std::size_t length = 1 + random() % std::min<std::size_t>(stream.size() - at, 100);
      const auto inserted = buffer.insert(offset, bytes(std::string_view(stream).substr(at, length)));
      delivered += inserted.advanced;
    }
    out += drain(buffer);
    ASSERT_EQ(out, stream) << "round " << round;
  }
}

}  // namespace
}  // namespace aero::stack
