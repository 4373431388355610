#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "core/types.hpp"
#include "messages/agent.hpp"
#include "messages/atoms.hpp"
#include "messages/inspect.hpp"

namespace agentreg::msg {

/// The supervisor's own counters.
struct supervisor_stats {
  std::int64_t sweeps = 0;
  std::int64_t evictions_total = 0;
  std::int64_t evictions_held_total = 0;    ///< stale agents sweeps kept (grace, fraction cap, degraded)
  std::int64_t leases_reclaimed_total = 0;  ///< leases reclaimed past their TTL
  std::int64_t restarts = 0;  ///< agent actors respawned after a crash
  core::sweep_report last_sweep;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_stats& x) {
  return f(caf::meta::type_name("supervisor_stats"), x.sweeps, x.evictions_total, x.evictions_held_total,
           x.leases_reclaimed_total, x.restarts, x.last_sweep);
}

/// The protocol of the supervisor: respawns agent actors that crash, runs the
/// stale sweep on a timer or on request.
using supervisor_actor = caf::typed_actor<
    /// The actor `ended` of the agent with this serial ended abnormally (sent
    /// by the actor's own exit hook, see actors/agent_actor.cpp). One-way;
    /// an actor that was replaced already, or an agent that left, is ignored.
    caf::reacts_to<crashed_atom, std::uint64_t /*serial*/, caf::actor_addr /*ended*/>,
    /// Runs one sweep now: stale agents, expired leases, timed-out executions.
    caf::replies_to<sweep_atom>::with<core::sweep_report>,
    /// The timer's sweep. One-way.
    caf::reacts_to<caf::tick_atom>,
    /// Counters.
    caf::replies_to<stats_atom>::with<supervisor_stats>>;

}  // namespace agentreg::msg
