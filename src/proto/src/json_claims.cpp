// Strict single-object JSON parsing and typed member getters for the credential codecs.
#include "json_claims.h"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>

#include <limits>
#include <utility>

namespace aero::json_claims {

std::optional<boost::json::object> parse_object(std::string_view text,
                                                boost::json::storage_ptr storage) {
  boost::json::parse_options options;
  options.max_depth = kMaxDepth;
  // RFC 8259 only: no comments, no trailing commas, strings must be valid UTF-8.
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;

  boost::system::error_code ec;
  // parse() consumes the whole input and fails with `extra_data` when anything but whitespace
  // follows the first value, so `{"a":1}{"b":2}` is rejected rather than read as its prefix.
  boost::json::value value =
      boost::json::parse(boost::json::string_view(text.data(), text.size()), ec,
                         std::move(storage), options);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.get_object());
}

Field<std::int64_t> integer_member(const boost::json::object& object, std::string_view key) {
  Field<std::int64_t> field;
  const boost::json::value* member = object.if_contains(key);
  if (member == nullptr) return field;
  field.state = Field<std::int64_t>::State::wrong_type;
  if (member->is_int64()) {
    field.value = member->get_int64();
    field.state = Field<std::int64_t>::State::ok;
  } else if (member->is_uint64()) {
    const std::uint64_t v = member->get_uint64();
    if (v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      field.value = static_cast<std::int64_t>(v);
      field.state = Field<std::int64_t>::State::ok;
    }
  }
  return field;
}

Field<double> number_member(const boost::json::object& object, std::string_view key) {
  Field<double> field;
  const boost::json::value* member = object.if_contains(key);
  if (member == nullptr) return field;
  field.state = Field<double>::State::ok;
  if (member->is_int64()) {
    field.value = static_cast<double>(member->get_int64());
  } else if (member->is_uint64()) {
    field.value = static_cast<double>(member->get_uint64());
  } else if (member->is_double()) {
    field.value = member->get_double();
  } else {
    field.state = Field<double>::State::wrong_type;
  }
  return field;
}

Field<std::string_view> string_member(const boost::json::object& object, std::string_view key) {
  Field<std::string_view> field;
  const boost::json::value* member = object.if_contains(key);
  if (member == nullptr) return field;
  if (!member->is_string()) {
    field.state = Field<std::string_view>::State::wrong_type;
    return field;
  }
  const boost::json::string& text = member->get_string();
  field.value = std::string_view(text.data(), text.size());
  field.state = Field<std::string_view>::State::ok;
  return field;
}

std::string serialize_compact(const boost::json::object& object) {
  return boost::json::serialize(object);
}

}  // namespace aero::json_claims
