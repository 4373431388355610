#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

// Text as PostgreSQL and JSON can hold it: well-formed UTF-8 without NUL.
namespace agentreg::core {

// Length of the well-formed UTF-8 sequence at s[i], or 0 if ill-formed
// there. Follows Unicode's table "Well-Formed UTF-8 Byte Sequences", which
// is also what PostgreSQL's pg_utf8_islegal accepts.
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
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

/// True when `s` is well-formed UTF-8 without NUL bytes (PostgreSQL stores
/// neither, JSON cannot carry ill-formed UTF-8): text that fails is refused
/// at the engine's door.
inline bool is_clean_text(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

}  // namespace agentreg::core
