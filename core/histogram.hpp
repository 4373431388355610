#pragma once

#include <cstdint>
#include <vector>

namespace agentreg::core {

/// A log-bucketed histogram of non-negative values (durations in ms), for
/// streaming percentiles with a stated error bound, as DDSketch does.
///
/// Bucket i holds values in (gamma^(i-1), gamma^i] with gamma = 1.02, and a
/// quantile is answered as the bucket's midpoint 2 gamma^i / (gamma + 1): the
/// answer is within relative_error (~0.99 %) of the exact nearest-rank
/// quantile for any value in [min_value, max_value]. Zero (and anything below
/// min_value) is counted exactly in its own bucket. Memory: 8 bytes per bucket
/// between the smallest and largest value seen (about 235 buckets per 100x
/// of range). Single writer; not thread-safe.
class log_histogram {
 public:
  static constexpr double gamma = 1.02;
  static constexpr double relative_error = (gamma - 1) / (gamma + 1);
  static constexpr double min_value = 1e-3;  ///< 1 microsecond, in ms
  static constexpr double max_value = 1e10;  ///< ~116 days, in ms

  /// Adds `count` observations of `value` (negative and NaN values count as 0).
  void add(double value, std::uint64_t count = 1);

  /// Adds everything `other` holds.
  void merge(const log_histogram& other);

  /// The q-quantile (0 <= q <= 1), nearest-rank; 0 when empty.
  [[nodiscard]] double quantile(double q) const;

  [[nodiscard]] std::uint64_t count() const { return count_; }

  /// Buckets as (index, count) pairs for persistence; `from_buckets` rebuilds.
  [[nodiscard]] std::vector<std::pair<std::int32_t, std::uint64_t>> buckets() const;
  static log_histogram from_buckets(const std::vector<std::pair<std::int32_t, std::uint64_t>>& b);

 private:
  static std::int32_t index_of(double value);
  void bump(std::int32_t index, std::uint64_t count);

  std::vector<std::uint64_t> counts_;  // counts_[k] is bucket first_ + k
  std::int32_t first_ = 0;
  std::uint64_t zeros_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace agentreg::core
