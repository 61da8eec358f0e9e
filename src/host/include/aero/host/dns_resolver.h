// Upstream DNS client: forwards complete DNS query messages to upstream resolvers through c-ares,
// driven by a Boost.Asio io_context on the caller's thread (c-ares gets no thread of its own).
//
// What c-ares does for us: one UDP socket per upstream (answers from another address are
// ignored), retransmission after `timeout`, up to `tries` rounds over the upstream list, the
// switch to TCP when a UDP answer has TC set, and the match of an answer to its query by id and
// question.
//
// What callers see:
//   * Ids. A query goes upstream under a random id, unique among the queries in flight (c-ares
//     1.18 would send the caller's own, and confuse two callers' queries that share one). The
//     response carries the caller's id again: it is the upstream's message byte for byte except
//     for those two bytes.
//   * TCP. A UDP answer with TC set, or longer than 512 bytes, is fetched again over TCP.
//   * Timeouts. Each round doubles the wait: with one upstream, a query never answered fails
//     after timeout * (2^tries - 1) (2 tries: 3 * timeout), not timeout * tries.
//   * Failure rcodes. An answer with SERVFAIL, NOTIMP or REFUSED counts as a failed try: c-ares
//     asks the next upstream at once (with one upstream, the same one again) and fails the
//     query once the tries are used up. c-ares before 1.20 reports that like an unreachable
//     upstream (kind "refused"); later versions tell "servfail" and "refused" apart. Every
//     other rcode
//     (NXDOMAIN, FORMERR, ...) is an answer and is returned as such.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aero/base/bytes.h"
#include "aero/base/result.h"

namespace boost::asio {
class io_context;
}

namespace aero::host {

struct DnsResolverOptions {
  // "ip" or "ip:port"; IPv6 as "::1", "[::1]" or "[::1]:53". Empty: the system configuration
  // (/etc/resolv.conf).
  std::vector<std::string> upstreams;
  std::chrono::milliseconds timeout{2000};  // first try; c-ares doubles it each round
  int tries = 2;                            // rounds over the upstream list
  // Queries in flight (never more than 32768, half the id space); send() beyond fails at once.
  std::size_t max_pending = 1024;
};

// Single-threaded: every member, and the io_context's run(), on one thread. Destroy the resolver
// before its io_context.
class DnsResolver {
 public:
  // Error kinds (Error::kind) a Callback may receive:
  //   "timeout"           no upstream answered in time
  //   "refused"           an upstream refused (rcode REFUSED, or ICMP port unreachable)
  //   "servfail"          every upstream answered SERVFAIL or NOTIMP (c-ares < 1.20: "refused")
  //   "bad_query"         not a DNS query send() accepts (see send())
  //   "bad_response"      an upstream's answer was malformed
  //   "too_many_pending"  max_pending queries were already in flight
  //   "upstream"          anything else c-ares reports (no memory, socket errors, ...)
  // create() fails with "bad_options", "bad_upstream" or "resolver_init".
  using Callback = std::function<void(Result<Bytes> response)>;

  static Result<std::unique_ptr<DnsResolver>> create(boost::asio::io_context& io,
                                                     const DnsResolverOptions& options);

  // Pending callbacks are dropped: neither queries in flight nor completions already queued on
  // the io_context are invoked after the destructor starts; their std::function objects (and
  // what they captured) are destroyed. Safe to call from inside a Callback.
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // Sends `query` (a complete DNS message: header with QR clear and exactly one question, at
  // most 65535 bytes) to the upstreams. c-ares copies it. `callback` runs once (unless the
  // resolver is destroyed first), always from the io_context (never inside send()), with the
  // raw response message or an error; it may call send() or destroy the resolver.
  void send(ByteSpan query, Callback callback);

  // Queries handed to c-ares whose outcome c-ares has not reported yet (completions queued on
  // the io_context but not yet delivered do not count).
  std::size_t pending() const;

 private:
  class Impl;
  explicit DnsResolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aero::host
