// The /l2 upgrade pipeline: order of the checks, status codes, client IP, Origin and Host
// rules, and the connection caps.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aero/services/l2_proxy/upgrade.h"

namespace aero::l2proxy {
namespace {

constexpr std::int64_t kNowMs = 1700000000000;

struct Request {
  std::string target = "/l2?token=key";
  bool websocket = true;
  std::vector<std::string_view> protocols{"aero-l2-tunnel-v1"};
  std::vector<std::string_view> origins{"http://proxy.test:8090"};
  std::vector<std::string_view> hosts{"proxy.test:8090"};
  std::vector<std::string_view> forwarded, xff, xfh, xfp, cookies;
  std::optional<std::string_view> authorization;
  std::string peer = "192.0.2.1";

  UpgradeRequest view() const {
    UpgradeRequest r;
    r.target = target;
    r.websocket_upgrade = websocket;
    r.protocols = protocols;
    r.origins = origins;
    r.hosts = hosts;
    r.forwarded = forwarded;
    r.x_forwarded_for = xff;
    r.x_forwarded_host = xfh;
    r.x_forwarded_proto = xfp;
    r.cookies = cookies;
    r.authorization = authorization;
    r.peer_ip = peer;
    return r;
  }
};

ProxyConfig token_config() {
  ProxyConfig c;
  c.auth.mode = AuthMode::token;
  c.auth.api_key = "key";
  return c;
}

struct Fixture : ::testing::Test {
  ProxyConfig config = token_config();
  ConnectionLimiter limiter{0, 0, 0};

  UpgradeOutcome run(const Request& r, bool draining = false) {
    return admit(config, r.view(), draining, limiter, kNowMs);
  }
  void expect_reject(const Request& r, unsigned status, std::string_view reason, bool draining = false) {
    const auto out = run(r, draining);
    ASSERT_TRUE(out.rejection) << "expected " << reason;
    EXPECT_EQ(out.rejection->status, status);
    EXPECT_EQ(out.rejection->reason, reason);
  }
};

using L2ProxyUpgrade = Fixture;

TEST_F(L2ProxyUpgrade, AdmitsAValidRequest) {
  const auto out = run(Request{});
  ASSERT_FALSE(out.rejection) << out.rejection->body;
  EXPECT_EQ(out.admission.client_ip, "192.0.2.1");
  EXPECT_EQ(out.admission.origin, "http://proxy.test:8090");
  EXPECT_FALSE(out.admission.sid);
}

TEST_F(L2ProxyUpgrade, FirstFailureWinsInAerosOrder) {
  Request everything_wrong;
  everything_wrong.protocols = {"other"};
  everything_wrong.target = "/l2";
  everything_wrong.origins = {};
  expect_reject(everything_wrong, 503, "shutting_down", true);
  expect_reject(everything_wrong, 400, "subprotocol");
  everything_wrong.protocols = {"aero-l2-tunnel-v1"};
  everything_wrong.websocket = false;
  expect_reject(everything_wrong, 426, "not_websocket");
  everything_wrong.websocket = true;
  // Authentication before Origin: missing credentials are 401 even without an Origin.
  expect_reject(everything_wrong, 401, "auth_missing");
  everything_wrong.target = "/l2?token=nope";
  const auto out = run(everything_wrong);
  ASSERT_TRUE(out.rejection);
  EXPECT_EQ(out.rejection->status, 401U);
  EXPECT_EQ(out.rejection->reason, "auth_invalid");
  EXPECT_EQ(out.rejection->auth_reason, "invalid_api_key");
  everything_wrong.target = "/l2?token=key";
  expect_reject(everything_wrong, 403, "origin_missing");
}

TEST_F(L2ProxyUpgrade, Subprotocol) {
  Request r;
  r.protocols = {"aero-l2-token.key, aero-l2-tunnel-v1"};
  r.target = "/l2";
  EXPECT_FALSE(run(r).rejection);  // the token entry authenticates
  r.protocols = {"aero-l2-tunnel-v1x"};
  expect_reject(r, 400, "subprotocol");
  r.protocols = {"AERO-L2-TUNNEL-V1"};
  expect_reject(r, 400, "subprotocol");
  r.protocols = {"x", "aero-l2-tunnel-v1"};
  r.target = "/l2?token=key";
  EXPECT_FALSE(run(r).rejection);
  r.protocols = {};
  expect_reject(r, 400, "subprotocol");
}

TEST_F(L2ProxyUpgrade, OriginRules) {
  Request r;
  r.origins = {"http://proxy.test:8090", "http://proxy.test:8090"};
  expect_reject(r, 403, "origin_not_allowed");  // repeated header
  r.origins = {"http://proxy.test:8090/path"};
  expect_reject(r, 403, "origin_not_allowed");  // malformed
  r.origins = {"http://other.test:8090"};
  expect_reject(r, 403, "origin_not_allowed");  // not same-host
  r.origins = {"null"};
  expect_reject(r, 403, "origin_not_allowed");
  config.allowed_origins = {"https://app.test"};
  r.origins = {"https://APP.test:443"};
  EXPECT_FALSE(run(r).rejection);
  r.origins = {"http://proxy.test:8090"};
  expect_reject(r, 403, "origin_not_allowed");  // the list replaces same-host
  config.allowed_origins = {"*"};
  EXPECT_FALSE(run(r).rejection);
  r.origins = {};
  expect_reject(r, 403, "origin_missing");  // "*" still needs the header
  config.open = true;
  EXPECT_FALSE(run(r).rejection);  // open mode skips the Origin check
}

TEST_F(L2ProxyUpgrade, HostAllowlist) {
  config.allowed_hosts = {"proxy.test:8090", "secure.test:443"};
  Request r;
  EXPECT_FALSE(run(r).rejection);
  r.hosts = {};
  r.origins = {"http://x.test"};
  config.allowed_origins = {"*"};
  expect_reject(r, 403, "host_missing");
  r.hosts = {"evil.test"};
  expect_reject(r, 403, "host_not_allowed");
  r.hosts = {"bad host"};
  expect_reject(r, 403, "host_invalid");
  r.hosts = {"a.test", "b.test"};
  expect_reject(r, 403, "host_invalid");
  // The default port of the Origin's scheme is implied.
  r.hosts = {"secure.test"};
  r.origins = {"https://x.test"};
  EXPECT_FALSE(run(r).rejection);
  // Forwarded host only when trusted.
  r.hosts = {"internal:8080"};
  r.forwarded = {"for=198.51.100.7;host=secure.test;proto=https"};
  expect_reject(r, 403, "host_not_allowed");
  config.trust_proxy_host = true;
  EXPECT_FALSE(run(r).rejection);
  r.forwarded = {};
  r.xfh = {"proxy.test:8090, other"};
  EXPECT_FALSE(run(r).rejection);
}

TEST(L2ProxyClientIp, ForwardedHeadersOnlyWhenTrusted) {
  Request r;
  r.forwarded = {"for=\"[2001:db8::7]:4711\";proto=https, for=198.51.100.9"};
  r.xff = {"203.0.113.5, 10.0.0.1"};
  EXPECT_EQ(client_ip(r.view(), false), "192.0.2.1");
  EXPECT_EQ(client_ip(r.view(), true), "2001:db8::7");
  r.forwarded = {"for=unknown"};
  EXPECT_EQ(client_ip(r.view(), true), "203.0.113.5");
  r.forwarded = {"for=198.51.100.20:1234"};
  EXPECT_EQ(client_ip(r.view(), true), "198.51.100.20");
  r.forwarded = {};
  r.xff = {"not-an-ip"};
  EXPECT_EQ(client_ip(r.view(), true), "192.0.2.1");
}

TEST_F(L2ProxyUpgrade, CapsInAerosOrder) {
  ConnectionLimiter caps(2, 1, 1);
  // Per-IP: a second tunnel from one address.
  auto first = admit(config, Request{}.view(), false, caps, kNowMs);
  ASSERT_FALSE(first.rejection);
  auto second = admit(config, Request{}.view(), false, caps, kNowMs);
  ASSERT_TRUE(second.rejection);
  EXPECT_EQ(second.rejection->status, 429U);
  EXPECT_EQ(second.rejection->reason, "ip_limit");
  Request other;
  other.peer = "192.0.2.2";
  auto third = admit(config, other.view(), false, caps, kNowMs);
  ASSERT_FALSE(third.rejection);
  EXPECT_EQ(caps.active(), 2U);
  // Global: a third address.
  other.peer = "192.0.2.3";
  auto fourth = admit(config, other.view(), false, caps, kNowMs);
  ASSERT_TRUE(fourth.rejection);
  EXPECT_EQ(fourth.rejection->reason, "max_connections");
  // Releasing a lease frees the places.
  first.admission.lease.release();
  EXPECT_EQ(caps.active(), 1U);
  auto fifth = admit(config, other.view(), false, caps, kNowMs);
  EXPECT_FALSE(fifth.rejection);
}

TEST(L2ProxyLimiter, PerSession) {
  ConnectionLimiter caps(0, 0, 2);
  ConnectionLimiter::Lease a, b, c, d;
  EXPECT_EQ(caps.acquire("1.1.1.1", std::string("s"), a), ConnectionLimiter::Refusal::none);
  EXPECT_EQ(caps.acquire("1.1.1.2", std::string("s"), b), ConnectionLimiter::Refusal::none);
  EXPECT_EQ(caps.acquire("1.1.1.3", std::string("s"), c), ConnectionLimiter::Refusal::per_session);
  // API-key-only tunnels have no session identity and no per-session cap.
  EXPECT_EQ(caps.acquire("1.1.1.3", std::nullopt, c), ConnectionLimiter::Refusal::none);
  EXPECT_EQ(caps.acquire("1.1.1.3", std::nullopt, d), ConnectionLimiter::Refusal::none);
  a.release();
  ConnectionLimiter::Lease e;
  EXPECT_EQ(caps.acquire("1.1.1.3", std::string("s"), e), ConnectionLimiter::Refusal::none);
  ConnectionLimiter::Lease moved = std::move(e);
  EXPECT_EQ(caps.active(), 4U);  // b, c, d and the moved lease
  moved.release();
  EXPECT_EQ(caps.active(), 3U);
}

}  // namespace
}  // namespace aero::l2proxy
