// HMAC-SHA256 via OpenSSL's one-shot HMAC(); CRYPTO_memcmp for the comparison.
#include "aero/proto/hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

namespace aero::crypto {

Sha256Mac hmac_sha256(ByteSpan key, ByteSpan message) {
  Sha256Mac mac{};
  unsigned int length = 0;
  // OpenSSL treats a null key pointer as "no key"; pass a valid pointer for an empty key.
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* key_data = key.empty() ? &kEmpty : key.data();
  if (HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()), message.data(), message.size(),
           mac.data(), &length) == nullptr ||
      length != mac.size()) {
    // Only an OpenSSL build without SHA-256 can get here; a wrong MAC would be worse than a stop.
    std::abort();
  }
  return mac;
}

bool constant_time_equal(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace aero::crypto
