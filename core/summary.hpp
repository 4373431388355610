#pragma once

#include <cstdint>
#include <string>

#include "core/histogram.hpp"
#include "core/types.hpp"

namespace agentreg::core {

/// Running totals of completed executions: counts, exact integer sums
/// (tokens, micro-dollars, milliseconds) and a duration histogram. No float
/// is ever accumulated. Single writer (the aggregator actor).
class performance_accumulator {
 public:
  void add(const execution& e);
  [[nodiscard]] performance snapshot(group_by dimension, const std::string& key) const;

  /// Rebuilds totals from a persisted summary (recovery).
  void restore(const performance& p, log_histogram durations);
  [[nodiscard]] const log_histogram& durations() const { return durations_; }

 private:
  std::int64_t total_ = 0, success_ = 0, failed_ = 0, timeout_ = 0;
  std::int64_t duration_sum_ms_ = 0, tokens_ = 0, cost_micro_ = 0, retries_ = 0;
  timestamp last_ = 0;
  log_histogram durations_;
};

/// Totals of one (agent, tool) pair. Single writer (the aggregator actor).
class tool_accumulator {
 public:
  void add(const tool_call_record& r);
  [[nodiscard]] tool_usage snapshot(const std::string& agent_id, const std::string& tool) const;
  void restore(const tool_usage& u, log_histogram durations);
  [[nodiscard]] const log_histogram& durations() const { return durations_; }

 private:
  std::int64_t invocations_ = 0, success_ = 0, failure_ = 0;
  double duration_sum_ms_ = 0;  // a sum of measured doubles, reported as a mean only
  timestamp last_ = 0;
  log_histogram durations_;
};

}  // namespace agentreg::core
