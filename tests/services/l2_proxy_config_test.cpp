// aero-l2-proxy configuration from the environment: defaults, aliases, precedence, clamps, and
// refusals that name the variable.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "aero/services/l2_proxy/config.h"

namespace aero::l2proxy {
namespace {

using Env = std::map<std::string, std::string, std::less<>>;

Result<ProxyConfig> load(const Env& env) {
  return config_from_env(
      [&env](std::string_view name) -> std::optional<std::string> {
        if (auto it = env.find(name); it != env.end()) return it->second;
        return std::nullopt;
      },
      "1.2.3");
}

// The smallest environment that starts: an API key.
Env with_key(Env env = {}) {
  env.emplace("AERO_L2_API_KEY", "key");
  return env;
}

void expect_error_naming(const Env& env, std::string_view variable) {
  auto config = load(env);
  ASSERT_FALSE(config) << "expected a refusal naming " << variable;
  EXPECT_EQ(config.error().kind, "bad_config");
  EXPECT_NE(config.error().message.find(variable), std::string::npos) << config.error().message;
}

TEST(L2ProxyConfig, DefaultsAreAeros) {
  auto config = load(with_key());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->listen_host, "0.0.0.0");
  EXPECT_EQ(config->listen_port, 8090);
  EXPECT_EQ(config->shutdown_grace.count(), 3000);
  EXPECT_EQ(config->max_frame_payload, 2048U);
  EXPECT_EQ(config->max_control_payload, 256U);
  EXPECT_EQ(config->max_message_size(), 2052U);
  EXPECT_EQ(config->ping_interval.count(), 0);
  EXPECT_EQ(config->idle_timeout.count(), 0);
  EXPECT_EQ(config->ws_send_buffer, 64U);
  EXPECT_EQ(config->tcp_send_buffer, 32U);
  EXPECT_EQ(config->max_connections, 64U);
  EXPECT_EQ(config->max_connections_per_session, 0U);
  EXPECT_EQ(config->max_connections_per_ip, 0U);
  EXPECT_EQ(config->max_bytes_per_connection, 0U);
  EXPECT_EQ(config->max_frames_per_second, 0U);
  EXPECT_EQ(config->capture_max_bytes, 64ULL << 20);
  EXPECT_EQ(config->capture_flush_interval.count(), 1000);
  EXPECT_TRUE(config->capture_dir.empty());
  EXPECT_FALSE(config->open);
  EXPECT_TRUE(config->allowed_origins.empty());
  EXPECT_TRUE(config->allowed_hosts.empty());
  EXPECT_EQ(config->stack.tcp.max_connections, 1024U);
  EXPECT_EQ(config->stack.tcp.receive_buffer, 262144U);
  EXPECT_EQ(config->stack.tcp.connect_timeout.count(), 5000);
  EXPECT_EQ(config->stack.max_udp_flows, 256U);
  EXPECT_EQ(config->stack.udp_idle_timeout.count(), 60000);
  EXPECT_EQ(config->stack.max_pending_dns, 1024U);
  EXPECT_EQ(config->stack.max_dns_cache_entries, 10000U);
  EXPECT_EQ(config->stack.dns_timeout.count(), 2000);
  EXPECT_EQ(config->stack.dns_default_ttl.count(), 60);
  EXPECT_EQ(config->stack.dns_max_ttl.count(), 300);
  EXPECT_FALSE(config->stack.policy.allow_private);
  EXPECT_EQ(config->version, "1.2.3");
  EXPECT_EQ(config->git_sha, "dev");
  EXPECT_EQ(config->built_at, "");
  EXPECT_GE(config->worker_threads, 1U);
  EXPECT_EQ(config->log_level, LogLevel::info);
}

TEST(L2ProxyConfig, RefusesToStartWithoutAuthentication) {
  expect_error_naming({}, "AERO_L2_INSECURE_ALLOW_NO_AUTH");
  expect_error_naming({{"AERO_L2_OPEN", "1"}}, "AERO_L2_INSECURE_ALLOW_NO_AUTH");
  expect_error_naming({{"AERO_L2_INSECURE_ALLOW_NO_AUTH", "1"}}, "AERO_L2_OPEN");
  // AUTH_MODE=none needs the escape hatch too.
  expect_error_naming(with_key({{"AERO_L2_AUTH_MODE", "none"}}), "AERO_L2_AUTH_MODE");
  auto open = load({{"AERO_L2_OPEN", "1"}, {"AERO_L2_INSECURE_ALLOW_NO_AUTH", "1"}});
  ASSERT_TRUE(open) << open.error().message;
  EXPECT_EQ(open->auth.mode, AuthMode::none);
  EXPECT_TRUE(open->open);
  // Only the exact text "1" enables the switches (Aero); other text is refused here.
  expect_error_naming({{"AERO_L2_OPEN", "true"}, {"AERO_L2_INSECURE_ALLOW_NO_AUTH", "1"}},
                      "AERO_L2_OPEN");
}

TEST(L2ProxyConfig, AuthModeIsDerivedFromTheSecrets) {
  auto session = load({{"AERO_L2_SESSION_SECRET", "s"}, {"AERO_L2_API_KEY", "k"}});
  ASSERT_TRUE(session);
  EXPECT_EQ(session->auth.mode, AuthMode::session_or_token);
  auto token = load({{"AERO_L2_API_KEY", "k"}});
  ASSERT_TRUE(token);
  EXPECT_EQ(token->auth.mode, AuthMode::token);
  // Empty means unset.
  auto empty = load({{"AERO_L2_API_KEY", "k"}, {"AERO_L2_AUTH_MODE", ""}, {"AERO_L2_SESSION_SECRET", " "}});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->auth.mode, AuthMode::token);
  EXPECT_TRUE(empty->auth.session_secret.empty());
}

TEST(L2ProxyConfig, SessionSecretPrecedence) {
  auto config = load({{"AERO_GATEWAY_SESSION_SECRET", "gateway"},
                      {"SESSION_SECRET", "plain"},
                      {"AERO_L2_SESSION_SECRET", "l2"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->auth.session_secret, "gateway");
  config = load({{"AERO_GATEWAY_SESSION_SECRET", ""}, {"SESSION_SECRET", "plain"},
                 {"AERO_L2_SESSION_SECRET", "l2"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->auth.session_secret, "plain");
  config = load({{"AERO_L2_SESSION_SECRET", "l2"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->auth.session_secret, "l2");
}

TEST(L2ProxyConfig, LegacyApiKeyName) {
  auto config = load({{"AERO_L2_TOKEN", "legacy"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->auth.api_key, "legacy");
  config = load({{"AERO_L2_TOKEN", "legacy"}, {"AERO_L2_API_KEY", "new"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->auth.api_key, "new");
}

TEST(L2ProxyConfig, AuthModeAliasesAndRequirements) {
  const std::pair<const char*, AuthMode> aliases[] = {
      {"session", AuthMode::session},
      {"cookie", AuthMode::session},
      {"token", AuthMode::token},
      {"api_key", AuthMode::token},
      {"jwt", AuthMode::jwt},
      {"cookie_or_jwt", AuthMode::cookie_or_jwt},
      {"session_or_token", AuthMode::session_or_token},
      {"cookie_or_api_key", AuthMode::session_or_token},
      {"session_and_token", AuthMode::session_and_token},
      {"cookie_and_api_key", AuthMode::session_and_token},
      {"JWT", AuthMode::jwt},
  };
  const Env all{{"AERO_L2_API_KEY", "k"}, {"AERO_L2_SESSION_SECRET", "s"}, {"AERO_L2_JWT_SECRET", "j"}};
  for (const auto& [text, mode] : aliases) {
    Env env = all;
    env["AERO_L2_AUTH_MODE"] = text;
    auto config = load(env);
    ASSERT_TRUE(config) << text << ": " << config.error().message;
    EXPECT_EQ(config->auth.mode, mode) << text;
  }
  expect_error_naming({{"AERO_L2_AUTH_MODE", "bogus"}, {"AERO_L2_API_KEY", "k"}}, "AERO_L2_AUTH_MODE");
  expect_error_naming({{"AERO_L2_AUTH_MODE", "jwt"}, {"AERO_L2_API_KEY", "k"}}, "AERO_L2_JWT_SECRET");
  expect_error_naming({{"AERO_L2_AUTH_MODE", "session"}, {"AERO_L2_API_KEY", "k"}},
                      "AERO_L2_SESSION_SECRET");
  expect_error_naming({{"AERO_L2_AUTH_MODE", "token"}, {"AERO_L2_SESSION_SECRET", "s"}},
                      "AERO_L2_API_KEY");
  expect_error_naming({{"AERO_L2_AUTH_MODE", "cookie_or_jwt"}, {"AERO_L2_SESSION_SECRET", "s"}},
                      "AERO_L2_JWT_SECRET");
  expect_error_naming({{"AERO_L2_AUTH_MODE", "session_and_token"}, {"AERO_L2_SESSION_SECRET", "s"}},
                      "AERO_L2_API_KEY");
}

TEST(L2ProxyConfig, ListenAddress) {
  auto config = load(with_key({{"AERO_L2_PROXY_LISTEN_ADDR", "127.0.0.1:9000"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->listen_host, "127.0.0.1");
  EXPECT_EQ(config->listen_port, 9000);
  config = load(with_key({{"AERO_L2_PROXY_BIND_ADDR", "[::1]:8091"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->listen_host, "::1");
  EXPECT_EQ(config->listen_port, 8091);
  expect_error_naming(with_key({{"AERO_L2_PROXY_LISTEN_ADDR", "localhost:80"}}),
                      "AERO_L2_PROXY_LISTEN_ADDR");
  expect_error_naming(with_key({{"AERO_L2_PROXY_BIND_ADDR", "1.2.3.4:99999"}}),
                      "AERO_L2_PROXY_BIND_ADDR");
}

TEST(L2ProxyConfig, PayloadLimits) {
  auto config = load(with_key({{"AERO_L2_MAX_FRAME_PAYLOAD", "0"}, {"AERO_L2_MAX_CONTROL_PAYLOAD", ""}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->max_frame_payload, 2048U);
  EXPECT_EQ(config->max_control_payload, 256U);
  config = load(with_key({{"AERO_L2_MAX_FRAME_SIZE", "4000"}, {"AERO_L2_MAX_CONTROL_PAYLOAD", "512"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->max_frame_payload, 4000U);
  EXPECT_EQ(config->max_control_payload, 512U);
  EXPECT_EQ(config->max_message_size(), 4004U);
  config = load(with_key({{"AERO_L2_MAX_FRAME_SIZE", "4000"}, {"AERO_L2_MAX_FRAME_PAYLOAD", "3000"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->max_frame_payload, 3000U);
  expect_error_naming(with_key({{"AERO_L2_MAX_FRAME_PAYLOAD", "big"}}), "AERO_L2_MAX_FRAME_PAYLOAD");
  expect_error_naming(with_key({{"AERO_L2_MAX_FRAME_PAYLOAD", "70000"}}), "AERO_L2_MAX_FRAME_PAYLOAD");
}

TEST(L2ProxyConfig, ZeroBuffersMeanDefaults) {
  auto config = load(with_key({{"AERO_L2_WS_SEND_BUFFER", "0"}, {"AERO_L2_TCP_SEND_BUFFER", "0"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->ws_send_buffer, 64U);
  EXPECT_EQ(config->tcp_send_buffer, 32U);
  config = load(with_key({{"AERO_L2_WS_SEND_BUFFER", "8"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->ws_send_buffer, 8U);
}

TEST(L2ProxyConfig, StackLimitsAreClamped) {
  auto config = load(with_key({{"AERO_L2_STACK_MAX_TCP_CONNECTIONS", "99999999"},
                               {"AERO_L2_STACK_MAX_PENDING_DNS", "70000"},
                               {"AERO_L2_STACK_MAX_DNS_CACHE_ENTRIES", "2000000"},
                               {"AERO_L2_STACK_MAX_BUFFERED_TCP_BYTES_PER_CONN", "999999999999"},
                               {"AERO_L2_MAX_UDP_FLOWS_PER_TUNNEL", "100000"},
                               {"AERO_L2_UDP_FLOW_IDLE_TIMEOUT_MS", "999999999999"},
                               {"AERO_L2_DNS_LOOKUP_TIMEOUT_MS", "120000"}}));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->stack.tcp.max_connections, 65535U);
  EXPECT_EQ(config->stack.max_pending_dns, 65535U);
  EXPECT_EQ(config->stack.max_dns_cache_entries, 1000000U);
  EXPECT_EQ(config->stack.tcp.receive_buffer, 64U << 20);
  EXPECT_EQ(config->stack.max_udp_flows, 65535U);
  EXPECT_EQ(config->stack.udp_idle_timeout.count(), 86400000);
  EXPECT_EQ(config->stack.dns_timeout.count(), 60000);
}

TEST(L2ProxyConfig, ZeroStackLimits) {
  auto config = load(with_key({{"AERO_L2_STACK_MAX_TCP_CONNECTIONS", "0"},
                               {"AERO_L2_MAX_UDP_FLOWS_PER_TUNNEL", "0"},
                               {"AERO_L2_UDP_FLOW_IDLE_TIMEOUT_MS", "0"},
                               {"AERO_L2_DNS_LOOKUP_TIMEOUT_MS", "0"},
                               {"AERO_L2_STACK_MAX_BUFFERED_TCP_BYTES_PER_CONN", "0"}}));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->stack.tcp.max_connections, 0U);  // every guest connection refused
  EXPECT_EQ(config->stack.max_udp_flows, 65535U);    // Aero: 0 = unlimited
  EXPECT_GT(config->stack.udp_idle_timeout, std::chrono::milliseconds(86400000));  // never
  EXPECT_EQ(config->stack.dns_timeout.count(), 60000);  // "unbounded", bounded by the clamp
  EXPECT_EQ(config->stack.tcp.receive_buffer, 4096U);   // the smallest window that works
}

TEST(L2ProxyConfig, NumbersThatDoNotParseAreRefused) {
  for (const char* name :
       {"AERO_L2_SHUTDOWN_GRACE_MS", "AERO_L2_PING_INTERVAL_MS", "AERO_L2_IDLE_TIMEOUT_MS",
        "AERO_L2_TCP_CONNECT_TIMEOUT_MS", "AERO_L2_TCP_SEND_BUFFER", "AERO_L2_WS_SEND_BUFFER",
        "AERO_L2_MAX_UDP_FLOWS_PER_TUNNEL", "AERO_L2_UDP_FLOW_IDLE_TIMEOUT_MS",
        "AERO_L2_STACK_MAX_TCP_CONNECTIONS", "AERO_L2_STACK_MAX_PENDING_DNS",
        "AERO_L2_STACK_MAX_DNS_CACHE_ENTRIES", "AERO_L2_STACK_MAX_BUFFERED_TCP_BYTES_PER_CONN",
        "AERO_L2_DNS_LOOKUP_TIMEOUT_MS", "AERO_L2_DNS_DEFAULT_TTL_SECS", "AERO_L2_DNS_MAX_TTL_SECS",
        "AERO_L2_CAPTURE_MAX_BYTES", "AERO_L2_CAPTURE_FLUSH_INTERVAL_MS", "AERO_L2_MAX_CONNECTIONS",
        "AERO_L2_MAX_CONNECTIONS_PER_SESSION", "AERO_L2_MAX_TUNNELS_PER_SESSION",
        "AERO_L2_MAX_CONNECTIONS_PER_IP", "AERO_L2_MAX_BYTES_PER_CONNECTION",
        "AERO_L2_MAX_FRAMES_PER_SECOND", "AERO_L2_MAX_CONTROL_PAYLOAD", "AERO_L2_SHUTDOWN_DRAIN_MS",
        "AERO_L2_BACKPRESSURE_TIMEOUT_MS", "AERO_L2_WORKER_THREADS", "AERO_TOKIO_WORKER_THREADS"}) {
    for (const char* value : {"-1", "12x", "1.5"}) {
      SCOPED_TRACE(std::string(name) + "=" + value);
      expect_error_naming(with_key({{name, value}}), name);
    }
  }
}

TEST(L2ProxyConfig, QuotasAndCaps) {
  auto config = load(with_key({{"AERO_L2_MAX_CONNECTIONS", "0"},
                               {"AERO_L2_MAX_TUNNELS_PER_SESSION", "2"},
                               {"AERO_L2_MAX_CONNECTIONS_PER_IP", "3"},
                               {"AERO_L2_MAX_BYTES_PER_CONNECTION", "1000000"},
                               {"AERO_L2_MAX_FRAMES_PER_SECOND", "50"},
                               {"AERO_L2_PING_INTERVAL_MS", "1000"},
                               {"AERO_L2_IDLE_TIMEOUT_MS", "30000"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->max_connections, 0U);
  EXPECT_EQ(config->max_connections_per_session, 2U);
  EXPECT_EQ(config->max_connections_per_ip, 3U);
  EXPECT_EQ(config->max_bytes_per_connection, 1000000U);
  EXPECT_EQ(config->max_frames_per_second, 50U);
  EXPECT_EQ(config->ping_interval.count(), 1000);
  EXPECT_EQ(config->idle_timeout.count(), 30000);
  config = load(with_key({{"AERO_L2_MAX_CONNECTIONS_PER_SESSION", "4"},
                          {"AERO_L2_MAX_TUNNELS_PER_SESSION", "2"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->max_connections_per_session, 4U);
}

TEST(L2ProxyConfig, Origins) {
  auto config = load(with_key({{"AERO_L2_ALLOWED_ORIGINS", "https://App.Example.com:443, http://localhost:3000"},
                               {"AERO_L2_ALLOWED_ORIGINS_EXTRA", "null,*"}}));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->allowed_origins,
            (std::vector<std::string>{"https://app.example.com", "http://localhost:3000", "null", "*"}));
  config = load(with_key({{"ALLOWED_ORIGINS", "https://a.test"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->allowed_origins, std::vector<std::string>{"https://a.test"});
  config = load(with_key({{"ALLOWED_ORIGINS", "https://a.test"}, {"AERO_L2_ALLOWED_ORIGINS", "https://b.test"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->allowed_origins, std::vector<std::string>{"https://b.test"});
  expect_error_naming(with_key({{"AERO_L2_ALLOWED_ORIGINS", "https://a.test/path"}}),
                      "AERO_L2_ALLOWED_ORIGINS");
  expect_error_naming(with_key({{"ALLOWED_ORIGINS", "ftp://a.test"}}), "ALLOWED_ORIGINS");
  expect_error_naming(with_key({{"AERO_L2_ALLOWED_ORIGINS_EXTRA", "https://user@a.test"}}),
                      "AERO_L2_ALLOWED_ORIGINS_EXTRA");
}

TEST(L2ProxyConfig, HostsAndTrust) {
  auto config = load(with_key({{"AERO_L2_ALLOWED_HOSTS", "Proxy.Example.com, 127.0.0.1:8090"},
                               {"AERO_L2_TRUST_PROXY", "yes"},
                               {"AERO_L2_TRUST_PROXY_HOST", "on"}}));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->allowed_hosts, (std::vector<std::string>{"proxy.example.com", "127.0.0.1:8090"}));
  EXPECT_TRUE(config->trust_proxy);
  EXPECT_TRUE(config->trust_proxy_host);
  expect_error_naming(with_key({{"AERO_L2_ALLOWED_HOSTS", "a b.test"}}), "AERO_L2_ALLOWED_HOSTS");
  expect_error_naming(with_key({{"AERO_L2_ALLOWED_HOSTS", "a.test/x"}}), "AERO_L2_ALLOWED_HOSTS");
  expect_error_naming(with_key({{"AERO_L2_TRUST_PROXY", "maybe"}}), "AERO_L2_TRUST_PROXY");
}

TEST(L2ProxyConfig, EgressPolicy) {
  auto config = load(with_key({{"AERO_L2_ALLOW_PRIVATE_IPS", "true"},
                               {"AERO_L2_ALLOWED_TCP_PORTS", "80,443"},
                               {"AERO_L2_ALLOWED_UDP_PORTS", ""},
                               {"AERO_L2_BLOCKED_DOMAINS", "evil.test"}}));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(config->stack.policy.allow_private);
  EXPECT_EQ(config->stack.policy.tcp_ports, (std::vector<std::uint16_t>{80, 443}));
  ASSERT_TRUE(config->stack.policy.udp_ports.has_value());  // set but empty: no port
  EXPECT_TRUE(config->stack.policy.udp_ports->empty());
  EXPECT_EQ(config->stack.policy.blocked_domains, std::vector<std::string>{"evil.test"});
  expect_error_naming(with_key({{"AERO_L2_ALLOWED_TCP_PORTS", "80,http"}}), "AERO_L2_ALLOWED_TCP_PORTS");
  expect_error_naming(with_key({{"AERO_L2_ALLOW_PRIVATE_IPS", "sure"}}), "AERO_L2_ALLOW_PRIVATE_IPS");
}

TEST(L2ProxyConfig, TestOverridesOnlyInOpenMode) {
  for (const char* name : {"AERO_L2_DNS_A", "AERO_L2_TCP_FORWARD", "AERO_L2_UDP_FORWARD"}) {
    const char* value = std::string_view(name) == "AERO_L2_DNS_A" ? "a.test=203.0.113.10"
                                                                 : "203.0.113.1:7=127.0.0.1:7000";
    expect_error_naming(with_key({{name, value}}), name);
    auto open = load(with_key({{name, value}, {"AERO_L2_OPEN", "1"}}));
    ASSERT_TRUE(open) << open.error().message;
  }
  auto open = load(with_key({{"AERO_L2_OPEN", "1"},
                             {"AERO_L2_DNS_A", "A.test=203.0.113.10"},
                             {"AERO_L2_TCP_FORWARD", "203.0.113.1:7=127.0.0.1:7000"},
                             {"AERO_L2_UDP_FORWARD", "203.0.113.1:9=127.0.0.1:9000"}}));
  ASSERT_TRUE(open);
  ASSERT_EQ(open->stack.dns_static.size(), 1U);
  EXPECT_EQ(open->stack.dns_static[0].name, "a.test");
  ASSERT_EQ(open->stack.tcp_forwards.size(), 1U);
  EXPECT_EQ(open->stack.tcp_forwards[0].target_port, 7000);
  ASSERT_EQ(open->stack.udp_forwards.size(), 1U);
  expect_error_naming(with_key({{"AERO_L2_OPEN", "1"}, {"AERO_L2_TCP_FORWARD", "nonsense"}}),
                      "AERO_L2_TCP_FORWARD");
  expect_error_naming(with_key({{"AERO_L2_OPEN", "1"}, {"AERO_L2_DNS_A", "a.test=999.1.1.1"}}),
                      "AERO_L2_DNS_A");
}

TEST(L2ProxyConfig, VersionVariables) {
  auto config = load(with_key({{"VERSION", "9"}, {"GIT_SHA", "abc"}, {"BUILD_TIMESTAMP", "t"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->version, "9");
  EXPECT_EQ(config->git_sha, "abc");
  EXPECT_EQ(config->built_at, "t");
  config = load(with_key({{"VERSION", "9"}, {"AERO_L2_PROXY_VERSION", "10"},
                          {"AERO_L2_PROXY_GIT_SHA", "def"}, {"AERO_L2_PROXY_BUILD_TIMESTAMP", "u"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->version, "10");
  EXPECT_EQ(config->git_sha, "def");
  EXPECT_EQ(config->built_at, "u");
}

TEST(L2ProxyConfig, ThreadsAndLogLevel) {
  auto config = load(with_key({{"AERO_TOKIO_WORKER_THREADS", "3"}, {"RUST_LOG", "aero_l2_proxy=debug,tower=warn"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->worker_threads, 3U);
  EXPECT_EQ(config->log_level, LogLevel::debug);
  config = load(with_key({{"AERO_TOKIO_WORKER_THREADS", "3"}, {"AERO_L2_WORKER_THREADS", "2"},
                          {"AERO_L2_LOG", "warn"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->worker_threads, 2U);
  EXPECT_EQ(config->log_level, LogLevel::warn);
  expect_error_naming(with_key({{"AERO_L2_WORKER_THREADS", "0"}}), "AERO_L2_WORKER_THREADS");
  expect_error_naming(with_key({{"RUST_LOG", "loud"}}), "RUST_LOG");
}

TEST(L2ProxyConfig, CaptureAndTimers) {
  auto config = load(with_key({{"AERO_L2_CAPTURE_DIR", "/srv/aero/captures"},
                               {"AERO_L2_CAPTURE_MAX_BYTES", "0"},
                               {"AERO_L2_CAPTURE_FLUSH_INTERVAL_MS", "0"},
                               {"AERO_L2_SHUTDOWN_GRACE_MS", "100"},
                               {"AERO_L2_SHUTDOWN_DRAIN_MS", "50"},
                               {"AERO_L2_TCP_CONNECT_TIMEOUT_MS", "700"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->capture_dir, "/srv/aero/captures");
  EXPECT_EQ(config->capture_max_bytes, 0U);
  EXPECT_EQ(config->capture_flush_interval.count(), 0);
  EXPECT_EQ(config->shutdown_grace.count(), 100);
  EXPECT_EQ(config->shutdown_drain.count(), 50);
  EXPECT_EQ(config->stack.tcp.connect_timeout.count(), 700);
  expect_error_naming(with_key({{"AERO_L2_BACKPRESSURE_TIMEOUT_MS", "0"}}), "AERO_L2_BACKPRESSURE_TIMEOUT_MS");
}

TEST(L2ProxyConfig, JsonHidesSecrets) {
  auto config = load({{"AERO_L2_API_KEY", "super-secret-key"}, {"AERO_L2_SESSION_SECRET", "hush"}});
  ASSERT_TRUE(config);
  const std::string json = config_json(*config);
  EXPECT_EQ(json.find("super-secret-key"), std::string::npos);
  EXPECT_EQ(json.find("hush"), std::string::npos);
  EXPECT_NE(json.find("\"auth_mode\":\"session_or_token\""), std::string::npos);
}

}  // namespace
}  // namespace aero::l2proxy
