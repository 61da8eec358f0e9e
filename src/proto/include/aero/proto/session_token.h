// The `aero_session` cookie token: minting and verification, byte-compatible with Aero's gateway.
//
// Wire form: `<payload_b64url>.<sig_b64url>` (RFC 4648 §5 base64url, no padding), where
//   payload = `{"v":1,"sid":"<session id>","exp":<unix seconds>}` (keys in exactly this order) and
//   sig     = HMAC-SHA256(secret, ASCII bytes of payload_b64url) (RFC 2104), always 43 characters.
// The MAC covers the base64url text, not the decoded JSON, so the verifier authenticates before it
// decodes or parses anything.
//
// Error kinds returned by verify() and mint(), stable for tests and metrics labels:
//   "empty_secret"   the secret is empty (fail closed: an empty HMAC key authenticates nothing)
//   "too_large"      token or payload over the size caps in Limits
//   "malformed"      not exactly one '.', an empty part, or a signature not 43 characters long
//   "bad_base64"     a part is not canonical unpadded base64url
//   "bad_signature"  the MAC does not match
//   "bad_utf8"       the decoded payload is not strict UTF-8
//   "bad_json"       the payload is not exactly one JSON object
//   "invalid_claims" `v` is not 1, `sid` is not a non-empty string, `exp` is not a finite number
//   "expired"        exp * 1000 <= now_ms
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aero/base/bytes.h"
#include "aero/base/result.h"

namespace aero::session {

// Size caps, checked on the token text before anything is decoded.
struct Limits {
  static constexpr std::size_t kMaxPayloadChars = 16384;
  static constexpr std::size_t kSignatureChars = 43;  // 32-byte HMAC-SHA256, base64url
  static constexpr std::size_t kMaxTokenChars = kMaxPayloadChars + 1 + kSignatureChars;
};

struct Claims {
  std::string sid;
  // Expiry in Unix seconds. A double because the format allows any finite JSON number (`1.5` is a
  // valid exp) and the expiry rule is JavaScript's `exp * 1000 <= nowMs`, computed in doubles.
  double exp = 0;

  friend bool operator==(const Claims&, const Claims&) = default;
};

// Mints a token for `sid` that expires at floor((now_ms + ttl_seconds * 1000) / 1000).
// Fails with "empty_secret", "invalid_claims" (sid empty or not valid UTF-8, expiry out of the
// int64 range) or "too_large" (the payload would exceed Limits::kMaxPayloadChars).
Result<std::string> mint(ByteSpan secret, std::string_view sid, std::int64_t now_ms,
                         std::int64_t ttl_seconds);

// Mints a token carrying exactly `claims` (used to re-issue verified claims). An integral exp is
// written as a JSON integer, as the gateway writes it; other values use Boost.JSON's shortest
// round-trip double form. Fails like the overload above, and on a non-finite exp.
Result<std::string> mint(ByteSpan secret, const Claims& claims);

// Verifies `token` against `secret` at wall-clock time `now_ms` (Unix milliseconds).
Result<Claims> verify(std::string_view token, ByteSpan secret, std::int64_t now_ms);

// A fresh random session id: a lowercase RFC 9562 version 4 UUID from OpenSSL's CSPRNG.
// Aborts if the CSPRNG fails, since a predictable session id must never be handed out.
std::string new_session_id();

}  // namespace aero::session
