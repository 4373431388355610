#pragma once
// The rows of agentreg-bench ingest, shared by the facade runs and the two
// database baselines so that every variant writes the same executions: the
// same agents, types, models, task, workflow, tokens and cost.

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "agentreg/registry.hpp"
#include "core/uuid.hpp"

namespace agentreg::bench::ingest {

/// Agents the executions are spread over, round-robin.
constexpr std::uint32_t agent_count = 100;
constexpr std::array<const char*, 4> agent_types{"planner", "coder", "reviewer", "researcher"};
constexpr std::array<const char*, 4> models{"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama-3-70b"};
constexpr const char* llm_provider = "bench";
constexpr const char* task_type = "summarize";
constexpr const char* workflow_slug = "bench-flow";
/// What the baselines write as price_version (the engine writes its price
/// table's version, a string of similar length).
constexpr const char* price_version = "2024-10";

// Each completion reports tokens and an explicit cost, so the engine does no
// price-table lookup (the baselines have no price table).
constexpr std::int64_t prompt_tokens = 120;
constexpr std::int64_t completion_tokens = 80;
constexpr std::int64_t total_tokens = prompt_tokens + completion_tokens;
constexpr double cost_usd = 0.0021;
constexpr std::int64_t cost_micro_usd = 2100;
constexpr std::int64_t duration_ms = 3;

/// Zero-padded, so ids sort as numbers and all have the same length.
inline std::string agent_id(std::uint32_t i) {
  char id[24];
  std::snprintf(id, sizeof id, "agent-%04u", i);
  return id;
}

inline agent_spec spec_of(std::uint32_t i) {
  agent_spec s;
  s.agent_id = agent_id(i);
  s.agent_type = agent_types[i % agent_types.size()];
  s.llm_provider = llm_provider;
  s.model_name = models[(i / agent_types.size()) % models.size()];
  s.max_capacity = 4;
  return s;
}

inline execution_request request_of() {
  execution_request r;
  r.task_type = task_type;
  r.workflow_slug = workflow_slug;
  return r;
}

inline execution_metrics metrics_of() {
  execution_metrics m;
  m.prompt_tokens = prompt_tokens;
  m.completion_tokens = completion_tokens;
  m.estimated_cost_usd = cost_usd;
  return m;
}

/// The completed row the engine writes for one pair on agent `i`, with a new
/// UUID, completed at `now` (nanoseconds since the epoch).
inline execution completed_row(std::uint32_t i, std::int64_t now) {
  const agent_spec s = spec_of(i);
  execution e;
  e.id = core::to_string(core::make_uuid());
  e.agent_id = s.agent_id;
  e.agent_type = s.agent_type;
  e.llm_provider = s.llm_provider;
  e.model_name = s.model_name;
  e.task_type = task_type;
  e.workflow_slug = workflow_slug;
  e.status = execution_status::success;
  e.started_at = now - duration_ms * 1'000'000;
  e.completed_at = now;
  e.duration_ms = duration_ms;
  e.prompt_tokens = prompt_tokens;
  e.completion_tokens = completion_tokens;
  e.total_tokens = total_tokens;
  e.cost_micro_usd = cost_micro_usd;
  e.price_version = price_version;
  return e;
}

/// The system clock in nanoseconds since the epoch, as the engine stamps.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Microseconds since the epoch (timestamptz's precision), rounding down, as
/// the engine's writer sends times.
inline std::int64_t micros_of(std::int64_t ns) { return ns / 1000 - (ns % 1000 < 0 ? 1 : 0); }

/// SQL turning a bigint microsecond expression into a timestamptz exactly:
/// the expression the engine's writer uses (persistence/pg_common.hpp, which
/// is private to persistence/), so the baselines pay the same conversion.
inline std::string sql_timestamp(const std::string& micros) {
  return "(timestamptz 'epoch' + (" + micros + ") * interval '1 microsecond')";
}

}  // namespace agentreg::bench::ingest
