// The aero-l2-proxy server (server.h). The only translation unit with Boost.Beast.
//
// Threads: the main thread accepts connections and handles signals; each worker thread runs one
// io_context, and every connection (HTTP, then its tunnel and the tunnel's stack session with
// all its host sockets) lives on one worker from accept to close, so nothing in a tunnel needs
// a lock. What workers share is thread-safe: Metrics (atomics), the ConnectionLimiter (mutex)
// and the draining flag.
//
// A tunnel (aero-l2-tunnel-v1 over one WebSocket):
//
//   accepting ──handshake ok──> open ──protocol/quota violation, idle, shutdown──> closing
//       │                        │                                                   │
//       └──handshake failed──────┴──────read error / peer close──────────────────────┴──> done
//
//   open     inbound binary messages are decoded (l2_tunnel.h): FRAME to the stack session,
//            PING answered with PONG, PONG matched against our PING, unknown types ignored,
//            text ignored; every inbound message counts for the quotas and the idle timer.
//   closing  no more frames either way; queued messages not yet on the wire are dropped, the
//            ERROR message (if any) is sent, then the WebSocket close; after 5 s without the
//            close handshake the socket is closed.
//
// The send queue toward the client is bounded (AERO_L2_WS_SEND_BUFFER = S messages):
//   S      the stack stops reading host sockets (SessionDriver::set_host_reads_paused): TCP
//          data stays in the kernel and the remote's window closes, datagrams wait in their
//          socket buffers. Resumed at S/2.
//   2S     we also stop reading the client's messages (guest frames make answers). Resumed
//          below S.
//   4S     anything still produced (timer-driven retransmissions) is dropped and counted.
//   A client that accepts nothing for AERO_L2_BACKPRESSURE_TIMEOUT_MS while data waits is
//   closed with ERROR backpressure; a slow client is never closed.
#include "aero/services/l2_proxy/server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "aero/host/session_driver.h"
#include "aero/proto/l2_tunnel.h"
#include "aero/services/l2_proxy/log.h"
#include "aero/services/l2_proxy/metrics.h"
#include "aero/services/l2_proxy/pcapng.h"
#include "aero/services/l2_proxy/upgrade.h"

namespace aero::l2proxy {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

constexpr auto kHttpTimeout = std::chrono::seconds(30);
constexpr auto kCloseTimeout = std::chrono::seconds(5);
constexpr auto kFoldInterval = std::chrono::seconds(1);
constexpr std::size_t kMaxCloseReason = 123;  // RFC 6455 §5.5: 125-byte control payload

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t unix_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

// Cut at a UTF-8 boundary to fit a close frame.
std::string close_reason(std::string_view text) {
  if (text.size() <= kMaxCloseReason) return std::string(text);
  std::size_t end = kMaxCloseReason;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

std::string peer_address(const tcp::socket& socket) {
  error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

class Tunnel;

// One event loop and the tunnels on it.
struct Worker {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::thread thread;
  std::unordered_map<std::uint64_t, std::weak_ptr<Tunnel>> tunnels;  // this worker's thread only
  bool closing_all = false;                                           // shutdown reached it
};

// State every worker shares.
struct Shared {
  explicit Shared(const ProxyConfig& c)
      : config(c),
        limiter(c.max_connections, c.max_connections_per_ip, c.max_connections_per_session),
        limits{c.max_frame_payload, c.max_control_payload} {
    run_options.dns_upstreams = c.dns_upstreams;
  }
  const ProxyConfig& config;
  Metrics metrics;
  ConnectionLimiter limiter;
  l2::Limits limits;
  host::RunOptions run_options;
  bool capture = false;
  std::atomic<bool> draining{false};
  std::atomic<std::uint64_t> next_tunnel_id{1};
};

// The session's counters last folded into the shared metrics.
struct StackTotals {
  std::uint64_t policy_denied = 0, tcp_connect_fail = 0, udp_send_fail = 0, udp_flow_limit = 0,
                dns_queries = 0, dns_fail = 0;
  std::int64_t tcp_active = 0, udp_active = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(stack::Drop::count_)> drops{};
};

class TunnelDriver final : public host::SessionDriver {
 public:
  TunnelDriver(asio::io_context& io, host::RunReport& report, const host::RunOptions& options,
               const stack::StackConfig& config, Tunnel& tunnel)
      : SessionDriver(io, report, options), tunnel_(tunnel) {
    start_session(config);
  }

 protected:
  bool write_frame(ByteSpan frame) override;

 private:
  Tunnel& tunnel_;
};

class Tunnel : public std::enable_shared_from_this<Tunnel> {
 public:
  Tunnel(Shared& shared, Worker& worker, beast::tcp_stream stream, Admission admission)
      : shared_(shared),
        config_(shared.config),
        worker_(worker),
        ws_(std::move(stream)),
        timer_(worker.io),
        admission_(std::move(admission)),
        id_(shared.next_tunnel_id.fetch_add(1)),
        soft_limit_(config_.ws_send_buffer) {}

  void start(http::request<http::empty_body> request) {
    ws_.set_option(websocket::stream_base::timeout{kCloseTimeout, websocket::stream_base::none(), false});
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::sec_websocket_protocol, l2::kSubprotocol);
    }));
    ws_.read_message_max(config_.max_message_size());
    ws_.auto_fragment(false);
    ws_.binary(true);
    // WebSocket pings are keepalives too (Beast answers them itself).
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::ping) last_inbound_ = SteadyClock::now();
    });
    beast::get_lowest_layer(ws_).expires_never();
    ws_.async_accept(request, [self = shared_from_this()](const error_code& ec) { self->on_accept(ec); });
  }

  // Server shutdown: close 1001 "shutting down", no ERROR first (Aero).
  void shut_down() { begin_close(websocket::close_code::going_away, "shutting down", std::nullopt, "shutdown"); }

  // A frame from the stack for the guest.
  bool send_frame(ByteSpan frame) {
    if (state_ != State::open) return false;
    if (frame.size() > shared_.limits.max_frame_payload) {
      drop("oversize_outbound");
      return false;
    }
    if (out_.size() >= 4 * soft_limit_) {
      drop("send_queue_full");
      return false;
    }
    Bytes message = take_buffer();
    if (!l2::encode_into(message, static_cast<std::uint8_t>(l2::MessageType::frame), frame, shared_.limits)) {
      drop("oversize_outbound");
      return false;
    }
    capture_frame(frame, PcapngWriter::Direction::outbound);
    shared_.metrics.frames_tx.add();
    shared_.metrics.bytes_tx.add(frame.size());
    dirty_ = true;
    enqueue(std::move(message));
    return true;
  }

 private:
  enum class State : std::uint8_t { accepting, open, closing, done };

  void on_accept(const error_code& ec) {
    if (ec) {
      log_debug("tunnel_handshake_failed", {{"tunnel", id_}, {"error", ec.message()}});
      return finish("handshake_failed");
    }
    state_ = State::open;
    opened_at_ = SteadyClock::now();
    last_inbound_ = opened_at_;
    last_progress_ = opened_at_;
    last_fold_ = opened_at_;
    last_flush_ = opened_at_;
    next_ping_ = opened_at_ + config_.ping_interval;
    shared_.metrics.sessions_total.add();
    shared_.metrics.sessions_active.add(1);
    counted_active_ = true;
    worker_.tunnels[id_] = weak_from_this();
    log_info("tunnel_open", {{"tunnel", id_},
                             {"client_ip", admission_.client_ip},
                             {"sid", admission_.sid ? std::string_view(*admission_.sid) : std::string_view()},
                             {"origin", admission_.origin ? std::string_view(*admission_.origin) : std::string_view()}});
    if (shared_.capture) {
      auto writer = PcapngWriter::create(config_.capture_dir, id_, static_cast<std::uint64_t>(unix_ms()),
                                         config_.capture_max_bytes);
      if (writer) {
        capture_ = std::move(*writer);
      } else {
        shared_.metrics.capture_errors.add();
        log_warn("capture_failed", {{"tunnel", id_}, {"error", writer.error().message}});
      }
    }
    // The session announces the gateway at once: its frames queue up behind the handshake.
    driver_ = std::make_unique<TunnelDriver>(worker_.io, report_, shared_.run_options, config_.stack, *this);
    driver_->rearm_timer();
    if (worker_.closing_all) shut_down();
    read();
    write_next();
    schedule();
  }

  // ---- inbound -------------------------------------------------------------------------------

  void read() {
    if (reading_ || read_paused_ || state_ == State::done) return;
    reading_ = true;
    ws_.async_read(in_, [self = shared_from_this()](const error_code& ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(const error_code& ec, std::size_t bytes) {
    reading_ = false;
    if (state_ == State::done) return;
    if (ec) {
      if (state_ == State::open) {
        close_label_ = ec == websocket::error::closed ? "client" : "error";
        if (ec == websocket::error::message_too_big) {
          // Beast has answered with close 1009 already.
          close_label_ = "protocol_error";
          drop("decode_error");
        }
        shared_.metrics.tunnels_closed.add(close_label_);
      }
      return finish(close_label_);
    }
    last_inbound_ = SteadyClock::now();
    if (state_ == State::open) {
      const ByteSpan message(static_cast<const std::uint8_t*>(in_.data().data()), in_.size());
      if (count_bytes(bytes) && count_message()) {
        if (!ws_.got_text()) handle_message(message);
      }
    }
    in_.consume(in_.size());
    if (state_ == State::open && out_.size() >= 2 * soft_limit_) {
      read_paused_ = true;  // resumed by on_write
      schedule();
      return;
    }
    read();
    schedule();
  }

  // Byte quota over both directions; false when it closed the tunnel.
  bool count_bytes(std::size_t n) {
    total_bytes_ += n;
    if (config_.max_bytes_per_connection == 0 || total_bytes_ <= config_.max_bytes_per_connection) return true;
    shared_.metrics.closed_quota_bytes.add();
    begin_close(websocket::close_code::policy_error, "byte quota exceeded", l2::ErrorCode::quota_bytes,
                "quota_bytes");
    return false;
  }

  // Frames-per-second quota: a fixed one-second window over inbound messages.
  bool count_message() {
    if (config_.max_frames_per_second == 0) return true;
    const auto now = SteadyClock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) {
      window_start_ = now;
      window_count_ = 0;
    }
    if (++window_count_ <= config_.max_frames_per_second) return true;
    shared_.metrics.closed_quota_fps.add();
    begin_close(websocket::close_code::policy_error, "frame rate quota exceeded", l2::ErrorCode::quota_fps,
                "quota_fps");
    return false;
  }

  void handle_message(ByteSpan bytes) {
    auto message = l2::decode(bytes, shared_.limits);
    if (!message) {
      drop("decode_error");
      log_debug("tunnel_protocol_error", {{"tunnel", id_}, {"error", message.error().message}});
      begin_close(websocket::close_code::policy_error, message.error().message, l2::ErrorCode::protocol_error,
                  "protocol_error");
      return;
    }
    if (message->is(l2::MessageType::frame)) {
      shared_.metrics.frames_rx.add();
      shared_.metrics.bytes_rx.add(message->payload.size());
      dirty_ = true;
      capture_frame(message->payload, PcapngWriter::Direction::inbound);
      driver_->frame_from_guest(message->payload);
      driver_->rearm_timer();
    } else if (message->is(l2::MessageType::ping)) {
      shared_.metrics.pings_received.add();
      send_control(l2::MessageType::pong, message->payload);
      shared_.metrics.pongs_sent.add();
    } else if (message->is(l2::MessageType::pong)) {
      match_pong(message->payload);
    }
    // ERROR from the client and unknown types: ignored (the spec's rule for unknown types).
  }

  // ---- server pings (AERO_L2_PING_INTERVAL_MS) ------------------------------------------------

  void ping_tick(SteadyClock::time_point now) {
    if (config_.ping_interval.count() == 0 || now < next_ping_) return;
    // One outstanding ping; forgotten after three intervals.
    if (ping_outstanding_ && now - ping_sent_at_ >= 3 * config_.ping_interval) ping_outstanding_ = false;
    if (!ping_outstanding_) {
      ++ping_id_;
      std::array<std::uint8_t, 8> payload{};
      for (int i = 0; i < 8; ++i) payload[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(ping_id_ >> (56 - 8 * i));
      send_control(l2::MessageType::ping, payload);
      shared_.metrics.pings_sent.add();
      ping_outstanding_ = true;
      ping_sent_at_ = now;
    }
    next_ping_ = now + config_.ping_interval;
  }

  void match_pong(ByteSpan payload) {
    if (!ping_outstanding_ || payload.size() != 8) return;
    std::uint64_t id = 0;
    for (const std::uint8_t b : payload) id = (id << 8) | b;
    if (id != ping_id_) return;
    ping_outstanding_ = false;
    shared_.metrics.pongs_matched.add();
    const std::chrono::duration<double, std::milli> rtt = SteadyClock::now() - ping_sent_at_;
    shared_.metrics.ping_rtt.observe(rtt.count());
  }

  // ---- outbound ------------------------------------------------------------------------------

  void send_control(l2::MessageType type, ByteSpan payload) {
    if (state_ != State::open) return;
    if (out_.size() >= 4 * soft_limit_) return drop("send_queue_full");
    Bytes message = take_buffer();
    if (!l2::encode_into(message, static_cast<std::uint8_t>(type), payload, shared_.limits)) return;
    enqueue(std::move(message));
  }

  void enqueue(Bytes message) {
    const std::size_t size = message.size();
    if (out_.empty()) last_progress_ = SteadyClock::now();  // the stall clock starts now
    out_.push_back(std::move(message));
    if (!count_bytes(size)) return;
    if (driver_ && !driver_->host_reads_paused() && out_.size() >= soft_limit_) {
      driver_->set_host_reads_paused(true);
      shared_.metrics.backpressure_pauses.add();
    }
    write_next();
  }

  void write_next() {
    if (writing_ || state_ == State::accepting || state_ == State::done) return;
    if (out_.empty()) {
      if (state_ == State::closing && !close_sent_) {
        close_sent_ = true;
        ws_.async_close(websocket::close_reason(close_code_, close_reason_),
                        [self = shared_from_this()](const error_code& ec) { self->on_closed(ec); });
      }
      return;
    }
    writing_ = true;
    ws_.async_write(asio::buffer(out_.front()), [self = shared_from_this()](const error_code& ec, std::size_t) {
      self->on_write(ec);
    });
  }

  void on_write(const error_code& ec) {
    writing_ = false;
    if (state_ == State::done) return;
    if (ec) {
      if (state_ == State::open) {
        close_label_ = "error";
        shared_.metrics.tunnels_closed.add(close_label_);
      }
      return hard_close();
    }
    last_progress_ = SteadyClock::now();
    recycle(std::move(out_.front()));
    out_.pop_front();
    if (state_ == State::open) {
      if (driver_ && driver_->host_reads_paused() && out_.size() <= soft_limit_ / 2) {
        driver_->set_host_reads_paused(false);  // may queue frames again
      }
      if (read_paused_ && out_.size() < soft_limit_) {
        read_paused_ = false;
        read();
      }
    }
    write_next();
  }

  void on_closed(const error_code&) {
    // The close frame is out; the pending read sees the peer's close (or the timeout).
    if (!reading_) finish(close_label_);
  }

  // ---- closing -------------------------------------------------------------------------------

  void begin_close(websocket::close_code code, std::string_view reason, std::optional<l2::ErrorCode> error,
                   std::string_view label) {
    if (state_ != State::open) return;
    state_ = State::closing;
    close_code_ = code;
    close_reason_ = close_reason(reason);
    close_label_ = label;
    closing_since_ = SteadyClock::now();
    shared_.metrics.tunnels_closed.add(label);
    log_info("tunnel_closing", {{"tunnel", id_}, {"reason", label}, {"close_code", static_cast<std::uint64_t>(code)}});
    // Messages not yet on the wire are dropped; the one being written finishes.
    while (out_.size() > (writing_ ? 1U : 0U)) {
      recycle(std::move(out_.back()));
      out_.pop_back();
    }
    if (error) {
      Bytes message = take_buffer();
      const Bytes payload = l2::encode_structured_error(static_cast<std::uint16_t>(*error), reason,
                                                        shared_.limits.max_control_payload);
      if (l2::encode_into(message, static_cast<std::uint8_t>(l2::MessageType::error), payload, shared_.limits)) {
        out_.push_back(std::move(message));
      }
    }
    // Read on, so the peer's close frame is seen.
    read_paused_ = false;
    read();
    write_next();
    schedule();
  }

  void hard_close() {
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);
    if (!reading_) finish(close_label_);
  }

  void finish(std::string_view reason) {
    if (state_ == State::done) return;
    const bool was_open = counted_active_;
    state_ = State::done;
    timer_.cancel();
    if (driver_) fold_metrics(true);
    if (capture_) {
      capture_->flush();
      fold_capture();
    }
    if (was_open) {
      shared_.metrics.sessions_active.add(-1);
      const auto lifetime = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - opened_at_);
      log_info("tunnel_closed", {{"tunnel", id_},
                                 {"reason", reason},
                                 {"duration_ms", static_cast<std::int64_t>(lifetime.count())},
                                 {"frames_from_guest", report_.frames_in},
                                 {"frames_to_guest", report_.frames_out},
                                 {"bytes_total", total_bytes_}});
    }
    driver_.reset();
    capture_.reset();
    admission_.lease.release();
    worker_.tunnels.erase(id_);
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  // ---- housekeeping: idle, pings, stalls, metrics and capture flushes -------------------------

  void schedule() {
    if (state_ == State::done || state_ == State::accepting) return;
    std::optional<SteadyClock::time_point> next;
    auto consider = [&next](SteadyClock::time_point t) {
      if (!next || t < *next) next = t;
    };
    if (state_ == State::closing) consider(closing_since_ + kCloseTimeout);
    if (state_ == State::open) {
      if (config_.idle_timeout.count() > 0 && !read_paused_) consider(last_inbound_ + config_.idle_timeout);
      if (config_.ping_interval.count() > 0) consider(next_ping_);
      if (!out_.empty()) consider(last_progress_ + config_.backpressure_timeout);
    }
    if (dirty_) consider(last_fold_ + kFoldInterval);
    if (capture_ && config_.capture_flush_interval.count() > 0) consider(last_flush_ + config_.capture_flush_interval);
    if (!next) return;
    if (timer_armed_ && armed_at_ <= *next) return;
    timer_armed_ = true;
    armed_at_ = *next;
    timer_.expires_at(*next);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec) return;
      self->timer_armed_ = false;
      self->tick();
    });
  }

  void tick() {
    if (state_ == State::done) return;
    const auto now = SteadyClock::now();
    if (state_ == State::closing && now - closing_since_ >= kCloseTimeout) return hard_close();
    if (state_ == State::open) {
      if (!out_.empty() && now - last_progress_ >= config_.backpressure_timeout) {
        shared_.metrics.closed_backpressure.add();
        begin_close(websocket::close_code::policy_error, "outbound websocket backpressure",
                    l2::ErrorCode::backpressure, "backpressure");
      } else if (config_.idle_timeout.count() > 0 && !read_paused_ &&
                 now - last_inbound_ >= config_.idle_timeout) {
        shared_.metrics.idle_timeouts.add();
        begin_close(websocket::close_code::policy_error, "idle timeout", std::nullopt, "idle_timeout");
      } else {
        ping_tick(now);
      }
    }
    if (dirty_ && now - last_fold_ >= kFoldInterval) fold_metrics(false);
    if (capture_ && config_.capture_flush_interval.count() > 0 && now - last_flush_ >= config_.capture_flush_interval) {
      capture_->flush();
      fold_capture();
      last_flush_ = now;
    }
    schedule();
  }

  void fold_metrics(bool final) {
    last_fold_ = SteadyClock::now();
    dirty_ = false;
    const stack::Session& session = driver_->session();
    StackTotals now;
    const auto& stats = session.stats();
    now.policy_denied = stats.dropped(stack::Drop::policy_denied) + session.tcp_stats().policy_denied +
                        session.dns_stats().policy_nxdomain;
    now.tcp_connect_fail = session.tcp_stats().connect_refused + session.tcp_stats().connect_unreachable +
                           session.tcp_stats().connect_timeouts;
    now.udp_send_fail = stats.dropped(stack::Drop::udp_send_failed);
    now.udp_flow_limit = stats.dropped(stack::Drop::udp_flow_limit);
    now.dns_queries = session.dns_stats().queries;
    now.dns_fail = session.dns_stats().servfail_upstream;
    now.drops = stats.drops;
    if (!final) {
      now.tcp_active = static_cast<std::int64_t>(driver_->tcp_socket_count());
      now.udp_active = static_cast<std::int64_t>(driver_->udp_socket_count());
    }
    Metrics& m = shared_.metrics;
    m.policy_denied.add(now.policy_denied - folded_.policy_denied);
    m.tcp_connect_fail.add(now.tcp_connect_fail - folded_.tcp_connect_fail);
    m.udp_send_fail.add(now.udp_send_fail - folded_.udp_send_fail);
    m.udp_flow_limit_exceeded.add(now.udp_flow_limit - folded_.udp_flow_limit);
    m.dns_queries.add(now.dns_queries - folded_.dns_queries);
    m.dns_fail.add(now.dns_fail - folded_.dns_fail);
    m.tcp_conns_active.add(now.tcp_active - folded_.tcp_active);
    m.udp_flows_active.add(now.udp_active - folded_.udp_active);
    for (std::size_t i = 0; i < now.drops.size(); ++i) {
      if (now.drops[i] != folded_.drops[i]) {
        m.stack_drops.add(stack::drop_name(static_cast<stack::Drop>(i)), now.drops[i] - folded_.drops[i]);
      }
    }
    folded_ = now;
    // Keep folding while sockets are open: their counts change without frames.
    if (now.tcp_active != 0 || now.udp_active != 0) dirty_ = true;
  }

  void capture_frame(ByteSpan frame, PcapngWriter::Direction direction) {
    if (!capture_) return;
    if (capture_->write(frame, direction, unix_ns())) {
      shared_.metrics.capture_frames.add();
    } else if (capture_->error()) {
      shared_.metrics.capture_errors.add();
      log_warn("capture_failed", {{"tunnel", id_}, {"path", capture_->path()}});
      fold_capture();
      capture_.reset();
    } else {
      shared_.metrics.capture_frames_dropped.add();
    }
  }

  void fold_capture() {
    if (!capture_) return;
    shared_.metrics.capture_bytes.add(capture_->take_new_bytes());
    if (capture_->error() && !capture_error_counted_) {
      capture_error_counted_ = true;
      shared_.metrics.capture_errors.add();
    }
  }

  void drop(std::string_view reason) {
    shared_.metrics.frames_dropped.add();
    shared_.metrics.frames_dropped_by_reason.add(reason);
  }

  Bytes take_buffer() {
    if (spare_.empty()) return Bytes{};
    Bytes b = std::move(spare_.back());
    spare_.pop_back();
    b.clear();
    return b;
  }
  void recycle(Bytes b) {
    if (spare_.size() < 32 && b.capacity() <= 4 + config_.max_message_size()) spare_.push_back(std::move(b));
  }

  Shared& shared_;
  const ProxyConfig& config_;
  Worker& worker_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer in_;
  std::deque<Bytes> out_;
  std::vector<Bytes> spare_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  SteadyClock::time_point armed_at_{};
  Admission admission_;
  const std::uint64_t id_;
  const std::size_t soft_limit_;
  State state_ = State::accepting;
  bool reading_ = false;
  bool read_paused_ = false;
  bool writing_ = false;
  bool close_sent_ = false;
  bool counted_active_ = false;
  bool dirty_ = false;
  bool capture_error_counted_ = false;
  websocket::close_code close_code_ = websocket::close_code::normal;
  std::string close_reason_;
  std::string_view close_label_ = "client";
  SteadyClock::time_point opened_at_{}, last_inbound_{}, last_progress_{}, last_fold_{}, last_flush_{},
      closing_since_{}, window_start_{}, next_ping_{}, ping_sent_at_{};
  std::uint64_t window_count_ = 0;
  std::uint64_t total_bytes_ = 0;
  std::uint64_t ping_id_ = 0;
  bool ping_outstanding_ = false;
  StackTotals folded_;
  std::unique_ptr<PcapngWriter> capture_;
  host::RunReport report_;
  // Last: destroyed first, while everything its session may call into still exists.
  std::unique_ptr<TunnelDriver> driver_;
};

bool TunnelDriver::write_frame(ByteSpan frame) { return tunnel_.send_frame(frame); }

// One HTTP connection until it upgrades to a tunnel or closes.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(Shared& shared, Worker& worker, tcp::socket socket)
      : shared_(shared), worker_(worker), stream_(std::move(socket)) {}

  void run() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    stream_.expires_after(kHttpTimeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](const error_code& ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(const error_code& ec) {
    if (ec) {
      // A request Beast could not parse gets 400; a closed or timed-out connection nothing.
      const bool malformed = ec.category() == http::make_error_code(http::error::bad_method).category() &&
                             ec != http::error::end_of_stream && ec != http::error::partial_message;
      if (malformed) return respond(http::status::bad_request, "bad request\n", "text/plain; charset=utf-8", false, 11);
      return shutdown();
    }
    auto request = parser_->release();
    const std::string_view target = view(request.target());
    const std::string_view path = target.substr(0, target.find('?'));
    const unsigned version = request.version();
    const bool keep_alive = request.keep_alive();
    if (path == "/l2" || path == "/l2/" || path == "/eth" || path == "/eth/") {
      shared_.metrics.http_requests.add("l2");
      return upgrade(std::move(request));
    }
    const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
    if (path == "/healthz") {
      shared_.metrics.http_requests.add("healthz");
      if (!get) return method_not_allowed(version);
      return respond(http::status::ok, "ok\n", "text/plain; charset=utf-8", keep_alive, version);
    }
    if (path == "/readyz") {
      shared_.metrics.http_requests.add("readyz");
      if (!get) return method_not_allowed(version);
      if (shared_.draining.load()) {
        return respond(http::status::service_unavailable, "shutting down\n", "text/plain; charset=utf-8",
                       keep_alive, version);
      }
      return respond(http::status::ok, "ready\n", "text/plain; charset=utf-8", keep_alive, version);
    }
    if (path == "/version") {
      shared_.metrics.http_requests.add("version");
      if (!get) return method_not_allowed(version);
      const boost::json::object body{{"version", shared_.config.version},
                                     {"gitSha", shared_.config.git_sha},
                                     {"builtAt", shared_.config.built_at}};
      return respond(http::status::ok, boost::json::serialize(body), "application/json", keep_alive, version);
    }
    if (path == "/metrics") {
      shared_.metrics.http_requests.add("metrics");
      if (!get) return method_not_allowed(version);
      return respond(http::status::ok, shared_.metrics.render(), "text/plain; version=0.0.4; charset=utf-8",
                     keep_alive, version);
    }
    shared_.metrics.http_requests.add("not_found");
    return respond(http::status::not_found, "not found\n", "text/plain; charset=utf-8", keep_alive, version);
  }

  void method_not_allowed(unsigned version) {
    respond(http::status::method_not_allowed, "method not allowed\n", "text/plain; charset=utf-8", false, version);
  }

  void upgrade(http::request<http::empty_body> request) {
    auto values = [&request](std::string_view name) {
      std::vector<std::string_view> out;
      const auto range = request.equal_range(beast::string_view(name.data(), name.size()));
      for (auto it = range.first; it != range.second; ++it) out.push_back(view(it->value()));
      return out;
    };
    const auto protocols = values("Sec-WebSocket-Protocol");
    const auto origins = values("Origin");
    const auto hosts = values("Host");
    const auto forwarded = values("Forwarded");
    const auto xff = values("X-Forwarded-For");
    const auto xfh = values("X-Forwarded-Host");
    const auto xfp = values("X-Forwarded-Proto");
    const auto cookies = values("Cookie");
    const auto authorization = values("Authorization");
    UpgradeRequest view_of;
    view_of.target = view(request.target());
    view_of.websocket_upgrade = websocket::is_upgrade(request);
    view_of.protocols = protocols;
    view_of.origins = origins;
    view_of.hosts = hosts;
    view_of.forwarded = forwarded;
    view_of.x_forwarded_for = xff;
    view_of.x_forwarded_host = xfh;
    view_of.x_forwarded_proto = xfp;
    view_of.cookies = cookies;
    if (!authorization.empty()) view_of.authorization = authorization.front();
    view_of.peer_ip = peer_address(stream_.socket());

    UpgradeOutcome outcome = admit(shared_.config, view_of, shared_.draining.load(), shared_.limiter, unix_ms());
    if (outcome.rejection) {
      count_rejection(*outcome.rejection);
      log_info("upgrade_rejected", {{"status", static_cast<std::uint64_t>(outcome.rejection->status)},
                                    {"reason", outcome.rejection->reason},
                                    {"auth_reason", outcome.rejection->auth_reason},
                                    {"client_ip", client_ip(view_of, shared_.config.trust_proxy)}});
      return respond(static_cast<http::status>(outcome.rejection->status), outcome.rejection->body + "\n",
                     "text/plain; charset=utf-8", false, request.version());
    }
    stream_.expires_never();
    auto tunnel = std::make_shared<Tunnel>(shared_, worker_, std::move(stream_), std::move(outcome.admission));
    tunnel->start(std::move(request));
  }

  void count_rejection(const Rejection& r) {
    Metrics& m = shared_.metrics;
    m.upgrade_rejected.add();
    m.upgrade_rejected_by_reason.add(r.reason);
    const std::string_view reason = r.reason;
    if (reason == "origin_missing") m.reject_origin_missing.add();
    if (reason == "origin_not_allowed") m.reject_origin_not_allowed.add();
    if (reason == "host_missing") m.reject_host_missing.add();
    if (reason == "host_invalid") m.reject_host_invalid.add();
    if (reason == "host_not_allowed") m.reject_host_not_allowed.add();
    if (reason == "auth_missing" || reason == "auth_invalid") {
      (reason == "auth_missing" ? m.reject_auth_missing : m.reject_auth_invalid).add();
      m.auth_failures.add();
      m.auth_reject.add(r.auth_reason);
    }
    if (reason == "ip_limit") m.upgrade_ip_limit_exceeded.add();
    if (reason == "max_connections") m.reject_max_connections.add();
    if (reason == "max_connections_per_session") {
      m.reject_max_connections_per_session.add();
      m.reject_max_tunnels_per_session.add();
      m.session_connection_denied.add();
    }
  }

  void respond(http::status status, std::string body, std::string_view content_type, bool keep_alive,
               unsigned version) {
    auto response = std::make_shared<http::response<http::string_body>>(status, version);
    response->set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
    response->set(http::field::cache_control, "no-store");
    response->body() = std::move(body);
    response->keep_alive(keep_alive);
    response->prepare_payload();
    stream_.expires_after(kHttpTimeout);
    http::async_write(stream_, *response, [self = shared_from_this(), response](const error_code& ec, std::size_t) {
      if (ec || !response->keep_alive()) return self->shutdown();
      self->read();
    });
  }

  void shutdown() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  Shared& shared_;
  Worker& worker_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
};

class Server {
 public:
  Server(const ProxyConfig& config, const ServerOptions& options)
      : shared_(config), options_(options), acceptor_(io_), signals_(io_, SIGINT, SIGTERM),
        retry_(io_), drain_(io_), grace_(io_) {}

  int run() {
    const auto& config = shared_.config;
    if (!config.capture_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(config.capture_dir, ec);
      if (ec) {
        shared_.metrics.capture_errors.add();
        log_error("capture_disabled", {{"dir", config.capture_dir}, {"error", ec.message()}});
      } else {
        shared_.capture = true;
      }
    }
    error_code ec;
    const auto address = asio::ip::make_address(config.listen_host, ec);
    const tcp::endpoint endpoint(address, config.listen_port);
    if (!ec) acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      log_error("listen_failed", {{"address", config.listen_host}, {"port", static_cast<std::uint64_t>(config.listen_port)},
                                  {"error", ec.message()}});
      return 1;
    }
    const auto bound = acceptor_.local_endpoint(ec);
    const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string();
    const std::string url = "ws://" + host + ":" + std::to_string(bound.port()) + "/l2";

    for (unsigned i = 0; i < config.worker_threads; ++i) {
      auto worker = std::make_unique<Worker>();
      Worker* raw = worker.get();
      worker->thread = std::thread([raw] { raw->io.run(); });
      workers_.push_back(std::move(worker));
    }
    accept();
    wait_signal();
    log_info("listening", {{"url", url},
                           {"auth_mode", auth_mode_name(config.auth.mode)},
                           {"open", config.open},
                           {"workers", static_cast<std::uint64_t>(config.worker_threads)},
                           {"version", config.version}});
    if (options_.on_listening) options_.on_listening(url);
    io_.run();

    for (auto& worker : workers_) {
      worker->guard.reset();
      worker->io.stop();
    }
    for (auto& worker : workers_) worker->thread.join();
    log_info("stopped", {{"tunnels_open", static_cast<std::uint64_t>(shared_.limiter.active())}});
    return 0;
  }

 private:
  void accept() {
    Worker& worker = *workers_[next_worker_++ % workers_.size()];
    acceptor_.async_accept(worker.io, [this, &worker](const error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // Out of descriptors or similar: try again shortly rather than spin.
        log_warn("accept_failed", {{"error", ec.message()}});
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([this](const error_code& e) {
          if (!e) accept();
        });
        return;
      }
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto session = std::make_shared<HttpSession>(shared_, worker, std::move(socket));
      asio::post(worker.io, [session] { session->run(); });
      accept();
    });
  }

  void wait_signal() {
    signals_.async_wait([this](const error_code& ec, int signal) {
      if (ec) return;
      if (shared_.draining.exchange(true)) {
        log_warn("shutdown_forced", {{"signal", static_cast<std::int64_t>(signal)}});
        return io_.stop();
      }
      log_info("shutdown_started", {{"signal", static_cast<std::int64_t>(signal)},
                                    {"tunnels_open", static_cast<std::uint64_t>(shared_.limiter.active())},
                                    {"drain_ms", static_cast<std::int64_t>(shared_.config.shutdown_drain.count())},
                                    {"grace_ms", static_cast<std::int64_t>(shared_.config.shutdown_grace.count())}});
      wait_signal();  // a second signal forces the end
      drain_.expires_after(shared_.config.shutdown_drain);
      drain_.async_wait([this](const error_code& e) {
        if (e) return;
        close_tunnels();
      });
    });
  }

  void close_tunnels() {
    for (auto& worker : workers_) {
      Worker* w = worker.get();
      asio::post(w->io, [w] {
        w->closing_all = true;
        // Copied: closing may finish a tunnel at once, which erases it from the map.
        std::vector<std::shared_ptr<Tunnel>> open;
        for (auto& [id, weak] : w->tunnels) {
          if (auto tunnel = weak.lock()) open.push_back(std::move(tunnel));
        }
        for (auto& tunnel : open) tunnel->shut_down();
      });
    }
    grace_deadline_ = SteadyClock::now() + shared_.config.shutdown_grace;
    wait_for_tunnels();
  }

  void wait_for_tunnels() {
    if (shared_.limiter.active() == 0 || SteadyClock::now() >= grace_deadline_) {
      if (shared_.limiter.active() != 0) {
        log_warn("shutdown_grace_expired", {{"tunnels_open", static_cast<std::uint64_t>(shared_.limiter.active())}});
      }
      error_code ignored;
      acceptor_.close(ignored);
      return io_.stop();
    }
    grace_.expires_after(std::chrono::milliseconds(20));
    grace_.async_wait([this](const error_code& e) {
      if (!e) wait_for_tunnels();
    });
  }

  Shared shared_;
  ServerOptions options_;
  // Before io_: a pending accept on io_ holds a socket of a worker's io_context, which must
  // still exist when io_ destroys that operation.
  std::vector<std::unique_ptr<Worker>> workers_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer retry_;
  asio::steady_timer drain_;
  asio::steady_timer grace_;
  SteadyClock::time_point grace_deadline_{};
  std::size_t next_worker_ = 0;
};

}  // namespace

int run_server(const ProxyConfig& config, const ServerOptions& options) {
  Log::set_level(config.log_level);
  Server server(config, options);
  return server.run();
}

}  // namespace aero::l2proxy
