#pragma once

#include <caf/fwd.hpp>

#include "actors/context.hpp"
#include "messages/supervisor.hpp"

namespace agentreg::actors {

/// Spawns the supervisor: monitors agent actors and respawns one that dies
/// while its agent is registered; runs the stale sweep (every
/// heartbeat_interval when config.auto_sweep, or on request) with the
/// eviction guards; reclaims expired leases; times out old executions.
msg::supervisor_actor spawn_supervisor(caf::actor_system& system, engine_context& ctx);

}  // namespace agentreg::actors
