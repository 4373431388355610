#include "core/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace agentreg::core {

namespace {
const double log_gamma = std::log(log_histogram::gamma);
constexpr std::int32_t zero_index = INT32_MIN;
}  // namespace

std::int32_t log_histogram::index_of(double value) {
  if (!(value >= min_value))  // also NaN and negatives
    return zero_index;
  return static_cast<std::int32_t>(std::ceil(std::log(std::min(value, max_value)) / log_gamma));
}

void log_histogram::bump(std::int32_t index, std::uint64_t count) {
  count_ += count;
  if (index == zero_index) {
    zeros_ += count;
    return;
  }
  if (counts_.empty()) {
    first_ = index;
    counts_.assign(1, 0);
  } else if (index < first_) {
    counts_.insert(counts_.begin(), static_cast<std::size_t>(first_ - index), 0);
    first_ = index;
  } else if (index >= first_ + static_cast<std::int32_t>(counts_.size())) {
    counts_.resize(static_cast<std::size_t>(index - first_ + 1), 0);
  }
  counts_[static_cast<std::size_t>(index - first_)] += count;
}

void log_histogram::add(double value, std::uint64_t count) {
  if (count > 0)
    bump(index_of(value), count);
}

void log_histogram::merge(const log_histogram& other) {
  if (other.zeros_ > 0)
    bump(zero_index, other.zeros_);
  for (std::size_t k = 0; k < other.counts_.size(); ++k)
    if (other.counts_[k] > 0)
      bump(other.first_ + static_cast<std::int32_t>(k), other.counts_[k]);
}

double log_histogram::quantile(double q) const {
  if (count_ == 0)
    return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank: the value at 0-based position floor(q * (n - 1)).
  const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1));
  if (rank < zeros_)
    return 0;
  std::uint64_t seen = zeros_;
  for (std::size_t k = 0; k < counts_.size(); ++k) {
    seen += counts_[k];
    if (seen > rank) {
      const double upper = std::pow(gamma, first_ + static_cast<std::int32_t>(k));
      return 2 * upper / (gamma + 1);
    }
  }
  return std::pow(gamma, first_ + static_cast<std::int32_t>(counts_.size()) - 1);
}

std::vector<std::pair<std::int32_t, std::uint64_t>> log_histogram::buckets() const {
  std::vector<std::pair<std::int32_t, std::uint64_t>> out;
  if (zeros_ > 0)
    out.emplace_back(zero_index, zeros_);
  for (std::size_t k = 0; k < counts_.size(); ++k)
    if (counts_[k] > 0)
      out.emplace_back(first_ + static_cast<std::int32_t>(k), counts_[k]);
  return out;
}

log_histogram log_histogram::from_buckets(const std::vector<std::pair<std::int32_t, std::uint64_t>>& b) {
  log_histogram h;
  for (auto [index, count] : b)
    h.bump(index, count);
  return h;
}

}  // namespace agentreg::core
