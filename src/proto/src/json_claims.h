// Private Boost.JSON helpers shared by the credential codecs (aero_session token, relay JWT).
//
// The public headers never mention Boost.JSON; only session_token.cpp and relay_jwt.cpp include
// this file. Everything here is noexcept apart from allocation failure: parsing goes through the
// error_code overload of boost::json::parse, and the getters only inspect value kinds.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aero::json_claims {

// Nesting limit for token JSON. Real headers and payloads are flat objects; the limit only
// bounds the parser's work on a (signed) document built to be pathological.
inline constexpr std::size_t kMaxDepth = 32;

// Parses `text` as exactly one JSON text (RFC 8259 §2) whose value is an object. Returns nullopt
// on a syntax error, invalid UTF-8 inside a string, nesting deeper than kMaxDepth, anything but
// whitespace after the value (Boost.JSON reports `extra_data`), or a top-level non-object.
// Duplicate member names keep the last value, as JavaScript's JSON.parse and Go's encoding/json
// do. The object allocates from `storage`, which must outlive it.
std::optional<boost::json::object> parse_object(std::string_view text,
                                                boost::json::storage_ptr storage);

// One looked-up member: absent, present with the wrong type, or present with a usable value.
template <class T>
struct Field {
  enum class State { absent, wrong_type, ok };
  State state = State::absent;
  T value{};

  bool ok() const { return state == State::ok; }
  bool absent() const { return state == State::absent; }
};

// A JSON integer literal (no fraction, no exponent) in the int64 range. Boost.JSON stores such
// literals as int64 or, above INT64_MAX, uint64; literals beyond uint64 and every literal with a
// fraction or exponent become double and are rejected here (RFC 7519 §2 NumericDate, restricted
// to integers as the relay's verifier does).
Field<std::int64_t> integer_member(const boost::json::object& object, std::string_view key);

// Any JSON number as a double, the way JavaScript reads it (integers beyond 2^53 round to the
// nearest double). The value may be infinite when a literal overflows; callers check finiteness.
Field<double> number_member(const boost::json::object& object, std::string_view key);

// A JSON string; the view points into `object`.
Field<std::string_view> string_member(const boost::json::object& object, std::string_view key);

// Serializes `object` in insertion order with no whitespace (Boost.JSON's serializer escapes
// '"', '\\' and control characters as JSON.stringify does and copies other UTF-8 unchanged).
std::string serialize_compact(const boost::json::object& object);

}  // namespace aero::json_claims
