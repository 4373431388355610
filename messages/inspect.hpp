#pragma once

#include <caf/meta/type_name.hpp>

#include "core/records.hpp"
#include "core/types.hpp"

// inspect() for every core value type that travels in a message (CAF 0.17
// style). They live in the types' namespace so that CAF finds them by ADL.
namespace agentreg::core {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_spec& x) {
  return f(caf::meta::type_name("agent_spec"), x.agent_id, x.agent_type, x.llm_provider, x.model_name,
           x.temperature, x.max_tokens, x.max_capacity, x.metadata, x.agent_card, x.skills);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent& x) {
  return f(caf::meta::type_name("agent"), static_cast<agent_spec&>(x), x.current_load, x.status,
           x.last_heartbeat, x.registered_at);
}

// success_score (a std::optional, which CAF 0.17 cannot inspect) is left out:
// it travels in local messages, which are never serialized; a message that
// crossed a network would lose it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, execution& x) {
  return f(caf::meta::type_name("execution"), x.id, x.agent_id, x.agent_type, x.llm_provider, x.model_name,
           x.task_type, x.workflow_slug, x.run_id, x.status, x.started_at, x.completed_at, x.duration_ms,
           x.prompt_tokens, x.completion_tokens, x.cached_tokens, x.total_tokens, x.cost_micro_usd,
           x.cost_from_price_table, x.price_version, x.retry_count, x.error_message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_call& x) {
  return f(caf::meta::type_name("tool_call"), x.execution_id, x.success_count, x.failure_count, x.duration_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_call_record& x) {
  return f(caf::meta::type_name("tool_call_record"), x.id, x.agent_id, x.tool_name, x.call, x.at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_usage& x) {
  return f(caf::meta::type_name("tool_usage"), x.agent_id, x.tool_name, x.invocation_count, x.success_count,
           x.failure_count, x.avg_duration_ms, x.p50_duration_ms, x.p95_duration_ms, x.p99_duration_ms,
           x.last_used_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, performance& x) {
  return f(caf::meta::type_name("performance"), x.dimension, x.key, x.total_executions, x.successful_executions,
           x.failed_executions, x.timeout_executions, x.success_rate, x.avg_duration_ms, x.p50_duration_ms,
           x.p95_duration_ms, x.p99_duration_ms, x.total_tokens_used, x.total_cost_micro_usd, x.total_cost_usd,
           x.avg_cost_per_execution, x.total_retries, x.last_execution_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sweep_report& x) {
  return f(caf::meta::type_name("sweep_report"), x.at, x.agents_checked, x.stale, x.evicted, x.held_back,
           x.in_grace_period, x.degraded, x.leases_reclaimed, x.executions_timed_out, x.sweep_ns);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_snapshot& x) {
  return f(caf::meta::type_name("agent_snapshot"), x.agent, x.unregistered, x.unregistered_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_usage_snapshot& x) {
  return f(caf::meta::type_name("tool_usage_snapshot"), x.usage, x.durations, x.taken_at, x.drain);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, performance_snapshot& x) {
  return f(caf::meta::type_name("performance_snapshot"), x.summary, x.durations, x.taken_at, x.drain);
}

}  // namespace agentreg::core
