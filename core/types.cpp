#include "core/types.hpp"

#include "core/error.hpp"

namespace agentreg::core {

const char* to_string(errc e) {
  switch (e) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid_argument";
    case errc::unknown_agent: return "unknown_agent";
    case errc::unknown_type: return "unknown_type";
    case errc::unknown_execution: return "unknown_execution";
    case errc::already_completed: return "already_completed";
    case errc::invalid_capacity: return "invalid_capacity";
    case errc::capacity_below_load: return "capacity_below_load";
    case errc::load_out_of_range: return "load_out_of_range";
    case errc::invalid_status: return "invalid_status";
    case errc::invalid_tokens: return "invalid_tokens";
    case errc::invalid_cost: return "invalid_cost";
    case errc::invalid_score: return "invalid_score";
    case errc::no_capacity: return "no_capacity";
    case errc::lease_not_held: return "lease_not_held";
    case errc::persistence_backlog: return "persistence_backlog";
    case errc::shutting_down: return "shutting_down";
    case errc::internal: return "internal";
  }
  return "unknown";
}

namespace {
constexpr const char* agent_status_names[] = {"online", "offline", "paused", "busy"};
constexpr const char* execution_status_names[] = {"running", "success", "failed", "timeout"};
constexpr const char* group_by_names[] = {"agent", "agent_type", "model", "task_type", "workflow"};

template <class Enum, std::size_t N>
std::optional<Enum> parse_name(const char* const (&names)[N], std::string_view s) {
  for (std::size_t i = 0; i < N; ++i)
    if (s == names[i])
      return static_cast<Enum>(i);
  return std::nullopt;
}
}  // namespace

const char* to_string(agent_status s) { return agent_status_names[static_cast<int>(s) & 3]; }
const char* to_string(execution_status s) { return execution_status_names[static_cast<int>(s) & 3]; }
const char* to_string(group_by g) {
  return static_cast<int>(g) < 5 ? group_by_names[static_cast<int>(g)] : "unknown";
}
std::optional<agent_status> parse_agent_status(std::string_view s) {
  return parse_name<agent_status>(agent_status_names, s);
}
std::optional<execution_status> parse_execution_status(std::string_view s) {
  return parse_name<execution_status>(execution_status_names, s);
}
std::optional<group_by> parse_group_by(std::string_view s) { return parse_name<group_by>(group_by_names, s); }

}  // namespace agentreg::core
