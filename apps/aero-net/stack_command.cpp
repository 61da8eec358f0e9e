// `aero-net stack`: one stack session on a local TAP device or QEMU stream socket.
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "aero/host/stack_runner.h"
#include "aero/host/tap_device.h"
#include "commands.h"

namespace aero::cli {

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
  host::RunOptions run;
  run.dns_upstreams = options.dns_upstreams;
  run.max_duration = std::chrono::milliseconds(static_cast<std::int64_t>(options.duration_seconds * 1000));
  Result<host::RunReport> report = make_error("usage", "");
  if (!options.tap.empty()) {
    auto tap = host::open_tap({options.tap, options.netns, true});
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
