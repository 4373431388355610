#include "persistence/text.hpp"

#include <cstdint>

namespace agentreg::db::detail {

namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 if ill-formed
// there. Follows Unicode's table "Well-Formed UTF-8 Byte Sequences", which
// is also what PostgreSQL's pg_utf8_islegal accepts.
std::size_t sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  const std::uint8_t b0 = byte(i);
  if (b0 == 0)
    return 0;  // valid UTF-8, but PostgreSQL text cannot hold NUL
  if (b0 < 0x80)
    return 1;
  std::size_t n = 0;
  std::uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size())
    return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi)
    return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF)
      return 0;
  return n;
}

}  // namespace

bool storable_text(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = sequence_length(s, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

std::string sanitized_text(std::string_view s) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = sequence_length(s, i);
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

std::string json_object(const std::map<std::string, std::string>& m) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "{";
  const auto put_string = [&](const std::string& s) {
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
  };
  bool first = true;
  for (const auto& [key, value] : m) {
    if (!first)
      out += ',';
    first = false;
    put_string(key);
    out += ':';
    put_string(value);
  }
  out += '}';
  return out;
}

}  // namespace agentreg::db::detail
