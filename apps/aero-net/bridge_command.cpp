// `aero-net bridge`: a local TAP device or QEMU stream peer behind a remote aero-l2-proxy.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>

#include "aero/services/l2_proxy/bridge.h"
#include "commands.h"

namespace aero::cli {

void add_bridge_command(CLI::App& app, int& exit_code) {
  // Static: CLI11 binds the options by reference and parses after this function returns.
  static l2proxy::BridgeOptions options;
  static double duration_seconds = 0;
  static double ping_seconds = 10;
  auto* bridge = app.add_subcommand(
      "bridge", "Connect a TAP device or QEMU -netdev stream peers to an aero-l2-proxy over WebSocket");
  bridge->add_option("--url", options.url, "The proxy's tunnel URL, ws://HOST:PORT/l2")->required();
  auto* tap = bridge->add_option("--tap", options.tap, "TAP device to bridge (created if missing)");
  auto* qemu = bridge->add_option("--qemu-listen", options.qemu_listen,
                                  "Listen for QEMU -netdev stream peers: unix:/path or tcp:HOST:PORT");
  tap->excludes(qemu);
  bridge->add_option("--netns", options.netns, "Named network namespace the TAP lives in")->needs(tap);
  bridge->add_option("--token", options.token,
                     "Credential sent as an aero-l2-token.<TOKEN> subprotocol entry (API key or JWT)");
  bridge->add_option("--cookie", options.cookie, "aero_session cookie value");
  bridge->add_option("--bearer", options.bearer, "JWT sent as Authorization: Bearer");
  bridge->add_option("--origin", options.origin, "Origin header to send");
  bridge->add_option("--ping-interval", ping_seconds, "Seconds between keepalive PINGs (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  bridge->add_option("--duration", duration_seconds, "Stop after this many seconds (default: on a signal)")
      ->check(CLI::NonNegativeNumber);
  bridge->callback([&exit_code] {
    if (options.tap.empty() && options.qemu_listen.empty()) {
      throw CLI::ValidationError("bridge", "one of --tap or --qemu-listen is required");
    }
    options.duration = std::chrono::milliseconds(std::llround(duration_seconds * 1000));
    options.ping_interval = std::chrono::milliseconds(std::llround(ping_seconds * 1000));
    auto report = l2proxy::run_bridge(options, [] {
      std::cerr << "aero-net bridge: connected to " << options.url << " ("
                << (options.tap.empty() ? "QEMU peers on " + options.qemu_listen : "TAP " + options.tap) << ")"
                << std::endl;
    });
    if (!report) {
      std::cerr << "error: " << report.error().message << "\n";
      exit_code = 2;
      return;
    }
    std::cout << report->json() << std::endl;
    exit_code = report->close_code == 0 || report->close_code == 1000 || report->close_code == 1001 ? 0 : 1;
  });
}

}  // namespace aero::cli
