// Tests for the aero_session cookie token: every golden vector in auth-tokens.json, the
// aero_session sections of both conformance files, and unit tests for each verification rule.
#include "aero/proto/session_token.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cmath>
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

namespace aero::session {
namespace {

constexpr std::string_view kSecret = "test-session-secret";
constexpr std::int64_t kNowMs = 1700000000000;

ByteSpan secret_bytes(std::string_view secret = kSecret) { return as_bytes(secret); }

// Builds `<b64url(payload_json)>.<b64url(HMAC)>` around arbitrary payload bytes, so tests can reach
// the rules that apply after the signature check.
std::string sign_raw_payload_b64(std::string_view payload_b64, std::string_view secret = kSecret) {
  const crypto::Sha256Mac mac = crypto::hmac_sha256(as_bytes(secret), as_bytes(payload_b64));
  return std::string(payload_b64) + "." + encoding::base64url_encode(mac);
}
std::string sign_json(std::string_view payload_json, std::string_view secret = kSecret) {
  return sign_raw_payload_b64(encoding::base64url_encode(as_bytes(payload_json)), secret);
}

std::string payload_json_of(std::string_view token) {
  const auto decoded = encoding::base64url_decode_canonical(token.substr(0, token.find('.')));
  return decoded ? std::string(as_chars(*decoded)) : std::string("<undecodable>");
}

std::string_view error_kind(const Result<Claims>& result) {
  return result.ok() ? std::string_view("<ok>") : result.error().kind;
}

// ---------------------------------------------------------------------------------------------
// auth-tokens.json: sessionTokens.vectors

struct SessionVector {
  std::string name;
  std::string secret;
  std::string token;
  std::int64_t now_ms = 0;
  bool expect_error = false;
  std::string sid;
  std::int64_t exp = 0;
};

void PrintTo(const SessionVector& v, std::ostream* os) { *os << v.name; }

std::vector<SessionVector> load_session_vectors() {
  const boost::json::value doc = test::load_vectors("auth-tokens.json");
  std::vector<SessionVector> out;
  for (const boost::json::value& item : test::field(doc, "sessionTokens").at("vectors").as_array()) {
    SessionVector v;
    v.name = test::string_field(item, "name");
    v.secret = test::string_field(item, "secret");
    v.token = test::string_field(item, "token");
    v.now_ms = test::int_field(item, "nowMs");
    v.expect_error = test::bool_field_or(item, "expectError", false);
    if (!v.expect_error) {
      v.sid = test::string_field(item, "sid");
      v.exp = test::int_field(item, "exp");
    }
    out.push_back(std::move(v));
  }
  return out;
}

// The error kind each invalid vector must produce under this verifier's check order. Every invalid
// vector needs an entry, so a vector added to the file cannot pass without a decision here.
const std::map<std::string, std::string_view, std::less<>>& expected_session_kinds() {
  static const std::map<std::string, std::string_view, std::less<>> kinds = {
      {"invalidBase64url.signature", "malformed"},        // "!": length checked before alphabet
      {"invalidBase64urlLength.signature", "malformed"},  // "a": not 43 characters
      {"invalidBase64urlNonCanonical.payload", "bad_base64"},
      {"invalidBase64urlNonCanonical.payloadLenMod4eq2", "bad_base64"},
      {"invalidBase64urlNonCanonical.signature", "bad_base64"},
      {"malformed.noDot", "malformed"},
      {"malformed.tooManyParts", "malformed"},
      {"malformed.emptySignature", "malformed"},
      {"malformed.emptyPayload", "malformed"},
      {"invalidBase64url.payload", "bad_base64"},
      {"invalidBase64urlLength.payload", "bad_base64"},
      {"invalidJson.payload", "bad_json"},
      {"invalidJson.payloadNotObject", "bad_json"},
      {"badSignature", "bad_signature"},
      {"expired", "expired"},
      {"wrongVersion", "invalid_claims"},
      {"missingSid", "invalid_claims"},
      {"missingExp", "invalid_claims"},
      {"wrongType.sidNumber", "invalid_claims"},
      {"wrongType.expString", "invalid_claims"},
      {"wrongType.vString", "invalid_claims"},
      {"invalidSid.emptyString", "invalid_claims"},
      {"expired.atBoundary", "expired"},
  };
  return kinds;
}

// Valid vectors whose payload is not in minted form and so cannot be reproduced by mint(): the
// verifier accepts them for compatibility. Each entry says why; the test checks the entry exists.
const std::map<std::string, std::string, std::less<>>& verifier_only_vectors() {
  static const std::map<std::string, std::string, std::less<>> names = {
      {"valid.floatVersion", "payload carries \"v\":1.0; minting always writes \"v\":1"},
  };
  return names;
}

class SessionTokenVectorTest : public ::testing::TestWithParam<SessionVector> {};

TEST_P(SessionTokenVectorTest, Verify) {
  const SessionVector& v = GetParam();
  const Result<Claims> result = verify(v.token, as_bytes(v.secret), v.now_ms);
  if (v.expect_error) {
    ASSERT_FALSE(result.ok()) << "accepted invalid token " << v.token;
    const auto& kinds = expected_session_kinds();
    const auto it = kinds.find(v.name);
    ASSERT_NE(it, kinds.end()) << "no expected error kind recorded for vector " << v.name;
    EXPECT_EQ(result.error().kind, it->second) << result.error().message;
    return;
  }
  ASSERT_TRUE(result.ok()) << result.error().kind << ": " << result.error().message;
  EXPECT_EQ(result->sid, v.sid);
  EXPECT_EQ(result->exp, static_cast<double>(v.exp));
}

TEST_P(SessionTokenVectorTest, MintReproducesValidToken) {
  const SessionVector& v = GetParam();
  if (v.expect_error) {
    EXPECT_EQ(expected_session_kinds().count(v.name), 1U);
    return;  // nothing to mint for an invalid vector
  }
  // exp = floor(now / 1000) + ttl, so the vector's exp and clock determine the TTL.
  const std::int64_t ttl = v.exp - v.now_ms / 1000;
  const Result<std::string> minted = mint(as_bytes(v.secret), v.sid, v.now_ms, ttl);
  ASSERT_TRUE(minted.ok()) << minted.error().message;
  const auto& verifier_only = verifier_only_vectors();
  if (verifier_only.count(v.name) != 0) {
    // Not reproducible by design; the minted token must still carry the same claims.
    EXPECT_NE(*minted, v.token);
    const Result<Claims> again = verify(*minted, as_bytes(v.secret), v.now_ms);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(*again, (Claims{v.sid, static_cast<double>(v.exp)}));
    return;
  }
  EXPECT_EQ(*minted, v.token) << "minted payload " << payload_json_of(*minted) << "\nvector payload "
                              << payload_json_of(v.token);
}

INSTANTIATE_TEST_SUITE_P(AuthTokens, SessionTokenVectorTest,
                         ::testing::ValuesIn(load_session_vectors()),
                         [](const ::testing::TestParamInfo<SessionVector>& param_info) {
                           return test::test_name(param_info.param.name);
                         });

TEST(SessionTokenVectorFile, HasEveryCaseAndEveryListedName) {
  const std::vector<SessionVector> vectors = load_session_vectors();
  EXPECT_EQ(vectors.size(), 25U);
  std::set<std::string, std::less<>> invalid_names;
  std::set<std::string, std::less<>> valid_names;
  for (const SessionVector& v : vectors) (v.expect_error ? invalid_names : valid_names).insert(v.name);
  for (const auto& [name, kind] : expected_session_kinds()) {
    EXPECT_EQ(invalid_names.count(name), 1U) << "stale expected kind for " << name;
  }
  for (const auto& [name, why] : verifier_only_vectors()) {
    EXPECT_EQ(valid_names.count(name), 1U) << "stale verifier-only entry for " << name;
  }
}

// ---------------------------------------------------------------------------------------------
// conformance/aero-vectors-v{1,2}.json: aero_session

struct ConformanceCase {
  std::string name;  // "<file>.<case>"
  std::string kase;
  std::string secret;
  std::int64_t now_ms = 0;
  std::int64_t ttl_seconds = 0;
  std::string token;
  std::string sid;
  std::int64_t exp = 0;
};

void PrintTo(const ConformanceCase& c, std::ostream* os) { *os << c.name; }

std::vector<ConformanceCase> load_conformance_cases() {
  std::vector<ConformanceCase> out;
  for (const std::string_view file : {"v1", "v2"}) {
    const boost::json::value doc =
        test::load_vectors("conformance/aero-vectors-" + std::string(file) + ".json");
    const boost::json::value& section = test::field(doc, "aero_session");
    for (const auto& [key, item] : test::field(section, "tokens").as_object()) {
      ConformanceCase c;
      c.kase = std::string(key);
      c.name = std::string(file) + "." + c.kase;
      c.secret = test::string_field(section, "secret");
      c.now_ms = test::int_field(section, "nowMs");
      c.ttl_seconds = test::int_field(section, "ttlSeconds");
      c.token = test::string_field(item, "token");
      c.sid = test::string_field(test::field(item, "claims"), "sid");
      c.exp = test::int_field(test::field(item, "claims"), "exp");
      out.push_back(std::move(c));
    }
  }
  return out;
}

class SessionTokenConformanceTest : public ::testing::TestWithParam<ConformanceCase> {};

TEST_P(SessionTokenConformanceTest, Verify) {
  const ConformanceCase& c = GetParam();
  const Result<Claims> result = verify(c.token, as_bytes(c.secret), c.now_ms);
  if (c.kase == "valid") {
    ASSERT_TRUE(result.ok()) << result.error().kind << ": " << result.error().message;
    EXPECT_EQ(*result, (Claims{c.sid, static_cast<double>(c.exp)}));
    const Result<std::string> minted = mint(as_bytes(c.secret), c.sid, c.now_ms, c.ttl_seconds);
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

INSTANTIATE_TEST_SUITE_P(Conformance, SessionTokenConformanceTest,
                         ::testing::ValuesIn(load_conformance_cases()),
                         [](const ::testing::TestParamInfo<ConformanceCase>& param_info) {
                           return test::test_name(param_info.param.name);
                         });

TEST(SessionTokenConformanceFile, HasThreeCasesPerFile) {
  EXPECT_EQ(load_conformance_cases().size(), 6U);
}

// ---------------------------------------------------------------------------------------------
// Minting

TEST(SessionTokenMint, RoundTripsAndWritesTheExactPayload) {
  const Result<std::string> token = mint(secret_bytes(), "sid-abc", kNowMs, 60);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(payload_json_of(*token), R"({"v":1,"sid":"sid-abc","exp":1700000060})");
  const std::size_t dot = token->find('.');
  EXPECT_EQ(token->size() - dot - 1, Limits::kSignatureChars);

  const Result<Claims> claims = verify(*token, secret_bytes(), kNowMs);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims->sid, "sid-abc");
  EXPECT_EQ(claims->exp, 1700000060.0);
}

TEST(SessionTokenMint, ExpiryFloorsTheClock) {
  // floor((now + ttl*1000) / 1000), including negative clocks (floor, not truncation).
  EXPECT_EQ(payload_json_of(*mint(secret_bytes(), "s", 1700000000999, 60)),
            R"({"v":1,"sid":"s","exp":1700000060})");
  EXPECT_EQ(payload_json_of(*mint(secret_bytes(), "s", -1, 0)), R"({"v":1,"sid":"s","exp":-1})");
  EXPECT_EQ(payload_json_of(*mint(secret_bytes(), "s", -1000, 0)),
            R"({"v":1,"sid":"s","exp":-1})");
  EXPECT_EQ(payload_json_of(*mint(secret_bytes(), "s", 999, 1)), R"({"v":1,"sid":"s","exp":1})");
}

TEST(SessionTokenMint, ExpiryOverflowIsRejected) {
  const Result<std::string> token =
      mint(secret_bytes(), "s", kNowMs, std::numeric_limits<std::int64_t>::max());
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().kind, "invalid_claims");
}

TEST(SessionTokenMint, SidNeedingJsonEscapingRoundTrips) {
  // Quote, backslash, control characters, DEL, '/', non-ASCII and a 4-byte sequence.
  const std::string sid = std::string("q\"b\\s\n\t\x01\x1f") + "\x7f/</script>\xC3\xA9\xF0\x9F\x98\x80" +
                          std::string(1, '\0') + "end";
  const Result<std::string> token = mint(secret_bytes(), sid, kNowMs, 60);
  ASSERT_TRUE(token.ok());
  // JSON.stringify's escaping: short escapes for \" \\ \n \t, \u00xx (lowercase) for other C0
  // controls, everything else (DEL, '/', non-ASCII) unescaped.
  const std::string expected = std::string(R"({"v":1,"sid":"q\"b\\s\n\t\u0001\u001f)") +
                               "\x7f/</script>\xC3\xA9\xF0\x9F\x98\x80" + R"(\u0000end","exp":1700000060})";
  EXPECT_EQ(payload_json_of(*token), expected);

  const Result<Claims> claims = verify(*token, secret_bytes(), kNowMs);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims->sid, sid);
}

TEST(SessionTokenMint, RejectsEmptyOrNonUtf8Sid) {
  EXPECT_EQ(mint(secret_bytes(), "", kNowMs, 60).error().kind, "invalid_claims");
  EXPECT_EQ(mint(secret_bytes(), "\xff", kNowMs, 60).error().kind, "invalid_claims");
  EXPECT_EQ(mint(secret_bytes(), "\xC0\xAF", kNowMs, 60).error().kind, "invalid_claims");  // overlong
  EXPECT_EQ(mint(secret_bytes(), "\xED\xA0\x80", kNowMs, 60).error().kind, "invalid_claims");
}

TEST(SessionTokenMint, ClaimsOverloadReissuesExactly) {
  // Integral values are written as integer literals and read back exactly; fractional values use
  // Boost.JSON's shortest double form, which reads back exactly when its decimal significand fits
  // in 53 bits and the decimal exponent is within +-22 (Boost.JSON 1.81's exact fast path).
  for (const double exp : {1700000060.0, 1700000060.25, 1.0e19, 9.3e18, -3.0, 0.5}) {
    const Claims claims{"sid-x", exp};
    const Result<std::string> token = mint(secret_bytes(), claims);
    ASSERT_TRUE(token.ok()) << exp;
    const Result<Claims> back = verify(*token, secret_bytes(), -4000);
    ASSERT_TRUE(back.ok()) << exp << " " << back.error().message;
    EXPECT_EQ(*back, claims) << payload_json_of(*token);
  }
  EXPECT_EQ(payload_json_of(*mint(secret_bytes(), Claims{"s", 1700000060.0})),
            R"({"v":1,"sid":"s","exp":1700000060})");
  EXPECT_EQ(mint(secret_bytes(), Claims{"s", std::nan("")}).error().kind, "invalid_claims");
  EXPECT_EQ(mint(secret_bytes(), Claims{"s", HUGE_VAL}).error().kind, "invalid_claims");
}

TEST(SessionTokenMint, NewSessionIdIsAVersion4Uuid) {
  const std::string a = new_session_id();
  const std::string b = new_session_id();
  EXPECT_NE(a, b);
  for (const std::string& id : {a, b}) {
    ASSERT_EQ(id.size(), 36U) << id;
    for (std::size_t i = 0; i < id.size(); ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        EXPECT_EQ(id[i], '-') << id;
      } else {
        EXPECT_TRUE((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')) << id;
      }
    }
    EXPECT_EQ(id[14], '4') << id;                                  // version
    EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos) << id;  // variant
    const Result<std::string> token = mint(secret_bytes(), id, kNowMs, 60);
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(verify(*token, secret_bytes(), kNowMs)->sid, id);
  }
}

// ---------------------------------------------------------------------------------------------
// Size caps (checked before decoding)

// A sid that makes the minted payload JSON exactly `json_bytes` long.
std::string sid_for_payload_json_size(std::size_t json_bytes) {
  const std::size_t overhead = std::string_view(R"({"v":1,"sid":"","exp":1700000060})").size();
  return std::string(json_bytes - overhead, 'x');
}

TEST(SessionTokenLimits, TokenAtTheCapVerifiesAndOneMoreByteIsRefused) {
  // 12288 JSON bytes encode to exactly 16384 base64url characters.
  const Result<std::string> at_cap =
      mint(secret_bytes(), sid_for_payload_json_size(12288), kNowMs, 60);
  ASSERT_TRUE(at_cap.ok()) << at_cap.error().message;
  EXPECT_EQ(at_cap->size(), Limits::kMaxTokenChars);
  const Result<Claims> claims = verify(*at_cap, secret_bytes(), kNowMs);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims->sid.size(), sid_for_payload_json_size(12288).size());

  const Result<std::string> over = mint(secret_bytes(), sid_for_payload_json_size(12289), kNowMs, 60);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().kind, "too_large");
}

TEST(SessionTokenLimits, OversizedTokensAreRefusedBeforeDecoding) {
  // One character over the total cap (a 44-character "signature").
  const std::string payload_at_cap(Limits::kMaxPayloadChars, 'A');
  EXPECT_EQ(error_kind(verify(payload_at_cap + "." + std::string(44, 'A'), secret_bytes(), kNowMs)),
            "too_large");
  // A validly signed payload one character over its cap, in a token under the total cap... is
  // impossible with a 43-character signature, so the payload cap is reached with a short one.
  const std::string payload_over(Limits::kMaxPayloadChars + 1, 'A');
  EXPECT_EQ(error_kind(verify(payload_over + ".A", secret_bytes(), kNowMs)), "too_large");
  // And a correctly signed one over the total cap.
  EXPECT_EQ(error_kind(verify(sign_raw_payload_b64(payload_over), secret_bytes(), kNowMs)),
            "too_large");
  // At the cap, the same shape gets past the size checks (and fails later, on its content).
  EXPECT_EQ(error_kind(verify(sign_raw_payload_b64(payload_at_cap), secret_bytes(), kNowMs)),
            "bad_json");
}

// ---------------------------------------------------------------------------------------------
// Error kinds for each rule

TEST(SessionTokenVerify, EmptySecretFailsClosed) {
  const std::string token = sign_json(R"({"v":1,"sid":"s","exp":1700000060})", "");
  EXPECT_EQ(error_kind(verify(token, ByteSpan{}, kNowMs)), "empty_secret");
  EXPECT_EQ(mint(ByteSpan{}, "s", kNowMs, 60).error().kind, "empty_secret");
  EXPECT_EQ(mint(ByteSpan{}, Claims{"s", 1.0}).error().kind, "empty_secret");
}

TEST(SessionTokenVerify, Shape) {
  const std::string good = *mint(secret_bytes(), "s", kNowMs, 60);
  const std::string payload = good.substr(0, good.find('.'));
  const std::string sig = good.substr(good.find('.') + 1);
  EXPECT_EQ(error_kind(verify("", secret_bytes(), kNowMs)), "malformed");
  EXPECT_EQ(error_kind(verify(payload, secret_bytes(), kNowMs)), "malformed");
  EXPECT_EQ(error_kind(verify(payload + "." + sig + ".", secret_bytes(), kNowMs)), "malformed");
  EXPECT_EQ(error_kind(verify("." + sig, secret_bytes(), kNowMs)), "malformed");
  EXPECT_EQ(error_kind(verify(payload + ".", secret_bytes(), kNowMs)), "malformed");
  EXPECT_EQ(error_kind(verify(payload + "." + sig.substr(1), secret_bytes(), kNowMs)), "malformed");
  EXPECT_EQ(error_kind(verify(payload + "." + sig + "A", secret_bytes(), kNowMs)), "malformed");
  EXPECT_TRUE(verify(good, secret_bytes(), kNowMs).ok());
}

TEST(SessionTokenVerify, SignatureEncoding) {
  const std::string good = *mint(secret_bytes(), "s", kNowMs, 60);
  const std::string payload = good.substr(0, good.find('.'));
  std::string sig = good.substr(good.find('.') + 1);
  // The last of 43 characters carries 2 unused bits (RFC 4648 §3.5); setting one is non-canonical.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const std::size_t last = alphabet.find(sig.back());
  std::string noncanonical = sig;
  noncanonical.back() = alphabet[last | 1U];
  EXPECT_EQ(error_kind(verify(payload + "." + noncanonical, secret_bytes(), kNowMs)), "bad_base64");
  std::string standard_alphabet = sig;
  standard_alphabet[0] = '+';
  EXPECT_EQ(error_kind(verify(payload + "." + standard_alphabet, secret_bytes(), kNowMs)),
            "bad_base64");
  std::string padded = sig;
  padded.back() = '=';
  EXPECT_EQ(error_kind(verify(payload + "." + padded, secret_bytes(), kNowMs)), "bad_base64");
}

TEST(SessionTokenVerify, SignatureMismatch) {
  const std::string good = *mint(secret_bytes(), "s", kNowMs, 60);
  EXPECT_EQ(error_kind(verify(good, as_bytes("other-secret"), kNowMs)), "bad_signature");
  // A signature made for a different payload.
  const std::string other = *mint(secret_bytes(), "t", kNowMs, 60);
  const std::string spliced = good.substr(0, good.find('.')) + other.substr(other.find('.'));
  EXPECT_EQ(error_kind(verify(spliced, secret_bytes(), kNowMs)), "bad_signature");
  // The signature check comes before the payload is decoded: garbage with a wrong MAC is
  // reported as a bad signature, not as bad base64.
  EXPECT_EQ(error_kind(verify("!!!!." + good.substr(good.find('.') + 1), secret_bytes(), kNowMs)),
            "bad_signature");
}

TEST(SessionTokenVerify, PayloadEncoding) {
  // 35 JSON bytes encode to 47 characters, so the last character carries 2 unused bits.
  const std::string b64 = encoding::base64url_encode(as_bytes(R"({"v":1,"sid":"st","exp":1700000060})"));
  ASSERT_EQ(b64.size() % 4, 3U);
  EXPECT_TRUE(verify(sign_raw_payload_b64(b64), secret_bytes(), kNowMs).ok());
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string noncanonical = b64;
  noncanonical.back() = alphabet[alphabet.find(b64.back()) | 1U];
  EXPECT_EQ(error_kind(verify(sign_raw_payload_b64(noncanonical), secret_bytes(), kNowMs)),
            "bad_base64");
  EXPECT_EQ(error_kind(verify(sign_raw_payload_b64(b64 + "=="), secret_bytes(), kNowMs)),
            "bad_base64");
  EXPECT_EQ(error_kind(verify(sign_raw_payload_b64(b64 + "AA"), secret_bytes(), kNowMs)),
            "bad_base64");  // length % 4 == 1
  std::string plus = b64;
  plus[0] = '+';
  EXPECT_EQ(error_kind(verify(sign_raw_payload_b64(plus), secret_bytes(), kNowMs)), "bad_base64");
}

TEST(SessionTokenVerify, PayloadMustBeStrictUtf8) {
  for (const std::string_view bad : {"\xff", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"}) {
    const std::string json = R"({"v":1,"sid":")" + std::string(bad) + R"(","exp":1700000060})";
    EXPECT_EQ(error_kind(verify(sign_json(json), secret_bytes(), kNowMs)), "bad_utf8");
  }
  // Invalid UTF-8 outside a string is also refused before the JSON parser sees it.
  EXPECT_EQ(error_kind(verify(sign_json("\xff{}"), secret_bytes(), kNowMs)), "bad_utf8");
}

TEST(SessionTokenVerify, PayloadMustBeExactlyOneJsonObject) {
  for (const std::string_view json :
       {R"({"v":1,"sid":"s","exp":1700000060}x)", R"({"v":1,"sid":"s","exp":1700000060}{})",
        R"([{"v":1,"sid":"s","exp":1700000060}])", R"("text")", "1", "null", " ",
        R"({"v":1,"sid":"s","exp":1700000060,})", R"({"v":1,/*c*/"sid":"s","exp":1700000060})",
        R"({'v':1})", R"({"v":1,"sid":"s","exp":NaN})", R"({"v":1,"sid":"s","exp":Infinity})"}) {
    EXPECT_EQ(error_kind(verify(sign_json(json), secret_bytes(), kNowMs)), "bad_json") << json;
  }
  // Boost.JSON refuses a lone surrogate escape, which JSON.parse would turn into a lone UTF-16
  // unit; such a payload can only come from a token we signed ourselves, so refusing is safe.
  EXPECT_EQ(error_kind(verify(sign_json(R"({"v":1,"sid":"\ud800","exp":1700000060})"), secret_bytes(),
                              kNowMs)),
            "bad_json");
  // Nesting is bounded.
  std::string deep = R"({"v":1,"sid":"s","exp":1700000060,"x":)";
  deep += std::string(40, '[') + std::string(40, ']') + "}";
  EXPECT_EQ(error_kind(verify(sign_json(deep), secret_bytes(), kNowMs)), "bad_json");
  // Surrounding whitespace is allowed by RFC 8259.
  EXPECT_TRUE(verify(sign_json(" \n{\"v\":1, \"sid\":\"s\", \"exp\":1700000060}\t "), secret_bytes(),
                     kNowMs)
                  .ok());
}

TEST(SessionTokenVerify, VersionClaim) {
  for (const std::string_view v : {"1", "1.0", "1e0", "10e-1", "0.1e1"}) {
    const std::string json = R"({"v":)" + std::string(v) + R"(,"sid":"s","exp":1700000060})";
    EXPECT_TRUE(verify(sign_json(json), secret_bytes(), kNowMs).ok()) << json;
  }
  for (const std::string_view v : {"2", "0", "-1", "1.5", "\"1\"", "true", "null", "[1]", "{}"}) {
    const std::string json = R"({"v":)" + std::string(v) + R"(,"sid":"s","exp":1700000060})";
    EXPECT_EQ(error_kind(verify(sign_json(json), secret_bytes(), kNowMs)), "invalid_claims")
        << json;
  }
  EXPECT_EQ(error_kind(verify(sign_json(R"({"sid":"s","exp":1700000060})"), secret_bytes(), kNowMs)),
            "invalid_claims");
}

TEST(SessionTokenVerify, SidClaim) {
  for (const std::string_view sid : {R"("")", "1", "null", "true", R"(["s"])", R"({"s":1})"}) {
    const std::string json = R"({"v":1,"sid":)" + std::string(sid) + R"(,"exp":1700000060})";
    EXPECT_EQ(error_kind(verify(sign_json(json), secret_bytes(), kNowMs)), "invalid_claims")
        << json;
  }
  // Escapes are decoded; duplicate members keep the last value, as JSON.parse does.
  EXPECT_EQ(verify(sign_json(R"({"v":1,"sid":"\u0041\n","exp":1700000060})"), secret_bytes(), kNowMs)
                ->sid,
            "A\n");
  EXPECT_EQ(verify(sign_json(R"({"v":1,"sid":"a","sid":"b","exp":1700000060})"), secret_bytes(),
                   kNowMs)
                ->sid,
            "b");
}

TEST(SessionTokenVerify, ExpClaim) {
  for (const std::string_view exp : {R"("1700000060")", "null", "true", "[1]", "1e400", "-1e400"}) {
    const std::string json = R"({"v":1,"sid":"s","exp":)" + std::string(exp) + "}";
    EXPECT_EQ(error_kind(verify(sign_json(json), secret_bytes(), kNowMs)), "invalid_claims")
        << json;
  }
  // Any finite number: fractions, exponents, integers beyond int64.
  EXPECT_EQ(verify(sign_json(R"({"v":1,"sid":"s","exp":1.70000006e9})"), secret_bytes(), kNowMs)->exp,
            1700000060.0);
  EXPECT_EQ(verify(sign_json(R"({"v":1,"sid":"s","exp":18446744073709551615})"), secret_bytes(),
                   kNowMs)
                ->exp,
            18446744073709551615.0);
  EXPECT_EQ(verify(sign_json(R"({"v":1,"sid":"s","exp":1e300})"), secret_bytes(), kNowMs)->exp,
            1e300);
}

TEST(SessionTokenVerify, ExpiryBoundary) {
  const std::string token = *mint(secret_bytes(), "s", kNowMs, 60);  // exp = 1700000060
  EXPECT_TRUE(verify(token, secret_bytes(), 1700000059999).ok());
  EXPECT_EQ(error_kind(verify(token, secret_bytes(), 1700000060000)), "expired");
  EXPECT_EQ(error_kind(verify(token, secret_bytes(), 1700000060001)), "expired");

  // exp * 1000 <= nowMs in milliseconds, so a fractional exp expires mid-second.
  const std::string half = sign_json(R"({"v":1,"sid":"s","exp":1700000000.5})");
  EXPECT_TRUE(verify(half, secret_bytes(), 1700000000499).ok());
  EXPECT_EQ(error_kind(verify(half, secret_bytes(), 1700000000500)), "expired");

  // A TTL of zero yields an already-expired token (exp == floor(now / 1000)).
  EXPECT_EQ(error_kind(verify(*mint(secret_bytes(), "s", kNowMs + 999, 0), secret_bytes(),
                              kNowMs + 999)),
            "expired");
}

TEST(SessionTokenVerify, OtherMembersAreIgnored) {
  const Result<Claims> claims =
      verify(sign_json(R"({"extra":{"a":[1,2,{"b":null}]},"exp":1700000060,"sid":"s","v":1})"),
             secret_bytes(), kNowMs);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(*claims, (Claims{"s", 1700000060.0}));
}

}  // namespace
}  // namespace aero::session
