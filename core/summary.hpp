#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/histogram.hpp"
#include "core/string_hash.hpp"
#include "core/types.hpp"

namespace agentreg::core {

/// Running totals of completed executions: counts, exact integer sums
/// (tokens, micro-dollars, milliseconds) and a duration histogram. No float
/// is ever accumulated. Single writer (the aggregator actor).
class performance_accumulator {
 public:
  void add(const execution& e);
  /// Adds everything `other` counted (exact: integer sums, histogram counts).
  void merge(const performance_accumulator& other);
  [[nodiscard]] performance snapshot(group_by dimension, const std::string& key) const;
  /// Executions counted (every add, merge or restore that changes the
  /// totals changes this too: persistence writes a summary when it moved).
  [[nodiscard]] std::int64_t executions() const { return total_; }

  /// Rebuilds totals from a persisted summary (recovery).
  void restore(const performance& p, log_histogram durations);
  [[nodiscard]] const log_histogram& durations() const { return durations_; }

 private:
  std::int64_t total_ = 0, success_ = 0, failed_ = 0, timeout_ = 0;
  std::int64_t duration_sum_ms_ = 0, tokens_ = 0, cost_micro_ = 0, retries_ = 0;
  timestamp last_ = 0;
  log_histogram durations_;
};

/// Performance summaries along every group_by dimension: an execution counts
/// once under its agent id, agent type, model, task type and workflow.
/// Single writer; not thread-safe.
class summary_set {
 public:
  static constexpr std::size_t dimensions = 5;

  using table = std::unordered_map<std::string, performance_accumulator, string_hash, std::equal_to<>>;

  void add(const execution& e);
  /// Adds everything `other` holds, key by key.
  void merge(const summary_set& other);

  /// The summaries of one dimension (empty for an unknown one).
  [[nodiscard]] const table& of(group_by dimension) const;
  /// The summary under `key`, made empty if absent (recovery).
  performance_accumulator& at(group_by dimension, const std::string& key);

  [[nodiscard]] bool empty() const {
    for (const auto& t : tables_)
      if (!t.empty())
        return false;
    return true;
  }

 private:
  friend class summary_delta;
  static performance_accumulator& slot(table& t, std::string_view key);
  std::array<table, dimensions> tables_;
};

/// Completed executions counted once per combination of their five summary
/// keys, to be folded into a summary_set later: one hash lookup and one
/// accumulator per execution, where summary_set::add makes five of each.
/// What the hot path keeps between two drains of the outbox. Single writer;
/// not thread-safe.
class summary_delta {
 public:
  void add(const execution& e);
  /// Adds each combination's totals under each of its five keys in `into`.
  void fold_into(summary_set& into) const;
  [[nodiscard]] bool empty() const { return combinations_.empty(); }
  /// Distinct combinations held.
  [[nodiscard]] std::size_t size() const { return combinations_.size(); }

 private:
  // The five keys in summary_set's dimension order, each written as its
  // length (4 bytes) and then its bytes: no two combinations share a key,
  // whatever bytes their keys hold.
  std::unordered_map<std::string, performance_accumulator, string_hash, std::equal_to<>> combinations_;
  std::string key_;  // reused for each add's key: no allocation once warm
};

/// Totals of one (agent, tool) pair. Single writer (the aggregator actor).
class tool_accumulator {
 public:
  void add(const tool_call_record& r);
  [[nodiscard]] tool_usage snapshot(const std::string& agent_id, const std::string& tool) const;
  void restore(const tool_usage& u, log_histogram durations);
  /// Adds everything `other` counted.
  void merge(const tool_accumulator& other);
  [[nodiscard]] const log_histogram& durations() const { return durations_; }

 private:
  std::int64_t invocations_ = 0, success_ = 0, failure_ = 0;
  double duration_sum_ms_ = 0;  // a sum of measured doubles, reported as a mean only
  timestamp last_ = 0;
  log_histogram durations_;
};

}  // namespace agentreg::core
