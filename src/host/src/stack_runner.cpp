// The single-session event loop over a TAP device or a QEMU stream socket (Boost.Asio).
//
// TAP: the descriptor is non-blocking; on readiness the loop reads frames until EAGAIN (several
// per wake-up) and hands each to the session. Frames for the guest are written straight to the
// descriptor; when the kernel queue is full the frame is dropped and counted (a TAP behaves like
// a link, and the guest's TCP retransmits).
// Stream: bytes go through qemu_stream::FrameDecoder; frames for the guest are appended, length
// prefixed, to an output buffer drained by one outstanding async_write. The buffer is bounded
// by RunOptions::max_stream_backlog; beyond it frames are dropped and counted.
#include "aero/host/stack_runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <csignal>
#include <filesystem>
#include <array>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include "aero/host/dns_resolver.h"
#include "aero/proto/qemu_stream.h"
#include "aero/stack/session.h"
#include "aero/wire/checksum.h"
#include "aero/wire/icmpv4.h"
#include "aero/wire/ipv4.h"

namespace aero::host {

namespace asio = boost::asio;

namespace {

Instant monotonic_now() { return std::chrono::steady_clock::now(); }

boost::json::object tcp_json(const stack::Session& session) {
  const auto& t = session.tcp_stats();
  return {
      {"connections", session.tcp().connection_count()},
      {"half_open", session.tcp().half_open_count()},
      {"buffered_bytes", session.tcp().buffered_bytes()},
      {"segments_from_guest", t.segments_from_guest},
      {"segments_to_guest", t.segments_to_guest},
      {"bytes_from_guest", t.bytes_from_guest},
      {"bytes_to_guest", t.bytes_to_guest},
      {"connections_opened", t.connections_opened},
      {"inbound_opened", t.inbound_opened},
      {"connections_closed", t.connections_closed},
      {"connect_refused", t.connect_refused},
      {"connect_unreachable", t.connect_unreachable},
      {"connect_timeouts", t.connect_timeouts},
      {"policy_denied", t.policy_denied},
      {"table_full", t.table_full},
      {"half_open_limit", t.half_open_limit},
      {"time_wait_recycled", t.time_wait_recycled},
      {"resets_to_guest", t.resets_to_guest},
      {"resets_from_guest", t.resets_from_guest},
      {"host_resets", t.host_resets},
      {"retransmissions", t.retransmissions},
      {"fast_retransmits", t.fast_retransmits},
      {"timeouts", t.timeouts},
      {"persist_probes", t.persist_probes},
      {"keepalive_probes", t.keepalive_probes},
      {"keepalive_timeouts", t.keepalive_timeouts},
      {"out_of_order", t.out_of_order},
      {"out_of_order_refused", t.out_of_order_refused},
      {"outside_window", t.outside_window},
      {"challenge_acks", t.challenge_acks},
      {"unknown_connection", t.unknown_connection},
      {"window_probes_answered", t.window_probes_answered},
      {"zero_windows_advertised", t.zero_windows_advertised},
      {"guest_zero_windows", t.guest_zero_windows},
  };
}

std::string stats_json(const stack::Session& session) {
  boost::json::object drops;
  for (std::size_t i = 0; i < static_cast<std::size_t>(stack::Drop::count_); ++i) {
    const auto reason = static_cast<stack::Drop>(i);
    if (session.stats().dropped(reason) != 0) {
      drops[stack::drop_name(reason)] = session.stats().dropped(reason);
    }
  }
  const auto& s = session.stats();
  const auto& d = session.dhcp_stats();
  boost::json::object out{
      {"frames_from_guest", s.frames_from_guest},
      {"frames_to_guest", s.frames_to_guest},
      {"arp_replies", s.arp_replies},
      {"echo_replies", s.echo_replies},
      {"port_unreachables", s.port_unreachables},
      {"admin_prohibited", s.admin_prohibited},
      {"udp_flows_opened", s.udp_flows_opened},
      {"udp_flows_expired", s.udp_flows_expired},
      {"udp_to_host", s.udp_to_host},
      {"udp_from_host", s.udp_from_host},
      {"echo_forwarded", s.echo_forwarded},
      {"echo_replies_from_host", s.echo_replies_from_host},
      {"dns",
       {{"queries", session.dns_stats().queries}, {"forwarded", session.dns_stats().forwarded},
        {"cache_hits", session.dns_stats().cache_hits},
        {"static_answers", session.dns_stats().static_answers},
        {"policy_nxdomain", session.dns_stats().policy_nxdomain},
        {"servfail_upstream", session.dns_stats().servfail_upstream},
        {"rebinding_filtered", session.dns_stats().rebinding_filtered}}},
      {"fragments_to_guest", s.fragments_to_guest},
      {"tcp", tcp_json(session)},
      {"drops", drops},
      {"dhcp",
       {{"discovers", d.discovers}, {"requests", d.requests}, {"releases", d.releases},
        {"declines", d.declines}, {"informs", d.informs}, {"offers", d.offers},
        {"acks", d.acks}, {"naks", d.naks}, {"pool_exhausted", d.pool_exhausted}}},
  };
  return boost::json::serialize(out);
}

// Stops the loop on SIGINT/SIGTERM and when the duration is over.
void arm_stop_conditions(asio::io_context& io, asio::signal_set& signals,
                         asio::steady_timer& deadline, const RunOptions& options,
                         RunReport& report, std::shared_ptr<std::function<void()>>& keep_alive) {
  // Re-arms itself after a SIGCHLD from some other child; shared so the pending handler keeps
  // it alive after this function returns.
  auto wait_signal = std::make_shared<std::function<void()>>();
  *wait_signal = [&io, &signals, &options, &report, weak = std::weak_ptr(wait_signal)] {
    signals.async_wait([&io, &options, &report, weak](const boost::system::error_code& ec,
                                                      int signal) {
      if (ec) return;
      if (signal != SIGCHLD) return io.stop();
      int status = 0;
      if (::waitpid(options.watch_pid, &status, WNOHANG) == options.watch_pid) {
        report.child_status = status;
        return io.stop();
      }
      if (auto again = weak.lock()) (*again)();
    });
  };
  if (options.watch_pid > 0) {
    signals.add(SIGCHLD);
    // The child may have exited before the handler was installed.
    int status = 0;
    if (::waitpid(options.watch_pid, &status, WNOHANG) == options.watch_pid) {
      report.child_status = status;
      return;
    }
  }
  (*wait_signal)();
  // Keep the re-arming function alive as long as the signal set.
  keep_alive = wait_signal;
  if (options.max_duration.count() > 0) {
    deadline.expires_after(options.max_duration);
    deadline.async_wait([&io](const boost::system::error_code& ec) {
      if (!ec) io.stop();
    });
  }
}

// Everything a session needs from the host besides the frame transport: its UDP sockets, one
// per flow, and its single timer. Transports derive from it and implement write_frame().
class SessionDriver : public stack::SessionHost {
 public:
  SessionDriver(asio::io_context& io, RunReport& report, const RunOptions& options)
      : io_(io), report_(report), options_(options), timer_(io) {
    DnsResolverOptions dns;
    dns.upstreams = options.dns_upstreams;
    auto resolver = DnsResolver::create(io, dns);
    if (resolver) {
      resolver_ = std::move(*resolver);
    } else {
      // The session still runs; its DNS answers SERVFAIL until the configuration is fixed.
      std::fprintf(stderr, "aero-net: DNS upstream unavailable: %s\n",
                   resolver.error().message.c_str());
    }
  }
  ~SessionDriver() override { timer_.cancel(); }

  stack::Session& session() { return *session_; }

  void send_to_guest(ByteSpan frame) override {
    if (inject_loss()) return;
    if (!held_to_guest_ && inject_reorder()) {
      held_to_guest_.emplace(frame.begin(), frame.end());
      return;
    }
    write_counted(frame);
    release_held_frame();
  }

  // Every frame from the guest enters here (the test switches act on it).
  void frame_from_guest(ByteSpan frame) {
    ++report_.frames_in;
    if (inject_loss()) return;
    if (!held_from_guest_ && inject_reorder()) {
      held_from_guest_.emplace(frame.begin(), frame.end());
      return;
    }
    session_->handle_guest_frame(frame, monotonic_now());
    if (held_from_guest_) {
      const Bytes held = std::move(*held_from_guest_);
      held_from_guest_.reset();
      session_->handle_guest_frame(held, monotonic_now());
    }
  }

  // ---- TCP: one socket per connection -------------------------------------------------------

  bool tcp_connect(stack::ConnectionId id, Ipv4Address destination, std::uint16_t port) override {
    auto socket = std::make_unique<TcpSocket>(io_);
    boost::system::error_code ec;
    socket->socket.open(asio::ip::tcp::v4(), ec);
    if (ec) return false;
    configure_tcp(*socket);
    auto* raw = socket.get();
    tcp_sockets_[id] = std::move(socket);
    const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4(destination.to_u32()), port);
    raw->socket.async_connect(endpoint, [this, id](const boost::system::error_code& error) {
      if (error == asio::error::operation_aborted) return;
      auto it = tcp_sockets_.find(id);
      if (it == tcp_sockets_.end()) return;
      if (error) {
        stack::TcpConnectError reason = stack::TcpConnectError::other;
        if (error == asio::error::connection_refused) reason = stack::TcpConnectError::refused;
        if (error == asio::error::host_unreachable || error == asio::error::network_unreachable) {
          reason = stack::TcpConnectError::unreachable;
        }
        if (error == asio::error::timed_out) reason = stack::TcpConnectError::timeout;
        discard_tcp(id);
        session_->handle_tcp_connect_failed(id, reason, monotonic_now());
      } else {
        start_peek_mode(*it->second);
        session_->handle_tcp_connected(id, monotonic_now());
      }
      rearm_timer();
    });
    return true;
  }

  std::optional<std::size_t> tcp_write(stack::ConnectionId id, ByteSpan first,
                                       ByteSpan second) override {
    auto it = tcp_sockets_.find(id);
    if (it == tcp_sockets_.end()) return std::nullopt;
    TcpSocket& s = *it->second;
    std::array<iovec, 2> parts{iovec{const_cast<std::uint8_t*>(first.data()), first.size()},  // NOLINT
                               iovec{const_cast<std::uint8_t*>(second.data()), second.size()}};  // NOLINT
    msghdr message{};
    message.msg_iov = parts.data();
    message.msg_iovlen = second.empty() ? 1 : 2;
    const ssize_t n = ::sendmsg(s.socket.native_handle(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    std::size_t written = 0;
    if (n >= 0) {
      written = static_cast<std::size_t>(n);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return std::nullopt;
    }
    if (written < first.size() + second.size()) wait_tcp_writable(id, s);
    return written;
  }

  stack::TcpRead tcp_peek(stack::ConnectionId id, std::size_t offset,
                          std::span<std::uint8_t> out) override {
    auto it = tcp_sockets_.find(id);
    if (it == tcp_sockets_.end()) return {0, stack::TcpReadStatus::reset};
    TcpSocket& s = *it->second;
    const int fd = s.socket.native_handle();
    if (s.kernel_peek) {
      // The kernel keeps the data until tcp_consume(); SO_PEEK_OFF says where to read. One
      // peek fills a staging buffer with up to 64 KiB, from which the next segments are cut:
      // one system call per ~40 segments instead of one per segment. Stream bytes never
      // change, so staged bytes stay valid until consumed.
      const std::uint64_t position = s.consumed + offset;
      // Served from the stage only when all of `out` is there, so segments stay full-sized.
      if (staged_id_ == id && position >= staged_position_ &&
          position + out.size() <= staged_position_ + staged_length_) {
        const std::size_t at = static_cast<std::size_t>(position - staged_position_);
        std::memcpy(out.data(), staged_.data() + at, out.size());
        return {out.size(), stack::TcpReadStatus::data};
      }
      if (s.peek_offset != offset) {
        const int value = static_cast<int>(offset);
        if (::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &value, sizeof value) != 0) {
          return {0, stack::TcpReadStatus::reset};
        }
        s.peek_offset = offset;
      }
      const bool stage = out.size() * 4 <= staged_.size();
      const ssize_t n = ::recv(fd, stage ? staged_.data() : out.data(),
                               stage ? staged_.size() : out.size(), MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) {
        s.peek_offset += static_cast<std::size_t>(n);
        if (!stage) return {static_cast<std::size_t>(n), stack::TcpReadStatus::data};
        staged_id_ = id;
        staged_position_ = position;
        staged_length_ = static_cast<std::size_t>(n);
        const std::size_t copied = std::min(out.size(), staged_length_);
        std::memcpy(out.data(), staged_.data(), copied);
        return {copied, stack::TcpReadStatus::data};
      }
      if (n == 0) return {0, stack::TcpReadStatus::eof};
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait_tcp_readable(id, s);
        return {0, stack::TcpReadStatus::would_block};
      }
      return {0, stack::TcpReadStatus::reset};
    }
    // Ring mode: bytes read from the socket stay in the ring until the guest acknowledges them.
    if (offset >= s.ring_used && !s.eof) fill_ring(s);
    if (s.error) return {0, stack::TcpReadStatus::reset};
    if (offset < s.ring_used) {
      const std::size_t n = std::min(out.size(), s.ring_used - offset);
      const std::size_t start = (s.ring_head + offset) % s.ring_capacity;
      const std::size_t first = std::min(n, s.ring_capacity - start);
      std::memcpy(out.data(), s.ring.get() + start, first);
      std::memcpy(out.data() + first, s.ring.get(), n - first);
      return {n, stack::TcpReadStatus::data};
    }
    if (s.eof) return {0, stack::TcpReadStatus::eof};
    if (s.ring_used < s.ring_capacity) wait_tcp_readable(id, s);
    return {0, stack::TcpReadStatus::would_block};
  }

  void tcp_consume(stack::ConnectionId id, std::size_t bytes) override {
    auto it = tcp_sockets_.find(id);
    if (it == tcp_sockets_.end()) return;
    TcpSocket& s = *it->second;
    if (s.kernel_peek) {
      // MSG_TRUNC on a TCP socket discards without copying; the kernel moves the peek offset
      // back by the same amount.
      std::size_t left = bytes;
      while (left != 0) {
        const ssize_t n = ::recv(s.socket.native_handle(), nullptr, left, MSG_TRUNC | MSG_DONTWAIT);
        if (n <= 0) break;
        left -= static_cast<std::size_t>(n);
      }
      s.peek_offset -= std::min(s.peek_offset, bytes - left);
      s.consumed += bytes - left;
      return;
    }
    bytes = std::min(bytes, s.ring_used);
    s.ring_head = (s.ring_head + bytes) % std::max<std::size_t>(s.ring_capacity, 1);
    s.ring_used -= bytes;
    // Room again: if the socket had data waiting for it, the engine will ask when it next peeks.
  }

  void tcp_shutdown_write(stack::ConnectionId id) override {
    auto it = tcp_sockets_.find(id);
    if (it == tcp_sockets_.end()) return;
    ::shutdown(it->second->socket.native_handle(), SHUT_WR);
  }

  void tcp_close(stack::ConnectionId id, bool abort) override {
    auto it = tcp_sockets_.find(id);
    if (it == tcp_sockets_.end()) return;
    if (abort) {
      // SO_LINGER with a zero timeout: close() sends RST (the guest reset its side).
      const linger hard{1, 0};
      ::setsockopt(it->second->socket.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    discard_tcp(id);
  }

  // An inbound forward accepted `socket` for the guest's `guest_port`.
  void accept_inbound(asio::ip::tcp::socket socket, std::uint16_t guest_port) {
    const auto id = session_->open_tcp_inbound(guest_port, monotonic_now());
    if (!id) return;  // the socket closes as it goes out of scope
    auto s = std::make_unique<TcpSocket>(io_);
    s->socket = std::move(socket);
    configure_tcp(*s);
    start_peek_mode(*s);
    tcp_sockets_[*id] = std::move(s);
    rearm_timer();
  }

  bool udp_open(stack::FlowId id, Ipv4Address destination, std::uint16_t port) override {
    auto socket = std::make_unique<asio::ip::udp::socket>(io_);
    boost::system::error_code ec;
    socket->open(asio::ip::udp::v4(), ec);
    if (!ec) socket->non_blocking(true, ec);
    if (!ec) {
      // connect(2) on a UDP socket: the kernel delivers only this peer's datagrams, and ICMP
      // errors about it come back as ECONNREFUSED on the next receive.
      const asio::ip::address_v4 address(destination.to_u32());
      socket->connect(asio::ip::udp::endpoint(address, port), ec);
    }
    if (ec) return false;
    auto* raw = socket.get();
    sockets_[id] = std::move(socket);
    wait_readable(id, *raw);
    return true;
  }

  bool udp_send(stack::FlowId id, ByteSpan payload) override {
    auto it = sockets_.find(id);
    if (it == sockets_.end()) return false;
    boost::system::error_code ec;
    it->second->send(asio::buffer(payload.data(), payload.size()), 0, ec);
    return !ec;
  }

  void udp_close(stack::FlowId id) override {
    auto it = sockets_.find(id);
    if (it == sockets_.end()) return;
    // Closing cancels the pending wait; its handler sees operation_aborted and touches nothing.
    boost::system::error_code ignored;
    it->second->close(ignored);
    closing_.push_back(std::move(it->second));
    sockets_.erase(it);
    asio::post(io_, [this] { closing_.clear(); });
  }

  // Echo flows: an unprivileged ping socket (SOCK_DGRAM/IPPROTO_ICMP, allowed by the
  // net.ipv4.ping_group_range sysctl) when possible, else a raw ICMP socket (CAP_NET_RAW).
  // A ping socket's kernel rewrites the identifier and delivers only our replies; on a raw
  // socket we set the identifier ourselves and filter replies by it.
  bool icmp_open(stack::FlowId id, Ipv4Address destination) override {
    bool raw = false;
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0 && (errno == EACCES || errno == EPERM)) {
      fd = ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
      raw = true;
    }
    if (fd < 0) return false;
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(destination.to_u32());
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&peer), sizeof peer) != 0) {  // NOLINT
      ::close(fd);
      return false;
    }
    auto echo = std::make_unique<EchoSocket>(io_, fd, raw,
                                             static_cast<std::uint16_t>(0x8000U | (id & 0x7FFFU)));
    auto* raw_echo = echo.get();
    echo_sockets_[id] = std::move(echo);
    wait_echo(id, *raw_echo);
    return true;
  }

  bool icmp_send(stack::FlowId id, ByteSpan message) override {
    auto it = echo_sockets_.find(id);
    if (it == echo_sockets_.end() || message.size() < 8 || message.size() > echo_buffer_.size()) {
      return false;
    }
    EchoSocket& echo = *it->second;
    std::memcpy(echo_buffer_.data(), message.data(), message.size());
    if (echo.raw) {
      // Our identifier, and the checksum fixed for it (a ping socket does both itself).
      echo_buffer_[4] = static_cast<std::uint8_t>(echo.identifier >> 8);
      echo_buffer_[5] = static_cast<std::uint8_t>(echo.identifier);
      echo_buffer_[2] = 0;
      echo_buffer_[3] = 0;
      const std::uint16_t sum = wire::internet_checksum(ByteSpan(echo_buffer_).first(message.size()));
      echo_buffer_[2] = static_cast<std::uint8_t>(sum >> 8);
      echo_buffer_[3] = static_cast<std::uint8_t>(sum);
    }
    return ::send(echo.descriptor.native_handle(), echo_buffer_.data(), message.size(), 0) ==
           static_cast<ssize_t>(message.size());
  }

  void icmp_close(stack::FlowId id) override {
    auto it = echo_sockets_.find(id);
    if (it == echo_sockets_.end()) return;
    boost::system::error_code ignored;
    it->second->descriptor.close(ignored);
    closing_echo_.push_back(std::move(it->second));
    echo_sockets_.erase(it);
    asio::post(io_, [this] { closing_echo_.clear(); });
  }

  bool dns_query(stack::QueryId id, ByteSpan query) override {
    if (!resolver_) return false;
    resolver_->send(query, [this, id](Result<Bytes> response) {
      if (response) {
        session_->handle_dns_response(id, *response, monotonic_now());
      } else {
        session_->handle_dns_failure(id, monotonic_now());
      }
      rearm_timer();
    });
    return true;
  }

  // Call after the session handled an event: keeps the one timer at the earliest deadline.
  void rearm_timer() {
    session_->flush(monotonic_now());  // the end of a batch of events: batched TCP writes go
    release_held_frame();
    const auto deadline = session_->next_deadline();
    if (!deadline || (armed_ && *deadline >= armed_at_)) return;
    armed_ = true;
    armed_at_ = *deadline;
    timer_.expires_at(std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            deadline->time_since_epoch())));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      armed_ = false;
      session_->poll(monotonic_now());
      rearm_timer();
    });
  }

 protected:
  virtual bool write_frame(ByteSpan frame) = 0;
  // Called by the transport at the end of its constructor: the session announces the gateway
  // on creation, through write_frame(), so the transport must be complete by then.
  void start_session(const stack::StackConfig& config) {
    session_.emplace(config, *this, monotonic_now());
    session_->set_tcp_batching(true);
  }

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

  void configure_tcp(TcpSocket& s) {
    boost::system::error_code ignored;
    s.socket.non_blocking(true, ignored);
    s.socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    s.socket.set_option(asio::socket_base::keep_alive(true), ignored);
    if (options_.tcp_socket_buffer > 0) {
      s.socket.set_option(asio::socket_base::receive_buffer_size(options_.tcp_socket_buffer), ignored);
      s.socket.set_option(asio::socket_base::send_buffer_size(options_.tcp_socket_buffer), ignored);
    }
  }

  void start_peek_mode(TcpSocket& s) {
    const int zero = 0;
    s.kernel_peek = !options_.tcp_force_ring &&
                    ::setsockopt(s.socket.native_handle(), SOL_SOCKET, SO_PEEK_OFF, &zero,
                                 sizeof zero) == 0;
    if (!s.kernel_peek) s.ring_capacity = std::max<std::size_t>(options_.tcp_send_ring, 4096);
  }

  void fill_ring(TcpSocket& s) {
    if (!s.ring) s.ring = std::make_unique<std::uint8_t[]>(s.ring_capacity);
    while (s.ring_used < s.ring_capacity) {
      const std::size_t tail = (s.ring_head + s.ring_used) % s.ring_capacity;
      const std::size_t room = std::min(s.ring_capacity - s.ring_used, s.ring_capacity - tail);
      const ssize_t n = ::recv(s.socket.native_handle(), s.ring.get() + tail, room, MSG_DONTWAIT);
      if (n > 0) {
        s.ring_used += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0) {
        s.eof = true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        s.error = true;
      }
      break;
    }
  }

  void wait_tcp_readable(stack::ConnectionId id, TcpSocket& s) {
    if (s.read_wait) return;
    s.read_wait = true;
    s.socket.async_wait(asio::socket_base::wait_read, [this, id](const boost::system::error_code& ec) {
      if (ec) return;
      auto it = tcp_sockets_.find(id);
      if (it == tcp_sockets_.end()) return;
      it->second->read_wait = false;
      session_->handle_tcp_readable(id, monotonic_now());
      rearm_timer();
    });
  }

  void wait_tcp_writable(stack::ConnectionId id, TcpSocket& s) {
    if (s.write_wait) return;
    s.write_wait = true;
    s.socket.async_wait(asio::socket_base::wait_write, [this, id](const boost::system::error_code& ec) {
      if (ec) return;
      auto it = tcp_sockets_.find(id);
      if (it == tcp_sockets_.end()) return;
      it->second->write_wait = false;
      session_->handle_tcp_writable(id, monotonic_now());
      rearm_timer();
    });
  }

  void discard_tcp(stack::ConnectionId id) {
    auto it = tcp_sockets_.find(id);
    if (it == tcp_sockets_.end()) return;
    if (staged_id_ == id) staged_length_ = 0;
    boost::system::error_code ignored;
    it->second->socket.close(ignored);  // pending waits complete with operation_aborted
    closing_tcp_.push_back(std::move(it->second));
    tcp_sockets_.erase(it);
    asio::post(io_, [this] { closing_tcp_.clear(); });
  }

  void write_counted(ByteSpan frame) {
    if (write_frame(frame)) {
      ++report_.frames_out;
    } else {
      ++report_.frames_out_dropped;
    }
  }

  void release_held_frame() {
    if (!held_to_guest_) return;
    const Bytes held = std::move(*held_to_guest_);
    held_to_guest_.reset();
    write_counted(held);
  }

  bool inject_loss() { return options_.test_loss > 0 && chance_(random_) < options_.test_loss; }
  bool inject_reorder() {
    return options_.test_reorder > 0 && chance_(random_) < options_.test_reorder;
  }

  struct EchoSocket {
    EchoSocket(asio::io_context& io, int fd, bool is_raw, std::uint16_t id)
        : descriptor(io, fd), raw(is_raw), identifier(id) {}
    asio::posix::stream_descriptor descriptor;
    bool raw;
    std::uint16_t identifier;
  };

  void wait_echo(stack::FlowId id, EchoSocket& echo) {
    echo.descriptor.async_wait(asio::posix::stream_descriptor::wait_read, [this, id, &echo](
                                                                             const boost::system::error_code& ec) {
      if (ec) return;
      for (int i = 0; i < 64; ++i) {
        const ssize_t n = ::recv(echo.descriptor.native_handle(), datagram_.data(), datagram_.size(), 0);
        if (n <= 0) break;
        ByteSpan message = ByteSpan(datagram_).first(static_cast<std::size_t>(n));
        if (echo.raw) {
          // A raw socket delivers the IP header too, and every ICMP message from the peer.
          auto ip = wire::Ipv4Packet::parse(message);
          if (!ip) continue;
          message = ip->payload();
          if (message.size() < 8 || message[0] != wire::kIcmpv4EchoReply ||
              ((message[4] << 8) | message[5]) != echo.identifier) {
            continue;
          }
        }
        session_->handle_icmp_from_host(id, message, monotonic_now());
      }
      rearm_timer();
      if (echo_sockets_.count(id) != 0) wait_echo(id, echo);
    });
  }

  void wait_readable(stack::FlowId id, asio::ip::udp::socket& socket) {
    socket.async_wait(asio::socket_base::wait_read, [this, id, &socket](
                                                        const boost::system::error_code& ec) {
      if (ec) return;  // closed
      // Drain what is queued (bounded per wake-up) into one shared buffer.
      for (int i = 0; i < 64; ++i) {
        boost::system::error_code receive_error;
        const std::size_t n =
            socket.receive(asio::buffer(datagram_), 0, receive_error);
        if (receive_error == asio::error::would_block) break;
        if (receive_error == asio::error::connection_refused) {
          session_->handle_udp_unreachable(id, monotonic_now());
          rearm_timer();
          return;  // the session closed the flow
        }
        if (receive_error) break;
        session_->handle_udp_from_host(id, ByteSpan(datagram_).first(n), monotonic_now());
      }
      rearm_timer();
      if (sockets_.count(id) != 0) wait_readable(id, socket);
    });
  }

  asio::io_context& io_;
  RunReport& report_;
  const RunOptions& options_;
  asio::steady_timer timer_;
  std::unordered_map<stack::ConnectionId, std::unique_ptr<TcpSocket>> tcp_sockets_;
  // Guest-bound bytes peeked ahead for one connection (see tcp_peek).
  Bytes staged_ = Bytes(64 * 1024);
  stack::ConnectionId staged_id_ = 0;
  std::uint64_t staged_position_ = 0;
  std::size_t staged_length_ = 0;
  std::vector<std::unique_ptr<TcpSocket>> closing_tcp_;
  std::optional<Bytes> held_to_guest_;
  std::optional<Bytes> held_from_guest_;
  std::mt19937_64 random_{0x5EED};
  std::uniform_real_distribution<double> chance_{0.0, 1.0};
  bool armed_ = false;
  Instant armed_at_{};
  std::unordered_map<stack::FlowId, std::unique_ptr<asio::ip::udp::socket>> sockets_;
  std::vector<std::unique_ptr<asio::ip::udp::socket>> closing_;
  std::unordered_map<stack::FlowId, std::unique_ptr<EchoSocket>> echo_sockets_;
  std::vector<std::unique_ptr<EchoSocket>> closing_echo_;
  std::array<std::uint8_t, 65536> echo_buffer_{};
  std::array<std::uint8_t, 65536> datagram_{};
  std::unique_ptr<DnsResolver> resolver_;
  std::optional<stack::Session> session_;
};

// Listens for the inbound TCP forwards; each accepted socket goes to the session current() names
// (none: the socket is closed).
class TcpListeners {
 public:
  TcpListeners(asio::io_context& io, const RunOptions& options,
               std::function<SessionDriver*()> current)
      : io_(io), current_(std::move(current)) {
    for (const auto& listen : options.tcp_listens) {
      auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io_);
      boost::system::error_code ec;
      const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(listen.bind, ec),
                                             listen.host_port);
      if (!ec) acceptor->open(endpoint.protocol(), ec);
      if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acceptor->bind(endpoint, ec);
      if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        error_ = "cannot listen on " + listen.bind + ":" + std::to_string(listen.host_port) +
                 ": " + ec.message();
        return;
      }
      accept(*acceptor, listen.guest_port);
      acceptors_.push_back(std::move(acceptor));
    }
  }
  const std::string& error() const { return error_; }

 private:
  void accept(asio::ip::tcp::acceptor& acceptor, std::uint16_t guest_port) {
    acceptor.async_accept([this, &acceptor, guest_port](const boost::system::error_code& ec,
                                                        asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (SessionDriver* driver = current_()) driver->accept_inbound(std::move(socket), guest_port);
      }
      accept(acceptor, guest_port);
    });
  }

  asio::io_context& io_;
  std::function<SessionDriver*()> current_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::string error_;
};

class TapDriver final : public SessionDriver {
 public:
  TapDriver(asio::io_context& io, int fd, const stack::StackConfig& config, RunReport& report,
            const RunOptions& options)
      : SessionDriver(io, report, options), fd_(fd) {
    start_session(config);
  }

 protected:
  bool write_frame(ByteSpan frame) override {
    return ::write(fd_, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
  }

 private:
  int fd_;
};

}  // namespace

Result<RunOptions::TcpListen> parse_tcp_listen(std::string_view text) {
  // [bind:]host_port:guest_port
  RunOptions::TcpListen listen;
  const auto last = text.rfind(':');
  if (last == std::string_view::npos) {
    return make_error("bad_config", "tcp listen must be [bind:]host_port:guest_port");
  }
  std::string_view head = text.substr(0, last);
  const std::string_view guest = text.substr(last + 1);
  std::string_view host = head;
  if (const auto colon = head.rfind(':'); colon != std::string_view::npos) {
    listen.bind = std::string(head.substr(0, colon));
    host = head.substr(colon + 1);
  }
  auto port = [](std::string_view digits) -> std::optional<std::uint16_t> {
    if (digits.empty() || digits.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return std::nullopt;
      value = value * 10 + static_cast<unsigned>(ch - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
  };
  const auto host_port = port(host);
  const auto guest_port = port(guest);
  boost::system::error_code ec;
  asio::ip::make_address_v4(listen.bind, ec);
  if (!host_port || !guest_port || ec) {
    return make_error("bad_config", "tcp listen must be [ipv4:]host_port:guest_port, got " +
                                        std::string(text));
  }
  listen.host_port = *host_port;
  listen.guest_port = *guest_port;
  return listen;
}

Result<RunReport> run_on_tap(FileDescriptor tap, const stack::StackConfig& config,
                             const RunOptions& options) {
  if (auto valid = config.validate(); !valid) return valid.error();
  RunReport report;
  asio::io_context io;
  asio::posix::stream_descriptor descriptor(io, tap.release());
  TapDriver driver(io, descriptor.native_handle(), config, report, options);
  stack::Session& session = driver.session();
  TcpListeners listeners(io, options, [&driver]() -> SessionDriver* { return &driver; });
  if (!listeners.error().empty()) return make_error("listen", listeners.error());
  Bytes buffer(options.max_frame + 1);

  std::function<void()> wait_readable = [&] {
    descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                          [&](const boost::system::error_code& ec) {
                            if (ec) return;
                            // Drain what is queued, a bounded number of frames per wake-up.
                            for (int i = 0; i < 64; ++i) {
                              const ssize_t n =
                                  ::read(descriptor.native_handle(), buffer.data(), buffer.size());
                              if (n <= 0) break;
                              driver.frame_from_guest(
                                  ByteSpan(buffer).first(static_cast<std::size_t>(n)));
                            }
                            driver.rearm_timer();
                            wait_readable();
                          });
  };
  wait_readable();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer deadline(io);
  std::shared_ptr<std::function<void()>> stop_handler;
  arm_stop_conditions(io, signals, deadline, options, report, stop_handler);
  if (report.child_status == -1) io.run();
  report.session_stats_json = stats_json(session);
  return report;
}

namespace {

// One QEMU stream peer: decoder in, length-prefixed frames out.
template <class Socket>
class StreamPeer final : public SessionDriver {
 public:
  StreamPeer(asio::io_context& io, Socket socket, const stack::StackConfig& config,
             const RunOptions& options, RunReport& report)
      : SessionDriver(io, report, options),
        socket_(std::move(socket)),
        options_(options),
        report_(report),
        decoder_(options.max_frame),
        input_(64 * 1024) {
    start_session(config);
  }

  void start() { read(); }
  std::string stats() { return stats_json(session()); }

 protected:
  bool write_frame(ByteSpan frame) override {
    if (pending_.size() + writing_.size() + frame.size() + 4 > options_.max_stream_backlog ||
        !qemu_stream::encode_into(pending_, frame, options_.max_frame).ok()) {
      return false;
    }
    flush();
    return true;
  }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(input_), [this](const boost::system::error_code& ec,
                                                         std::size_t n) {
      if (ec) return close();
      auto status = decoder_.push(ByteSpan(input_).first(n),
                                  [this](ByteSpan frame) { frame_from_guest(frame); });
      if (!status) return close();  // a broken length prefix cannot be resynchronised
      rearm_timer();
      read();
    });
  }

  void flush() {
    if (!writing_.empty() || pending_.empty()) return;
    writing_.swap(pending_);
    asio::async_write(socket_, asio::buffer(writing_),
                      [this](const boost::system::error_code& ec, std::size_t) {
                        writing_.clear();
                        if (ec) return close();
                        flush();
                      });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  Socket socket_;
  const RunOptions& options_;
  RunReport& report_;
  qemu_stream::FrameDecoder decoder_;
  Bytes input_;
  Bytes pending_;
  Bytes writing_;
  bool closed_ = false;
};

template <class Acceptor, class Socket>
void serve(asio::io_context& io, Acceptor& acceptor, const stack::StackConfig& config,
           const RunOptions& options, RunReport& report,
           std::unique_ptr<StreamPeer<Socket>>& peer, std::string& last_stats) {
  acceptor.async_accept([&](const boost::system::error_code& ec, Socket socket) {
    if (ec) return;
    if (peer) last_stats = peer->stats();
    ++report.connections;
    // One guest at a time: a new connection replaces the old one (a restarted VM).
    peer = std::make_unique<StreamPeer<Socket>>(io, std::move(socket), config, options, report);
    peer->start();
    serve(io, acceptor, config, options, report, peer, last_stats);
  });
}

}  // namespace

Result<RunReport> run_on_qemu_stream(const std::string& address, const stack::StackConfig& config,
                                     const RunOptions& options,
                                     const std::function<void()>& on_listening) {
  if (auto valid = config.validate(); !valid) return valid.error();
  RunReport report;
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer deadline(io);
  std::string last_stats;
  boost::system::error_code ec;

  auto finish = [&](auto& peer) {
    std::shared_ptr<std::function<void()>> stop_handler;
    arm_stop_conditions(io, signals, deadline, options, report, stop_handler);
    if (on_listening) on_listening();
    io.run();
    report.session_stats_json = peer ? peer->stats() : last_stats;
  };

  if (address.rfind("unix:", 0) == 0) {
    const std::string path = address.substr(5);
    std::filesystem::remove(path, ec);
    asio::local::stream_protocol::acceptor acceptor(io);
    acceptor.open(asio::local::stream_protocol(), ec);
    if (!ec) acceptor.bind(asio::local::stream_protocol::endpoint(path), ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return make_error("listen", "cannot listen on " + address + ": " + ec.message());
    std::unique_ptr<StreamPeer<asio::local::stream_protocol::socket>> peer;
    TcpListeners listeners(io, options, [&peer]() -> SessionDriver* { return peer.get(); });
    if (!listeners.error().empty()) return make_error("listen", listeners.error());
    serve(io, acceptor, config, options, report, peer, last_stats);
    finish(peer);
    std::filesystem::remove(path, ec);
    return report;
  }
  if (address.rfind("tcp:", 0) == 0) {
    const std::string rest = address.substr(4);
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) return make_error("listen", "expected tcp:HOST:PORT");
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(rest.substr(0, colon), rest.substr(colon + 1),
                                      asio::ip::resolver_base::passive, ec);
    if (ec || endpoints.empty()) {
      return make_error("listen", "cannot resolve " + address + ": " + ec.message());
    }
    asio::ip::tcp::acceptor acceptor(io);
    const auto endpoint = endpoints.begin()->endpoint();
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return make_error("listen", "cannot listen on " + address + ": " + ec.message());
    std::unique_ptr<StreamPeer<asio::ip::tcp::socket>> peer;
    TcpListeners listeners(io, options, [&peer]() -> SessionDriver* { return peer.get(); });
    if (!listeners.error().empty()) return make_error("listen", listeners.error());
    serve(io, acceptor, config, options, report, peer, last_stats);
    finish(peer);
    return report;
  }
  return make_error("listen", "address must be unix:/path or tcp:HOST:PORT, got " + address);
}

}  // namespace aero::host
