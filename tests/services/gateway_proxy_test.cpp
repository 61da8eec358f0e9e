// aero-gateway relay modes: the AERO_PROXY_ALLOW grammar, the proxy target decision, the mode
// variables and the token check.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "aero/services/gateway/config.h"
#include "aero/services/gateway/http_rules.h"
#include "aero/services/gateway/proxy_allowlist.h"
#include "aero/services/gateway/tcp_target.h"

namespace aero::gateway {
namespace {

IpAddress ip(std::string_view text) { return *IpAddress::parse(text); }

Result<GatewayConfig> config_with(GatewayMode mode, std::map<std::string, std::string, std::less<>> env) {
  return config_from_env(
      [&env](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      mode);
}

TEST(ProxyAllowlist, HostForms) {
  auto rule = parse_allow_rule("*");
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->kind, AllowRule::Kind::any_name);
  EXPECT_EQ(rule->ports, PortRange{});
  rule = parse_allow_rule(" *.Example.COM.:443 ");
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->kind, AllowRule::Kind::suffix);
  EXPECT_EQ(rule->name, "example.com");
  EXPECT_EQ(rule->ports, (PortRange{443, 443}));
  EXPECT_TRUE(rule->matches_name("example.com"));  // the apex too, as net-proxy
  EXPECT_TRUE(rule->matches_name("a.b.example.com"));
  EXPECT_FALSE(rule->matches_name("badexample.com"));
  rule = parse_allow_rule("host.test:8000-8080");
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->kind, AllowRule::Kind::exact_name);
  EXPECT_EQ(rule->ports, (PortRange{8000, 8080}));
  EXPECT_TRUE(rule->matches_name("host.test"));
  EXPECT_FALSE(rule->matches_name("a.host.test"));
  rule = parse_allow_rule("10.0.0.0/8:*");
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->kind, AllowRule::Kind::ipv4_cidr);
  EXPECT_TRUE(rule->matches_address(ip("10.1.2.3")));
  EXPECT_TRUE(rule->matches_address(ip("::ffff:10.1.2.3")));  // IPv4-mapped judged as IPv4
  EXPECT_FALSE(rule->matches_address(ip("11.0.0.1")));
  rule = parse_allow_rule("192.0.2.7");
  ASSERT_TRUE(rule);
  EXPECT_TRUE(rule->matches_address(ip("192.0.2.7")));
  EXPECT_FALSE(rule->matches_address(ip("192.0.2.8")));
  EXPECT_FALSE(rule->matches_name("192.0.2.7"));
}

TEST(ProxyAllowlist, Ipv6FormsAndPorts) {
  auto rule = parse_allow_rule("2001:db8::1");  // bare IPv6: every port, the last group is not a port
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->kind, AllowRule::Kind::ipv6_cidr);
  EXPECT_EQ(rule->ports, PortRange{});
  EXPECT_TRUE(rule->matches_address(ip("2001:db8::1")));
  rule = parse_allow_rule("2001:db8::/32");
  ASSERT_TRUE(rule);
  EXPECT_TRUE(rule->matches_address(ip("2001:db8:ffff::5")));
  EXPECT_EQ(rule->ports, PortRange{});
  rule = parse_allow_rule("[2001:db8::1]:53");
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->ports, (PortRange{53, 53}));
  rule = parse_allow_rule("[2001:db8::]");
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->ports, PortRange{});
}

TEST(ProxyAllowlist, Errors) {
  for (const char* bad : {"", "host.test:", "host.test:0", "host.test:65536", "host.test:9-1", "host.test:1-",
                          "host.test:abc", "bad_name!", "*.", "a.*.test", "[2001:db8::1", "[2001:db8::1]x",
                          "[host.test]:80", "10.0.0.1/8", "10.0.0.0/33", "2001:db8::/129"}) {
    auto rule = parse_allow_rule(bad);
    EXPECT_FALSE(rule) << bad;
    if (!rule) {
      EXPECT_NE(rule.error().message.find("AERO_PROXY_ALLOW"), std::string::npos) << bad;
    }
  }
}

TEST(ProxyAllowlist, ListLimits) {
  auto rules = parse_allowlist(" a.test:1 , ,10.0.0.0/8,*:443 ");
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->size(), 3U);
  std::string many;
  for (int i = 0; i < 4097; ++i) many += "h" + std::to_string(i) + ".test,";
  EXPECT_FALSE(parse_allowlist(many));  // 4097 entries
  many.clear();
  for (int i = 0; i < 4096; ++i) many += "h.test,";
  EXPECT_TRUE(parse_allowlist(many));
  EXPECT_FALSE(parse_allowlist(std::string(65537, 'a')));
}

TEST(ProxyDecision, OpenAllowlistAndPublicOnly) {
  const IpAddress private_and_public[] = {ip("10.0.0.1"), ip("93.184.216.34")};
  ProxyPolicy open;
  open.open = true;
  EXPECT_EQ(decide_proxy_target(open, "x.test", 80, private_and_public).address, ip("10.0.0.1"));
  EXPECT_EQ(decide_proxy_target(open, "x.test", 80, {}).refusal, "DNS lookup failed");

  ProxyPolicy public_only;
  EXPECT_EQ(public_only.mode_name(), "public_only");
  EXPECT_EQ(decide_proxy_target(public_only, "x.test", 80, private_and_public).address, ip("93.184.216.34"));
  const IpAddress loopback[] = {ip("127.0.0.1"), ip("::ffff:127.0.0.1")};
  EXPECT_FALSE(decide_proxy_target(public_only, "", 80, loopback).address);

  ProxyPolicy allow;
  allow.allow = *parse_allowlist("*.good.test:443,127.0.0.1:8000-8001");
  EXPECT_EQ(allow.mode_name(), "allowlist");
  // A name rule lets only public addresses through (no rebinding to private ranges).
  EXPECT_EQ(decide_proxy_target(allow, "a.good.test", 443, private_and_public).address, ip("93.184.216.34"));
  const IpAddress only_private[] = {ip("10.0.0.1")};
  EXPECT_EQ(decide_proxy_target(allow, "a.good.test", 443, only_private).refusal,
            "Target resolves to a non-public address");
  EXPECT_EQ(decide_proxy_target(allow, "a.good.test", 80, private_and_public).refusal, "Target not in allowlist");
  EXPECT_EQ(decide_proxy_target(allow, "other.test", 443, private_and_public).refusal, "Target not in allowlist");
  // IP rules allow private addresses explicitly listed.
  const IpAddress local[] = {ip("127.0.0.1")};
  EXPECT_EQ(decide_proxy_target(allow, "", 8001, local).address, ip("127.0.0.1"));
  EXPECT_FALSE(decide_proxy_target(allow, "", 8002, local).address);

  ProxyPolicy token;  // tools/net-proxy-server
  token.allow_private_cidrs = {*stack::Ipv4Cidr::parse("127.0.0.0/8")};
  token.ip_denied_message = "Target IP is blocked by IP egress policy";
  EXPECT_EQ(decide_proxy_target(token, "", 80, local).address, ip("127.0.0.1"));
  EXPECT_EQ(decide_proxy_target(token, "", 80, only_private).refusal, "Target IP is blocked by IP egress policy");
  token.allow_private_ips = true;
  EXPECT_TRUE(decide_proxy_target(token, "", 80, only_private).address);
}

TEST(ProxyDecision, ThroughPlanTargetAndPickAddress) {
  TcpPolicy policy;
  policy.proxy = ProxyPolicy{};
  policy.proxy->allow = *parse_allowlist("*.good.test,127.0.0.1:9000");
  EXPECT_EQ(plan_target(policy, TcpTarget{"127.0.0.1", 9000}).dial, ip("127.0.0.1"));
  auto plan = plan_target(policy, TcpTarget{"127.0.0.1", 9001});
  ASSERT_TRUE(plan.rejection);
  EXPECT_EQ(plan.rejection->message, "Target not in allowlist");
  plan = plan_target(policy, TcpTarget{"A.Good.Test.", 80});
  EXPECT_EQ(plan.resolve_name, "a.good.test");
  const IpAddress resolved[] = {ip("93.184.216.34")};
  EXPECT_EQ(pick_address(policy, resolved, "a.good.test", 80).address, ip("93.184.216.34"));
  EXPECT_EQ(pick_address(policy, resolved, "bad.test", 80).rejection->status, 403U);
  EXPECT_EQ(pick_address(policy, {}, "a.good.test", 80).rejection->status, 502U);
  EXPECT_EQ(plan_target(policy, TcpTarget{"bad_host", 80}).rejection->status, 400U);
}

TEST(RelayModes, DevProxyDefaultsAndVariables) {
  auto config = config_with(GatewayMode::dev_proxy, {{"HOST", "0.0.0.0"}, {"PORT", "9999"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->mode, GatewayMode::dev_proxy);
  EXPECT_EQ(config->host, "127.0.0.1");  // loopback by default; the gateway's HOST/PORT do not apply
  EXPECT_EQ(config->port, 8081);
  EXPECT_FALSE(config->require_session);
  EXPECT_FALSE(config->check_origin);
  EXPECT_FALSE(config->dns_require_session);
  EXPECT_EQ(config->dns_max_query_bytes, 512U);
  ASSERT_TRUE(config->tcp_policy.proxy);
  EXPECT_EQ(config->tcp_policy.proxy->mode_name(), "public_only");

  config = config_with(GatewayMode::dev_proxy,
                       {{"AERO_PROXY_LISTEN_HOST", "::1"}, {"AERO_PROXY_PORT", "0"}, {"AERO_PROXY_OPEN", "true"},
                        {"AERO_PROXY_ALLOW", "a.test:1-2"}, {"AERO_PROXY_TCP_MUX_MAX_STREAMS", "7"},
                        {"AERO_PROXY_UDP_RELAY_INBOUND_FILTER_MODE", "full_cone"},
                        {"AERO_PROXY_UDP_RELAY_PREFER_V2", "1"}, {"AERO_PROXY_CONNECT_TIMEOUT_MS", "1234"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->host, "::1");
  EXPECT_EQ(config->port, 0);
  EXPECT_TRUE(config->tcp_policy.proxy->open);
  EXPECT_EQ(config->tcp_policy.proxy->allow.size(), 1U);
  EXPECT_EQ(config->mux_max_streams, 7U);
  EXPECT_TRUE(config->udp_inbound_filter_any);
  EXPECT_TRUE(config->udp_prefer_v2);
  EXPECT_EQ(config->tcp_connect_timeout.count(), 1234);

  for (const auto& [name, value] : std::map<std::string, std::string>{
           {"AERO_PROXY_PORT", "65536"}, {"AERO_PROXY_OPEN", "yes"}, {"AERO_PROXY_ALLOW", "a.test:"},
           {"AERO_PROXY_MAX_TCP_BUFFER_BYTES", "268435457"}, {"AERO_PROXY_DOH_MAX_QNAME_LENGTH", "254"},
           {"AERO_PROXY_UDP_RELAY_INBOUND_FILTER_MODE", "sometimes"}}) {
    config = config_with(GatewayMode::dev_proxy, {{name, value}});
    ASSERT_FALSE(config) << name;
    EXPECT_NE(config.error().message.find(name), std::string::npos) << config.error().message;
  }
  // The gateway ignores AERO_PROXY_*.
  config = config_with(GatewayMode::gateway, {{"AERO_PROXY_ALLOW", "a.test:"}});
  ASSERT_TRUE(config);
  EXPECT_FALSE(config->tcp_policy.proxy);
  EXPECT_TRUE(config->require_session);
}

TEST(RelayModes, TokenMux) {
  auto config = config_with(GatewayMode::token_mux, {});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("AERO_PROXY_AUTH_TOKEN"), std::string::npos);
  config = config_with(GatewayMode::token_mux,
                       {{"AERO_PROXY_AUTH_TOKEN", "t"}, {"AERO_PROXY_ALLOW_CIDRS", "192.168.0.0/16"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->host, "127.0.0.1");
  EXPECT_EQ(config->port, 8080);
  EXPECT_EQ(config->proxy_auth_token, "t");
  EXPECT_EQ(config->mux_max_streams, 256U);
  EXPECT_EQ(config->mux_max_frame_payload_bytes, 1048576U);
  EXPECT_EQ(config->tcp_policy.proxy->allow_private_cidrs.size(), 1U);
  EXPECT_NE(config_json(*config).find(R"("proxyAuthToken":"<set>")"), std::string::npos);
  EXPECT_EQ(config_json(*config).find(R"("t")"), std::string::npos);
  config = config_with(GatewayMode::token_mux, {{"AERO_PROXY_AUTH_TOKEN", "t"}, {"AERO_PROXY_ALLOW_CIDRS", "2001:db8::/32"}});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("AERO_PROXY_ALLOW_CIDRS"), std::string::npos);
  config = config_with(GatewayMode::token_mux, {{"AERO_PROXY_AUTH_TOKEN", std::string(4097, 'x')}});
  EXPECT_FALSE(config);
}

TEST(RelayModes, TokenCheck) {
  const std::vector<std::string_view> none;
  EXPECT_EQ(check_proxy_token("tok", std::string("tok"), none), std::nullopt);
  EXPECT_EQ(check_proxy_token("tok", std::nullopt, none)->status, 401U);
  EXPECT_EQ(check_proxy_token("tok", std::string("tok2"), none)->status, 403U);
  EXPECT_EQ(check_proxy_token("tok", std::string("to"), none)->status, 403U);
  const std::vector<std::string_view> bearer{"Bearer  tok "};
  EXPECT_EQ(check_proxy_token("tok", std::nullopt, bearer), std::nullopt);
  const std::vector<std::string_view> lower{"bearer tok"};
  EXPECT_EQ(check_proxy_token("tok", std::nullopt, lower), std::nullopt);
  const std::vector<std::string_view> repeated{"Bearer tok", "Bearer tok"};
  EXPECT_EQ(check_proxy_token("tok", std::nullopt, repeated)->status, 401U);
  const std::vector<std::string_view> basic{"Basic dG9r"};
  EXPECT_EQ(check_proxy_token("tok", std::nullopt, basic)->status, 401U);
  // The query wins over the header; an over-long query token counts as none.
  EXPECT_EQ(check_proxy_token("tok", std::string("bad"), bearer)->status, 403U);
  EXPECT_EQ(check_proxy_token("tok", std::string(4097, 'x'), bearer), std::nullopt);
}

}  // namespace
}  // namespace aero::gateway
