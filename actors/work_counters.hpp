#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/metrics.hpp"
#include "core/string_hash.hpp"
#include "core/types.hpp"

namespace agentreg::actors {

/// Completed executions by (type, provider, model) and tool calls by tool,
/// with at most `max_series` label sets each: later ones are counted under
/// "other". Threads are spread over `lanes` maps, each under its own lock,
/// so that two threads completing executions rarely wait for each other
/// (completions are not as hot as acquire: a map lookup and an uncontended
/// lock per call is their price). Thread-safe.
class work_counters {
 public:
  static constexpr std::size_t lanes = 8;

  explicit work_counters(std::size_t max_series) : max_series_(max_series) {}

  /// Counts a completed execution (its status, tokens, cost, duration).
  void completed(const core::execution& e);
  /// Counts `success` and `failure` calls of `tool`, each of `duration_ms`.
  void tool_calls(std::string_view tool, std::int64_t success, std::int64_t failure, double duration_ms);

  /// Every lane's counts summed, ordered by labels.
  [[nodiscard]] std::vector<core::work_metrics> work() const;
  [[nodiscard]] std::vector<core::tool_metrics> tools() const;

 private:
  using work_map = std::unordered_map<std::string, core::work_metrics, core::string_hash, std::equal_to<>>;
  using tool_map = std::unordered_map<std::string, core::tool_metrics, core::string_hash, std::equal_to<>>;
  struct alignas(64) lane {
    mutable std::mutex mutex;
    work_map work;
    tool_map tools;
  };
  // Whether `key` may have its own series (under admitted_mutex_: only
  // when a lane sees a key for the first time).
  bool admit(std::unordered_set<std::string>& admitted, const std::string& key);

  const std::size_t max_series_;
  std::array<lane, lanes> lanes_;
  std::mutex admitted_mutex_;
  std::unordered_set<std::string> admitted_work_, admitted_tools_;
};

}  // namespace agentreg::actors
