// libFuzzer target for Origin normalisation and allowlist matching.
//
// The whole input is an Origin header value; its second half doubles as a Host header value. Any
// violated invariant traps:
//  * a normalised origin normalises to itself, contains no upper-case letters, and is at most 6
//    bytes longer than the trimmed input (only IPv4 shorthand grows: "0" -> "0.0.0.0"; default
//    ports, the trailing "/", IPv6 and port leading zeros only shrink);
//  * the "*" allowlist accepts exactly the valid origins, and listing an origin's own
//    normalisation accepts it;
//  * a fixed allowlist only ever accepts one of its (normalised) entries;
//  * an origin is same-host with its own host[:port], and the same-host rule agrees with
//    normalize_host_header; a normalised Host value is a fixed point too.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aero/proto/origin.h"

namespace {

using aero::origin::is_origin_allowed;
using aero::origin::normalize_host_header;
using aero::origin::normalize_origin;

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

std::string_view trim_ascii_whitespace(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\n\r\f";
  const std::size_t first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kWhitespace) - first + 1);
}

bool has_upper_case(std::string_view text) {
  return text.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos;
}

// The longest growth normalisation can cause (see the file comment).
constexpr std::size_t kMaxGrowth = 6;

const std::array<std::string, 4> kFixedAllowlist = {"https://example.com", "null",
                                                    "http://[::1]:8080", " HTTP://0x7f.1:80/ "};
const std::array<std::string_view, 4> kFixedAllowlistNormalized = {
    "https://example.com", "null", "http://[::1]:8080", "http://127.0.0.1"};
const std::array<std::string, 1> kWildcard = {"*"};

void check_host_header(std::string_view host) {
  for (const std::string_view scheme : {"http", "https"}) {
    const auto normalized = normalize_host_header(host, scheme);
    if (!normalized) continue;
    check(normalized->size() <= trim_ascii_whitespace(host).size() + kMaxGrowth);
    check(!has_upper_case(*normalized));
    check(normalize_host_header(*normalized, scheme) == normalized);
  }
}

void check_origin(std::string_view input, std::string_view derived_host) {
  const auto normalized = normalize_origin(input);
  check(is_origin_allowed(input, kWildcard, derived_host) == normalized.has_value());
  if (is_origin_allowed(input, kFixedAllowlist, derived_host)) {
    check(normalized.has_value());
    bool listed = false;
    for (const std::string_view entry : kFixedAllowlistNormalized)
      listed = listed || *normalized == entry;
    check(listed);
  }
  const bool same_host = is_origin_allowed(input, {}, derived_host);
  if (!normalized) {
    check(!same_host);
    return;
  }

  check(normalized->size() <= trim_ascii_whitespace(input).size() + kMaxGrowth);
  check(!has_upper_case(*normalized));
  check(normalize_origin(*normalized) == normalized);
  const std::array<std::string, 1> self = {*normalized};
  check(is_origin_allowed(input, self, ""));

  if (*normalized == "null") {
    check(!same_host);
    return;
  }
  const std::size_t separator = normalized->find("://");
  check(separator != std::string::npos);
  const std::string_view scheme = std::string_view(*normalized).substr(0, separator);
  const std::string_view authority = std::string_view(*normalized).substr(separator + 3);
  check(is_origin_allowed(input, {}, authority));
  check(normalize_host_header(authority, scheme) == authority);
  check(same_host == (normalize_host_header(derived_host, scheme) == authority));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view derived_host = input.substr(size / 2);
  check_origin(input, derived_host);
  check_host_header(derived_host);
  return 0;
}
