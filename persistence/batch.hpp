#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/records.hpp"
#include "core/types.hpp"

namespace agentreg::db {

// The record types live in core/ (messages carry them to the persistence
// actor); persistence names them here for its own code.
using core::agent_snapshot;
using core::histogram_buckets;
using core::performance_snapshot;
using core::tool_usage_snapshot;

/// Everything one flush writes, in one transaction.
///
/// Records may repeat within a batch: executions keep their most advanced
/// state (a completed record wins over a running one; between two completed
/// records the first wins, as in the database), snapshots keep the last one
/// of each key, and tool calls are unique by id.
struct batch {
  std::vector<agent_snapshot> agents;
  std::vector<core::execution> executions;  ///< running and completed
  std::vector<core::tool_call_record> tool_calls;
  std::vector<tool_usage_snapshot> tool_usage;
  std::vector<performance_snapshot> performance;
  /// The aggregator drain of each execution and tool call, by index (a
  /// missing entry, or 0: none; running records have none). Stored as
  /// counted_at (see batch_writer).
  std::vector<std::uint64_t> execution_drains, tool_call_drains;
  /// When not 0: this batch completes a snapshot whose tool usage and
  /// summaries all count through this drain; committing it records that
  /// point (agentreg_counted_through).
  std::uint64_t snapshot_drain = 0;

  [[nodiscard]] std::size_t size() const {
    return agents.size() + executions.size() + tool_calls.size() + tool_usage.size() + performance.size();
  }
  [[nodiscard]] bool empty() const { return size() == 0; }
  void clear() {
    execution_drains.clear();
    tool_call_drains.clear();
    snapshot_drain = 0;
    agents.clear();
    executions.clear();
    tool_calls.clear();
    tool_usage.clear();
    performance.clear();
  }
};

/// What one committed write changed.
struct write_report {
  std::int64_t agents = 0;       ///< rows inserted or updated
  std::int64_t executions = 0;   ///< rows inserted, or running rows completed
  std::int64_t tool_calls = 0;   ///< rows inserted
  std::int64_t tool_usage = 0;   ///< rows inserted or updated
  std::int64_t performance = 0;  ///< rows inserted or updated

  [[nodiscard]] std::int64_t rows_written() const {
    return agents + executions + tool_calls + tool_usage + performance;
  }
};

}  // namespace agentreg::db
