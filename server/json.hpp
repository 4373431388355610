#pragma once
// Strict JSON in (parse_strict, fields) for the request decoders. Included
// by server/ .cpp files only.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace agentreg::http {

/// A request that cannot be decoded: the error code to answer
/// (malformed_json, invalid_request, or invalid_argument for a value out of
/// its range) and a sentence naming the field.
struct decode_error : std::runtime_error {
  decode_error(std::string error_code, const std::string& message)
      : std::runtime_error(message), code(std::move(error_code)) {}
  std::string code;
};

/// Parses a body as strict JSON (RFC 8259: no comments, no trailing commas,
/// no NaN or Infinity, no number beyond the double range such as 1e400), valid UTF-8, nested at most `max_depth` deep, with no
/// duplicate key in any object. Throws decode_error: malformed_json, or
/// invalid_request for a duplicate key.
boost::json::value parse_strict(std::string_view text, std::size_t max_depth);

/// Reads the fields of one JSON object, each by name, and refuses every
/// field it was not asked for (done()). A null value counts as absent.
/// Throws decode_error (invalid_request) naming `where` and the field.
class fields {
 public:
  fields(const boost::json::value& v, std::string where);

  std::string required_string(std::string_view key);
  std::optional<std::string> string(std::string_view key);
  /// A JSON integer within int64 (3.0 or 1e3 is not one).
  std::optional<std::int64_t> integer(std::string_view key);
  std::int64_t required_integer(std::string_view key);
  /// Any JSON number (finite in what parse_strict parsed).
  std::optional<double> number(std::string_view key);
  /// An array of strings.
  std::optional<std::vector<std::string>> strings(std::string_view key);
  /// Any value (null counts as absent).
  const boost::json::value* value(std::string_view key);
  /// An object.
  const boost::json::object* object(std::string_view key);
  /// Throws for a field none of the getters asked for.
  void done() const;

  [[nodiscard]] std::string name(std::string_view key) const;

 private:
  const boost::json::value* find(std::string_view key);
  const boost::json::object& obj_;
  std::string where_;
  std::vector<std::string_view> asked_;
};

}  // namespace agentreg::http
