#include "core/validate.hpp"

#include <cmath>

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

expected<unit> validate_id(const std::string& id, const char* what) {
  if (id.empty())
    return error{errc::invalid_argument, std::string{what} + " must not be empty"};
  if (id.size() > max_name_length)
    return error{errc::invalid_argument, std::string{what} + " is longer than 256 bytes"};
  return check_text(id, what);
}

expected<unit> validate(const agent_spec& spec) {
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
