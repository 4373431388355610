#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "core/types.hpp"
#include "messages/atoms.hpp"
#include "messages/inspect.hpp"

namespace agentreg::msg {

/// The protocol of an agent actor: the single writer of its agent's spec,
/// status, reported load and heartbeat.
using agent_actor = caf::typed_actor<
    /// Refreshes the heartbeat; with `has_load`, also sets the reported load;
    /// brings an offline agent back online. Errors: load_out_of_range. Safe to repeat.
    caf::replies_to<heartbeat_atom, bool /*has_load*/, std::int64_t /*load*/>::with<core::agent>,
    /// Sets online, offline or paused. Errors: invalid_status (busy). Safe to repeat.
    caf::replies_to<status_atom, core::agent_status>::with<core::agent>,
    /// Sets the reported load. Errors: load_out_of_range. Safe to repeat.
    caf::replies_to<load_atom, std::int64_t>::with<core::agent>,
    /// Replaces the spec (re-registration); keeps load and history.
    /// Errors: invalid_capacity, capacity_below_load, invalid_argument. Safe to repeat.
    caf::replies_to<spec_atom, core::agent_spec>::with<core::agent>,
    /// From the sweep: goes offline if the last heartbeat is still older than
    /// the given monotonic time; answers whether it did. Safe to repeat.
    caf::replies_to<offline_atom, core::monotonic_time /*stale_before*/>::with<bool>>;

}  // namespace agentreg::msg
