// The aero-net command-line tool's subcommands. Each returns a process exit code:
// 0 success, 1 the input was rejected (a token failed verification, an origin is invalid),
// 2 a usage or environment error (unreadable secret file, bad hex).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aero/host/stack_runner.h"
#include "aero/stack/config.h"

namespace CLI {
class App;
}

namespace aero::cli {

struct DevOptions {
  std::string state_dir = ".aero-dev";
  std::int64_t ttl_seconds = 3600;
};
int run_dev(const DevOptions& options);

// `aero-net bridge`: registers the subcommand; its callback sets exit_code.
void add_bridge_command(CLI::App& app, int& exit_code);

int session_mint(const std::string& secret_file, std::string sid, std::int64_t ttl_seconds);
int session_verify(const std::string& secret_file, const std::string& token);

struct JwtMintOptions {
  std::string secret_file;
  std::string sid;
  std::int64_t ttl_seconds = 60;
  std::string origin, aud, iss;  // empty: claim omitted
};
int jwt_mint(const JwtMintOptions& options);
int jwt_verify(const std::string& secret_file, const std::string& token);

int origin_normalize(const std::string& raw_origin);
int origin_check(const std::string& raw_origin, const std::string& request_host,
                 const std::vector<std::string>& allowed);

struct StackOptions {
  std::string tap;          // TAP device name, or
  std::string qemu_listen;  // unix:/path or tcp:HOST:PORT
  std::string netns;        // named network namespace of the TAP
  double duration_seconds = 0;
  std::string gateway_ip = "10.0.2.2";
  std::string dns_ip = "10.0.2.2";
  std::string guest_ip = "10.0.2.15";
  int prefix_length = 24;
  std::uint16_t mtu = 1500;
  std::int64_t lease_seconds = 86400;
  std::size_t pool_size = 16;
  std::string domain;
  std::vector<std::string> udp_forwards;  // ip:port=ip:port
  bool allow_private = false;
  std::vector<std::string> dns_upstreams;  // ip[:port]
  std::vector<std::string> dns_static;     // name=ipv4
  std::vector<std::string> tcp_forwards;   // ip:port=ip:port
  std::vector<std::string> tcp_listens;    // [bind:]host_port:guest_port
  std::size_t tcp_receive_buffer = 256 * 1024;
  std::size_t tcp_connections = 1024;
  int tcp_socket_buffer = 2 * 1024 * 1024;
  bool tcp_force_ring = false;
  bool no_tap_offload = false;
  double test_loss = 0;
  double test_reorder = 0;
  std::string stats_file;  // run: where the session's counters go as JSON at the end
};
// Whether the TAP device gets virtio-net headers for TCP segmentation offload toward the guest:
// unless turned off, or a test switch (which acts on single frames) is on.
inline bool want_tap_offload(const StackOptions& options) {
  return !options.no_tap_offload && options.test_loss == 0 && options.test_reorder == 0;
}
// The options `stack` and `run` share.
void add_network_options(CLI::App& command, StackOptions& options);
int run_stack(const StackOptions& options);
// The host side of the options; prints the error and returns nullopt when one is invalid.
std::optional<host::RunOptions> build_run_options(const StackOptions& options);
// Fills `config` from the options and the AERO_L2_* environment; prints the error and returns
// 2 when something is invalid.
int build_stack_config(const StackOptions& options, stack::StackConfig& config);
int run_in_namespace(const StackOptions& options, const std::vector<std::string>& command);

int l2_decode(const std::string& hex, std::size_t max_frame, std::size_t max_control);
int l2_encode(const std::string& type, const std::string& payload_hex);

}  // namespace aero::cli
