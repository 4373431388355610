#pragma once

#include <chrono>
#include <string_view>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "core/types.hpp"

namespace agentreg::core {

/// Largest token count accepted in any field: more is a caller's bug.
constexpr std::int64_t max_tokens_per_execution = 1'000'000'000;
/// Largest cost accepted for one execution, in USD.
constexpr double max_cost_usd = 1'000'000;
/// Largest capacity of one agent (the index packs it in 12 bits).
constexpr std::int64_t max_agent_capacity = 4095;
/// Whether a load a caller reports can be an agent's load at all (0..4095):
/// checked before the load meets the index, whose sum with the leased slots
/// must not overflow.
constexpr bool load_in_range(std::int64_t load) { return load >= 0 && load <= max_agent_capacity; }
/// Longest id, type, model or tool name accepted.
constexpr std::size_t max_name_length = 256;

/// Longest interval, timeout or TTL a configuration may set (100 years):
/// any monotonic or wall-clock reading plus it stays far inside int64.
constexpr std::chrono::nanoseconds max_config_duration = std::chrono::hours{24 * 365 * 100};
/// Shortest period of a timer (sweep, summary snapshots, flushes): a shorter
/// one would keep an actor spinning on its own timer.
constexpr std::chrono::nanoseconds min_timer_period = std::chrono::milliseconds{1};

/// Checks a registry configuration as the registry's constructor does; the
/// message names the field at fault (and, for the price table, the file and
/// its field). Errors: invalid_argument.
expected<unit> validate(const registry_config& config);

/// What each metadata entry and skill counts toward max_agent_metadata_bytes
/// beyond its text: about the memory of its node.
constexpr std::size_t metadata_entry_overhead = 64;

/// Checks a spec before it touches any state: ids, capacity, numbers, text,
/// skills, the agent card (a JSON object), and the bytes of its free-form
/// data (metadata, card, skills; see registry_config::max_agent_metadata_bytes).
/// Errors: invalid_argument, invalid_capacity.
expected<unit> validate(const agent_spec& spec,
                        std::size_t max_metadata_bytes = registry_config{}.max_agent_metadata_bytes);

/// Checks completion metrics. Errors: invalid_tokens, invalid_cost,
/// invalid_score, invalid_argument.
expected<unit> validate(const execution_metrics& m);

/// Checks one tool usage report. Errors: invalid_argument.
expected<unit> validate_tool_call(const std::string& tool_name, const tool_call& call);

/// Checks that an enum given by a caller is one of its values (an integer
/// cast to the enum may be anything). Errors: invalid_status.
expected<unit> validate(agent_status s);
/// Errors: invalid_status.
expected<unit> validate(execution_status s);
/// Errors: invalid_argument.
expected<unit> validate(group_by g);

/// Checks an id given by a caller. Errors: invalid_argument.
expected<unit> validate_id(const std::string& id, const char* what);

}  // namespace agentreg::core
