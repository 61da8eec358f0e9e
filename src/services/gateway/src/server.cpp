// The aero-gateway server (server.h). The only translation unit with Boost.Beast.
//
// One event loop on one thread: HTTP connections, WebSocket relays, the DNS resolver (c-ares,
// single-threaded by design) and the signal handler all run on it, so nothing needs a lock.
//
// An HTTP connection reads requests until it upgrades or closes. Per request (Aero's hook
// order): request target over 8192 characters 414; WebSocket routes (/tcp, /tcp-mux, /udp) go
// to the upgrade pipeline and are refused in plain text;
// other requests pass the Origin guard (403), the global rate limit (429) and then their route.
// Every HTTP response carries the security headers and, for an allowed Origin, the CORS ones.
//
// A /tcp relay (one TCP connection per WebSocket):
//
//   accepting ──101 sent──> connecting ──connected──> open ──client close, text (1003), oversize
//       │                       │                      │      (1009, Beast), buffer cap (1011),
//       │                       │                      │      TCP end (1000) / error (1011),
//       │                       │                      │      idle (1000), shutdown (1001)──> closing
//       └──handshake failed─────┴──connect failed or timed out: close 1011─────────────────────┴──> done
//
//   open  two pumps, each with at most one operation in flight, which is the back-pressure:
//         WebSocket -> TCP: the next message is read only once the previous one is written to
//         the target; TCP -> WebSocket: the target is read again only once the previous chunk
//         is written to the client. A message larger than TCP_PROXY_MAX_TCP_BUFFER_BYTES is
//         refused with 1011 (the bytes that would wait for the target).
//   closing  as for every relay (WebSocketRelay below).
//
// TLS (TLS_ENABLED=1): every accepted socket first completes a TLS handshake (within the HTTP
// timeout), then runs the same HTTP session and relays over ClientStream, which is the TCP
// stream or Beast's ssl_stream over it. Closing a TLS connection sends close_notify first.
#include "aero/services/gateway/server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <variant>
#include <vector>

#include "aero/host/dns_resolver.h"
#include "aero/proto/origin.h"
#include "aero/proto/session_token.h"
#include "aero/proto/tcp_mux.h"
#include "aero/proto/udp_relay.h"
#include "aero/services/gateway/doh.h"
#include "aero/services/gateway/http_rules.h"
#include "aero/services/gateway/limits.h"
#include "aero/services/gateway/metrics.h"
#include "aero/services/gateway/session.h"
#include "aero/services/gateway/tcp_mux_session.h"
#include "aero/services/gateway/udp_bindings.h"
#include "aero/services/l2_proxy/log.h"

namespace aero::gateway {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using error_code = boost::system::error_code;
using l2proxy::log_debug;
using l2proxy::log_error;
using l2proxy::log_info;
using l2proxy::log_warn;
using Request = http::request<http::string_body>;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

constexpr auto kHttpTimeout = std::chrono::seconds(30);
constexpr auto kCloseTimeout = std::chrono::seconds(5);
constexpr auto kRejectLinger = std::chrono::milliseconds(2000);
constexpr std::size_t kHeaderLimit = 96 * 1024;
// Target reads: up to 64 KiB at a time, into a buffer allocated when the target first has data
// to read (a relay waits for readability, then reads without blocking), so that an idle relayed
// connection holds no read buffer.
constexpr std::size_t kTcpReadChunk = 64 * 1024;

// One non-blocking read from a socket that reported readability, into `buffer` (sized to
// kTcpReadChunk on first use). would_block (a spurious wake-up) means: wait again.
std::size_t read_ready(tcp::socket& socket, std::vector<std::uint8_t>& buffer, boost::system::error_code& ec) {
  if (buffer.empty()) buffer.resize(kTcpReadChunk);
  socket.non_blocking(true, ec);
  if (ec) return 0;
  return socket.read_some(asio::buffer(buffer), ec);
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }
beast::string_view bview(std::string_view s) { return {s.data(), s.size()}; }

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

asio::ip::address to_asio(const IpAddress& address) {
  if (address.is_v4()) return asio::ip::address_v4(address.v4.bytes);
  return asio::ip::address_v6(address.v6.bytes);
}

ByteSpan bytes_of(std::string_view text) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());  // NOLINT
}

// A client connection: plain TCP, or TLS over TCP when TLS_ENABLED=1. One type for both, so the
// HTTP session and the relays are written once (templates over the stream type would double
// every relay's code). It meets Beast's AsyncStream requirements; next_layer() is the TCP
// stream (timeouts, the socket, beast::get_lowest_layer), and the teardown overloads below let
// websocket::stream close either kind (TLS: close_notify before the socket closes).
class ClientStream {
 public:
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  using executor_type = beast::tcp_stream::executor_type;

  explicit ClientStream(tcp::socket socket) : stream_(std::in_place_type<beast::tcp_stream>, std::move(socket)) {}
  ClientStream(tcp::socket socket, asio::ssl::context& tls)
      : stream_(std::in_place_type<TlsStream>, beast::tcp_stream(std::move(socket)), tls) {}

  executor_type get_executor() noexcept { return next_layer().get_executor(); }
  beast::tcp_stream& next_layer() {
    if (auto* tls = std::get_if<TlsStream>(&stream_)) return tls->next_layer();
    return std::get<beast::tcp_stream>(stream_);
  }
  const beast::tcp_stream& next_layer() const {
    if (const auto* tls = std::get_if<TlsStream>(&stream_)) return tls->next_layer();
    return std::get<beast::tcp_stream>(stream_);
  }
  TlsStream* tls() { return std::get_if<TlsStream>(&stream_); }
  bool is_tls() const { return std::holds_alternative<TlsStream>(stream_); }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    if (auto* tls = std::get_if<TlsStream>(&stream_)) {
      tls->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      std::get<beast::tcp_stream>(stream_).async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  template <class Buffers, class Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    if (auto* tls = std::get_if<TlsStream>(&stream_)) {
      tls->async_write_some(buffers, std::forward<Handler>(handler));
    } else {
      std::get<beast::tcp_stream>(stream_).async_write_some(buffers, std::forward<Handler>(handler));
    }
  }

 private:
  std::variant<beast::tcp_stream, TlsStream> stream_;
};

// websocket::stream<ClientStream> finds these by argument-dependent lookup.
template <class Handler>
void async_teardown(beast::role_type role, ClientStream& stream, Handler&& handler) {
  if (auto* tls = stream.tls()) {
    beast::async_teardown(role, *tls, std::forward<Handler>(handler));
  } else {
    beast::async_teardown(role, stream.next_layer(), std::forward<Handler>(handler));
  }
}

[[maybe_unused]] void teardown(beast::role_type role, ClientStream& stream, error_code& ec) {
  if (auto* tls = stream.tls()) {
    beast::teardown(role, *tls, ec);
  } else {
    beast::teardown(role, stream.next_layer(), ec);
  }
}

// The TLS context: TLS 1.2 and 1.3 only, forward-secret AEAD suites for 1.2 (OpenSSL's 1.3
// defaults), no renegotiation, no compression. The files were checked by the configuration;
// a failure here still names the variable.
Result<std::unique_ptr<asio::ssl::context>> make_tls_context(const GatewayConfig& config) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return make_error("tls", "TLS_ENABLED: cannot require TLS 1.2");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  static constexpr const char* kTls12Ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return make_error("tls", "TLS_ENABLED: cannot set the TLS 1.2 cipher list");
  }
  // Never prompt on the terminal for a passphrase (encrypted keys are refused).
  context->set_password_callback([](std::size_t, asio::ssl::context::password_purpose) { return std::string(); });
  error_code ec;
  context->use_certificate_chain_file(config.tls_cert_path, ec);
  if (ec) return make_error("tls", "TLS_CERT_PATH: cannot use '" + config.tls_cert_path + "': " + ec.message());
  context->use_private_key_file(config.tls_key_path, asio::ssl::context::pem, ec);
  if (ec) return make_error("tls", "TLS_KEY_PATH: cannot use '" + config.tls_key_path + "': " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    return make_error("tls", "TLS_KEY_PATH: the key does not belong to TLS_CERT_PATH's certificate");
  }
  return context;
}

// A WebSocket relay (/tcp, /tcp-mux, /udp) as the shutdown sees it.
class Relay {
 public:
  virtual ~Relay() = default;
  virtual void shut_down() = 0;  // close with 1001 "shutting down"
};

// State shared by every connection (one thread).
struct Shared {
  explicit Shared(const GatewayConfig& c, asio::io_context& context)
      : config(c),
        io(context),
        cache(c.dns_cache_max_entries, c.dns_cache_max_ttl_seconds, c.dns_cache_negative_ttl_seconds),
        http_limiter(static_cast<double>(c.rate_limit_per_minute) / 60.0, static_cast<double>(c.rate_limit_per_minute)),
        dns_limiter(c.dns_qps_per_ip, c.dns_burst_per_ip),
        udp_token_limiter(1, 5),
        slots(c.tcp_max_connections) {
    for (const auto& upstream : c.dns_upstreams) upstream_label += (upstream_label.empty() ? "" : ",") + upstream;
  }
  const GatewayConfig& config;
  asio::io_context& io;
  Metrics metrics;
  DnsCache cache;
  TokenBucketLimiter http_limiter;
  TokenBucketLimiter dns_limiter;
  TokenBucketLimiter udp_token_limiter;
  SessionSlots slots;
  std::unique_ptr<host::DnsResolver> resolver;
  std::string upstream_label;
  bool draining = false;
  std::uint64_t next_relay_id = 1;
  std::uint64_t next_connection_id = 1;  // the relay modes' per-connection "session" ids
  std::unordered_map<std::uint64_t, std::weak_ptr<Relay>> relays;
};

// Resolves a query through the upstreams with the metrics of dns_upstream_*; `done` gets the
// response (already checked against DNS_MAX_RESPONSE_BYTES) or an error.
void resolve_upstream(Shared& shared, ByteSpan query, std::function<void(Result<Bytes>)> done) {
  const auto started = SteadyClock::now();
  shared.resolver->send(query, [&shared, started, done = std::move(done)](Result<Bytes> response) {
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    if (!response) {
      shared.metrics.dns_upstream(shared.upstream_label, response.error().kind, seconds, true);
      return done(std::move(response));
    }
    if (response->size() > shared.config.dns_max_response_bytes) {
      shared.metrics.dns_upstream(shared.upstream_label, "too_large", seconds, true);
      return done(make_error("too_large", "upstream response over DNS_MAX_RESPONSE_BYTES"));
    }
    shared.metrics.dns_upstream(shared.upstream_label, "udp", seconds, false);
    done(std::move(response));
  });
}

// A and AAAA through the upstreams, once; A addresses first.
void lookup_addresses(Shared& shared, const std::string& name, std::function<void(std::vector<IpAddress>)> done) {
  struct Lookup {
    std::vector<IpAddress> v4, v6;
    int pending = 2;
    std::function<void(std::vector<IpAddress>)> done;
  };
  auto lookup = std::make_shared<Lookup>();
  lookup->done = std::move(done);
  if (!shared.resolver) return lookup->done({});
  for (const std::uint16_t type : {wire::dns_type::a, wire::dns_type::aaaa}) {
    auto query = build_dns_json_query(DnsJsonRequest{name, type});
    if (!query) {
      if (--lookup->pending == 0) lookup->done({});
      continue;
    }
    resolve_upstream(shared, *query, [lookup, type](Result<Bytes> response) {
      if (response) {
        if (auto parsed = wire::DnsMessage::parse(*response); parsed && parsed->rcode() == 0) {
          for (const wire::DnsRecord& record : parsed->answers()) {
            if (type == wire::dns_type::a) {
              if (auto a = record.a()) lookup->v4.push_back(IpAddress::from(*a));
            } else if (auto aaaa = record.aaaa()) {
              lookup->v6.push_back(IpAddress::from(*aaaa));
            }
          }
        }
      }
      if (--lookup->pending == 0) {
        std::vector<IpAddress> all = std::move(lookup->v4);
        all.insert(all.end(), lookup->v6.begin(), lookup->v6.end());
        lookup->done(std::move(all));
      }
    });
  }
}

// ---- WebSocket relay lifecycle --------------------------------------------------------------
//
// What /tcp, /tcp-mux and /udp share: the client's WebSocket and its lifecycle. A relay derives
// from WebSocketRelay<itself> (CRTP: the shared steps call the relay's hooks directly) and
// supplies its names (kClosedMetric, kClosingEvent, kActiveGauge, kTextRefusal,
// kCountsEveryOversize) and what differs: on_accept, on_message, on_closing and on_finish (its
// timers and targets), release (its slot, then unregister).
//
//   accepting ──101 sent──> [connecting, /tcp only] ──> open ──begin_close──> closing ──> done
//       └──handshake failed (the relay's on_accept)────────────┴──read or write failed──────┘
//
//   accepting  accept() sets the stream options and runs Beast's handshake; the relay's
//              on_accept registers the relay (register_open) so the shutdown can reach it.
//   open       at most one WebSocket read in flight (reading_ws_): binary messages go to
//              on_message, a text message closes with 1003. The relay writes to the client
//              one message at a time (writing_ws_) and calls ws_written afterwards.
//   closing    begin_close counts and logs the reason once and stops the relay's work; the
//              close frame goes out after the write in flight (send_close). Reads go on,
//              discarding messages, until the client's close frame answers (or Beast's
//              kCloseTimeout), then finish.
//   done       finish closes the socket and releases the relay's slot and registration; a
//              failed read or write gets here directly (Beast has already answered the
//              client's close frame, or sent 1009 for an oversized message).
template <class Derived>
class WebSocketRelay : public Relay, public std::enable_shared_from_this<Derived> {
 public:
  // Server shutdown.
  void shut_down() override { begin_close(websocket::close_code::going_away, "shutting down", "shutdown"); }

 protected:
  enum class State : std::uint8_t { accepting, connecting, open, closing, done };

  WebSocketRelay(Shared& shared, ClientStream stream, std::string client_ip)
      : shared_(shared),
        config_(shared.config),
        ws_(std::move(stream)),
        client_ip_(std::move(client_ip)),
        id_(shared.next_relay_id++) {}

  // The options every relay sets (the relay sets binary mode or a subprotocol first), then the
  // upgrade; Derived::on_accept takes over.
  void accept(const Request& request, std::size_t max_message_bytes) {
    ws_.set_option(websocket::stream_base::timeout{kCloseTimeout, websocket::stream_base::none(), false});
    ws_.read_message_max(max_message_bytes);
    ws_.auto_fragment(false);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.async_accept(request, [self = this->shared_from_this()](const error_code& ec) { self->on_accept(ec); });
  }

  void register_open() {
    shared_.relays[id_] = this->weak_from_this();
    registered_ = true;
    shared_.metrics.gauge_add(Derived::kActiveGauge, 1);
  }

  // Idempotent: finish and the destructor both get here (through Derived::release).
  void unregister() {
    shared_.relays.erase(id_);
    if (registered_) shared_.metrics.gauge_add(Derived::kActiveGauge, -1);
    registered_ = false;
  }

  void count_closed(std::string_view label) {
    shared_.metrics.add(Derived::kClosedMetric, prometheus_labels({{"reason", label}}));
  }

  // ---- client -> relay ----------------------------------------------------------------------

  // A relay that still uses ws_in_ (the /tcp write to the target) hides this with its own.
  bool holds_ws_reads() const { return false; }

  void read_ws() {
    if (reading_ws_ || (state_ != State::open && state_ != State::closing) || derived().holds_ws_reads()) return;
    reading_ws_ = true;
    ws_.async_read(ws_in_, [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
      self->on_ws_read(ec, n);
    });
  }

  void on_ws_read(const error_code& ec, std::size_t bytes) {
    reading_ws_ = false;
    if (ec) {
      // A failure while open is counted here (it does not pass begin_close); /tcp also counts a
      // 1009 that Beast sends while closing.
      const bool too_big = ec == websocket::error::message_too_big;
      if (state_ == State::open || (too_big && Derived::kCountsEveryOversize)) {
        count_closed(too_big ? "message_too_big" : ec == websocket::error::closed ? "client" : "error");
      }
      return finish();
    }
    if (state_ != State::open) {
      ws_in_.consume(ws_in_.size());
      return read_ws();  // closing: wait for the client's close frame
    }
    if (ws_.got_text()) {
      ws_in_.consume(ws_in_.size());
      begin_close(websocket::close_code::unknown_data, Derived::kTextRefusal, "text");
      return read_ws();
    }
    derived().on_message(bytes);
  }

  ByteSpan ws_message() const {
    const auto data = ws_in_.cdata();
    return ByteSpan(static_cast<const std::uint8_t*>(data.data()), data.size());
  }

  // ---- relay -> client ----------------------------------------------------------------------

  // After a write to the client: false when the relay writes nothing more (failed: finished;
  // closing: the close frame that waited for this write goes out now).
  bool ws_written(const error_code& ec) {
    writing_ws_ = false;
    if (ec) {
      finish();
      return false;
    }
    if (state_ == State::closing) {
      send_close();
      return false;
    }
    return state_ == State::open;
  }

  // ---- closing ------------------------------------------------------------------------------

  void begin_close(websocket::close_code code, std::string_view reason, std::string_view label) {
    if (state_ == State::closing || state_ == State::done) return;
    const bool accepted = state_ != State::accepting;
    state_ = State::closing;
    close_code_ = code;
    close_reason_ = one_line(reason, kMaxCloseReasonBytes);
    count_closed(label);
    log_info(Derived::kClosingEvent,
             {{"relay", id_}, {"reason", label}, {"close_code", static_cast<std::uint64_t>(code)}});
    derived().on_closing();
    if (!accepted) return;  // on_accept sees the state
    if (!writing_ws_) send_close();
  }

  void send_close() {
    if (close_sent_) return;
    close_sent_ = true;
    ws_.async_close(websocket::close_reason(close_code_, close_reason_),
                    [self = this->shared_from_this()](const error_code&) {
                      // The close frame is out; the pending read sees the client's answer (or the timeout).
                      if (!self->reading_ws_) self->finish();
                    });
    read_ws();
  }

  void finish() {
    if (state_ == State::done) return;
    state_ = State::done;
    derived().on_finish();
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    derived().release();
  }

  Shared& shared_;
  const GatewayConfig& config_;
  websocket::stream<ClientStream> ws_;
  beast::flat_buffer ws_in_;
  std::string client_ip_;
  std::uint64_t id_;
  State state_ = State::accepting;
  bool reading_ws_ = false;
  bool writing_ws_ = false;

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }
  const Derived& derived() const { return static_cast<const Derived&>(*this); }

  bool close_sent_ = false;
  bool registered_ = false;  // counted in kActiveGauge and listed in shared_.relays
  websocket::close_code close_code_ = websocket::close_code::normal;
  std::string close_reason_;
};

// ---- /tcp relay ----------------------------------------------------------------------------

class TcpRelay : public WebSocketRelay<TcpRelay> {
 public:
  TcpRelay(Shared& shared, ClientStream stream, std::string sid, tcp::endpoint target, std::string client_ip)
      : WebSocketRelay(shared, std::move(stream), std::move(client_ip)),
        target_(shared.io),
        connect_timer_(shared.io),
        idle_timer_(shared.io),
        sid_(std::move(sid)),
        endpoint_(target) {}

  void start(Request request) {
    ws_.binary(true);
    accept(request, config_.tcp_max_message_bytes);
  }

  ~TcpRelay() override { release(); }

 private:
  friend WebSocketRelay;
  static constexpr std::string_view kClosedMetric = "aero_gateway_tcp_closed_total";
  static constexpr std::string_view kClosingEvent = "tcp_closing";
  static constexpr std::string_view kActiveGauge = "aero_gateway_tcp_connections_active";
  static constexpr std::string_view kTextRefusal = "text messages are not supported";
  static constexpr bool kCountsEveryOversize = true;

  void on_accept(const error_code& ec) {
    if (ec) {
      log_debug("tcp_handshake_failed", {{"relay", id_}, {"error", ec.message()}});
      return finish();
    }
    state_ = State::connecting;
    register_open();
    shared_.metrics.add("aero_gateway_tcp_connections_total");
    log_info("tcp_open", {{"relay", id_}, {"client_ip", client_ip_}, {"sid", sid_},
                          {"target", endpoint_.address().to_string()},
                          {"port", static_cast<std::uint64_t>(endpoint_.port())}});
    if (shared_.draining) return shut_down();
    connect_timer_.expires_after(config_.tcp_connect_timeout);
    connect_timer_.async_wait([self = shared_from_this()](const error_code& e) {
      if (e || self->state_ != State::connecting) return;
      self->connect_timed_out_ = true;
      error_code ignored;
      self->target_.close(ignored);  // the connect completes with operation_aborted
    });
    target_.async_connect(endpoint_, [self = shared_from_this()](const error_code& e) { self->on_connect(e); });
  }

  void on_connect(const error_code& ec) {
    connect_timer_.cancel();
    if (state_ != State::connecting) return;
    if (ec) {
      const bool timed_out = connect_timed_out_;
      shared_.metrics.add("aero_gateway_tcp_connect_failures_total",
                          prometheus_labels({{"kind", timed_out ? "timeout" : "error"}}));
      log_info("tcp_connect_failed", {{"relay", id_}, {"error", timed_out ? std::string("timeout") : ec.message()}});
      return begin_close(websocket::close_code::internal_error, timed_out ? "TCP connect timeout" : "TCP connect failed",
                         "connect_failed");
    }
    error_code ignored;
    target_.set_option(tcp::no_delay(true), ignored);
    state_ = State::open;
    last_activity_ = SteadyClock::now();
    arm_idle_timer();
    read_ws();
    read_tcp();
  }

  // ---- WebSocket -> TCP ----------------------------------------------------------------------

  // ws_in_ is being written to the target: the next message waits (the back-pressure).
  bool holds_ws_reads() const { return writing_tcp_; }

  void on_message(std::size_t bytes) {
    touch();
    if (bytes > config_.tcp_max_tcp_buffer_bytes) {
      ws_in_.consume(ws_in_.size());
      begin_close(websocket::close_code::internal_error, "TCP buffer limit exceeded", "tcp_buffer");
      return read_ws();
    }
    shared_.metrics.add("aero_gateway_tcp_bytes_total", prometheus_labels({{"direction", "to_target"}}),
                        static_cast<double>(bytes));
    writing_tcp_ = true;
    asio::async_write(target_, ws_in_.data(), [self = shared_from_this()](const error_code& e, std::size_t) {
      self->on_tcp_written(e);
    });
  }

  void on_tcp_written(const error_code& ec) {
    writing_tcp_ = false;
    ws_in_.consume(ws_in_.size());
    if (state_ != State::open) return read_ws();
    if (ec) {
      begin_close(websocket::close_code::internal_error, "TCP write failed", "tcp_error");
      return read_ws();
    }
    touch();
    read_ws();
  }

  // ---- TCP -> WebSocket ----------------------------------------------------------------------

  void read_tcp() {
    target_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
      if (ec) return self->on_tcp_read(ec, 0);
      error_code read_ec;
      const std::size_t n = read_ready(self->target_, self->tcp_in_, read_ec);
      if (read_ec == asio::error::would_block) return self->read_tcp();
      self->on_tcp_read(read_ec, n);
    });
  }

  void on_tcp_read(const error_code& ec, std::size_t bytes) {
    if (state_ != State::open) return;
    if (ec) {
      // The target ended or failed: the client learns it from the close frame.
      const bool eof = ec == asio::error::eof;
      return begin_close(eof ? websocket::close_code::normal : websocket::close_code::internal_error,
                         eof ? "target closed the connection" : "target connection failed",
                         eof ? "target_closed" : "tcp_error");
    }
    touch();
    shared_.metrics.add("aero_gateway_tcp_bytes_total", prometheus_labels({{"direction", "to_client"}}),
                        static_cast<double>(bytes));
    writing_ws_ = true;
    ws_.async_write(asio::buffer(tcp_in_.data(), bytes), [self = shared_from_this()](const error_code& e, std::size_t) {
      if (self->ws_written(e)) self->read_tcp();
    });
  }

  // ---- timers and closing --------------------------------------------------------------------

  void touch() { last_activity_ = SteadyClock::now(); }

  void arm_idle_timer() {
    idle_timer_.expires_at(last_activity_ + config_.tcp_idle_timeout);
    idle_timer_.async_wait([self = shared_from_this()](const error_code& e) {
      if (e || self->state_ != State::open) return;
      if (SteadyClock::now() - self->last_activity_ >= self->config_.tcp_idle_timeout) {
        return self->begin_close(websocket::close_code::normal, "TCP idle timeout", "idle_timeout");
      }
      self->arm_idle_timer();
    });
  }

  // Closing: the target gets a FIN before its socket closes; finishing just closes it.
  void on_closing() {
    connect_timer_.cancel();
    idle_timer_.cancel();
    error_code ignored;
    target_.shutdown(tcp::socket::shutdown_both, ignored);
    target_.close(ignored);
  }

  void on_finish() {
    connect_timer_.cancel();
    idle_timer_.cancel();
    error_code ignored;
    target_.close(ignored);
  }

  void release() {
    if (released_) return;
    released_ = true;
    shared_.slots.release(sid_);
    unregister();
  }

  tcp::socket target_;
  asio::steady_timer connect_timer_;
  asio::steady_timer idle_timer_;
  std::string sid_;
  tcp::endpoint endpoint_;
  std::vector<std::uint8_t> tcp_in_;
  bool writing_tcp_ = false;  // ws_in_ is being written to the target
  bool connect_timed_out_ = false;
  bool released_ = false;
  SteadyClock::time_point last_activity_{};
};

// ---- /tcp-mux relay ------------------------------------------------------------------------
//
// One WebSocket, many TCP streams; the stream state machine is MuxSession (tcp_mux_session.h),
// this class owns the sockets. Frames for the client wait in one queue, written one WebSocket
// message at a time (the queued frames concatenated). Back-pressure: while that queue holds more
// than kMuxHighWater bytes no stream's target is read; reads resume below kMuxLowWater. A client
// that does not read its control answers (PONG, ERROR) past kMuxHardCap loses the WebSocket.
// Client bytes for a slow target wait in its write queue, within the per-stream cap the session
// enforces (ERROR 6).

constexpr std::size_t kMuxHighWater = 1024 * 1024;
constexpr std::size_t kMuxLowWater = 256 * 1024;
constexpr std::size_t kMuxHardCap = 64 * 1024 * 1024;
constexpr std::size_t kMuxMaxMessage = 1024 * 1024;  // frames per outgoing WebSocket message

class MuxRelay : public WebSocketRelay<MuxRelay>, public MuxHost {
 public:
  MuxRelay(Shared& shared, ClientStream stream, std::string sid, std::string client_ip)
      : WebSocketRelay(shared, std::move(stream), std::move(client_ip)),
        tick_timer_(shared.io),
        core_(*this, shared.config.tcp_policy, limits_of(shared.config), shared.slots, std::move(sid), &shared.metrics) {}

  void start(Request request) {
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::sec_websocket_protocol, bview(mux::kSubprotocol));
    }));
    ws_.binary(true);
    accept(request, config_.tcp_max_message_bytes);
  }

  ~MuxRelay() override { release(); }

  // ---- MuxHost ----------------------------------------------------------------------------

  void send_to_client(Bytes frames) override {
    if (state_ != State::open) return;
    out_bytes_ += frames.size();
    out_.push_back(std::move(frames));
    if (out_bytes_ > kMuxHardCap) {
      count_closed("client_not_reading");
      return finish();
    }
    if (!paused_ && out_bytes_ > kMuxHighWater) {
      paused_ = true;
      shared_.metrics.add("aero_gateway_tcp_mux_backpressure_pauses_total");
    }
    flush();
  }

  // After the WebSocket ended (a frame later in the same message, say), new streams are left
  // alone: the session gives their slots back when it goes.
  void resolve(MuxStreamKey key, const std::string& name) override {
    if (state_ != State::open) return;
    lookup_addresses(shared_, name, [weak = weak_from_this(), key](std::vector<IpAddress> addresses) {
      auto self = weak.lock();
      if (!self || self->state_ != State::open) return;
      self->core_.on_resolved(key, addresses, SteadyClock::now());
    });
  }

  void dial(MuxStreamKey key, const IpAddress& address, std::uint16_t port) override {
    if (state_ != State::open) return;
    auto target = std::make_shared<Target>(shared_.io);
    targets_[key] = target;
    target->socket.async_connect(tcp::endpoint(to_asio(address), port),
                                 [self = shared_from_this(), key, target](const error_code& ec) {
                                   if (target->closed) return;
                                   if (ec) return self->core_.on_connect_failed(key);
                                   error_code ignored;
                                   target->socket.set_option(tcp::no_delay(true), ignored);
                                   self->core_.on_connected(key, SteadyClock::now());
                                   self->read_target(key, target);
                                 });
  }

  void write_target(MuxStreamKey key, ByteSpan bytes) override {
    auto it = targets_.find(key);
    if (it == targets_.end()) return;
    it->second->queue.emplace_back(bytes.begin(), bytes.end());
    pump_target(key, it->second);
  }

  void end_target(MuxStreamKey key) override {
    auto it = targets_.find(key);
    if (it == targets_.end()) return;
    it->second->end_requested = true;
    pump_target(key, it->second);
  }

  void release_target(MuxStreamKey key, bool graceful) override {
    auto it = targets_.find(key);
    if (it == targets_.end()) return;
    auto target = it->second;
    if (graceful && (target->writing || !target->queue.empty())) {
      target->released = true;  // pump_target closes it once the queue is written
      return;
    }
    close_target(key, target);
  }

 private:
  friend WebSocketRelay;
  static constexpr std::string_view kClosedMetric = "aero_gateway_tcp_mux_closed_total";
  static constexpr std::string_view kClosingEvent = "tcp_mux_closing";
  static constexpr std::string_view kActiveGauge = "aero_gateway_tcp_mux_connections_active";
  static constexpr std::string_view kTextRefusal = "WebSocket text messages are not supported";
  static constexpr bool kCountsEveryOversize = false;

  struct Target {
    explicit Target(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::vector<std::uint8_t> buffer;  // allocated on the first read (read_ready)
    std::deque<Bytes> queue;
    bool writing = false;
    bool reading = false;
    bool end_requested = false;
    bool write_shut = false;
    bool released = false;
    bool closed = false;
  };

  static MuxLimits limits_of(const GatewayConfig& config) {
    MuxLimits limits;
    limits.max_streams = config.mux_max_streams;
    limits.max_stream_buffer_bytes = config.mux_max_stream_buffer_bytes;
    limits.max_frame_payload_bytes = config.mux_max_frame_payload_bytes;
    limits.connect_timeout = config.tcp_connect_timeout;
    limits.idle_timeout = config.tcp_idle_timeout;
    limits.open_rate_per_second = config.mux_open_rate_per_second;
    limits.open_burst = config.mux_open_burst;
    limits.data_bytes_per_second = config.mux_data_bytes_per_second;
    limits.data_burst_bytes = config.mux_data_burst_bytes;
    return limits;
  }

  void on_accept(const error_code& ec) {
    if (ec) {
      log_debug("tcp_mux_handshake_failed", {{"relay", id_}, {"error", ec.message()}});
      state_ = State::done;
      return;
    }
    state_ = State::open;
    register_open();
    shared_.metrics.add("aero_gateway_tcp_mux_connections_total");
    log_info("tcp_mux_open", {{"relay", id_}, {"client_ip", client_ip_}});
    if (shared_.draining) return shut_down();
    arm_tick();
    read_ws();
  }

  void arm_tick() {
    tick_timer_.expires_after(core_.tick_interval());
    tick_timer_.async_wait([self = shared_from_this()](const error_code& e) {
      if (e || self->state_ != State::open) return;
      self->core_.on_tick(SteadyClock::now());
      self->arm_tick();
    });
  }

  void on_message(std::size_t) {
    auto status = core_.on_client_message(ws_message(), SteadyClock::now());
    ws_in_.consume(ws_in_.size());
    if (!status) {
      log_info("tcp_mux_protocol_error", {{"relay", id_}, {"error", status.error().message}});
      begin_close(websocket::close_code::protocol_error, "Protocol error", "protocol_error");
    }
    read_ws();
  }

  // ---- client writes ----------------------------------------------------------------------

  void flush() {
    if (writing_ws_ || out_.empty() || state_ == State::done) return;
    current_.clear();
    while (!out_.empty() && (current_.empty() || current_.size() + out_.front().size() <= kMuxMaxMessage)) {
      current_.insert(current_.end(), out_.front().begin(), out_.front().end());
      out_.pop_front();
    }
    writing_ws_ = true;
    ws_.async_write(asio::buffer(current_), [self = shared_from_this()](const error_code& ec, std::size_t) {
      self->on_ws_written(ec);
    });
  }

  void on_ws_written(const error_code& ec) {
    out_bytes_ -= std::min(out_bytes_, current_.size());
    if (!ws_written(ec)) return;
    if (paused_ && out_bytes_ <= kMuxLowWater) {
      paused_ = false;
      for (auto& [key, target] : targets_) read_target(key, target);
    }
    flush();
  }

  // ---- targets ----------------------------------------------------------------------------

  void read_target(MuxStreamKey key, const std::shared_ptr<Target>& target) {
    if (target->reading || target->closed || paused_ || state_ != State::open || !core_.wants_target_reads(key)) {
      return;
    }
    target->reading = true;
    target->socket.async_wait(tcp::socket::wait_read, [self = shared_from_this(), key, target](
                                                           const error_code& wait_ec) {
      target->reading = false;
      if (target->closed || self->state_ != State::open) return;
      error_code ec = wait_ec;
      std::size_t n = 0;
      if (!ec) n = read_ready(target->socket, target->buffer, ec);
      if (ec == asio::error::would_block) return self->read_target(key, target);
      if (ec == asio::error::eof) return self->core_.on_target_eof(key);
      if (ec) return self->core_.on_target_reset(key);
      self->core_.on_target_data(key, ByteSpan(target->buffer.data(), n), SteadyClock::now());
      self->read_target(key, target);
    });
  }

  void pump_target(MuxStreamKey key, const std::shared_ptr<Target>& target) {
    if (target->writing || target->closed) return;
    if (target->queue.empty()) {
      if (target->end_requested && !target->write_shut) {
        target->write_shut = true;
        error_code ignored;
        target->socket.shutdown(tcp::socket::shutdown_send, ignored);  // the client's FIN
      }
      if (target->released) close_target(key, target);
      return;
    }
    target->writing = true;
    asio::async_write(target->socket, asio::buffer(target->queue.front()),
                      [self = shared_from_this(), key, target](const error_code& ec, std::size_t n) {
                        target->writing = false;
                        if (!target->queue.empty()) target->queue.pop_front();
                        if (target->closed) return;
                        if (ec) {
                          if (target->released) return self->close_target(key, target);
                          return self->core_.on_target_write_failed(key);
                        }
                        if (!target->released) self->core_.on_target_written(key, n, SteadyClock::now());
                        self->pump_target(key, target);
                      });
  }

  void close_target(MuxStreamKey key, const std::shared_ptr<Target>& target) {
    target->closed = true;
    error_code ignored;
    target->socket.close(ignored);
    targets_.erase(key);
  }

  // ---- closing ----------------------------------------------------------------------------

  void on_closing() {
    tick_timer_.cancel();
    core_.close_all();
    out_.clear();
  }

  void on_finish() { on_closing(); }  // the same work stops either way (each step idempotent)

  void release() { unregister(); }

  asio::steady_timer tick_timer_;
  MuxSession core_;
  std::unordered_map<MuxStreamKey, std::shared_ptr<Target>> targets_;
  std::deque<Bytes> out_;
  Bytes current_;
  std::size_t out_bytes_ = 0;
  bool paused_ = false;
};

// ---- /udp relay ------------------------------------------------------------------------------
//
// Two forms on one route. With a target in the query (`host`+`port` or `target`, vetted like
// /tcp's at the upgrade), one UDP socket connect()ed to the vetted address: each binary message is
// one datagram, each datagram received one binary message; the kernel delivers only datagrams
// from that address and port. Without a target, the multiplexed form: every binary message is a
// v1/v2 frame (proto/udp_relay.h) and the bindings follow UdpBindingTable (udp_bindings.h), one
// socket per guest port and address family. Both forms first send the text message
// {"type":"ready","sessionId":"<hex>"}. Malformed, oversized or policy-denied datagrams are
// dropped (and counted), never answered; a text message closes with 1003. Datagrams for the
// client are dropped while more than UDP_SEND_QUEUE_BYTES wait for the WebSocket. The
// per-target form closes with 1000 "idle timeout" after UDP_BINDING_IDLE_TIMEOUT_MS without a
// datagram either way; the multiplexed form sweeps idle bindings instead.

using udp = asio::ip::udp;

IpAddress from_asio(const asio::ip::address& address) {
  if (address.is_v4()) return IpAddress::from(Ipv4Address{address.to_v4().to_bytes()});
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return IpAddress::from(Ipv4Address{asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes()});
  return IpAddress::from(Ipv6Address{v6.to_bytes()});
}

// The opaque id of the "ready" message: 32 hex digits from OpenSSL's CSPRNG (a UUID's).
std::string udp_session_id() {
  std::string id = session::new_session_id();
  std::erase(id, '-');
  return id;
}

class UdpRelay : public WebSocketRelay<UdpRelay> {
 public:
  UdpRelay(Shared& shared, ClientStream stream, std::string sid, std::string client_ip,
           std::optional<udp::endpoint> target)
      : WebSocketRelay(shared, std::move(stream), std::move(client_ip)),
        timer_(shared.io),
        sid_(std::move(sid)),
        target_(target),
        bindings_(limits_of(shared.config)) {}

  // One frame: the payload cap plus the largest header (v2 IPv6); larger messages: 1009.
  void start(Request request) { accept(request, config_.udp_max_payload_bytes + udp_relay::kMaxHeaderLength); }

  ~UdpRelay() override { release(); }

 private:
  friend WebSocketRelay;
  static constexpr std::string_view kClosedMetric = "aero_gateway_udp_closed_total";
  static constexpr std::string_view kClosingEvent = "udp_closing";
  static constexpr std::string_view kActiveGauge = "aero_gateway_udp_connections_active";
  static constexpr std::string_view kTextRefusal = "text messages are not supported";
  static constexpr bool kCountsEveryOversize = false;
  struct Socket {
    explicit Socket(asio::io_context& io) : socket(io) {}
    udp::socket socket;
    std::vector<std::uint8_t> buffer;
    udp::endpoint sender;
    std::uint16_t guest_port = 0;
    bool closed = false;
  };
  struct Outgoing {
    std::string bytes;
    bool text = false;
  };

  static UdpRelayLimits limits_of(const GatewayConfig& config) {
    UdpRelayLimits limits;
    limits.max_payload = config.udp_max_payload_bytes;
    limits.max_bindings = config.udp_max_bindings;
    limits.max_allowed_remotes = config.udp_max_allowed_remotes;
    limits.binding_idle_timeout = config.udp_binding_idle_timeout;
    limits.prefer_v2 = config.udp_prefer_v2;
    limits.inbound_filter_any = config.udp_inbound_filter_any;
    limits.send_queue_bytes = config.udp_send_queue_bytes;
    return limits;
  }

  const char* mode() const { return target_ ? "target" : "multiplexed"; }

  void on_accept(const error_code& ec) {
    if (ec) {
      log_debug("udp_handshake_failed", {{"relay", id_}, {"error", ec.message()}});
      state_ = State::done;
      return release();
    }
    state_ = State::open;
    register_open();
    shared_.metrics.add("aero_gateway_udp_connections_total", prometheus_labels({{"mode", mode()}}));
    log_info("udp_open", {{"relay", id_}, {"client_ip", client_ip_}, {"mode", mode()}});
    if (shared_.draining) return shut_down();
    last_activity_ = SteadyClock::now();
    if (target_) {
      auto socket = open_socket(target_->address().is_v6());
      if (!socket) return begin_close(websocket::close_code::internal_error, "UDP socket failed", "socket_failed");
      error_code e;
      socket->socket.connect(*target_, e);
      if (e) return begin_close(websocket::close_code::internal_error, "UDP socket failed", "socket_failed");
      target_socket_ = socket;
      receive(socket);
    }
    boost::json::object ready{{"type", "ready"}, {"sessionId", udp_session_id()}};
    enqueue(boost::json::serialize(ready), true, true);
    arm_timer();
    read_ws();
  }

  std::shared_ptr<Socket> open_socket(bool v6) {
    auto socket = std::make_shared<Socket>(shared_.io);
    error_code ec;
    socket->socket.open(v6 ? udp::v6() : udp::v4(), ec);
    if (!ec) socket->socket.bind(udp::endpoint(v6 ? udp::v6() : udp::v4(), 0), ec);
    if (!ec) socket->socket.non_blocking(true, ec);
    if (ec) {
      log_info("udp_socket_failed", {{"relay", id_}, {"error", ec.message()}});
      return nullptr;
    }
    socket->buffer.resize(config_.udp_max_payload_bytes + 1);  // one more: an oversized datagram shows
    shared_.metrics.gauge_add("aero_gateway_udp_sockets_active", 1);
    return socket;
  }

  void close_socket(const std::shared_ptr<Socket>& socket) {
    if (!socket || socket->closed) return;
    socket->closed = true;
    error_code ignored;
    socket->socket.close(ignored);
    shared_.metrics.gauge_add("aero_gateway_udp_sockets_active", -1);
  }

  void drop(std::string_view reason) {
    shared_.metrics.add("aero_gateway_udp_dropped_total", prometheus_labels({{"reason", reason}}));
  }

  // ---- timers -----------------------------------------------------------------------------

  void arm_timer() {
    const auto interval = target_ ? std::clamp(config_.udp_binding_idle_timeout / 4, std::chrono::milliseconds(10),
                                               std::chrono::milliseconds(1000))
                                  : bindings_.sweep_interval();
    timer_.expires_after(interval);
    timer_.async_wait([self = shared_from_this()](const error_code& e) {
      if (e || self->state_ != State::open) return;
      const auto now = SteadyClock::now();
      if (self->target_) {
        if (now - self->last_activity_ >= self->config_.udp_binding_idle_timeout) {
          return self->begin_close(websocket::close_code::normal, "idle timeout", "idle_timeout");
        }
      } else {
        for (const std::uint16_t port : self->bindings_.sweep(now)) {
          self->shared_.metrics.add("aero_gateway_udp_bindings_closed_total", prometheus_labels({{"reason", "idle"}}));
          self->close_binding(port);
        }
      }
      self->arm_timer();
    });
  }

  // ---- client -> UDP ----------------------------------------------------------------------

  void on_message(std::size_t) {
    if (target_) {
      send_target(ws_message());
    } else {
      send_multiplexed(ws_message());
    }
    ws_in_.consume(ws_in_.size());
    read_ws();
  }

  void send_target(ByteSpan payload) {
    if (payload.size() > config_.udp_max_payload_bytes) return drop("oversized");
    error_code ec;
    target_socket_->socket.send(asio::buffer(payload.data(), payload.size()), 0, ec);
    if (ec) return drop("send_failed");
    last_activity_ = SteadyClock::now();
    shared_.metrics.add("aero_gateway_udp_datagrams_total", prometheus_labels({{"direction", "to_target"}}));
  }

  void send_multiplexed(ByteSpan frame) {
    auto datagram = udp_relay::decode(frame, config_.udp_max_payload_bytes);
    if (!datagram) return drop(datagram.error().kind == "payload_too_large" ? "oversized" : "malformed");
    if (datagram->remote_port == 0) return drop("malformed");
    const TargetPlan plan =
        plan_target(config_.tcp_policy, TcpTarget{datagram->remote_ip.to_string(), datagram->remote_port});
    if (plan.rejection || !plan.dial) return drop("denied_by_policy");
    const auto now = SteadyClock::now();
    const auto outcome = bindings_.outbound(datagram->guest_port, datagram->remote_ip, datagram->remote_port,
                                            datagram->version == 2, now);
    if (outcome.evicted) {
      shared_.metrics.add("aero_gateway_udp_bindings_closed_total", prometheus_labels({{"reason", "evicted"}}));
      close_binding(*outcome.evicted);
    }
    if (outcome.created) shared_.metrics.add("aero_gateway_udp_bindings_total");
    const bool v6 = datagram->remote_ip.is_v6();
    auto& sockets = binding_sockets_[datagram->guest_port];
    auto& socket = v6 ? sockets.second : sockets.first;
    if (!socket) {
      socket = open_socket(v6);
      if (!socket) return drop("socket_failed");
      socket->guest_port = datagram->guest_port;
      receive(socket);
    }
    error_code ec;
    socket->socket.send_to(asio::buffer(datagram->payload.data(), datagram->payload.size()),
                           udp::endpoint(to_asio(datagram->remote_ip), datagram->remote_port), 0, ec);
    if (ec) return drop("send_failed");
    shared_.metrics.add("aero_gateway_udp_datagrams_total", prometheus_labels({{"direction", "to_target"}}));
  }

  void close_binding(std::uint16_t guest_port) {
    auto it = binding_sockets_.find(guest_port);
    if (it == binding_sockets_.end()) return;
    close_socket(it->second.first);
    close_socket(it->second.second);
    binding_sockets_.erase(it);
  }

  // ---- UDP -> client ----------------------------------------------------------------------

  void receive(const std::shared_ptr<Socket>& socket) {
    socket->socket.async_receive_from(asio::buffer(socket->buffer), socket->sender,
                                      [self = shared_from_this(), socket](const error_code& ec, std::size_t n) {
                                        if (socket->closed || self->state_ != State::open) return;
                                        if (!ec) self->on_datagram(*socket, n);
                                        // Errors such as ICMP port unreachable on a connected
                                        // socket end one receive, not the relay.
                                        self->receive(socket);
                                      });
  }

  void on_datagram(Socket& socket, std::size_t length) {
    if (length > config_.udp_max_payload_bytes) return drop("oversized");  // never forwarded truncated
    const ByteSpan payload(socket.buffer.data(), length);
    const auto now = SteadyClock::now();
    if (target_) {
      last_activity_ = now;
      shared_.metrics.add("aero_gateway_udp_datagrams_total", prometheus_labels({{"direction", "to_client"}}));
      return enqueue(std::string(payload.begin(), payload.end()), false, false);
    }
    const IpAddress remote = from_asio(socket.sender.address());
    const std::uint16_t remote_port = socket.sender.port();
    if (!bindings_.inbound_allowed(socket.guest_port, remote, remote_port, now)) return drop("filtered");
    udp_relay::Datagram datagram;
    datagram.version = bindings_.inbound_version(remote);
    datagram.guest_port = socket.guest_port;
    datagram.remote_ip = remote;
    datagram.remote_port = remote_port;
    datagram.payload = payload;
    Bytes frame;
    if (!udp_relay::encode_into(frame, datagram, config_.udp_max_payload_bytes)) return drop("malformed");
    shared_.metrics.add("aero_gateway_udp_datagrams_total", prometheus_labels({{"direction", "to_client"}}));
    enqueue(std::string(frame.begin(), frame.end()), false, false);
  }

  // Messages for the client, written one at a time; datagrams are dropped while the queue is
  // over UDP_SEND_QUEUE_BYTES (reliable ordered delivery is the WebSocket's, not UDP's).
  void enqueue(std::string bytes, bool text, bool always) {
    if (state_ != State::open) return;
    if (!always && out_bytes_ + bytes.size() > config_.udp_send_queue_bytes) return drop("backpressure");
    out_bytes_ += bytes.size();
    out_.push_back(Outgoing{std::move(bytes), text});
    flush();
  }

  void flush() {
    if (writing_ws_ || out_.empty()) return;
    writing_ws_ = true;
    current_ = std::move(out_.front());
    out_.pop_front();
    ws_.text(current_.text);
    ws_.async_write(asio::buffer(current_.bytes), [self = shared_from_this()](const error_code& ec, std::size_t) {
      self->out_bytes_ -= std::min(self->out_bytes_, self->current_.bytes.size());
      if (self->ws_written(ec)) self->flush();
    });
  }

  // ---- closing ----------------------------------------------------------------------------

  void close_sockets() {
    close_socket(target_socket_);
    for (auto& [port, sockets] : binding_sockets_) {
      close_socket(sockets.first);
      close_socket(sockets.second);
    }
    binding_sockets_.clear();
  }

  void on_closing() {
    timer_.cancel();
    close_sockets();
    out_.clear();
  }

  void on_finish() { on_closing(); }  // the same work stops either way (each step idempotent)

  void release() {
    if (released_) return;
    released_ = true;
    close_sockets();
    shared_.slots.release(sid_);
    unregister();
  }

  asio::steady_timer timer_;
  std::string sid_;
  std::optional<udp::endpoint> target_;
  std::shared_ptr<Socket> target_socket_;
  UdpBindingTable bindings_;
  std::map<std::uint16_t, std::pair<std::shared_ptr<Socket>, std::shared_ptr<Socket>>> binding_sockets_;  // v4, v6
  std::deque<Outgoing> out_;
  Outgoing current_;
  std::size_t out_bytes_ = 0;
  bool released_ = false;
  SteadyClock::time_point last_activity_{};
};

// ---- HTTP ----------------------------------------------------------------------------------

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(Shared& shared, ClientStream stream)
      : shared_(shared), config_(shared.config), stream_(std::move(stream)) {}

  void run() {
    auto* tls = stream_.tls();
    if (tls == nullptr) return read();
    stream_.next_layer().expires_after(kHttpTimeout);
    tls->async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
      if (ec) {
        self->shared_.metrics.add("aero_gateway_tls_handshake_failures_total");
        log_debug("tls_handshake_failed", {{"error", ec.message()}});
        error_code ignored;
        self->stream_.next_layer().socket().close(ignored);
        return;
      }
      self->read();
    });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(std::max<std::size_t>(config_.dns_max_query_bytes + 1, 64 * 1024));
    stream_.next_layer().expires_after(kHttpTimeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](const error_code& ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(const error_code& ec) {
    if (ec) {
      if (ec == http::error::body_limit) {
        return respond_json(http::status::payload_too_large, json_error("payload_too_large", "Request body too large"),
                            false);
      }
      if (ec == http::error::header_limit) {
        return respond_plain(431, "Request header fields too large");
      }
      const bool malformed = ec.category() == http::make_error_code(http::error::bad_method).category() &&
                             ec != http::error::end_of_stream && ec != http::error::partial_message;
      if (malformed) return respond_plain(400, "Bad Request");
      return shutdown();
    }
    request_ = parser_->release();
    started_ = SteadyClock::now();
    headers_.clear();
    for (const auto& field : request_) headers_.emplace_back(view(field.name_string()), view(field.value()));
    const std::string_view target = view(request_.target());
    const std::size_t question = target.find('?');
    path_ = std::string(target.substr(0, question));
    query_ = question == std::string_view::npos ? std::string() : std::string(target.substr(question + 1));
    route_ = std::string(route_path(path_, config_.base_path));
    cors_.clear();
    const bool websocket_route = route_ == "/tcp" || route_ == "/tcp-mux" || route_ == "/udp";
    const bool upgrade = !header_values(headers_, "Upgrade").empty();

    // 1. Request-target cap, before routing.
    if (target.size() > kMaxUrlChars) {
      if (upgrade || websocket_route) return reject_upgrade(Rejection{414, "URL too long", "url_too_long"});
      return respond_json(http::status::uri_too_long, json_error("url_too_long", "Request URL too long"), false);
    }
    if (websocket_route || upgrade) return handle_upgrade();

    // 2. The Origin guard (only when Origin is sent).
    const auto origins = header_values(headers_, "Origin");
    const auto hosts = header_values(headers_, "Host");
    const OriginVerdict verdict = config_.check_origin ? check_origin(config_, origins, hosts, false) : OriginVerdict{};
    if (!verdict.allowed) {
      return respond_json(http::status::forbidden, json_error("forbidden", "Origin not allowed"), true);
    }
    const bool options = request_.method() == http::verb::options;
    if (verdict.normalized) {
      const auto requested = header_values(headers_, "Access-Control-Request-Headers");
      const bool preflight = options && !header_values(headers_, "Access-Control-Request-Method").empty();
      cors_ = cors_headers(*verdict.normalized, preflight,
                           requested.empty() ? std::nullopt : std::optional<std::string_view>(requested.front()));
    }
    if (options) return respond(http::status::no_content, "", "", false, "options");

    // 3. The global rate limit (health, readiness and metrics exempt).
    if (route_ != "/healthz" && route_ != "/readyz" && route_ != "/metrics" &&
        !shared_.http_limiter.allow(ip(), SteadyClock::now())) {
      shared_.metrics.add("aero_gateway_rate_limited_total", prometheus_labels({{"limiter", "http"}}));
      if (route_ == "/dns-query") {
        return respond_dns(http::status::too_many_requests, dns_error_message(0, 0, wire::DnsRcode::servfail));
      }
      return respond_json(http::status::too_many_requests, json_error("too_many_requests", "Too many requests"), true);
    }
    route();
  }

  std::string ip() const {
    return client_ip(peer_address(stream_.next_layer().socket()), header_values(headers_, "X-Forwarded-For"), config_.trust_proxy);
  }

  std::optional<std::string> session_id() const {
    return verified_session(config_, session_cookie(header_values(headers_, "Cookie")), unix_ms());
  }

  void route() {
    const http::verb method = request_.method();
    const bool get = method == http::verb::get || method == http::verb::head;
    const bool post = method == http::verb::post;
    if (config_.mode != GatewayMode::gateway) {
      // The relay modes serve health, metrics and (net-proxy) DoH; the rest is 404 as net-proxy.
      const bool dns = config_.mode == GatewayMode::dev_proxy && (route_ == "/dns-query" || route_ == "/dns-json");
      const bool served = route_ == "/healthz" || route_ == "/readyz" || route_ == "/metrics" || dns;
      if (!served) return respond_json(http::status::not_found, R"({"error":"not found"})", true, "not_found");
    }
    if (route_ == "/healthz" && get) return respond_json(http::status::ok, R"({"ok":true})", false, "/healthz");
    if (route_ == "/readyz" && get) {
      if (shared_.draining) return respond_json(http::status::service_unavailable, R"({"ok":false})", true, "/readyz");
      return respond_json(http::status::ok, R"({"ok":true})", true, "/readyz");
    }
    if (route_ == "/version" && get) {
      const boost::json::object body{{"version", config_.version}, {"gitSha", config_.git_sha}, {"builtAt", config_.built_at}};
      return respond_json(http::status::ok, boost::json::serialize(body), true, "/version");
    }
    if (route_ == "/metrics" && get) {
      return respond(http::status::ok, shared_.metrics.render(), "text/plain; version=0.0.4; charset=utf-8", true,
                     "/metrics");
    }
    if (route_ == "/session" && post) return post_session();
    if (route_ == "/session" && get) return get_session();
    if (route_ == "/udp-relay/token" && post) return udp_relay_token();
    if (route_ == "/dns-query" && (get || post)) return dns_query();
    if (route_ == "/dns-json" && get) return dns_json();
    respond_json(http::status::not_found, json_error("not_found", "Not Found"), true, "not_found");
  }

  // ---- sessions ------------------------------------------------------------------------------

  bool secure() const {
    return request_is_secure(stream_.is_tls(), config_.trust_proxy, header_values(headers_, "X-Forwarded-Proto"));
  }

  void post_session() {
    const std::string& body = request_.body();
    if (!body.empty()) {
      boost::system::error_code ec;
      const boost::json::value parsed = boost::json::parse(body, ec);
      if (ec || !parsed.is_object()) {
        return respond_json(http::status::bad_request, json_error("bad_request", "Request body must be a JSON object"),
                            true, "/session");
      }
    }
    const std::int64_t now = unix_ms();
    auto issued = issue_session(config_, session_id(), secure(), now);
    if (!issued) {
      log_error("session_mint_failed", {{"error", issued.error().message}});
      return respond_json(http::status::internal_server_error, json_error("internal_error", "Session minting failed"),
                          true, "/session");
    }
    if (config_.same_site == SameSite::none && !secure()) {
      log_warn("session_samesite_none_insecure", {{"client_ip", ip()}});
    }
    std::optional<UdpRelayCredential> relay;
    if (config_.udp_relay_base_url) {
      const auto origins = header_values(headers_, "Origin");
      std::optional<std::string> origin;
      if (origins.size() == 1) origin = origin::normalize_origin(origins.front());
      auto minted = mint_udp_relay_credential(config_, issued->sid, origin, now);
      if (minted) {
        relay = std::move(*minted);
      } else {
        log_error("udp_relay_mint_failed", {{"error", minted.error().message}});
      }
    }
    shared_.metrics.add("aero_gateway_sessions_issued_total");
    extra_ = {{"Set-Cookie", issued->set_cookie}};
    respond_json(http::status::created, session_body(config_, *issued, relay), true, "/session");
  }

  void get_session() {
    auto issued = issue_session(config_, session_id(), secure(), unix_ms());
    if (!issued) {
      return respond_json(http::status::internal_server_error, json_error("internal_error", "Session minting failed"),
                          true, "/session");
    }
    extra_ = {{"Set-Cookie", issued->set_cookie}};
    respond_json(http::status::ok, R"({"ok":true})", true, "/session");
  }

  void udp_relay_token() {
    const char* route = "/udp-relay/token";
    if (!config_.udp_relay_base_url) {
      return respond_json(http::status::not_found, json_error("not_found", "UDP relay is not configured"), true, route);
    }
    const auto origins = header_values(headers_, "Origin");
    std::optional<std::string> origin;
    if (origins.size() == 1) origin = origin::normalize_origin(origins.front());
    if (!origin) return respond_json(http::status::forbidden, json_error("forbidden", "Origin required"), true, route);
    const auto sid = session_id();
    if (!sid) {
      return respond_json(http::status::unauthorized, json_error("unauthorized", "Missing or expired session"), true,
                          route);
    }
    if (!shared_.udp_token_limiter.allow(*sid, SteadyClock::now())) {
      shared_.metrics.add("aero_gateway_rate_limited_total", prometheus_labels({{"limiter", "udp_relay_token"}}));
      return respond_json(http::status::too_many_requests, json_error("too_many_requests", "Too many requests"), true,
                          route);
    }
    auto minted = mint_udp_relay_credential(config_, *sid, origin, unix_ms());
    if (!minted) {
      log_error("udp_relay_mint_failed", {{"error", minted.error().message}});
      return respond_json(http::status::internal_server_error, json_error("internal_error", "Token minting failed"),
                          true, route);
    }
    respond_json(http::status::ok, udp_relay_token_body(config_, *minted), true, route);
  }

  // ---- DNS -----------------------------------------------------------------------------------

  void dns_query() {
    route_label_ = "/dns-query";
    if (config_.dns_require_session && !session_id()) {
      return respond_json(http::status::unauthorized, json_error("unauthorized", "Missing or invalid session"), true);
    }
    if (!shared_.dns_limiter.allow(ip(), SteadyClock::now())) {
      shared_.metrics.add("aero_gateway_rate_limited_total", prometheus_labels({{"limiter", "dns"}}));
      return respond_dns(http::status::too_many_requests, dns_error_message(0, 0, wire::DnsRcode::servfail));
    }
    DohFailure failure;
    auto query = request_.method() == http::verb::post
                     ? parse_doh_post(header_values(headers_, "Content-Type"), bytes_of(request_.body()),
                                      config_.dns_max_query_bytes, failure)
                     : parse_doh_get(query_param(query_, "dns"), config_.dns_max_query_bytes, failure);
    if (!query) {
      shared_.metrics.dns_query("invalid", "FORMERR", "error");
      return respond_dns(static_cast<http::status>(failure.status), std::move(failure.message));
    }
    resolve(std::move(*query), [self = shared_from_this()](const DohQuery&, Bytes response, bool) {
      self->respond_dns(http::status::ok, std::move(response));
    });
  }

  void dns_json() {
    route_label_ = "/dns-json";
    if (config_.dns_require_session && !session_id()) {
      return respond_json(http::status::unauthorized, json_error("unauthorized", "Missing or invalid session"), true);
    }
    if (!shared_.dns_limiter.allow(ip(), SteadyClock::now())) {
      shared_.metrics.add("aero_gateway_rate_limited_total", prometheus_labels({{"limiter", "dns"}}));
      return respond_json(http::status::too_many_requests, json_error("too_many_requests", "Too many requests"), true);
    }
    std::string error;
    auto request = parse_dns_json(query_param(query_, "name"), query_param(query_, "type"), error);
    if (!request) return respond_json(http::status::bad_request, json_error("bad_request", error), true);
    auto message = build_dns_json_query(*request);
    if (!message) {
      if (message.error().kind == "too_large") {
        return respond_json(http::status::payload_too_large, json_error("payload_too_large", "DNS query too large"), true);
      }
      return respond_json(http::status::bad_request, json_error("bad_request", "Invalid DNS name"), true);
    }
    if (message->size() > config_.dns_max_query_bytes) {
      return respond_json(http::status::payload_too_large, json_error("payload_too_large", "DNS query too large"), true);
    }
    DohFailure failure;
    auto query = parse_doh_message(*message, failure);
    if (!query) return respond_json(http::status::bad_request, json_error("bad_request", "Invalid DNS name"), true);
    resolve(std::move(*query), [self = shared_from_this(), request = *request](const DohQuery&, Bytes response, bool failed) {
      if (failed) {
        return self->respond_json(http::status::bad_gateway, json_error("bad_gateway", "DNS resolution failed"), true);
      }
      auto body = render_dns_json(request, response);
      if (!body) {
        return self->respond_json(http::status::bad_gateway, json_error("bad_gateway", "DNS resolution failed"), true);
      }
      self->respond(http::status::ok, std::move(*body), "application/dns-json", true);
    });
  }

  // Policy, cache, then the upstreams. `done(query, response, failed)`: `response` is always a
  // DNS message (SERVFAIL when `failed`).
  template <class Done>
  void resolve(DohQuery query, Done done) {
    const std::string qtype = qtype_label(query.type);
    const bool refused = (query.type == 255 && !config_.dns_allow_any) ||
                         (query.type == wire::dns_type::ptr && !config_.dns_allow_private_ptr &&
                          is_private_ptr_name(query.name));
    const std::uint16_t flags = query.message.size() >= 4
                                    ? static_cast<std::uint16_t>((query.message[2] << 8) | query.message[3])
                                    : std::uint16_t{0};
    if (refused) {
      shared_.metrics.dns_query(qtype, "REFUSED", "policy");
      Bytes response = dns_error_message(query.id, flags, wire::DnsRcode::refused, &query);
      return done(query, std::move(response), false);
    }
    const std::string key = query.cache_key();
    if (auto cached = shared_.cache.get(key, query.id, SteadyClock::now())) {
      shared_.metrics.dns_cache(qtype, true);
      const std::uint8_t rcode = cached->size() >= 4 ? static_cast<std::uint8_t>((*cached)[3] & 0x0F) : 0;
      shared_.metrics.dns_query(qtype, rcode_label(rcode), "cache");
      return done(query, std::move(*cached), false);
    }
    shared_.metrics.dns_cache(qtype, false);
    if (!shared_.resolver) {
      shared_.metrics.dns_query(qtype, "SERVFAIL", "error");
      return done(query, dns_error_message(query.id, flags, wire::DnsRcode::servfail, &query), true);
    }
    const Bytes message = query.message;
    resolve_upstream(shared_, message,
                     [self = shared_from_this(), query = std::move(query), key, qtype, flags, done](Result<Bytes> response) {
                       if (!response || !wire::DnsMessage::parse(*response)) {
                         self->shared_.metrics.dns_query(qtype, "SERVFAIL", "error");
                         return done(query, dns_error_message(query.id, flags, wire::DnsRcode::servfail, &query), true);
                       }
                       self->shared_.cache.put(key, *response, SteadyClock::now());
                       const std::uint8_t rcode = static_cast<std::uint8_t>((*response)[3] & 0x0F);
                       self->shared_.metrics.dns_query(qtype, rcode_label(rcode), "upstream");
                       done(query, std::move(*response), false);
                     });
  }

  // ---- WebSocket upgrades --------------------------------------------------------------------

  void handle_upgrade() {
    const bool tcp_route = route_ == "/tcp";
    const bool mux_route = route_ == "/tcp-mux";
    const bool udp_route = route_ == "/udp";
    if (!tcp_route && !mux_route && !udp_route) return reject_upgrade(Rejection{404, "Not Found", "not_found"});
    if (config_.mode == GatewayMode::token_mux && !mux_route) {
      return reject_upgrade(Rejection{404, "Not Found", "not_found"});
    }
    // Aero's order: draining, handshake, cookie, blocked client IP, Origin; then for /tcp-mux the
    // subprotocol, for /tcp (and /udp with a target) the target, policy, DNS and session slot.
    if (shared_.draining) return reject_upgrade(Rejection{503, "Shutting down", "shutting_down"});
    if (auto rejection = check_websocket_handshake(headers_)) return reject_upgrade(*rejection);
    // The relay modes have no sessions: each connection counts on its own.
    auto sid = config_.require_session ? session_id()
                                       : std::optional<std::string>("connection-" + std::to_string(shared_.next_connection_id++));
    if (!sid) return reject_upgrade(Rejection{401, "Missing or invalid session", "unauthorized"});
    const std::string peer = peer_address(stream_.next_layer().socket());
    for (const std::string& blocked : config_.tcp_blocked_client_ips) {
      if (blocked == peer) return reject_upgrade(Rejection{403, "Client IP blocked", "client_ip_blocked"});
    }
    const OriginVerdict verdict =
        config_.check_origin
            ? check_origin(config_, header_values(headers_, "Origin"), header_values(headers_, "Host"), true)
            : OriginVerdict{};
    if (!verdict.allowed) return reject_upgrade(Rejection{403, "Origin not allowed", "origin"});
    if (mux_route) {
      if (auto rejection = check_subprotocol(headers_, mux::kSubprotocol)) return reject_upgrade(*rejection);
      if (config_.mode == GatewayMode::token_mux) {
        if (auto rejection = check_proxy_token(config_.proxy_auth_token, query_param(query_, "token"),
                                               header_values(headers_, "Authorization"))) {
          return reject_upgrade(*rejection);
        }
      }
      return admit_mux(std::move(*sid));
    }
    if (udp_route && !query_param(query_, "host") && !query_param(query_, "port") && !query_param(query_, "target")) {
      return admit(std::move(*sid), std::nullopt, 0);  // the multiplexed form
    }
    TcpTarget target;
    if (auto rejection = parse_tcp_query(query_, target)) return reject_upgrade(*rejection);
    TargetPlan plan = plan_target(config_.tcp_policy, target);
    if (plan.rejection) return reject_upgrade(*plan.rejection);
    if (plan.dial) return admit(std::move(*sid), *plan.dial, target.port);
    lookup_addresses(plan.resolve_name, [self = shared_from_this(), sid = std::move(*sid), port = target.port,
                                         name = plan.resolve_name](std::vector<IpAddress> addresses) mutable {
      const AddressChoice choice = pick_address(self->config_.tcp_policy, addresses, name, port);
      if (choice.rejection) return self->reject_upgrade(*choice.rejection);
      self->admit(std::move(sid), *choice.address, port);
    });
  }

  void lookup_addresses(const std::string& name, std::function<void(std::vector<IpAddress>)> done) {
    gateway::lookup_addresses(shared_, name, std::move(done));
  }

  // /tcp and /udp: the session slot, then the relay. /udp without an address: multiplexed.
  void admit(std::string sid, const std::optional<IpAddress>& address, std::uint16_t port) {
    if (shared_.draining) return reject_upgrade(Rejection{503, "Shutting down", "shutting_down"});
    if (!shared_.slots.acquire(sid)) {
      return reject_upgrade(Rejection{429, "Too many concurrent connections", "too_many_connections"});
    }
    shared_.metrics.add("aero_gateway_upgrades_total", prometheus_labels({{"route", route_}}));
    std::string client = ip();
    stream_.next_layer().expires_never();
    if (route_ == "/udp") {
      std::optional<asio::ip::udp::endpoint> target;
      if (address) target.emplace(to_asio(*address), port);
      auto relay = std::make_shared<UdpRelay>(shared_, std::move(stream_), sid, std::move(client), target);
      return relay->start(std::move(request_));
    }
    auto relay = std::make_shared<TcpRelay>(shared_, std::move(stream_), sid, tcp::endpoint(to_asio(*address), port),
                                            std::move(client));
    relay->start(std::move(request_));
  }

  // /tcp-mux: streams take session slots one by one (MuxSession).
  void admit_mux(std::string sid) {
    shared_.metrics.add("aero_gateway_upgrades_total", prometheus_labels({{"route", route_}}));
    std::string client = ip();
    stream_.next_layer().expires_never();
    auto relay = std::make_shared<MuxRelay>(shared_, std::move(stream_), std::move(sid), std::move(client));
    relay->start(std::move(request_));
  }

  // A refused upgrade, in plain text on the raw socket (Aero's format), then the connection
  // ends (force-closed 2 s later).
  void reject_upgrade(const Rejection& rejection) {
    if (rejection.reason == "host_policy") shared_.metrics.add("tcp_proxy_blocked_by_host_policy_total");
    if (rejection.reason == "ip_policy") shared_.metrics.add("tcp_proxy_blocked_by_ip_policy_total");
    shared_.metrics.add("aero_gateway_upgrade_rejected_total",
                        prometheus_labels({{"reason", rejection.reason}, {"status", std::to_string(rejection.status)}}));
    log_info("upgrade_rejected", {{"route", route_}, {"status", static_cast<std::uint64_t>(rejection.status)},
                                  {"reason", rejection.reason}, {"client_ip", ip()}});
    const bool target_refusal = rejection.reason == "bad_target" || rejection.reason == "port" ||
                                rejection.reason == "host_policy" || rejection.reason == "ip_policy" ||
                                rejection.reason == "dns";
    if (config_.mode == GatewayMode::dev_proxy && target_refusal) return close_after_accept(rejection.message);
    respond_plain(rejection.status, rejection.message);
  }

  // net-proxy refuses a target after the upgrade: 101, then close 1008 with the reason.
  void close_after_accept(std::string_view message) {
    auto ws = std::make_shared<websocket::stream<ClientStream>>(std::move(stream_));
    ws->set_option(websocket::stream_base::timeout{kCloseTimeout, kCloseTimeout, false});
    ws->async_accept(request_, [ws, reason = one_line(message, 123)](const error_code& ec) {
      if (ec) return;
      ws->async_close(websocket::close_reason(websocket::close_code::policy_error, reason), [ws](const error_code&) {});
    });
  }

  void respond_plain(unsigned status, std::string_view message) {
    auto response = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    response->reason(bview(reason_phrase(status)));
    response->set(http::field::content_type, "text/plain; charset=utf-8");
    response->set(http::field::cache_control, "no-store");
    response->body() = one_line(message, kMaxRejectionBytes) + "\n";
    response->keep_alive(false);
    response->prepare_payload();
    stream_.next_layer().expires_after(kHttpTimeout);
    http::async_write(stream_, *response, [self = shared_from_this(), response](const error_code&, std::size_t) {
      self->linger_close();
    });
  }

  // Ends our side, then reads (and discards) until the client closes or 2 s pass. Over TLS
  // the TLS shutdown (close_notify both ways) is that wait.
  void linger_close() {
    stream_.next_layer().expires_after(kRejectLinger);
    if (auto* tls = stream_.tls()) {
      tls->async_shutdown([self = shared_from_this()](const error_code&) {
        error_code ignored;
        self->stream_.next_layer().socket().close(ignored);
      });
      return;
    }
    error_code ignored;
    stream_.next_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
    drain();
  }

  void drain() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](const error_code& ec, std::size_t n) {
      if (ec) {
        error_code e;
        self->stream_.next_layer().socket().close(e);
        return;
      }
      self->buffer_.commit(n);
      self->drain();
    });
  }

  // ---- responses -----------------------------------------------------------------------------

  void respond_json(http::status status, std::string body, bool no_store, std::string_view route = {}) {
    respond(status, std::move(body), "application/json; charset=utf-8", no_store, route);
  }

  void respond_dns(http::status status, Bytes message) {
    respond(status, std::string(message.begin(), message.end()), "application/dns-message", true, "/dns-query");
  }

  void respond(http::status status, std::string body, std::string_view content_type, bool no_store,
               std::string_view route = {}) {
    if (!route.empty()) route_label_ = std::string(route);
    auto response = std::make_shared<http::response<http::string_body>>(status, request_.version());
    const auto request_ids = header_values(headers_, "x-request-id");
    for (auto& [name, value] : security_headers(
             config_, request_ids.empty() ? std::nullopt : std::optional<std::string_view>(request_ids.front()))) {
      response->set(bview(name), value);
    }
    for (auto& [name, value] : cors_) response->set(bview(name), value);
    for (auto& [name, value] : extra_) response->insert(bview(name), value);
    extra_.clear();
    if (!content_type.empty()) response->set(http::field::content_type, bview(content_type));
    if (no_store) response->set(http::field::cache_control, "no-store");
    const bool head = request_.method() == http::verb::head;
    response->body() = std::move(body);
    response->keep_alive(request_.keep_alive());
    response->prepare_payload();
    if (head) response->body().clear();
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - started_).count();
    shared_.metrics.http_request(view(request_.method_string()), route_label_.empty() ? "not_found" : route_label_,
                                 static_cast<unsigned>(status), seconds);
    route_label_.clear();
    stream_.next_layer().expires_after(kHttpTimeout);
    http::async_write(stream_, *response, [self = shared_from_this(), response](const error_code& ec, std::size_t) {
      if (ec || !response->keep_alive() || self->shared_.draining) return self->shutdown();
      self->read();
    });
  }

  void shutdown() {
    if (auto* tls = stream_.tls()) {
      stream_.next_layer().expires_after(kRejectLinger);
      tls->async_shutdown([self = shared_from_this()](const error_code&) {
        error_code ignored;
        self->stream_.next_layer().socket().close(ignored);
      });
      return;
    }
    error_code ignored;
    stream_.next_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  Shared& shared_;
  const GatewayConfig& config_;
  ClientStream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request request_;
  std::vector<Header> headers_;  // views into request_
  std::string path_, query_, route_, route_label_;
  HeaderList cors_, extra_;
  SteadyClock::time_point started_{};
};

class Server {
 public:
  Server(const GatewayConfig& config, const ServerOptions& options)
      : shared_(config, io_), options_(options), acceptor_(io_), signals_(io_, SIGINT, SIGTERM), retry_(io_),
        grace_(io_) {}

  int run() {
    const auto& config = shared_.config;
    host::DnsResolverOptions dns;
    dns.upstreams = config.dns_upstreams;
    dns.timeout = config.dns_upstream_timeout;
    auto resolver = host::DnsResolver::create(io_, dns);
    if (!resolver) {
      log_error("dns_resolver_failed", {{"error", resolver.error().message}});
      return 1;
    }
    shared_.resolver = std::move(*resolver);
    if (config.tls_enabled) {
      auto context = make_tls_context(config);
      if (!context) {
        log_error("tls_setup_failed", {{"error", context.error().message}});
        return 2;
      }
      tls_ = std::move(*context);
    }
    if (config.session_secret_generated) {
      log_warn("session_secret_generated",
               {{"message", "no AERO_GATEWAY_SESSION_SECRET: sessions end when the process does"}});
    }
    error_code ec;
    const auto address = asio::ip::make_address(config.host, ec);
    const tcp::endpoint endpoint(address, config.port);
    if (!ec) acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      log_error("listen_failed", {{"address", config.host}, {"port", static_cast<std::uint64_t>(config.port)},
                                  {"error", ec.message()}});
      return 1;
    }
    const auto bound = acceptor_.local_endpoint(ec);
    const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string();
    const std::string url = std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(bound.port());
    accept();
    wait_signal();
    log_info("listening", {{"url", url}, {"base_path", config.base_path}, {"version", config.version}});
    if (options_.on_listening) options_.on_listening(url);
    io_.run();
    shared_.resolver.reset();  // before the io_context
    log_info("stopped", {{"relays_open", static_cast<std::uint64_t>(shared_.relays.size())}});
    return exit_code_;
  }

 private:
  void accept() {
    acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        log_warn("accept_failed", {{"error", ec.message()}});
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([this](const error_code& e) {
          if (!e) accept();
        });
        return;
      }
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (tls_) {
        std::make_shared<HttpSession>(shared_, ClientStream(std::move(socket), *tls_))->run();
      } else {
        std::make_shared<HttpSession>(shared_, ClientStream(std::move(socket)))->run();
      }
      accept();
    });
  }

  void wait_signal() {
    signals_.async_wait([this](const error_code& ec, int signal) {
      if (ec) return;
      if (shared_.draining) {
        log_warn("shutdown_forced", {{"signal", static_cast<std::int64_t>(signal)}});
        exit_code_ = 1;
        return io_.stop();
      }
      shared_.draining = true;
      log_info("shutdown_started", {{"signal", static_cast<std::int64_t>(signal)},
                                    {"relays_open", static_cast<std::uint64_t>(shared_.relays.size())},
                                    {"grace_ms", static_cast<std::int64_t>(shared_.config.shutdown_grace.count())}});
      wait_signal();
      // The listener stays open: /readyz answers 503 and new upgrades are refused until the end.
      std::vector<std::shared_ptr<Relay>> open;
      for (auto& [id, weak] : shared_.relays) {
        if (auto relay = weak.lock()) open.push_back(std::move(relay));
      }
      for (auto& relay : open) relay->shut_down();
      grace_deadline_ = SteadyClock::now() + shared_.config.shutdown_grace;
      wait_for_relays();
    });
  }

  void wait_for_relays() {
    if (shared_.relays.empty() || SteadyClock::now() >= grace_deadline_) {
      if (!shared_.relays.empty()) {
        log_warn("shutdown_grace_expired", {{"relays_open", static_cast<std::uint64_t>(shared_.relays.size())}});
        exit_code_ = 1;
      }
      error_code ignored;
      acceptor_.close(ignored);
      return io_.stop();
    }
    grace_.expires_after(std::chrono::milliseconds(20));
    grace_.async_wait([this](const error_code& e) {
      if (!e) wait_for_relays();
    });
  }

  // Shared before io_: handlers still queued when io_ is destroyed own relays, whose
  // destructors give their slots back to shared_.
  Shared shared_;
  asio::io_context io_{1};
  ServerOptions options_;
  std::unique_ptr<asio::ssl::context> tls_;  // TLS_ENABLED=1
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer retry_;
  asio::steady_timer grace_;
  SteadyClock::time_point grace_deadline_{};
  int exit_code_ = 0;
};

}  // namespace

int run_server(const GatewayConfig& config, const ServerOptions& options) {
  l2proxy::Log::set_level(config.log_silent ? l2proxy::LogLevel::error : config.log_level);
  Server server(config, options);
  return server.run();
}

}  // namespace aero::gateway
