#pragma once

#include <cstdint>
#include <limits>

namespace agentreg::core {

/// a + b, held at the bound of int64 instead of wrapping (a signed overflow
/// is undefined behaviour). Sums that only a caller's absurd input or years
/// of counting could overflow (token and cost totals, deadlines from a
/// caller's TTL) stop at the bound: a total of INT64_MAX reads "at least
/// this much", never a negative number.
constexpr std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum))
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  return sum;
}

}  // namespace agentreg::core
