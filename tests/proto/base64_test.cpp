// Strict base64 and canonical base64url (RFC 4648).
#include "aero/proto/base64.h"

#include <gtest/gtest.h>

namespace aero::encoding {
namespace {

Bytes b(std::string_view s) { return Bytes(as_bytes(s).begin(), as_bytes(s).end()); }

TEST(Base64, Rfc4648TestVectors) {
  // RFC 4648 §10.
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(base64_encode(as_bytes(plain)), encoded);
    EXPECT_EQ(base64_decode(encoded), b(plain)) << encoded;
  }
}

TEST(Base64, RejectsNonStrictInput) {
  EXPECT_FALSE(base64_decode("Zg=").has_value());     // bad length
  EXPECT_FALSE(base64_decode("Zg").has_value());      // padding required
  EXPECT_FALSE(base64_decode("Z===").has_value());
  EXPECT_FALSE(base64_decode("=Zg=").has_value());
  EXPECT_FALSE(base64_decode("Zm 9").has_value());    // whitespace
  EXPECT_FALSE(base64_decode("Zm-_").has_value());    // url alphabet
  EXPECT_FALSE(base64_decode("Zg==Zg==").has_value());
}

TEST(Base64Url, EncodesWithoutPadding) {
  EXPECT_EQ(base64url_encode(Bytes{0xFB, 0xFF}), "-_8");
  EXPECT_EQ(base64url_encode(as_bytes("foob")), "Zm9vYg");
  EXPECT_EQ(base64url_decode_canonical("-_8"), (Bytes{0xFB, 0xFF}));
  EXPECT_EQ(base64url_decode_canonical(""), Bytes{});
}

TEST(Base64Url, AcceptsOnlyTheCanonicalForm) {
  EXPECT_FALSE(base64url_decode_canonical("Zm9vYg==").has_value());  // padding
  EXPECT_FALSE(base64url_decode_canonical("Zm9vY").has_value());     // len % 4 == 1
  EXPECT_FALSE(base64url_decode_canonical("Zh").has_value());        // 'h' leaves low bits set
  EXPECT_TRUE(base64url_decode_canonical("Zg").has_value());
  EXPECT_FALSE(base64url_decode_canonical("Zm9").has_value());       // '9' low 2 bits set
  EXPECT_TRUE(base64url_decode_canonical("Zm8").has_value());
  EXPECT_FALSE(base64url_decode_canonical("Zm+v").has_value());      // standard alphabet
  EXPECT_FALSE(base64url_decode_canonical("Zm/v").has_value());
  EXPECT_FALSE(base64url_decode_canonical("Zm9v\n").has_value());
}

TEST(Base64Url, LenientDecodeToleratesOnlyTheUnusedTailBits) {
  EXPECT_EQ(base64url_decode_lenient("Zh"), base64url_decode_canonical("Zg"));  // low bits ignored
  EXPECT_EQ(base64url_decode_lenient("Zm9"), base64url_decode_canonical("Zm8"));
  EXPECT_EQ(base64url_decode_lenient("-_8"), (Bytes{0xFB, 0xFF}));
  EXPECT_FALSE(base64url_decode_lenient("Zm9vY").has_value());  // len % 4 == 1
  EXPECT_FALSE(base64url_decode_lenient("Zm+v").has_value());   // standard alphabet
  EXPECT_FALSE(base64url_decode_lenient("Zm9vYg==").has_value());
}

TEST(Base64Url, RoundTripsEveryLength) {
  Bytes data;
  for (int n = 0; n < 70; ++n) {
    const std::string text = base64url_encode(data);
    EXPECT_EQ(base64url_decode_canonical(text), data) << n;
    EXPECT_EQ(base64url_decode_lenient(text), data) << n;
    EXPECT_EQ(base64_decode(base64_encode(data)), data) << n;
    data.push_back(static_cast<std::uint8_t>(n * 37 + 11));
  }
}

}  // namespace
}  // namespace aero::encoding
