// c-ares under a Boost.Asio io_context.
//
// c-ares owns its sockets and tells us, through the socket-state callback, which descriptors it
// wants watched for reading and writing. Each one gets a non-owning stream_descriptor used only
// for async_wait; readiness is handed back to c-ares with ares_process_fd(). The descriptor is
// release()d (never closed) when c-ares says it is done with it, which c-ares does just before
// closing the fd. One steady_timer, re-armed from ares_timeout() after every call into c-ares,
// drives retransmissions and timeouts.
//
// c-ares calls our query callback from inside ares_send(), ares_process_fd() and
// ares_destroy(). None of those is a safe place for user code (it could destroy the resolver
// under c-ares's feet), so results are queued and delivered from a handler posted to the
// io_context. Every handler holds a weak reference to a token the destructor drops, so nothing
// queued before destruction runs after it.
#include "aero/host/dns_resolver.h"

#include <ares.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace aero::host {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kDnsHeaderSize = 12;
constexpr std::size_t kDnsMaxMessageSize = 65535;
// Wire ids are drawn at random among the free ones; keeping half of the id space free bounds
// the draws per query to two on average.
constexpr std::size_t kMaxInFlight = 32768;

// ares_library_init() is process-wide and not thread-safe; a function-local static runs it
// exactly once. It is never undone: other code in the process may use c-ares too.
int library_status() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  return status;
}

Error ares_error(int status) {
  const std::string message = ares_strerror(status);
  switch (status) {
    case ARES_ETIMEOUT: return make_error("timeout", message);
    case ARES_EREFUSED:
    case ARES_ECONNREFUSED: return make_error("refused", message);
    case ARES_ESERVFAIL:
    case ARES_ENOTIMP: return make_error("servfail", message);
    case ARES_EBADQUERY:
    case ARES_EBADNAME:
    case ARES_EBADFAMILY:
    case ARES_EFORMERR: return make_error("bad_query", message);
    case ARES_EBADRESP: return make_error("bad_response", message);
    default: return make_error("upstream", message);
  }
}

// What c-ares needs to match answers to a query: a header, QR clear (a query, not a response)
// and exactly one question. The question itself is left to c-ares and the upstream.
std::optional<Error> check_query(ByteSpan query) {
  if (query.size() < kDnsHeaderSize) {
    return make_error("bad_query", "DNS query shorter than its header");
  }
  if (query.size() > kDnsMaxMessageSize) {
    return make_error("bad_query", "DNS query longer than 65535 bytes");
  }
  if ((query[2] & 0x80) != 0) {
    return make_error("bad_query", "DNS message is a response, not a query");
  }
  if (query[4] != 0 || query[5] != 1) {
    return make_error("bad_query", "DNS query must carry exactly one question");
  }
  return std::nullopt;
}

// One upstream as c-ares's CSV syntax wants it: "a.b.c.d:port" or "[v6]:port". Parsing it here
// rejects what c-ares would silently misread (commas, names, bad ports).
std::optional<std::string> upstream_csv_entry(const std::string& text) {
  std::string host;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    const std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
  } else if (const auto colon = text.find(':');
             colon != std::string::npos && colon == text.rfind(':')) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (port_text.empty()) return std::nullopt;
  } else {
    host = text;  // an IPv4 address, or a bare IPv6 one (several colons, no port)
  }

  unsigned port = 53;
  if (!port_text.empty()) {
    const char* first = port_text.data();
    const char* last = first + port_text.size();
    const auto [end, ec] = std::from_chars(first, last, port);
    if (ec != std::errc() || end != last || port == 0 || port > 65535) return std::nullopt;
  }

  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  // The bracketed and the bare-colon forms are for IPv6 only; "a.b.c.d:port" for IPv4 only.
  const bool bracketed = !text.empty() && text.front() == '[';
  if (bracketed && !address.is_v6()) return std::nullopt;
  // c-ares's CSV syntax has no place for an IPv6 scope (link-local "fe80::1%eth0").
  if (address.is_v6() && address.to_v6().scope_id() != 0) return std::nullopt;
  const std::string port_suffix = ":" + std::to_string(port);
  if (address.is_v6()) return "[" + address.to_string() + "]" + port_suffix;
  return address.to_string() + port_suffix;
}

}  // namespace

class DnsResolver::Impl {
 public:
  Impl(asio::io_context& io, const DnsResolverOptions& options)
      : io_(io), max_pending_(options.max_pending), timer_(io) {}

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Asio's cancel() and release() throw only when the reactor itself fails.
  ~Impl() {  // NOLINT(bugprone-exception-escape)
    // From here on no handler touches this object and no callback is delivered.
    alive_.reset();
    destroying_ = true;
    timer_.cancel();
    if (channel_ != nullptr) {
      // Ends every query with ARES_EDESTRUCTION (on_answer frees them without delivering) and
      // closes c-ares's sockets, telling on_sock_state first.
      ares_destroy(channel_);
      channel_ = nullptr;
    }
    // c-ares reported every socket closed; this only guards against a descriptor it did not.
    for (auto& [fd, watch] : watches_) forget(*watch);
    watches_.clear();
    ready_.clear();
  }

  Result<void> init(const DnsResolverOptions& options) {
    if (const int status = library_status(); status != ARES_SUCCESS) {
      return make_error("resolver_init", std::string("c-ares: ") + ares_strerror(status));
    }

    std::string servers;
    for (const auto& upstream : options.upstreams) {
      const auto entry = upstream_csv_entry(upstream);
      if (!entry) return make_error("bad_upstream", "not an IP address[:port]: " + upstream);
      if (!servers.empty()) servers += ',';
      servers += *entry;
    }

    ares_options ares{};
    ares.sock_state_cb = &Impl::on_sock_state;
    ares.sock_state_cb_data = this;
    ares.timeout = static_cast<int>(options.timeout.count());
    ares.tries = options.tries;
    // Not ARES_FLAG_EDNS, although without it c-ares (1.18) refetches every UDP answer over
    // 512 bytes over TCP: on a FORMERR answer that mode cuts 11 bytes (the OPT record it
    // assumes it added) off the end of the query and sends the mangled rest again.
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
#ifdef ARES_OPT_QUERY_CACHE
    // Newer c-ares caches answers by default; the caller decides what is cached, and a cache
    // here would rewrite TTLs behind its back.
    ares.qcache_max_ttl = 0;
    mask |= ARES_OPT_QUERY_CACHE;
#endif
    if (const int status = ares_init_options(&channel_, &ares, mask); status != ARES_SUCCESS) {
      channel_ = nullptr;
      return make_error("resolver_init", std::string("c-ares: ") + ares_strerror(status));
    }
    if (!servers.empty()) {
      if (const int status = ares_set_servers_ports_csv(channel_, servers.c_str());
          status != ARES_SUCCESS) {
        return make_error("bad_upstream",
                          std::string("c-ares rejected the upstreams: ") + ares_strerror(status));
      }
    }
    return {};
  }

  void send(ByteSpan query, Callback callback) {
    if (auto invalid = check_query(query)) {
      deliver(std::move(callback), std::move(*invalid));
      return;
    }
    if (pending_ >= max_pending_ || pending_ >= kMaxInFlight) {
      deliver(std::move(callback),
              make_error("too_many_pending",
                         std::to_string(pending_) + " DNS queries already in flight"));
      return;
    }
    // The caller's id is not put on the wire: c-ares (1.18) sends it unchanged and matches
    // answers by it, so two callers' queries with the same id would be confused, and an id a
    // guest chose may be predictable to whoever wants to spoof the answer. A random id unique
    // among the queries in flight replaces it; the response gets the caller's id back.
    std::uint16_t wire_id = 0;
    do {
      wire_id = static_cast<std::uint16_t>(random_() & 0xffffU);
    } while (wire_ids_.count(wire_id) != 0);
    wire_ids_.insert(wire_id);
    wire_query_.assign(query.begin(), query.end());
    wire_query_[0] = static_cast<std::uint8_t>(wire_id >> 8);
    wire_query_[1] = static_cast<std::uint8_t>(wire_id & 0xffU);
    const auto id = static_cast<std::uint16_t>((query[0] << 8) | query[1]);
    auto context =
        std::make_unique<QueryContext>(QueryContext{this, std::move(callback), id, wire_id});
    ++pending_;
    // Ownership of the context passes to c-ares until on_answer(), which c-ares calls exactly
    // once (possibly right here, for a query it refuses). c-ares copies the message.
    ares_send(channel_, wire_query_.data(), static_cast<int>(wire_query_.size()), &Impl::on_answer,
              context.release());
    rearm_timer();
  }

  std::size_t pending() const {
    return pending_;
  }

 private:
  struct QueryContext {
    Impl* self;
    Callback callback;
    std::uint16_t id;       // the caller's
    std::uint16_t wire_id;  // the one sent upstream
  };

  // A descriptor c-ares asked us to watch, shared with the waits in flight on it so that a
  // completion arriving after c-ares let go of the fd sees `closed` and does nothing.
  struct Watch {
    Watch(asio::io_context& io, int socket_fd) : fd(socket_fd), descriptor(io) {}
    int fd;
    asio::posix::stream_descriptor descriptor;
    bool want_read = false;
    bool want_write = false;
    bool reading = false;  // an async_wait for reading is outstanding
    bool writing = false;
    bool closed = false;
  };

  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<Impl*>(data)->sock_state(fd, readable != 0, writable != 0);
  }

  static void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<QueryContext> context(static_cast<QueryContext*>(arg));
    Impl& self = *context->self;
    --self.pending_;
    self.wire_ids_.erase(context->wire_id);
    if (self.destroying_) return;  // dropped, as documented
    if (status != ARES_SUCCESS) {
      self.deliver(std::move(context->callback), ares_error(status));
      return;
    }
    if (abuf == nullptr || alen < static_cast<int>(kDnsHeaderSize)) {
      self.deliver(std::move(context->callback),
                   make_error("bad_response", "DNS response shorter than its header"));
      return;
    }
    Bytes response(abuf, abuf + alen);
    response[0] = static_cast<std::uint8_t>(context->id >> 8);
    response[1] = static_cast<std::uint8_t>(context->id & 0xff);
    self.deliver(std::move(context->callback), std::move(response));
  }

  void sock_state(int fd, bool readable, bool writable) {
    auto it = watches_.find(fd);
    if (!readable && !writable) {
      // c-ares is about to close the fd: stop watching it, without closing it.
      if (it != watches_.end()) {
        forget(*it->second);
        watches_.erase(it);
      }
      return;
    }
    if (destroying_) return;
    if (it == watches_.end()) {
      auto watch = std::make_shared<Watch>(io_, fd);
      boost::system::error_code ec;
      watch->descriptor.assign(fd, ec);
      // Not pollable (cannot happen for c-ares's sockets): the timer still ends its queries.
      if (ec) return;
      it = watches_.emplace(fd, std::move(watch)).first;
    }
    it->second->want_read = readable;
    it->second->want_write = writable;
    arm(it->second);
  }

  void forget(Watch& watch) {
    watch.closed = true;
    if (watch.descriptor.is_open()) {
      // release() cancels the waits and unregisters the fd from the reactor; the fd stays
      // open for c-ares to close.
      static_cast<void>(watch.descriptor.release());
    }
  }

  void arm(const std::shared_ptr<Watch>& watch) {
    if (watch->want_read && !watch->reading) {
      watch->reading = true;
      wait(watch, asio::posix::stream_descriptor::wait_read);
    }
    if (watch->want_write && !watch->writing) {
      watch->writing = true;
      wait(watch, asio::posix::stream_descriptor::wait_write);
    }
  }

  void wait(const std::shared_ptr<Watch>& watch, asio::posix::stream_descriptor::wait_type type) {
    watch->descriptor.async_wait(type, [this, alive = std::weak_ptr<int>(alive_), watch,
                                        type](const boost::system::error_code& ec) {
      if (alive.expired() || watch->closed) return;
      const bool read = type == asio::posix::stream_descriptor::wait_read;
      (read ? watch->reading : watch->writing) = false;
      if (ec) return;  // cancelled; the timer still ends the queries
      // A wait c-ares no longer wants (it finished writing) ends here without re-arming.
      if (read ? !watch->want_read : !watch->want_write) return;
      // c-ares may close this fd, end queries and open others in here.
      ares_process_fd(channel_, read ? watch->fd : ARES_SOCKET_BAD,
                      read ? ARES_SOCKET_BAD : watch->fd);
      if (!watch->closed) arm(watch);
      rearm_timer();
    });
  }

  // One timer at c-ares's next deadline (a retransmission or a query's end); none when idle.
  void rearm_timer() {
    if (destroying_) return;
    timeval tv{};
    const timeval* next = ares_timeout(channel_, nullptr, &tv);
    if (next == nullptr) {
      timer_.cancel();
      return;
    }
    timer_.expires_after(std::chrono::seconds(next->tv_sec) +
                         std::chrono::microseconds(next->tv_usec));
    timer_.async_wait(
        [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
          if (ec || alive.expired()) return;
          ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
          rearm_timer();
        });
  }

  // Queues a result and makes sure one drain is posted: callbacks run from the io_context only.
  void deliver(Callback callback, Result<Bytes> result) {
    ready_.emplace_back(std::move(callback), std::move(result));
    if (drain_posted_) return;
    drain_posted_ = true;
    asio::post(io_, [this, alive = std::weak_ptr<int>(alive_)] {
      if (!alive.expired()) drain();
    });
  }

  void drain() {
    drain_posted_ = false;
    // A callback may send() (queuing more, under a new drain) or destroy the resolver, so the
    // batch lives on the stack and liveness is checked before each call.
    auto batch = std::move(ready_);
    ready_.clear();
    const std::weak_ptr<int> alive = alive_;
    for (auto& [callback, result] : batch) {
      if (alive.expired()) return;
      callback(std::move(result));
    }
  }

  asio::io_context& io_;
  const std::size_t max_pending_;
  ares_channel channel_ = nullptr;
  asio::steady_timer timer_;
  std::unordered_map<int, std::shared_ptr<Watch>> watches_;
  std::deque<std::pair<Callback, Result<Bytes>>> ready_;
  bool drain_posted_ = false;
  std::size_t pending_ = 0;
  std::unordered_set<std::uint16_t> wire_ids_;  // of the queries in flight
  Bytes wire_query_;                            // scratch: the query with its wire id
  std::random_device random_;
  bool destroying_ = false;
  // Handlers hold it weakly; the destructor drops it first.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

Result<std::unique_ptr<DnsResolver>> DnsResolver::create(asio::io_context& io,
                                                         const DnsResolverOptions& options) {
  if (options.timeout.count() <= 0 || options.timeout.count() > std::numeric_limits<int>::max()) {
    return make_error("bad_options", "timeout must be positive and fit an int of milliseconds");
  }
  if (options.tries < 1) return make_error("bad_options", "tries must be at least 1");
  auto impl = std::make_unique<Impl>(io, options);
  if (auto status = impl->init(options); !status) return status.error();
  return std::unique_ptr<DnsResolver>(new DnsResolver(std::move(impl)));
}

DnsResolver::DnsResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DnsResolver::~DnsResolver() = default;

void DnsResolver::send(ByteSpan query, Callback callback) {
  impl_->send(query, std::move(callback));
}

std::size_t DnsResolver::pending() const {
  return impl_->pending();
}

}  // namespace aero::host
