// The egress policy: special-purpose ranges, CIDR lists, ports, domains, configuration.
#include "aero/stack/egress_policy.h"

#include <gtest/gtest.h>

#include <map>

namespace aero::stack {
namespace {

Ipv4Address ip(std::string_view text) { return Ipv4Address::parse(text).value(); }
Ipv6Address ip6(std::string_view text) { return Ipv6Address::parse(text).value(); }

struct RangeCase {
  const char* first;
  const char* last;
  const char* just_outside;  // nullptr when the range touches another denied range
  const char* name;
};

// Every IPv4 range the policy refuses by default, probed at both ends and just outside.
const RangeCase kDeniedRanges[] = {
    {"0.0.0.0", "0.255.255.255", "1.0.0.0", "this_network"},
    {"10.0.0.0", "10.255.255.255", "11.0.0.0", "private"},
    {"100.64.0.0", "100.127.255.255", "100.128.0.0", "shared_cgnat"},
    {"127.0.0.0", "127.255.255.255", "128.0.0.0", "loopback"},
    {"169.254.0.0", "169.254.255.255", "169.255.0.0", "link_local"},
    {"172.16.0.0", "172.31.255.255", "172.32.0.0", "private"},
    {"192.0.0.0", "192.0.0.255", "192.0.1.0", "ietf_protocol"},
    {"192.0.2.0", "192.0.2.255", "192.0.3.0", "documentation"},
    {"192.88.99.0", "192.88.99.255", "192.88.100.0", "relay_anycast"},
    {"192.168.0.0", "192.168.255.255", "192.169.0.0", "private"},
    {"198.18.0.0", "198.19.255.255", "198.20.0.0", "benchmarking"},
    {"198.51.100.0", "198.51.100.255", "198.51.101.0", "documentation"},
    {"203.0.113.0", "203.0.113.255", "203.0.114.0", "documentation"},
    {"224.0.0.0", "239.255.255.255", nullptr, "multicast"},
    {"240.0.0.0", "255.255.255.254", nullptr, "reserved"},
};

class DeniedRange : public testing::TestWithParam<RangeCase> {};

TEST_P(DeniedRange, IsRefusedByDefaultAndOpenedByAllowPrivate) {
  const auto& range = GetParam();
  const EgressPolicy policy;
  for (const char* address : {range.first, range.last}) {
    const Decision decision = policy.check_address(ip(address));
    EXPECT_FALSE(decision.allowed) << address;
    EXPECT_EQ(decision.reason, "special_purpose") << address;
    EXPECT_EQ(decision.detail, range.name) << address;
    EXPECT_FALSE(policy.check_tcp(ip(address), 443).allowed);
    EXPECT_FALSE(policy.check_udp(ip(address), 53).allowed);
  }
  if (range.just_outside != nullptr) {
    EXPECT_TRUE(policy.check_address(ip(range.just_outside)).allowed) << range.just_outside;
  }
  EgressPolicyConfig open_config;
  open_config.allow_private = true;
  const EgressPolicy open(open_config);
  EXPECT_TRUE(open.check_address(ip(range.first)).allowed);
}

INSTANTIATE_TEST_SUITE_P(Ipv4, DeniedRange, testing::ValuesIn(kDeniedRanges),
                         [](const testing::TestParamInfo<RangeCase>& param) {
                           std::string name = param.param.first;
                           for (char& c : name) c = (c == '.') ? '_' : c;
                           return name;
                         });

TEST(EgressPolicy, LimitedBroadcastIsDenied) {
  EXPECT_EQ(EgressPolicy().check_address(ip("255.255.255.255")).reason, "special_purpose");
}

TEST(EgressPolicy, PublicAddressesAreAllowed) {
  const EgressPolicy policy;
  for (const char* address : {"1.1.1.1", "8.8.8.8", "93.184.216.34", "223.255.255.255"}) {
    EXPECT_TRUE(policy.check_address(ip(address)).allowed) << address;
  }
}

TEST(EgressPolicy, Ipv6SpecialRangesAndEmbeddedIpv4) {
  const EgressPolicy policy;
  for (const char* address : {"::", "::1", "fe80::1", "fd00::1", "ff02::1", "2001:db8::1",
                              "::ffff:127.0.0.1", "::ffff:10.1.2.3", "64:ff9b::a00:1",
                              "2002:7f00:1::", "fec0::1", "100::1", "2001::1"}) {
    EXPECT_FALSE(policy.check_address(ip6(address)).allowed) << address;
  }
  EXPECT_EQ(policy.check_address(ip6("::ffff:127.0.0.1")).detail, "loopback");
  EXPECT_TRUE(policy.check_address(ip6("2606:4700:4700::1111")).allowed);
}

TEST(EgressPolicy, DenyCidrWinsThenAllowCidrRestricts) {
  EgressPolicyConfig config;
  config.allow_cidrs = {Ipv4Cidr::parse("10.9.0.0/16").value(), Ipv4Cidr::parse("8.8.8.0/24").value()};
  config.deny_cidrs = {Ipv4Cidr::parse("8.8.8.8").value()};
  const EgressPolicy policy(config);
  EXPECT_TRUE(policy.check_address(ip("10.9.1.1")).allowed) << "explicit allow opens a private range";
  EXPECT_TRUE(policy.check_address(ip("8.8.8.4")).allowed);
  EXPECT_EQ(policy.check_address(ip("8.8.8.8")).reason, "denied_cidr");
  EXPECT_EQ(policy.check_address(ip("1.1.1.1")).reason, "not_in_allow_list");
}

TEST(EgressPolicy, Ports) {
  EgressPolicyConfig config;
  config.tcp_ports = std::vector<std::uint16_t>{80, 443};
  config.udp_ports = std::vector<std::uint16_t>{};
  const EgressPolicy policy(config);
  EXPECT_TRUE(policy.check_tcp(ip("1.1.1.1"), 443).allowed);
  EXPECT_EQ(policy.check_tcp(ip("1.1.1.1"), 22).reason, "port_not_allowed");
  EXPECT_EQ(policy.check_udp(ip("1.1.1.1"), 53).reason, "port_not_allowed") << "set but empty";
  EXPECT_FALSE(EgressPolicy().check_tcp_port(0).allowed) << "port 0 is never dialled";
  EXPECT_TRUE(EgressPolicy().check_udp_port(65535).allowed);
}

TEST(EgressPolicy, DomainSuffixRules) {
  EgressPolicyConfig config;
  config.allowed_domains = {".Example.COM.", "test"};
  config.blocked_domains = {"bad.example.com", ""};
  const EgressPolicy policy(config);
  EXPECT_TRUE(policy.check_domain("example.com").allowed);
  EXPECT_TRUE(policy.check_domain("WWW.example.com.").allowed);
  EXPECT_TRUE(policy.check_domain("a.test").allowed);
  EXPECT_EQ(policy.check_domain("bad.example.com").reason, "domain_blocked");
  EXPECT_EQ(policy.check_domain("x.bad.example.com").reason, "domain_blocked");
  EXPECT_EQ(policy.check_domain("notexample.com").reason, "domain_not_allowed");
  EXPECT_EQ(policy.check_domain("attest").reason, "domain_not_allowed");
  EXPECT_EQ(policy.check_domain("...").reason, "bad_domain");
  EXPECT_TRUE(EgressPolicy().check_domain("anything.org").allowed);
}

TEST(EgressPolicy, DisabledDeniesEverything) {
  EgressPolicyConfig config;
  config.enabled = false;
  const EgressPolicy policy(config);
  EXPECT_EQ(policy.check_address(ip("1.1.1.1")).reason, "network_disabled");
  EXPECT_EQ(policy.check_domain("example.com").reason, "network_disabled");
  EXPECT_EQ(policy.check_tcp_port(80).reason, "network_disabled");
}

TEST(Cidr, ParsesAndRejects) {
  EXPECT_EQ(Ipv4Cidr::parse("10.0.0.0/8")->prefix_length, 8);
  EXPECT_EQ(Ipv4Cidr::parse("1.2.3.4")->prefix_length, 32);
  EXPECT_TRUE(Ipv4Cidr::parse("0.0.0.0/0")->contains(ip("255.1.2.3")));
  EXPECT_FALSE(Ipv4Cidr::parse("10.0.0.1/8").has_value()) << "host bits set";
  EXPECT_FALSE(Ipv4Cidr::parse("10.0.0.0/33").has_value());
  EXPECT_FALSE(Ipv4Cidr::parse("10.0.0.0/").has_value());
  EXPECT_FALSE(Ipv4Cidr::parse("10.0.0.0/08").has_value());
  EXPECT_FALSE(Ipv4Cidr::parse("10.0.0/8").has_value());
  EXPECT_TRUE(Ipv6Cidr::parse("fc00::/7")->contains(ip6("fdff::1")));
  EXPECT_FALSE(Ipv6Cidr::parse("fc00::/7")->contains(ip6("fe00::1")));
  EXPECT_FALSE(Ipv6Cidr::parse("fc00::1/7").has_value());
  EXPECT_FALSE(Ipv6Cidr::parse("::/129").has_value());
}

TEST(EgressPolicyFromEnv, ReadsAerosVariables) {
  const std::map<std::string, std::string> env = {
      {"AERO_L2_ALLOW_PRIVATE_IPS", " Yes "},
      {"AERO_L2_ALLOWED_TCP_PORTS", "80, 443"},
      {"AERO_L2_ALLOWED_UDP_PORTS", ""},
      {"AERO_L2_ALLOWED_DOMAINS", "example.com,.test."},
      {"AERO_L2_DENIED_CIDRS", "1.2.3.0/24"},
  };
  auto config = egress_policy_from_env([&](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_TRUE(config->allow_private);
  EXPECT_EQ(config->tcp_ports, (std::vector<std::uint16_t>{80, 443}));
  ASSERT_TRUE(config->udp_ports.has_value());
  EXPECT_TRUE(config->udp_ports->empty());
  EXPECT_EQ(config->allowed_domains, (std::vector<std::string>{"example.com", "test"}));
  EXPECT_EQ(config->deny_cidrs.size(), 1U);
  EXPECT_TRUE(config->allow_cidrs.empty());
}

TEST(EgressPolicyFromEnv, MalformedEntriesNameTheVariable) {
  auto lookup_with = [](std::string name, std::string value) {
    return [name, value](std::string_view asked) -> std::optional<std::string> {
      if (asked == name) return value;
      return std::nullopt;
    };
  };
  auto bad_port = egress_policy_from_env(lookup_with("AERO_L2_ALLOWED_TCP_PORTS", "80,http"));
  ASSERT_FALSE(bad_port.ok());
  EXPECT_NE(bad_port.error().message.find("AERO_L2_ALLOWED_TCP_PORTS"), std::string::npos);
  EXPECT_FALSE(egress_policy_from_env(lookup_with("AERO_L2_ALLOWED_UDP_PORTS", "0")).ok());
  EXPECT_FALSE(egress_policy_from_env(lookup_with("AERO_L2_ALLOWED_UDP_PORTS", "65536")).ok());
  EXPECT_FALSE(egress_policy_from_env(lookup_with("AERO_L2_ALLOWED_CIDRS", "10.0.0.1/8")).ok());
  EXPECT_FALSE(egress_policy_from_env(lookup_with("AERO_L2_BLOCKED_DOMAINS", "a,..")).ok());
  EXPECT_FALSE(egress_policy_from_env(lookup_with("AERO_L2_ALLOW_PRIVATE_IPS", "0"))->allow_private);
}

TEST(ParseEnvBool, AcceptsAerosSpellings) {
  for (const char* yes : {"1", "true", "TRUE", "yes", "on", " On "}) EXPECT_TRUE(parse_env_bool(yes));
  for (const char* no : {"0", "false", "", "2", "enabled"}) EXPECT_FALSE(parse_env_bool(no));
}

}  // namespace
}  // namespace aero::stack
