#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/outbox.hpp"
#include "core/error.hpp"
#include "core/summary.hpp"
#include "core/types.hpp"

namespace agentreg::actors {

/// Tool usage per (agent, tool), aggregated on the caller's thread so that
/// record_tool_usage answers the new totals without a mailbox round trip.
/// Sharded by agent: one agent's tools share a lock, different agents
/// rarely do. Thread-safe.
class tool_usage_table {
 public:
  /// Puts the report's record in `records`, then counts it, under the
  /// agent's lock (so a snapshot of this table never counts a call whose
  /// record is not in the outbox), and answers the (agent, tool) totals
  /// after it and whether the outbox lane asks for a drain. A tool new to an
  /// agent that already has `max_tools` answers limit_reached, and nothing
  /// is recorded.
  core::expected<std::pair<core::tool_usage, bool>> add(const core::tool_call_record& r, std::size_t max_tools,
                                                        outbox& records);
  /// Every tool of one agent, ordered by name.
  std::vector<core::tool_usage> of(const std::string& agent_id) const;
  /// Every (agent, tool) pair with its duration histogram (persistence).
  std::vector<std::pair<core::tool_usage, core::log_histogram>> all() const;
  /// Adds persisted totals (recovery) to what is counted.
  void restore(const core::tool_usage& u, core::log_histogram durations);

 private:
  static constexpr std::size_t shard_count = 64;
  struct alignas(64) shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::map<std::string, core::tool_accumulator>> agents;
  };
  shard& shard_of(const std::string& agent_id) const {
    return shards_[std::hash<std::string>{}(agent_id) % shard_count];
  }
  mutable std::array<shard, shard_count> shards_;
};

}  // namespace agentreg::actors
