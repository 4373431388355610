#include "core/validate.hpp"

#include <cmath>

#include <boost/json.hpp>

#include "core/price_table.hpp"
#include "core/uuid.hpp"

namespace agentreg::core {

namespace {

expected<unit> check_tokens(const std::optional<std::int64_t>& v, const char* field) {
  if (v && (*v < 0 || *v > max_tokens_per_execution))
    return error{errc::invalid_tokens, std::string{field} + " must be within 0..10^9, got " + std::to_string(*v)};
  return unit{};
}

}  // namespace

namespace {
expected<unit> check_text(std::string_view s, const char* what) {
  if (!is_clean_text(s))
    return error{errc::invalid_argument, std::string{what} + " must be valid UTF-8 without NUL bytes"};
  return unit{};
}
}  // namespace

namespace {

error bad_config(const char* field, const std::string& why) {
  return error{errc::invalid_argument, std::string{"config."} + field + " " + why};
}

// Every duration lies in [least, max_config_duration].
expected<unit> check_duration(std::chrono::nanoseconds d, const char* field, std::chrono::nanoseconds least) {
  if (d < least || d > max_config_duration)
    return bad_config(field, "must be within " + std::to_string(least.count()) + " ns..100 years, got " +
                                 std::to_string(d.count()) + " ns");
  return unit{};
}

// A fraction in (0, 1]: NaN fails both comparisons, so it is refused too.
expected<unit> check_fraction(double f, const char* field) {
  if (!(f > 0 && f <= 1))
    return bad_config(field, "must be a number in (0, 1], got " + std::to_string(f));
  return unit{};
}

expected<unit> check_count(std::size_t n, const char* field, std::size_t least, std::size_t most) {
  if (n < least || n > most)
    return bad_config(field, "must be within " + std::to_string(least) + ".." + std::to_string(most) + ", got " +
                                 std::to_string(n));
  return unit{};
}

}  // namespace

expected<unit> validate(const registry_config& c) {
  using std::chrono::nanoseconds;
  const std::initializer_list<expected<unit>> checks = {
      check_duration(c.stale_timeout, "stale_timeout", nanoseconds{1}),
      check_duration(c.heartbeat_interval, "heartbeat_interval", min_timer_period),
      check_duration(c.performance_update_interval, "performance_update_interval", min_timer_period),
      check_duration(c.execution_timeout, "execution_timeout", nanoseconds{1}),
      c.start_grace ? check_duration(*c.start_grace, "start_grace", nanoseconds{0}) : unit{},
      check_fraction(c.max_eviction_fraction, "max_eviction_fraction"),
      check_fraction(c.degraded_threshold, "degraded_threshold"),
      check_count(c.scheduler_threads, "scheduler_threads", 0, 1024),
      check_count(c.batch_size, "batch_size", 1, 1'000'000),
      check_duration(c.flush_interval, "flush_interval", min_timer_period),
      check_count(c.writer_connections, "writer_connections", 1, 64),
      check_count(c.buffer_limit, "buffer_limit", 1, std::size_t{1} << 40),
      check_duration(c.persistence_request_timeout, "persistence_request_timeout", min_timer_period),
      check_duration(c.shutdown_flush_timeout, "shutdown_flush_timeout", nanoseconds{0}),
      check_count(c.max_agent_metadata_bytes, "max_agent_metadata_bytes", 1, std::size_t{64} << 20),
      // The key sets allocate 2 slots per key up front: 16 MiB each at most.
      check_count(c.max_summary_keys, "max_summary_keys", 1, 1'000'000),
      check_count(c.max_tools_per_agent, "max_tools_per_agent", 1, 1'000'000),
      // index::priority_index::max_types_limit (core does not see index/).
      check_count(c.max_agent_types, "max_agent_types", 1, std::size_t{1} << 16),
      // As agentregd's --change-log-capacity (a change costs ~200 bytes).
      check_count(c.change_log_capacity, "change_log_capacity", 1, 100'000'000),
  };
  for (const auto& ok : checks)
    if (!ok)
      return ok;
  if (c.scheduler_policy != "sharing" && c.scheduler_policy != "stealing")
    return bad_config("scheduler_policy", "must be \"sharing\" or \"stealing\", got \"" + c.scheduler_policy + "\"");
  if (c.on_full != backlog_policy::block && c.on_full != backlog_policy::refuse)
    return bad_config("on_full", "must be block or refuse, got " + std::to_string(static_cast<unsigned>(c.on_full)));
  if (c.database_url && c.database_url->empty())
    return bad_config("database_url", "is set but empty (leave it unset to run in memory only)");
  if (!c.price_table_path.empty())
    if (auto t = price_table::load(c.price_table_path); !t)
      return bad_config("price_table_path", "is not a usable price table: " + t.error().message);
  return unit{};
}

expected<unit> validate_id(const std::string& id, const char* what) {
  if (id.empty())
    return error{errc::invalid_argument, std::string{what} + " must not be empty"};
  if (id.size() > max_name_length)
    return error{errc::invalid_argument, std::string{what} + " is longer than 256 bytes"};
  return check_text(id, what);
}

expected<unit> validate(const agent_spec& spec, std::size_t max_metadata_bytes) {
  if (auto ok = validate_id(spec.agent_id, "agent_id"); !ok)
    return ok;
  if (auto ok = validate_id(spec.agent_type, "agent_type"); !ok)
    return ok;
  if (spec.max_capacity < 1 || spec.max_capacity > max_agent_capacity)
    return error{errc::invalid_capacity,
                 "max_capacity must be within 1..4095, got " + std::to_string(spec.max_capacity)};
  if (!std::isfinite(spec.temperature) || spec.temperature < 0 || spec.temperature > 10)
    return error{errc::invalid_argument, "temperature must be a finite number within 0..10"};
  if (spec.max_tokens < 0 || spec.max_tokens > max_tokens_per_execution)
    return error{errc::invalid_argument, "max_tokens must be within 0..10^9"};
  if (spec.llm_provider.size() > max_name_length || spec.model_name.size() > max_name_length)
    return error{errc::invalid_argument, "llm_provider and model_name are limited to 256 bytes"};
  if (auto ok = check_text(spec.llm_provider, "llm_provider"); !ok)
    return ok;
  if (auto ok = check_text(spec.model_name, "model_name"); !ok)
    return ok;
  for (const auto& [key, value] : spec.metadata)
    if (!is_clean_text(key) || !is_clean_text(value) || key.size() > max_name_length || value.size() > 64 * 1024)
      return error{errc::invalid_argument,
                   "metadata keys (<= 256 bytes) and values (<= 64 KiB) must be valid UTF-8 without NUL bytes"};
  for (const auto& skill : spec.skills)
    if (auto ok = validate_id(skill, "each skill"); !ok)
      return ok;
  // Bytes first: the card is parsed only once it is known to be small enough.
  std::size_t bytes = spec.agent_card.size();
  for (const auto& [key, value] : spec.metadata)
    bytes += key.size() + value.size() + metadata_entry_overhead;
  for (const auto& skill : spec.skills)
    bytes += skill.size() + metadata_entry_overhead;
  if (bytes > max_metadata_bytes)
    return error{errc::invalid_argument, "metadata, agent_card and skills of agent " + spec.agent_id + " take " +
                                             std::to_string(bytes) + " bytes, more than max_agent_metadata_bytes (" +
                                             std::to_string(max_metadata_bytes) + ")"};
  if (!spec.agent_card.empty()) {
    boost::system::error_code ec;
    const auto card = boost::json::parse(spec.agent_card, ec);
    if (ec || !card.is_object())
      return error{errc::invalid_argument, "agent_card must be a JSON object (an A2A Agent Card)"};
  }
  return unit{};
}

expected<unit> validate(agent_status s) {
  if (static_cast<unsigned>(s) > static_cast<unsigned>(agent_status::busy))
    return error{errc::invalid_status, "agent status " + std::to_string(static_cast<unsigned>(s)) +
                                           " is none of online, offline, paused, busy"};
  return unit{};
}

expected<unit> validate(execution_status s) {
  if (static_cast<unsigned>(s) > static_cast<unsigned>(execution_status::timeout))
    return error{errc::invalid_status, "execution status " + std::to_string(static_cast<unsigned>(s)) +
                                           " is none of running, success, failed, timeout"};
  return unit{};
}

expected<unit> validate(group_by g) {
  if (static_cast<unsigned>(g) > static_cast<unsigned>(group_by::workflow))
    return error{errc::invalid_argument, "group_by " + std::to_string(static_cast<unsigned>(g)) +
                                             " is none of agent, agent_type, model, task_type, workflow"};
  return unit{};
}

expected<unit> validate(const execution_metrics& m) {
  for (auto [v, name] : {std::pair{&m.prompt_tokens, "prompt_tokens"},
                         std::pair{&m.completion_tokens, "completion_tokens"},
                         std::pair{&m.cached_tokens, "cached_tokens"}, std::pair{&m.total_tokens, "total_tokens"}})
    if (auto ok = check_tokens(*v, name); !ok)
      return ok;
  if (m.cached_tokens && *m.cached_tokens > m.prompt_tokens.value_or(0))
    return error{errc::invalid_tokens, "cached_tokens cannot exceed prompt_tokens"};
  if (m.estimated_cost_usd) {
    const double c = *m.estimated_cost_usd;
    if (!std::isfinite(c) || c < 0 || c > max_cost_usd)
      return error{errc::invalid_cost, "estimated_cost_usd must be a finite number within 0..1e6"};
  }
  if (m.success_score) {
    const double s = *m.success_score;
    if (!std::isfinite(s) || s < 0 || s > 1)
      return error{errc::invalid_score, "success_score must be within 0..1"};
  }
  if (m.retry_count < 0 || m.retry_count > 1'000'000)
    return error{errc::invalid_argument, "retry_count must be within 0..10^6"};
  if (m.error_message.size() > 64 * 1024)
    return error{errc::invalid_argument, "error_message is limited to 64 KiB"};
  return check_text(m.error_message, "error_message");
}

expected<unit> validate_tool_call(const std::string& tool_name, const tool_call& call) {
  if (auto ok = validate_id(tool_name, "tool_name"); !ok)
    return ok;
  if (call.success_count < 0 || call.failure_count < 0 || call.success_count > 1'000'000 ||
      call.failure_count > 1'000'000)
    return error{errc::invalid_argument, "success_count and failure_count must be within 0..10^6"};
  if (call.success_count + call.failure_count == 0)
    return error{errc::invalid_argument, "success_count + failure_count must be at least 1"};
  if (!std::isfinite(call.duration_ms) || call.duration_ms < 0 || call.duration_ms > 1e10)
    return error{errc::invalid_argument, "duration_ms must be a finite number within 0..1e10"};
  if (!call.execution_id.empty() && !parse_uuid(call.execution_id))
    return error{errc::invalid_argument, "execution_id must be a UUID"};
  return unit{};
}

}  // namespace agentreg::core
