#pragma once

#include <caf/fwd.hpp>

#include "actors/context.hpp"
#include "messages/aggregator.hpp"

namespace agentreg::actors {

/// Spawns the aggregator: the single owner of every performance summary
/// (per agent, type, model, task type, workflow) and of tool usage per
/// (agent, tool). Completed executions and tool calls reach it one-way.
msg::aggregator_actor spawn_aggregator(caf::actor_system& system, engine_context& ctx);

}  // namespace agentreg::actors
