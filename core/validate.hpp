#pragma once

#include <string_view>

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
/// Longest id, type, model or tool name accepted.
constexpr std::size_t max_name_length = 256;

/// Checks a spec before it touches any state. Errors: invalid_argument,
/// invalid_capacity.
expected<unit> validate(const agent_spec& spec);

/// Checks completion metrics. Errors: invalid_tokens, invalid_cost,
/// invalid_score, invalid_argument.
expected<unit> validate(const execution_metrics& m);

/// Checks one tool usage report. Errors: invalid_argument.
expected<unit> validate_tool_call(const std::string& tool_name, const tool_call& call);

/// Checks an id given by a caller. Errors: invalid_argument.
expected<unit> validate_id(const std::string& id, const char* what);

}  // namespace agentreg::core
