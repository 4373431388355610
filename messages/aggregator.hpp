#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>
#include <vector>

#include "core/records.hpp"
#include "core/types.hpp"
#include "messages/atoms.hpp"
#include "messages/inspect.hpp"

namespace agentreg::msg {

/// Totals the aggregator reports to the engine's stats.
struct aggregator_stats {
  std::int64_t executions_completed = 0;
  std::int64_t tool_calls = 0;
  /// Snapshots taken for persistence (periodic and on request; one that
  /// found no row changed sends nothing).
  std::int64_t snapshots = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, aggregator_stats& x) {
  return f(caf::meta::type_name("aggregator_stats"), x.executions_completed, x.tool_calls, x.snapshots);
}

/// The protocol of the aggregator: owner of every performance summary (per
/// agent, type, model, task type, workflow).
using aggregator_actor = caf::typed_actor<
    /// A lane of the outbox is full: drains the outbox now. One-way.
    caf::reacts_to<drain_atom>,
    /// The timer: drains the outbox (summaries, counts, records). One-way.
    caf::reacts_to<caf::tick_atom>,
    /// One summary. Errors: unknown_agent (agent dimension, nothing recorded).
    caf::replies_to<perf_atom, core::group_by, std::string>::with<core::performance>,
    /// Every summary of a dimension, ordered by key.
    caf::replies_to<perf_by_atom, core::group_by>::with<std::vector<core::performance>>,
    /// An agent was registered or changed its spec: its current state (read
    /// when this is handled, not when it was sent) goes to persistence.
    /// One-way; repeating it is harmless.
    caf::reacts_to<changed_atom, std::string>,
    /// An agent was unregistered: its last state, marked unregistered, goes
    /// to persistence, unless the id was registered again since (a record
    /// with another serial is under it). Every agent snapshot reaches
    /// persistence through the aggregator, which reads the directory when it
    /// handles a message, so a snapshot taken before an unregistration can
    /// never arrive after it. One-way.
    caf::reacts_to<unreg_atom, core::agent_snapshot, std::uint64_t>,
    /// Adds the recovered summaries and tool usage (recovery) to what is
    /// counted; also the signal that recovery is done: no snapshot is sent
    /// before it. One-way.
    caf::reacts_to<restore_atom, std::vector<core::performance_snapshot>, std::vector<core::tool_usage_snapshot>>,
    /// Publishes every summary, tool usage and agent to persistence now and
    /// answers once they are on their way (used at shutdown and by tests).
    caf::replies_to<publish_atom>::with<bool>,
    /// Counters; also a barrier: answered after everything sent before it.
    caf::replies_to<stats_atom>::with<aggregator_stats>>;

}  // namespace agentreg::msg
