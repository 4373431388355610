#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/types.hpp"

// What the engine hands to persistence besides executions and tool calls.
namespace agentreg::core {

/// A duration histogram as `core::log_histogram::buckets()` gives it:
/// (bucket index, count) pairs; `log_histogram::from_buckets` rebuilds it.
using histogram_buckets = std::vector<std::pair<std::int32_t, std::uint64_t>>;

/// An agent's latest state, as the engine knows it.
struct agent_snapshot {
  core::agent agent;
  /// The agent was unregistered: its row stays (with its executions and
  /// costs) and is marked with `unregistered_at`; the loader skips it.
  /// Registering the id again later clears the mark.
  bool unregistered = false;
  /// When it was unregistered; 0 means "the time of the first write that
  /// marks it" (a replayed write keeps the first time).
  core::timestamp unregistered_at = 0;
};

/// The aggregated usage of one tool by one agent, as absolute totals.
struct tool_usage_snapshot {
  core::tool_usage usage;
  histogram_buckets durations;
  /// When the snapshot was taken (stored as `updated_at`); 0: the time of the write.
  core::timestamp taken_at = 0;
  /// The aggregator drain the totals count through (0: unknown).
  std::uint64_t drain = 0;
};

/// One performance summary (per agent or per group), as absolute totals.
struct performance_snapshot {
  core::performance summary;
  histogram_buckets durations;
  /// When the snapshot was taken (stored as `updated_at`); 0: the time of the write.
  core::timestamp taken_at = 0;
  /// The aggregator drain the totals count through (0: unknown).
  std::uint64_t drain = 0;
};

}  // namespace agentreg::core
