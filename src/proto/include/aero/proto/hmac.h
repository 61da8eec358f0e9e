// HMAC-SHA256 (RFC 2104) through OpenSSL, and a constant-time comparison for MACs.
#pragma once

#include <array>
#include <cstdint>

#include "aero/base/bytes.h"

namespace aero::crypto {

using Sha256Mac = std::array<std::uint8_t, 32>;

Sha256Mac hmac_sha256(ByteSpan key, ByteSpan message);

// True when a and b have equal length and contents; the time taken depends only on the length.
bool constant_time_equal(ByteSpan a, ByteSpan b);

}  // namespace aero::crypto
