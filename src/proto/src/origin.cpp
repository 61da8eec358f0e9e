// Origin header normalisation and allowlist matching.
//
// An Origin value is first screened by a strict filter (printable ASCII only, an explicit
// `http://` or `https://` prefix, no userinfo, query, fragment, percent-encoding or path other
// than one trailing `/`). What passes is parsed the way the WHATWG URL standard's basic URL
// parser parses a special-scheme authority (https://url.spec.whatwg.org/#authority-state), and
// the result is compared or serialised like `URL.origin` (https://url.spec.whatwg.org/#origin and
// https://html.spec.whatwg.org/multipage/browsers.html#ascii-serialisation-of-an-origin).
//
// Parsing produces views into the caller's text plus numeric IP addresses, so matching allocates
// nothing; only normalize_origin and normalize_host_header build strings.
#include "aero/proto/origin.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "aero/base/ip_address.h"

namespace aero::origin {

namespace {

// ---- ASCII helpers ----

// Infra "ASCII whitespace" (https://infra.spec.whatwg.org/#ascii-whitespace): TAB, LF, FF, CR
// and SPACE.
bool is_ascii_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

std::string_view trim_ascii_whitespace(std::string_view text) {
  while (!text.empty() && is_ascii_whitespace(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ascii_whitespace(text.back())) text.remove_suffix(1);
  return text;
}

char to_ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignore_ascii_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_ascii_lower(x) == to_ascii_lower(y);
         });
}

bool starts_with_ignore_ascii_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         equals_ignore_ascii_case(text.substr(0, prefix.size()), prefix);
}

bool is_ascii_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_ascii_printable(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte > 0x20 && byte < 0x7F;
}

// ---- Parsed form ----
//
// Two origins are equal exactly when their normalised serialisations are equal, so comparing the
// parsed form (domains ASCII case-insensitively) gives the same answer as comparing strings.

enum class Scheme : std::uint8_t { http, https };

std::string_view scheme_name(Scheme scheme) {
  return scheme == Scheme::http ? "http" : "https";
}

// WHATWG URL §4.2 "default port" of the special schemes.
std::uint16_t default_port(Scheme scheme) {
  return scheme == Scheme::http ? 80 : 443;
}

enum class HostKind : std::uint8_t { domain, ipv4, ipv6 };

struct Host {
  HostKind kind = HostKind::domain;
  std::string_view domain;  // as written; serialised in lower case
  std::uint32_t ipv4 = 0;
  Ipv6Address ipv6{};
};

bool same_host(const Host& a, const Host& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case HostKind::domain: return equals_ignore_ascii_case(a.domain, b.domain);
    case HostKind::ipv4: return a.ipv4 == b.ipv4;
    case HostKind::ipv6: return a.ipv6 == b.ipv6;
  }
  return false;
}

struct Authority {
  Host host;
  std::optional<std::uint16_t> port;  // nullopt when absent or equal to the scheme's default
};

bool same_authority(const Authority& a, const Authority& b) {
  return same_host(a.host, b.host) && a.port == b.port;
}

struct Origin {
  bool opaque = false;  // the "null" origin
  Scheme scheme = Scheme::https;
  Authority authority;
};

bool same_origin(const Origin& a, const Origin& b) {
  if (a.opaque || b.opaque) return a.opaque && b.opaque;
  return a.scheme == b.scheme && same_authority(a.authority, b.authority);
}

// ---- WHATWG URL §3.5 host parsing, special schemes ----

// Numbers above 2^32 - 1 are all equally invalid, so the IPv4 number parser saturates here
// instead of tracking arbitrarily long digit strings.
constexpr std::uint64_t kIpv4NumberSaturation = std::uint64_t{1} << 40;

// Value of `c` as a digit in `radix` (8, 10 or 16), or -1.
int radix_digit_value(char c, unsigned radix) {
  int value = -1;
  if (c >= '0' && c <= '9')
    value = c - '0';
  else if (c >= 'a' && c <= 'f')
    value = c - 'a' + 10;
  else if (c >= 'A' && c <= 'F')
    value = c - 'A' + 10;
  return (value >= 0 && static_cast<unsigned>(value) < radix) ? value : -1;
}

// WHATWG "IPv4 number parser" (https://url.spec.whatwg.org/#ipv4-number-parser): decimal, `0x`
// hexadecimal or leading-zero octal; "0x" alone is zero. Returns nullopt on failure.
std::optional<std::uint64_t> parse_ipv4_number(std::string_view input) {
  if (input.empty()) return std::nullopt;
  unsigned radix = 10;
  if (input.size() >= 2 && input[0] == '0' && (input[1] == 'x' || input[1] == 'X')) {
    input.remove_prefix(2);
    radix = 16;
  } else if (input.size() >= 2 && input[0] == '0') {
    input.remove_prefix(1);
    radix = 8;
  }
  std::uint64_t value = 0;
  for (const char c : input) {  // every digit is checked even once the value saturates
    const int digit = radix_digit_value(c, radix);
    if (digit < 0) return std::nullopt;
    value = std::min(value * radix + static_cast<std::uint64_t>(digit), kIpv4NumberSaturation);
  }
  return value;
}

// The dot-separated parts of a host, with one trailing empty part (a trailing dot) dropped as
// both the IPv4 parser and the "ends in a number" checker do.
struct HostParts {
  std::array<std::string_view, 4> parts{};
  std::size_t count = 0;  // parts stored (at most 4)
  bool too_many = false;  // more than 4 parts
  std::string_view last;  // the last part, stored or not
};

HostParts split_host_parts(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  HostParts result;
  while (true) {
    const std::size_t dot = host.find('.');
    const std::string_view part = host.substr(0, dot);
    if (result.count < result.parts.size()) {
      result.parts[result.count++] = part;
    } else {
      result.too_many = true;
    }
    result.last = part;
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  return result;
}

// WHATWG "ends in a number checker" (https://url.spec.whatwg.org/#ends-in-a-number-checker):
// hosts whose last label is numeric must be IPv4 addresses, so "example.1" is not a domain.
bool ends_in_a_number(std::string_view host) {
  const std::string_view last = split_host_parts(host).last;
  if (!last.empty() && std::all_of(last.begin(), last.end(), is_ascii_digit)) return true;
  return parse_ipv4_number(last).has_value();
}

// WHATWG "IPv4 parser" (https://url.spec.whatwg.org/#concept-ipv4-parser): 1 to 4 numbers, all
// but the last at most 255, the last filling the remaining bytes ("127.1", "4294967295").
std::optional<std::uint32_t> parse_ipv4_host(std::string_view host) {
  const HostParts split = split_host_parts(host);
  if (split.too_many) return std::nullopt;
  std::array<std::uint64_t, 4> numbers{};
  for (std::size_t i = 0; i < split.count; ++i) {
    const auto number = parse_ipv4_number(split.parts[i]);
    if (!number) return std::nullopt;
    numbers[i] = *number;
  }
  const std::size_t last = split.count - 1;
  for (std::size_t i = 0; i < last; ++i) {
    if (numbers[i] > 255) return std::nullopt;
  }
  // The last number may use the 5 - count bytes the earlier numbers left over.
  const std::uint64_t last_limit = std::uint64_t{1} << (8 * (5 - split.count));
  if (numbers[last] >= last_limit) return std::nullopt;
  std::uint64_t address = numbers[last];
  for (std::size_t i = 0; i < last; ++i) address += numbers[i] << (8 * (3 - i));
  return static_cast<std::uint32_t>(address);
}

// RFC 3492 §5 parameters of Punycode for IDNA.
constexpr std::uint32_t kPunyBase = 36;
constexpr std::uint32_t kPunyTmin = 1;
constexpr std::uint32_t kPunyTmax = 26;
constexpr std::uint32_t kPunySkew = 38;
constexpr std::uint32_t kPunyDamp = 700;
constexpr std::uint32_t kPunyInitialBias = 72;
constexpr std::uint32_t kPunyInitialN = 0x80;
constexpr std::uint32_t kPunyMaxInt = 0xFFFFFFFFU;

// RFC 3492 §6.1 bias adaptation.
std::uint32_t punycode_adapt(std::uint32_t delta, std::uint32_t num_points, bool first_time) {
  delta = first_time ? delta / kPunyDamp : delta / 2;
  delta += delta / num_points;
  std::uint32_t k = 0;
  while (delta > ((kPunyBase - kPunyTmin) * kPunyTmax) / 2) {
    delta /= kPunyBase - kPunyTmin;
    k += kPunyBase;
  }
  return k + (((kPunyBase - kPunyTmin + 1) * delta) / (delta + kPunySkew));
}

// RFC 3492 §5 digit values: a-z (either case) are 0..25, 0-9 are 26..35.
int punycode_digit_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '0' && c <= '9') return c - '0' + 26;
  return -1;
}

// Code points that no UTS #46 table version lets a decoded label contain, so they can be ruled
// out without carrying the table: C1 controls, surrogates, noncharacters, and everything from
// plane 4 up (unassigned planes, tags and variation selectors, private use), or beyond Unicode.
bool is_impossible_label_code_point(std::uint32_t code_point) {
  const bool c1_control = code_point < 0xA0;
  const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
  const bool noncharacter =
      (code_point >= 0xFDD0 && code_point <= 0xFDEF) || (code_point & 0xFFFEU) == 0xFFFEU;
  return c1_control || surrogate || noncharacter || code_point >= 0x40000;
}

// Runs the RFC 3492 §6.2 decoder over the text after "xn--" without storing its output: only
// well-formedness and the inserted code points matter here. A full UTS #46 validity check of the
// decoded label (mapping table, NFC, bidi and joiner rules) needs Unicode data this library does
// not carry; browsers only ever send labels that pass it.
bool is_decodable_punycode(std::string_view encoded) {
  if (encoded.empty()) return false;
  const std::size_t delimiter = encoded.rfind('-');
  std::uint32_t output_length = 0;
  std::size_t pos = 0;
  if (delimiter != std::string_view::npos) {
    output_length = static_cast<std::uint32_t>(delimiter);  // the basic (ASCII) code points
    pos = delimiter + 1;
  }
  std::uint32_t n = kPunyInitialN;
  std::uint32_t i = 0;
  std::uint32_t bias = kPunyInitialBias;
  while (pos < encoded.size()) {
    const std::uint32_t old_i = i;
    std::uint32_t w = 1;
    for (std::uint32_t k = kPunyBase;; k += kPunyBase) {
      if (pos >= encoded.size()) return false;
      const int value = punycode_digit_value(encoded[pos++]);
      if (value < 0) return false;
      const auto digit = static_cast<std::uint32_t>(value);
      if (digit > (kPunyMaxInt - i) / w) return false;
      i += digit * w;
      const std::uint32_t t =
          k <= bias ? kPunyTmin : (k >= bias + kPunyTmax ? kPunyTmax : k - bias);
      if (digit < t) break;
      if (w > kPunyMaxInt / (kPunyBase - t)) return false;
      w *= kPunyBase - t;
    }
    bias = punycode_adapt(i - old_i, output_length + 1, old_i == 0);
    if (i / (output_length + 1) > kPunyMaxInt - n) return false;
    n += i / (output_length + 1);
    i %= output_length + 1;
    if (is_impossible_label_code_point(n)) return false;
    ++i;
    ++output_length;
  }
  return output_length != 0;
}

// WHATWG "domain to ASCII" (https://url.spec.whatwg.org/#concept-domain-to-ascii) for an ASCII
// domain: UTS #46 processing only lower-cases it, except that `xn--` labels must decode.
// Non-ASCII input (an IDN in Unicode form) is rejected outright.
bool is_valid_ascii_domain(std::string_view domain) {
  if (std::any_of(domain.begin(), domain.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    return false;
  }
  while (true) {
    const std::size_t dot = domain.find('.');
    const std::string_view label = domain.substr(0, dot);
    if (starts_with_ignore_ascii_case(label, "xn--") && !is_decodable_punycode(label.substr(4))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    domain.remove_prefix(dot + 1);
  }
}

// WHATWG "forbidden domain code point" (https://url.spec.whatwg.org/#forbidden-domain-code-point):
// the forbidden host code points, C0 controls, `%` and DEL.
bool is_forbidden_domain_code_point(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte <= 0x20 || byte == 0x7F) return true;
  constexpr std::string_view kForbidden = "#%/:<>?@[\\]^|";
  return kForbidden.find(c) != std::string_view::npos;
}

// WHATWG "host parser" (https://url.spec.whatwg.org/#concept-host-parser) with isOpaque false.
// Percent-decoding is the identity here because both callers reject `%` beforehand, and a
// leftover `%` is a forbidden domain code point anyway.
std::optional<Host> parse_host(std::string_view input) {
  if (input.empty()) return std::nullopt;
  if (input.front() == '[') {
    if (input.size() < 2 || input.back() != ']') return std::nullopt;
    const auto address = Ipv6Address::parse(input.substr(1, input.size() - 2));
    if (!address) return std::nullopt;
    return Host{HostKind::ipv6, {}, 0, *address};
  }
  if (!is_valid_ascii_domain(input)) return std::nullopt;
  if (std::any_of(input.begin(), input.end(), is_forbidden_domain_code_point)) return std::nullopt;
  if (ends_in_a_number(input)) {
    const auto address = parse_ipv4_host(input);
    if (!address) return std::nullopt;
    return Host{HostKind::ipv4, {}, *address, {}};
  }
  return Host{HostKind::domain, input, 0, {}};
}

// WHATWG "port state" (https://url.spec.whatwg.org/#port-state): ASCII digits only (leading
// zeros allowed), at most 65535, and the scheme's default port is the same as no port. An empty
// port is rejected: browsers never send one, and both callers treat it as malformed.
std::optional<std::optional<std::uint16_t>> parse_port(std::string_view digits, Scheme scheme) {
  if (digits.empty()) return std::nullopt;
  std::uint32_t value = 0;
  for (const char c : digits) {
    if (!is_ascii_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
    if (value > 0xFFFF) return std::nullopt;
  }
  const auto port = static_cast<std::uint16_t>(value);
  if (port == default_port(scheme)) return std::optional<std::uint16_t>{};
  return std::optional<std::uint16_t>{port};
}

// WHATWG "host state" (https://url.spec.whatwg.org/#host-state) over an authority without
// userinfo: the host ends at the first `:` outside `[...]`, and a special URL needs a host.
std::optional<Authority> parse_authority(std::string_view authority, Scheme scheme) {
  bool inside_brackets = false;
  std::size_t colon = std::string_view::npos;
  for (std::size_t i = 0; i < authority.size(); ++i) {
    const char c = authority[i];
    if (c == '[') inside_brackets = true;
    if (c == ']') inside_brackets = false;
    if (c == ':' && !inside_brackets) {
      colon = i;
      break;
    }
  }
  const std::string_view host_text = authority.substr(0, colon);
  if (host_text.empty()) return std::nullopt;  // "host-missing"
  const auto host = parse_host(host_text);
  if (!host) return std::nullopt;
  Authority result{*host, std::nullopt};
  if (colon != std::string_view::npos) {
    const auto port = parse_port(authority.substr(colon + 1), scheme);
    if (!port) return std::nullopt;
    result.port = *port;
  }
  return result;
}

// ---- Origin header ----

// Browsers send Origin as a printable-ASCII serialisation (RFC 6454 §7.1). Besides controls,
// whitespace and non-ASCII (which URL parsers would silently strip or map), reject characters
// that URL libraries disagree on or that never appear in a serialised origin: `%` (percent
// encoding, IPv6 zone ids), `,` (joined repeated headers), `{` `}` `\` `` ` `` (rejected by some
// URL parsers in hosts; `\` is a path separator for special schemes), and `?` `#` (even an
// empty query or fragment means the value is a URL, not an origin).
bool has_only_origin_header_chars(std::string_view text) {
  constexpr std::string_view kRejected = "%,{}\\`?#";
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return is_ascii_printable(c) && kRejected.find(c) == std::string_view::npos;
  });
}

// Requires the explicit "http://" or "https://" (any case) that browsers emit; WHATWG parsing
// alone would also accept forms such as "https:example.com" or "https:\\\\example.com".
std::optional<Scheme> take_scheme_prefix(std::string_view& text) {
  constexpr std::string_view kHttp = "http://";
  constexpr std::string_view kHttps = "https://";
  if (starts_with_ignore_ascii_case(text, kHttp)) {
    text.remove_prefix(kHttp.size());
    return Scheme::http;
  }
  if (starts_with_ignore_ascii_case(text, kHttps)) {
    text.remove_prefix(kHttps.size());
    return Scheme::https;
  }
  return std::nullopt;
}

std::optional<Origin> parse_origin(std::string_view raw) {
  // Trimming only moves the view's ends; the cap is checked before anything is parsed.
  const std::string_view trimmed = trim_ascii_whitespace(raw);
  if (trimmed.empty() || trimmed.size() > kMaxOriginHeaderLength) return std::nullopt;
  if (trimmed == "null") return Origin{true, Scheme::https, {}};  // RFC 6454 §7.1 opaque origin
  if (!has_only_origin_header_chars(trimmed)) return std::nullopt;

  std::string_view rest = trimmed;
  const auto scheme = take_scheme_prefix(rest);
  if (!scheme) return std::nullopt;
  // WHATWG "special authority ignore slashes state" would skip extra slashes; an origin has none.
  if (!rest.empty() && rest.front() == '/') return std::nullopt;
  // The only path allowed is one trailing "/", which WHATWG serialisation drops. Anything else,
  // even a dot segment that would normalise to "/", makes the value a URL and not an origin.
  const std::size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    if (slash != rest.size() - 1) return std::nullopt;
    rest.remove_suffix(1);
  }
  // An empty port ("https://example.com:" or "...:/") is legal WHATWG but never sent by browsers.
  if (trimmed.ends_with(':') || trimmed.ends_with(":/")) return std::nullopt;
  // WHATWG "authority state": an `@` introduces credentials, which an origin never carries.
  if (rest.find('@') != std::string_view::npos) return std::nullopt;

  const auto authority = parse_authority(rest, *scheme);
  if (!authority) return std::nullopt;
  if (authority->port == std::uint16_t{0}) return std::nullopt;  // port 0 is not reachable
  return Origin{false, *scheme, *authority};
}

// ---- Host header ----

// RFC 9110 §7.2: Host is uri-host [":" port]. Reject what could not appear there or what URL
// parsers would reinterpret: controls, whitespace, non-ASCII, `%`, `,` (joined repeated
// headers), path, query and fragment delimiters, `\`, and userinfo's `@`.
bool has_only_host_header_chars(std::string_view text) {
  constexpr std::string_view kRejected = "%,/?#\\@";
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return is_ascii_printable(c) && kRejected.find(c) == std::string_view::npos;
  });
}

std::optional<Scheme> scheme_from_name(std::string_view name) {
  if (equals_ignore_ascii_case(name, "http")) return Scheme::http;
  if (equals_ignore_ascii_case(name, "https")) return Scheme::https;
  return std::nullopt;
}

// The Host header read as the authority of "<scheme>://<host>".
std::optional<Authority> parse_host_header(std::string_view raw, Scheme scheme) {
  const std::string_view trimmed = trim_ascii_whitespace(raw);
  if (trimmed.empty() || trimmed.size() > kMaxHostHeaderLength) return std::nullopt;
  if (trimmed.back() == ':') return std::nullopt;  // empty port
  if (!has_only_host_header_chars(trimmed)) return std::nullopt;
  return parse_authority(trimmed, scheme);
}

// ---- Serialisation: WHATWG URL §3.6 host serializer, HTML "ASCII serialization of an origin" ----

void append_port(std::string& out, std::uint16_t port) {
  std::array<char, 5> digits{};
  std::size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + port % 10);
    port = static_cast<std::uint16_t>(port / 10);
  } while (port != 0);
  while (count > 0) out.push_back(digits[--count]);
}

void append_authority(std::string& out, const Authority& authority) {
  const Host& host = authority.host;
  switch (host.kind) {
    case HostKind::domain:
      for (const char c : host.domain) out.push_back(to_ascii_lower(c));
      break;
    case HostKind::ipv4: out += Ipv4Address::from_u32(host.ipv4).to_string(); break;
    case HostKind::ipv6:
      out.push_back('[');
      out += host.ipv6.to_string();
      out.push_back(']');
      break;
  }
  if (authority.port) {
    out.push_back(':');
    append_port(out, *authority.port);
  }
}

std::string serialize_origin(const Origin& origin) {
  if (origin.opaque) return "null";
  std::string out;
  out.reserve(scheme_name(origin.scheme).size() + 3 + origin.authority.host.domain.size() + 48);
  out += scheme_name(origin.scheme);
  out += "://";
  append_authority(out, origin.authority);
  return out;
}

bool is_same_host(const Origin& origin, std::string_view request_host) {
  if (origin.opaque) return false;
  const auto host = parse_host_header(request_host, origin.scheme);
  return host && same_authority(origin.authority, *host);
}

bool lists_wildcard(std::span<const std::string> allowed_origins) {
  return std::any_of(allowed_origins.begin(), allowed_origins.end(),
                     [](const std::string& entry) { return trim_ascii_whitespace(entry) == "*"; });
}

bool is_listed(const Origin& origin, std::span<const std::string> allowed_origins) {
  return std::any_of(allowed_origins.begin(), allowed_origins.end(), [&](const std::string& entry) {
    const auto listed = parse_origin(entry);
    return listed && same_origin(*listed, origin);
  });
}

}  // namespace

std::optional<std::string> normalize_origin(std::string_view raw_origin_header) {
  const auto origin = parse_origin(raw_origin_header);
  if (!origin) return std::nullopt;
  return serialize_origin(*origin);
}

std::optional<std::string> normalize_host_header(std::string_view host, std::string_view scheme) {
  const auto parsed_scheme = scheme_from_name(scheme);
  if (!parsed_scheme) return std::nullopt;
  const auto authority = parse_host_header(host, *parsed_scheme);
  if (!authority) return std::nullopt;
  std::string out;
  out.reserve(authority->host.domain.size() + 48);
  append_authority(out, *authority);
  return out;
}

bool is_origin_allowed(std::string_view raw_origin_header,
                       std::span<const std::string> allowed_origins,
                       std::string_view request_host) {
  const auto origin = parse_origin(raw_origin_header);
  if (!origin) return false;
  if (allowed_origins.empty()) return is_same_host(*origin, request_host);
  if (lists_wildcard(allowed_origins)) return true;
  return is_listed(*origin, allowed_origins);
}

}  // namespace aero::origin
