// Fuzz target: DNS message parsing, name decoding, filtered rebuilds and error responses.
// Invariants: errors use the fixed kinds; every decoded name is at most 255 wire bytes and its
// text form encodes back to an equal name; rebuilding with every record kept parses to the same
// header, questions and records (and rebuilding that again gives identical bytes); a rebuild
// without the A/AAAA records parses with the answer count reduced by exactly those records.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "aero/wire/dns.h"

namespace {

using aero::ByteSpan;
using aero::wire::DnsMessage;
using aero::wire::DnsName;
using aero::wire::DnsRecord;
using aero::wire::DnsSection;
namespace dns_type = aero::wire::dns_type;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool known_kind(std::string_view kind) {
  for (std::string_view k :
       {"truncated", "bad_length", "bad_magic", "bad_pointer", "unsupported", "too_large"}) {
    if (kind == k) return true;
  }
  return false;
}

void check_name(const DnsName& name) {
  check(name.wire_length() <= aero::wire::kDnsMaxNameLength && name.wire_length() >= 1);
  check(name.label_count() <= 127 && name.encoded_length() >= 1);
  std::array<std::uint8_t, 255> flat{};
  check(name.write_uncompressed(flat) == name.wire_length());
  std::array<std::uint8_t, 255> encoded{};
  auto length = aero::wire::encode_dns_name(name.to_string(), encoded);
  check(length.ok() && *length == name.wire_length());
  check(std::equal(encoded.begin(), encoded.begin() + static_cast<std::ptrdiff_t>(*length),
                   flat.begin()));
  check(name.equals(name.to_string()));
}

// RFC 1035 types whose RDATA holds names that the builder re-encodes.
bool has_names(std::uint16_t type) {
  switch (type) {
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 8:
    case 9:
    case 12:
    case 14:
    case 15: return true;
    default: return false;
  }
}

bool same_record(const DnsRecord& a, const DnsRecord& b) {
  if (!a.name.equals(b.name) || a.type != b.type || a.klass != b.klass || a.ttl != b.ttl) {
    return false;
  }
  if (!has_names(a.type)) {
    return std::equal(a.rdata.begin(), a.rdata.end(), b.rdata.begin(), b.rdata.end());
  }
  if (a.type == dns_type::cname) return a.cname()->equals(*b.cname());
  return true;
}

bool same_message(const DnsMessage& a, const DnsMessage& b) {
  if (a.id() != b.id() || a.flags() != b.flags()) return false;
  for (DnsSection s :
       {DnsSection::question, DnsSection::answer, DnsSection::authority, DnsSection::additional}) {
    if (a.count(s) != b.count(s)) return false;
  }
  auto qb = b.questions().begin();
  for (const auto& q : a.questions()) {
    if (!q.name.equals(qb->name) || q.type != qb->type || q.klass != qb->klass) return false;
    ++qb;
  }
  for (DnsSection s : {DnsSection::answer, DnsSection::authority, DnsSection::additional}) {
    auto rb = b.records(s).begin();
    for (const DnsRecord& r : a.records(s)) {
      if (!same_record(r, *rb)) return false;
      ++rb;
    }
  }
  return a.min_answer_ttl() == b.min_answer_ttl() && a.negative_ttl() == b.negative_ttl() &&
         a.max_udp_payload() == b.max_udp_payload() && a.edns().has_value() == b.edns().has_value();
}

std::array<std::uint8_t, 65535> out;
std::array<std::uint8_t, 65535> out2;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = DnsMessage::parse(ByteSpan(data, size));
  if (!parsed) {
    check(known_kind(parsed.error().kind));
    return 0;
  }
  const DnsMessage& m = *parsed;
  for (const auto& q : m.questions()) check_name(q.name);
  std::size_t addresses = 0;
  for (DnsSection s : {DnsSection::answer, DnsSection::authority, DnsSection::additional}) {
    for (const DnsRecord& r : m.records(s)) {
      check_name(r.name);
      if (auto target = r.cname()) check_name(*target);
      check(r.type != dns_type::cname || r.cname().has_value());
      check(r.klass != aero::wire::kDnsClassIn || r.type != dns_type::a || r.a().has_value());
      if (s == DnsSection::answer && (r.a() || r.aaaa())) ++addresses;
    }
  }
  check(m.max_udp_payload() >= aero::wire::kDnsUdpDefaultPayload);
  if (auto ttl = m.min_answer_ttl()) check(*ttl <= 0x7FFFFFFFu);

  const auto keep_all = [](const DnsRecord&) { return true; };
  auto rebuilt = aero::wire::rebuild_dns_message(out, m, keep_all);
  if (rebuilt) {
    auto again = DnsMessage::parse(ByteSpan(out).first(*rebuilt));
    check(again.ok() && same_message(m, *again));
    auto twice = aero::wire::rebuild_dns_message(out2, *again, keep_all);
    check(
        twice.ok() && *twice == *rebuilt &&
        std::equal(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*rebuilt), out2.begin()));
  } else {
    check(rebuilt.error().kind == "too_large");
  }

  auto filtered = aero::wire::rebuild_dns_message(
      out, m, [](const DnsRecord& r) { return !r.a() && !r.aaaa(); });
  if (filtered) {
    auto again = DnsMessage::parse(ByteSpan(out).first(*filtered));
    check(again.ok());
    check(again->count(DnsSection::answer) + addresses == m.count(DnsSection::answer));
    for (const DnsRecord& r : again->answers()) check(!r.a() && !r.aaaa());
  } else {
    check(filtered.error().kind == "too_large");
  }

  auto error = aero::wire::build_dns_error(out, m, aero::wire::DnsRcode::servfail, 512);
  if (error) {
    auto again = DnsMessage::parse(ByteSpan(out).first(*error));
    check(again.ok() && again->id() == m.id() && again->is_response() && again->rcode() == 2 &&
          again->count(DnsSection::question) == m.count(DnsSection::question) && *error <= 512);
  } else {
    check(error.error().kind == "too_large");
  }
  return 0;
}
