// Origin normalisation and allowlist tests: every case of tests/data/vectors/origin.json, plus
// unit tests for the length cap, allowlist entry handling, the Host header rules and the WHATWG
// host parser corners the vectors do not reach.
#include "aero/proto/origin.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "support/vectors.h"

namespace aero::origin {
namespace {

using test::bool_field_or;
using test::field;
using test::has_field;
using test::load_vectors;
using test::string_field;

// ---- Golden vectors ----

struct NormalizeVector {
  std::string name;
  std::string raw_origin;
  std::optional<std::string> expected;  // nullopt: must be rejected
};

struct AllowVector {
  std::string name;
  std::vector<std::string> allowed_origins;
  std::string request_host;
  std::string raw_origin;
  bool expect_allowed = false;
};

// GoogleTest prints parameters on failure; show the vector name instead of raw bytes.
void PrintTo(const NormalizeVector& vector, std::ostream* os) {
  *os << vector.name;
}
void PrintTo(const AllowVector& vector, std::ostream* os) {
  *os << vector.name;
}

std::vector<NormalizeVector> load_normalize_vectors() {
  const boost::json::value doc = load_vectors("origin.json");
  std::vector<NormalizeVector> vectors;
  for (const auto& item : field(doc, "normalize").as_array()) {
    NormalizeVector vector{string_field(item, "name"), string_field(item, "rawOriginHeader"), {}};
    if (has_field(item, "normalizedOrigin"))
      vector.expected = string_field(item, "normalizedOrigin");
    // A vector must say what it expects: a normalised origin, or an explicit error.
    EXPECT_TRUE(vector.expected.has_value() || bool_field_or(item, "expectError", false))
        << vector.name;
    vectors.push_back(std::move(vector));
  }
  return vectors;
}

std::vector<AllowVector> load_allow_vectors() {
  const boost::json::value doc = load_vectors("origin.json");
  std::vector<AllowVector> vectors;
  for (const auto& item : field(doc, "allow").as_array()) {
    AllowVector vector;
    vector.name = string_field(item, "name");
    for (const auto& entry : field(item, "allowedOrigins").as_array()) {
      vector.allowed_origins.emplace_back(entry.as_string());
    }
    vector.request_host = string_field(item, "requestHost");
    vector.raw_origin = string_field(item, "rawOriginHeader");
    vector.expect_allowed = field(item, "expectAllowed").as_bool();
    vectors.push_back(std::move(vector));
  }
  return vectors;
}

class OriginNormalizeVectorTest : public ::testing::TestWithParam<NormalizeVector> {};

TEST_P(OriginNormalizeVectorTest, MatchesVector) {
  const NormalizeVector& vector = GetParam();
  const auto normalized = normalize_origin(vector.raw_origin);
  EXPECT_EQ(normalized, vector.expected);
  if (normalized) {
    // A normalised origin is a fixed point.
    EXPECT_EQ(normalize_origin(*normalized), normalized);
  }
}

// Names the generated test after the vector
// ("Vectors/OriginNormalizeVectorTest.MatchesVector/null").
template <typename Vector>
std::string vector_test_name(const ::testing::TestParamInfo<Vector>& param_info) {
  return test::test_name(param_info.param.name);
}

INSTANTIATE_TEST_SUITE_P(Vectors, OriginNormalizeVectorTest,
                         ::testing::ValuesIn(load_normalize_vectors()),
                         vector_test_name<NormalizeVector>);

class OriginAllowVectorTest : public ::testing::TestWithParam<AllowVector> {};

TEST_P(OriginAllowVectorTest, MatchesVector) {
  const AllowVector& vector = GetParam();
  EXPECT_EQ(is_origin_allowed(vector.raw_origin, vector.allowed_origins, vector.request_host),
            vector.expect_allowed);
}

INSTANTIATE_TEST_SUITE_P(Vectors, OriginAllowVectorTest, ::testing::ValuesIn(load_allow_vectors()),
                         vector_test_name<AllowVector>);

// ---- normalize_origin ----

std::string origin_or_invalid(std::string_view raw) {
  return normalize_origin(raw).value_or("<invalid>");
}

TEST(OriginNormalizeTest, LengthCapAppliesToTrimmedValue) {
  const std::string prefix = "https://";
  const std::string at_cap = prefix + std::string(kMaxOriginHeaderLength - prefix.size(), 'a');
  ASSERT_EQ(at_cap.size(), kMaxOriginHeaderLength);
  EXPECT_EQ(normalize_origin(at_cap), at_cap);
  EXPECT_EQ(normalize_origin("  " + at_cap + "\t"), at_cap);
  EXPECT_EQ(normalize_origin(at_cap + "a"), std::nullopt);
  EXPECT_EQ(normalize_origin(at_cap + "/"), std::nullopt);  // the trailing slash counts too
}

TEST(OriginNormalizeTest, TrimsOnlyAsciiWhitespace) {
  EXPECT_EQ(origin_or_invalid("\t\r\n\f https://example.com \f\n\r\t"), "https://example.com");
  EXPECT_EQ(origin_or_invalid("\vhttps://example.com"), "<invalid>");
  EXPECT_EQ(origin_or_invalid("https://example.com\x01"), "<invalid>");
  EXPECT_EQ(origin_or_invalid("https://exa mple.com"), "<invalid>");
  EXPECT_EQ(origin_or_invalid(std::string_view("https://example.com\0", 20)), "<invalid>");
  EXPECT_EQ(origin_or_invalid("https://example.com\x7f"), "<invalid>");
}

TEST(OriginNormalizeTest, NullIsExactAfterTrimming) {
  EXPECT_EQ(origin_or_invalid("\tnull\n"), "null");
  EXPECT_EQ(origin_or_invalid("NULL"), "<invalid>");
  EXPECT_EQ(origin_or_invalid("null/"), "<invalid>");
}

TEST(OriginNormalizeTest, RequiresExplicitHttpSchemePrefix) {
  EXPECT_EQ(origin_or_invalid("HtTp://example.com"), "http://example.com");
  for (const std::string_view raw :
       {"https:example.com", "https:/example.com", "https:///example.com", "https:////example.com",
        "ws://example.com", "file:///etc", "https//example.com", "https://", "http://:80"}) {
    EXPECT_EQ(origin_or_invalid(raw), "<invalid>") << raw;
  }
}

TEST(OriginNormalizeTest, RejectsPathsOtherThanOneTrailingSlash) {
  for (const std::string_view raw :
       {"https://example.com//", "https://example.com/.", "https://example.com/..",
        "https://example.com/a/", "https://example.com:443//"}) {
    EXPECT_EQ(origin_or_invalid(raw), "<invalid>") << raw;
  }
}

TEST(OriginNormalizeTest, ParsesPorts) {
  EXPECT_EQ(origin_or_invalid("https://example.com:0443"), "https://example.com");
  EXPECT_EQ(origin_or_invalid("http://example.com:00080"), "http://example.com");
  EXPECT_EQ(origin_or_invalid("http://example.com:443"), "http://example.com:443");
  EXPECT_EQ(origin_or_invalid("https://example.com:80"), "https://example.com:80");
  EXPECT_EQ(origin_or_invalid("https://example.com:65535"), "https://example.com:65535");
  EXPECT_EQ(origin_or_invalid("https://example.com:1"), "https://example.com:1");
  for (const std::string_view raw :
       {"https://example.com:65536", "https://example.com:000", "https://example.com:+1",
        "https://example.com:-1", "https://example.com:1:2", "https://example.com:0x50",
        "https://example.com:99999999999999999999", "https://example.com::"}) {
    EXPECT_EQ(origin_or_invalid(raw), "<invalid>") << raw;
  }
}

TEST(OriginNormalizeTest, CanonicalisesIpv4NumberForms) {
  EXPECT_EQ(origin_or_invalid("http://0"), "http://0.0.0.0");
  EXPECT_EQ(origin_or_invalid("http://0x"), "http://0.0.0.0");
  EXPECT_EQ(origin_or_invalid("http://0XFFFFFFFF"), "http://255.255.255.255");
  EXPECT_EQ(origin_or_invalid("http://1.2.3.4."), "http://1.2.3.4");  // trailing dot allowed
  EXPECT_EQ(origin_or_invalid("http://1.0x10000"), "http://1.1.0.0");
  EXPECT_EQ(origin_or_invalid("http://1.2.65535"), "http://1.2.255.255");
  EXPECT_EQ(origin_or_invalid("http://0377.0.0.01"), "http://255.0.0.1");
  EXPECT_EQ(origin_or_invalid("http://00000000000000000000000001"), "http://0.0.0.1");
  for (const std::string_view raw :
       {"http://0x100000000", "http://1.2.65536", "http://256.1", "http://1.2.3.4.5", "http://1..2",
        "http://0x1g.0x1", "http://09.0.0.1", "http://example.0x", "http://a.b.0",
        "http://1.2.3.4..5", "http://99999999999999999999999999999"}) {
    EXPECT_EQ(origin_or_invalid(raw), "<invalid>") << raw;
  }
}

TEST(OriginNormalizeTest, KeepsDomainsThatOnlyLookNumeric) {
  // The last label decides: these do not end in a number, so they stay domains.
  EXPECT_EQ(origin_or_invalid("http://1.2.3.4.."), "http://1.2.3.4..");
  EXPECT_EQ(origin_or_invalid("http://1.example"), "http://1.example");
  EXPECT_EQ(origin_or_invalid("http://0x1.0xg"), "http://0x1.0xg");
  EXPECT_EQ(origin_or_invalid("http://0x1g"), "http://0x1g");
  EXPECT_EQ(origin_or_invalid("http://example.com."), "http://example.com.");
}

TEST(OriginNormalizeTest, CanonicalisesIpv6) {
  EXPECT_EQ(origin_or_invalid("http://[0:0::1]:8080/"), "http://[::1]:8080");
  EXPECT_EQ(origin_or_invalid("https://[::ffff:0.0.0.0]"), "https://[::ffff:0:0]");
  for (const std::string_view raw :
       {"http://[]", "http://[::1", "http://::1]", "http://[::1]x", "http://[::1]]",
        "http://[1:2:3:4:5:6:7:8:9]", "http://[::1]:", "http://x[::1]", "http://[[::1]]"}) {
    EXPECT_EQ(origin_or_invalid(raw), "<invalid>") << raw;
  }
}

TEST(OriginNormalizeTest, RejectsForbiddenHostCodePoints) {
  for (const std::string_view raw : {"https://exa^mple.com", "https://exa|mple.com",
                                     "https://exa:mple.com", "https://exa%2emple.com"}) {
    EXPECT_EQ(origin_or_invalid(raw), "<invalid>") << raw;
  }
  // WHATWG hosts of special URLs allow the remaining printable ASCII.
  EXPECT_EQ(origin_or_invalid("https://A!$&'()*+;=_~\"-.com"), "https://a!$&'()*+;=_~\"-.com");
}

TEST(OriginNormalizeTest, ChecksPunycodeLabels) {
  EXPECT_EQ(origin_or_invalid("https://XN--NXASMQ6B.com"), "https://xn--nxasmq6b.com");
  EXPECT_EQ(origin_or_invalid("https://xn--zca.example"), "https://xn--zca.example");
  EXPECT_EQ(origin_or_invalid("https://xn--9ca.com"), "https://xn--9ca.com");
  for (const std::string_view raw :
       {"https://xn--", "https://xn--.com", "https://a.xn--", "https://xn--a.com",
        "https://xn--99999999999.com", "https://xn--a_b.com",
        "https://xn--hn61f.com",     // U+F0000, private use
        "https://xn--266c.com",      // U+FDD0, noncharacter
        "https://xn--cd36e.com"}) {  // U+E0100, variation selector
    EXPECT_EQ(origin_or_invalid(raw), "<invalid>") << raw;
  }
}

TEST(OriginNormalizeTest, OutputIsAFixedPoint) {
  for (const std::string_view raw : {"HTTP://0X7F.1:0080/", "https://[::FFFF:1.2.3.4]:444",
                                     "https://Example.COM.:443", "http://4294967295", "null"}) {
    const auto once = normalize_origin(raw);
    ASSERT_TRUE(once.has_value()) << raw;
    EXPECT_EQ(normalize_origin(*once), once) << raw;
  }
}

// ---- normalize_host_header ----

TEST(HostHeaderTest, NormalisesLikeUrlHost) {
  EXPECT_EQ(normalize_host_header("Example.COM", "https"), "example.com");
  EXPECT_EQ(normalize_host_header(" example.com:443 ", "https"), "example.com");
  EXPECT_EQ(normalize_host_header("example.com:443", "http"), "example.com:443");
  EXPECT_EQ(normalize_host_header("example.com:80", "HTTP"), "example.com");
  EXPECT_EQ(normalize_host_header("0x7f.1:8080", "http"), "127.0.0.1:8080");
  EXPECT_EQ(normalize_host_header("[::FFFF:192.0.2.1]:443", "https"), "[::ffff:c000:201]");
  EXPECT_EQ(normalize_host_header("example.com:0", "https"), "example.com:0");
}

TEST(HostHeaderTest, RejectsNonHostValues) {
  for (const std::string_view host :
       {"", "  ", "example.com:", "[::1]:", "example.com/", "example.com?", "example.com#",
        "user@example.com", "example.com,other.com", "exa%6dple.com", "example.com\\",
        "exa mple.com", "[example.com]", "example.1", ":443", "example.com:65536",
        "example.com:1:2"}) {
    EXPECT_EQ(normalize_host_header(host, "https"), std::nullopt) << host;
  }
  EXPECT_EQ(normalize_host_header("example.com", "ftp"), std::nullopt);
  EXPECT_EQ(normalize_host_header(std::string(kMaxHostHeaderLength + 1, 'a'), "https"),
            std::nullopt);
  EXPECT_EQ(normalize_host_header(std::string(kMaxHostHeaderLength, 'a'), "https"),
            std::string(kMaxHostHeaderLength, 'a'));
}

// ---- is_origin_allowed ----

TEST(OriginAllowTest, NormalisesAllowlistEntries) {
  const std::vector<std::string> allowed = {" HTTPS://Example.COM:443/ ", "http://0x7f.1:8080"};
  EXPECT_TRUE(is_origin_allowed("https://example.com", allowed, "relay.example.com"));
  EXPECT_TRUE(is_origin_allowed("http://127.0.0.1:8080", allowed, "relay.example.com"));
  EXPECT_FALSE(is_origin_allowed("http://example.com", allowed, "relay.example.com"));
  EXPECT_FALSE(is_origin_allowed("http://127.0.0.1", allowed, "relay.example.com"));
}

TEST(OriginAllowTest, InvalidEntriesMatchNothing) {
  const std::vector<std::string> allowed = {"https://example.com/path", "example.com", "",
                                            "https://*.example.com"};
  for (const std::string_view origin :
       {"https://example.com", "https://a.example.com", "null", "https://example.com/path"}) {
    EXPECT_FALSE(is_origin_allowed(origin, allowed, "example.com")) << origin;
  }
}

TEST(OriginAllowTest, InvalidEntriesDoNotFallBackToSameHost) {
  const std::vector<std::string> allowed = {"not an origin"};
  EXPECT_FALSE(is_origin_allowed("https://example.com", allowed, "example.com"));
}

TEST(OriginAllowTest, WildcardAllowsEveryValidOriginIncludingNull) {
  const std::vector<std::string> allowed = {"https://example.com", " * "};
  EXPECT_TRUE(is_origin_allowed("https://anything.test", allowed, ""));
  EXPECT_TRUE(is_origin_allowed("null", allowed, ""));
  EXPECT_FALSE(is_origin_allowed("https://anything.test/path", allowed, ""));
  EXPECT_FALSE(is_origin_allowed("", allowed, ""));
}

TEST(OriginAllowTest, NullMatchesOnlyWhenListed) {
  const std::vector<std::string> with_null = {" null "};
  const std::vector<std::string> without_null = {"https://example.com"};
  EXPECT_TRUE(is_origin_allowed(" null", with_null, "example.com"));
  EXPECT_FALSE(is_origin_allowed("https://example.com", with_null, "example.com"));
  EXPECT_FALSE(is_origin_allowed("null", without_null, "example.com"));
}

TEST(OriginAllowTest, SameHostComparesCanonicalForms) {
  const std::vector<std::string> none;
  EXPECT_TRUE(is_origin_allowed("http://127.0.0.1:8080", none, "0x7f.0.0.1:08080"));
  EXPECT_TRUE(is_origin_allowed("https://[::1]", none, "[0::1]:443"));
  EXPECT_FALSE(is_origin_allowed("https://example.com", none, "example.com."));
  EXPECT_FALSE(is_origin_allowed("https://example.com", none, ""));
  EXPECT_FALSE(is_origin_allowed("http://example.com:8080", none, "example.com"));
  EXPECT_FALSE(is_origin_allowed("https://example.com", none, "user@example.com"));
}

}  // namespace
}  // namespace aero::origin
