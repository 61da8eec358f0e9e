// aero-gateway core: sessions and relay credentials, DoH validation, the DNS cache, dns-json,
// rate limits and metrics.
#include <gtest/gtest.h>

#include <array>

#include "aero/proto/base64.h"
#include "aero/proto/relay_jwt.h"
#include "aero/proto/session_token.h"
#include "aero/services/gateway/doh.h"
#include "aero/services/gateway/limits.h"
#include "aero/services/gateway/metrics.h"
#include "aero/services/gateway/session.h"

namespace aero::gateway {
namespace {

ByteSpan bytes_of(const std::string& text) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());  // NOLINT
}

constexpr std::int64_t kNowMs = 1'700'000'000'123;

GatewayConfig base_config() {
  GatewayConfig config;
  config.session_secret = "secret";
  return config;
}

// ---- sessions --------------------------------------------------------------------------------

TEST(GatewaySession, CookieVerifiesWithTheSharedCodec) {
  const GatewayConfig config = base_config();
  auto issued = issue_session(config, std::nullopt, false, kNowMs);
  ASSERT_TRUE(issued);
  EXPECT_EQ(issued->set_cookie, "aero_session=" + issued->token + "; Max-Age=86400; Path=/; HttpOnly; SameSite=Lax");
  auto claims = session::verify(issued->token, bytes_of(config.session_secret), kNowMs);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->sid, issued->sid);
  EXPECT_EQ(claims->exp, static_cast<double>((kNowMs + 86400 * 1000) / 1000));
  EXPECT_EQ(*verified_session(config, issued->token, kNowMs), issued->sid);
  EXPECT_FALSE(verified_session(config, issued->token, (kNowMs / 1000 + 86400) * 1000));  // exp*1000 <= now
  GatewayConfig other = config;
  other.session_secret = "other";
  EXPECT_FALSE(verified_session(other, issued->token, kNowMs));
}

TEST(GatewaySession, ReissueKeepsSidAndSecureFlag) {
  GatewayConfig config = base_config();
  config.same_site = SameSite::strict;
  config.session_ttl_seconds = 60;
  auto issued = issue_session(config, std::string("sid-1"), true, kNowMs);
  ASSERT_TRUE(issued);
  EXPECT_EQ(issued->sid, "sid-1");
  EXPECT_TRUE(issued->set_cookie.ends_with("; Max-Age=60; Path=/; HttpOnly; SameSite=Strict; Secure"));
}

TEST(GatewaySession, BodyListsEndpointsAndLimits) {
  GatewayConfig config = base_config();
  config.base_path = "/base";
  config.udp_relay_base_url = "https://relay.example";
  config.udp_relay_auth_mode = UdpRelayAuthMode::api_key;
  config.udp_relay_api_key = "key";
  auto issued = issue_session(config, std::nullopt, false, kNowMs);
  ASSERT_TRUE(issued);
  auto credential = mint_udp_relay_credential(config, issued->sid, std::nullopt, kNowMs);
  ASSERT_TRUE(credential);
  const std::string body = session_body(config, *issued, *credential);
  EXPECT_NE(body.find(R"("tcp":"/base/tcp")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("udpRelayToken":"/base/udp-relay/token")"), std::string::npos);
  EXPECT_NE(body.find(R"("udp":"/udp")"), std::string::npos);  // not base-prefixed
  EXPECT_NE(body.find(R"("token":"key")"), std::string::npos);
  EXPECT_NE(body.find(R"("maxQueryBytes":4096)"), std::string::npos);
  EXPECT_NE(body.find(R"("expiresAt":"2023-11-15T22:13:20.000Z")"), std::string::npos) << body;
  config.udp_relay_base_url.reset();
  EXPECT_EQ(session_body(config, *issued, std::nullopt).find("\"udpRelay\":"), std::string::npos);
}

TEST(GatewaySession, RelayJwtCarriesSidOriginAudience) {
  GatewayConfig config = base_config();
  config.udp_relay_auth_mode = UdpRelayAuthMode::jwt;
  config.udp_relay_jwt_secret = "jwt";
  config.udp_relay_audience = "aud";
  auto credential = mint_udp_relay_credential(config, "sid-9", std::string("https://a.example"), kNowMs);
  ASSERT_TRUE(credential);
  auto claims = relay_jwt::verify(*credential->token, bytes_of(config.udp_relay_jwt_secret), kNowMs / 1000);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->sid, "sid-9");
  EXPECT_EQ(*claims->origin, "https://a.example");
  EXPECT_EQ(*claims->aud, "aud");
  EXPECT_EQ(claims->exp - claims->iat, 300);
  EXPECT_EQ(udp_relay_token_body(config, *credential).find(R"({"authMode":"jwt","token":")"), 0U);
  config.udp_relay_auth_mode = UdpRelayAuthMode::none;
  EXPECT_EQ(udp_relay_token_body(config, *mint_udp_relay_credential(config, "s", std::nullopt, kNowMs)),
            R"({"authMode":"none"})");
}

TEST(GatewaySession, Iso8601) {
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_utc(kNowMs), "2023-11-14T22:13:20.123Z");
}

// ---- DoH -------------------------------------------------------------------------------------

Bytes query_bytes(std::string_view name, std::uint16_t type, std::uint16_t id = 0x1234) {
  std::array<std::uint8_t, 512> buffer{};
  auto builder = wire::DnsBuilder::start(buffer, id, wire::kDnsFlagRd);
  EXPECT_TRUE(builder);
  EXPECT_TRUE(builder->add_question(name, type));
  const ByteSpan out = builder->bytes();
  return Bytes(out.begin(), out.end());
}

TEST(GatewayDoh, Base64UrlLengthBound) {
  EXPECT_EQ(max_base64url_length(1), 2U);
  EXPECT_EQ(max_base64url_length(2), 3U);
  EXPECT_EQ(max_base64url_length(3), 4U);
  EXPECT_EQ(max_base64url_length(4096), 5462U);
}

TEST(GatewayDoh, GetForms) {
  DohFailure failure;
  const Bytes query = query_bytes("Example.COM", 1);
  auto parsed = parse_doh_get(encoding::base64url_encode(query), 4096, failure);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->id, 0x1234);
  EXPECT_EQ(parsed->name, "example.com");
  EXPECT_EQ(parsed->cache_key(), "example.com|1|1");

  EXPECT_FALSE(parse_doh_get(std::nullopt, 4096, failure));
  EXPECT_EQ(failure.status, 400U);
  EXPECT_EQ(failure.message.size(), 12U);
  EXPECT_EQ(failure.message[3] & 0x0F, 1);  // FORMERR

  EXPECT_FALSE(parse_doh_get(std::string("abcde"), 4096, failure));  // 4k+1 characters
  EXPECT_EQ(failure.status, 400U);
  EXPECT_FALSE(parse_doh_get(std::string("ab*d"), 4096, failure));
  EXPECT_EQ(failure.status, 400U);

  const std::string long_text = encoding::base64url_encode(query) + std::string(100, 'A');
  EXPECT_FALSE(parse_doh_get(long_text, 16, failure));
  EXPECT_EQ(failure.status, 413U);
  EXPECT_EQ(failure.message[0], 0x12);  // id decoded best-effort
  EXPECT_EQ(failure.message[1], 0x34);
  EXPECT_EQ(failure.message[2] & 0x01, 0x01);  // RD copied from the query's flags
}

TEST(GatewayDoh, NonCanonicalTailBitsTolerated) {
  const Bytes query = query_bytes("ab.example", 1);  // 28 bytes: 38 characters
  std::string text = encoding::base64url_encode(query);
  ASSERT_NE(text.size() % 4, 0U);
  // Set an unused low bit in the last character ('A' -> 'B' and so on stays in the alphabet).
  text.back() = text.back() == 'A' ? 'B' : text.back();
  DohFailure failure;
  EXPECT_TRUE(parse_doh_get(text, 4096, failure));
}

TEST(GatewayDoh, PostChecks) {
  const Bytes query = query_bytes("example.com", 28, 7);
  DohFailure failure;
  std::vector<std::string_view> types{"Application/DNS-Message; charset=x"};
  ASSERT_TRUE(parse_doh_post(types, query, 4096, failure));
  types = {"text/plain"};
  EXPECT_FALSE(parse_doh_post(types, query, 4096, failure));
  EXPECT_EQ(failure.status, 415U);
  types = {"application/dns-message", "application/dns-message"};
  EXPECT_FALSE(parse_doh_post(types, query, 4096, failure));
  EXPECT_EQ(failure.status, 415U);
  types = {"application/dns-message"};
  EXPECT_FALSE(parse_doh_post(types, query, 10, failure));
  EXPECT_EQ(failure.status, 413U);
  Bytes two_questions = query;
  two_questions[5] = 2;
  EXPECT_FALSE(parse_doh_post(types, two_questions, 4096, failure));
  EXPECT_EQ(failure.status, 400U);
  EXPECT_EQ(failure.message[1], 7);  // id kept
  Bytes response = query;
  response[2] |= 0x80;
  EXPECT_FALSE(parse_doh_post(types, response, 4096, failure));
}

TEST(GatewayDoh, ErrorMessageEchoesQuestion) {
  DohFailure failure;
  auto query = parse_doh_message(query_bytes("x.example", 1, 0xABCD), failure);
  ASSERT_TRUE(query);
  const Bytes message = dns_error_message(query->id, 0x0110, wire::DnsRcode::refused, &*query);
  auto parsed = wire::DnsMessage::parse(message);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->id(), 0xABCD);
  EXPECT_EQ(parsed->rcode(), 5);
  EXPECT_TRUE(parsed->is_response());
  EXPECT_TRUE(parsed->recursion_desired());
  EXPECT_EQ(parsed->flags() & wire::kDnsFlagCd, wire::kDnsFlagCd);
  EXPECT_EQ(parsed->flags() & wire::kDnsFlagRa, wire::kDnsFlagRa);
  EXPECT_EQ(parsed->count(wire::DnsSection::question), 1U);
}

TEST(GatewayDoh, PrivatePtrNames) {
  for (const char* name : {"1.0.0.10.in-addr.arpa", "1.0.0.127.IN-ADDR.ARPA.", "5.4.254.169.in-addr.arpa",
                           "1.1.31.172.in-addr.arpa", "1.1.168.192.in-addr.arpa", "1.1.64.100.in-addr.arpa",
                           "1.0.0.0.in-addr.arpa", "168.192.in-addr.arpa", "x.1.0.0.10.in-addr.arpa",
                           "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
                           "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
                           "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
                           "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa"}) {
    EXPECT_TRUE(is_private_ptr_name(name)) << name;
  }
  for (const char* name : {"34.216.184.93.in-addr.arpa", "1.1.32.172.in-addr.arpa", "1.1.128.100.in-addr.arpa",
                           "example.com",
                           "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"}) {
    EXPECT_FALSE(is_private_ptr_name(name)) << name;
  }
}

TEST(GatewayDoh, Labels) {
  EXPECT_EQ(qtype_label(28), "AAAA");
  EXPECT_EQ(qtype_label(255), "ANY");
  EXPECT_EQ(qtype_label(99), "99");
  EXPECT_EQ(rcode_label(3), "NXDOMAIN");
  EXPECT_EQ(rcode_label(1), "1");
}

// A response to `query` with the given rcode, A answers and an optional SOA in authority.
Bytes response_bytes(const Bytes& query_message, wire::DnsRcode rcode, std::vector<std::uint32_t> answer_ttls,
                     std::optional<std::pair<std::uint32_t, std::uint32_t>> soa = std::nullopt) {
  auto query = wire::DnsMessage::parse(query_message);
  EXPECT_TRUE(query);
  std::array<std::uint8_t, 1024> buffer{};
  auto builder = wire::DnsBuilder::response_to(buffer, *query, rcode);
  EXPECT_TRUE(builder);
  for (const std::uint32_t ttl : answer_ttls) EXPECT_TRUE(builder->add_answer_a(ttl, Ipv4Address{{93, 184, 216, 34}}));
  if (soa) {
    std::vector<std::uint8_t> rdata{0, 0};  // mname ".", rname "."
    for (const std::uint32_t v : {1U, 2U, 3U, 4U, soa->second}) {
      for (int shift = 24; shift >= 0; shift -= 8) rdata.push_back(static_cast<std::uint8_t>(v >> shift));
    }
    EXPECT_TRUE(builder->add_record(wire::DnsSection::authority, "example.com", wire::dns_type::soa, 1, soa->first, rdata));
  }
  const ByteSpan out = builder->bytes();
  return Bytes(out.begin(), out.end());
}

TEST(GatewayDnsCache, TtlRules) {
  DnsCache cache(10, 300, 60);
  const Bytes query = query_bytes("example.com", 1);
  auto ttl = [&cache](const Bytes& response) { return cache.ttl_for(*wire::DnsMessage::parse(response)); };
  EXPECT_EQ(ttl(response_bytes(query, wire::DnsRcode::noerror, {120, 30})), 30U);
  EXPECT_EQ(ttl(response_bytes(query, wire::DnsRcode::noerror, {100000})), 300U);  // clamped
  EXPECT_EQ(ttl(response_bytes(query, wire::DnsRcode::noerror, {0})), 0U);
  EXPECT_EQ(ttl(response_bytes(query, wire::DnsRcode::nxdomain, {})), 60U);  // no SOA
  EXPECT_EQ(ttl(response_bytes(query, wire::DnsRcode::nxdomain, {}, std::pair{900U, 45U})), 45U);
  EXPECT_EQ(ttl(response_bytes(query, wire::DnsRcode::noerror, {}, std::pair{20U, 45U})), 20U);  // NODATA
  EXPECT_EQ(ttl(response_bytes(query, wire::DnsRcode::servfail, {})), 0U);
  EXPECT_EQ(ttl(response_bytes(query, wire::DnsRcode::refused, {})), 0U);
}

TEST(GatewayDnsCache, ExpiryIdRewriteAndEviction) {
  DnsCache cache(2, 300, 60);
  const auto t0 = DnsCache::Clock::time_point{} + std::chrono::hours(1);
  const Bytes query = query_bytes("example.com", 1, 1);
  cache.put("a", response_bytes(query, wire::DnsRcode::noerror, {10}), t0);
  auto hit = cache.get("a", 0xBEEF, t0 + std::chrono::seconds(9));
  ASSERT_TRUE(hit);
  EXPECT_EQ((*hit)[0], 0xBE);
  EXPECT_EQ((*hit)[1], 0xEF);
  EXPECT_FALSE(cache.get("a", 1, t0 + std::chrono::seconds(10)));
  EXPECT_EQ(cache.size(), 0U);
  cache.put("a", response_bytes(query, wire::DnsRcode::noerror, {10}), t0);
  cache.put("b", response_bytes(query, wire::DnsRcode::noerror, {10}), t0);
  EXPECT_TRUE(cache.get("a", 1, t0));  // a is now the most recent
  cache.put("c", response_bytes(query, wire::DnsRcode::noerror, {10}), t0);
  EXPECT_EQ(cache.size(), 2U);
  EXPECT_FALSE(cache.get("b", 1, t0));
  EXPECT_TRUE(cache.get("a", 1, t0));
  cache.put("d", response_bytes(query, wire::DnsRcode::noerror, {0}), t0);  // TTL 0: not cached
  EXPECT_FALSE(cache.get("d", 1, t0));
  DnsCache disabled(0, 300, 60);
  disabled.put("a", response_bytes(query, wire::DnsRcode::noerror, {10}), t0);
  EXPECT_EQ(disabled.size(), 0U);
}

TEST(GatewayDnsJson, RequestAndRendering) {
  std::string error;
  EXPECT_FALSE(parse_dns_json(std::nullopt, std::string("A"), error));
  EXPECT_EQ(error, "Missing required query parameter: name");
  EXPECT_FALSE(parse_dns_json(std::string("a.example"), std::nullopt, error));
  EXPECT_EQ(error, "Missing required query parameter: type");
  EXPECT_FALSE(parse_dns_json(std::string("a.example"), std::string("MX"), error));
  EXPECT_EQ(error, "Invalid DNS record type");
  auto request = parse_dns_json(std::string("A.Example.."), std::string("aaaa"), error);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->name, "a.example");
  EXPECT_EQ(request->type, 28);
  EXPECT_EQ(parse_dns_json(std::string("x"), std::string("5"), error)->type, 5);

  const DnsJsonRequest a{"example.com", 1};
  auto query = build_dns_json_query(a);
  ASSERT_TRUE(query);
  EXPECT_EQ((*query)[0], 0);
  EXPECT_EQ((*query)[2], 0x01);  // RD
  auto body = render_dns_json(a, response_bytes(*query, wire::DnsRcode::noerror, {60}));
  ASSERT_TRUE(body);
  EXPECT_EQ(*body, R"({"Status":0,"TC":false,"RD":true,"RA":true,"AD":false,"CD":false,)"
                   R"("Question":[{"name":"example.com","type":1}],)"
                   R"("Answer":[{"name":"example.com","type":1,"TTL":60,"data":"93.184.216.34"}]})");
  body = render_dns_json(a, response_bytes(*query, wire::DnsRcode::nxdomain, {}));
  ASSERT_TRUE(body);
  EXPECT_EQ(body->find("Answer"), std::string::npos);
  EXPECT_NE(body->find(R"("Status":3)"), std::string::npos);
  EXPECT_FALSE(build_dns_json_query(DnsJsonRequest{std::string(64, 'a') + ".example", 1}));
}

// ---- limits and metrics ----------------------------------------------------------------------

TEST(GatewayLimits, TokenBucket) {
  TokenBucketLimiter limiter(1, 3);
  const auto t0 = TokenBucketLimiter::Clock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(limiter.allow("ip", t0));
  EXPECT_TRUE(limiter.allow("ip", t0));
  EXPECT_TRUE(limiter.allow("ip", t0));
  EXPECT_FALSE(limiter.allow("ip", t0));
  EXPECT_TRUE(limiter.allow("other", t0));
  EXPECT_TRUE(limiter.allow("ip", t0 + std::chrono::seconds(1)));
  EXPECT_FALSE(limiter.allow("ip", t0 + std::chrono::seconds(1)));
  EXPECT_TRUE(limiter.allow("ip", t0 + std::chrono::seconds(100)));  // refilled to the burst, not beyond
  EXPECT_TRUE(limiter.allow("ip", t0 + std::chrono::seconds(100)));
  EXPECT_TRUE(limiter.allow("ip", t0 + std::chrono::seconds(100)));
  EXPECT_FALSE(limiter.allow("ip", t0 + std::chrono::seconds(100)));
  TokenBucketLimiter off(0, 5);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(off.allow("ip", t0));
  EXPECT_EQ(off.keys(), 0U);
}

TEST(GatewayLimits, TokenBucketWithCosts) {
  TokenBucketLimiter bytes(10, 20);  // 10 per second, burst 20
  const auto t0 = TokenBucketLimiter::Clock::time_point{} + std::chrono::hours(1);
  EXPECT_FALSE(bytes.allow("ws", t0, 21));  // more than the burst: never
  EXPECT_TRUE(bytes.allow("ws", t0, 20));   // a new key starts full
  EXPECT_FALSE(bytes.allow("ws", t0, 1));
  EXPECT_FALSE(bytes.allow("ws", t0 + std::chrono::milliseconds(500), 6));
  EXPECT_TRUE(bytes.allow("ws", t0 + std::chrono::milliseconds(500), 5));
}

TEST(GatewayLimits, TokenBucketForgetsIdleKeys) {
  TokenBucketLimiter limiter(1, 1);
  const auto t0 = TokenBucketLimiter::Clock::time_point{} + std::chrono::hours(1);
  for (std::size_t i = 0; i < TokenBucketLimiter::kPruneAbove; ++i) limiter.allow(std::to_string(i), t0);
  EXPECT_EQ(limiter.keys(), TokenBucketLimiter::kPruneAbove);
  limiter.allow("late", t0 + std::chrono::minutes(11));
  EXPECT_EQ(limiter.keys(), 1U);
}

TEST(GatewayLimits, SessionSlots) {
  SessionSlots slots(2);
  EXPECT_TRUE(slots.acquire("a"));
  EXPECT_TRUE(slots.acquire("a"));
  EXPECT_FALSE(slots.acquire("a"));
  EXPECT_TRUE(slots.acquire("b"));
  EXPECT_EQ(slots.total(), 3U);
  slots.release("a");
  EXPECT_TRUE(slots.acquire("a"));
  slots.release("unknown");
  EXPECT_EQ(slots.held("a"), 2U);
}

TEST(GatewayMetrics, RendersAerosNames) {
  Metrics metrics;
  metrics.http_request("GET", "/healthz", 200, 0.002);
  metrics.dns_query("A", "NOERROR", "cache");
  metrics.dns_cache("A", true);
  metrics.dns_upstream("127.0.0.1:53", "timeout", 2.0, true);
  metrics.add("tcp_proxy_blocked_by_ip_policy_total");
  metrics.gauge_add("aero_gateway_tcp_connections_active", 1);
  metrics.gauge_add("aero_gateway_tcp_connections_active", -2);
  const std::string text = metrics.render();
  for (const char* line :
       {"http_requests_total{method=\"GET\",route=\"/healthz\",status_code=\"200\"} 1",
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status_code=\"200\",le=\"0.005\"} 1",
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status_code=\"200\",le=\"+Inf\"} 1",
        "dns_queries_total{qtype=\"A\",rcode=\"NOERROR\",source=\"cache\"} 1", "dns_cache_hits_total{qtype=\"A\"} 1",
        "dns_upstream_errors_total{upstream=\"127.0.0.1:53\",kind=\"timeout\"} 1",
        "dns_upstream_latency_seconds_bucket{upstream=\"127.0.0.1:53\",kind=\"timeout\",le=\"2.5\"} 1",
        "tcp_proxy_blocked_by_ip_policy_total 1", "tcp_proxy_blocked_by_host_policy_total 0",
        "aero_gateway_tcp_connections_active 0", "# TYPE process_start_time_seconds gauge"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  EXPECT_EQ(prometheus_labels({{"a", "x\"y\\z\n"}}), "a=\"x\\\"y\\\\z\\n\"");
  EXPECT_EQ(metrics.value("tcp_proxy_blocked_by_ip_policy_total"), 1);
}

}  // namespace
}  // namespace aero::gateway
