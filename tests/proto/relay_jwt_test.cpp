// Tests for the HS256 relay JWT: every golden vector in auth-tokens.json, the
// aero-udp-relay-jwt-hs256 sections of both conformance files, and unit tests for each rule.
#include "aero/proto/relay_jwt.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <functional>
#include <limits>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "aero/proto/base64.h"
#include "aero/proto/hmac.h"
#include "support/vectors.h"

namespace aero::relay_jwt {
namespace {

constexpr std::string_view kSecret = "test-jwt-secret";
constexpr std::int64_t kNow = 1700000000;
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::string_view kPayload = R"({"iat":1700000000,"exp":1700000060,"sid":"s"})";

ByteSpan secret_bytes(std::string_view secret = kSecret) { return as_bytes(secret); }

std::string b64(std::string_view text) { return encoding::base64url_encode(as_bytes(text)); }

// Signs already-encoded segments: `<h>.<p>.<b64url(HMAC(secret, "<h>.<p>"))>`.
std::string sign_segments(std::string_view header_b64, std::string_view payload_b64,
                          std::string_view secret = kSecret) {
  const std::string input = std::string(header_b64) + "." + std::string(payload_b64);
  return input + "." + encoding::base64url_encode(crypto::hmac_sha256(as_bytes(secret), as_bytes(input)));
}
std::string sign_json(std::string_view header_json, std::string_view payload_json,
                      std::string_view secret = kSecret) {
  return sign_segments(b64(header_json), b64(payload_json), secret);
}
std::string sign_payload(std::string_view payload_json) { return sign_json(kHeader, payload_json); }

std::string segment_json(std::string_view token, std::size_t index) {
  std::size_t begin = 0;
  for (std::size_t i = 0; i < index; ++i) begin = token.find('.', begin) + 1;
  const std::size_t end = token.find('.', begin);
  const auto decoded = encoding::base64url_decode_canonical(token.substr(begin, end - begin));
  return decoded ? std::string(as_chars(*decoded)) : std::string("<undecodable>");
}

std::string_view error_kind(const Result<Claims>& result) {
  return result.ok() ? std::string_view("<ok>") : result.error().kind;
}

// The error kind (or "<ok>") for a payload signed under the standard header.
std::string_view kind_of_payload(std::string_view payload_json, std::int64_t now = kNow) {
  return error_kind(verify(sign_payload(payload_json), secret_bytes(), now));
}

// ---------------------------------------------------------------------------------------------
// auth-tokens.json: jwtTokens.vectors

struct JwtVector {
  std::string name;
  std::string secret;
  std::string token;
  std::int64_t now_sec = 0;
  bool expect_error = false;
  Claims claims;  // for valid vectors: every claim the vector lists
};

void PrintTo(const JwtVector& v, std::ostream* os) { *os << v.name; }

std::optional<std::string> optional_string(const boost::json::value& item, std::string_view key) {
  if (!test::has_field(item, key)) return std::nullopt;
  return test::string_field(item, key);
}

// Reads the claim fields of a vector or conformance case (sid, exp, iat, origin?, aud?, iss?).
Claims read_claims(const boost::json::value& item) {
  Claims claims;
  claims.sid = test::string_field(item, "sid");
  claims.exp = test::int_field(item, "exp");
  claims.iat = test::int_field(item, "iat");
  if (test::has_field(item, "nbf")) claims.nbf = test::int_field(item, "nbf");
  claims.origin = optional_string(item, "origin");
  claims.aud = optional_string(item, "aud");
  claims.iss = optional_string(item, "iss");
  return claims;
}

std::vector<JwtVector> load_jwt_vectors() {
  const boost::json::value doc = test::load_vectors("auth-tokens.json");
  std::vector<JwtVector> out;
  for (const boost::json::value& item : test::field(doc, "jwtTokens").at("vectors").as_array()) {
    JwtVector v;
    v.name = test::string_field(item, "name");
    v.secret = test::string_field(item, "secret");
    v.token = test::string_field(item, "token");
    v.now_sec = test::int_field(item, "nowSec");
    v.expect_error = test::bool_field_or(item, "expectError", false);
    if (!v.expect_error) v.claims = read_claims(item);
    out.push_back(std::move(v));
  }
  return out;
}

// The error kind each invalid vector must produce under this verifier's check order. Every invalid
// vector needs an entry, so a vector added to the file cannot pass without a decision here.
const std::map<std::string, std::string_view, std::less<>>& expected_jwt_kinds() {
  static const std::map<std::string, std::string_view, std::less<>> kinds = {
      {"badSignature", "bad_signature"},
      {"expired", "expired"},
      {"expired.atBoundary", "expired"},
      {"notYetValid.nbfInFuture", "not_yet_valid"},
      {"wrongType.nbfString", "invalid_claims"},
      {"invalidSid.emptyString", "invalid_claims"},
      {"missingSid", "invalid_claims"},
      {"missingIat", "invalid_claims"},
      {"missingExp", "invalid_claims"},
      {"wrongType.sidNumber", "invalid_claims"},
      {"wrongType.expString", "invalid_claims"},
      {"wrongType.iatString", "invalid_claims"},
      {"wrongType.originNumber", "invalid_claims"},
      {"wrongType.expFloat", "invalid_claims"},
      {"wrongType.iatFloat", "invalid_claims"},
      {"wrongType.nbfFloat", "invalid_claims"},
      {"wrongAlg", "unsupported_alg"},
      {"invalidBase64url.signature", "bad_base64"},        // 43 characters, one outside the alphabet
      {"invalidBase64urlLength.signature", "malformed"},   // "a": not 43 characters
      {"invalidBase64urlNonCanonical.signature", "bad_base64"},
      {"invalidBase64urlNonCanonical.header", "bad_base64"},
      {"invalidBase64urlNonCanonical.payload", "bad_base64"},
      {"invalidBase64url.payload", "bad_base64"},
      {"invalidBase64urlLength.payload", "bad_base64"},
      {"invalidJson.payload", "bad_json"},
      {"invalidJson.payloadNotObject", "bad_json"},
      {"invalidJson.trailingBytes.payload", "bad_json"},
      {"invalidJson.header", "bad_json"},
      {"invalidJson.headerNotObject", "bad_json"},
      {"missingAlg.header", "invalid_header"},
      {"wrongType.typNumber.header", "invalid_header"},
      {"wrongType.typNull.header", "invalid_header"},
      {"invalidBase64url.header", "bad_base64"},
      {"invalidBase64urlLength.header", "bad_base64"},
      {"malformed.emptyHeader", "malformed"},
      {"malformed.emptyPayload", "malformed"},
      {"malformed.emptySignature", "malformed"},
      {"malformed.tooManyParts", "malformed"},
      {"malformed.twoParts", "malformed"},
  };
  return kinds;
}

class RelayJwtVectorTest : public ::testing::TestWithParam<JwtVector> {};

TEST_P(RelayJwtVectorTest, Verify) {
  const JwtVector& v = GetParam();
  const Result<Claims> result = verify(v.token, as_bytes(v.secret), v.now_sec);
  if (v.expect_error) {
    ASSERT_FALSE(result.ok()) << "accepted invalid token " << v.token;
    const auto& kinds = expected_jwt_kinds();
    const auto it = kinds.find(v.name);
    ASSERT_NE(it, kinds.end()) << "no expected error kind recorded for vector " << v.name;
    EXPECT_EQ(result.error().kind, it->second) << result.error().message;
    return;
  }
  ASSERT_TRUE(result.ok()) << result.error().kind << ": " << result.error().message;
  // Every claim the vector lists, and no optional claim it does not list.
  EXPECT_EQ(result->sid, v.claims.sid);
  EXPECT_EQ(result->iat, v.claims.iat);
  EXPECT_EQ(result->exp, v.claims.exp);
  EXPECT_EQ(result->nbf, v.claims.nbf);
  EXPECT_EQ(result->origin, v.claims.origin);
  EXPECT_EQ(result->aud, v.claims.aud);
  EXPECT_EQ(result->iss, v.claims.iss);
}

TEST_P(RelayJwtVectorTest, MintReproducesValidToken) {
  const JwtVector& v = GetParam();
  if (v.expect_error) {
    EXPECT_EQ(expected_jwt_kinds().count(v.name), 1U);
    return;  // nothing to mint for an invalid vector
  }
  // The gateway's path: iat = floor(now_ms / 1000), exp = iat + TTL, then the optional claims.
  Claims claims = make_claims(v.claims.sid, v.now_sec * 1000, v.claims.exp - v.now_sec);
  claims.origin = v.claims.origin;
  claims.aud = v.claims.aud;
  claims.iss = v.claims.iss;
  EXPECT_EQ(claims, v.claims);
  const Result<std::string> minted = mint(as_bytes(v.secret), claims);
  ASSERT_TRUE(minted.ok()) << minted.error().message;
  EXPECT_EQ(*minted, v.token) << "minted payload " << segment_json(*minted, 1) << "\nvector payload "
                              << segment_json(v.token, 1);
}

INSTANTIATE_TEST_SUITE_P(AuthTokens, RelayJwtVectorTest, ::testing::ValuesIn(load_jwt_vectors()),
                         [](const ::testing::TestParamInfo<JwtVector>& param_info) {
                           return test::test_name(param_info.param.name);
                         });

TEST(RelayJwtVectorFile, HasEveryCaseAndEveryListedName) {
  const std::vector<JwtVector> vectors = load_jwt_vectors();
  EXPECT_EQ(vectors.size(), 44U);
  std::set<std::string, std::less<>> invalid_names;
  for (const JwtVector& v : vectors) {
    if (v.expect_error) invalid_names.insert(v.name);
  }
  EXPECT_EQ(invalid_names.size(), 39U);
  for (const auto& [name, kind] : expected_jwt_kinds()) {
    EXPECT_EQ(invalid_names.count(name), 1U) << "stale expected kind for " << name;
  }
}

// ---------------------------------------------------------------------------------------------
// conformance/aero-vectors-v{1,2}.json: aero-udp-relay-jwt-hs256

struct ConformanceCase {
  std::string name;  // "<file>.<case>"
  std::string kase;
  std::string secret;
  std::int64_t now_unix = 0;
  std::int64_t ttl_seconds = 0;
  std::string token;
  Claims claims;
};

void PrintTo(const ConformanceCase& c, std::ostream* os) { *os << c.name; }

std::vector<ConformanceCase> load_conformance_cases() {
  std::vector<ConformanceCase> out;
  for (const std::string_view file : {"v1", "v2"}) {
    const boost::json::value doc =
        test::load_vectors("conformance/aero-vectors-" + std::string(file) + ".json");
    const boost::json::value& section = test::field(doc, "aero-udp-relay-jwt-hs256");
    for (const auto& [key, item] : test::field(section, "tokens").as_object()) {
      ConformanceCase c;
      c.kase = std::string(key);
      c.name = std::string(file) + "." + c.kase;
      c.secret = test::string_field(section, "secret");
      c.now_unix = test::int_field(section, "nowUnix");
      c.ttl_seconds = test::int_field(section, "ttlSeconds");
      c.token = test::string_field(item, "token");
      c.claims = read_claims(test::field(item, "claims"));
      out.push_back(std::move(c));
    }
  }
  return out;
}

class RelayJwtConformanceTest : public ::testing::TestWithParam<ConformanceCase> {};

TEST_P(RelayJwtConformanceTest, Verify) {
  const ConformanceCase& c = GetParam();
  const Result<Claims> result = verify(c.token, as_bytes(c.secret), c.now_unix);
  if (c.kase == "valid") {
    ASSERT_TRUE(result.ok()) << result.error().kind << ": " << result.error().message;
    EXPECT_EQ(*result, c.claims);
    Claims claims = make_claims(c.claims.sid, c.now_unix * 1000, c.ttl_seconds);
    claims.origin = c.claims.origin;
    claims.aud = c.claims.aud;
    claims.iss = c.claims.iss;
    const Result<std::string> minted = mint(as_bytes(c.secret), claims);
    ASSERT_TRUE(minted.ok()) << minted.error().message;
    EXPECT_EQ(*minted, c.token);
  } else if (c.kase == "expired") {
    EXPECT_EQ(error_kind(result), "expired");
  } else if (c.kase == "badSignature") {
    EXPECT_EQ(error_kind(result), "bad_signature");
  } else {
    FAIL() << "unknown conformance case " << c.kase;
  }
}

INSTANTIATE_TEST_SUITE_P(Conformance, RelayJwtConformanceTest,
                         ::testing::ValuesIn(load_conformance_cases()),
                         [](const ::testing::TestParamInfo<ConformanceCase>& param_info) {
                           return test::test_name(param_info.param.name);
                         });

TEST(RelayJwtConformanceFile, HasThreeCasesPerFile) {
  EXPECT_EQ(load_conformance_cases().size(), 6U);
}

// ---------------------------------------------------------------------------------------------
// Minting

Claims full_claims() {
  Claims claims = make_claims("sid-1", kNow * 1000, 60);
  claims.origin = "https://app.example.test";
  claims.aud = "aero-udp-relay";
  claims.iss = "aero-gateway";
  return claims;
}

TEST(RelayJwtMint, RoundTripsEveryClaim) {
  Claims claims = full_claims();
  claims.nbf = kNow - 5;
  const Result<std::string> token = mint(secret_bytes(), claims);
  ASSERT_TRUE(token.ok()) << token.error().message;
  EXPECT_EQ(segment_json(*token, 0), kHeader);
  EXPECT_EQ(segment_json(*token, 1),
            R"({"iat":1700000000,"exp":1700000060,"sid":"sid-1","origin":"https://app.example.test",)"
            R"("aud":"aero-udp-relay","iss":"aero-gateway","nbf":1699999995})");
  EXPECT_EQ(token->size() - token->rfind('.') - 1, Limits::kSignatureChars);
  const Result<Claims> back = verify(*token, secret_bytes(), kNow);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, claims);
}

TEST(RelayJwtMint, MakeClaimsFloorsTheClockAndSaturates) {
  EXPECT_EQ(make_claims("s", 1700000000999, 60).iat, 1700000000);
  EXPECT_EQ(make_claims("s", 1700000000999, 60).exp, 1700000060);
  EXPECT_EQ(make_claims("s", -1, 60).iat, -1);
  EXPECT_EQ(make_claims("s", -1000, 0).iat, -1);
  EXPECT_EQ(make_claims("s", kNow * 1000, std::numeric_limits<std::int64_t>::max()).exp,
            std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(make_claims("s", -kNow * 1000, std::numeric_limits<std::int64_t>::min()).exp,
            std::numeric_limits<std::int64_t>::min());
}

TEST(RelayJwtMint, StringsNeedingJsonEscapingRoundTrip) {
  Claims claims = full_claims();
  claims.sid = std::string("q\"b\\s\n\x01") + "\x7f\xC3\xA9" + std::string(1, '\0');
  claims.origin = "https://\xE2\x82\xAC.example";
  const Result<std::string> token = mint(secret_bytes(), claims);
  ASSERT_TRUE(token.ok());
  EXPECT_NE(segment_json(*token, 1).find(std::string(R"("sid":"q\"b\\s\n\u0001)") + "\x7f\xC3\xA9" +
                                         R"(\u0000")"),
            std::string::npos)
      << segment_json(*token, 1);
  const Result<Claims> back = verify(*token, secret_bytes(), kNow);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, claims);
}

TEST(RelayJwtMint, RejectsUnusableClaims) {
  Claims claims = full_claims();
  claims.sid.clear();
  EXPECT_EQ(mint(secret_bytes(), claims).error().kind, "invalid_claims");
  claims = full_claims();
  claims.sid = "\xff";
  EXPECT_EQ(mint(secret_bytes(), claims).error().kind, "invalid_claims");
  claims = full_claims();
  claims.aud = "\xC0\xAF";
  EXPECT_EQ(mint(secret_bytes(), claims).error().kind, "invalid_claims");
  EXPECT_EQ(mint(ByteSpan{}, full_claims()).error().kind, "empty_secret");
}

TEST(RelayJwtMint, ExtremeIntegersRoundTrip) {
  Claims claims = make_claims("s", 0, 0);
  claims.iat = std::numeric_limits<std::int64_t>::min();
  claims.exp = std::numeric_limits<std::int64_t>::max();
  claims.nbf = std::numeric_limits<std::int64_t>::min();
  const Result<std::string> token = mint(secret_bytes(), claims);
  ASSERT_TRUE(token.ok());
  const Result<Claims> back = verify(*token, secret_bytes(), kNow);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, claims);
}

// ---------------------------------------------------------------------------------------------
// Size caps (checked before decoding)

// A sid that makes the minted minimal payload JSON exactly `json_bytes` long.
std::string sid_for_payload_json_size(std::size_t json_bytes) {
  return std::string(json_bytes - (kPayload.size() - 1), 'x');
}

TEST(RelayJwtLimits, PayloadAtTheCapVerifiesAndOneMoreByteIsRefused) {
  // 12288 JSON bytes encode to exactly 16384 base64url characters.
  Claims claims = make_claims(sid_for_payload_json_size(12288), kNow * 1000, 60);
  const Result<std::string> at_cap = mint(secret_bytes(), claims);
  ASSERT_TRUE(at_cap.ok()) << at_cap.error().message;
  EXPECT_EQ(segment_json(*at_cap, 1).size(), 12288U);
  const Result<Claims> back = verify(*at_cap, secret_bytes(), kNow);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, claims);

  claims.sid.push_back('x');
  const Result<std::string> over = mint(secret_bytes(), claims);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().kind, "too_large");
  // Signed anyway, the verifier refuses it on length alone.
  const std::string payload_json = R"({"iat":1700000000,"exp":1700000060,"sid":")" + claims.sid + "\"}";
  EXPECT_EQ(error_kind(verify(sign_payload(payload_json), secret_bytes(), kNow)), "too_large");
}

TEST(RelayJwtLimits, HeaderAtTheCapVerifiesAndOneMoreCharacterIsRefused) {
  // A 3072-byte header (4096 base64url characters) with a padding member.
  const std::string prefix = R"({"alg":"HS256","typ":"JWT","pad":")";
  const std::string header = prefix + std::string(3072 - prefix.size() - 2, 'p') + "\"}";
  ASSERT_EQ(b64(header).size(), Limits::kMaxHeaderChars);
  EXPECT_TRUE(verify(sign_json(header, kPayload), secret_bytes(), kNow).ok());
  // One more header character (length % 4 == 1, never decodable, but refused for its size).
  EXPECT_EQ(error_kind(verify(sign_segments(b64(header) + "A", b64(kPayload)), secret_bytes(), kNow)),
            "too_large");
}

TEST(RelayJwtLimits, TotalLength) {
  const std::string header(Limits::kMaxHeaderChars, 'A');
  const std::string payload(Limits::kMaxPayloadChars, 'A');
  // Exactly at the total cap: passes the size checks, fails later on content.
  const std::string at_cap = sign_segments(header, payload);
  ASSERT_EQ(at_cap.size(), Limits::kMaxTokenChars);
  EXPECT_EQ(error_kind(verify(at_cap, secret_bytes(), kNow)), "bad_json");
  // One over: refused before anything else.
  EXPECT_EQ(error_kind(verify(at_cap + "A", secret_bytes(), kNow)), "too_large");
  EXPECT_EQ(error_kind(verify(std::string(Limits::kMaxTokenChars + 1, '.'), secret_bytes(), kNow)),
            "too_large");
}

// ---------------------------------------------------------------------------------------------
// Error kinds for each rule

TEST(RelayJwtVerify, EmptySecretFailsClosed) {
  EXPECT_EQ(error_kind(verify(sign_payload(kPayload), ByteSpan{}, kNow)), "empty_secret");
  EXPECT_EQ(error_kind(verify(sign_json(kHeader, kPayload, ""), ByteSpan{}, kNow)), "empty_secret");
}

TEST(RelayJwtVerify, Shape) {
  const std::string good = sign_payload(kPayload);
  ASSERT_TRUE(verify(good, secret_bytes(), kNow).ok());
  const std::size_t first = good.find('.');
  const std::size_t second = good.find('.', first + 1);
  const std::string h = good.substr(0, first);
  const std::string p = good.substr(first + 1, second - first - 1);
  const std::string s = good.substr(second + 1);
  for (const std::string& token :
       {std::string(), h, h + "." + p, h + "." + p + "." + s + ".", h + "." + p + "." + s + "." + s,
        "." + p + "." + s, h + ".." + s, h + "." + p + ".", std::string(".."),
        h + "." + p + "." + s.substr(1), h + "." + p + "." + s + "A"}) {
    EXPECT_EQ(error_kind(verify(token, secret_bytes(), kNow)), "malformed") << token;
  }
}

TEST(RelayJwtVerify, SegmentEncoding) {
  // 46 payload bytes and 28 header bytes encode to lengths of 2 mod 4: the last character of
  // each carries 4 unused bits that must be zero.
  const std::string payload = R"({"iat":1700000000,"exp":1700000060,"sid":"s1"})";
  const std::string header_b64 = b64(R"({"alg":"HS256","typ":"JWT" })");
  const std::string payload_b64 = b64(payload);
  ASSERT_NE(payload_b64.size() % 4, 0U);
  ASSERT_TRUE(verify(sign_segments(header_b64, payload_b64), secret_bytes(), kNow).ok());

  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string noncanonical = payload_b64;
  noncanonical.back() = alphabet[alphabet.find(payload_b64.back()) | 1U];
  EXPECT_EQ(error_kind(verify(sign_segments(header_b64, noncanonical), secret_bytes(), kNow)),
            "bad_base64");
  std::string header_noncanonical = header_b64;
  ASSERT_NE(header_b64.size() % 4, 0U);
  header_noncanonical.back() = alphabet[alphabet.find(header_b64.back()) | 1U];
  EXPECT_EQ(error_kind(verify(sign_segments(header_noncanonical, payload_b64), secret_bytes(), kNow)),
            "bad_base64");
  EXPECT_EQ(error_kind(verify(sign_segments(header_b64, payload_b64 + "="), secret_bytes(), kNow)),
            "bad_base64");
  std::string slash = payload_b64;
  slash[1] = '/';
  EXPECT_EQ(error_kind(verify(sign_segments(header_b64, slash), secret_bytes(), kNow)), "bad_base64");

  const std::string good = sign_segments(header_b64, payload_b64);
  std::string sig_noncanonical = good;
  sig_noncanonical.back() = alphabet[alphabet.find(good.back()) | 1U];
  EXPECT_EQ(error_kind(verify(sig_noncanonical, secret_bytes(), kNow)), "bad_base64");
}

TEST(RelayJwtVerify, SignatureMismatch) {
  EXPECT_EQ(error_kind(verify(sign_payload(kPayload), as_bytes("other"), kNow)), "bad_signature");
  // Changing the header invalidates the MAC too: it covers "<header>.<payload>".
  const std::string good = sign_payload(kPayload);
  const std::string swapped = b64(R"({"alg":"HS256"})") + good.substr(good.find('.'));
  EXPECT_EQ(error_kind(verify(swapped, secret_bytes(), kNow)), "bad_signature");
  // The MAC is checked before any JSON: a wrongly signed token with garbage JSON is a bad signature.
  const std::string garbage = b64("not json") + "." + b64("also not json") + good.substr(good.rfind('.'));
  EXPECT_EQ(error_kind(verify(garbage, secret_bytes(), kNow)), "bad_signature");
}

TEST(RelayJwtVerify, Header) {
  const auto kind = [](std::string_view header) {
    return std::string(error_kind(verify(sign_json(header, kPayload), secret_bytes(), kNow)));
  };
  EXPECT_EQ(kind(R"({"alg":"HS256"})"), "<ok>");                       // typ optional
  EXPECT_EQ(kind(R"({"typ":"at+jwt","alg":"HS256","kid":7})"), "<ok>");  // other members ignored
  EXPECT_EQ(kind(R"({"alg":"none","typ":"JWT"})"), "unsupported_alg");
  EXPECT_EQ(kind(R"({"alg":"hs256","typ":"JWT"})"), "unsupported_alg");
  EXPECT_EQ(kind(R"({"alg":"RS256","typ":"JWT"})"), "unsupported_alg");
  EXPECT_EQ(kind(R"({"alg":"HS256 ","typ":"JWT"})"), "unsupported_alg");
  EXPECT_EQ(kind(R"({"alg":null,"typ":"JWT"})"), "invalid_header");
  EXPECT_EQ(kind(R"({"alg":256})"), "invalid_header");
  EXPECT_EQ(kind(R"({"alg":["HS256"]})"), "invalid_header");
  EXPECT_EQ(kind(R"({"typ":"JWT"})"), "invalid_header");
  EXPECT_EQ(kind(R"({"alg":"HS256","typ":true})"), "invalid_header");
  EXPECT_EQ(kind(R"({"alg":"HS256","typ":{}})"), "invalid_header");
  EXPECT_EQ(kind(R"({"alg":"HS256","typ":"JWT"} x)"), "bad_json");
  EXPECT_EQ(kind(R"({"alg":"HS256","typ":"JWT"}{})"), "bad_json");
  EXPECT_EQ(kind(R"(["HS256"])"), "bad_json");
  EXPECT_EQ(kind("\xff"), "bad_json");
  // The last duplicate wins, as in Go's encoding/json.
  EXPECT_EQ(kind(R"({"alg":"none","alg":"HS256"})"), "<ok>");
  EXPECT_EQ(kind(R"({"alg":"HS256","alg":"none"})"), "unsupported_alg");
}

TEST(RelayJwtVerify, PayloadMustBeExactlyOneJsonObject) {
  EXPECT_EQ(kind_of_payload(std::string(kPayload) + "{}"), "bad_json");
  EXPECT_EQ(kind_of_payload(std::string(kPayload) + " x"), "bad_json");
  EXPECT_EQ(kind_of_payload(std::string("[") + std::string(kPayload) + "]"), "bad_json");
  EXPECT_EQ(kind_of_payload(R"({"iat":1700000000,"exp":1700000060,"sid":"s",})"), "bad_json");
  EXPECT_EQ(kind_of_payload("{\"iat\":1700000000,\"exp\":1700000060,\"sid\":\"\xff\"}"), "bad_json");
  EXPECT_EQ(kind_of_payload(std::string(" \r\n\t") + std::string(kPayload) + " \n"), "<ok>");
  std::string deep = R"({"iat":1700000000,"exp":1700000060,"sid":"s","x":)";
  deep += std::string(40, '[') + std::string(40, ']') + "}";
  EXPECT_EQ(kind_of_payload(deep), "bad_json");
}

TEST(RelayJwtVerify, IntegerClaimsMustBeIntegerLiterals) {
  // RFC 7519 NumericDate allows fractions; the relay accepts integer literals only.
  for (const std::string_view bad : {"1700000060.0", "1.70000006e9", "1700000060e0", "\"1700000060\"",
                                     "null", "true", "[1700000060]", "9223372036854775808",
                                     "18446744073709551616", "1e400"}) {
    const std::string exp = R"({"iat":1700000000,"exp":)" + std::string(bad) + R"(,"sid":"s"})";
    EXPECT_EQ(kind_of_payload(exp), "invalid_claims") << exp;
    const std::string iat = R"({"iat":)" + std::string(bad) + R"(,"exp":1700000060,"sid":"s"})";
    EXPECT_EQ(kind_of_payload(iat), "invalid_claims") << iat;
    const std::string nbf =
        R"({"iat":1700000000,"exp":1700000060,"sid":"s","nbf":)" + std::string(bad) + "}";
    EXPECT_EQ(kind_of_payload(nbf), "invalid_claims") << nbf;
  }
  EXPECT_EQ(kind_of_payload(R"({"iat":-9223372036854775808,"exp":9223372036854775807,"sid":"s"})"),
            "<ok>");
  EXPECT_EQ(kind_of_payload(R"({"exp":1700000060,"sid":"s"})"), "invalid_claims");
  EXPECT_EQ(kind_of_payload(R"({"iat":1700000000,"sid":"s"})"), "invalid_claims");
}

TEST(RelayJwtVerify, TimeRules) {
  // RFC 7519 §4.1.4: expired when now >= exp.
  EXPECT_EQ(kind_of_payload(kPayload, 1700000059), "<ok>");
  EXPECT_EQ(kind_of_payload(kPayload, 1700000060), "expired");
  // RFC 7519 §4.1.5: not valid while now < nbf.
  const std::string nbf = R"({"iat":1700000000,"exp":1700000060,"sid":"s","nbf":1700000010})";
  EXPECT_EQ(kind_of_payload(nbf, 1700000009), "not_yet_valid");
  EXPECT_EQ(kind_of_payload(nbf, 1700000010), "<ok>");
  EXPECT_EQ(verify(sign_payload(nbf), secret_bytes(), 1700000010)->nbf, 1700000010);
  // iat is not compared with the clock (a future iat is accepted).
  EXPECT_EQ(kind_of_payload(R"({"iat":1800000000,"exp":1900000000,"sid":"s"})"), "<ok>");
  // The exp rule comes first: an expired token with other faults reports "expired".
  EXPECT_EQ(kind_of_payload(R"({"exp":1,"sid":""})"), "expired");
}

TEST(RelayJwtVerify, StringClaims) {
  for (const std::string_view sid : {R"("")", "7", "null", R"(["s"])"}) {
    EXPECT_EQ(kind_of_payload(R"({"iat":1700000000,"exp":1700000060,"sid":)" + std::string(sid) + "}"),
              "invalid_claims")
        << sid;
  }
  EXPECT_EQ(kind_of_payload(R"({"iat":1700000000,"exp":1700000060})"), "invalid_claims");
  for (const std::string_view key : {"origin", "aud", "iss"}) {
    for (const std::string_view value : {"5", "null", "true", R"(["aero-udp-relay"])", "{}"}) {
      const std::string json = R"({"iat":1700000000,"exp":1700000060,"sid":"s",")" +
                               std::string(key) + "\":" + std::string(value) + "}";
      EXPECT_EQ(kind_of_payload(json), "invalid_claims") << json;
    }
  }
  // aud / iss / origin are carried as given, not checked against expectations; empty is fine.
  const Result<Claims> claims = verify(
      sign_payload(R"({"iat":1700000000,"exp":1700000060,"sid":"s","origin":"","aud":"x","iss":"\u00e9"})"),
      secret_bytes(), kNow);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims->origin, "");
  EXPECT_EQ(claims->aud, "x");
  EXPECT_EQ(claims->iss, "\xC3\xA9");
  EXPECT_EQ(claims->nbf, std::nullopt);
}

}  // namespace
}  // namespace aero::relay_jwt
