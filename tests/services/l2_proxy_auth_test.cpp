// Tunnel authentication: the credential carriers and every AERO_L2_AUTH_MODE with valid and
// invalid credentials. Secrets and tokens come from the golden vectors where they fit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aero/proto/relay_jwt.h"
#include "aero/proto/session_token.h"
#include "aero/services/l2_proxy/auth.h"
#include "support/vectors.h"

namespace aero::l2proxy {
namespace {

constexpr std::int64_t kNowMs = 1700000000000;  // the vectors' clock

ByteSpan bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};  // NOLINT
}

const boost::json::value& vectors() {
  static const boost::json::value v = test::load_vectors("auth-tokens.json");
  return v;
}

const boost::json::value& vector_named(std::string_view group, std::string_view name) {
  for (const auto& v : vectors().at(group).at("vectors").as_array()) {
    if (v.at("name").as_string() == name) return v;
  }
  ADD_FAILURE() << "no vector " << name;
  static const boost::json::value none;
  return none;
}

std::string session_secret() { return test::string_field(vectors().at("sessionTokens"), "testSecret"); }
std::string jwt_secret() { return test::string_field(vectors().at("jwtTokens"), "testSecret"); }

std::string cookie_token(std::string_view sid = "sid-a", std::int64_t ttl = 3600) {
  return *session::mint(bytes_of(session_secret()), sid, kNowMs, ttl);
}

std::string jwt(std::string_view sid = "sid-j", std::optional<std::string> origin = std::nullopt,
                std::optional<std::string> aud = std::nullopt,
                std::optional<std::string> iss = std::nullopt) {
  auto claims = relay_jwt::make_claims(std::string(sid), kNowMs, 600);
  claims.origin = std::move(origin);
  claims.aud = std::move(aud);
  claims.iss = std::move(iss);
  return *relay_jwt::mint(bytes_of(jwt_secret()), claims);
}

AuthConfig config(AuthMode mode) {
  AuthConfig c;
  c.mode = mode;
  c.api_key = "the-api-key";
  c.session_secret = session_secret();
  c.jwt_secret = jwt_secret();
  return c;
}

Credentials creds(std::optional<std::string> cookie, std::optional<std::string> query,
                  std::optional<std::string> bearer = std::nullopt,
                  std::optional<std::string> subprotocol = std::nullopt) {
  return Credentials{std::move(cookie), std::move(query), std::move(bearer), std::move(subprotocol)};
}

void expect_ok(const AuthResult& r, std::optional<std::string> sid = std::nullopt) {
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.sid, sid);
}

void expect_reject(const AuthResult& r, std::string_view reason) {
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, reason);
}

TEST(L2ProxyCredentials, Carriers) {
  const std::vector<std::string_view> cookies{"theme=dark; aero_session=first%2Etoken; x=1",
                                              "aero_session=second"};
  const std::vector<std::string_view> protocols{"aero-l2-tunnel-v1, aero-l2-token.sub-tok"};
  const auto c = collect_credentials(cookies, "/l2?x=1&apiKey=k%2B1&token=t+1",
                                     std::string_view("Bearer  bear.er "), protocols);
  EXPECT_EQ(c.cookie, "first.token");  // the first aero_session wins, percent-decoded
  EXPECT_EQ(c.query_token, "t 1");     // token before apiKey
  EXPECT_EQ(c.bearer, "bear.er");
  EXPECT_EQ(c.subprotocol_token, "sub-tok");

  const auto only_key = collect_credentials({}, "/l2/?apiKey=k%2B1", std::nullopt, {});
  EXPECT_EQ(only_key.query_token, "k+1");
  EXPECT_FALSE(only_key.cookie);
  EXPECT_FALSE(only_key.bearer);
  EXPECT_FALSE(only_key.subprotocol_token);

  const auto nothing = collect_credentials({}, "/l2?token=", std::string_view("Basic abc"),
                                           std::vector<std::string_view>{"aero-l2-token."});
  EXPECT_FALSE(nothing.query_token);
  EXPECT_FALSE(nothing.bearer);
  EXPECT_FALSE(nothing.subprotocol_token);
}

TEST(L2ProxyCredentials, PercentDecode) {
  EXPECT_EQ(percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(percent_decode("a%20b+c", false), "a b+c");
  EXPECT_FALSE(percent_decode("a%2", true));
  EXPECT_FALSE(percent_decode("a%zz", true));
}

TEST(L2ProxyAuth, NoneAcceptsAnything) {
  expect_ok(authenticate(config(AuthMode::none), {}, std::nullopt, kNowMs));
}

TEST(L2ProxyAuth, SessionCookie) {
  const auto c = config(AuthMode::session);
  const auto& valid = vector_named("sessionTokens", "valid");
  expect_ok(authenticate(c, creds(test::string_field(valid, "token"), std::nullopt), std::nullopt,
                         test::int_field(valid, "nowMs")),
            test::string_field(valid, "sid"));
  expect_ok(authenticate(c, creds(cookie_token("sid-x"), std::nullopt), std::nullopt, kNowMs), "sid-x");
  // Every invalid session vector is refused as an invalid cookie.
  for (const auto& v : vectors().at("sessionTokens").at("vectors").as_array()) {
    if (!test::bool_field_or(v, "expectError", false)) continue;
    SCOPED_TRACE(test::string_field(v, "name"));
    expect_reject(authenticate(c, creds(test::string_field(v, "token"), std::nullopt), std::nullopt,
                               test::int_field(v, "nowMs")),
                  "invalid_cookie");
  }
  // Expired at our clock: the vector's token a day later.
  expect_reject(authenticate(c, creds(test::string_field(valid, "token"), std::nullopt), std::nullopt,
                             kNowMs + 86400000),
                "invalid_cookie");
  expect_reject(authenticate(c, creds(std::nullopt, "the-api-key"), std::nullopt, kNowMs),
                "missing_credentials");
}

TEST(L2ProxyAuth, ApiKey) {
  const auto c = config(AuthMode::token);
  expect_ok(authenticate(c, creds(std::nullopt, "the-api-key"), std::nullopt, kNowMs));
  expect_ok(authenticate(c, creds(std::nullopt, std::nullopt, std::nullopt, "the-api-key"),
                         std::nullopt, kNowMs));
  expect_reject(authenticate(c, creds(std::nullopt, "the-api-kez"), std::nullopt, kNowMs),
                "invalid_api_key");
  expect_reject(authenticate(c, creds(std::nullopt, "the-api-key-longer"), std::nullopt, kNowMs),
                "invalid_api_key");
  // The query wins over the subprotocol.
  expect_reject(authenticate(c, creds(std::nullopt, "wrong", std::nullopt, "the-api-key"),
                             std::nullopt, kNowMs),
                "invalid_api_key");
  // A bearer header is not an API key carrier (Aero's token mode).
  expect_reject(authenticate(c, creds(std::nullopt, std::nullopt, "the-api-key"), std::nullopt, kNowMs),
                "missing_credentials");
  expect_reject(authenticate(c, creds(cookie_token(), std::nullopt), std::nullopt, kNowMs),
                "missing_credentials");
}

TEST(L2ProxyAuth, Jwt) {
  const auto c = config(AuthMode::jwt);
  const auto& valid = vector_named("jwtTokens", "valid.minimal");
  expect_ok(authenticate(c, creds(std::nullopt, std::nullopt, test::string_field(valid, "token")),
                         std::nullopt, test::int_field(valid, "nowSec") * 1000),
            test::string_field(valid, "sid"));
  expect_ok(authenticate(c, creds(std::nullopt, jwt("q")), std::nullopt, kNowMs), "q");
  expect_ok(authenticate(c, creds(std::nullopt, std::nullopt, std::nullopt, jwt("s")), std::nullopt, kNowMs),
            "s");
  // Bearer first.
  expect_ok(authenticate(c, creds(std::nullopt, "garbage", jwt("b")), std::nullopt, kNowMs), "b");
  for (const auto& v : vectors().at("jwtTokens").at("vectors").as_array()) {
    if (!test::bool_field_or(v, "expectError", false)) continue;
    SCOPED_TRACE(test::string_field(v, "name"));
    const std::int64_t now = test::has_field(v, "nowSec") ? test::int_field(v, "nowSec") * 1000 : kNowMs;
    expect_reject(authenticate(c, creds(std::nullopt, std::nullopt, test::string_field(v, "token")),
                               std::nullopt, now),
                  "invalid_jwt");
  }
  expect_reject(authenticate(c, {}, std::nullopt, kNowMs), "missing_credentials");
}

TEST(L2ProxyAuth, JwtOriginAudienceIssuer) {
  auto c = config(AuthMode::jwt);
  const std::string bound = jwt("o", "https://App.example.test:443");
  expect_ok(authenticate(c, creds(std::nullopt, bound), std::string_view("https://app.example.test"), kNowMs),
            "o");
  expect_reject(authenticate(c, creds(std::nullopt, bound), std::string_view("https://evil.test"), kNowMs),
                "jwt_origin_mismatch");
  expect_reject(authenticate(c, creds(std::nullopt, bound), std::nullopt, kNowMs), "jwt_origin_mismatch");

  c.jwt_audience = "aero-l2-proxy";
  c.jwt_issuer = "aero-gateway";
  expect_ok(authenticate(c, creds(std::nullopt, jwt("a", std::nullopt, "aero-l2-proxy", "aero-gateway")),
                         std::nullopt, kNowMs),
            "a");
  expect_reject(authenticate(c, creds(std::nullopt, jwt("a", std::nullopt, "other", "aero-gateway")),
                             std::nullopt, kNowMs),
                "invalid_jwt");
  expect_reject(authenticate(c, creds(std::nullopt, jwt("a", std::nullopt, "aero-l2-proxy", "other")),
                             std::nullopt, kNowMs),
                "invalid_jwt");
  expect_reject(authenticate(c, creds(std::nullopt, jwt("a")), std::nullopt, kNowMs), "invalid_jwt");
}

TEST(L2ProxyAuth, CookieOrJwt) {
  const auto c = config(AuthMode::cookie_or_jwt);
  expect_ok(authenticate(c, creds(cookie_token("c"), std::nullopt), std::nullopt, kNowMs), "c");
  expect_ok(authenticate(c, creds(std::nullopt, jwt("j")), std::nullopt, kNowMs), "j");
  expect_ok(authenticate(c, creds("bad.cookie", std::nullopt, jwt("j")), std::nullopt, kNowMs), "j");
  expect_reject(authenticate(c, creds("bad.cookie", std::nullopt), std::nullopt, kNowMs), "invalid_cookie");
  expect_reject(authenticate(c, creds(std::nullopt, "not-a-jwt"), std::nullopt, kNowMs), "invalid_jwt");
  expect_reject(authenticate(c, {}, std::nullopt, kNowMs), "missing_credentials");
}

TEST(L2ProxyAuth, SessionOrToken) {
  auto c = config(AuthMode::session_or_token);
  expect_ok(authenticate(c, creds(cookie_token("c"), std::nullopt), std::nullopt, kNowMs), "c");
  expect_ok(authenticate(c, creds(std::nullopt, "the-api-key"), std::nullopt, kNowMs));
  expect_ok(authenticate(c, creds("bad.cookie", "the-api-key"), std::nullopt, kNowMs));
  expect_reject(authenticate(c, creds(std::nullopt, "wrong"), std::nullopt, kNowMs), "invalid_api_key");
  expect_reject(authenticate(c, creds("bad.cookie", std::nullopt), std::nullopt, kNowMs), "invalid_cookie");
  expect_reject(authenticate(c, {}, std::nullopt, kNowMs), "missing_credentials");
  // Without an API key configured only the cookie counts.
  c.api_key.clear();
  expect_reject(authenticate(c, creds(std::nullopt, "the-api-key"), std::nullopt, kNowMs),
                "missing_credentials");
}

TEST(L2ProxyAuth, SessionAndToken) {
  const auto c = config(AuthMode::session_and_token);
  expect_ok(authenticate(c, creds(cookie_token("c"), "the-api-key"), std::nullopt, kNowMs), "c");
  expect_reject(authenticate(c, creds(cookie_token("c"), std::nullopt), std::nullopt, kNowMs),
                "missing_credentials");
  expect_reject(authenticate(c, creds(std::nullopt, "the-api-key"), std::nullopt, kNowMs),
                "missing_credentials");
  expect_reject(authenticate(c, creds(cookie_token("c"), "wrong"), std::nullopt, kNowMs), "invalid_api_key");
  expect_reject(authenticate(c, creds("bad.cookie", "the-api-key"), std::nullopt, kNowMs), "invalid_cookie");
  expect_reject(authenticate(c, {}, std::nullopt, kNowMs), "missing_credentials");
}

}  // namespace
}  // namespace aero::l2proxy
