// Strict UTF-8 validation (RFC 3629 §4) and boundary-safe truncation.
#include "aero/base/utf8.h"

#include <gtest/gtest.h>

namespace aero {
namespace {

bool valid(std::initializer_list<std::uint8_t> bytes) { return is_valid_utf8(Bytes(bytes)); }

TEST(Utf8, AcceptsWellFormedSequences) {
  EXPECT_TRUE(valid({}));
  EXPECT_TRUE(is_valid_utf8(as_bytes("plain ascii")));
  EXPECT_TRUE(valid({0xC3, 0xA9}));                     // é
  EXPECT_TRUE(valid({0xE2, 0x82, 0xAC}));               // €
  EXPECT_TRUE(valid({0xF0, 0x9F, 0x98, 0x80}));         // 😀
  EXPECT_TRUE(valid({0xF4, 0x8F, 0xBF, 0xBF}));         // U+10FFFF
  EXPECT_TRUE(valid({0xED, 0x9F, 0xBF}));               // U+D7FF
}

TEST(Utf8, RejectsMalformedSequences) {
  EXPECT_FALSE(valid({0x80}));                          // lone continuation
  EXPECT_FALSE(valid({0xC0, 0xAF}));                    // overlong '/'
  EXPECT_FALSE(valid({0xC1, 0xBF}));                    // overlong
  EXPECT_FALSE(valid({0xE0, 0x80, 0xAF}));              // overlong 3-byte
  EXPECT_FALSE(valid({0xF0, 0x80, 0x80, 0xAF}));        // overlong 4-byte
  EXPECT_FALSE(valid({0xED, 0xA0, 0x80}));              // surrogate U+D800
  EXPECT_FALSE(valid({0xF4, 0x90, 0x80, 0x80}));        // above U+10FFFF
  EXPECT_FALSE(valid({0xF5, 0x80, 0x80, 0x80}));
  EXPECT_FALSE(valid({0xFF}));
  EXPECT_FALSE(valid({0xE2, 0x82}));                    // truncated
  EXPECT_FALSE(valid({0xE2, 0x28, 0xAC}));              // bad continuation
  EXPECT_FALSE(valid({0xF0, 0x9F, 0x98, 0x41}));
}

TEST(Utf8, PrefixLengthNeverSplitsACharacter) {
  const Bytes text{'a', 0xE2, 0x82, 0xAC, 'b'};         // a€b
  EXPECT_EQ(utf8_prefix_length(text, 10), 5U);
  EXPECT_EQ(utf8_prefix_length(text, 5), 5U);
  EXPECT_EQ(utf8_prefix_length(text, 4), 4U);
  EXPECT_EQ(utf8_prefix_length(text, 3), 1U);
  EXPECT_EQ(utf8_prefix_length(text, 2), 1U);
  EXPECT_EQ(utf8_prefix_length(text, 1), 1U);
  EXPECT_EQ(utf8_prefix_length(text, 0), 0U);
  const Bytes garbage(8, 0x80);                          // invalid input stays in bounds
  EXPECT_LE(utf8_prefix_length(garbage, 5), 5U);
}

}  // namespace
}  // namespace aero
