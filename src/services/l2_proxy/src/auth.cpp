// Tunnel authentication (auth.h): credential carriers and the AERO_L2_AUTH_MODE rules.
#include "aero/services/l2_proxy/auth.h"

#include "aero/proto/hmac.h"
#include "aero/proto/origin.h"
#include "aero/proto/relay_jwt.h"
#include "aero/proto/session_token.h"

namespace aero::l2proxy {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

ByteSpan bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};  // NOLINT
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto fold = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

bool api_key_matches(const AuthConfig& config, const std::string& candidate) {
  if (config.api_key.empty()) return false;
  // constant_time_equal returns early only on a length mismatch; the key's length is not secret
  // enough to matter and comparing digests would hide it anyway.
  const auto expected = crypto::hmac_sha256(bytes_of("aero-l2-api-key"), bytes_of(config.api_key));
  const auto offered = crypto::hmac_sha256(bytes_of("aero-l2-api-key"), bytes_of(candidate));
  return crypto::constant_time_equal(expected, offered);
}

// The API key candidates in Aero's order: query, then subprotocol.
const std::optional<std::string>& token_for_api_key(const Credentials& c) {
  return c.query_token ? c.query_token : c.subprotocol_token;
}

const std::optional<std::string>& token_for_jwt(const Credentials& c) {
  if (c.bearer) return c.bearer;
  if (c.query_token) return c.query_token;
  return c.subprotocol_token;
}

struct Check {
  enum class Status : std::uint8_t { ok, missing, invalid } status;
  std::optional<std::string> sid;
  std::string_view reason;
};

Check check_cookie(const AuthConfig& config, const Credentials& c, std::int64_t now_ms) {
  if (!c.cookie) return {Check::Status::missing, {}, "missing_credentials"};
  auto claims = session::verify(*c.cookie, bytes_of(config.session_secret), now_ms);
  if (!claims) return {Check::Status::invalid, {}, "invalid_cookie"};
  return {Check::Status::ok, claims->sid, {}};
}

Check check_api_key(const AuthConfig& config, const Credentials& c) {
  const auto& token = token_for_api_key(c);
  if (!token) return {Check::Status::missing, {}, "missing_credentials"};
  if (!api_key_matches(config, *token)) return {Check::Status::invalid, {}, "invalid_api_key"};
  return {Check::Status::ok, {}, {}};
}

Check check_jwt(const AuthConfig& config, const Credentials& c,
                std::optional<std::string_view> request_origin, std::int64_t now_ms) {
  const auto& token = token_for_jwt(c);
  if (!token) return {Check::Status::missing, {}, "missing_credentials"};
  auto claims = relay_jwt::verify(*token, bytes_of(config.jwt_secret), now_ms / 1000);
  if (!claims) return {Check::Status::invalid, {}, "invalid_jwt"};
  if (!config.jwt_audience.empty() && claims->aud != config.jwt_audience) {
    return {Check::Status::invalid, {}, "invalid_jwt"};
  }
  if (!config.jwt_issuer.empty() && claims->iss != config.jwt_issuer) {
    return {Check::Status::invalid, {}, "invalid_jwt"};
  }
  if (claims->origin) {
    const auto bound = origin::normalize_origin(*claims->origin);
    const auto actual = request_origin ? origin::normalize_origin(*request_origin) : std::nullopt;
    if (!bound || !actual || *bound != *actual) {
      return {Check::Status::invalid, {}, "jwt_origin_mismatch"};
    }
  }
  return {Check::Status::ok, claims->sid, {}};
}

AuthResult to_result(const Check& check) {
  if (check.status == Check::Status::ok) return {true, {}, check.sid};
  return {false, check.reason, {}};
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Credentials collect_credentials(std::span<const std::string_view> cookie_headers,
                                std::string_view target,
                                std::optional<std::string_view> authorization,
                                std::span<const std::string_view> protocol_headers) {
  Credentials out;
  for (std::string_view header : cookie_headers) {
    while (!header.empty() && !out.cookie) {
      const auto semi = header.find(';');
      const std::string_view pair = trim(header.substr(0, semi));
      header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != "aero_session") continue;
      std::string_view value = trim(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      // A malformed escape leaves the value as sent; verification then rejects it.
      out.cookie = value.find('%') == std::string_view::npos
                       ? std::string(value)
                       : percent_decode(value, false).value_or(std::string(value));
    }
    if (out.cookie) break;
  }

  if (const auto question = target.find('?'); question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    if (const auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
    std::optional<std::string> token;
    std::optional<std::string> api_key;
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      const auto eq = pair.find('=');
      const auto name = percent_decode(pair.substr(0, eq), true);
      if (!name) continue;
      const auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                                      : percent_decode(pair.substr(eq + 1), true);
      if (!value || value->empty()) continue;
      if (*name == "token" && !token) token = value;
      if (*name == "apiKey" && !api_key) api_key = value;
    }
    out.query_token = token ? token : api_key;
  }

  if (authorization) {
    const std::string_view value = trim(*authorization);
    if (value.size() > 7 && iequals(value.substr(0, 7), "bearer ")) {
      const std::string_view token = trim(value.substr(7));
      if (!token.empty()) out.bearer = std::string(token);
    }
  }

  constexpr std::string_view kPrefix = "aero-l2-token.";
  for (std::string_view header : protocol_headers) {
    while (!header.empty() && !out.subprotocol_token) {
      const auto comma = header.find(',');
      const std::string_view entry = trim(header.substr(0, comma));
      header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
      if (entry.size() > kPrefix.size() && entry.substr(0, kPrefix.size()) == kPrefix) {
        out.subprotocol_token = std::string(entry.substr(kPrefix.size()));
      }
    }
  }
  return out;
}

AuthResult authenticate(const AuthConfig& config, const Credentials& c,
                        std::optional<std::string_view> request_origin, std::int64_t now_ms) {
  using Status = Check::Status;
  switch (config.mode) {
    case AuthMode::none:
      return {true, {}, {}};
    case AuthMode::session:
      return to_result(check_cookie(config, c, now_ms));
    case AuthMode::token:
      return to_result(check_api_key(config, c));
    case AuthMode::jwt:
      return to_result(check_jwt(config, c, request_origin, now_ms));
    case AuthMode::cookie_or_jwt: {
      const Check cookie = check_cookie(config, c, now_ms);
      if (cookie.status == Status::ok) return to_result(cookie);
      // The JWT is tried only when a token is present; otherwise the cookie's verdict stands.
      if (!token_for_jwt(c)) return to_result(cookie);
      return to_result(check_jwt(config, c, request_origin, now_ms));
    }
    case AuthMode::session_or_token: {
      const Check cookie = check_cookie(config, c, now_ms);
      if (cookie.status == Status::ok) return to_result(cookie);
      if (config.api_key.empty() || !token_for_api_key(c)) return to_result(cookie);
      return to_result(check_api_key(config, c));
    }
    case AuthMode::session_and_token: {
      const Check cookie = check_cookie(config, c, now_ms);
      const Check key = check_api_key(config, c);
      if (cookie.status == Status::missing && key.status == Status::missing) {
        return to_result(cookie);
      }
      if (cookie.status != Status::ok) {
        return {false, cookie.status == Status::missing ? "missing_credentials" : cookie.reason, {}};
      }
      if (key.status != Status::ok) return to_result(key);
      return to_result(cookie);
    }
  }
  return {false, "missing_credentials", {}};
}

}  // namespace aero::l2proxy
