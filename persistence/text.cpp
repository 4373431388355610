#include "persistence/text.hpp"

#include "core/text.hpp"

#include <cstdint>

namespace agentreg::db::detail {


bool storable_text(std::string_view s) noexcept { return core::is_clean_text(s); }

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
