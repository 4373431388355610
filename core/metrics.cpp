#include "core/metrics.hpp"

#include <algorithm>

namespace agentreg::core {

void bucket_counts::observe(const std::array<double, 14>& bounds, double v, std::uint64_t n) {
  // The first bound >= v: Prometheus' `le` (less than or equal).
  const auto cell = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
  cells[cell] += n;
  sum += v * static_cast<double>(n);
}

void bucket_counts::add(const bucket_counts& o) {
  for (std::size_t i = 0; i < cells.size(); ++i)
    cells[i] += o.cells[i];
  sum += o.sum;
}

std::uint64_t bucket_counts::count() const {
  std::uint64_t n = 0;
  for (auto c : cells)
    n += c;
  return n;
}

}  // namespace agentreg::core
