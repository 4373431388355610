#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>
#include <vector>

#include "core/records.hpp"
#include "messages/atoms.hpp"
#include "messages/inspect.hpp"

namespace agentreg::msg {

/// Records the hot calls batched up for persistence (see actors::outbox);
/// their executions are already counted in the summaries.
struct record_batch {
  std::vector<core::execution> started;
  std::vector<core::execution> completed;
  std::vector<core::tool_call_record> tool_calls;
  /// The aggregator drain that forwarded these records (numbered from 1 in
  /// each run): every snapshot taken at or after it counts them, none
  /// before it does. Stored with each completed row and tool call, so that
  /// recovery can tell which rows the stored totals count.
  std::uint64_t drain = 0;
  [[nodiscard]] bool empty() const { return started.empty() && completed.empty() && tool_calls.empty(); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record_batch& x) {
  return f(caf::meta::type_name("record_batch"), x.started, x.completed, x.tool_calls, x.drain);
}

/// Absolute snapshots, written as upserts (a replay changes nothing).
struct snapshots {
  std::vector<core::agent_snapshot> agents;
  std::vector<core::tool_usage_snapshot> tool_usage;
  std::vector<core::performance_snapshot> performance;
  /// With tool usage and summaries: the aggregator drain they count
  /// through, all of them (see record_batch::drain); 0 otherwise.
  std::uint64_t drain = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshots& x) {
  return f(caf::meta::type_name("snapshots"), x.agents, x.tool_usage, x.performance, x.drain);
}

/// What the persistence writer reports to the engine's stats.
struct persistence_stats {
  std::int64_t buffered = 0;  ///< records received, not yet committed
  std::int64_t batches = 0;   ///< transactions committed
  std::int64_t rows = 0;      ///< rows written
  std::int64_t retries = 0;   ///< failed attempts (connect or write)
  /// Records the database refused for their data, kept in the
  /// agentreg_dead_letters table instead (see persistence_writer).
  std::int64_t dead_letters = 0;
  /// Records that will never be written: held by a writer that died, or
  /// refused even as dead letters. Said on stderr too.
  std::int64_t lost = 0;
  std::int64_t writer_restarts = 0;  ///< writers replaced after they stopped
  /// Rows of agent, tool usage and summary snapshots held in memory, not
  /// yet committed (the router's pending and in-flight rows, and the
  /// writers' copies): at most three rows per key.
  std::int64_t snapshot_rows = 0;
  bool connected = false;
  std::string last_error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, persistence_stats& x) {
  return f(caf::meta::type_name("persistence_stats"), x.buffered, x.batches, x.rows, x.retries, x.dead_letters, x.lost,
           x.writer_restarts, x.snapshot_rows, x.connected, x.last_error);
}

/// The protocol of the engine's persistence (the router in front of the
/// write-behind writers, see db::spawn_persistence).
using persistence_actor = caf::typed_actor<
    /// Executions (running and completed) and tool calls. One-way.
    caf::reacts_to<batch_atom, record_batch>,
    /// Agents, tool usage and summaries as absolute values. One-way.
    caf::reacts_to<snapshot_atom, snapshots>,
    /// Writes everything received before; answers true once committed, false
    /// if the database could not be reached (the records stay buffered) or
    /// a writer did not answer within its request timeout.
    caf::replies_to<flush_atom>::with<bool>,
    /// Counters, as the writers last published them (the router answers
    /// at once, whatever the writers are doing).
    caf::replies_to<stats_atom>::with<persistence_stats>>;

/// The protocol of one write-behind writer (a detached actor that owns its
/// database connection): the engine's, plus what its router asks it.
using persistence_writer_actor = persistence_actor::extend<
    /// The timer: writes what waits, retries after a failure. One-way.
    caf::reacts_to<caf::tick_atom>,
    /// Answers true once the records it received up to the point (a count
    /// of records, snapshot rows included, since it was spawned, as the
    /// router counts what it sent) are committed, as the writer commits them
    /// anyway (on batch_size or flush_interval): nothing is forced, and
    /// during an outage the answer waits for the database. Asking again for
    /// the same point is harmless.
    caf::replies_to<sync_atom, std::uint64_t>::with<bool>>;

}  // namespace agentreg::msg
