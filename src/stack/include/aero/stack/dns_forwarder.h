// The DNS service at the gateway address: a forwarder, not a stub resolver.
//
// Theory of operation. A guest query (UDP to dns_ip:53) is answered here when it can be:
//   * malformed or not a single-question QUERY  -> FORMERR / NOTIMP (RFC 1035 §4.1.1);
//   * a name the domain policy refuses          -> NXDOMAIN (as Aero's proxy answers);
//   * a static override (AERO_L2_DNS_A)         -> its A record (other types: no data);
//   * a fresh cache entry                       -> the cached answer, TTLs aged;
//   * the pending-query cap reached             -> SERVFAIL.
// Otherwise the query is forwarded upstream as is (any type) under a new QueryId and remembered
// until the upstream answers, fails, or the timeout passes (SERVFAIL). Upstream answers are
// filtered before anything else sees them: A and AAAA records the egress policy refuses (private,
// loopback, link-local... addresses for public names) are removed, the DNS-rebinding defence.
// The filtered answer is cached for min(answer TTLs, max TTL) (negative answers per RFC 2308 §5)
// in a bounded cache, and returned to the guest with the guest's id and question bytes, cut to
// the header and question with TC set when it exceeds what the guest accepts over UDP
// (RFC 1035 §4.2.1, RFC 6891 §7).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "aero/base/bytes.h"
#include "aero/base/clock.h"
#include "aero/base/ip_address.h"
#include "aero/stack/config.h"
#include "aero/stack/egress_policy.h"
#include "aero/wire/dns.h"

namespace aero::stack {

using QueryId = std::uint32_t;

struct DnsClient {
  Ipv4Address ip;
  std::uint16_t port = 0;
};

struct DnsStats {
  std::uint64_t queries = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t static_answers = 0;
  std::uint64_t policy_nxdomain = 0;
  std::uint64_t servfail_pending_cap = 0;
  std::uint64_t servfail_upstream = 0;  // upstream failed or timed out
  std::uint64_t formerr = 0;
  std::uint64_t notimp = 0;
  std::uint64_t truncated_to_guest = 0;
  std::uint64_t rebinding_filtered = 0;  // A/AAAA records removed by the policy
  std::uint64_t cache_evictions = 0;
};

class DnsForwarder {
 public:
  // `config` and `policy` must outlive the forwarder.
  DnsForwarder(const StackConfig& config, const EgressPolicy& policy);

  struct Outcome {
    enum class Kind : std::uint8_t { drop, reply, forward } kind = Kind::drop;
    std::size_t reply_length = 0;  // kind reply: bytes written to `out`
    QueryId forward_id = 0;        // kind forward: send the query upstream under this id
  };
  Outcome on_query(ByteSpan query, DnsClient client, Instant now, std::span<std::uint8_t> out);

  struct Answer {
    DnsClient client;
    std::size_t length = 0;  // bytes written to `out`
  };
  // An upstream response for `id`; nullopt when the id is unknown (late or unsolicited).
  std::optional<Answer> on_response(QueryId id, ByteSpan response, Instant now,
                                    std::span<std::uint8_t> out);
  // The upstream failed for `id`: SERVFAIL for the guest.
  std::optional<Answer> on_failure(QueryId id, std::span<std::uint8_t> out);

  // Pending queries past the timeout at `now` get SERVFAIL through on_answer(Answer, bytes).
  template <class OnAnswer>
  void expire(Instant now, std::span<std::uint8_t> out, OnAnswer&& on_answer) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline <= now) {
        const QueryId id = it->first;
        ++it;
        if (auto answer = on_failure(id, out)) on_answer(*answer);
      } else {
        ++it;
      }
    }
  }
  std::optional<Instant> next_deadline() const;

  const DnsStats& stats() const { return stats_; }
  std::size_t pending() const { return pending_.size(); }
  std::size_t cached() const { return cache_.size(); }

 private:
  struct Pending {
    DnsClient client;
    Bytes query;
    Instant deadline;
    std::string cache_key;
  };
  struct CacheEntry {
    Bytes response;  // filtered, id 0
    Instant stored;
    Instant expires;
  };

  std::size_t error_reply(const wire::DnsMessage& query, wire::DnsRcode rcode,
                          std::span<std::uint8_t> out);
  // Copies `response` for `query`: the guest's id and question bytes, TTLs aged by `age`, cut
  // with TC when larger than the guest accepts.
  std::size_t deliver(const wire::DnsMessage& query, ByteSpan response, std::uint32_t age_seconds,
                      std::span<std::uint8_t> out);
  void store(const std::string& key, ByteSpan response, std::uint32_t ttl, Instant now);

  const StackConfig& config_;
  const EgressPolicy& policy_;
  std::unordered_map<QueryId, Pending> pending_;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::deque<std::string> cache_order_;  // insertion order, for eviction
  QueryId next_id_ = 1;
  DnsStats stats_;
  Bytes scratch_;  // filtered upstream responses are rebuilt here
};

}  // namespace aero::stack
