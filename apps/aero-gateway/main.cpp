// aero-gateway: Aero's control-plane gateway (sessions, the /tcp relay, DNS-over-HTTPS, UDP
// relay credentials). Every setting comes from the environment (docs/gateway.md); the flags
// below override it.
#include <CLI/CLI.hpp>

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "aero/services/gateway/config.h"
#include "aero/services/gateway/server.h"

namespace {

constexpr const char* kEnvironmentHelp = R"(Environment (defaults in brackets; docs/gateway.md has the details):
  HOST [0.0.0.0], PORT [8080], LOG_LEVEL [info], PUBLIC_BASE_URL [http://localhost:PORT]
  ALLOWED_ORIGINS [PUBLIC_BASE_URL's origin], CROSS_ORIGIN_ISOLATION [0], TRUST_PROXY [0]
  SHUTDOWN_GRACE_MS [10000], RATE_LIMIT_REQUESTS_PER_MINUTE [0 = off]
  AERO_GATEWAY_SESSION_SECRET (SESSION_SECRET) [random per process], SESSION_TTL_SECONDS [86400],
  SESSION_COOKIE_SAMESITE [Lax]
  TLS_ENABLED [0], TLS_CERT_PATH (PEM chain), TLS_KEY_PATH (unencrypted PEM key)
  TCP_ALLOWED_HOSTS, TCP_BLOCKED_HOSTS, TCP_ALLOWED_PORTS [all], TCP_REQUIRE_DNS_NAME [0],
  TCP_ALLOW_PRIVATE_IPS [0], TCP_BLOCKED_CLIENT_IPS, TCP_PROXY_MAX_CONNECTIONS [64],
  TCP_PROXY_MAX_MESSAGE_BYTES [1048576], TCP_PROXY_MAX_TCP_BUFFER_BYTES [10485760],
  TCP_PROXY_CONNECT_TIMEOUT_MS [10000], TCP_PROXY_IDLE_TIMEOUT_MS [300000]
  TCP_MUX_MAX_STREAMS [1024], TCP_MUX_MAX_STREAM_BUFFER_BYTES [1048576],
  TCP_MUX_MAX_FRAME_PAYLOAD_BYTES [16777216]
  MAX_DATAGRAM_PAYLOAD_BYTES [1200], MAX_UDP_BINDINGS_PER_SESSION [128],
  MAX_ALLOWED_REMOTES_PER_BINDING [1024], UDP_BINDING_IDLE_TIMEOUT_MS [60000], PREFER_V2 [0],
  UDP_INBOUND_FILTER_MODE [address_and_port], UDP_SEND_QUEUE_BYTES [1048576]
  DNS_UPSTREAMS [1.1.1.1:53,8.8.8.8:53], DNS_UPSTREAM_TIMEOUT_MS [2000],
  DNS_CACHE_MAX_ENTRIES [10000], DNS_CACHE_MAX_TTL_SECONDS [300],
  DNS_CACHE_NEGATIVE_TTL_SECONDS [60], DNS_MAX_QUERY_BYTES [4096], DNS_MAX_RESPONSE_BYTES [4096],
  DNS_QPS_PER_IP [10], DNS_BURST_PER_IP [20], DNS_ALLOW_ANY [0], DNS_ALLOW_PRIVATE_PTR [0],
  DNS_REQUIRE_SESSION [1; 0 = DoH without the cookie, for development]
  UDP_RELAY_BASE_URL, UDP_RELAY_AUTH_MODE [none], UDP_RELAY_API_KEY, UDP_RELAY_JWT_SECRET,
  UDP_RELAY_TOKEN_TTL_SECONDS [300], UDP_RELAY_AUDIENCE, UDP_RELAY_ISSUER
  AERO_L2_MAX_FRAME_PAYLOAD [2048], AERO_L2_MAX_CONTROL_PAYLOAD [256] (advertised only)
  AERO_GATEWAY_VERSION [dev], AERO_GATEWAY_GIT_SHA (GIT_SHA), AERO_GATEWAY_BUILD_TIMESTAMP

--dev-proxy (net-proxy's development relay: no cookie, no Origin check; the variables above apply,
then these win):
  AERO_PROXY_LISTEN_HOST [127.0.0.1], AERO_PROXY_PORT [8081], AERO_PROXY_OPEN [0],
  AERO_PROXY_ALLOW [empty: public addresses only; host|*.suffix|*|IP|CIDR[:N|A-B|*], comma list],
  AERO_PROXY_CONNECT_TIMEOUT_MS [10000], AERO_PROXY_DNS_TIMEOUT_MS [DNS_UPSTREAM_TIMEOUT_MS],
  AERO_PROXY_DOH_MAX_QUERY_BYTES [512], AERO_PROXY_WS_MAX_PAYLOAD_BYTES [1048576],
  AERO_PROXY_MAX_TCP_BUFFER_BYTES [10485760], AERO_PROXY_TCP_MUX_MAX_STREAMS [1024],
  AERO_PROXY_TCP_MUX_MAX_STREAM_BUFFER_BYTES [1048576], AERO_PROXY_TCP_MUX_MAX_FRAME_PAYLOAD_BYTES [16777216],
  AERO_PROXY_UDP_RELAY_MAX_PAYLOAD_BYTES [1200], AERO_PROXY_UDP_RELAY_MAX_BINDINGS [128],
  AERO_PROXY_UDP_RELAY_BINDING_IDLE_TIMEOUT_MS [60000], AERO_PROXY_UDP_RELAY_PREFER_V2 [0],
  AERO_PROXY_UDP_RELAY_INBOUND_FILTER_MODE [address_and_port], AERO_PROXY_UDP_WS_BUFFER_LIMIT_BYTES [1048576]
--token-mux (tools/net-proxy-server: /tcp-mux only, ?token= or Authorization: Bearer):
  AERO_PROXY_AUTH_TOKEN (required), AERO_PROXY_HOST [127.0.0.1], AERO_PROXY_PORT [8080],
  AERO_PROXY_ALLOW_PRIVATE_IPS [0], AERO_PROXY_ALLOW_CIDRS [empty; IPv4 CIDRs allowed even if private])";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aero-gateway: sessions, the /tcp, /tcp-mux and /udp WebSocket relays, DNS-over-HTTPS and UDP relay "
               "credentials for Aero"};
  app.set_version_flag("--version", std::string("aero-gateway ") + AERO_NET_VERSION);
  std::string bind;
  std::string origins;
  std::string public_base_url;
  std::string dns_upstreams;
  bool ready_stdout = false;
  bool print_config = false;
  bool check_config = false;
  bool dev_proxy = false;
  bool token_mux = false;
  std::vector<std::string> settings;
  app.add_option("--bind", bind, "Listen address ip:port (overrides HOST and PORT; port 0 picks one)");
  app.add_flag("--ready-stdout", ready_stdout,
               "Print 'AERO_GATEWAY_READY http(s)://HOST:PORT' on stdout once listening");
  app.add_option("--allowed-origins", origins, "ALLOWED_ORIGINS (comma list)");
  app.add_option("--public-base-url", public_base_url, "PUBLIC_BASE_URL");
  app.add_option("--dns-upstreams", dns_upstreams, "DNS_UPSTREAMS (comma list of ip[:port])");
  app.add_option("--set", settings, "Set any variable: --set TCP_PROXY_IDLE_TIMEOUT_MS=30000")
      ->type_name("NAME=VALUE");
  app.add_flag("--print-config", print_config, "Print the effective configuration as JSON (secrets hidden) and start");
  app.add_flag("--check-config", check_config, "Validate the configuration, print it as JSON and exit");
  auto* dev_flag = app.add_flag("--dev-proxy", dev_proxy,
                                "Development relay in place of Aero's net-proxy (AERO_PROXY_*, no cookie; loopback by default)");
  app.add_flag("--token-mux", token_mux, "Token-authenticated /tcp-mux relay (AERO_PROXY_AUTH_TOKEN; loopback by default)")
      ->excludes(dev_flag);
  app.footer(kEnvironmentHelp);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  std::map<std::string, std::string, std::less<>> overrides;
  for (const auto& setting : settings) {
    const auto eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "aero-gateway: --set expects NAME=VALUE, got '" << setting << "'\n";
      return 2;
    }
    overrides[setting.substr(0, eq)] = setting.substr(eq + 1);
  }
  if (!bind.empty()) {
    const auto colon = bind.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "aero-gateway: --bind expects ip:port, got '" << bind << "'\n";
      return 2;
    }
    std::string host = bind.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    // --bind sets the listen variables of the mode chosen.
    overrides[dev_proxy ? "AERO_PROXY_LISTEN_HOST" : token_mux ? "AERO_PROXY_HOST" : "HOST"] = host;
    overrides[dev_proxy || token_mux ? "AERO_PROXY_PORT" : "PORT"] = bind.substr(colon + 1);
  }
  if (!origins.empty()) overrides["ALLOWED_ORIGINS"] = origins;
  if (!public_base_url.empty()) overrides["PUBLIC_BASE_URL"] = public_base_url;
  if (!dns_upstreams.empty()) overrides["DNS_UPSTREAMS"] = dns_upstreams;

  const auto mode = dev_proxy   ? aero::gateway::GatewayMode::dev_proxy
                   : token_mux ? aero::gateway::GatewayMode::token_mux
                               : aero::gateway::GatewayMode::gateway;
  auto config = aero::gateway::config_from_env(
      [&](std::string_view name) -> std::optional<std::string> {
        if (auto it = overrides.find(name); it != overrides.end()) return it->second;
        if (const char* value = std::getenv(std::string(name).c_str())) return std::string(value);
        return std::nullopt;
      },
      mode);
  if (!config) {
    std::cerr << "aero-gateway: configuration error: " << config.error().message << "\n";
    return 2;
  }
  if (print_config || check_config) std::cout << aero::gateway::config_json(*config) << std::endl;
  if (check_config) return 0;
  aero::gateway::ServerOptions options;
  options.on_listening = [ready_stdout](const std::string& url) {
    if (ready_stdout) std::cout << "AERO_GATEWAY_READY " << url << std::endl;
  };
  return aero::gateway::run_server(*config, options);
}
