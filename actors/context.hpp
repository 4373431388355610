#pragma once

#include <atomic>
#include <memory>

#include "actors/directory.hpp"
#include "actors/execution_table.hpp"
#include "actors/outbox.hpp"
#include "actors/summary_keys.hpp"
#include "actors/tool_usage_table.hpp"
#include "actors/work_counters.hpp"
#include "core/clock.hpp"
#include "core/backlog_gate.hpp"
#include "core/change_log.hpp"
#include "core/config.hpp"
#include "core/price_table.hpp"
#include "core/thread_counters.hpp"
#include "index/priority_index.hpp"
#include "messages/aggregator.hpp"
#include "messages/persistence.hpp"
#include "messages/supervisor.hpp"

namespace agentreg::actors {

/// The state the engine's actors publish and the callers' threads read:
/// shared by the facade and every actor, outliving all of them.
struct engine_context {
  engine_context(core::registry_config cfg, std::shared_ptr<const core::clock> clk, core::price_table table)
      : config(std::move(cfg)),
        clock(std::move(clk)),
        prices(std::move(table)),
        index(config.max_agent_types),
        records(config.database_url.has_value()),
        task_types(config.max_summary_keys),
        workflows(config.max_summary_keys),
        started(clock->monotonic()) {}

  const core::registry_config config;
  const std::shared_ptr<const core::clock> clock;
  const core::price_table prices;
  index::priority_index index;
  /// The agents' specs, less their ids, shared among agents with equal ones.
  profile_pool profiles;
  directory agents;
  execution_table executions;
  tool_usage_table tools;
  /// Completed executions' counts, and records for persistence (if any).
  outbox records;
  /// The task types and workflows executions may name (max_summary_keys each).
  summary_keys task_types;
  summary_keys workflows;
  /// Set when the registry stops: the supervisor respawns nothing after it.
  std::atomic<bool> stopping{false};
  /// When the engine started (the start grace period runs from here).
  const core::monotonic_time started;
  std::atomic<std::uint64_t> next_serial{1};

  // For /metrics (registry::metrics).
  /// acquire's and release's counts per agent type (lease_count_key).
  core::thread_counters lease_counts{3 * std::size_t{config.max_agent_types}};
  /// Completed executions and tool calls by bounded label sets.
  work_counters work{config.metrics_max_series};

  // Set once at start, before any caller can use the registry.
  msg::aggregator_actor aggregator;
  msg::supervisor_actor supervisor;
  /// The write-behind writer; invalid when running in memory only.
  msg::persistence_actor persistence;
  /// Room for records not yet committed (null in memory only).
  std::shared_ptr<core::backlog_gate> gate;
  /// The change stream (see actors/changes.hpp). Last, so that its
  /// publisher, which reads the directory and the index, stops first.
  std::unique_ptr<core::change_log> changes;
};

/// What engine_context::lease_counts counts of an agent type.
enum class lease_count : std::size_t { granted = 0, no_capacity = 1, released = 2 };

/// The key of `what` for the agent type (index pool) `pool`.
inline std::size_t lease_count_key(std::uint32_t pool, lease_count what) {
  return 3 * static_cast<std::size_t>(pool) + static_cast<std::size_t>(what);
}

/// An index error as the engine's error, with a sentence.
core::error to_core(index::errc e, const std::string& agent_id);

}  // namespace agentreg::actors
