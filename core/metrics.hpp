#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/types.hpp"

/// What registry::metrics() answers: everything /metrics exports, as plain
/// values with bounded label sets (docs/metrics.md names each one).
namespace agentreg::core {

/// The OpenTelemetry GenAI advice for gen_ai.client.token.usage: 1, 4, 16,
/// ... 67108864 (4^0 .. 4^13); a histogram has one more cell, +Inf.
constexpr std::array<double, 14> token_bucket_bounds{1,       4,       16,       64,       256,      1024,    4096,
                                                     16384,   65536,   262144,   1048576,  4194304,  16777216, 67108864};
/// The advice for gen_ai.client.operation.duration, in seconds: 0.01 ... 81.92.
constexpr std::array<double, 14> duration_bucket_bounds{0.01, 0.02, 0.04, 0.08, 0.16,  0.32,  0.64,
                                                        1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};

/// A histogram over 14 bounds: counts per cell (not cumulative; the last
/// cell is above the last bound) and the sum of the observed values.
struct bucket_counts {
  std::array<std::uint64_t, 15> cells{};
  double sum = 0;
  /// Counts `n` observations of `v`.
  void observe(const std::array<double, 14>& bounds, double v, std::uint64_t n = 1);
  void add(const bucket_counts& o);
  [[nodiscard]] std::uint64_t count() const;
};

/// One agent type's fleet.
struct fleet_metrics {
  std::string agent_type;
  std::array<std::int64_t, 4> agents{};  ///< by agent_status (online, offline, paused, busy)
  std::int64_t capacity_slots = 0;        ///< max_capacity of online and busy agents
  std::int64_t load_slots = 0;            ///< current_load of online and busy agents
  std::int64_t heartbeat_overdue = 0;     ///< online or busy, last heartbeat older than 60 s
  std::uint64_t acquires = 0, acquire_no_capacity = 0, releases = 0;
};

/// Completed executions of one (type, provider, model).
struct work_metrics {
  std::string agent_type, llm_provider, model_name;  ///< "other" past the series cap
  std::array<std::int64_t, 3> executions{};          ///< success, failed, timeout
  bucket_counts input_tokens, output_tokens;         ///< per execution
  std::int64_t cached_tokens = 0;
  std::int64_t cost_micro_usd = 0;
  bucket_counts duration_seconds;
};

/// Tool calls of one tool.
struct tool_metrics {
  std::string tool_name;  ///< "other" past the series cap
  std::int64_t success = 0, failure = 0;
  /// Each call's duration (a record of n calls counts n times its
  /// duration_ms), over duration_bucket_bounds.
  bucket_counts duration_seconds;
};

/// Everything /metrics exports at one moment (each part as it was at some
/// moment during the call: a scrape is not one atomic snapshot).
struct metrics_snapshot {
  std::vector<fleet_metrics> fleet;  ///< by agent type, ordered
  std::vector<work_metrics> work;    ///< ordered by labels
  std::vector<tool_metrics> tools;   ///< ordered by name
  /// stats(), its agents counted from the index's slots (as `fleet`).
  engine_stats engine;
  std::int64_t buffer_limit = 0;  ///< the persistence backlog's bound (0 in memory only)
  std::uint64_t revision = 0;     ///< the change stream's revision (registry::revision())
  std::uint64_t compacted_revision = 0;
};

}  // namespace agentreg::core
