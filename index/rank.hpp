#pragma once

#include <array>
#include <cstdint>

namespace agentreg::index::detail {

/// 2^40 / capacity + 1 (rounded down) for every capacity of 1..4095; entry 0
/// is unused.
inline constexpr auto load_rank_reciprocals = [] {
  std::array<std::uint64_t, 4096> m{};
  for (std::uint64_t capacity = 1; capacity < m.size(); ++capacity)
    m[capacity] = (std::uint64_t{1} << 40) / capacity + 1;
  return m;
}();

/// floor(load * 2^16 / capacity), for 0 <= load < capacity <= 4095: an
/// agent's rank in its pool. By a multiplication with a reciprocal from a
/// table instead of a division: every pick and every move computes a rank,
/// and a pair of acquire and release computed three, each a division of
/// 10 to 40 cycles. Exact: with m = 2^40 / capacity + e (0 < e <= 1),
/// load * m / 2^24 = load * 2^16 / capacity + d, d <= load / 2^24 < 2^-12,
/// less than the 1 / capacity between that quotient and the next integer
/// up; load * m < 2^53 fits. tests/index checks every pair.
constexpr std::uint32_t load_rank(std::uint32_t load, std::uint32_t capacity) {
  return static_cast<std::uint32_t>((std::uint64_t{load} * load_rank_reciprocals[capacity]) >> 24);
}

}  // namespace agentreg::index::detail
