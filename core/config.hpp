#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.hpp"

namespace agentreg::core {

/// What happens when the write-behind buffer is full.
enum class backlog_policy : std::uint8_t {
  block,   ///< the producer waits until the buffer has room
  refuse,  ///< the call fails with errc::persistence_backlog
};

struct fault_injection;  // core/fault_injection.hpp (test-only)

/// Everything a registry can be configured with; every field has a default.
struct registry_config {
  /// An agent whose last heartbeat is older than this goes offline.
  std::chrono::nanoseconds stale_timeout = std::chrono::seconds{300};
  /// How often the stale sweep runs (when auto_sweep is on).
  std::chrono::nanoseconds heartbeat_interval = std::chrono::seconds{5};
  /// How often summaries are written to the database.
  std::chrono::nanoseconds performance_update_interval = std::chrono::seconds{60};
  /// A `running` execution older than this becomes `timeout`.
  std::chrono::nanoseconds execution_timeout = std::chrono::minutes{30};

  // Eviction guards (as Eureka's self-preservation and Kubernetes' node
  // lifecycle controller have them).
  /// No evictions this long after start or recovery. Default: stale_timeout.
  std::optional<std::chrono::nanoseconds> start_grace;
  /// At most this fraction of the online agents goes offline per sweep (at least one).
  double max_eviction_fraction = 0.10;
  /// When more than this fraction of the online agents is stale at once, the
  /// sweep evicts nobody and the registry reports itself degraded.
  double degraded_threshold = 0.5;
  /// The fraction guards (max_eviction_fraction, degraded_threshold) apply
  /// only when at least this many agents are online. In a smaller fleet one
  /// or two silent agents are no sign that the registry is at fault (1 of 1
  /// stale is "more than half"), so every stale agent goes offline at the
  /// next sweep (after the start grace period).
  std::size_t degraded_min_online = 10;

  /// Distinct agent types the registry holds, 1..65536. A type counts from
  /// its first successful registration until the registry stops (its pool
  /// in the index is never freed: ~10 KiB each, plus 8 B per type allowed);
  /// a refused registration counts none. Registering one more type answers
  /// invalid_argument.
  std::uint32_t max_agent_types = 4096;

  /// Run the sweep on a timer every heartbeat_interval. Tests turn it off and
  /// call registry::sweep() on simulated time.
  bool auto_sweep = true;

  // Input limits. Each bounds memory that callers' input would otherwise
  // grow for as long as the registry runs; reaching one is an error that
  // names it (errc::limit_reached, or invalid_argument for an oversized spec).
  /// Bytes of free-form data one agent may carry: metadata keys and values,
  /// the agent card and the skills, each metadata entry and skill counting 64
  /// bytes more (its node). The directory keeps one spec per agent, so this
  /// bounds that part of an agent's memory at ~64 KiB (its fixed fields:
  /// ~2 KB, see README "Measured").
  std::size_t max_agent_metadata_bytes = 64 * 1024;
  /// Distinct task_type values, and distinct workflow_slug values, that
  /// executions may name: each becomes a summary kept for good (~3 KB in the
  /// aggregator, most of it the duration histogram's buckets, 8 bytes each,
  /// ~350 from 100 ms to 100 s; briefly as much in each outbox lane that
  /// touched it since the last drain; and a row in the database). 10 000
  /// keys bound both dimensions at ~60 MB. start_execution with one key more
  /// answers limit_reached. (The agent, agent_type and model dimensions grow
  /// with registrations, which max_agent_metadata_bytes and the index's
  /// bounds limit instead.)
  std::size_t max_summary_keys = 10'000;
  /// Distinct tool names per agent in the tool usage table (each ~1-3 KB
  /// with its histogram, and a database row): record_tool_usage with one
  /// more answers limit_reached.
  std::size_t max_tools_per_agent = 1'000;

  /// The clock; null means the system clock.
  std::shared_ptr<const clock> time_source;

  /// Test-only: faults to make happen (core/fault_injection.hpp); null, the
  /// default, makes none. Tests set it to reach failure paths; nothing else
  /// should.
  std::shared_ptr<fault_injection> faults;

  /// A JSON price table file; empty means the table shipped with agentreg.
  std::string price_table_path;

  /// CAF scheduler threads (0: CAF's default).
  std::size_t scheduler_threads = 2;
  /// CAF scheduler policy: "sharing" (idle workers block; best on few cores)
  /// or "stealing" (idle workers poll; can win with many cores).
  std::string scheduler_policy = "sharing";

  /// Changes the change stream keeps for watchers (registry::changes_since);
  /// a watcher further behind is told "compacted" and re-lists. A change
  /// costs ~200 bytes here.
  std::size_t change_log_capacity = 16384;

  /// Label sets each /metrics family keeps (type x provider x model for
  /// executions, tool names for tool calls); later ones count as "other".
  std::size_t metrics_max_series = 200;

  // Persistence.
  /// PostgreSQL URL; absent means memory only.
  std::optional<std::string> database_url;
  /// A flush is due when this many records wait in a writer (a start and a
  /// completion are two, unless they leave the outbox together)... Measured
  /// with `agentreg-bench ingest` (2 writers, 2 cores, a durable server):
  /// 1000 is clearly slower in the sweep, and 5000, 20000 and 50000 are
  /// within the noise of each other (in the last run, paired with the
  /// baselines: 99 k, 91 k and 100 k rows/s). Over four runs the suite's rule
  /// (the smallest size within 3 % of the fastest) chose 5000 three times and
  /// 20000 once: 5000, for shorter transactions and less to write again
  /// after a failure.
  std::size_t batch_size = 5000;
  /// ... or when the oldest has waited this long. At light load a completed
  /// row is visible after a median of 20 / 64 / 180 ms at 20 / 50 / 200 ms;
  /// 50 ms keeps that under ~100 ms with 2.3x fewer small transactions than 20.
  std::chrono::milliseconds flush_interval{50};
  /// Connections writing at once, each its own write-behind writer: an
  /// execution (start and completion) and a tool call always go through the
  /// same one, chosen by id; snapshots through the first. Measured with
  /// `agentreg-bench ingest` on 2 cores: 2 writers wrote x1.57 the rows/s of
  /// 1 (99 k against 63 k; raw COPY on 1 connection: 73 k), the server then
  /// working on two transactions at once.
  std::size_t writer_connections = 2;
  /// Records waiting for the database at most (then on_full applies). A
  /// waiting record costs ~1.4-1.6 KB of memory (measured during a 60 s
  /// outage), so the default bounds the backlog at ~320 MB. Agent, tool
  /// usage and summary snapshots are absolute values and take no room here:
  /// however long an outage, at most three rows of each key wait (the
  /// newest pending, one being written, the writer's copy of it), counted
  /// in stats().persistence_snapshot_rows: they are bounded by the agents
  /// and by max_summary_keys and max_tools_per_agent.
  std::size_t buffer_limit = 200'000;
  backlog_policy on_full = backlog_policy::block;
  /// How long the persistence router waits for a writer's answer (a flush,
  /// a snapshot waiting for the rows it counts; never stats, which read
  /// what the writers publish) before it takes the
  /// writer as not answering and asks again: a writer in a long statement
  /// cannot answer until it ends, and nothing may wait on it forever.
  std::chrono::milliseconds persistence_request_timeout{15'000};
  /// At shutdown every accepted record is written first, for as long as the
  /// database commits some; this is how long shutdown waits while none is
  /// committed (the database unreachable or stuck) before it stops and
  /// leaves the rest unwritten (said on stderr).
  std::chrono::milliseconds shutdown_flush_timeout{30'000};
};

}  // namespace agentreg::core
