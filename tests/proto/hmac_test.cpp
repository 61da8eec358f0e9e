// HMAC-SHA256 against RFC 4231 and the constant-time comparison.
#include "aero/proto/hmac.h"

#include <gtest/gtest.h>

#include "support/vectors.h"

namespace aero::crypto {
namespace {

TEST(HmacSha256, Rfc4231TestCase2) {
  const auto mac = hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"));
  EXPECT_EQ(aero::test::to_hex(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256, Rfc4231TestCase6LongKey) {
  const Bytes key(131, 0xAA);
  const auto mac =
      hmac_sha256(key, as_bytes("Test Using Larger Than Block-Size Key - Hash Key First"));
  EXPECT_EQ(aero::test::to_hex(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, EmptyKeyIsAllowed) {
  // HMAC-SHA256("", "") from RFC 2104's construction.
  EXPECT_EQ(aero::test::to_hex(hmac_sha256({}, {})),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(ConstantTimeEqual, ComparesLengthAndContents) {
  EXPECT_TRUE(constant_time_equal(Bytes{1, 2, 3}, Bytes{1, 2, 3}));
  EXPECT_FALSE(constant_time_equal(Bytes{1, 2, 3}, Bytes{1, 2, 4}));
  EXPECT_FALSE(constant_time_equal(Bytes{1, 2, 3}, Bytes{1, 2}));
  EXPECT_TRUE(constant_time_equal(Bytes{}, Bytes{}));
}

}  // namespace
}  // namespace aero::crypto
