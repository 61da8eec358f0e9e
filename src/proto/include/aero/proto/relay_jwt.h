// HS256 JSON Web Tokens for the UDP relay (RFC 7519, JWS compact form RFC 7515 §7.1), minted by
// the gateway and verified by the relay, byte-compatible with Aero's implementations.
//
// Wire form: `<header_b64url>.<payload_b64url>.<sig_b64url>` with
//   header  = `{"alg":"HS256","typ":"JWT"}`,
//   payload = `{"iat":..,"exp":..,"sid":"..",["origin":".."],["aud":".."],["iss":".."]}` in exactly
//             this key order, no whitespace, and
//   sig     = HMAC-SHA256(secret, "<header_b64url>.<payload_b64url>") (RFC 2104, RFC 7518 §3.2).
// Only HS256 is accepted; `aud`, `iss` and `origin` are carried but not checked against
// expectations (the relay applies its own Origin policy).
//
// Error kinds, stable for tests and metrics labels:
//   "empty_secret"    the secret is empty (fail closed)
//   "too_large"       token, header or payload over the size caps in Limits
//   "malformed"       not exactly three non-empty segments, or a signature not 43 characters long
//   "bad_base64"      a segment is not canonical unpadded base64url
//   "bad_signature"   the MAC does not match
//   "bad_json"        header or payload is not exactly one JSON object
//   "invalid_header"  `alg` missing or not a string, or `typ` present but not a string
//   "unsupported_alg" `alg` is a string other than "HS256"
//   "invalid_claims"  a claim is missing or has the wrong type, or `sid` is empty
//   "expired"         now >= exp
//   "not_yet_valid"   now < nbf
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aero/base/bytes.h"
#include "aero/base/result.h"

namespace aero::relay_jwt {

// Size caps, checked on the token text before anything is decoded.
struct Limits {
  static constexpr std::size_t kMaxHeaderChars = 4096;
  static constexpr std::size_t kMaxPayloadChars = 16384;
  static constexpr std::size_t kSignatureChars = 43;  // 32-byte HMAC-SHA256, base64url
  static constexpr std::size_t kMaxTokenChars =
      kMaxHeaderChars + 1 + kMaxPayloadChars + 1 + kSignatureChars;
};

// Registered claims (RFC 7519 §4.1) as NumericDate integers in Unix seconds, plus Aero's `sid`
// and `origin`.
struct Claims {
  std::int64_t iat = 0;
  std::int64_t exp = 0;
  std::optional<std::int64_t> nbf;
  std::string sid;
  std::optional<std::string> origin;
  std::optional<std::string> aud;
  std::optional<std::string> iss;

  friend bool operator==(const Claims&, const Claims&) = default;
};

// The gateway's claims for a new credential: iat = floor(now_ms / 1000), exp = iat + ttl_seconds
// (saturating at the int64 range). Set origin / aud / iss on the result as configured.
Claims make_claims(std::string sid, std::int64_t now_ms, std::int64_t ttl_seconds);

// Serializes and signs `claims`. Payload key order: iat, exp, sid, origin, aud, iss as the
// gateway writes them; nbf, which the gateway never sets, is written last when present.
// Fails with "empty_secret", "invalid_claims" (empty sid, or a string that is not valid UTF-8)
// or "too_large" (the payload would exceed Limits::kMaxPayloadChars).
Result<std::string> mint(ByteSpan secret, const Claims& claims);

// Verifies `token` against `secret` at wall-clock time `now_unix_seconds`.
Result<Claims> verify(std::string_view token, ByteSpan secret, std::int64_t now_unix_seconds);

}  // namespace aero::relay_jwt
