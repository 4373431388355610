#pragma once
// Internal to persistence/: text checks and encodings shared by the writer
// and its tests. No libpqxx here.

#include <map>
#include <string>
#include <string_view>

namespace agentreg::db::detail {

/// True when PostgreSQL (UTF8 database) stores `s` unchanged: well-formed
/// UTF-8 (no overlong forms, surrogates or code points above U+10FFFF) and
/// no NUL byte.
bool storable_text(std::string_view s) noexcept;

/// `s` with each NUL byte, and each ill-formed UTF-8 byte together with the
/// continuation bytes after it, replaced by one U+FFFD.
std::string sanitized_text(std::string_view s);

/// A JSON object of string values: {"key":"value",...}. Keys and values must
/// be storable_text (the writer sanitises them first).
std::string json_object(const std::map<std::string, std::string>& m);

}  // namespace agentreg::db::detail
