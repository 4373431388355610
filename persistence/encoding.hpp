#pragma once
// Internal to persistence/: the text encodings the writer needs (U+FFFD
// repair, JSON, array literals), shared with its tests. No libpqxx here.
// Whether text is storable as is: core::is_clean_text (core/text.hpp).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace agentreg::db::detail {

/// `s` with each NUL byte, and each ill-formed UTF-8 byte together with the
/// continuation bytes after it, replaced by one U+FFFD.
std::string sanitized_text(std::string_view s);

/// A JSON object of string values: {"key":"value",...}. Keys and values must
/// be clean text, core::is_clean_text (the writer sanitises them first).
std::string json_object(const std::map<std::string, std::string>& m);

/// Builds one JSON object, field by field (a dead letter's record). Text is
/// escaped, and made storable first (sanitized_text), so the result is
/// always valid JSON that jsonb accepts; a NaN or infinite number is null.
class json_builder {
 public:
  json_builder& text(std::string_view key, std::string_view value);
  json_builder& number(std::string_view key, std::int64_t value);
  json_builder& number(std::string_view key, double value);
  json_builder& flag(std::string_view key, bool value);
  json_builder& texts(std::string_view key, const std::vector<std::string>& values);
  /// `json` must be valid JSON (an object built by json_object or another builder).
  json_builder& raw(std::string_view key, std::string_view json);
  /// The object, closed.
  [[nodiscard]] std::string str() const { return out_ + '}'; }

 private:
  void key(std::string_view k);
  std::string out_ = "{";
};

/// A PostgreSQL array literal of text elements: {"a","b \"c\""}. Each
/// element is quoted, with `"` and `\` escaped, so commas, braces, spaces
/// and the word NULL stay plain text.
std::string array_literal(const std::vector<std::string>& v);

}  // namespace agentreg::db::detail
