// Strict UTF-8 validation (RFC 3629 §4: no overlongs, no surrogates, nothing above U+10FFFF)
// and truncation at a code-point boundary, for the text fields of the wire protocols.
#pragma once

#include <cstddef>

#include "aero/base/bytes.h"

namespace aero {

bool is_valid_utf8(ByteSpan text);

// The largest n <= max_bytes such that text[0, n) does not end inside a multi-byte sequence.
// `text` is assumed valid UTF-8; for invalid input the cut is still within bounds.
std::size_t utf8_prefix_length(ByteSpan text, std::size_t max_bytes);

}  // namespace aero
