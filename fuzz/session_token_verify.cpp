// libFuzzer target for the aero_session token verifier.
//
// Each input is used twice: once as a whole token (exercising the size caps, the split and the
// signature check), and once as the payload JSON of a token signed with the fuzzer's own secret,
// so the UTF-8, JSON and claim rules behind the HMAC check (RFC 2104) are reached as well.
// Invariants (a violation traps):
//   * every failure carries one of the documented error kinds;
//   * a successful verify has a non-empty sid, a finite exp, and is not expired at the clock used;
//   * re-minting the returned claims and verifying the result gives the same claims back, and
//     the token does not verify under another secret.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aero/proto/base64.h"
#include "aero/proto/hmac.h"
#include "aero/proto/session_token.h"

namespace {

constexpr std::string_view kSecret = "fuzz-session-secret";
constexpr std::string_view kOtherSecret = "fuzz-other-secret";
constexpr std::int64_t kNowMs = 1700000000000;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool is_documented_kind(std::string_view kind) {
  for (const std::string_view known : {"empty_secret", "too_large", "malformed", "bad_base64",
                                       "bad_signature", "bad_utf8", "bad_json", "invalid_claims",
                                       "expired"}) {
    if (kind == known) return true;
  }
  return false;
}

// mint(Claims) writes an integral exp below 2^64 as an integer literal, which reads back exactly.
// Other values go through Boost.JSON's double text, and Boost.JSON 1.81's decimal-to-double
// conversion is exact only on its fast path (significand < 2^53, |exponent| <= 22), so such a
// value may come back a few ulps away; allow that, and nothing more.
bool same_exp(double a, double b) {
  if (a == b) return true;
  if (std::trunc(a) == a && std::fabs(a) < 18446744073709551616.0) return false;
  return std::fabs(a - b) <= 8.0 * std::fabs(a) * 2.220446049250313e-16;
}

void check_success(const aero::session::Claims& claims, std::string_view token) {
  const aero::ByteSpan secret = aero::as_bytes(kSecret);
  require(!claims.sid.empty());
  require(std::isfinite(claims.exp));
  require(claims.exp * 1000.0 > static_cast<double>(kNowMs));

  const aero::Result<aero::session::Claims> other =
      aero::session::verify(token, aero::as_bytes(kOtherSecret), kNowMs);
  require(!other.ok() && other.error().kind == "bad_signature");

  const aero::Result<std::string> reminted = aero::session::mint(secret, claims);
  require(reminted.ok());
  const aero::Result<aero::session::Claims> again = aero::session::verify(*reminted, secret, kNowMs);
  require(again.ok());
  require(again->sid == claims.sid);
  require(same_exp(again->exp, claims.exp));

  // Re-issuing with a fresh expiry keeps the sid (it may only fail for size: a longer exp).
  const aero::Result<std::string> reissued = aero::session::mint(secret, claims.sid, kNowMs, 60);
  if (!reissued.ok()) {
    require(reissued.error().kind == "too_large");
    return;
  }
  const aero::Result<aero::session::Claims> fresh = aero::session::verify(*reissued, secret, kNowMs);
  require(fresh.ok());
  require(fresh->sid == claims.sid);
  require(fresh->exp == 1700000060.0);
}

void verify_and_check(std::string_view token) {
  const aero::Result<aero::session::Claims> result =
      aero::session::verify(token, aero::as_bytes(kSecret), kNowMs);
  if (!result.ok()) {
    require(is_documented_kind(result.error().kind));
    return;
  }
  check_success(*result, token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const aero::ByteSpan input(data, size);

  // 1. The input as a token.
  verify_and_check(aero::as_chars(input));

  // 2. The input as payload JSON, correctly signed: `<b64url(input)>.<b64url(HMAC(secret, b64))>`.
  std::string token = aero::encoding::base64url_encode(input);
  const aero::crypto::Sha256Mac mac =
      aero::crypto::hmac_sha256(aero::as_bytes(kSecret), aero::as_bytes(token));
  token.push_back('.');
  token += aero::encoding::base64url_encode(mac);
  verify_and_check(token);
  return 0;
}
