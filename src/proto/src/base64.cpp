// Strict base64 / canonical base64url, with OpenSSL's EVP block codec doing the conversion.
#include "aero/proto/base64.h"

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>

namespace aero::encoding {

namespace {

bool is_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// The 6-bit value of a base64url character (the alphabet was checked before).
unsigned sextet_url(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<unsigned>(c - 'A');
  if (c >= 'a' && c <= 'z') return static_cast<unsigned>(c - 'a') + 26U;
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0') + 52U;
  return c == '-' ? 62U : 63U;
}

std::string encode_block(ByteSpan data) {
  // EVP_EncodeBlock writes 4 characters per 3 bytes plus a terminating NUL.
  std::string out(((data.size() + 2) / 3) * 4 + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),  // NOLINT
                                      data.data(), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// Decodes padded standard base64 whose alphabet and length were already validated.
std::optional<Bytes> decode_block(std::string_view text) {
  if (text.empty()) return Bytes{};
  Bytes out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),  // NOLINT
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the zero bytes that padding stands for; drop them.
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

}  // namespace

std::string base64_encode(ByteSpan data) { return encode_block(data); }

std::optional<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      // '=' may appear only as the last one or two characters.
      if (i + 2 < text.size()) return std::nullopt;
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;
    if (!is_alnum(c) && c != '+' && c != '/') return std::nullopt;
  }
  return decode_block(text);
}

std::string base64url_encode(ByteSpan data) {
  std::string out = encode_block(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

namespace {

// The standard-alphabet, padded form of base64url `text`; nullopt on a character outside the
// URL alphabet or a length of 4k+1 (no byte string encodes to that).
std::optional<std::string> url_to_standard(std::string_view text) {
  const std::size_t tail = text.size() % 4;
  if (tail == 1) return std::nullopt;
  std::string standard;
  standard.reserve(text.size() + 2);
  for (const char c : text) {
    if (is_alnum(c)) {
      standard.push_back(c);
    } else if (c == '-') {
      standard.push_back('+');
    } else if (c == '_') {
      standard.push_back('/');
    } else {
      return std::nullopt;
    }
  }
  if (tail != 0) standard.append(4 - tail, '=');
  return standard;
}

}  // namespace

std::optional<Bytes> base64url_decode_canonical(std::string_view text) {
  auto standard = url_to_standard(text);
  if (!standard) return std::nullopt;
  // RFC 4648 §3.5: the bits of the last character that carry no data must be zero.
  const std::size_t tail = text.size() % 4;
  if (tail == 2 && (sextet_url(text.back()) & 0x0FU) != 0) return std::nullopt;
  if (tail == 3 && (sextet_url(text.back()) & 0x03U) != 0) return std::nullopt;
  return decode_block(*standard);
}

std::optional<Bytes> base64url_decode_lenient(std::string_view text) {
  auto standard = url_to_standard(text);
  if (!standard) return std::nullopt;
  return decode_block(*standard);
}

}  // namespace aero::encoding
