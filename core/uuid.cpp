#include "core/uuid.hpp"

#include <array>

#include "core/random.hpp"

namespace agentreg::core {

namespace {

// Hex digit values by character; 0xFF for anything else. parse_uuid runs on
// every completion, so it reads a table rather than branching per character.
constexpr auto hex_table = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xFF);
  for (int c = 0; c < 10; ++c)
    t['0' + c] = static_cast<std::uint8_t>(c);
  for (int c = 0; c < 6; ++c) {
    t['a' + c] = static_cast<std::uint8_t>(10 + c);
    t['A' + c] = static_cast<std::uint8_t>(10 + c);
  }
  return t;
}();

}  // namespace

uuid make_uuid() {
  // 122 random bits from the operating system (core::random_u64), not from a
  // generator whose outputs reveal the next ones: an execution id travels
  // over HTTP, and whoever can guess one can complete it.
  uuid u{random_u64(), random_u64()};
  u.hi = (u.hi & ~0xF000ull) | 0x4000ull;                      // version 4
  u.lo = (u.lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 10
  return u;
}

std::string to_string(const uuid& u) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23)
        ++pos;
      out[static_cast<std::size_t>(pos++)] = digits[(v >> (i * 4)) & 0xF];
    }
  };
  put(u.hi, 16);
  put(u.lo, 16);
  return out;
}

std::optional<uuid> parse_uuid(std::string_view text) {
  if (text.size() != 36)
    return std::nullopt;
  if (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
    return std::nullopt;
  // Positions of the 32 hex digits in the 36-character form.
  static constexpr std::uint8_t digits[32] = {0,  1,  2,  3,  4,  5,  6,  7,  9,  10, 11, 12, 14, 15, 16, 17,
                                              19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35};
  std::uint64_t words[2] = {0, 0};
  std::uint8_t bad = 0;
  for (int k = 0; k < 32; ++k) {
    const std::uint8_t v = hex_table[static_cast<unsigned char>(text[digits[k]])];
    bad |= v;  // 0xFF sets the high bit, which no digit value has
    words[k / 16] = (words[k / 16] << 4) | (v & 0xF);
  }
  if (bad & 0x80)
    return std::nullopt;
  return uuid{words[0], words[1]};
}

}  // namespace agentreg::core
