// `aero-net stack`: one stack session on a local TAP device or QEMU stream socket.
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "aero/host/stack_runner.h"
#include "aero/host/tap_device.h"
#include "commands.h"

namespace aero::cli {

void add_network_options(CLI::App& command, StackOptions& options) {
  command.add_option("--mtu", options.mtu, "Link MTU, 576..65521 (65520 suits TAP and stream)")
      ->capture_default_str();
  command.add_option("--udp-forward", options.udp_forwards,
                     "Send guest UDP for ip:port to another ip:port instead "
                     "(repeatable; bypasses the address policy, not the port policy)");
  command.add_option("--tcp-forward", options.tcp_forwards,
                     "Connect guest TCP for ip:port to another ip:port instead (repeatable; "
                     "also AERO_L2_TCP_FORWARD)");
  command.add_option("--tcp-listen", options.tcp_listens,
                     "Inbound forward [bind:]host_port:guest_port: connections to the host port "
                     "reach the guest (repeatable; bind defaults to 127.0.0.1)");
  command.add_option("--tcp-receive-buffer", options.tcp_receive_buffer,
                     "Bytes of guest data held per TCP connection (its receive window)")
      ->capture_default_str();
  command.add_option("--tcp-socket-buffer", options.tcp_socket_buffer,
                     "SO_SNDBUF and SO_RCVBUF asked for each host TCP socket (0: the kernel's "
                     "defaults and autotuning)")
      ->capture_default_str();
  command.add_flag("--tcp-force-ring", options.tcp_force_ring,
                   "Keep unacknowledged guest-bound data in a per-connection ring even where "
                   "the kernel supports SO_PEEK_OFF on TCP (what kernels before 6.9 do)");
  command.add_flag("--no-tap-offload", options.no_tap_offload,
                   "Send the guest one frame per write on TAP devices, without virtio-net "
                   "headers and TCP segmentation offload (also off with --test-loss or "
                   "--test-reorder)");
  command.add_option("--tcp-connections", options.tcp_connections,
                     "Most TCP connections per session")
      ->capture_default_str();
  command.add_option("--dns-upstream", options.dns_upstreams,
                     "Upstream DNS server ip[:port] (repeatable; default: /etc/resolv.conf)");
  command.add_option("--dns-a", options.dns_static,
                     "Static DNS name=ipv4 for tests and development (repeatable; also "
                     "AERO_L2_DNS_A)");
  command.add_flag("--allow-private", options.allow_private,
                   "Let the guest reach private and special-purpose addresses "
                   "(development only; also AERO_L2_ALLOW_PRIVATE_IPS)");
  command.add_option("--test-loss", options.test_loss,
                     "Testing: drop this share (0..1) of frames each way on the guest side")
      ->check(CLI::Range(0.0, 0.5));
  command.add_option("--test-reorder", options.test_reorder,
                     "Testing: swap this share (0..1) of frames with the next one")
      ->check(CLI::Range(0.0, 0.5));
}

std::optional<host::RunOptions> build_run_options(const StackOptions& options) {
  host::RunOptions run;
  run.dns_upstreams = options.dns_upstreams;
  run.max_duration =
      std::chrono::milliseconds(static_cast<std::int64_t>(options.duration_seconds * 1000));
  run.test_loss = options.test_loss;
  run.tcp_socket_buffer = options.tcp_socket_buffer;
  run.tcp_force_ring = options.tcp_force_ring;
  run.test_reorder = options.test_reorder;
  for (const auto& text : options.tcp_listens) {
    auto listen = host::parse_tcp_listen(text);
    if (!listen) {
      std::cerr << "error: --tcp-listen: " << listen.error().message << "\n";
      return std::nullopt;
    }
    run.tcp_listens.push_back(*listen);
  }
  return run;
}

int build_stack_config(const StackOptions& options, stack::StackConfig& config) {
  auto parse_ip = [](const std::string& text, const char* flag, Ipv4Address& out) {
    auto parsed = Ipv4Address::parse(text);
    if (!parsed) {
      std::cerr << "error: " << flag << ": not an IPv4 address: " << text << "\n";
      return false;
    }
    out = *parsed;
    return true;
  };
  if (!parse_ip(options.gateway_ip, "--gateway-ip", config.gateway_ip) ||
      !parse_ip(options.dns_ip, "--dns-ip", config.dns_ip) ||
      !parse_ip(options.guest_ip, "--guest-ip", config.guest_ip)) {
    return 2;
  }
  config.prefix_length = static_cast<std::uint8_t>(options.prefix_length);
  config.mtu = options.mtu;
  config.lease_time = std::chrono::seconds(options.lease_seconds);
  config.dhcp_pool_size = options.pool_size;
  config.domain_name = options.domain;

  auto policy = stack::egress_policy_from_env([](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  });
  if (!policy) {
    std::cerr << "error: " << policy.error().message << "\n";
    return 2;
  }
  config.policy = *policy;
  if (options.allow_private) config.policy.allow_private = true;
  std::string forwards;
  if (const char* env = std::getenv("AERO_L2_UDP_FORWARD")) forwards = env;
  for (const auto& forward : options.udp_forwards) forwards += "," + forward;
  auto parsed = stack::parse_forward_list("--udp-forward/AERO_L2_UDP_FORWARD", forwards);
  if (!parsed) {
    std::cerr << "error: " << parsed.error().message << "\n";
    return 2;
  }
  config.udp_forwards = *parsed;
  std::string tcp_forwards;
  if (const char* env = std::getenv("AERO_L2_TCP_FORWARD")) tcp_forwards = env;
  for (const auto& forward : options.tcp_forwards) tcp_forwards += "," + forward;
  auto parsed_tcp = stack::parse_forward_list("--tcp-forward/AERO_L2_TCP_FORWARD", tcp_forwards);
  if (!parsed_tcp) {
    std::cerr << "error: " << parsed_tcp.error().message << "\n";
    return 2;
  }
  config.tcp_forwards = *parsed_tcp;
  config.tcp.receive_buffer = options.tcp_receive_buffer;
  config.tcp.max_connections = options.tcp_connections;
  std::string names;
  if (const char* env = std::getenv("AERO_L2_DNS_A")) names = env;
  for (const auto& name : options.dns_static) names += "," + name;
  auto static_names = stack::parse_static_names("--dns-a/AERO_L2_DNS_A", names);
  if (!static_names) {
    std::cerr << "error: " << static_names.error().message << "\n";
    return 2;
  }
  config.dns_static = *static_names;
  if (auto valid = config.validate(); !valid) {
    std::cerr << "error: " << valid.error().message << "\n";
    return 2;
  }

  return 0;
}

int run_stack(const StackOptions& options) {
  stack::StackConfig config;
  if (int status = build_stack_config(options, config); status != 0) return status;
  auto built = build_run_options(options);
  if (!built) return 2;
  const host::RunOptions& run = *built;
  Result<host::RunReport> report = make_error("usage", "");
  if (!options.tap.empty()) {
    auto tap = host::open_tap({options.tap, options.netns, true, want_tap_offload(options)});
    if (!tap) {
      std::cerr << "error: " << tap.error().message << "\n";
      return 2;
    }
    std::cerr << "aero-net stack: serving TAP " << options.tap
              << (options.netns.empty() ? "" : " in netns " + options.netns) << "\n";
    report = host::run_on_tap(std::move(*tap), config, run);
  } else {
    report = host::run_on_qemu_stream(options.qemu_listen, config, run, [&] {
      std::cerr << "aero-net stack: listening on " << options.qemu_listen << "\n";
    });
  }
  if (!report) {
    std::cerr << "error: " << report.error().message << "\n";
    return 2;
  }
  std::cout << "{\"frames_in\":" << report->frames_in << ",\"frames_out\":" << report->frames_out
            << ",\"frames_out_dropped\":" << report->frames_out_dropped
            << ",\"connections\":" << report->connections
            << ",\"session\":"
            << (report->session_stats_json.empty() ? "null" : report->session_stats_json) << "}"
            << std::endl;
  return 0;
}

}  // namespace aero::cli
