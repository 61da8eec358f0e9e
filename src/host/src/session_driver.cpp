// SessionDriver (session_driver.h): host sockets, DNS and the timer of one stack session.
#include "aero/host/session_driver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "aero/wire/checksum.h"
#include "aero/wire/icmpv4.h"
#include "aero/wire/ipv4.h"

namespace aero::host {

namespace {

Instant monotonic_now() { return std::chrono::steady_clock::now(); }

// A closed socket is destroyed only after the handlers of its cancelled operations ran (they
// hold references to it). The posted handler owns it, so nothing refers to the driver, which
// may be gone by then.
template <class Socket>
void defer_destruction(asio::io_context& io, std::unique_ptr<Socket> socket) {
  asio::post(io, [owned = std::move(socket)] {});
}

// Scratch buffers shared by every driver on a thread (a proxy runs thousands of sessions per
// thread); each use ends before the handler that made it returns.
std::array<std::uint8_t, 65536>& receive_scratch() {
  thread_local std::array<std::uint8_t, 65536> buffer{};
  return buffer;
}
std::array<std::uint8_t, 65536>& echo_scratch() {
  thread_local std::array<std::uint8_t, 65536> buffer{};
  return buffer;
}

// Guest-bound bytes peeked ahead for one connection of one driver (see tcp_peek). Stream bytes
// never change, so staged bytes stay valid until consumed; the owner and id say whose they are.
struct PeekStage {
  const void* owner = nullptr;
  stack::ConnectionId id = 0;
  std::uint64_t position = 0;  // stream offset of data[0]
  std::size_t length = 0;
  std::array<std::uint8_t, 65536> data{};
};
PeekStage& peek_stage() {
  thread_local PeekStage stage;
  return stage;
}

template <class Id>
void remember(std::vector<Id>& ids, Id id) {
  if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
}

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

}  // namespace

std::string session_stats_json(const stack::Session& session) {
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

SessionDriver::~SessionDriver() {
  // A later driver at the same address must not find this one's staged bytes.
  if (PeekStage& stage = peek_stage(); stage.owner == this) stage.length = 0;
  timer_.cancel();
  // The session first: its destructor may still close sockets through us.
  session_.reset();
}

SessionDriver::SessionDriver(asio::io_context& io, RunReport& report, const RunOptions& options)
    : io_(io), report_(report), options_(options), timer_(io) {}

DnsResolver* SessionDriver::resolver() {
  // Created on the first query: a c-ares channel per idle session would cost memory for nothing.
  if (resolver_ || resolver_failed_) return resolver_.get();
  DnsResolverOptions dns;
  dns.upstreams = options_.dns_upstreams;
  auto resolver = DnsResolver::create(io_, dns);
  if (resolver) {
    resolver_ = std::move(*resolver);
  } else {
    // The session still runs; its DNS answers SERVFAIL until the configuration is fixed.
    resolver_failed_ = true;
    std::fprintf(stderr, "aero-net: DNS upstream unavailable: %s\n",
                 resolver.error().message.c_str());
  }
  return resolver_.get();
}

void SessionDriver::send_to_guest(ByteSpan frame) {
  if (inject_loss()) return;
  if (!held_to_guest_ && inject_reorder()) {
    held_to_guest_.emplace(frame.begin(), frame.end());
    return;
  }
  write_counted(frame);
  release_held_frame();
}

void SessionDriver::send_segmented_tcp_to_guest(ByteSpan frame, std::size_t frame_data) {
  // Offload is never on together with the loss and reorder switches (they act per frame).
  if (write_segmented_tcp(frame, frame_data)) {
    ++report_.frames_out;
  } else {
    ++report_.frames_out_dropped;
  }
}

void SessionDriver::frame_from_guest(ByteSpan frame) {
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

bool SessionDriver::tcp_connect(stack::ConnectionId id, Ipv4Address destination,
                                std::uint16_t port) {
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

std::optional<std::size_t> SessionDriver::tcp_write(stack::ConnectionId id, ByteSpan first,
                                                    ByteSpan second) {
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

stack::TcpRead SessionDriver::tcp_peek(stack::ConnectionId id, std::size_t offset,
                                       std::span<std::uint8_t> out) {
  auto it = tcp_sockets_.find(id);
  if (it == tcp_sockets_.end()) return {0, stack::TcpReadStatus::reset};
  if (reads_paused_) {
    remember(paused_tcp_, id);  // set_host_reads_paused(false) asks the engine again
    return {0, stack::TcpReadStatus::would_block};
  }
  TcpSocket& s = *it->second;
  const int fd = s.socket.native_handle();
  if (s.kernel_peek) {
    // The kernel keeps the data until tcp_consume(); SO_PEEK_OFF says where to read. One peek
    // fills the stage with up to 64 KiB, from which the next segments are cut: one system call
    // per ~40 segments instead of one per segment. Served from the stage only when all of
    // `out` is there, so segments stay full-sized.
    PeekStage& stage = peek_stage();
    const std::uint64_t position = s.consumed + offset;
    if (stage.owner == this && stage.id == id && position >= stage.position &&
        position + out.size() <= stage.position + stage.length) {
      std::memcpy(out.data(), stage.data.data() + (position - stage.position), out.size());
      return {out.size(), stack::TcpReadStatus::data};
    }
    if (s.peek_offset != offset) {
      const int value = static_cast<int>(offset);
      if (::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &value, sizeof value) != 0) {
        return {0, stack::TcpReadStatus::reset};
      }
      s.peek_offset = offset;
    }
    const bool staging = out.size() * 4 <= stage.data.size();
    const ssize_t n = ::recv(fd, staging ? stage.data.data() : out.data(),
                             staging ? stage.data.size() : out.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
      s.peek_offset += static_cast<std::size_t>(n);
      if (!staging) return {static_cast<std::size_t>(n), stack::TcpReadStatus::data};
      stage.owner = this;
      stage.id = id;
      stage.position = position;
      stage.length = static_cast<std::size_t>(n);
      const std::size_t copied = std::min(out.size(), stage.length);
      std::memcpy(out.data(), stage.data.data(), copied);
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

void SessionDriver::tcp_consume(stack::ConnectionId id, std::size_t bytes) {
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

void SessionDriver::tcp_shutdown_write(stack::ConnectionId id) {
  auto it = tcp_sockets_.find(id);
  if (it == tcp_sockets_.end()) return;
  ::shutdown(it->second->socket.native_handle(), SHUT_WR);
}

void SessionDriver::tcp_close(stack::ConnectionId id, bool abort) {
  auto it = tcp_sockets_.find(id);
  if (it == tcp_sockets_.end()) return;
  if (abort) {
    // SO_LINGER with a zero timeout: close() sends RST (the guest reset its side).
    const linger hard{1, 0};
    ::setsockopt(it->second->socket.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  discard_tcp(id);
}

void SessionDriver::accept_inbound(asio::ip::tcp::socket socket, std::uint16_t guest_port) {
  const auto id = session_->open_tcp_inbound(guest_port, monotonic_now());
  if (!id) return;  // the socket closes as it goes out of scope
  auto s = std::make_unique<TcpSocket>(io_);
  s->socket = std::move(socket);
  configure_tcp(*s);
  start_peek_mode(*s);
  tcp_sockets_[*id] = std::move(s);
  rearm_timer();
}

bool SessionDriver::udp_open(stack::FlowId id, Ipv4Address destination, std::uint16_t port) {
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

bool SessionDriver::udp_send(stack::FlowId id, ByteSpan payload) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return false;
  boost::system::error_code ec;
  it->second->send(asio::buffer(payload.data(), payload.size()), 0, ec);
  return !ec;
}

void SessionDriver::udp_close(stack::FlowId id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  // Closing cancels the pending wait; its handler sees operation_aborted and touches nothing.
  boost::system::error_code ignored;
  it->second->close(ignored);
  defer_destruction(io_, std::move(it->second));
  sockets_.erase(it);
}

bool SessionDriver::icmp_open(stack::FlowId id, Ipv4Address destination) {
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

bool SessionDriver::icmp_send(stack::FlowId id, ByteSpan message) {
  auto& echo_buffer = echo_scratch();
  auto it = echo_sockets_.find(id);
  if (it == echo_sockets_.end() || message.size() < 8 || message.size() > echo_buffer.size()) {
    return false;
  }
  EchoSocket& echo = *it->second;
  std::memcpy(echo_buffer.data(), message.data(), message.size());
  if (echo.raw) {
    // Our identifier, and the checksum fixed for it (a ping socket does both itself).
    echo_buffer[4] = static_cast<std::uint8_t>(echo.identifier >> 8);
    echo_buffer[5] = static_cast<std::uint8_t>(echo.identifier);
    echo_buffer[2] = 0;
    echo_buffer[3] = 0;
    const std::uint16_t sum = wire::internet_checksum(ByteSpan(echo_buffer).first(message.size()));
    echo_buffer[2] = static_cast<std::uint8_t>(sum >> 8);
    echo_buffer[3] = static_cast<std::uint8_t>(sum);
  }
  return ::send(echo.descriptor.native_handle(), echo_buffer.data(), message.size(), 0) ==
         static_cast<ssize_t>(message.size());
}

void SessionDriver::icmp_close(stack::FlowId id) {
  auto it = echo_sockets_.find(id);
  if (it == echo_sockets_.end()) return;
  boost::system::error_code ignored;
  it->second->descriptor.close(ignored);
  defer_destruction(io_, std::move(it->second));
  echo_sockets_.erase(it);
}

bool SessionDriver::dns_query(stack::QueryId id, ByteSpan query) {
  DnsResolver* upstream = resolver();
  if (upstream == nullptr) return false;
  upstream->send(query, [this, id](Result<Bytes> response) {
    if (response) {
      session_->handle_dns_response(id, *response, monotonic_now());
    } else {
      session_->handle_dns_failure(id, monotonic_now());
    }
    rearm_timer();
  });
  return true;
}

void SessionDriver::rearm_timer() {
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

void SessionDriver::start_session(const stack::StackConfig& config) {
  session_.emplace(config, *this, monotonic_now());
  session_->set_tcp_batching(true);
}

void SessionDriver::configure_tcp(TcpSocket& s) {
  boost::system::error_code ignored;
  s.socket.non_blocking(true, ignored);
  s.socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  s.socket.set_option(asio::socket_base::keep_alive(true), ignored);
  if (options_.tcp_socket_buffer > 0) {
    s.socket.set_option(asio::socket_base::receive_buffer_size(options_.tcp_socket_buffer), ignored);
    s.socket.set_option(asio::socket_base::send_buffer_size(options_.tcp_socket_buffer), ignored);
  }
}

void SessionDriver::start_peek_mode(TcpSocket& s) {
  const int zero = 0;
  s.kernel_peek = !options_.tcp_force_ring &&
                  ::setsockopt(s.socket.native_handle(), SOL_SOCKET, SO_PEEK_OFF, &zero,
                               sizeof zero) == 0;
  if (!s.kernel_peek) s.ring_capacity = std::max<std::size_t>(options_.tcp_send_ring, 4096);
}

void SessionDriver::fill_ring(TcpSocket& s) {
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

void SessionDriver::wait_tcp_readable(stack::ConnectionId id, TcpSocket& s) {
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

void SessionDriver::wait_tcp_writable(stack::ConnectionId id, TcpSocket& s) {
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

void SessionDriver::discard_tcp(stack::ConnectionId id) {
  auto it = tcp_sockets_.find(id);
  if (it == tcp_sockets_.end()) return;
  if (PeekStage& stage = peek_stage(); stage.owner == this && stage.id == id) stage.length = 0;
  boost::system::error_code ignored;
  it->second->socket.close(ignored);  // pending waits complete with operation_aborted
  defer_destruction(io_, std::move(it->second));
  tcp_sockets_.erase(it);
}

void SessionDriver::write_counted(ByteSpan frame) {
  if (write_frame(frame)) {
    ++report_.frames_out;
  } else {
    ++report_.frames_out_dropped;
  }
}

void SessionDriver::release_held_frame() {
  if (!held_to_guest_) return;
  const Bytes held = std::move(*held_to_guest_);
  held_to_guest_.reset();
  write_counted(held);
}

bool SessionDriver::inject_loss() {
  return options_.test_loss > 0 && chance_(random_) < options_.test_loss;
}

bool SessionDriver::inject_reorder() {
  return options_.test_reorder > 0 && chance_(random_) < options_.test_reorder;
}

void SessionDriver::wait_echo(stack::FlowId id, EchoSocket& echo) {
  echo.descriptor.async_wait(asio::posix::stream_descriptor::wait_read, [this, id, &echo](
                                                                           const boost::system::error_code& ec) {
    if (ec) return;
    auto& datagram = receive_scratch();
    for (int i = 0; i < 64 && !reads_paused_; ++i) {
      const ssize_t n = ::recv(echo.descriptor.native_handle(), datagram.data(), datagram.size(), 0);
      if (n <= 0) break;
      ByteSpan message = ByteSpan(datagram).first(static_cast<std::size_t>(n));
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
    if (echo_sockets_.count(id) == 0) return;
    if (reads_paused_) {
      remember(paused_echo_, id);
    } else {
      wait_echo(id, echo);
    }
  });
}

void SessionDriver::wait_readable(stack::FlowId id, asio::ip::udp::socket& socket) {
  socket.async_wait(asio::socket_base::wait_read, [this, id, &socket](
                                                      const boost::system::error_code& ec) {
    if (ec) return;  // closed
    auto& datagram = receive_scratch();
    // Drain what is queued (bounded per wake-up) into one shared buffer.
    for (int i = 0; i < 64 && !reads_paused_; ++i) {
      boost::system::error_code receive_error;
      const std::size_t n =
          socket.receive(asio::buffer(datagram), 0, receive_error);
      if (receive_error == asio::error::would_block) break;
      if (receive_error == asio::error::connection_refused) {
        session_->handle_udp_unreachable(id, monotonic_now());
        rearm_timer();
        return;  // the session closed the flow
      }
      if (receive_error) break;
      session_->handle_udp_from_host(id, ByteSpan(datagram).first(n), monotonic_now());
    }
    rearm_timer();
    if (sockets_.count(id) == 0) return;
    if (reads_paused_) {
      remember(paused_udp_, id);
    } else {
      wait_readable(id, socket);
    }
  });
}

void SessionDriver::set_host_reads_paused(bool paused) {
  if (paused == reads_paused_) return;
  reads_paused_ = paused;
  if (paused) return;
  // Taken out first: a frame sent below may pause us again, and then refills the lists.
  const auto tcp = std::exchange(paused_tcp_, {});
  const auto udp = std::exchange(paused_udp_, {});
  const auto echo = std::exchange(paused_echo_, {});
  for (const auto id : tcp) {
    if (tcp_sockets_.count(id) != 0) session_->handle_tcp_readable(id, monotonic_now());
  }
  for (const auto id : udp) {
    if (auto it = sockets_.find(id); it != sockets_.end()) wait_readable(id, *it->second);
  }
  for (const auto id : echo) {
    if (auto it = echo_sockets_.find(id); it != echo_sockets_.end()) wait_echo(id, *it->second);
  }
  rearm_timer();
}

}  // namespace aero::host
