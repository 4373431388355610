#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "actors/context.hpp"
#include "messages/agent.hpp"

namespace agentreg::actors {

/// Spawns the actor of one agent: the single writer of the agent's spec,
/// status, reported load and heartbeat, which it publishes in `rec` and the
/// index. Callable from any thread.
msg::agent_actor spawn_agent(caf::actor_system& system, std::shared_ptr<agent_record> rec, engine_context& ctx);

/// Sets the agent's heartbeat to now: the wall-clock time in its record (as
/// reported), the monotonic time in the index (where the stale sweep
/// measures staleness). Owner actor only (and the registering thread, before
/// the agent is published).
void touch(agent_record& rec, index::agent_ref ref, engine_context& ctx);

}  // namespace agentreg::actors
