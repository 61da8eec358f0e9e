// The host side of one stack session: its TCP, UDP and ICMP sockets, its upstream DNS
// resolver and its one timer, on a Boost.Asio io_context (one thread). Transports (TAP, QEMU
// stream, the proxy's WebSocket tunnels) derive from it, implement write_frame() and feed the
// guest's frames to frame_from_guest(); after every event they call rearm_timer().
//
// Lifetime: every asynchronous operation the driver starts ends, when the driver is destroyed,
// with operation_aborted and touches nothing; destroy it on its io_context's thread.
//
// Includes Asio: keep it out of headers that many translation units include.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "aero/host/dns_resolver.h"
#include "aero/host/stack_runner.h"
#include "aero/stack/session.h"

namespace aero::host {

namespace asio = boost::asio;

// Everything a session needs from the host besides the frame transport.
class SessionDriver : public stack::SessionHost {
 public:
  // `report` and `options` must outlive the driver.
  SessionDriver(asio::io_context& io, RunReport& report, const RunOptions& options);
  SessionDriver(const SessionDriver&) = delete;
  SessionDriver& operator=(const SessionDriver&) = delete;
  ~SessionDriver() override;

  stack::Session& session() { return *session_; }

  void send_to_guest(ByteSpan frame) override;
  void send_segmented_tcp_to_guest(ByteSpan frame, std::size_t frame_data) override;

  // Every frame from the guest enters here (the test switches act on it).
  void frame_from_guest(ByteSpan frame);

  // ---- TCP: one socket per connection -------------------------------------------------------

  bool tcp_connect(stack::ConnectionId id, Ipv4Address destination, std::uint16_t port) override;

  std::optional<std::size_t> tcp_write(stack::ConnectionId id, ByteSpan first, ByteSpan second) override;

  stack::TcpRead tcp_peek(stack::ConnectionId id, std::size_t offset, std::span<std::uint8_t> out) override;

  void tcp_consume(stack::ConnectionId id, std::size_t bytes) override;

  void tcp_shutdown_write(stack::ConnectionId id) override;

  void tcp_close(stack::ConnectionId id, bool abort) override;

  // An inbound forward accepted `socket` for the guest's `guest_port`.
  void accept_inbound(asio::ip::tcp::socket socket, std::uint16_t guest_port);

  bool udp_open(stack::FlowId id, Ipv4Address destination, std::uint16_t port) override;

  bool udp_send(stack::FlowId id, ByteSpan payload) override;

  void udp_close(stack::FlowId id) override;

  // Echo flows: an unprivileged ping socket (SOCK_DGRAM/IPPROTO_ICMP, allowed by the
  // net.ipv4.ping_group_range sysctl) when possible, else a raw ICMP socket (CAP_NET_RAW).
  // A ping socket's kernel rewrites the identifier and delivers only our replies; on a raw
  // socket we set the identifier ourselves and filter replies by it.
  bool icmp_open(stack::FlowId id, Ipv4Address destination) override;

  bool icmp_send(stack::FlowId id, ByteSpan message) override;

  void icmp_close(stack::FlowId id) override;

  bool dns_query(stack::QueryId id, ByteSpan query) override;

  // Call after the session handled an event: keeps the one timer at the earliest deadline.
  void rearm_timer();

  // Back-pressure from the transport: while paused, no host socket is read (TCP peeks answer
  // "nothing yet", so the guest-bound data waits in the kernel and the remote's window closes;
  // UDP and ICMP datagrams wait in their socket buffers). Resuming delivers what waited.
  void set_host_reads_paused(bool paused);
  bool host_reads_paused() const { return reads_paused_; }

  std::size_t tcp_socket_count() const { return tcp_sockets_.size(); }
  std::size_t udp_socket_count() const { return sockets_.size(); }
  std::size_t echo_socket_count() const { return echo_sockets_.size(); }

 protected:
  virtual bool write_frame(ByteSpan frame) = 0;
  // For transports that offered segmentation offload (Session::set_guest_segmentation_offload):
  // one TCP segment the transport cuts into frames of `frame_data` data bytes.
  virtual bool write_segmented_tcp(ByteSpan /*frame*/, std::size_t /*frame_data*/) { return false; }
  // Called by the transport at the end of its constructor: the session announces the gateway
  // on creation, through write_frame(), so the transport must be complete by then.
  void start_session(const stack::StackConfig& config);

 private:
  struct TcpSocket {
    explicit TcpSocket(asio::io_context& io) : socket(io) {}
    asio::ip::tcp::socket socket;
    bool read_wait = false;
    bool write_wait = false;
    bool kernel_peek = false;
    std::size_t peek_offset = 0;
    std::uint64_t consumed = 0;  // stream bytes discarded so far
    // Ring mode.
    std::unique_ptr<std::uint8_t[]> ring;
    std::size_t ring_capacity = 0;
    std::size_t ring_head = 0;
    std::size_t ring_used = 0;
    bool eof = false;
    bool error = false;
  };

  void configure_tcp(TcpSocket& s);

  void start_peek_mode(TcpSocket& s);

  void fill_ring(TcpSocket& s);

  void wait_tcp_readable(stack::ConnectionId id, TcpSocket& s);

  void wait_tcp_writable(stack::ConnectionId id, TcpSocket& s);

  void discard_tcp(stack::ConnectionId id);

  void write_counted(ByteSpan frame);

  void release_held_frame();

  bool inject_loss();
  bool inject_reorder();

  struct EchoSocket {
    EchoSocket(asio::io_context& io, int fd, bool is_raw, std::uint16_t id)
        : descriptor(io, fd), raw(is_raw), identifier(id) {}
    asio::posix::stream_descriptor descriptor;
    bool raw;
    std::uint16_t identifier;
  };

  void wait_echo(stack::FlowId id, EchoSocket& echo);

  void wait_readable(stack::FlowId id, asio::ip::udp::socket& socket);

  asio::io_context& io_;
  RunReport& report_;
  const RunOptions& options_;
  asio::steady_timer timer_;
  std::unordered_map<stack::ConnectionId, std::unique_ptr<TcpSocket>> tcp_sockets_;
  std::optional<Bytes> held_to_guest_;
  std::optional<Bytes> held_from_guest_;
  std::mt19937_64 random_{0x5EED};
  std::uniform_real_distribution<double> chance_{0.0, 1.0};
  bool armed_ = false;
  Instant armed_at_{};
  std::unordered_map<stack::FlowId, std::unique_ptr<asio::ip::udp::socket>> sockets_;
  std::unordered_map<stack::FlowId, std::unique_ptr<EchoSocket>> echo_sockets_;
  DnsResolver* resolver();        // created on first use
  std::unique_ptr<DnsResolver> resolver_;
  bool resolver_failed_ = false;  // creation failed once; not retried
  bool reads_paused_ = false;
  // Sockets whose reads waited for a resume.
  std::vector<stack::ConnectionId> paused_tcp_;
  std::vector<stack::FlowId> paused_udp_;
  std::vector<stack::FlowId> paused_echo_;
  // Last member: destroyed first, while the sockets it may still name exist.
  std::optional<stack::Session> session_;
};

// The session's counters as one JSON object (the report `aero-net stack` prints).
std::string session_stats_json(const stack::Session& session);

}  // namespace aero::host
