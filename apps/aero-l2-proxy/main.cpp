// aero-l2-proxy: Aero's L2 tunnel service. Every setting comes from the AERO_L2_* environment
// (docs/l2-proxy.md); the flags below override it.
#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "aero/services/l2_proxy/config.h"
#include "aero/services/l2_proxy/server.h"

namespace {

constexpr const char* kEnvironmentHelp = R"(Environment (defaults in brackets; docs/l2-proxy.md has the details):
  AERO_L2_PROXY_LISTEN_ADDR (AERO_L2_PROXY_BIND_ADDR) [0.0.0.0:8090]
  AERO_L2_AUTH_MODE [derived]  none|session|cookie|token|api_key|jwt|cookie_or_jwt|
                    session_or_token|cookie_or_api_key|session_and_token|cookie_and_api_key
  AERO_L2_API_KEY (AERO_L2_TOKEN), AERO_GATEWAY_SESSION_SECRET > SESSION_SECRET >
  AERO_L2_SESSION_SECRET, AERO_L2_JWT_SECRET, AERO_L2_JWT_AUDIENCE, AERO_L2_JWT_ISSUER
  AERO_L2_OPEN [0], AERO_L2_INSECURE_ALLOW_NO_AUTH [0]  (both 1: no authentication)
  AERO_L2_ALLOWED_ORIGINS (ALLOWED_ORIGINS), AERO_L2_ALLOWED_ORIGINS_EXTRA [same host]
  AERO_L2_ALLOWED_HOSTS [off], AERO_L2_TRUST_PROXY [off], AERO_L2_TRUST_PROXY_HOST [off]
  AERO_L2_MAX_CONNECTIONS [64], AERO_L2_MAX_CONNECTIONS_PER_SESSION
  (AERO_L2_MAX_TUNNELS_PER_SESSION) [0], AERO_L2_MAX_CONNECTIONS_PER_IP [0]
  AERO_L2_MAX_BYTES_PER_CONNECTION [0], AERO_L2_MAX_FRAMES_PER_SECOND [0]
  AERO_L2_MAX_FRAME_PAYLOAD (AERO_L2_MAX_FRAME_SIZE) [2048], AERO_L2_MAX_CONTROL_PAYLOAD [256]
  AERO_L2_PING_INTERVAL_MS [off], AERO_L2_IDLE_TIMEOUT_MS [off]
  AERO_L2_WS_SEND_BUFFER [64], AERO_L2_BACKPRESSURE_TIMEOUT_MS [30000], AERO_L2_TCP_SEND_BUFFER [32]
  AERO_L2_SHUTDOWN_GRACE_MS [3000], AERO_L2_SHUTDOWN_DRAIN_MS [0]
  AERO_L2_TCP_CONNECT_TIMEOUT_MS [5000], AERO_L2_MAX_UDP_FLOWS_PER_TUNNEL [256],
  AERO_L2_UDP_FLOW_IDLE_TIMEOUT_MS [60000], AERO_L2_STACK_MAX_TCP_CONNECTIONS [1024],
  AERO_L2_STACK_MAX_PENDING_DNS [1024], AERO_L2_STACK_MAX_DNS_CACHE_ENTRIES [10000],
  AERO_L2_STACK_MAX_BUFFERED_TCP_BYTES_PER_CONN [262144]
  AERO_L2_DNS_LOOKUP_TIMEOUT_MS [2000], AERO_L2_DNS_DEFAULT_TTL_SECS [60],
  AERO_L2_DNS_MAX_TTL_SECS [300], AERO_L2_DNS_UPSTREAMS [/etc/resolv.conf]
  AERO_L2_ALLOW_PRIVATE_IPS [off], AERO_L2_ALLOWED_TCP_PORTS / _UDP_PORTS [all],
  AERO_L2_ALLOWED_DOMAINS / AERO_L2_BLOCKED_DOMAINS, AERO_L2_ALLOWED_CIDRS / _DENIED_CIDRS
  AERO_L2_DNS_A, AERO_L2_TCP_FORWARD, AERO_L2_UDP_FORWARD  (test overrides, open mode only)
  AERO_L2_CAPTURE_DIR [off], AERO_L2_CAPTURE_MAX_BYTES [67108864],
  AERO_L2_CAPTURE_FLUSH_INTERVAL_MS [1000]
  AERO_L2_PROXY_VERSION (VERSION), AERO_L2_PROXY_GIT_SHA (GIT_SHA) [dev],
  AERO_L2_PROXY_BUILD_TIMESTAMP (BUILD_TIMESTAMP)
  AERO_L2_WORKER_THREADS (AERO_TOKIO_WORKER_THREADS) [cores], AERO_L2_LOG (RUST_LOG) [info])";

}  // namespace

int main(int argc, char** argv) {
  // One socket per guest TCP connection: allow as many descriptors as the hard limit does.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }

  CLI::App app{"aero-l2-proxy: Ethernet frames over WebSocket (aero-l2-tunnel-v1), one network "
               "stack per tunnel"};
  app.set_version_flag("--version", std::string("aero-l2-proxy ") + AERO_NET_VERSION);
  std::string bind;
  bool ready_stdout = false;
  bool print_config = false;
  bool check_config = false;
  std::vector<std::string> settings;
  std::string auth_mode, origins, capture_dir;
  unsigned threads = 0;
  app.add_option("--bind", bind, "Listen address ip:port (overrides AERO_L2_PROXY_LISTEN_ADDR)");
  app.add_flag("--ready-stdout", ready_stdout,
               "Print 'AERO_L2_PROXY_READY ws://HOST:PORT/l2' on stdout once listening");
  app.add_option("--auth-mode", auth_mode, "AERO_L2_AUTH_MODE");
  app.add_option("--allowed-origins", origins, "AERO_L2_ALLOWED_ORIGINS (comma list)");
  app.add_option("--capture-dir", capture_dir, "AERO_L2_CAPTURE_DIR");
  app.add_option("--threads", threads, "Event loops (AERO_L2_WORKER_THREADS)")
      ->check(CLI::Range(1, 256));
  app.add_option("--set", settings, "Set any variable: --set AERO_L2_IDLE_TIMEOUT_MS=30000")
      ->type_name("NAME=VALUE");
  app.add_flag("--print-config", print_config,
               "Print the effective configuration as JSON (secrets hidden) and start");
  app.add_flag("--check-config", check_config,
               "Validate the configuration, print it as JSON and exit");
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
      std::cerr << "aero-l2-proxy: --set expects NAME=VALUE, got '" << setting << "'\n";
      return 2;
    }
    overrides[setting.substr(0, eq)] = setting.substr(eq + 1);
  }
  if (!bind.empty()) {
    overrides["AERO_L2_PROXY_LISTEN_ADDR"] = bind;
    overrides.erase("AERO_L2_PROXY_BIND_ADDR");
  }
  if (!auth_mode.empty()) overrides["AERO_L2_AUTH_MODE"] = auth_mode;
  if (!origins.empty()) overrides["AERO_L2_ALLOWED_ORIGINS"] = origins;
  if (!capture_dir.empty()) overrides["AERO_L2_CAPTURE_DIR"] = capture_dir;
  if (threads != 0) overrides["AERO_L2_WORKER_THREADS"] = std::to_string(threads);

  const auto environment = aero::l2proxy::process_environment();
  auto config = aero::l2proxy::config_from_env(
      [&](std::string_view name) -> std::optional<std::string> {
        if (auto it = overrides.find(name); it != overrides.end()) return it->second;
        return environment(name);
      },
      AERO_NET_VERSION);
  if (!config) {
    std::cerr << "aero-l2-proxy: configuration error: " << config.error().message << "\n";
    return 2;
  }
  if (print_config || check_config) std::cout << aero::l2proxy::config_json(*config) << std::endl;
  if (check_config) return 0;
  aero::l2proxy::ServerOptions server_options;
  server_options.on_listening = [ready_stdout](const std::string& url) {
    if (ready_stdout) std::cout << "AERO_L2_PROXY_READY " << url << std::endl;
  };
  return aero::l2proxy::run_server(*config, server_options);
}
