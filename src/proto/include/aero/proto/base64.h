// Base64 (RFC 4648 §4) and base64url (RFC 4648 §5) on top of OpenSSL's codec.
//
// OpenSSL does the encoding and decoding; this layer adds the strictness the credentials need:
// an exact alphabet, no whitespace, and for base64url the *canonical* form (no padding, length
// mod 4 never 1, and the unused low bits of the last character zero, RFC 4648 §3.5), so every
// byte string has exactly one accepted text form.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "aero/base/bytes.h"

namespace aero::encoding {

std::string base64_encode(ByteSpan data);
// Standard alphabet, padding required; nullopt on any other character or a bad length.
std::optional<Bytes> base64_decode(std::string_view text);

std::string base64url_encode(ByteSpan data);  // no padding
// nullopt unless `text` is the canonical unpadded base64url form of some byte string.
std::optional<Bytes> base64url_decode_canonical(std::string_view text);
// The same, but tolerant of non-zero unused bits in the last character (RFC 8484's `dns`
// parameter as Aero's decoder reads it); still nullopt on a bad character or a 4k+1 length.
std::optional<Bytes> base64url_decode_lenient(std::string_view text);

}  // namespace aero::encoding
