// HTTP rules without sockets (http_rules.h).
#include "aero/services/gateway/http_rules.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "aero/proto/origin.h"
#include "aero/proto/session_token.h"
#include "aero/services/l2_proxy/auth.h"  // percent_decode

namespace aero::gateway {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (is_space(text.front()) || text.front() == '\r' || text.front() == '\n')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (is_space(text.back()) || text.back() == '\r' || text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// Whether the comma-separated token list `value` contains `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (true) {
    const std::size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

// RFC 7230 tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

std::vector<std::string_view> header_values(std::span<const Header> headers, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) out.push_back(value);
  }
  return out;
}

std::string one_line(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes + 4));
  bool pending_space = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    bool space = c <= 0x20 || c == 0x7F;
    std::size_t skip = 0;
    // U+0085 (C2 85), U+2028 (E2 80 A8), U+2029 (E2 80 A9).
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x85) {
      space = true;
      skip = 1;
    } else if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(text[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(text[i + 2]) == 0xA9)) {
      space = true;
      skip = 2;
    }
    if (space) {
      pending_space = !out.empty();
      i += skip;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(static_cast<char>(c));
  }
  if (out.size() > max_bytes) {
    std::size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(out[end]) & 0xC0) == 0x80) --end;
    out.resize(end);
    while (!out.empty() && out.back() == ' ') out.pop_back();
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    auto key = l2proxy::percent_decode(pair.substr(0, eq), true);
    if (!key || *key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return l2proxy::percent_decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

std::optional<Rejection> check_subprotocol(std::span<const Header> headers, std::string_view required) {
  constexpr std::size_t kMaxChars = 4096;
  constexpr std::size_t kMaxTokens = 32;
  const Rejection invalid{400, "Invalid Sec-WebSocket-Protocol header", "subprotocol"};
  std::size_t chars = 0;
  std::size_t tokens = 0;
  bool found = false;
  for (std::string_view value : header_values(headers, "Sec-WebSocket-Protocol")) {
    chars += value.size();
    if (chars > kMaxChars) return invalid;
    while (true) {
      const std::size_t comma = value.find(',');
      const std::string_view token = trim(value.substr(0, comma));
      if (!token.empty()) {
        if (++tokens > kMaxTokens) return invalid;
        for (const char c : token) {
          if (!is_tchar(c)) return invalid;
        }
        found = found || token == required;
      }
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  if (!found) return Rejection{400, "Missing required subprotocol: " + std::string(required), "subprotocol"};
  return std::nullopt;
}

std::optional<Rejection> check_websocket_handshake(std::span<const Header> headers) {
  const Rejection invalid{400, "Invalid WebSocket upgrade", "handshake"};
  struct Single {
    std::string_view name;
    std::size_t max;
    std::optional<std::string_view> value;
  };
  std::array<Single, 4> singles{{{"Upgrade", 256, {}},
                                 {"Connection", 256, {}},
                                 {"Sec-WebSocket-Version", 32, {}},
                                 {"Sec-WebSocket-Key", 256, {}}}};
  for (Single& single : singles) {
    const auto values = header_values(headers, single.name);
    if (values.size() > 1 || (!values.empty() && values.front().size() > single.max)) return invalid;
    if (!values.empty()) single.value = values.front();
  }
  if (!singles[0].value || !has_token(*singles[0].value, "websocket")) return invalid;
  if (!singles[1].value || !has_token(*singles[1].value, "upgrade")) return invalid;
  if (!singles[2].value || trim(*singles[2].value) != "13") return invalid;
  if (!singles[3].value || trim(*singles[3].value).empty()) {
    return Rejection{400, "Missing required header: Sec-WebSocket-Key", "handshake"};
  }
  return std::nullopt;
}

std::optional<std::string> session_cookie(std::span<const std::string_view> cookie_headers) {
  for (const std::string_view header : cookie_headers) {
    if (header.size() > kMaxCookieHeaderChars) return std::nullopt;  // blocks later headers
    std::string_view rest = header;
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      const std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (trim(pair.substr(0, eq)) != "aero_session") continue;
      std::string_view value = trim(pair.substr(eq + 1));
      if (value.size() > kMaxCookieValueChars) value = value.substr(0, kMaxCookieValueChars);
      if (value.empty()) return std::nullopt;  // the first one wins, even when empty
      if (value.find('%') != std::string_view::npos) {
        if (auto decoded = l2proxy::percent_decode(value, false)) return decoded;
      }
      return std::string(value);
    }
  }
  return std::nullopt;
}

std::string client_ip(std::string_view peer_ip, std::span<const std::string_view> x_forwarded_for,
                      bool trust_proxy) {
  if (trust_proxy && !x_forwarded_for.empty()) {
    const std::string_view first = trim(x_forwarded_for.front().substr(0, x_forwarded_for.front().find(',')));
    if (!first.empty()) return std::string(first);
  }
  return std::string(peer_ip);
}

bool request_is_secure(bool tls, bool trust_proxy,
                       std::span<const std::string_view> x_forwarded_proto) {
  if (tls) return true;
  if (!trust_proxy || x_forwarded_proto.empty()) return false;
  const std::string_view first = trim(x_forwarded_proto.front().substr(0, x_forwarded_proto.front().find(',')));
  return iequals(first, "https");
}

OriginVerdict check_origin(const GatewayConfig& config, std::span<const std::string_view> origins,
                           std::span<const std::string_view> hosts, bool websocket) {
  OriginVerdict verdict;
  if (origins.empty()) return verdict;
  verdict.present = true;
  verdict.allowed = false;
  if (origins.size() > 1) return verdict;  // repeated Origin: invalid
  verdict.normalized = origin::normalize_origin(origins.front());
  if (!verdict.normalized) return verdict;
  if (websocket && config.allowed_origins.empty()) return verdict;
  // A repeated Host cannot be same-host.
  const std::string_view host = hosts.size() == 1 ? hosts.front() : std::string_view{};
  verdict.allowed = origin::is_origin_allowed(origins.front(), config.allowed_origins, host);
  return verdict;
}

std::vector<std::pair<std::string, std::string>> cors_headers(
    const std::string& normalized_origin, bool preflight,
    std::optional<std::string_view> request_headers) {
  std::vector<std::pair<std::string, std::string>> out{
      {"Access-Control-Allow-Origin", normalized_origin},
      {"Access-Control-Allow-Credentials", "true"},
      {"Access-Control-Expose-Headers", "x-request-id, content-length"},
      {"Vary", "Origin"}};
  if (!preflight) return out;
  out.emplace_back("Access-Control-Allow-Methods", "GET,POST,PUT,PATCH,DELETE,OPTIONS");
  std::string allow_headers = "Content-Type";
  if (request_headers) {
    const std::string_view requested = trim(*request_headers);
    bool valid = !requested.empty() && requested.size() <= 4096;
    for (const char c : requested) valid = valid && (is_tchar(c) || c == ',' || is_space(c));
    if (valid) {
      bool has_content_type = false;
      std::string_view rest = requested;
      while (true) {
        const std::size_t comma = rest.find(',');
        has_content_type = has_content_type || iequals(trim(rest.substr(0, comma)), "content-type");
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      allow_headers = has_content_type ? std::string(requested) : "Content-Type, " + std::string(requested);
    }
  }
  out.emplace_back("Access-Control-Allow-Headers", std::move(allow_headers));
  out.emplace_back("Access-Control-Max-Age", "600");
  return out;
}

std::vector<std::pair<std::string, std::string>> security_headers(
    const GatewayConfig& config, std::optional<std::string_view> inbound_request_id) {
  std::string request_id;
  if (inbound_request_id && !inbound_request_id->empty() && inbound_request_id->size() <= 128) {
    bool visible = true;
    for (const char c : *inbound_request_id) visible = visible && c > 0x20 && c < 0x7F;
    if (visible) request_id = std::string(*inbound_request_id);
  }
  if (request_id.empty()) request_id = session::new_session_id();
  std::vector<std::pair<std::string, std::string>> out{
      {"x-request-id", std::move(request_id)},
      {"x-content-type-options", "nosniff"},
      {"referrer-policy", "no-referrer"},
      {"x-frame-options", "DENY"},
      {"permissions-policy", "camera=(), geolocation=(), microphone=(self), usb=(self)"}};
  if (config.cross_origin_isolation) {
    out.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
    out.emplace_back("Cross-Origin-Embedder-Policy", "require-corp");
    out.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
    out.emplace_back("Origin-Agent-Cluster", "?1");
  }
  return out;
}

std::string json_error(std::string_view id, std::string_view message) {
  return boost::json::serialize(boost::json::object{{"error", id}, {"message", message}});
}

std::string_view reason_phrase(unsigned status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

std::string_view route_path(std::string_view path, std::string_view base_path) {
  if (base_path.empty() || !path.starts_with(base_path)) return path;
  const std::string_view rest = path.substr(base_path.size());
  if (rest.empty() || rest.front() != '/') return path;
  return rest;
}

std::optional<Rejection> check_proxy_token(std::string_view expected, const std::optional<std::string>& query_token,
                                           std::span<const std::string_view> authorization) {
  std::optional<std::string_view> presented;
  if (query_token && !query_token->empty() && query_token->size() <= kMaxProxyTokenChars) {
    presented = *query_token;
  } else if (authorization.size() == 1 && authorization.front().size() <= kMaxProxyTokenChars) {
    std::string_view value = authorization.front();
    if (value.size() > 7 && iequals(value.substr(0, 7), "bearer ")) {
      value.remove_prefix(7);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (!value.empty()) presented = value;
    }
  }
  if (!presented) return Rejection{401, "Missing auth token", "unauthorized"};
  const bool same = presented->size() == expected.size() &&
                    CRYPTO_memcmp(presented->data(), expected.data(), expected.size()) == 0;
  if (!same) return Rejection{403, "Invalid auth token", "unauthorized"};
  return std::nullopt;
}

}  // namespace aero::gateway
