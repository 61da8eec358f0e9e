// aero-gateway core: configuration, /tcp targets and their egress decision, HTTP rules.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <filesystem>
#include <map>

#include "aero/services/gateway/config.h"
#include "aero/services/gateway/http_rules.h"
#include "aero/services/gateway/tcp_target.h"

namespace aero::gateway {
namespace {

Result<GatewayConfig> config_with(std::map<std::string, std::string, std::less<>> env) {
  return config_from_env([&env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

// ---- configuration ---------------------------------------------------------------------------

TEST(GatewayConfig, DefaultsAreAeros) {
  auto config = config_with({});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->host, "0.0.0.0");
  EXPECT_EQ(config->port, 8080);
  EXPECT_EQ(config->public_base_url, "http://localhost:8080");
  EXPECT_EQ(config->base_path, "");
  EXPECT_EQ(config->allowed_origins, std::vector<std::string>{"http://localhost:8080"});
  EXPECT_TRUE(config->session_secret_generated);
  EXPECT_EQ(config->session_secret.size(), 64U);
  EXPECT_EQ(config->session_ttl_seconds, 86400);
  EXPECT_EQ(config->same_site, SameSite::lax);
  EXPECT_EQ(config->tcp_max_connections, 64U);
  EXPECT_EQ(config->tcp_max_message_bytes, 1048576U);
  EXPECT_EQ(config->tcp_max_tcp_buffer_bytes, 10485760U);
  EXPECT_EQ(config->tcp_connect_timeout.count(), 10000);
  EXPECT_EQ(config->tcp_idle_timeout.count(), 300000);
  EXPECT_EQ(config->dns_upstreams, (std::vector<std::string>{"1.1.1.1:53", "8.8.8.8:53"}));
  EXPECT_EQ(config->dns_max_query_bytes, 4096U);
  EXPECT_EQ(config->dns_qps_per_ip, 10);
  EXPECT_EQ(config->dns_burst_per_ip, 20);
  EXPECT_EQ(config->version, "dev");
  EXPECT_EQ(config->git_sha, "dev");
  EXPECT_FALSE(config->udp_relay_base_url);
}

TEST(GatewayConfig, PublicBaseUrlGivesBasePathAndOrigin) {
  auto config = config_with({{"PUBLIC_BASE_URL", "HTTPS://Example.COM:443/aero/"}, {"PORT", "9000"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->base_path, "/aero");
  EXPECT_EQ(config->allowed_origins, std::vector<std::string>{"https://example.com"});
  EXPECT_EQ(config->port, 9000);
}

TEST(GatewayConfig, SessionSecretPrecedence) {
  auto config = config_with({{"AERO_GATEWAY_SESSION_SECRET", " first "}, {"SESSION_SECRET", "second"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->session_secret, "first");
  EXPECT_FALSE(config->session_secret_generated);
  config = config_with({{"SESSION_SECRET", "second"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->session_secret, "second");
}

TEST(GatewayConfig, ErrorsNameTheVariable) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"PORT", "65536"},
      {"PORT", "http"},
      {"SESSION_TTL_SECONDS", "0"},
      {"LOG_LEVEL", "loud"},
      {"ALLOWED_ORIGINS", "https://a.example/path"},
      {"PUBLIC_BASE_URL", "ftp://x"},
      {"TCP_ALLOWED_PORTS", "65536"},
      {"TCP_ALLOWED_HOSTS", "*"},
      {"TCP_BLOCKED_HOSTS", "a.*.b"},
      {"TCP_PROXY_MAX_MESSAGE_BYTES", "-1"},
      {"DNS_UPSTREAMS", "https://dns.example/dns-query"},
      {"DNS_UPSTREAMS", "2001:db8::1"},
      {"DNS_UPSTREAMS", "dns.example:53"},
      {"DNS_QPS_PER_IP", "fast"},
      {"CROSS_ORIGIN_ISOLATION", "yes please"},
      {"UDP_RELAY_BASE_URL", "ftp://relay"},
      {"UDP_RELAY_AUTH_MODE", "magic"},
  };
  for (const auto& [name, value] : bad) {
    auto config = config_with({{name, value}});
    ASSERT_FALSE(config) << name << "=" << value;
    EXPECT_EQ(config.error().kind, "bad_config");
    EXPECT_NE(config.error().message.find(name), std::string::npos) << config.error().message;
  }
}

TEST(GatewayConfig, UdpRelayCredentialsRequiredOnlyWithBaseUrl) {
  EXPECT_TRUE(config_with({{"UDP_RELAY_AUTH_MODE", "jwt"}}));
  auto config = config_with({{"UDP_RELAY_BASE_URL", "https://relay"}, {"UDP_RELAY_AUTH_MODE", "api_key"}});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("UDP_RELAY_API_KEY"), std::string::npos);
  config = config_with({{"UDP_RELAY_BASE_URL", "wss://relay.example///"}, {"UDP_RELAY_AUTH_MODE", "api_key"},
                        {"UDP_RELAY_API_KEY", "k"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(*config->udp_relay_base_url, "wss://relay.example");
}

// A throw-away directory with a self-signed P-256 certificate and key (PEM), made with OpenSSL.
class TlsFiles {
 public:
  TlsFiles() {
    char pattern[] = "/tmp/aero-gateway-tls-XXXXXX";
    directory_ = ::mkdtemp(pattern);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    EVP_PKEY* other = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    write("cert.pem", [&](BIO* bio) { PEM_write_bio_X509(bio, cert); });
    write("key.pem", [&](BIO* bio) { PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr); });
    write("other-key.pem", [&](BIO* bio) { PEM_write_bio_PrivateKey(bio, other, nullptr, nullptr, 0, nullptr, nullptr); });
    write("encrypted-key.pem", [&](BIO* bio) {
      static const char kPassphrase[] = "secret";
      PEM_write_bio_PrivateKey(bio, key, EVP_aes_128_cbc(), nullptr, 0, nullptr, const_cast<char*>(kPassphrase));
    });
    write("garbage.pem", [](BIO* bio) { BIO_puts(bio, "not PEM\n"); });
    X509_free(cert);
    EVP_PKEY_free(other);
    EVP_PKEY_free(key);
  }
  ~TlsFiles() { std::filesystem::remove_all(directory_); }
  TlsFiles(const TlsFiles&) = delete;
  TlsFiles& operator=(const TlsFiles&) = delete;

  std::string path(std::string_view file) const { return directory_ + "/" + std::string(file); }

 private:
  template <class Write>
  void write(std::string_view file, Write body) {
    BIO* bio = BIO_new_file(path(file).c_str(), "w");
    body(bio);
    BIO_free(bio);
  }
  std::string directory_;
};

TEST(GatewayConfig, TlsNeedsAMatchingCertificateAndKey) {
  auto config = config_with({{"TLS_ENABLED", "1"}});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("TLS_CERT_PATH"), std::string::npos);
  config = config_with({{"TLS_ENABLED", "1"}, {"TLS_CERT_PATH", "/nonexistent/cert"}, {"TLS_KEY_PATH", "/nonexistent/key"}});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("TLS_CERT_PATH: cannot read"), std::string::npos);

  const TlsFiles files;
  config = config_with({{"TLS_ENABLED", "1"}, {"TLS_CERT_PATH", files.path("cert.pem")}, {"TLS_KEY_PATH", files.path("key.pem")}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(config->tls_enabled);
  EXPECT_EQ(config->public_base_url, "https://localhost:8080");  // https by default with TLS
  EXPECT_EQ(config->allowed_origins, std::vector<std::string>{"https://localhost:8080"});

  const std::vector<std::pair<std::map<std::string, std::string, std::less<>>, std::string>> refused = {
      {{{"TLS_CERT_PATH", files.path("cert.pem")}}, "TLS_KEY_PATH: required"},
      {{{"TLS_KEY_PATH", files.path("key.pem")}}, "TLS_CERT_PATH: required"},
      {{{"TLS_CERT_PATH", files.path("cert.pem")}, {"TLS_KEY_PATH", files.path("missing.pem")}}, "TLS_KEY_PATH: cannot read"},
      {{{"TLS_CERT_PATH", files.path("garbage.pem")}, {"TLS_KEY_PATH", files.path("key.pem")}}, "TLS_CERT_PATH: "},
      {{{"TLS_CERT_PATH", files.path("key.pem")}, {"TLS_KEY_PATH", files.path("key.pem")}}, "TLS_CERT_PATH: "},
      {{{"TLS_CERT_PATH", files.path("cert.pem")}, {"TLS_KEY_PATH", files.path("garbage.pem")}}, "TLS_KEY_PATH: "},
      {{{"TLS_CERT_PATH", files.path("cert.pem")}, {"TLS_KEY_PATH", files.path("encrypted-key.pem")}}, "TLS_KEY_PATH: "},
      {{{"TLS_CERT_PATH", files.path("cert.pem")}, {"TLS_KEY_PATH", files.path("other-key.pem")}},
       "TLS_KEY_PATH: the key in"},
  };
  for (auto [env, expected] : refused) {
    env["TLS_ENABLED"] = "1";
    config = config_with(env);
    ASSERT_FALSE(config) << expected;
    EXPECT_NE(config.error().message.find(expected), std::string::npos) << config.error().message;
  }
  // TLS_ENABLED=0 ignores the paths.
  config = config_with({{"TLS_ENABLED", "0"}, {"TLS_CERT_PATH", "/nonexistent"}});
  ASSERT_TRUE(config);
  EXPECT_FALSE(config->tls_enabled);
  EXPECT_EQ(config->public_base_url, "http://localhost:8080");
}

TEST(GatewayConfig, DnsRequireSessionSwitch) {
  auto config = config_with({});
  ASSERT_TRUE(config);
  EXPECT_TRUE(config->dns_require_session);
  config = config_with({{"DNS_REQUIRE_SESSION", "0"}});
  ASSERT_TRUE(config);
  EXPECT_FALSE(config->dns_require_session);
  config = config_with({{"DNS_REQUIRE_SESSION", "maybe"}});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("DNS_REQUIRE_SESSION"), std::string::npos);
}

TEST(GatewayConfig, DnsUpstreamForms) {
  EXPECT_EQ(*parse_dns_upstream("1.1.1.1"), "1.1.1.1:53");
  EXPECT_EQ(*parse_dns_upstream("udp://127.0.0.1:5353"), "127.0.0.1:5353");
  EXPECT_EQ(*parse_dns_upstream("[2001:DB8::1]:5353"), "[2001:db8::1]:5353");
  EXPECT_EQ(*parse_dns_upstream("[::1]"), "[::1]:53");
  EXPECT_FALSE(parse_dns_upstream("::1"));
  EXPECT_FALSE(parse_dns_upstream("1.1.1.1:0"));
  EXPECT_FALSE(parse_dns_upstream("1.1.1.1:"));
  EXPECT_FALSE(parse_dns_upstream("[::1"));
  EXPECT_FALSE(parse_dns_upstream(std::string(5000, '1')));
}

TEST(GatewayConfig, ListsAreTrimmedAndCapped) {
  auto config = config_with({{"TCP_ALLOWED_PORTS", " 443, ,80 ,"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->tcp_policy.allowed_ports, (std::vector<std::uint16_t>{443, 80}));
  std::string many;
  for (int i = 0; i < 1025; ++i) many += "1,";
  EXPECT_FALSE(config_with({{"TCP_ALLOWED_PORTS", many}}));
  EXPECT_FALSE(config_with({{"TCP_BLOCKED_CLIENT_IPS", std::string(70000, 'a')}}));
}

TEST(GatewayConfig, JsonHidesSecrets) {
  auto config = config_with({{"AERO_GATEWAY_SESSION_SECRET", "topsecret"}});
  ASSERT_TRUE(config);
  const std::string json = config_json(*config);
  EXPECT_EQ(json.find("topsecret"), std::string::npos);
  EXPECT_NE(json.find("\"sessionSecret\":\"<set>\""), std::string::npos);
}

// ---- targets ---------------------------------------------------------------------------------

TEST(GatewayTarget, Ipv4InetAtonForms) {
  const std::vector<std::pair<std::string, std::string>> good{
      {"127.0.0.1", "127.0.0.1"}, {"0x7f.0.0.1", "127.0.0.1"}, {"0177.0.0.1", "127.0.0.1"},
      {"127.1", "127.0.0.1"},     {"2130706433", "127.0.0.1"}, {"4294967295", "255.255.255.255"},
      {"10.0.0.1.", "10.0.0.1"},  {"192.168.257", "192.168.1.1"}, {"0x0A000001", "10.0.0.1"}};
  for (const auto& [text, expected] : good) {
    auto address = parse_ipv4_loose(text);
    ASSERT_TRUE(address) << text;
    EXPECT_EQ(address->to_string(), expected) << text;
  }
  for (const char* bad : {"", "256.0.0.1", "4294967296", "1.2.3.4.5", "08.0.0.1", "1..2", "127.1.", "a.b.c.d"}) {
    EXPECT_FALSE(parse_ipv4_loose(bad)) << bad;
  }
}

TEST(GatewayTarget, HostnameNormalization) {
  EXPECT_EQ(*normalize_hostname(" Example.COM.. "), "example.com");
  EXPECT_EQ(*normalize_hostname("xn--bcher-kva.example"), "xn--bcher-kva.example");
  EXPECT_FALSE(normalize_hostname("-a.example"));
  EXPECT_FALSE(normalize_hostname("a-.example"));
  EXPECT_FALSE(normalize_hostname("a..example"));
  EXPECT_FALSE(normalize_hostname("a_b.example"));
  EXPECT_FALSE(normalize_hostname("b\xc3\xbc" "cher.example"));
  EXPECT_FALSE(normalize_hostname(std::string(64, 'a') + ".example"));
  EXPECT_FALSE(normalize_hostname(std::string(250, 'a') + ".example"));
  EXPECT_FALSE(normalize_hostname(""));
}

TEST(GatewayTarget, Classification) {
  EXPECT_EQ(classify_host("[::FFFF:127.0.0.1]").normalized, "::ffff:7f00:1");
  EXPECT_EQ(classify_host("[::FFFF:127.0.0.1]").kind, ClassifiedHost::Kind::ipv6);
  EXPECT_EQ(classify_host("0x7f.1").normalized, "127.0.0.1");
  EXPECT_EQ(classify_host("Example.com").kind, ClassifiedHost::Kind::name);
  EXPECT_EQ(classify_host("example.1").kind, ClassifiedHost::Kind::invalid);
  EXPECT_EQ(classify_host("[example.com]").kind, ClassifiedHost::Kind::invalid);
  EXPECT_EQ(classify_host("[::ffff:127.0.0.01]").kind, ClassifiedHost::Kind::invalid);
  EXPECT_EQ(classify_host(std::string(129, ':')).kind, ClassifiedHost::Kind::invalid);
}

TEST(GatewayTarget, QueryForms) {
  TcpTarget target;
  EXPECT_FALSE(parse_tcp_query("host=example.com&port=443", target));
  EXPECT_EQ(target.host, "example.com");
  EXPECT_EQ(target.port, 443);
  EXPECT_FALSE(parse_tcp_query("v=1&target=%5B2001%3Adb8%3A%3A1%5D%3A80&host=x&port=1", target));
  EXPECT_EQ(target.host, "2001:db8::1");
  EXPECT_EQ(target.port, 80);
  EXPECT_FALSE(parse_tcp_query("v=&host=[::1]&port=22", target));
  EXPECT_EQ(target.host, "::1");

  auto rejected = [](std::string_view query) {
    TcpTarget t;
    auto rejection = parse_tcp_query(query, t);
    return rejection ? rejection->status * 1000 + 0 : 0U;
  };
  for (const char* query :
       {"v=2&host=a&port=1", "host=a", "port=1", "target=a", "target=a:", "target=::1:80", "target=[::1]80",
        "target=[]:80", "target=a]:80", "host=[::1&port=1", "host=::1]&port=1", "host=[]&port=1", "host=a&port=0",
        "host=a&port=65536", "host=a&port=+80", "host=a&port=80.0", "host=a&port=00000000000000080"}) {
    EXPECT_EQ(rejected(query), 400000U) << query;
  }
  TcpTarget t;
  EXPECT_EQ(parse_tcp_query("host=a", t)->message, "Missing required query parameter: port");
  EXPECT_EQ(parse_tcp_query("port=1", t)->message, "Missing required query parameter: host");
  EXPECT_EQ(parse_tcp_query("v=2", t)->message, "Unsupported TCP proxy protocol version");
  EXPECT_TRUE(parse_tcp_query("host=" + std::string(1025, 'a') + "&port=1", t));
  EXPECT_TRUE(parse_tcp_query("target=" + std::string(1057, 'a') + ":1", t));
  EXPECT_TRUE(parse_tcp_query("v=" + std::string(17, '1') + "&host=a&port=1", t));
}

TEST(GatewayTarget, PatternsMatchAsSpecified) {
  const auto wildcard = *parse_host_pattern("*.Example.com");
  EXPECT_TRUE(wildcard.matches(classify_host("a.example.com")));
  EXPECT_TRUE(wildcard.matches(classify_host("b.a.example.com")));
  EXPECT_FALSE(wildcard.matches(classify_host("example.com")));
  EXPECT_FALSE(wildcard.matches(classify_host("badexample.com")));
  const auto ip = *parse_host_pattern("0x7f.0.0.1");
  EXPECT_TRUE(ip.matches(classify_host("127.0.0.1")));
  EXPECT_FALSE(ip.matches(classify_host("localhost")));
  EXPECT_FALSE(parse_host_pattern("*"));
  EXPECT_FALSE(parse_host_pattern("a.*.com"));
  EXPECT_FALSE(parse_host_pattern("*example.com"));
}

TEST(GatewayTarget, DecisionOrder) {
  TcpPolicy policy;
  policy.allowed_ports = {443};
  policy.allowed_hosts = {*parse_host_pattern("*.allowed.test"), *parse_host_pattern("8.8.8.8")};
  policy.blocked_hosts = {*parse_host_pattern("bad.allowed.test")};
  auto status = [&policy](std::string host, std::uint16_t port) {
    const TargetPlan plan = plan_target(policy, TcpTarget{std::move(host), port});
    return plan.rejection ? plan.rejection->message : std::string("ok");
  };
  EXPECT_EQ(status("bad_host!", 80), "Target port not allowed");  // port first
  EXPECT_EQ(status("bad_host!", 443), "Invalid host");
  EXPECT_EQ(status("bad.allowed.test", 443), "Target is blocked");
  EXPECT_EQ(status("other.test", 443), "Target host not allowed");
  EXPECT_EQ(status("a.allowed.test", 443), "ok");
  EXPECT_EQ(status("8.8.8.8", 443), "ok");
  policy.allowed_hosts.push_back(*parse_host_pattern("10.0.0.1"));
  EXPECT_EQ(status("10.0.0.1", 443), "Target IP is not allowed by IP egress policy");
  policy.allow_private_ips = true;
  EXPECT_EQ(status("10.0.0.1", 443), "ok");
  policy.require_dns_name = true;
  EXPECT_EQ(status("8.8.8.8", 443), "IP-literal targets are not allowed");

  const TargetPlan plan = plan_target(TcpPolicy{}, TcpTarget{"A.allowed.test.", 1});
  EXPECT_EQ(plan.resolve_name, "a.allowed.test");
  EXPECT_FALSE(plan.dial);
}

TEST(GatewayTarget, EveryDeniedRangeIsRefused) {
  const TcpPolicy policy;
  for (const char* host :
       {"0.0.0.0", "10.1.2.3", "100.64.0.1", "127.0.0.1", "169.254.169.254", "172.16.0.1", "192.168.0.1", "192.0.0.1",
        "192.0.2.1", "198.51.100.1", "203.0.113.1", "198.18.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::",
        "::1", "ff02::1", "fe80::1", "fc00::1", "2001:db8::1", "::ffff:10.0.0.1", "::10.0.0.1"}) {
    const TargetPlan plan = plan_target(policy, TcpTarget{host, 80});
    ASSERT_TRUE(plan.rejection) << host;
    EXPECT_EQ(plan.rejection->status, 403U) << host;
    EXPECT_EQ(plan.rejection->reason, "ip_policy") << host;
  }
  EXPECT_TRUE(plan_target(policy, TcpTarget{"93.184.216.34", 80}).dial);
  EXPECT_TRUE(plan_target(policy, TcpTarget{"2606:2800:220:1::1", 80}).dial);
}

TEST(GatewayTarget, PickAddressSkipsPrivateAnswers) {
  const TcpPolicy policy;
  const std::vector<IpAddress> addresses{*IpAddress::parse("10.0.0.1"), *IpAddress::parse("93.184.216.34"),
                                         *IpAddress::parse("1.1.1.1")};
  const AddressChoice choice = pick_address(policy, addresses);
  ASSERT_TRUE(choice.address);
  EXPECT_EQ(choice.address->to_string(), "93.184.216.34");
  const std::vector<IpAddress> only_private{*IpAddress::parse("127.0.0.1"), *IpAddress::parse("::1")};
  EXPECT_EQ(pick_address(policy, only_private).rejection->status, 403U);
  EXPECT_EQ(pick_address(policy, {}).rejection->status, 502U);
  EXPECT_EQ(pick_address(policy, {}).rejection->message, "DNS lookup failed");
}

// ---- HTTP rules ------------------------------------------------------------------------------

std::optional<Rejection> handshake(std::vector<Header> headers) { return check_websocket_handshake(headers); }

TEST(GatewayHttp, WebSocketHandshakeChecks) {
  const std::vector<Header> good{{"Upgrade", "h2c, WebSocket"}, {"Connection", "keep-alive, Upgrade"},
                                 {"Sec-WebSocket-Version", " 13 "}, {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  EXPECT_FALSE(handshake(good));
  auto with = [&good](std::string_view name, std::string_view value) {
    std::vector<Header> h;
    for (const auto& header : good) {
      if (header.first != name) h.push_back(header);
    }
    if (!value.empty()) h.emplace_back(name, value);
    return h;
  };
  EXPECT_EQ(handshake(with("Upgrade", "websockets"))->message, "Invalid WebSocket upgrade");
  EXPECT_EQ(handshake(with("Connection", "close"))->message, "Invalid WebSocket upgrade");
  EXPECT_EQ(handshake(with("Sec-WebSocket-Version", "8"))->message, "Invalid WebSocket upgrade");
  EXPECT_EQ(handshake(with("Sec-WebSocket-Key", "  "))->message, "Missing required header: Sec-WebSocket-Key");
  EXPECT_EQ(handshake(with("Sec-WebSocket-Key", ""))->message, "Missing required header: Sec-WebSocket-Key");
  EXPECT_EQ(handshake(with("Upgrade", std::string(257, 'w')))->status, 400U);
  auto repeated = good;
  repeated.emplace_back("upgrade", "websocket");
  EXPECT_EQ(handshake(repeated)->message, "Invalid WebSocket upgrade");
}

TEST(GatewayHttp, FirstSessionCookieWins) {
  std::vector<std::string_view> headers{"a=1; aero_session=first%2Etoken ; aero_session=second", "aero_session=third"};
  EXPECT_EQ(*session_cookie(headers), "first.token");
  headers = {"aero_session=; aero_session=second"};
  EXPECT_FALSE(session_cookie(headers));
  headers = {"Aero_Session=x", "aero_session=y"};
  EXPECT_EQ(*session_cookie(headers), "y");
  const std::string huge = "aero_session=" + std::string(16400, 'a');
  headers = {huge, "aero_session=later"};
  EXPECT_FALSE(session_cookie(headers));
  const std::string long_value = "aero_session=" + std::string(5000, 'b');
  headers = {long_value};
  EXPECT_EQ(session_cookie(headers)->size(), kMaxCookieValueChars);
  headers = {"aero_session=bad%zzescape"};
  EXPECT_EQ(*session_cookie(headers), "bad%zzescape");
}

TEST(GatewayHttp, ClientIpAndSecureRequests) {
  std::vector<std::string_view> xff{" 203.0.113.7 , 10.0.0.1", "198.51.100.1"};
  EXPECT_EQ(client_ip("127.0.0.1", xff, false), "127.0.0.1");
  EXPECT_EQ(client_ip("127.0.0.1", xff, true), "203.0.113.7");
  std::vector<std::string_view> proto{"HTTPS, http"};
  EXPECT_TRUE(request_is_secure(false, true, proto));
  EXPECT_FALSE(request_is_secure(false, false, proto));
  EXPECT_TRUE(request_is_secure(true, false, {}));
  proto = {"http, https"};
  EXPECT_FALSE(request_is_secure(false, true, proto));
}

TEST(GatewayHttp, OriginGuard) {
  GatewayConfig config;
  config.allowed_origins = {"https://app.example"};
  std::vector<std::string_view> hosts{"gw.example"};
  std::vector<std::string_view> origins{"https://APP.example:443"};
  OriginVerdict verdict = check_origin(config, origins, hosts, false);
  EXPECT_TRUE(verdict.allowed);
  EXPECT_EQ(*verdict.normalized, "https://app.example");
  origins = {"https://app.example", "https://app.example"};
  EXPECT_FALSE(check_origin(config, origins, hosts, false).allowed);
  origins = {"https://evil.example"};
  EXPECT_FALSE(check_origin(config, origins, hosts, false).allowed);
  EXPECT_TRUE(check_origin(config, {}, hosts, true).allowed);  // no Origin: non-browser clients
  config.allowed_origins.clear();
  origins = {"http://gw.example"};
  EXPECT_TRUE(check_origin(config, origins, hosts, false).allowed);  // same host
  EXPECT_FALSE(check_origin(config, origins, hosts, true).allowed);  // upgrades: empty list denies
}

TEST(GatewayHttp, PreflightHeaders) {
  auto headers = cors_headers("https://a.example", true, std::string_view("X-One, x-two"));
  std::map<std::string, std::string> map(headers.begin(), headers.end());
  EXPECT_EQ(map["Access-Control-Allow-Headers"], "Content-Type, X-One, x-two");
  EXPECT_EQ(map["Access-Control-Allow-Methods"], "GET,POST,PUT,PATCH,DELETE,OPTIONS");
  EXPECT_EQ(map["Access-Control-Max-Age"], "600");
  headers = cors_headers("https://a.example", true, std::string_view("content-type, x"));
  map = {headers.begin(), headers.end()};
  EXPECT_EQ(map["Access-Control-Allow-Headers"], "content-type, x");
  headers = cors_headers("https://a.example", true, std::string_view("bad\"header"));
  map = {headers.begin(), headers.end()};
  EXPECT_EQ(map["Access-Control-Allow-Headers"], "Content-Type");
  EXPECT_EQ(cors_headers("https://a.example", false, std::nullopt).size(), 4U);
}

TEST(GatewayHttp, OneLineMessages) {
  EXPECT_EQ(one_line("  a\r\n\tb\x7f  c \xc2\x85 d\xe2\x80\xa8" "e ", 512), "a b c d e");
  EXPECT_EQ(one_line("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9");
  EXPECT_EQ(one_line(std::string(600, 'x'), 512).size(), 512U);
}

TEST(GatewayHttp, SecurityHeadersAndRequestIds) {
  GatewayConfig config;
  auto headers = security_headers(config, std::string_view("abc-123"));
  EXPECT_EQ(headers.front(), (std::pair<std::string, std::string>{"x-request-id", "abc-123"}));
  EXPECT_EQ(headers.size(), 5U);
  headers = security_headers(config, std::string_view("bad id"));
  EXPECT_EQ(headers.front().second.size(), 36U);
  config.cross_origin_isolation = true;
  EXPECT_EQ(security_headers(config, std::nullopt).size(), 9U);
}

TEST(GatewayHttp, QueryParametersAndRoutes) {
  EXPECT_EQ(*query_param("a=1&b=x%20y+z&b=2", "b"), "x y z");
  EXPECT_EQ(*query_param("flag&a=1", "flag"), "");
  EXPECT_FALSE(query_param("a=1", "b"));
  EXPECT_FALSE(query_param("a=%zz", "a"));
  EXPECT_EQ(route_path("/aero/tcp", "/aero"), "/tcp");
  EXPECT_EQ(route_path("/aerotcp", "/aero"), "/aerotcp");
  EXPECT_EQ(route_path("/tcp", ""), "/tcp");
  EXPECT_EQ(json_error("x", "a \"quoted\" text"), R"({"error":"x","message":"a \"quoted\" text"})");
  EXPECT_EQ(reason_phrase(414), "URI Too Long");
}

}  // namespace
}  // namespace aero::gateway
