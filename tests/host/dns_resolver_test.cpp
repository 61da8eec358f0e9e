// DnsResolver against a fake DNS server on loopback, both on one io_context: answers, the id
// c-ares puts on the wire, truncation and the TCP retry, timeouts, refusals, the pending cap,
// and destruction with work outstanding.
#include "aero/host/dns_resolver.h"

#include <ares_version.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace aero::host {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kQueryId = 0xBEEF;
constexpr std::size_t kTruncatedAnswerRecords = 40;  // 40 A records: well over 512 bytes

// A one-question query for `name`, type A, class IN, RD set.
Bytes make_query(std::uint16_t id = kQueryId, std::string_view name = "www.example.test") {
  Bytes out{static_cast<std::uint8_t>(id >> 8),
            static_cast<std::uint8_t>(id & 0xff),
            0x01,
            0x00,  // RD
            0x00,
            0x01,
            0x00,
            0x00,
            0x00,
            0x00,
            0x00,
            0x00};
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto dot = std::min(name.find('.', start), name.size());
    out.push_back(static_cast<std::uint8_t>(dot - start));
    for (std::size_t i = start; i < dot; ++i) out.push_back(static_cast<std::uint8_t>(name[i]));
    start = dot + 1;
  }
  out.push_back(0);
  out.insert(out.end(), {0x00, 0x01, 0x00, 0x01});
  return out;
}

std::uint16_t u16_at(ByteSpan message, std::size_t offset) {
  return static_cast<std::uint16_t>((message[offset] << 8) | message[offset + 1]);
}

// A response to `query` (which has no records after its question): its id and question, the
// given rcode and TC bit, and `answers` A records 192.0.2.x.
Bytes make_response(ByteSpan query, std::uint8_t rcode, bool truncated, std::size_t answers) {
  Bytes out(query.begin(), query.end());
  out[2] = static_cast<std::uint8_t>(0x80 | (truncated ? 0x02 : 0x00) | (query[2] & 0x01));
  out[3] = static_cast<std::uint8_t>(0x80 | rcode);  // RA
  out[6] = static_cast<std::uint8_t>(answers >> 8);
  out[7] = static_cast<std::uint8_t>(answers & 0xff);
  for (std::size_t i = 0; i < answers; ++i) {
    out.insert(out.end(), {0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04,
                           192, 0, 2, static_cast<std::uint8_t>(i + 1)});
  }
  return out;
}

enum class Behaviour {
  answer,
  truncate_udp,
  truncate_udp_silent_tcp,  // TC over UDP, then nothing over TCP
  large_udp,
  silent,
  servfail,
  refused,
  formerr,
  nxdomain
};

// A DNS server on one loopback port, UDP and TCP, served by the test's io_context. It records
// every query it receives and every response it sends.
class FakeDnsServer {
 public:
  FakeDnsServer(asio::io_context& io, Behaviour behaviour,
                const asio::ip::address& address = asio::ip::make_address("127.0.0.1"))
      : behaviour_(behaviour), address_(address), udp_(io), acceptor_(io) {
    // UDP and TCP on the same port, like a real server: a free UDP port, then TCP on it.
    for (int attempt = 0; attempt < 20 && !ok_; ++attempt) {
      boost::system::error_code ec;
      udp_ = asio::ip::udp::socket(io);
      acceptor_ = asio::ip::tcp::acceptor(io);
      udp_.open(address.is_v4() ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
      if (!ec) udp_.bind({address, 0}, ec);
      if (ec) return;
      port_ = udp_.local_endpoint().port();
      acceptor_.open(address.is_v4() ? asio::ip::tcp::v4() : asio::ip::tcp::v6(), ec);
      if (!ec) acceptor_.bind({address, port_}, ec);
      if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      ok_ = !ec;
    }
    if (!ok_) return;
    receive();
    accept();
  }

  bool ok() const { return ok_; }
  std::uint16_t port() const { return port_; }
  std::string upstream() const {
    const std::string host = address_.to_string();
    return (address_.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port_);
  }

  std::vector<Bytes> udp_queries;
  std::vector<Bytes> tcp_queries;  // without the length prefix
  std::vector<Bytes> udp_responses;
  std::vector<Bytes> tcp_responses;

 private:
  struct Connection {
    explicit Connection(asio::ip::tcp::socket s) : socket(std::move(s)) {}
    asio::ip::tcp::socket socket;
    std::array<std::uint8_t, 2> length{};
    Bytes message;
  };

  std::optional<Bytes> respond(ByteSpan query, bool over_tcp) const {
    switch (behaviour_) {
      case Behaviour::answer: return make_response(query, 0, false, 1);
      case Behaviour::truncate_udp:
        return over_tcp ? make_response(query, 0, false, kTruncatedAnswerRecords)
                        : make_response(query, 0, true, 0);
      case Behaviour::truncate_udp_silent_tcp:
        if (over_tcp) return std::nullopt;
        return make_response(query, 0, true, 0);
      case Behaviour::large_udp: return make_response(query, 0, false, kTruncatedAnswerRecords);
      case Behaviour::servfail: return make_response(query, 2, false, 0);
      case Behaviour::refused: return make_response(query, 5, false, 0);
      case Behaviour::formerr: return make_response(query, 1, false, 0);
      case Behaviour::nxdomain: return make_response(query, 3, false, 0);
      case Behaviour::silent: break;
    }
    return std::nullopt;
  }

  void receive() {
    udp_.async_receive_from(asio::buffer(datagram_), sender_,
                            [this](const boost::system::error_code& ec, std::size_t n) {
                              if (ec) return;
                              const ByteSpan query = ByteSpan(datagram_).first(n);
                              udp_queries.emplace_back(query.begin(), query.end());
                              if (auto response = respond(query, false)) {
                                boost::system::error_code ignored;
                                udp_.send_to(asio::buffer(*response), sender_, 0, ignored);
                                udp_responses.push_back(std::move(*response));
                              }
                              receive();
                            });
  }

  void accept() {
    acceptor_.async_accept(
        [this](const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
          if (ec) return;
          connections_.push_back(std::make_unique<Connection>(std::move(socket)));
          read(*connections_.back());
          accept();
        });
  }

  void read(Connection& c) {
    asio::async_read(c.socket, asio::buffer(c.length),
                     [this, &c](const boost::system::error_code& ec, std::size_t) {
                       if (ec) return;
                       c.message.resize(u16_at(c.length, 0));
                       asio::async_read(
                           c.socket, asio::buffer(c.message),
                           [this, &c](const boost::system::error_code& e, std::size_t) {
                             if (e) return;
                             tcp_queries.push_back(c.message);
                             if (auto response = respond(c.message, true)) {
                               Bytes framed{static_cast<std::uint8_t>(response->size() >> 8),
                                            static_cast<std::uint8_t>(response->size() & 0xff)};
                               framed.insert(framed.end(), response->begin(), response->end());
                               boost::system::error_code ignored;
                               asio::write(c.socket, asio::buffer(framed), ignored);
                               tcp_responses.push_back(std::move(*response));
                             }
                             read(c);
                           });
                     });
  }

  Behaviour behaviour_;
  asio::ip::address address_;
  asio::ip::udp::socket udp_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  bool ok_ = false;
  std::array<std::uint8_t, 65536> datagram_{};
  asio::ip::udp::endpoint sender_;
  std::vector<std::unique_ptr<Connection>> connections_;
};

// Runs the loop until `done` holds or `limit` passes; false on the latter.
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds limit = 5s) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    io.restart();
    io.run_for(5ms);
  }
  return true;
}

// Runs the loop for `duration`, whatever happens.
void run_for(asio::io_context& io, std::chrono::milliseconds duration) {
  const auto deadline = Clock::now() + duration;
  while (Clock::now() < deadline) {
    io.restart();
    io.run_for(5ms);
  }
}

std::unique_ptr<DnsResolver> make_resolver(asio::io_context& io, std::vector<std::string> upstreams,
                                           std::chrono::milliseconds timeout = 1000ms,
                                           int tries = 2, std::size_t max_pending = 1024) {
  DnsResolverOptions options;
  options.upstreams = std::move(upstreams);
  options.timeout = timeout;
  options.tries = tries;
  options.max_pending = max_pending;
  auto resolver = DnsResolver::create(io, options);
  EXPECT_TRUE(resolver.ok()) << (resolver.ok() ? "" : resolver.error().message);
  return resolver.ok() ? std::move(resolver).value() : nullptr;
}

bool same_after_id(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && std::equal(a.begin() + 2, a.end(), b.begin() + 2);
}

TEST(DnsResolver, ReturnsTheUpstreamResponseWithTheCallersId) {
  asio::io_context io;
  FakeDnsServer server(io, Behaviour::answer);
  ASSERT_TRUE(server.ok());
  auto resolver = make_resolver(io, {server.upstream()});
  ASSERT_TRUE(resolver);

  // Three queries in flight at once, all with the same id.
  const Bytes query = make_query();
  std::vector<Result<Bytes>> results;
  for (int i = 0; i < 3; ++i) {
    resolver->send(query, [&](Result<Bytes> response) { results.push_back(std::move(response)); });
  }
  EXPECT_EQ(resolver->pending(), 3u);
  ASSERT_TRUE(run_until(io, [&] { return results.size() == 3; }));
  EXPECT_EQ(resolver->pending(), 0u);

  // On the wire: the query byte for byte except the id, which the resolver replaces with a
  // random one, unique among the queries in flight (c-ares 1.18 itself would keep ours).
  ASSERT_EQ(server.udp_queries.size(), 3u);
  std::set<std::uint16_t> wire_ids;
  for (const auto& seen : server.udp_queries) {
    EXPECT_TRUE(same_after_id(seen, query));
    wire_ids.insert(u16_at(seen, 0));
  }
  EXPECT_EQ(wire_ids.size(), 3u);

  // Back to the caller: the server's response byte for byte, with the caller's id restored.
  ASSERT_EQ(server.udp_responses.size(), 3u);
  Bytes expected = server.udp_responses[0];
  expected[0] = query[0];
  expected[1] = query[1];
  for (auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(*result, expected);
  }
}

TEST(DnsResolver, RetriesOverTcpWhenTheUdpAnswerIsTruncated) {
  asio::io_context io;
  FakeDnsServer server(io, Behaviour::truncate_udp);
  ASSERT_TRUE(server.ok());
  auto resolver = make_resolver(io, {server.upstream()});
  ASSERT_TRUE(resolver);

  const Bytes query = make_query();
  std::optional<Result<Bytes>> result;
  resolver->send(query, [&](Result<Bytes> response) { result = std::move(response); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));

  ASSERT_TRUE(result->ok()) << result->error().message;
  const Bytes& response = result->value();
  ASSERT_EQ(server.udp_queries.size(), 1u);
  ASSERT_EQ(server.tcp_queries.size(), 1u);
  EXPECT_TRUE(same_after_id(server.tcp_queries[0], query));
  ASSERT_EQ(server.tcp_responses.size(), 1u);
  EXPECT_TRUE(same_after_id(response, server.tcp_responses[0]));
  EXPECT_EQ(u16_at(response, 0), kQueryId);
  EXPECT_EQ(response[2] & 0x02, 0);  // TC clear: the full answer
  EXPECT_EQ(u16_at(response, 6), kTruncatedAnswerRecords);
  EXPECT_GT(response.size(), 512u);
}

TEST(DnsResolver, RefetchesLongUdpAnswersOverTcp) {
  asio::io_context io;
  FakeDnsServer server(io, Behaviour::large_udp);
  ASSERT_TRUE(server.ok());
  auto resolver = make_resolver(io, {server.upstream()});
  ASSERT_TRUE(resolver);

  std::optional<Result<Bytes>> result;
  resolver->send(make_query(), [&](Result<Bytes> response) { result = std::move(response); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));

  // Over 512 bytes, TC clear: c-ares still discards the UDP answer and asks over TCP.
  ASSERT_TRUE(result->ok()) << result->error().message;
  ASSERT_EQ(server.udp_responses.size(), 1u);
  EXPECT_GT(server.udp_responses[0].size(), 512u);
  ASSERT_EQ(server.tcp_responses.size(), 1u);
  EXPECT_TRUE(same_after_id(result->value(), server.tcp_responses[0]));
}

TEST(DnsResolver, UnansweredQueryTimesOut) {
  asio::io_context io;
  FakeDnsServer server(io, Behaviour::silent);
  ASSERT_TRUE(server.ok());
  constexpr auto kTimeout = 100ms;
  constexpr int kTries = 2;
  auto resolver = make_resolver(io, {server.upstream()}, kTimeout, kTries);
  ASSERT_TRUE(resolver);

  std::optional<Result<Bytes>> result;
  const auto start = Clock::now();
  resolver->send(make_query(), [&](Result<Bytes> response) { result = std::move(response); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  const auto elapsed = Clock::now() - start;

  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->error().kind, "timeout");
  EXPECT_EQ(server.udp_queries.size(), static_cast<std::size_t>(kTries));
  // c-ares doubles the wait each round: 100 ms, then 200 ms.
  EXPECT_GE(elapsed, kTimeout * ((1 << kTries) - 1) - 10ms);
  EXPECT_LE(elapsed, kTimeout * ((1 << kTries) - 1) + 500ms);
  EXPECT_EQ(resolver->pending(), 0u);
}

TEST(DnsResolver, ClosedPortIsRefused) {
  asio::io_context io;
  // A port nothing listens on: the kernel answers with ICMP port unreachable.
  std::uint16_t port = 0;
  {
    asio::ip::udp::socket probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  auto resolver = make_resolver(io, {"127.0.0.1:" + std::to_string(port)}, 1000ms, 2);
  ASSERT_TRUE(resolver);

  std::optional<Result<Bytes>> result;
  resolver->send(make_query(), [&](Result<Bytes> response) { result = std::move(response); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->error().kind, "refused");
}

TEST(DnsResolver, FailureRcodesBecomeErrors) {
#if ARES_VERSION >= 0x011400
  constexpr const char* kServfailKind = "servfail";
#else
  // Before 1.20, c-ares ends such a query with ECONNREFUSED, as for an unreachable upstream.
  constexpr const char* kServfailKind = "refused";
#endif
  for (const auto& [behaviour, kind] :
       {std::pair{Behaviour::servfail, kServfailKind}, std::pair{Behaviour::refused, "refused"}}) {
    SCOPED_TRACE(kind);
    asio::io_context io;
    FakeDnsServer server(io, behaviour);
    ASSERT_TRUE(server.ok());
    auto resolver = make_resolver(io, {server.upstream()});
    ASSERT_TRUE(resolver);

    std::optional<Result<Bytes>> result;
    resolver->send(make_query(), [&](Result<Bytes> response) { result = std::move(response); });
    ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
    ASSERT_FALSE(result->ok());
    EXPECT_EQ(result->error().kind, std::string(kind)) << result->error().message;
    // Each answer counts as a failed try: the only upstream is asked once per try.
    EXPECT_EQ(server.udp_queries.size(), 2u);
  }
}

TEST(DnsResolver, OtherRcodesAreAnswers) {
  for (const auto& [behaviour, rcode] :
       {std::pair{Behaviour::formerr, 1}, std::pair{Behaviour::nxdomain, 3}}) {
    SCOPED_TRACE(rcode);
    asio::io_context io;
    FakeDnsServer server(io, behaviour);
    ASSERT_TRUE(server.ok());
    auto resolver = make_resolver(io, {server.upstream()});
    ASSERT_TRUE(resolver);

    std::optional<Result<Bytes>> result;
    resolver->send(make_query(), [&](Result<Bytes> response) { result = std::move(response); });
    ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
    ASSERT_TRUE(result->ok()) << result->error().message;
    EXPECT_EQ(result->value()[3] & 0x0f, rcode);
    ASSERT_EQ(server.udp_responses.size(), 1u);
    EXPECT_TRUE(same_after_id(result->value(), server.udp_responses[0]));
  }
}

TEST(DnsResolver, EnforcesMaxPending) {
  asio::io_context io;
  FakeDnsServer server(io, Behaviour::silent);
  ASSERT_TRUE(server.ok());
  auto resolver = make_resolver(io, {server.upstream()}, 100ms, 1, /*max_pending=*/2);
  ASSERT_TRUE(resolver);

  std::vector<Result<Bytes>> results;
  const auto record = [&](Result<Bytes> response) { results.push_back(std::move(response)); };
  resolver->send(make_query(1), record);
  resolver->send(make_query(2), record);
  resolver->send(make_query(3), record);
  EXPECT_TRUE(results.empty());  // even the refusal is delivered from the loop, not from send()
  EXPECT_EQ(resolver->pending(), 2u);

  ASSERT_TRUE(run_until(io, [&] { return !results.empty(); }));
  ASSERT_EQ(results.size(), 1u);
  ASSERT_FALSE(results[0].ok());
  EXPECT_EQ(results[0].error().kind, "too_many_pending");

  // Once the two in flight have ended, there is room again.
  ASSERT_TRUE(run_until(io, [&] { return results.size() == 3; }));
  EXPECT_EQ(results[1].error().kind, "timeout");
  EXPECT_EQ(results[2].error().kind, "timeout");
  EXPECT_EQ(resolver->pending(), 0u);
  resolver->send(make_query(4), record);
  EXPECT_EQ(resolver->pending(), 1u);
}

TEST(DnsResolver, RejectsWhatIsNotAQuery) {
  asio::io_context io;
  auto resolver = make_resolver(io, {"127.0.0.1:53"});
  ASSERT_TRUE(resolver);

  Bytes response_flag = make_query();
  response_flag[2] |= 0x80;
  Bytes two_questions = make_query();
  two_questions[5] = 2;
  const std::vector<Bytes> bad{Bytes{}, Bytes(11, 0), response_flag, two_questions,
                               Bytes(65536, 0)};
  std::vector<Result<Bytes>> results;
  for (const auto& message : bad) {
    resolver->send(message,
                   [&](Result<Bytes> response) { results.push_back(std::move(response)); });
  }
  EXPECT_TRUE(results.empty());  // not from inside send()
  EXPECT_EQ(resolver->pending(), 0u);
  ASSERT_TRUE(run_until(io, [&] { return results.size() == bad.size(); }));
  for (const auto& result : results) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, "bad_query");
  }
}

TEST(DnsResolver, DestructionDropsPendingCallbacks) {
  asio::io_context io;
  FakeDnsServer server(io, Behaviour::silent);
  ASSERT_TRUE(server.ok());
  auto resolver = make_resolver(io, {server.upstream()}, 50ms, 2);
  ASSERT_TRUE(resolver);

  // The token's use count shows when the callbacks (which hold copies) are destroyed.
  auto token = std::make_shared<int>(0);
  int calls = 0;
  const auto callback = [&calls, token](const Result<Bytes>&) { ++calls; };
  const long held_here = token.use_count();  // the token and `callback`
  resolver->send(make_query(1), callback);
  resolver->send(make_query(2), callback);
  ASSERT_TRUE(run_until(io, [&] { return server.udp_queries.size() == 2; }));
  resolver->send(Bytes{}, callback);  // a completion queued on the loop, not yet delivered
  EXPECT_EQ(token.use_count(), held_here + 3);

  resolver.reset();
  EXPECT_EQ(token.use_count(), held_here);
  run_for(io, 400ms);  // well past every retransmission and timeout
  EXPECT_EQ(calls, 0);
}

TEST(DnsResolver, DestructionWithATcpQueryInFlight) {
  asio::io_context io;
  FakeDnsServer server(io, Behaviour::truncate_udp_silent_tcp);
  ASSERT_TRUE(server.ok());
  auto resolver = make_resolver(io, {server.upstream()}, 100ms, 2);
  ASSERT_TRUE(resolver);

  int calls = 0;
  resolver->send(make_query(), [&](const Result<Bytes>&) { ++calls; });
  ASSERT_TRUE(run_until(io, [&] { return server.tcp_queries.size() == 1; }));
  resolver.reset();  // c-ares's UDP and TCP sockets are both open here
  run_for(io, 400ms);
  EXPECT_EQ(calls, 0);
}

TEST(DnsResolver, TcpQueryTimesOut) {
  asio::io_context io;
  FakeDnsServer server(io, Behaviour::truncate_udp_silent_tcp);
  ASSERT_TRUE(server.ok());
  auto resolver = make_resolver(io, {server.upstream()}, 100ms, 2);
  ASSERT_TRUE(resolver);

  std::optional<Result<Bytes>> result;
  resolver->send(make_query(), [&](Result<Bytes> response) { result = std::move(response); });
  ASSERT_TRUE(run_until(
      io, [&] { return result.has_value(); }, 2s));
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->error().kind, "timeout");
  EXPECT_EQ(resolver->pending(), 0u);
}

TEST(DnsResolver, CallbackMayDestroyTheResolver) {
  asio::io_context io;
  FakeDnsServer server(io, Behaviour::answer);
  ASSERT_TRUE(server.ok());
  auto resolver = make_resolver(io, {server.upstream()});
  ASSERT_TRUE(resolver);

  int calls = 0;
  const auto callback = [&](const Result<Bytes>& response) {
    EXPECT_TRUE(response.ok());
    ++calls;
    resolver.reset();
  };
  resolver->send(make_query(1), callback);
  resolver->send(make_query(2), callback);
  ASSERT_TRUE(run_until(io, [&] { return calls > 0; }));
  run_for(io, 100ms);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(resolver, nullptr);
}

TEST(DnsResolver, ValidatesOptions) {
  asio::io_context io;
  for (const std::string upstream :
       {"", "localhost", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:53x", "1.2.3.4,5.6.7.8",
        "[1.2.3.4]:53", "[::1", "[::1]:", "[::1]53", "fe80::1%1"}) {
    DnsResolverOptions options;
    options.upstreams = {upstream};
    auto resolver = DnsResolver::create(io, options);
    ASSERT_FALSE(resolver.ok()) << upstream;
    EXPECT_EQ(resolver.error().kind, "bad_upstream") << upstream;
  }
  DnsResolverOptions good;
  good.upstreams = {"127.0.0.1", "127.0.0.1:5353", "::1",
                    "[::1]",     "[::1]:5353",     "[2001:db8::1]:53"};
  EXPECT_TRUE(DnsResolver::create(io, good).ok());

  DnsResolverOptions no_tries;
  no_tries.tries = 0;
  EXPECT_EQ(DnsResolver::create(io, no_tries).error().kind, "bad_options");
  DnsResolverOptions no_timeout;
  no_timeout.timeout = 0ms;
  EXPECT_EQ(DnsResolver::create(io, no_timeout).error().kind, "bad_options");
}

TEST(DnsResolver, UsesTheSystemConfigurationWithoutUpstreams) {
  asio::io_context io;
  auto resolver = DnsResolver::create(io, DnsResolverOptions{});
  ASSERT_TRUE(resolver.ok()) << resolver.error().message;
  EXPECT_EQ((*resolver)->pending(), 0u);
}

TEST(DnsResolver, WorksOverIpv6Loopback) {
  asio::io_context io;
  boost::system::error_code ec;
  const auto loopback = asio::ip::make_address("::1", ec);
  FakeDnsServer server(io, Behaviour::answer, loopback);
  // Hosts with IPv6 disabled have no ::1 to bind; everything else here runs over 127.0.0.1.
  if (!server.ok()) GTEST_SKIP() << "needs an IPv6 loopback address (::1); IPv6 is disabled on this host";
  auto resolver = make_resolver(io, {server.upstream()});
  ASSERT_TRUE(resolver);

  std::optional<Result<Bytes>> result;
  resolver->send(make_query(), [&](Result<Bytes> response) { result = std::move(response); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok()) << result->error().message;
  ASSERT_EQ(server.udp_responses.size(), 1u);
  EXPECT_TRUE(same_after_id(result->value(), server.udp_responses[0]));
}

}  // namespace
}  // namespace aero::host
