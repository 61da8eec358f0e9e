// DNS-over-HTTPS (RFC 8484) and the JSON API of Aero's gateway, without sockets: request
// validation, error messages, the policy (ANY and private PTR refused), the cache with its TTL
// rules, and the dns-json rendering.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "aero/base/bytes.h"
#include "aero/base/result.h"
#include "aero/wire/dns.h"

namespace aero::gateway {

inline constexpr std::size_t kMaxDohContentTypeChars = 256;

// The longest unpadded base64url text of at most `max_bytes` bytes.
std::size_t max_base64url_length(std::size_t max_bytes);

// A validated query: exactly one question.
struct DohQuery {
  Bytes message;
  std::uint16_t id = 0;
  std::string name;  // lower case, text form
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::string cache_key() const;  // "name|type|class"
};

// A refused request: HTTP status and the DNS error message to send with it.
struct DohFailure {
  unsigned status = 400;
  Bytes message;  // application/dns-message (FORMERR, ...)
};

// GET ?dns=: missing 400 FORMERR id 0; longer than max_base64url_length(max) 413 FORMERR with
// the id and flags decoded best-effort from the first 16 characters; not base64url 400
// (non-canonical tail bits tolerated); then as parse_doh_message.
Result<DohQuery> parse_doh_get(const std::optional<std::string>& dns_param, std::size_t max_bytes,
                               DohFailure& failure);
// POST: Content-Type (one header, at most 256 characters) must be application/dns-message
// (media type compared case-insensitively, parameters ignored) else 415 FORMERR id 0; a body
// over max 413; then as parse_doh_message.
Result<DohQuery> parse_doh_post(std::span<const std::string_view> content_types, ByteSpan body,
                                std::size_t max_bytes, DohFailure& failure);
// A DNS query with exactly one question (400 FORMERR, id kept when readable).
Result<DohQuery> parse_doh_message(ByteSpan message, DohFailure& failure);

// An error response: 12-byte header (id; QR, the query's opcode, RD and CD, RA, rcode) plus the
// question when given.
Bytes dns_error_message(std::uint16_t id, std::uint16_t query_flags, wire::DnsRcode rcode,
                        const DohQuery* question = nullptr);

// Private PTR names (in-addr.arpa of 10/8, 127/8, 0/8, 169.254/16, 172.16/12, 192.168/16,
// 100.64/10; ip6.arpa of fc00::/7, fe80::/10, ::, ::1), case-insensitive.
bool is_private_ptr_name(std::string_view name);

// "A", "AAAA", ... or the number; "NOERROR", "NXDOMAIN", ... or the number (metrics labels).
std::string qtype_label(std::uint16_t type);
std::string rcode_label(std::uint8_t rcode);

// A DNS response cache keyed by DohQuery::cache_key(), least recently used entry evicted.
// TTL rules (Aero's gateway): NOERROR with answers: the smallest answer TTL; NXDOMAIN, or
// NOERROR without answers: min(SOA TTL, SOA MINIMUM) from the authority section, else the
// negative TTL; clamped to the maximum; a TTL of 0 and other rcodes are not cached.
class DnsCache {
 public:
  using Clock = std::chrono::steady_clock;
  DnsCache(std::size_t max_entries, std::uint32_t max_ttl_seconds,
           std::uint32_t negative_ttl_seconds)
      : max_entries_(max_entries), max_ttl_(max_ttl_seconds), negative_ttl_(negative_ttl_seconds) {}

  // The TTL a response would be cached for (0: not cached).
  std::uint32_t ttl_for(const wire::DnsMessage& response) const;
  // Stores `response` (already parsed as valid) when its TTL is not 0.
  void put(const std::string& key, ByteSpan response, Clock::time_point now);
  // The stored response with its id set to `id`, when present and not expired.
  std::optional<Bytes> get(const std::string& key, std::uint16_t id, Clock::time_point now);
  std::size_t size() const { return map_.size(); }

 private:
  struct Entry {
    Bytes response;
    Clock::time_point expires;
    std::list<std::string>::iterator lru;
  };
  std::size_t max_entries_;
  std::uint32_t max_ttl_;
  std::uint32_t negative_ttl_;
  std::list<std::string> lru_;  // most recent first
  std::unordered_map<std::string, Entry> map_;
};

// GET /dns-json: name (trailing dots removed, lower case) and type (A, AAAA, CNAME, any case,
// or 1, 28, 5).
struct DnsJsonRequest {
  std::string name;
  std::uint16_t type = 0;
};
// nullopt and `error` set to the 400 message when invalid.
std::optional<DnsJsonRequest> parse_dns_json(const std::optional<std::string>& name,
                                             const std::optional<std::string>& type,
                                             std::string& error);
// The query for a dns-json request: id 0, RD, one question (too_large / bad name as errors).
Result<Bytes> build_dns_json_query(const DnsJsonRequest& request);
// {Status,TC,RD,RA,AD,CD,Question:[{name,type}],Answer?:[{name,type,TTL,data}]} with only A,
// AAAA and CNAME answers (IPv6 in RFC 5952 form); Answer omitted when empty.
Result<std::string> render_dns_json(const DnsJsonRequest& request, ByteSpan response);

}  // namespace aero::gateway
