#include "persistence/encoding.hpp"

#include "core/text.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace agentreg::db::detail {

std::string sanitized_text(std::string_view s) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = core::utf8_sequence_length(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    out.append(replacement);
    // One replacement for the bad byte and the continuation bytes after it.
    ++i;
    while (i < s.size() && (static_cast<std::uint8_t>(s[i]) & 0xC0) == 0x80)
      ++i;
  }
  return out;
}

namespace {

// Appends `s` as a JSON string: quoted, escaped, made storable first.
void append_json_string(std::string& out, std::string_view raw) {
  static constexpr char hex[] = "0123456789abcdef";
  const std::string fixed = core::is_clean_text(raw) ? std::string{} : sanitized_text(raw);
  const std::string_view s = fixed.empty() ? raw : std::string_view{fixed};
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 0xF];
          out += hex[c & 0xF];
        } else {
          out += c;  // UTF-8 passes through: jsonb stores it as is
        }
    }
  }
  out += '"';
}

}  // namespace

std::string json_object(const std::map<std::string, std::string>& m) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : m) {
    if (!first)
      out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
    append_json_string(out, value);
  }
  out += '}';
  return out;
}

void json_builder::key(std::string_view k) {
  if (out_.size() > 1)
    out_ += ',';
  append_json_string(out_, k);
  out_ += ':';
}

json_builder& json_builder::text(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(out_, value);
  return *this;
}

json_builder& json_builder::number(std::string_view k, std::int64_t value) {
  key(k);
  out_ += std::to_string(value);
  return *this;
}

json_builder& json_builder::number(std::string_view k, double value) {
  key(k);
  if (!std::isfinite(value)) {
    out_ += "null";
    return *this;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  out_ += buf;
  return *this;
}

json_builder& json_builder::flag(std::string_view k, bool value) {
  key(k);
  out_ += value ? "true" : "false";
  return *this;
}

json_builder& json_builder::texts(std::string_view k, const std::vector<std::string>& values) {
  key(k);
  out_ += '[';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0)
      out_ += ',';
    append_json_string(out_, values[i]);
  }
  out_ += ']';
  return *this;
}

json_builder& json_builder::raw(std::string_view k, std::string_view json) {
  key(k);
  out_ += json;
  return *this;
}

std::string array_literal(const std::vector<std::string>& v) {
  std::string out = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0)
      out += ',';
    out += '"';
    for (const char c : v[i]) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + '}';
}

}  // namespace agentreg::db::detail
