// IPv4 and IPv6 text parsing and canonical formatting without OS resolver headers, so the
// library also builds for WebAssembly.
//
//  * IPv4: strict dotted-decimal (RFC 6943 §3.1.1 "strict" form): exactly four decimal parts
//    0..255 without leading zeros, so "010.0.0.1" is rejected rather than read as octal.
//  * IPv6: RFC 4291 §2.2 text forms. The parse loop has the same shape as the WHATWG URL
//    standard's IPv6 parser (https://url.spec.whatwg.org/#concept-ipv6-parser), which accepts
//    exactly the RFC 4291 forms: `::` always stands for at least one zero piece.
//  * IPv6 output: RFC 5952 §4 canonical text.
#include "aero/base/ip_address.h"

#include <cstddef>
#include <utility>

namespace aero {

namespace {

constexpr std::size_t kIpv6Pieces = 8;
using Ipv6Pieces = std::array<std::uint16_t, kIpv6Pieces>;

bool is_decimal_digit(char c) {
  return c >= '0' && c <= '9';
}

// Value of an ASCII hex digit in either case, or -1.
int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One dotted-decimal part: "0" or 1..3 digits without a leading zero, at most 255.
std::optional<std::uint8_t> parse_decimal_octet(std::string_view part) {
  if (part.empty() || part.size() > 3) return std::nullopt;
  if (part.size() > 1 && part.front() == '0') return std::nullopt;  // RFC 6943 §3.1.1
  unsigned value = 0;
  for (const char c : part) {
    if (!is_decimal_digit(c)) return std::nullopt;
    value = value * 10U + static_cast<unsigned>(c - '0');
  }
  if (value > 255U) return std::nullopt;
  return static_cast<std::uint8_t>(value);
}

void append_decimal(std::string& out, std::uint8_t value) {
  if (value >= 100) out.push_back(static_cast<char>('0' + value / 100));
  if (value >= 10) out.push_back(static_cast<char>('0' + (value / 10) % 10));
  out.push_back(static_cast<char>('0' + value % 10));
}

Ipv6Pieces pieces_of(const Ipv6Address& address) {
  Ipv6Pieces pieces{};
  for (std::size_t i = 0; i < kIpv6Pieces; ++i) {
    pieces[i] = static_cast<std::uint16_t>((address.bytes[2 * i] << 8) | address.bytes[2 * i + 1]);
  }
  return pieces;
}

Ipv6Address address_of(const Ipv6Pieces& pieces) {
  Ipv6Address address;
  for (std::size_t i = 0; i < kIpv6Pieces; ++i) {
    address.bytes[2 * i] = static_cast<std::uint8_t>(pieces[i] >> 8);
    address.bytes[2 * i + 1] = static_cast<std::uint8_t>(pieces[i] & 0xFFU);
  }
  return address;
}

// Moves the pieces parsed after `::` to the end of the address so the gap holds the zeros
// (RFC 4291 §2.2 form 2; the "compress" swap of the WHATWG IPv6 parser).
void expand_compression(Ipv6Pieces& pieces, std::size_t compress_at, std::size_t pieces_parsed) {
  std::size_t swaps = pieces_parsed - compress_at;
  std::size_t target = kIpv6Pieces - 1;
  while (target != 0 && swaps > 0) {
    std::swap(pieces[target], pieces[compress_at + swaps - 1]);
    --target;
    --swaps;
  }
}

// The first longest run of two or more zero pieces (RFC 5952 §4.2.2, §4.2.3); `length` is 0
// when there is none, because a single zero piece is never shortened to `::`.
struct ZeroRun {
  std::size_t start = 0;
  std::size_t length = 0;
};

ZeroRun longest_zero_run(const Ipv6Pieces& pieces) {
  ZeroRun best;
  std::size_t i = 0;
  while (i < kIpv6Pieces) {
    if (pieces[i] != 0) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < kIpv6Pieces && pieces[i] == 0) ++i;
    const std::size_t length = i - start;
    if (length >= 2 && length > best.length) best = {start, length};  // strict: first wins ties
  }
  return best;
}

// Lower-case hex without leading zeros (RFC 5952 §4.1, §4.3).
void append_hex_piece(std::string& out, std::uint16_t piece) {
  static constexpr char kDigits[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const auto nibble = static_cast<unsigned>((piece >> shift) & 0xF);
    if (nibble == 0 && !started && shift != 0) continue;
    started = true;
    out.push_back(kDigits[nibble]);
  }
}

}  // namespace

// ---- IPv4 ----

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  Ipv4Address address;
  for (std::size_t index = 0; index < address.bytes.size(); ++index) {
    const bool last = index + 1 == address.bytes.size();
    const std::size_t dot = text.find('.');
    // The first three parts end at a dot; the fourth runs to the end and must contain none.
    if (last != (dot == std::string_view::npos)) return std::nullopt;
    const auto octet = parse_decimal_octet(text.substr(0, dot));
    if (!octet) return std::nullopt;
    address.bytes[index] = *octet;
    if (!last) text.remove_prefix(dot + 1);
  }
  return address;
}

Ipv4Address Ipv4Address::from_u32(std::uint32_t host_order) {
  return Ipv4Address{{static_cast<std::uint8_t>(host_order >> 24),
                      static_cast<std::uint8_t>((host_order >> 16) & 0xFFU),
                      static_cast<std::uint8_t>((host_order >> 8) & 0xFFU),
                      static_cast<std::uint8_t>(host_order & 0xFFU)}};
}

std::uint32_t Ipv4Address::to_u32() const {
  return (static_cast<std::uint32_t>(bytes[0]) << 24) |
         (static_cast<std::uint32_t>(bytes[1]) << 16) |
         (static_cast<std::uint32_t>(bytes[2]) << 8) | static_cast<std::uint32_t>(bytes[3]);
}

std::string Ipv4Address::to_string() const {
  std::string out;
  out.reserve(15);  // "255.255.255.255"
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) out.push_back('.');
    append_decimal(out, bytes[i]);
  }
  return out;
}

// ---- IPv6 ----

std::optional<Ipv6Address> Ipv6Address::parse(std::string_view text) {
  Ipv6Pieces pieces{};
  std::size_t piece_index = 0;
  std::optional<std::size_t> compress_at;
  std::size_t pos = 0;
  const std::size_t size = text.size();
  if (size == 0) return std::nullopt;

  // A leading colon is only valid as the start of `::`.
  if (text[0] == ':') {
    if (size < 2 || text[1] != ':') return std::nullopt;
    pos = 2;
    ++piece_index;
    compress_at = piece_index;
  }

  while (pos < size) {
    if (piece_index == kIpv6Pieces) return std::nullopt;
    if (text[pos] == ':') {
      if (compress_at) return std::nullopt;  // at most one `::` (RFC 4291 §2.2 form 2)
      ++pos;
      ++piece_index;
      compress_at = piece_index;
      continue;
    }

    unsigned value = 0;
    std::size_t length = 0;
    while (length < 4 && pos < size && hex_digit_value(text[pos]) >= 0) {
      value = value * 16U + static_cast<unsigned>(hex_digit_value(text[pos]));
      ++pos;
      ++length;
    }

    if (pos < size && text[pos] == '.') {
      // Trailing dotted quad in the low 32 bits (RFC 4291 §2.2 form 3): re-read the digits just
      // consumed as the start of a strict dotted-decimal IPv4 address that ends the text.
      if (length == 0 || piece_index > kIpv6Pieces - 2) return std::nullopt;
      const auto v4 = Ipv4Address::parse(text.substr(pos - length));
      if (!v4) return std::nullopt;
      pieces[piece_index] = static_cast<std::uint16_t>((v4->bytes[0] << 8) | v4->bytes[1]);
      pieces[piece_index + 1] = static_cast<std::uint16_t>((v4->bytes[2] << 8) | v4->bytes[3]);
      piece_index += 2;
      pos = size;
      break;
    }

    if (length == 0) return std::nullopt;
    if (pos < size) {
      if (text[pos] != ':') return std::nullopt;
      ++pos;
      if (pos == size) return std::nullopt;  // a single trailing colon
    }
    pieces[piece_index] = static_cast<std::uint16_t>(value);
    ++piece_index;
  }

  if (compress_at) {
    expand_compression(pieces, *compress_at, piece_index);
  } else if (piece_index != kIpv6Pieces) {
    return std::nullopt;
  }
  return address_of(pieces);
}

std::string Ipv6Address::to_string() const {
  const Ipv6Pieces pieces = pieces_of(*this);
  const ZeroRun run = longest_zero_run(pieces);
  std::string out;
  out.reserve(39);  // eight pieces of four digits and seven colons
  std::size_t i = 0;
  while (i < kIpv6Pieces) {
    if (run.length != 0 && i == run.start) {
      out.append(i == 0 ? "::" : ":");
      i += run.length;
      continue;
    }
    append_hex_piece(out, pieces[i]);
    ++i;
    if (i < kIpv6Pieces) out.push_back(':');
  }
  return out;
}

// ---- Either family ----

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    const auto v6 = Ipv6Address::parse(text);
    if (!v6) return std::nullopt;
    return from(*v6);
  }
  const auto v4 = Ipv4Address::parse(text);
  if (!v4) return std::nullopt;
  return from(*v4);
}

std::string IpAddress::to_string() const {
  return is_v4() ? v4.to_string() : v6.to_string();
}

}  // namespace aero
