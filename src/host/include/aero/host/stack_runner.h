// Runs one stack session on a local frame transport: a TAP device or a QEMU `-netdev stream`
// socket. One thread, one Boost.Asio event loop; it ends on SIGINT/SIGTERM or after
// `max_duration`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aero/base/result.h"
#include "aero/host/tap_device.h"
#include "aero/stack/config.h"

namespace aero::host {

struct RunOptions {
  std::chrono::milliseconds max_duration{0};  // 0: until a signal
  // Largest frame accepted from the transport.
  std::size_t max_frame = 65535;
  // Bytes queued toward a slow stream peer before frames are dropped (and counted).
  std::size_t max_stream_backlog = 4 * 1024 * 1024;
  // Stop when this child process exits (aero-net run); -1 for none. Its exit status goes into
  // RunReport::child_status.
  int watch_pid = -1;
  // Upstream DNS servers for the forwarder ("ip" or "ip:port"); empty: /etc/resolv.conf.
  std::vector<std::string> dns_upstreams;

  // Inbound TCP forwards: connections to bind:host_port reach the guest's guest_port.
  struct TcpListen {
    std::string bind = "127.0.0.1";
    std::uint16_t host_port = 0;
    std::uint16_t guest_port = 0;
  };
  std::vector<TcpListen> tcp_listens;

  // Bytes of guest-bound data a connection holds for retransmission when the kernel cannot
  // keep it (no SO_PEEK_OFF for TCP before Linux 6.9), and the socket buffer sizes asked for.
  std::size_t tcp_send_ring = 1024 * 1024;
  // Use the ring even where the kernel could keep the data (for tests of older kernels).
  bool tcp_force_ring = false;
  int tcp_socket_buffer = 2 * 1024 * 1024;

  // Test switches: drop and reorder this share (0..1) of the frames in each direction on the
  // guest's side of the session, to exercise loss recovery with real guests.
  double test_loss = 0;
  double test_reorder = 0;
};

// Parses "[bind:]host_port:guest_port".
Result<RunOptions::TcpListen> parse_tcp_listen(std::string_view text);

struct RunReport {
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t frames_out_dropped = 0;  // the transport could not take them
  std::uint64_t connections = 0;         // stream peers served
  std::string session_stats_json;        // the last session's counters
  int child_status = -1;                 // wait(2) status of RunOptions::watch_pid
};

// Serves the guest behind an open TAP descriptor.
Result<RunReport> run_on_tap(FileDescriptor tap, const stack::StackConfig& config,
                             const RunOptions& options);

// Listens on `address` ("unix:/path" or "tcp:HOST:PORT") for QEMU `-netdev stream` peers (QEMU
// connects with server=off); each connection gets a fresh session. `on_listening` is called
// once the socket accepts connections (tests wait for it).
Result<RunReport> run_on_qemu_stream(const std::string& address, const stack::StackConfig& config,
                                     const RunOptions& options,
                                     const std::function<void()>& on_listening = {});

}  // namespace aero::host
