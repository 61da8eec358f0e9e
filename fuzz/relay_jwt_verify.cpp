// libFuzzer target for the HS256 relay JWT verifier.
//
// Each input is used three times: as a whole token (size caps, segment split, base64url and the
// HMAC check), as the payload JSON of a token signed with the fuzzer's secret under the standard
// header, and as the header JSON of a signed token with a fixed valid payload, so the header and
// claim rules behind the signature check (RFC 7515 §5.2, RFC 7519 §7.2) are reached.
// Invariants (a violation traps):
//   * every failure carries one of the documented error kinds;
//   * a success has a non-empty sid, now < exp, and nbf <= now when nbf is present;
//   * re-minting the returned claims and verifying the result gives exactly the same claims, and
//     the token does not verify under another secret;
//   * a header that verifies leaves the fixed payload's claims unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aero/proto/base64.h"
#include "aero/proto/hmac.h"
#include "aero/proto/relay_jwt.h"

namespace {

constexpr std::string_view kSecret = "fuzz-jwt-secret";
constexpr std::string_view kOtherSecret = "fuzz-other-secret";
constexpr std::int64_t kNow = 1700000000;
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::string_view kPayload = R"({"iat":1700000000,"exp":1700000060,"sid":"fuzz"})";

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool is_documented_kind(std::string_view kind) {
  for (const std::string_view known :
       {"empty_secret", "too_large", "malformed", "bad_base64", "bad_signature", "bad_json",
        "invalid_header", "unsupported_alg", "invalid_claims", "expired", "not_yet_valid"}) {
    if (kind == known) return true;
  }
  return false;
}

std::string sign(std::string_view header_json, aero::ByteSpan payload_json) {
  std::string token = aero::encoding::base64url_encode(aero::as_bytes(header_json));
  token.push_back('.');
  token += aero::encoding::base64url_encode(payload_json);
  const aero::crypto::Sha256Mac mac =
      aero::crypto::hmac_sha256(aero::as_bytes(kSecret), aero::as_bytes(token));
  token.push_back('.');
  token += aero::encoding::base64url_encode(mac);
  return token;
}

void check_success(const aero::relay_jwt::Claims& claims, std::string_view token) {
  const aero::ByteSpan secret = aero::as_bytes(kSecret);
  require(!claims.sid.empty());
  require(kNow < claims.exp);
  require(!claims.nbf || *claims.nbf <= kNow);

  const aero::Result<aero::relay_jwt::Claims> other =
      aero::relay_jwt::verify(token, aero::as_bytes(kOtherSecret), kNow);
  require(!other.ok() && other.error().kind == "bad_signature");

  // Re-serializing never grows a verified payload (the same members, escapes no longer than the
  // input's), so re-minting cannot hit the size cap.
  const aero::Result<std::string> reminted = aero::relay_jwt::mint(secret, claims);
  require(reminted.ok());
  const aero::Result<aero::relay_jwt::Claims> again = aero::relay_jwt::verify(*reminted, secret, kNow);
  require(again.ok());
  require(*again == claims);
}

aero::Result<aero::relay_jwt::Claims> verify_and_check(std::string_view token) {
  aero::Result<aero::relay_jwt::Claims> result =
      aero::relay_jwt::verify(token, aero::as_bytes(kSecret), kNow);
  if (!result.ok()) {
    require(is_documented_kind(result.error().kind));
  } else {
    check_success(*result, token);
  }
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const aero::ByteSpan input(data, size);

  // 1. The input as a token.
  (void)verify_and_check(aero::as_chars(input));

  // 2. The input as payload JSON under the standard header, correctly signed.
  (void)verify_and_check(sign(kHeader, input));

  // 3. The input as header JSON over a fixed valid payload, correctly signed.
  const aero::Result<aero::relay_jwt::Claims> with_header =
      verify_and_check(sign(aero::as_chars(input), aero::as_bytes(kPayload)));
  if (with_header.ok()) {
    require(with_header->sid == "fuzz" && with_header->iat == 1700000000 &&
            with_header->exp == 1700000060 && !with_header->nbf && !with_header->origin &&
            !with_header->aud && !with_header->iss);
  }
  return 0;
}
