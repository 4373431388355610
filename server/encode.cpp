#include "server/encode.hpp"

#include <ctime>
#include <cstdio>

namespace agentreg::http {

boost::json::value time_json(core::timestamp t) {
  if (t == 0)
    return nullptr;
  constexpr core::timestamp ns = 1'000'000'000;
  const core::timestamp within = ((t % ns) + ns) % ns;  // >= 0 before 1970 too
  const std::time_t seconds = static_cast<std::time_t>((t - within) / ns);
  const auto micros = static_cast<unsigned>(within / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  return boost::json::string{buf};
}

boost::json::object to_json(const core::agent& a) {
  boost::json::object o;
  o["agent_id"] = a.agent_id;
  o["agent_type"] = a.agent_type;
  o["llm_provider"] = a.llm_provider;
  o["model_name"] = a.model_name;
  o["temperature"] = a.temperature;
  o["max_tokens"] = a.max_tokens;
  o["max_capacity"] = a.max_capacity;
  boost::json::object meta;
  for (const auto& [k, v] : a.metadata)
    meta[k] = v;
  o["metadata"] = std::move(meta);
  boost::json::array skills;
  for (const auto& s : a.skills)
    skills.emplace_back(s);
  o["skills"] = std::move(skills);
  o["has_agent_card"] = !a.agent_card.empty();
  o["current_load"] = a.current_load;
  o["status"] = core::to_string(a.status);
  o["last_heartbeat"] = time_json(a.last_heartbeat);
  o["registered_at"] = time_json(a.registered_at);
  return o;
}

boost::json::object to_json(const core::execution& e) {
  boost::json::object o;
  o["execution_id"] = e.id;
  o["agent_id"] = e.agent_id;
  o["agent_type"] = e.agent_type;
  o["llm_provider"] = e.llm_provider;
  o["model_name"] = e.model_name;
  o["task_type"] = e.task_type;
  o["workflow_slug"] = e.workflow_slug;
  o["run_id"] = e.run_id;
  o["status"] = core::to_string(e.status);
  o["started_at"] = time_json(e.started_at);
  o["completed_at"] = time_json(e.completed_at);
  o["duration_ms"] = e.duration_ms;
  o["prompt_tokens"] = e.prompt_tokens;
  o["completion_tokens"] = e.completion_tokens;
  o["cached_tokens"] = e.cached_tokens;
  o["total_tokens"] = e.total_tokens;
  o["cost_micro_usd"] = e.cost_micro_usd;
  o["estimated_cost_usd"] = e.estimated_cost_usd();
  o["cost_from_price_table"] = e.cost_from_price_table;
  o["price_version"] = e.price_version;
  o["success_score"] = e.success_score ? boost::json::value(*e.success_score) : boost::json::value(nullptr);
  o["retry_count"] = e.retry_count;
  o["error_message"] = e.error_message;
  return o;
}

boost::json::object to_json(const core::tool_usage& t) {
  boost::json::object o;
  o["agent_id"] = t.agent_id;
  o["tool_name"] = t.tool_name;
  o["invocation_count"] = t.invocation_count;
  o["success_count"] = t.success_count;
  o["failure_count"] = t.failure_count;
  o["avg_duration_ms"] = t.avg_duration_ms;
  o["p50_duration_ms"] = t.p50_duration_ms;
  o["p95_duration_ms"] = t.p95_duration_ms;
  o["p99_duration_ms"] = t.p99_duration_ms;
  o["last_used_at"] = time_json(t.last_used_at);
  return o;
}

boost::json::object to_json(const core::performance& p) {
  boost::json::object o;
  o["dimension"] = core::to_string(p.dimension);
  o["key"] = p.key;
  o["total_executions"] = p.total_executions;
  o["successful_executions"] = p.successful_executions;
  o["failed_executions"] = p.failed_executions;
  o["timeout_executions"] = p.timeout_executions;
  o["success_rate"] = p.success_rate;
  o["avg_duration_ms"] = p.avg_duration_ms;
  o["p50_duration_ms"] = p.p50_duration_ms;
  o["p95_duration_ms"] = p.p95_duration_ms;
  o["p99_duration_ms"] = p.p99_duration_ms;
  o["total_tokens_used"] = p.total_tokens_used;
  o["total_cost_micro_usd"] = p.total_cost_micro_usd;
  o["total_cost_usd"] = p.total_cost_usd;
  o["avg_cost_per_execution"] = p.avg_cost_per_execution;
  o["total_retries"] = p.total_retries;
  o["last_execution_at"] = time_json(p.last_execution_at);
  return o;
}

boost::json::object to_json(const core::sweep_report& r) {
  boost::json::object o;
  o["at"] = time_json(r.at);
  o["agents_checked"] = r.agents_checked;
  o["stale"] = r.stale;
  o["evicted"] = r.evicted;
  o["held_back"] = r.held_back;
  o["in_grace_period"] = r.in_grace_period;
  o["degraded"] = r.degraded;
  o["leases_reclaimed"] = r.leases_reclaimed;
  o["executions_timed_out"] = r.executions_timed_out;
  o["sweep_ns"] = r.sweep_ns;
  return o;
}

boost::json::object to_json(const core::engine_stats& s) {
  boost::json::object o;
  o["agents"] = s.agents;
  o["online"] = s.online;
  o["busy"] = s.busy;
  o["offline"] = s.offline;
  o["paused"] = s.paused;
  o["leases_held"] = s.leases_held;
  o["running_executions"] = s.running_executions;
  o["completed_executions"] = s.completed_executions;
  o["tool_calls"] = s.tool_calls;
  o["evictions_total"] = s.evictions_total;
  o["evictions_held_total"] = s.evictions_held_total;
  o["leases_expired_total"] = s.leases_expired_total;
  o["agent_actor_restarts"] = s.agent_actor_restarts;
  o["sweeps"] = s.sweeps;
  o["degraded"] = s.degraded;
  o["in_grace_period"] = s.in_grace_period;
  o["last_sweep"] = to_json(s.last_sweep);
  boost::json::object p;
  p["enabled"] = s.persistence_enabled;
  p["backlog"] = s.persistence_backlog;
  p["batches"] = s.persistence_batches;
  p["rows"] = s.persistence_rows;
  p["retries"] = s.persistence_retries;
  p["dead_letters"] = s.persistence_dead_letters;
  p["lost"] = s.persistence_lost;
  p["writer_restarts"] = s.persistence_writer_restarts;
  p["gate_refusals"] = s.persistence_gate_refusals;
  p["last_error"] = s.persistence_last_error;
  o["persistence"] = std::move(p);
  return o;
}

}  // namespace agentreg::http
