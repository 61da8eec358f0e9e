// HS256 relay JWT: size caps, canonical base64url, HMAC first, then strict header and claims.
#include "aero/proto/relay_jwt.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>

#include <array>
#include <limits>
#include <utility>

#include "aero/base/utf8.h"
#include "aero/proto/base64.h"
#include "aero/proto/hmac.h"
#include "json_claims.h"

namespace aero::relay_jwt {

namespace {

// The only header this codec mints; its base64url form is fixed.
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";

Error fail(std::string_view kind, std::string message) {
  return make_error(kind, std::move(message));
}

// floor(a / b) for b > 0; C++ division truncates towards zero.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

bool valid_utf8(std::string_view text) { return is_valid_utf8(as_bytes(text)); }

boost::json::string_view json_view(std::string_view text) { return {text.data(), text.size()}; }

// Splits `token` at its two dots; false unless there are exactly three segments.
bool split3(std::string_view token, std::array<std::string_view, 3>& parts) {
  const std::size_t first = token.find('.');
  if (first == std::string_view::npos) return false;
  const std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos) return false;
  if (token.find('.', second + 1) != std::string_view::npos) return false;
  parts[0] = token.substr(0, first);
  parts[1] = token.substr(first + 1, second - first - 1);
  parts[2] = token.substr(second + 1);
  return true;
}

// The JOSE header rules (RFC 7515 §4.1.1, §4.1.9): `alg` must be the string "HS256" (refusing
// every other value, including "none", RFC 7518 §3.6); `typ` is optional but must be a string.
Result<void> check_header(const boost::json::object& header) {
  const auto alg = json_claims::string_member(header, "alg");
  if (!alg.ok()) return fail("invalid_header", "JWT header alg must be a string");
  if (alg.value != "HS256") return fail("unsupported_alg", "JWT alg is not HS256");
  const auto typ = json_claims::string_member(header, "typ");
  if (!typ.ok() && !typ.absent()) return fail("invalid_header", "JWT header typ must be a string");
  return {};
}

// An optional string claim: absent is fine, any non-string value is not.
Result<std::optional<std::string>> optional_string(const boost::json::object& payload,
                                                   std::string_view key) {
  const auto field = json_claims::string_member(payload, key);
  if (field.absent()) return std::optional<std::string>();
  if (!field.ok()) {
    return fail("invalid_claims", "JWT claim " + std::string(key) + " must be a string");
  }
  return std::optional<std::string>(std::string(field.value));
}

}  // namespace

Claims make_claims(std::string sid, std::int64_t now_ms, std::int64_t ttl_seconds) {
  Claims claims;
  claims.iat = floor_div(now_ms, 1000);
  if (__builtin_add_overflow(claims.iat, ttl_seconds, &claims.exp)) {
    claims.exp = ttl_seconds > 0 ? std::numeric_limits<std::int64_t>::max()
                                 : std::numeric_limits<std::int64_t>::min();
  }
  claims.sid = std::move(sid);
  return claims;
}

Result<std::string> mint(ByteSpan secret, const Claims& claims) {
  if (secret.empty()) return fail("empty_secret", "JWT secret is empty");
  if (claims.sid.empty()) return fail("invalid_claims", "JWT sid must be a non-empty string");
  // Boost.JSON copies bytes >= 0x80 unchanged; a string that is not UTF-8 would mint a token no
  // verifier accepts, so refuse it here.
  if (!valid_utf8(claims.sid) || (claims.origin && !valid_utf8(*claims.origin)) ||
      (claims.aud && !valid_utf8(*claims.aud)) || (claims.iss && !valid_utf8(*claims.iss))) {
    return fail("invalid_claims", "JWT string claims must be valid UTF-8");
  }

  // boost::json::object keeps insertion order, which fixes the key order on the wire.
  boost::json::object payload;
  payload.reserve(7);
  payload.emplace("iat", claims.iat);
  payload.emplace("exp", claims.exp);
  payload.emplace("sid", json_view(claims.sid));
  if (claims.origin) payload.emplace("origin", json_view(*claims.origin));
  if (claims.aud) payload.emplace("aud", json_view(*claims.aud));
  if (claims.iss) payload.emplace("iss", json_view(*claims.iss));
  if (claims.nbf) payload.emplace("nbf", *claims.nbf);
  const std::string payload_b64 =
      encoding::base64url_encode(as_bytes(json_claims::serialize_compact(payload)));
  if (payload_b64.size() > Limits::kMaxPayloadChars) {
    return fail("too_large", "JWT payload exceeds the size limit");
  }

  std::string token = encoding::base64url_encode(as_bytes(kHeaderJson));
  token.push_back('.');
  token += payload_b64;
  const crypto::Sha256Mac mac = crypto::hmac_sha256(secret, as_bytes(token));
  token.push_back('.');
  token += encoding::base64url_encode(mac);
  return token;
}

Result<Claims> verify(std::string_view token, ByteSpan secret, std::int64_t now_unix_seconds) {
  if (secret.empty()) return fail("empty_secret", "JWT secret is empty");

  // Shape and size caps on the raw text, before any decoding.
  if (token.size() > Limits::kMaxTokenChars) return fail("too_large", "JWT too long");
  std::array<std::string_view, 3> parts;
  if (!split3(token, parts)) return fail("malformed", "JWT must have exactly three segments");
  const auto [header_b64, payload_b64, sig_b64] = parts;
  if (header_b64.empty() || payload_b64.empty() || sig_b64.empty()) {
    return fail("malformed", "JWT has an empty segment");
  }
  if (header_b64.size() > Limits::kMaxHeaderChars) return fail("too_large", "JWT header too long");
  if (payload_b64.size() > Limits::kMaxPayloadChars) {
    return fail("too_large", "JWT payload too long");
  }
  if (sig_b64.size() != Limits::kSignatureChars) {
    return fail("malformed", "JWT signature must be 43 characters");
  }

  // Every segment must be canonical base64url (RFC 7515 §2 "Base64url Encoding", RFC 4648 §5
  // without padding, §3.5 unused bits zero), so one token has exactly one accepted spelling.
  const std::optional<Bytes> header = encoding::base64url_decode_canonical(header_b64);
  if (!header) return fail("bad_base64", "JWT header is not canonical base64url");
  const std::optional<Bytes> payload = encoding::base64url_decode_canonical(payload_b64);
  if (!payload) return fail("bad_base64", "JWT payload is not canonical base64url");
  const std::optional<Bytes> sig = encoding::base64url_decode_canonical(sig_b64);
  if (!sig) return fail("bad_base64", "JWT signature is not canonical base64url");

  // RFC 7515 §5.2 step 8, done before any JSON is parsed: the MAC covers the signing input
  // "<header_b64>.<payload_b64>" as ASCII (RFC 7518 §3.2), compared in constant time.
  const std::string_view signing_input = token.substr(0, header_b64.size() + 1 + payload_b64.size());
  const crypto::Sha256Mac expected = crypto::hmac_sha256(secret, as_bytes(signing_input));
  if (!crypto::constant_time_equal(expected, *sig)) {
    return fail("bad_signature", "JWT signature does not match");
  }

  std::array<unsigned char, 1024> arena{};
  boost::json::monotonic_resource resource(arena.data(), arena.size());

  const std::optional<boost::json::object> header_object =
      json_claims::parse_object(as_chars(*header), &resource);
  if (!header_object) return fail("bad_json", "JWT header is not a single JSON object");
  if (Result<void> checked = check_header(*header_object); !checked) return checked.error();

  const std::optional<boost::json::object> claims_object =
      json_claims::parse_object(as_chars(*payload), &resource);
  if (!claims_object) return fail("bad_json", "JWT payload is not a single JSON object");
  const boost::json::object& object = *claims_object;

  // Claim checks in the relay's order, so a token with several faults reports the same kind.
  // RFC 7519 §4.1.4: the token must not be accepted on or after exp.
  Claims claims;
  const auto exp = json_claims::integer_member(object, "exp");
  if (!exp.ok()) return fail("invalid_claims", "JWT exp must be an integer");
  if (now_unix_seconds >= exp.value) return fail("expired", "JWT expired");
  claims.exp = exp.value;

  const auto iat = json_claims::integer_member(object, "iat");
  if (!iat.ok()) return fail("invalid_claims", "JWT iat must be an integer");
  claims.iat = iat.value;

  // RFC 7519 §4.1.5: the token must not be accepted before nbf.
  const auto nbf = json_claims::integer_member(object, "nbf");
  if (!nbf.absent()) {
    if (!nbf.ok()) return fail("invalid_claims", "JWT nbf must be an integer");
    if (now_unix_seconds < nbf.value) return fail("not_yet_valid", "JWT not yet valid");
    claims.nbf = nbf.value;
  }

  const auto sid = json_claims::string_member(object, "sid");
  if (!sid.ok() || sid.value.empty()) {
    return fail("invalid_claims", "JWT sid must be a non-empty string");
  }
  claims.sid = std::string(sid.value);

  auto origin = optional_string(object, "origin");
  if (!origin) return origin.error();
  auto aud = optional_string(object, "aud");
  if (!aud) return aud.error();
  auto iss = optional_string(object, "iss");
  if (!iss) return iss.error();
  claims.origin = std::move(origin).value();
  claims.aud = std::move(aud).value();
  claims.iss = std::move(iss).value();
  return claims;
}

}  // namespace aero::relay_jwt
