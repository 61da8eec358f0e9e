// DoH and dns-json without sockets (doh.h).
#include "aero/services/gateway/doh.h"

#include <array>
#include <boost/json.hpp>

#include "aero/proto/base64.h"

namespace aero::gateway {

namespace {

using wire::DnsRcode;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

DohFailure failure_with(unsigned status, std::uint16_t id, std::uint16_t flags) {
  return DohFailure{status, dns_error_message(id, flags, DnsRcode::formerr)};
}

std::uint16_t load16(ByteSpan bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

Error doh_error(std::string_view kind, std::string message) { return make_error(kind, std::move(message)); }

}  // namespace

std::size_t max_base64url_length(std::size_t max_bytes) {
  static constexpr std::array<std::size_t, 3> kTail{0, 2, 3};
  return max_bytes / 3 * 4 + kTail[max_bytes % 3];
}

std::string DohQuery::cache_key() const {
  return name + "|" + std::to_string(type) + "|" + std::to_string(klass);
}

Result<DohQuery> parse_doh_message(ByteSpan message, DohFailure& failure) {
  const std::uint16_t id = message.size() >= 2 ? load16(message, 0) : 0;
  const std::uint16_t flags = message.size() >= 4 ? load16(message, 2) : 0;
  auto parsed = wire::DnsMessage::parse(message);
  if (!parsed) {
    failure = failure_with(400, id, flags);
    return doh_error("bad_query", "malformed DNS message: " + parsed.error().message);
  }
  if (parsed->is_response() || parsed->count(wire::DnsSection::question) != 1) {
    failure = failure_with(400, id, flags);
    return doh_error("bad_query", "a DNS query needs exactly one question");
  }
  // A copy: the iterator that begin() returns (and the entry it holds) is a temporary.
  const wire::DnsQuestion question = *parsed->questions().begin();
  DohQuery query;
  query.message.assign(message.begin(), message.end());
  query.id = id;
  query.name = lowercase(question.name.to_string());
  query.type = question.type;
  query.klass = question.klass;
  return query;
}

Result<DohQuery> parse_doh_get(const std::optional<std::string>& dns_param, std::size_t max_bytes,
                               DohFailure& failure) {
  if (!dns_param) {
    failure = failure_with(400, 0, 0);
    return doh_error("bad_query", "missing dns parameter");
  }
  if (dns_param->size() > max_base64url_length(max_bytes)) {
    // Best effort: the id and flags from the first 16 characters (12 bytes).
    std::uint16_t id = 0;
    std::uint16_t flags = 0;
    if (auto head = encoding::base64url_decode_lenient(std::string_view(*dns_param).substr(0, 16)); head && head->size() >= 4) {
      id = load16(*head, 0);
      flags = load16(*head, 2);
    }
    failure = failure_with(413, id, flags);
    return doh_error("too_large", "dns parameter over the size limit");
  }
  auto decoded = encoding::base64url_decode_lenient(*dns_param);
  if (!decoded) {
    failure = failure_with(400, 0, 0);
    return doh_error("bad_query", "dns parameter is not base64url");
  }
  return parse_doh_message(*decoded, failure);
}

Result<DohQuery> parse_doh_post(std::span<const std::string_view> content_types, ByteSpan body,
                                std::size_t max_bytes, DohFailure& failure) {
  bool media_ok = content_types.size() == 1 && content_types.front().size() <= kMaxDohContentTypeChars;
  if (media_ok) {
    const std::string_view value = content_types.front();
    media_ok = lowercase(trim(value.substr(0, value.find(';')))) == "application/dns-message";
  }
  if (!media_ok) {
    failure = failure_with(415, 0, 0);
    return doh_error("bad_media_type", "Content-Type must be application/dns-message");
  }
  if (body.size() > max_bytes) {
    const std::uint16_t id = body.size() >= 2 ? load16(body, 0) : 0;
    const std::uint16_t flags = body.size() >= 4 ? load16(body, 2) : 0;
    failure = failure_with(413, id, flags);
    return doh_error("too_large", "DNS message over the size limit");
  }
  return parse_doh_message(body, failure);
}

Bytes dns_error_message(std::uint16_t id, std::uint16_t query_flags, DnsRcode rcode,
                        const DohQuery* question) {
  const auto flags = static_cast<std::uint16_t>(
      wire::kDnsFlagQr | (query_flags & 0x7800) | (query_flags & wire::kDnsFlagRd) | wire::kDnsFlagRa |
      (query_flags & wire::kDnsFlagCd) | static_cast<std::uint16_t>(rcode));
  std::array<std::uint8_t, 512> buffer{};
  auto builder = wire::DnsBuilder::start(buffer, id, flags);
  if (!builder) return {};
  if (question != nullptr) {
    // The name comes from a parsed message, so it always encodes; without it, the header alone.
    (void)builder->add_question(question->name, question->type, question->klass);
  }
  const ByteSpan out = builder->bytes();
  return Bytes(out.begin(), out.end());
}

bool is_private_ptr_name(std::string_view raw) {
  std::string name = lowercase(raw);
  while (!name.empty() && name.back() == '.') name.pop_back();
  auto labels_before = [&name](std::string_view suffix) -> std::optional<std::vector<std::string_view>> {
    if (!std::string_view(name).ends_with(suffix)) return std::nullopt;
    std::string_view rest = std::string_view(name).substr(0, name.size() - suffix.size());
    std::vector<std::string_view> labels;
    while (!rest.empty()) {
      const std::size_t dot = rest.find('.');
      labels.push_back(rest.substr(0, dot));
      rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
    }
    return labels;
  };
  if (auto labels = labels_before(".in-addr.arpa")) {
    if (labels->empty()) return false;
    // The last four labels, reversed, are the address; missing trailing octets read as 0.
    const std::size_t take = std::min<std::size_t>(labels->size(), 4);
    std::array<std::uint32_t, 4> octets{};
    for (std::size_t i = 0; i < take; ++i) {
      const std::string_view label = (*labels)[labels->size() - 1 - i];
      if (label.empty() || label.size() > 3) return false;
      std::uint32_t value = 0;
      for (const char c : label) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<std::uint32_t>(c - '0');
      }
      if (value > 255) return false;
      octets[i] = value;
    }
    const std::uint32_t a = octets[0];
    const std::uint32_t b = octets[1];
    return a == 10 || a == 127 || a == 0 || (a == 169 && b == 254) || (a == 172 && b >= 16 && b <= 31) ||
           (a == 192 && b == 168) || (a == 100 && b >= 64 && b <= 127);
  }
  if (auto labels = labels_before(".ip6.arpa")) {
    if (labels->empty() || labels->size() > 32) return false;
    std::array<std::uint8_t, 32> nibbles{};
    for (std::size_t i = 0; i < labels->size(); ++i) {
      const std::string_view label = (*labels)[labels->size() - 1 - i];
      if (label.size() != 1) return false;
      const char c = label[0];
      if (c >= '0' && c <= '9') {
        nibbles[i] = static_cast<std::uint8_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        nibbles[i] = static_cast<std::uint8_t>(c - 'a' + 10);
      } else {
        return false;
      }
    }
    if (nibbles[0] == 0xF && (nibbles[1] & 0xE) == 0xC) return true;   // fc00::/7
    if (nibbles[0] == 0xF && nibbles[1] == 0xE && (nibbles[2] & 0xC) == 0x8) return true;  // fe80::/10
    bool zero_prefix = true;
    for (std::size_t i = 0; i < 31; ++i) zero_prefix = zero_prefix && nibbles[i] == 0;
    return zero_prefix && nibbles[31] <= 1;  // :: and ::1
  }
  return false;
}

std::string qtype_label(std::uint16_t type) {
  switch (type) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 255: return "ANY";
    default: return std::to_string(type);
  }
}

std::string rcode_label(std::uint8_t rcode) {
  switch (rcode) {
    case 0: return "NOERROR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 5: return "REFUSED";
    default: return std::to_string(rcode);
  }
}

std::uint32_t DnsCache::ttl_for(const wire::DnsMessage& response) const {
  const std::uint8_t rcode = response.rcode();
  const std::size_t answers = response.count(wire::DnsSection::answer);
  std::uint32_t ttl = 0;
  if (rcode == 0 && answers > 0) {
    ttl = response.min_answer_ttl().value_or(0);
  } else if (rcode == 3 || (rcode == 0 && answers == 0)) {
    ttl = response.negative_ttl().value_or(negative_ttl_);
  } else {
    return 0;
  }
  return std::min(ttl, max_ttl_);
}

void DnsCache::put(const std::string& key, ByteSpan response, Clock::time_point now) {
  if (max_entries_ == 0) return;
  auto parsed = wire::DnsMessage::parse(response);
  if (!parsed) return;
  const std::uint32_t ttl = ttl_for(*parsed);
  if (ttl == 0) return;
  const auto expires = now + std::chrono::seconds(ttl);
  if (auto it = map_.find(key); it != map_.end()) {
    it->second.response.assign(response.begin(), response.end());
    it->second.expires = expires;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  while (map_.size() >= max_entries_ && !lru_.empty()) {
    map_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  map_.emplace(key, Entry{Bytes(response.begin(), response.end()), expires, lru_.begin()});
}

std::optional<Bytes> DnsCache::get(const std::string& key, std::uint16_t id, Clock::time_point now) {
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    lru_.erase(it->second.lru);
    map_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  Bytes out = it->second.response;
  if (out.size() >= 2) {
    out[0] = static_cast<std::uint8_t>(id >> 8);
    out[1] = static_cast<std::uint8_t>(id & 0xFF);
  }
  return out;
}

std::optional<DnsJsonRequest> parse_dns_json(const std::optional<std::string>& name,
                                             const std::optional<std::string>& type,
                                             std::string& error) {
  std::string normalized = name ? lowercase(trim(*name)) : std::string();
  while (!normalized.empty() && normalized.back() == '.') normalized.pop_back();
  if (normalized.empty()) {
    error = "Missing required query parameter: name";
    return std::nullopt;
  }
  const std::string t = type ? lowercase(trim(*type)) : std::string();
  if (t.empty()) {
    error = "Missing required query parameter: type";
    return std::nullopt;
  }
  DnsJsonRequest request{std::move(normalized), 0};
  if (t == "a" || t == "1") {
    request.type = wire::dns_type::a;
  } else if (t == "aaaa" || t == "28") {
    request.type = wire::dns_type::aaaa;
  } else if (t == "cname" || t == "5") {
    request.type = wire::dns_type::cname;
  } else {
    error = "Invalid DNS record type";
    return std::nullopt;
  }
  return request;
}

Result<Bytes> build_dns_json_query(const DnsJsonRequest& request) {
  std::array<std::uint8_t, 512> buffer{};
  auto builder = wire::DnsBuilder::start(buffer, 0, wire::kDnsFlagRd);
  if (!builder) return builder.error();
  auto added = builder->add_question(request.name, request.type, wire::kDnsClassIn);
  if (!added) return added.error();
  const ByteSpan out = builder->bytes();
  return Bytes(out.begin(), out.end());
}

Result<std::string> render_dns_json(const DnsJsonRequest& request, ByteSpan response) {
  auto parsed = wire::DnsMessage::parse(response);
  if (!parsed) return parsed.error();
  namespace json = boost::json;
  const std::uint16_t flags = parsed->flags();
  json::object body{{"Status", parsed->rcode()},
                    {"TC", (flags & wire::kDnsFlagTc) != 0},
                    {"RD", (flags & wire::kDnsFlagRd) != 0},
                    {"RA", (flags & wire::kDnsFlagRa) != 0},
                    {"AD", (flags & wire::kDnsFlagAd) != 0},
                    {"CD", (flags & wire::kDnsFlagCd) != 0},
                    {"Question", json::array{json::object{{"name", request.name}, {"type", request.type}}}}};
  json::array answers;
  for (const wire::DnsRecord& record : parsed->answers()) {
    std::string data;
    if (auto v4 = record.a()) {
      data = v4->to_string();
    } else if (auto v6 = record.aaaa()) {
      data = v6->to_string();
    } else if (auto target = record.cname()) {
      data = target->to_string();
    } else {
      continue;
    }
    answers.push_back(json::object{{"name", record.name.to_string()},
                                   {"type", record.type},
                                   {"TTL", record.ttl},
                                   {"data", std::move(data)}});
  }
  if (!answers.empty()) body["Answer"] = std::move(answers);
  return json::serialize(body);
}

}  // namespace aero::gateway
