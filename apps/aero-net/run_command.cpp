// `aero-net run -- COMMAND`: COMMAND runs in a fresh network namespace whose only link is a TAP
// device served by a stack session, as slirp4netns and pasta give a process user-mode
// networking. The guest side is configured the way the session's DHCP server would configure
// it (address, default route, MTU, resolver), so COMMAND has a network from its first instruction.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "aero/host/stack_runner.h"
#include "aero/host/tap_device.h"
#include "commands.h"

extern char** environ;

namespace aero::cli {

namespace {

// Runs a program to completion; returns its exit code (or -1 when it could not start).
int run_program(const std::vector<std::string>& argv, pid_t* started = nullptr, bool wait = true) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));  // NOLINT
  args.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  if (started != nullptr) *started = pid;
  if (!wait) return 0;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Removes the namespace and its resolver file whatever happens.
struct NamespaceGuard {
  std::string name;
  bool created = false;
  ~NamespaceGuard() {
    if (!created) return;
    run_program({"ip", "netns", "del", name});
    std::error_code ignored;
    std::filesystem::remove_all("/etc/netns/" + name, ignored);
  }
};

}  // namespace

int run_in_namespace(const StackOptions& options, const std::vector<std::string>& command) {
  if (command.empty()) {
    std::cerr << "error: aero-net run needs a command after --\n";
    return 2;
  }
  if (::geteuid() != 0) {
    std::cerr << "error: aero-net run needs root to create a network namespace and a TAP device\n";
    return 2;
  }
  stack::StackConfig config;
  if (int status = build_stack_config(options, config); status != 0) return status;
  auto built = build_run_options(options);
  if (!built) return 2;

  NamespaceGuard netns{"aero-run-" + std::to_string(::getpid())};
  if (run_program({"ip", "netns", "add", netns.name}) != 0) {
    std::cerr << "error: ip netns add " << netns.name << " failed (is iproute2 installed?)\n";
    return 2;
  }
  netns.created = true;
  // `ip netns exec` bind-mounts this file over /etc/resolv.conf inside the namespace.
  std::filesystem::create_directories("/etc/netns/" + netns.name);
  std::ofstream("/etc/netns/" + netns.name + "/resolv.conf")
      << "nameserver " << config.dns_ip.to_string() << "\n";

  auto tap = host::open_tap({"tap0", netns.name, true, want_tap_offload(options)});
  if (!tap) {
    std::cerr << "error: " << tap.error().message << "\n";
    return 2;
  }
  const std::string address =
      config.guest_ip.to_string() + "/" + std::to_string(config.prefix_length);
  const std::vector<std::vector<std::string>> setup = {
      {"ip", "-n", netns.name, "link", "set", "lo", "up"},
      {"ip", "-n", netns.name, "link", "set", "tap0", "mtu", std::to_string(config.mtu)},
      {"ip", "-n", netns.name, "addr", "add", address, "dev", "tap0"},
      {"ip", "-n", netns.name, "route", "add", "default", "via", config.gateway_ip.to_string()},
  };
  for (const auto& step : setup) {
    if (run_program(step) != 0) {
      std::cerr << "error: namespace set-up step failed: ip";
      for (std::size_t i = 1; i < step.size(); ++i) std::cerr << " " << step[i];
      std::cerr << "\n";
      return 2;
    }
  }

  std::vector<std::string> child = {"ip", "netns", "exec", netns.name};
  child.insert(child.end(), command.begin(), command.end());
  pid_t pid = 0;
  if (run_program(child, &pid, /*wait=*/false) != 0) {
    std::cerr << "error: cannot start " << command[0] << "\n";
    return 2;
  }
  host::RunOptions run = *built;
  run.watch_pid = pid;
  auto report = host::run_on_tap(std::move(*tap), config, run);
  if (!report) {
    std::cerr << "error: " << report.error().message << "\n";
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
    return 2;
  }
  if (report->child_status == -1) {  // stopped by a signal before the command ended
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
    return 130;
  }
  if (!options.stats_file.empty()) {
    std::ofstream out(options.stats_file);
    out << report->session_stats_json << "\n";
  }
  const int status = report->child_status;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace aero::cli
