#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/types.hpp"

namespace agentreg::core {

/// One heartbeat of registry::heartbeat_many: the agent and, optionally,
/// the load it reports.
struct heartbeat_item {
  std::string agent_id;
  std::optional<std::int64_t> current_load;
};

/// What a heartbeat of registry::heartbeat_many left: the agent's live
/// state after it (the spec is not copied: a batch answers many agents).
struct heartbeat_ack {
  agent_status status = agent_status::online;
  std::int64_t current_load = 0;
  timestamp last_heartbeat = 0;
};

}  // namespace agentreg::core
