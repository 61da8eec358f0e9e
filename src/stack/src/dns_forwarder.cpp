// The gateway's DNS forwarder; the theory of operation is in dns_forwarder.h.
#include "aero/stack/dns_forwarder.h"

#include <algorithm>
#include <cstring>

namespace aero::stack {

namespace {

using wire::DnsRcode;

constexpr std::size_t kMaxQueryBytes = 4096;

std::string cache_key(const wire::DnsQuestion& question) {
  std::string key = question.name.to_string();
  std::transform(key.begin(), key.end(), key.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  key += '/' + std::to_string(question.type) + '/' + std::to_string(question.klass);
  return key;
}

void store16(std::span<std::uint8_t> out, std::size_t at, std::uint16_t value) {
  out[at] = static_cast<std::uint8_t>(value >> 8);
  out[at + 1] = static_cast<std::uint8_t>(value);
}

void store32(std::span<std::uint8_t> out, std::size_t at, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) out[at + i] = static_cast<std::uint8_t>(value >> (24 - 8 * i));
}

std::uint32_t seconds_between(Instant from, Instant to) {
  if (to <= from) return 0;
  return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(to - from).count());
}

}  // namespace

DnsForwarder::DnsForwarder(const StackConfig& config, const EgressPolicy& policy)
    : config_(config), policy_(policy) {}

std::size_t DnsForwarder::error_reply(const wire::DnsMessage& query, DnsRcode rcode,
                                      std::span<std::uint8_t> out) {
  auto length = wire::build_dns_error(out, query, rcode, query.max_udp_payload());
  return length ? *length : 0;
}

DnsForwarder::Outcome DnsForwarder::on_query(ByteSpan query_bytes, DnsClient client, Instant now,
                                             std::span<std::uint8_t> out) {
  ++stats_.queries;
  Outcome outcome;
  if (query_bytes.size() > kMaxQueryBytes) return outcome;
  auto query = wire::DnsMessage::parse(query_bytes);
  if (!query) {
    ++stats_.formerr;
    return outcome;  // not even a header we could answer to
  }
  if (query->is_response()) return outcome;
  auto reply = [&](std::size_t length) {
    outcome.kind = length > 0 ? Outcome::Kind::reply : Outcome::Kind::drop;
    outcome.reply_length = length;
    return outcome;
  };
  if (query->opcode() != 0) {
    ++stats_.notimp;
    return reply(error_reply(*query, DnsRcode::notimp, out));
  }
  if (query->count(wire::DnsSection::question) != 1) {
    ++stats_.formerr;
    return reply(error_reply(*query, DnsRcode::formerr, out));
  }
  const wire::DnsQuestion question = *query->questions().begin();
  const std::string name = question.name.to_string();

  if (!policy_.check_domain(name)) {
    ++stats_.policy_nxdomain;
    return reply(error_reply(*query, DnsRcode::nxdomain, out));
  }

  for (const auto& entry : config_.dns_static) {
    if (!question.name.equals(entry.name)) continue;
    ++stats_.static_answers;
    auto builder = wire::DnsBuilder::response_to(out, *query, DnsRcode::noerror,
                                                 query->max_udp_payload());
    if (!builder) return reply(0);
    if (question.type == wire::dns_type::a && question.klass == wire::kDnsClassIn) {
      const auto ttl = static_cast<std::uint32_t>(config_.dns_default_ttl.count());
      if (!builder->add_answer_a(ttl, entry.address)) return reply(0);
    }
    return reply(builder->size());
  }

  const std::string key = cache_key(question);
  if (auto it = cache_.find(key); it != cache_.end()) {
    if (it->second.expires > now) {
      ++stats_.cache_hits;
      return reply(deliver(*query, it->second.response, seconds_between(it->second.stored, now), out));
    }
  }

  if (pending_.size() >= config_.max_pending_dns) {
    ++stats_.servfail_pending_cap;
    return reply(error_reply(*query, DnsRcode::servfail, out));
  }
  const QueryId id = next_id_++;
  pending_.emplace(id, Pending{client, Bytes(query_bytes.begin(), query_bytes.end()),
                               now + config_.dns_timeout, key});
  ++stats_.forwarded;
  outcome.kind = Outcome::Kind::forward;
  outcome.forward_id = id;
  return outcome;
}

std::optional<DnsForwarder::Answer> DnsForwarder::on_response(QueryId id, ByteSpan response_bytes,
                                                              Instant now,
                                                              std::span<std::uint8_t> out) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return std::nullopt;
  const Pending pending = std::move(it->second);
  pending_.erase(it);
  auto query = wire::DnsMessage::parse(pending.query);
  auto response = wire::DnsMessage::parse(response_bytes);
  if (!query) return std::nullopt;
  if (!response || !response->is_response()) {
    ++stats_.servfail_upstream;
    return Answer{pending.client, error_reply(*query, DnsRcode::servfail, out)};
  }
  // DNS-rebinding defence: a public name must not hand the guest an address the egress policy
  // would refuse to connect to.
  std::uint64_t filtered = 0;
  // Sized on the first upstream answer: an idle session keeps no 64 KiB buffer.
  if (scratch_.empty()) scratch_.resize(wire::kDnsMaxMessageSize);
  auto rebuilt = wire::rebuild_dns_message(scratch_, *response, [&](const wire::DnsRecord& record) {
    if (auto v4 = record.a(); v4 && !policy_.check_address(*v4)) {
      ++filtered;
      return false;
    }
    if (auto v6 = record.aaaa(); v6 && !policy_.check_address(*v6)) {
      ++filtered;
      return false;
    }
    return true;
  });
  if (!rebuilt) {
    ++stats_.servfail_upstream;
    return Answer{pending.client, error_reply(*query, DnsRcode::servfail, out)};
  }
  stats_.rebinding_filtered += filtered;
  const ByteSpan clean = ByteSpan(scratch_).first(*rebuilt);

  // Cache successful and negative answers (not SERVFAIL/REFUSED: those are the upstream's state).
  if (auto parsed = wire::DnsMessage::parse(clean); parsed && !parsed->truncated()) {
    const auto rcode = parsed->rcode();
    std::optional<std::uint32_t> ttl;
    if (rcode == 0) ttl = parsed->min_answer_ttl();
    if (!ttl && (rcode == 0 || rcode == 3)) ttl = parsed->negative_ttl();
    if (ttl) {
      store(pending.cache_key, clean,
            std::min<std::uint32_t>(*ttl, static_cast<std::uint32_t>(config_.dns_max_ttl.count())),
            now);
    }
  }
  return Answer{pending.client, deliver(*query, clean, 0, out)};
}

std::optional<DnsForwarder::Answer> DnsForwarder::on_failure(QueryId id,
                                                             std::span<std::uint8_t> out) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return std::nullopt;
  const Pending pending = std::move(it->second);
  pending_.erase(it);
  auto query = wire::DnsMessage::parse(pending.query);
  if (!query) return std::nullopt;
  ++stats_.servfail_upstream;
  return Answer{pending.client, error_reply(*query, DnsRcode::servfail, out)};
}

std::size_t DnsForwarder::deliver(const wire::DnsMessage& query, ByteSpan response,
                                  std::uint32_t age_seconds, std::span<std::uint8_t> out) {
  auto parsed = wire::DnsMessage::parse(response);
  if (!parsed) return 0;
  const std::size_t limit = std::min(out.size(), query.max_udp_payload());
  if (response.size() > limit) {
    // RFC 1035 §4.2.1: too big for UDP: header and question only, TC set; the guest retries
    // over TCP.
    ++stats_.truncated_to_guest;
    auto builder = wire::DnsBuilder::response_to(out, query, static_cast<wire::DnsRcode>(parsed->rcode()), limit);
    if (!builder) return 0;
    builder->set_flags(static_cast<std::uint16_t>(parsed->flags() | wire::kDnsFlagTc));
    store16(out, 0, query.id());
    return builder->size();
  }
  std::memcpy(out.data(), response.data(), response.size());
  store16(out, 0, query.id());
  // The guest's own question bytes (the same name up to case, so the same length): resolvers
  // that randomise the case of query names (0x20 encoding) check it comes back unchanged.
  const wire::DnsQuestion asked = *query.questions().begin();
  const wire::DnsQuestion answered = *parsed->questions().begin();
  if (parsed->count(wire::DnsSection::question) == 1 && asked.name.equals(answered.name) &&
      asked.name.encoded_length() == asked.name.wire_length() &&
      answered.name.encoded_length() == answered.name.wire_length()) {
    std::memcpy(out.data() + wire::kDnsHeaderLength, query.bytes().data() + wire::kDnsHeaderLength,
                asked.name.wire_length());
  }
  if (age_seconds > 0) {
    // Age every TTL (RFC 1035 §7.3) but OPT's, whose TTL field holds EDNS flags.
    for (auto section : {wire::DnsSection::answer, wire::DnsSection::authority,
                         wire::DnsSection::additional}) {
      for (const wire::DnsRecord& record : parsed->records(section)) {
        if (record.type == wire::dns_type::opt) continue;
        const std::uint32_t ttl = record.ttl > age_seconds ? record.ttl - age_seconds : 0;
        store32(out, record.rdata_offset - 6, ttl);
      }
    }
  }
  return response.size();
}

void DnsForwarder::store(const std::string& key, ByteSpan response, std::uint32_t ttl,
                         Instant now) {
  if (config_.max_dns_cache_entries == 0 || ttl == 0) return;
  auto existing = cache_.find(key);
  if (existing == cache_.end()) {
    while (cache_.size() >= config_.max_dns_cache_entries && !cache_order_.empty()) {
      cache_.erase(cache_order_.front());
      cache_order_.pop_front();
      ++stats_.cache_evictions;
    }
    cache_order_.push_back(key);
  }
  CacheEntry& entry = cache_[key];
  entry.response.assign(response.begin(), response.end());
  store16(entry.response, 0, 0);
  entry.stored = now;
  entry.expires = now + std::chrono::seconds(ttl);
}

std::optional<Instant> DnsForwarder::next_deadline() const {
  std::optional<Instant> earliest;
  for (const auto& [id, pending] : pending_) {
    if (!earliest || pending.deadline < *earliest) earliest = pending.deadline;
  }
  return earliest;
}

}  // namespace aero::stack
