// `aero_session` cookie token: HMAC-SHA256 over the base64url payload, then strict JSON claims.
#include "aero/proto/session_token.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <openssl/rand.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <utility>

#include "aero/base/utf8.h"
#include "aero/proto/base64.h"
#include "aero/proto/hmac.h"
#include "json_claims.h"

namespace aero::session {

namespace {

Error fail(std::string_view kind, std::string message) {
  return make_error(kind, std::move(message));
}

// floor(a / b) for b > 0; C++ division truncates towards zero.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Serializes the payload in the minted key order `v`, `sid`, `exp`, signs it, and assembles the
// token. `exp` is an int64, uint64 or double JSON value prepared by the caller.
Result<std::string> sign_payload(ByteSpan secret, std::string_view sid, boost::json::value exp) {
  if (secret.empty()) return fail("empty_secret", "session secret is empty");
  if (sid.empty()) return fail("invalid_claims", "sid must be a non-empty string");
  // Boost.JSON copies bytes >= 0x80 unchanged, so invalid UTF-8 would yield a payload that the
  // verifier (and the gateway's fatal TextDecoder) rejects; refuse to mint it instead.
  if (!is_valid_utf8(as_bytes(sid))) return fail("invalid_claims", "sid is not valid UTF-8");

  boost::json::object payload;
  payload.reserve(3);
  payload.emplace("v", 1);
  // The JSON string escaping is Boost.JSON's, never hand-rolled.
  payload.emplace("sid", boost::json::string_view(sid.data(), sid.size()));
  payload.emplace("exp", std::move(exp));
  const std::string json = json_claims::serialize_compact(payload);

  std::string token = encoding::base64url_encode(as_bytes(json));
  if (token.size() > Limits::kMaxPayloadChars) {
    return fail("too_large", "session payload exceeds the size limit");
  }
  const crypto::Sha256Mac mac = crypto::hmac_sha256(secret, as_bytes(token));
  token.push_back('.');
  token += encoding::base64url_encode(mac);
  return token;
}

// `v` must be numerically 1. The gateway reads the payload with JSON.parse, where `1`, `1.0` and
// `1e0` are the same number, so every spelling of one is accepted.
bool is_version_one(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64() == 1;
  if (v.is_uint64()) return v.get_uint64() == 1;
  if (v.is_double()) return v.get_double() == 1.0;
  return false;
}

}  // namespace

Result<std::string> mint(ByteSpan secret, std::string_view sid, std::int64_t now_ms,
                         std::int64_t ttl_seconds) {
  // floor((now_ms + ttl*1000) / 1000) == floor(now_ms / 1000) + ttl, since ttl*1000 is a whole
  // number of seconds; this form cannot overflow in the multiplication.
  std::int64_t exp = 0;
  if (__builtin_add_overflow(floor_div(now_ms, 1000), ttl_seconds, &exp)) {
    return fail("invalid_claims", "session expiry is out of range");
  }
  return sign_payload(secret, sid, boost::json::value(exp));
}

Result<std::string> mint(ByteSpan secret, const Claims& claims) {
  const double exp = claims.exp;
  if (!std::isfinite(exp)) return fail("invalid_claims", "exp must be a finite number");
  // 2^63 and 2^64 are exact doubles; integral values below them are exactly representable as
  // int64 / uint64, so the integer literal is written (and read back) without rounding.
  constexpr double kTwo63 = 9223372036854775808.0;
  constexpr double kTwo64 = 18446744073709551616.0;
  boost::json::value exp_value;
  if (std::trunc(exp) == exp && exp >= -kTwo63 && exp < kTwo63) {
    exp_value = static_cast<std::int64_t>(exp);
  } else if (std::trunc(exp) == exp && exp >= 0 && exp < kTwo64) {
    exp_value = static_cast<std::uint64_t>(exp);
  } else {
    exp_value = exp;
  }
  return sign_payload(secret, claims.sid, std::move(exp_value));
}

Result<Claims> verify(std::string_view token, ByteSpan secret, std::int64_t now_ms) {
  if (secret.empty()) return fail("empty_secret", "session secret is empty");

  // Step 1: total length and shape, on the raw text only.
  if (token.size() > Limits::kMaxTokenChars) return fail("too_large", "session token too long");
  const std::size_t dot = token.find('.');
  if (dot == std::string_view::npos) return fail("malformed", "session token has no '.'");
  if (token.find('.', dot + 1) != std::string_view::npos) {
    return fail("malformed", "session token has more than one '.'");
  }
  const std::string_view payload_b64 = token.substr(0, dot);
  const std::string_view sig_b64 = token.substr(dot + 1);
  if (payload_b64.empty() || sig_b64.empty()) {
    return fail("malformed", "session token has an empty part");
  }

  // Step 2: per-part caps, then the signature's canonical base64url (RFC 4648 §3.5: no padding,
  // unused low bits zero). 43 canonical characters always decode to exactly 32 bytes.
  if (payload_b64.size() > Limits::kMaxPayloadChars) {
    return fail("too_large", "session payload too long");
  }
  if (sig_b64.size() != Limits::kSignatureChars) {
    return fail("malformed", "session signature must be 43 characters");
  }
  const std::optional<Bytes> sig = encoding::base64url_decode_canonical(sig_b64);
  if (!sig) return fail("bad_base64", "session signature is not canonical base64url");

  // Step 3: authenticate before decoding the payload (RFC 2104 MAC over the base64url text),
  // comparing in constant time so the check leaks nothing about the expected MAC.
  const crypto::Sha256Mac expected = crypto::hmac_sha256(secret, as_bytes(payload_b64));
  if (!crypto::constant_time_equal(expected, *sig)) {
    return fail("bad_signature", "session signature does not match");
  }

  // Step 4: decode, strict UTF-8 (the gateway uses a fatal TextDecoder), one JSON object.
  const std::optional<Bytes> payload = encoding::base64url_decode_canonical(payload_b64);
  if (!payload) return fail("bad_base64", "session payload is not canonical base64url");
  if (!is_valid_utf8(*payload)) return fail("bad_utf8", "session payload is not valid UTF-8");

  // The payload is at most 12 KiB of JSON; a stack buffer serves typical tokens without heap use.
  std::array<unsigned char, 1024> arena{};
  boost::json::monotonic_resource resource(arena.data(), arena.size());
  const std::optional<boost::json::object> object =
      json_claims::parse_object(as_chars(*payload), &resource);
  if (!object) return fail("bad_json", "session payload is not a single JSON object");

  const boost::json::value* v = object->if_contains("v");
  if (v == nullptr || !is_version_one(*v)) {
    return fail("invalid_claims", "session payload v must be 1");
  }
  const auto sid = json_claims::string_member(*object, "sid");
  if (!sid.ok() || sid.value.empty()) {
    return fail("invalid_claims", "session sid must be a non-empty string");
  }
  const auto exp = json_claims::number_member(*object, "exp");
  if (!exp.ok() || !std::isfinite(exp.value)) {
    return fail("invalid_claims", "session exp must be a finite number");
  }

  // Step 5: the gateway's rule, in doubles: expired iff exp * 1000 <= nowMs, so a token whose
  // exp equals floor(now / 1000) is already expired.
  if (exp.value * 1000.0 <= static_cast<double>(now_ms)) {
    return fail("expired", "session token expired");
  }
  return Claims{std::string(sid.value), exp.value};
}

std::string new_session_id() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) std::abort();
  // RFC 9562 §5.4: version 4 in the high nibble of octet 6, variant 0b10 in octet 8.
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0FU) | 0x40U);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3FU) | 0x80U);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0FU]);
  }
  return out;
}

}  // namespace aero::session
