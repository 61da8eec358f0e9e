// aero-net bridge (bridge.h): a WebSocket tunnel client for TAP devices and QEMU stream peers.
// One thread, one io_context.
#include "aero/services/l2_proxy/bridge.h"

#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <csignal>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>

#include "aero/host/tap_device.h"
#include "aero/proto/l2_tunnel.h"
#include "aero/proto/qemu_stream.h"

namespace aero::l2proxy {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

struct Url {
  std::string host;  // without brackets
  std::string port = "80";
  std::string host_header;
  std::string target = "/";
};

Result<Url> parse_url(std::string_view text) {
  constexpr std::string_view kScheme = "ws://";
  if (text.substr(0, kScheme.size()) != kScheme) {
    return make_error("bad_url", "the URL must start with ws:// (put TLS in front of the bridge)");
  }
  text.remove_prefix(kScheme.size());
  const auto slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  Url url;
  url.target = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
  url.host_header = std::string(authority);
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return make_error("bad_url", "unterminated IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() == ':') url.port = std::string(authority.substr(1));
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    url.host = std::string(authority.substr(0, colon));
    url.port = std::string(authority.substr(colon + 1));
  } else {
    url.host = std::string(authority);
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(url.port.data(), url.port.data() + url.port.size(), port);
  if (url.host.empty() || ec != std::errc{} || end != url.port.data() + url.port.size() || port == 0 ||
      port > 65535) {
    return make_error("bad_url", "invalid host or port in the URL");
  }
  return url;
}

class Bridge {
 public:
  Bridge(const BridgeOptions& options, asio::io_context& io)
      : options_(options), io_(io), ws_(io), ping_timer_(io), stop_timer_(io), signals_(io, SIGINT, SIGTERM),
        limits_{options.max_frame, l2::kDefaultMaxControlPayload} {}

  Result<void> connect() {
    auto url = parse_url(options_.url);
    if (!url) return url.error();
    error_code ec;
    tcp::resolver resolver(io_);
    const auto endpoints = resolver.resolve(url->host, url->port, ec);
    if (ec) return make_error("connect", "cannot resolve " + url->host + ": " + ec.message());
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(ws_).connect(endpoints, ec);
    if (ec) return make_error("connect", "cannot connect to " + url->host_header + ": " + ec.message());
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ec);
    std::string protocols(l2::kSubprotocol);
    if (!options_.token.empty()) protocols += ", " + std::string(l2::kTokenSubprotocolPrefix) + options_.token;
    ws_.set_option(websocket::stream_base::decorator([this, protocols](websocket::request_type& request) {
      request.set(http::field::sec_websocket_protocol, protocols);
      request.set(http::field::user_agent, "aero-net-bridge");
      if (!options_.origin.empty()) request.set(http::field::origin, options_.origin);
      if (!options_.cookie.empty()) request.set(http::field::cookie, "aero_session=" + options_.cookie);
      if (!options_.bearer.empty()) request.set(http::field::authorization, "Bearer " + options_.bearer);
    }));
    websocket::response_type response;
    ws_.handshake(response, url->host_header, url->target, ec);
    if (ec) {
      if (response.result_int() != 0 && response.result() != http::status::switching_protocols) {
        return make_error("upgrade", "the proxy refused the tunnel: " + std::to_string(response.result_int()) +
                                         " " + std::string(response.reason()));
      }
      return make_error("upgrade", "WebSocket handshake failed: " + ec.message());
    }
    const auto selected = response[http::field::sec_websocket_protocol];
    if (std::string_view(selected.data(), selected.size()) != l2::kSubprotocol) {
      return make_error("upgrade", "the proxy did not select aero-l2-tunnel-v1");
    }
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(5), websocket::stream_base::none(), false});
    ws_.read_message_max(4 + std::max(options_.max_frame, l2::kDefaultMaxControlPayload));
    ws_.binary(true);
    ws_.auto_fragment(false);
    return {};
  }

  Result<void> start_transport() {
    if (!options_.tap.empty()) {
      auto tap = host::open_tap({options_.tap, options_.netns, true});
      if (!tap) return make_error("transport", tap.error().message);
      tap_.emplace(io_, tap->release());
      tap_buffer_.resize(options_.max_frame + 1);
      wait_tap();
      return {};
    }
    const std::string& address = options_.qemu_listen;
    error_code ec;
    if (address.rfind("unix:", 0) == 0) {
      const std::string path = address.substr(5);
      std::filesystem::remove(path, ec);
      unix_acceptor_.emplace(io_);
      unix_acceptor_->open(asio::local::stream_protocol(), ec);
      if (!ec) unix_acceptor_->bind(asio::local::stream_protocol::endpoint(path), ec);
      if (!ec) unix_acceptor_->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return make_error("transport", "cannot listen on " + address + ": " + ec.message());
      accept_unix();
      return {};
    }
    if (address.rfind("tcp:", 0) == 0) {
      const std::string rest = address.substr(4);
      const auto colon = rest.rfind(':');
      if (colon == std::string::npos) return make_error("transport", "expected tcp:HOST:PORT");
      tcp::resolver resolver(io_);
      const auto endpoints = resolver.resolve(rest.substr(0, colon), rest.substr(colon + 1),
                                              asio::ip::resolver_base::passive, ec);
      if (ec || endpoints.empty()) return make_error("transport", "cannot resolve " + address);
      tcp_acceptor_.emplace(io_);
      const auto endpoint = endpoints.begin()->endpoint();
      tcp_acceptor_->open(endpoint.protocol(), ec);
      if (!ec) tcp_acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) tcp_acceptor_->bind(endpoint, ec);
      if (!ec) tcp_acceptor_->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return make_error("transport", "cannot listen on " + address + ": " + ec.message());
      accept_tcp();
      return {};
    }
    return make_error("transport", "--qemu-listen must be unix:/path or tcp:HOST:PORT");
  }

  void start() {
    read_ws();
    signals_.async_wait([this](const error_code& ec, int) {
      if (!ec) close();
    });
    if (options_.duration.count() > 0) {
      stop_timer_.expires_after(options_.duration);
      stop_timer_.async_wait([this](const error_code& ec) {
        if (!ec) close();
      });
    }
    if (options_.ping_interval.count() > 0) schedule_ping();
  }

  BridgeReport& report() { return report_; }

 private:
  // ---- WebSocket ----------------------------------------------------------------------------

  void read_ws() {
    if (ws_reading_ || ws_read_paused_ || ended_) return;
    ws_reading_ = true;
    ws_.async_read(in_, [this](const error_code& ec, std::size_t) {
      ws_reading_ = false;
      if (ec) return end(ec);
      handle_message(ByteSpan(static_cast<const std::uint8_t*>(in_.data().data()), in_.size()));
      in_.consume(in_.size());
      if (peer_backlog() > kMaxPeerBacklog) {
        ws_read_paused_ = true;  // resumed when the QEMU peer drains
        return;
      }
      read_ws();
    });
  }

  void handle_message(ByteSpan bytes) {
    auto message = l2::decode(bytes, limits_);
    if (!message) return;  // a proxy speaking another version: nothing useful to do with it
    if (message->is(l2::MessageType::frame)) {
      ++report_.frames_from_proxy;
      if (!write_to_transport(message->payload)) ++report_.transport_drops;
    } else if (message->is(l2::MessageType::ping)) {
      send(l2::MessageType::pong, message->payload);
    } else if (message->is(l2::MessageType::pong)) {
      if (ping_outstanding_ && message->payload.size() == 8) {
        std::uint64_t id = 0;
        for (const std::uint8_t b : message->payload) id = (id << 8) | b;
        if (id == ping_id_) {
          ping_outstanding_ = false;
          ++report_.pongs_received;
          const std::chrono::duration<double, std::milli> rtt = SteadyClock::now() - ping_sent_at_;
          const auto n = static_cast<double>(report_.pongs_received);
          report_.rtt_ms_min = n == 1 ? rtt.count() : std::min(report_.rtt_ms_min, rtt.count());
          report_.rtt_ms_max = std::max(report_.rtt_ms_max, rtt.count());
          report_.rtt_ms_avg += (rtt.count() - report_.rtt_ms_avg) / n;
        }
      }
    } else if (message->is(l2::MessageType::error)) {
      if (auto structured = l2::decode_structured_error(message->payload)) {
        report_.last_error = std::to_string(structured->code) + ": " + structured->message;
      } else {
        report_.last_error = std::string(message->payload.begin(), message->payload.end());
      }
      std::fprintf(stderr, "aero-net bridge: the proxy reports: %s\n", report_.last_error.c_str());
    }
  }

  bool send(l2::MessageType type, ByteSpan payload) {
    if (ended_ || closing_ || out_.size() >= options_.send_queue) return false;
    Bytes message;
    if (!l2::encode_into(message, static_cast<std::uint8_t>(type), payload, limits_)) return false;
    out_.push_back(std::move(message));
    write_ws();
    return true;
  }

  void write_ws() {
    if (ws_writing_ || out_.empty() || ended_) return;
    ws_writing_ = true;
    ws_.async_write(asio::buffer(out_.front()), [this](const error_code& ec, std::size_t) {
      ws_writing_ = false;
      if (ec) return end(ec);
      out_.pop_front();
      if (out_.size() < options_.send_queue / 2) resume_transport();
      if (out_.empty() && closing_ && !close_sent_) return send_close();
      write_ws();
    });
  }

  void schedule_ping() {
    ping_timer_.expires_after(options_.ping_interval);
    ping_timer_.async_wait([this](const error_code& ec) {
      if (ec || ended_) return;
      if (ping_outstanding_ && SteadyClock::now() - ping_sent_at_ >= 3 * options_.ping_interval) {
        ping_outstanding_ = false;
      }
      if (!ping_outstanding_) {
        ++ping_id_;
        std::array<std::uint8_t, 8> payload{};
        for (int i = 0; i < 8; ++i) payload[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(ping_id_ >> (56 - 8 * i));
        if (send(l2::MessageType::ping, payload)) {
          ++report_.pings_sent;
          ping_outstanding_ = true;
          ping_sent_at_ = SteadyClock::now();
        }
      }
      schedule_ping();
    });
  }

  void close() {
    if (closing_ || ended_) return;
    closing_ = true;
    if (!ws_writing_) send_close();
  }

  void send_close() {
    close_sent_ = true;
    ws_.async_close(websocket::close_code::normal, [this](const error_code& ec) {
      if (ec) end(ec);
    });
  }

  void end(const error_code& ec) {
    if (ended_) return;
    ended_ = true;
    if (ec == websocket::error::closed && !close_sent_) {
      report_.close_code = static_cast<int>(ws_.reason().code);
      report_.close_reason = std::string(ws_.reason().reason.c_str());
    }
    io_.stop();
  }

  // ---- transports ---------------------------------------------------------------------------

  bool write_to_transport(ByteSpan frame) {
    if (tap_) {
      return ::write(tap_->native_handle(), frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
    }
    if (!peer_open_) return false;
    if (!qemu_stream::encode_into(peer_pending_, frame, options_.max_frame)) return false;
    flush_peer();
    return true;
  }

  void wait_tap() {
    if (transport_paused_ || ended_) return;
    tap_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const error_code& ec) {
      if (ec || ended_) return;
      for (int i = 0; i < 64; ++i) {
        if (out_.size() >= options_.send_queue) {
          transport_paused_ = true;  // the WebSocket is behind; the TAP queue absorbs or drops
          return;
        }
        const ssize_t n = ::read(tap_->native_handle(), tap_buffer_.data(), tap_buffer_.size());
        if (n <= 0) break;
        frame_from_transport(ByteSpan(tap_buffer_).first(static_cast<std::size_t>(n)));
      }
      wait_tap();
    });
  }

  void frame_from_transport(ByteSpan frame) {
    if (send(l2::MessageType::frame, frame)) {
      ++report_.frames_to_proxy;
    } else {
      ++report_.transport_drops;
    }
  }

  void resume_transport() {
    if (!transport_paused_) return;
    transport_paused_ = false;
    if (tap_) {
      wait_tap();
    } else {
      read_peer();
    }
  }

  void accept_unix() {
    unix_acceptor_->async_accept([this](const error_code& ec, asio::local::stream_protocol::socket socket) {
      if (ec) return;
      attach_peer(std::move(socket));
      accept_unix();
    });
  }

  void accept_tcp() {
    tcp_acceptor_->async_accept([this](const error_code& ec, tcp::socket socket) {
      if (ec) return;
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      attach_peer(std::move(socket));
      accept_tcp();
    });
  }

  // One QEMU peer at a time: a new connection replaces the old one (a restarted VM).
  template <class Socket>
  void attach_peer(Socket socket) {
    if (peer_open_) peer_close_();
    ++report_.peers;
    ++peer_generation_;
    peer_pending_.clear();
    decoder_.emplace(options_.max_frame);
    auto stream = std::make_shared<Socket>(std::move(socket));
    peer_read_ = [this, stream, generation = peer_generation_] {
      stream->async_read_some(asio::buffer(peer_input_), [this, stream, generation](const error_code& ec, std::size_t n) {
        if (generation != peer_generation_) return;
        peer_reading_ = false;
        if (ec) return drop_peer();
        auto status = decoder_->push(ByteSpan(peer_input_).first(n),
                                     [this](ByteSpan frame) { frame_from_transport(frame); });
        if (!status) return drop_peer();
        read_peer();
      });
    };
    peer_write_ = [this, stream, generation = peer_generation_] {
      asio::async_write(*stream, asio::buffer(peer_writing_), [this, generation](const error_code& ec, std::size_t) {
        if (generation != peer_generation_) return;
        peer_writing_.clear();
        if (ec) return drop_peer();
        flush_peer();
        if (ws_read_paused_ && peer_backlog() <= kMaxPeerBacklog / 2) {
          ws_read_paused_ = false;
          read_ws();
        }
      });
    };
    peer_close_ = [stream] {
      error_code ignored;
      stream->close(ignored);
    };
    peer_open_ = true;
    peer_reading_ = false;
    peer_writing_.clear();
    transport_paused_ = false;
    read_peer();
  }

  void read_peer() {
    if (!peer_open_ || peer_reading_ || ended_) return;
    if (out_.size() >= options_.send_queue) {
      transport_paused_ = true;
      return;
    }
    peer_reading_ = true;
    peer_read_();
  }

  void flush_peer() {
    if (!peer_open_ || !peer_writing_.empty() || peer_pending_.empty()) return;
    peer_writing_.swap(peer_pending_);
    peer_write_();
  }

  void drop_peer() {
    if (!peer_open_) return;
    peer_open_ = false;
    peer_close_();
    peer_pending_.clear();
    if (ws_read_paused_) {
      ws_read_paused_ = false;
      read_ws();
    }
  }

  std::size_t peer_backlog() const { return peer_pending_.size() + peer_writing_.size(); }

  static constexpr std::size_t kMaxPeerBacklog = 4 * 1024 * 1024;

  const BridgeOptions& options_;
  asio::io_context& io_;
  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer ping_timer_;
  asio::steady_timer stop_timer_;
  asio::signal_set signals_;
  l2::Limits limits_;
  beast::flat_buffer in_;
  std::deque<Bytes> out_;
  bool ws_reading_ = false, ws_writing_ = false, ws_read_paused_ = false;
  bool closing_ = false, close_sent_ = false, ended_ = false;
  bool transport_paused_ = false;
  std::uint64_t ping_id_ = 0;
  bool ping_outstanding_ = false;
  SteadyClock::time_point ping_sent_at_{};
  // TAP.
  std::optional<asio::posix::stream_descriptor> tap_;
  Bytes tap_buffer_;
  // QEMU stream peers.
  std::optional<asio::local::stream_protocol::acceptor> unix_acceptor_;
  std::optional<tcp::acceptor> tcp_acceptor_;
  std::optional<qemu_stream::FrameDecoder> decoder_;
  std::array<std::uint8_t, 64 * 1024> peer_input_{};
  Bytes peer_pending_, peer_writing_;
  bool peer_open_ = false, peer_reading_ = false;
  std::uint64_t peer_generation_ = 0;
  std::function<void()> peer_read_, peer_write_, peer_close_;
  BridgeReport report_;
};

}  // namespace

std::string BridgeReport::json() const {
  const boost::json::object out{
      {"frames_to_proxy", frames_to_proxy}, {"frames_from_proxy", frames_from_proxy},
      {"transport_drops", transport_drops}, {"pings_sent", pings_sent},
      {"pongs_received", pongs_received},   {"rtt_ms_min", rtt_ms_min},
      {"rtt_ms_avg", rtt_ms_avg},           {"rtt_ms_max", rtt_ms_max},
      {"peers", peers},                     {"close_code", close_code},
      {"close_reason", close_reason},       {"last_error", last_error},
  };
  return boost::json::serialize(out);
}

Result<BridgeReport> run_bridge(const BridgeOptions& options, const std::function<void()>& on_connected) {
  if (options.tap.empty() == options.qemu_listen.empty()) {
    return make_error("transport", "exactly one of a TAP device or a QEMU listen address is needed");
  }
  asio::io_context io;
  Bridge bridge(options, io);
  if (auto connected = bridge.connect(); !connected) return connected.error();
  if (auto transport = bridge.start_transport(); !transport) return transport.error();
  bridge.start();
  if (on_connected) on_connected();
  io.run();
  if (!options.qemu_listen.empty() && options.qemu_listen.rfind("unix:", 0) == 0) {
    std::error_code ignored;
    std::filesystem::remove(options.qemu_listen.substr(5), ignored);
  }
  return bridge.report();
}

}  // namespace aero::l2proxy
