// Loading of golden vector files and the byte-format helpers the table tests share.
#include "support/vectors.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "aero/proto/base64.h"

namespace aero::test {

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "test vectors: %s\n", what.c_str());
  std::abort();
}

}  // namespace

boost::json::value load_vectors(std::string_view relative_path) {
  const std::string path = std::string(AERO_TEST_DATA_DIR) + "/vectors/" + std::string(relative_path);
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot open " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(buffer.str(), ec);
  if (ec) die("cannot parse " + path + ": " + ec.message());
  return doc;
}

Bytes from_hex(std::string_view text) {
  // Whitespace separates bytes for readability in fixtures; it carries no meaning.
  std::string hex;
  for (const char c : text) {
    if (c != ' ' && c != '\n' && c != '\t') hex.push_back(c);
  }
  if (hex.size() % 2 != 0) die("odd-length hex string");
  auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<std::uint8_t>(c - 'A' + 10);
    die(std::string("bad hex digit ") + c);
  };
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>((nibble(hex[i]) << 4) | nibble(hex[i + 1])));
  }
  return out;
}

std::string to_hex(ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0F]);
  }
  return out;
}

Bytes from_b64(std::string_view text) {
  auto decoded = encoding::base64_decode(text);
  if (!decoded) die("bad base64 in vector: " + std::string(text.substr(0, 40)));
  return *decoded;
}

const boost::json::value& field(const boost::json::value& object, std::string_view key) {
  const auto* found = object.as_object().if_contains(key);
  if (found == nullptr) die("vector lacks field " + std::string(key));
  return *found;
}

std::string string_field(const boost::json::value& object, std::string_view key) {
  return std::string(field(object, key).as_string());
}

std::int64_t int_field(const boost::json::value& object, std::string_view key) {
  return field(object, key).to_number<std::int64_t>();
}

bool bool_field_or(const boost::json::value& object, std::string_view key, bool fallback) {
  const auto* found = object.as_object().if_contains(key);
  return found == nullptr ? fallback : found->as_bool();
}

bool has_field(const boost::json::value& object, std::string_view key) {
  return object.as_object().contains(key);
}

std::string test_name(std::string_view vector_name) {
  std::string out;
  for (const char c : vector_name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out.push_back(keep ? c : '_');
  }
  return out;
}

}  // namespace aero::test
