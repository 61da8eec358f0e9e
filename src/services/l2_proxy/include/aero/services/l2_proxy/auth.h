// Tunnel authentication: where credentials come from and how each AERO_L2_AUTH_MODE judges
// them. Pure functions over header values, so every mode is unit-tested without a server.
//
// Carriers (Aero's):
//   cookie        the first `aero_session` cookie over all Cookie headers (percent-decoded)
//   query         `?token=` (else `?apiKey=`), percent-decoded
//   bearer        `Authorization: Bearer <token>`
//   subprotocol   a `Sec-WebSocket-Protocol` entry `aero-l2-token.<token>` (never selected)
//
// Modes:
//   none               everything passes
//   session            the cookie, verified with the session secret
//   token              the API key from query or subprotocol, compared in constant time
//   jwt                an HS256 JWT from bearer, query or subprotocol (in that order);
//                      aud / iss enforced when configured; an `origin` claim must equal the
//                      request's normalised Origin
//   cookie_or_jwt      the cookie; without a valid cookie, a JWT if a token is present
//   session_or_token   the cookie; without a valid cookie, the API key if one is configured
//   session_and_token  the cookie and the API key
//
// Reject reasons (metrics labels, never shown to clients beyond the 401):
//   missing_credentials, invalid_api_key, invalid_cookie, invalid_jwt, jwt_origin_mismatch
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aero/services/l2_proxy/config.h"

namespace aero::l2proxy {

struct Credentials {
  std::optional<std::string> cookie;
  std::optional<std::string> query_token;
  std::optional<std::string> bearer;
  std::optional<std::string> subprotocol_token;
};

// Gathers the credentials of a request. `cookie_headers` and `protocol_headers` are every
// Cookie / Sec-WebSocket-Protocol header value in order; `target` is the request target
// ("/l2?token=..."); `authorization` the Authorization header if present.
Credentials collect_credentials(std::span<const std::string_view> cookie_headers,
                                std::string_view target,
                                std::optional<std::string_view> authorization,
                                std::span<const std::string_view> protocol_headers);

struct AuthResult {
  bool ok = false;
  std::string_view reason;  // a reject reason above; empty when ok
  // Session identity (the cookie's or the JWT's sid); API-key-only connections have none.
  std::optional<std::string> sid;
};

// `request_origin` is the raw Origin header (if exactly one was sent); `now_ms` is Unix time.
AuthResult authenticate(const AuthConfig& config, const Credentials& credentials,
                        std::optional<std::string_view> request_origin, std::int64_t now_ms);

// Percent-decoding for query values and cookies ('+' is a space in query values only);
// nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace aero::l2proxy
