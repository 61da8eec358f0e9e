// Helpers for table tests driven by the golden vectors in tests/data/vectors/.
#pragma once

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "aero/base/bytes.h"

namespace aero::test {

// Parses tests/data/vectors/<relative_path>; aborts the test binary if the file is missing or
// malformed (a missing vector file must never turn into zero test cases).
boost::json::value load_vectors(std::string_view relative_path);

Bytes from_hex(std::string_view hex);  // whitespace between digits is ignored
std::string to_hex(ByteSpan bytes);
Bytes from_b64(std::string_view text);  // standard base64, as the vector files use

// Accessors that abort with the key name when a vector lacks a field.
const boost::json::value& field(const boost::json::value& object, std::string_view key);
std::string string_field(const boost::json::value& object, std::string_view key);
std::int64_t int_field(const boost::json::value& object, std::string_view key);
bool bool_field_or(const boost::json::value& object, std::string_view key, bool fallback);
bool has_field(const boost::json::value& object, std::string_view key);

// Turns a vector name into a valid GoogleTest parameter name ("frame.small" -> "frame_small").
std::string test_name(std::string_view vector_name);

// Names a parameterised test after its vector's "name" field.
struct VectorName {
  std::string operator()(const testing::TestParamInfo<boost::json::value>& param) const {
    return test_name(param.param.at("name").as_string());
  }
};

}  // namespace aero::test
