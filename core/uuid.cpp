#include "core/uuid.hpp"

#include <random>

namespace agentreg::core {

namespace {

// xoshiro256**: fast, and statistically sound for ids.
struct xoshiro256 {
  std::uint64_t s[4];
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return result;
  }
};

xoshiro256 seeded() {
  std::random_device rd;
  xoshiro256 g{};
  for (auto& word : g.s)
    word = (std::uint64_t{rd()} << 32) ^ rd() ^ 0x9E3779B97F4A7C15ull;
  return g;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

uuid make_uuid() {
  thread_local xoshiro256 gen = seeded();
  uuid u{gen.next(), gen.next()};
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
  uuid u;
  int nibble = 0;
  for (std::size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-')
        return std::nullopt;
      continue;
    }
    const int v = hex_value(text[i]);
    if (v < 0)
      return std::nullopt;
    auto& word = nibble < 16 ? u.hi : u.lo;
    word = (word << 4) | static_cast<std::uint64_t>(v);
    ++nibble;
  }
  return u;
}

}  // namespace agentreg::core
