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

#include "aero/host/session_driver.h"
#include "aero/proto/qemu_stream.h"
#include "aero/stack/session.h"
#include "aero/wire/checksum.h"
#include "aero/wire/icmpv4.h"
#include "aero/wire/ipv4.h"

namespace aero::host {

namespace asio = boost::asio;

namespace {

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

// The session on a TAP device; with virtio-net headers (tap_device.h), it sends the guest TCP
// segments of up to 64 KiB that the guest's kernel cuts into frames: one write() where there
// would be dozens.
class TapDriver final : public SessionDriver {
 public:
  // Data bytes per offloaded segment: the largest IPv4 datagram less its header and the
  // largest TCP header.
  static constexpr std::size_t kOffloadData = 65535 - 20 - 60;

  TapDriver(asio::io_context& io, int fd, bool vnet_header, const stack::StackConfig& config,
            RunReport& report, const RunOptions& options)
      : SessionDriver(io, report, options), fd_(fd), vnet_header_(vnet_header) {
    start_session(config);
    if (vnet_header_) session().set_guest_segmentation_offload(kOffloadData);
  }

 protected:
  bool write_frame(ByteSpan frame) override { return write_tap_frame(fd_, vnet_header_, frame); }

  bool write_segmented_tcp(ByteSpan frame, std::size_t frame_data) override {
    return vnet_header_ && write_tap_tcp_segment(fd_, frame, frame_data);
  }

 private:
  int fd_;
  bool vnet_header_;
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
  // Whoever opened the device chose whether frames carry a virtio-net header (open_tap).
  const bool vnet_header = tap_has_vnet_header(tap.get());
  asio::posix::stream_descriptor descriptor(io, tap.release());
  TapDriver driver(io, descriptor.native_handle(), vnet_header, config, report, options);
  stack::Session& session = driver.session();
  TcpListeners listeners(io, options, [&driver]() -> SessionDriver* { return &driver; });
  if (!listeners.error().empty()) return make_error("listen", listeners.error());
  Bytes buffer(kVnetHeaderLength + options.max_frame + 1);

  std::function<void()> wait_readable = [&] {
    descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                          [&](const boost::system::error_code& ec) {
                            if (ec) return;
                            // Drain what is queued, a bounded number of frames per wake-up.
                            for (int i = 0; i < 64; ++i) {
                              const ssize_t n =
                                  ::read(descriptor.native_handle(), buffer.data(), buffer.size());
                              if (n <= 0) break;
                              const auto read =
                                  std::span(buffer).first(static_cast<std::size_t>(n));
                              if (!vnet_header) {
                                driver.frame_from_guest(read);
                              } else if (auto frame = tap_frame_from_read(read)) {
                                driver.frame_from_guest(*frame);
                              }
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
  report.session_stats_json = session_stats_json(session);
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
  std::string stats() { return session_stats_json(session()); }

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
