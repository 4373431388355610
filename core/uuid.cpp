#include "core/uuid.hpp"

#include <bit>
#include <cstring>

#include "core/random.hpp"

namespace agentreg::core {

namespace {

// The value of the 8 hex digits (either case) at `p` into `out`; false if
// one is not a hex digit. All 8 are checked and turned into their values at
// once (a completion parses an id: a table read per character cost ~320
// instructions an id). A byte is in [lo, hi] when, for bytes below 0x80,
// b + (0x80 - lo) has its high bit set and b + (0x7F - hi) has it clear: no
// carry crosses into the next byte.
bool hex_value(const char* p, std::uint32_t& out) {
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t high = 0x80 * ones;
  std::uint64_t x;
  std::memcpy(&x, p, sizeof x);
  if constexpr (std::endian::native == std::endian::big)
    x = __builtin_bswap64(x);  // the first character in the lowest byte
  const std::uint64_t digit = (x + 0x50 * ones) & ~(x + 0x46 * ones);  // '0' .. '9'
  const std::uint64_t folded = x | (0x20 * ones);                         // 'A' .. 'F' as 'a' .. 'f'
  const std::uint64_t letter = (folded + 0x1F * ones) & ~(folded + 0x19 * ones);  // 'a' .. 'f'
  if ((x & high) != 0 || ((digit | letter) & high) != high)
    return false;
  // Each byte's value: its low nibble, plus 9 for a letter ('a' is 0x61).
  std::uint64_t v = (x & (0x0F * ones)) + ((letter & high) >> 7) * 9;
  // Byte 0 is the most significant digit: pairs, then quads, then the word.
  v = ((v << 4) | (v >> 8)) & 0x00FF00FF00FF00FFull;
  v = ((v << 8) | (v >> 16)) & 0x0000FFFF0000FFFFull;
  v = ((v << 16) | (v >> 32)) & 0x00000000FFFFFFFFull;
  out = static_cast<std::uint32_t>(v);
  return true;
}

// The 8 hex digits (lower case) of `v`, most significant first, as the 8
// bytes to store: each nibble spread to its own byte, then turned into its
// digit by arithmetic on all 8 at once (a started and a completed execution
// each print an id; a loop over a table cost ~280 instructions an id).
std::uint64_t hex_digits(std::uint32_t v) {
  std::uint64_t x = v;
  x = ((x & 0xFFFF0000ull) << 16) | (x & 0x0000FFFFull);
  x = ((x & 0x0000FF000000FF00ull) << 8) | (x & 0x000000FF000000FFull);
  x = ((x & 0x00F000F000F000F0ull) << 4) | (x & 0x000F000F000F000Full);
  // Now byte i holds nibble i (the most significant in the highest byte).
  const std::uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;  // 1 where >= 10
  x += 0x3030303030303030ull + letters * ('a' - '0' - 10);
  if constexpr (std::endian::native == std::endian::little)
    x = __builtin_bswap64(x);  // the highest byte is stored first
  return x;
}

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

void to_chars(const uuid& u, char* out) {
  char digits[32];
  const std::uint64_t parts[4] = {hex_digits(static_cast<std::uint32_t>(u.hi >> 32)),
                                  hex_digits(static_cast<std::uint32_t>(u.hi)),
                                  hex_digits(static_cast<std::uint32_t>(u.lo >> 32)),
                                  hex_digits(static_cast<std::uint32_t>(u.lo))};
  std::memcpy(digits, parts, sizeof digits);
  // 8-4-4-4-12.
  std::memcpy(out, digits, 8);
  out[8] = '-';
  std::memcpy(out + 9, digits + 8, 4);
  out[13] = '-';
  std::memcpy(out + 14, digits + 12, 4);
  out[18] = '-';
  std::memcpy(out + 19, digits + 16, 4);
  out[23] = '-';
  std::memcpy(out + 24, digits + 20, 12);
}

std::string to_string(const uuid& u) {
  std::string out(uuid_text_length, '-');
  to_chars(u, out.data());
  return out;
}

std::optional<uuid> parse_uuid(std::string_view text) {
  if (text.size() != uuid_text_length)
    return std::nullopt;
  if (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
    return std::nullopt;
  // The 32 digits side by side (8-4-4-4-12), then read 8 at a time.
  char digits[32];
  std::memcpy(digits, text.data(), 8);
  std::memcpy(digits + 8, text.data() + 9, 4);
  std::memcpy(digits + 12, text.data() + 14, 4);
  std::memcpy(digits + 16, text.data() + 19, 4);
  std::memcpy(digits + 20, text.data() + 24, 12);
  std::uint32_t words[4];
  bool ok = true;
  for (int k = 0; k < 4; ++k)
    ok &= hex_value(digits + 8 * k, words[k]);
  if (!ok)
    return std::nullopt;
  return uuid{std::uint64_t{words[0]} << 32 | words[1], std::uint64_t{words[2]} << 32 | words[3]};
}

}  // namespace agentreg::core
