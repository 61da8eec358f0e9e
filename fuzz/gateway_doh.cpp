// libFuzzer target for the DoH request parsers, the private-PTR test, the cache and dns-json.
//
// The first byte picks the path: GET (the rest is the dns= text), POST (the rest is the body) or
// a response to render and cache. Invariants (any violation traps):
//  * a refused request always comes with a well-formed DNS error message of at least 12 bytes
//    whose QR bit is set and whose status is 400, 413 or 415;
//  * an accepted query has exactly one question and its id is the message's first two bytes;
//  * a cached response comes back with the requested id and otherwise unchanged.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aero/services/gateway/doh.h"

namespace {

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

void check_failure(const aero::gateway::DohFailure& failure) {
  check(failure.status == 400 || failure.status == 413 || failure.status == 415);
  check(failure.message.size() >= 12 && (failure.message[2] & 0x80) != 0);
  check(aero::wire::DnsMessage::parse(failure.message).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aero::gateway;
  if (size == 0) return 0;
  const std::uint8_t mode = data[0] % 3;
  const aero::ByteSpan rest(data + 1, size - 1);
  DohFailure failure;
  if (mode == 0) {
    const std::string text(reinterpret_cast<const char*>(rest.data()), rest.size());
    auto query = parse_doh_get(text, 512, failure);
    if (!query) return check_failure(failure), 0;
    check(query->message.size() >= 12);
    check(query->id == ((query->message[0] << 8) | query->message[1]));
    (void)is_private_ptr_name(query->name);
  } else if (mode == 1) {
    const std::vector<std::string_view> types{"application/dns-message"};
    auto query = parse_doh_post(types, rest, 512, failure);
    if (!query) return check_failure(failure), 0;
    check(query->id == ((rest[0] << 8) | rest[1]));
    const aero::Bytes refused = dns_error_message(query->id, 0x0100, aero::wire::DnsRcode::refused, &*query);
    check(aero::wire::DnsMessage::parse(refused).ok());
  } else {
    auto parsed = aero::wire::DnsMessage::parse(rest);
    (void)render_dns_json(DnsJsonRequest{"example.com", 1}, rest);
    if (!parsed) return 0;
    DnsCache cache(4, 300, 60);
    const auto now = DnsCache::Clock::time_point{} + std::chrono::hours(1);
    cache.put("k", rest, now);
    if (auto hit = cache.get("k", 0xA55A, now)) {
      check(hit->size() == rest.size() && (*hit)[0] == 0xA5 && (*hit)[1] == 0x5A);
      check(std::equal(hit->begin() + 2, hit->end(), rest.begin() + 2));
    }
  }
  return 0;
}
