#include "core/summary.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/saturating.hpp"

namespace agentreg::core {

void performance_accumulator::add(const execution& e) {
  // Saturating sums: one execution's figures are bounded by validation, but
  // their totals over a long life are not.
  total_ = saturating_add(total_, 1);
  switch (e.status) {
    case execution_status::success: success_ = saturating_add(success_, 1); break;
    case execution_status::failed: failed_ = saturating_add(failed_, 1); break;
    case execution_status::timeout: timeout_ = saturating_add(timeout_, 1); break;
    case execution_status::running: break;
  }
  duration_sum_ms_ = saturating_add(duration_sum_ms_, e.duration_ms);
  tokens_ = saturating_add(tokens_, e.total_tokens);
  cost_micro_ = saturating_add(cost_micro_, e.cost_micro_usd);
  retries_ = saturating_add(retries_, e.retry_count);
  if (e.completed_at > last_)
    last_ = e.completed_at;
  durations_.add(static_cast<double>(e.duration_ms));
}

void performance_accumulator::merge(const performance_accumulator& other) {
  total_ = saturating_add(total_, other.total_);
  success_ = saturating_add(success_, other.success_);
  failed_ = saturating_add(failed_, other.failed_);
  timeout_ = saturating_add(timeout_, other.timeout_);
  duration_sum_ms_ = saturating_add(duration_sum_ms_, other.duration_sum_ms_);
  tokens_ = saturating_add(tokens_, other.tokens_);
  cost_micro_ = saturating_add(cost_micro_, other.cost_micro_);
  retries_ = saturating_add(retries_, other.retries_);
  if (other.last_ > last_)
    last_ = other.last_;
  durations_.merge(other.durations_);
}

performance performance_accumulator::snapshot(group_by dimension, const std::string& key) const {
  performance p;
  p.dimension = dimension;
  p.key = key;
  p.total_executions = total_;
  p.successful_executions = success_;
  p.failed_executions = failed_;
  p.timeout_executions = timeout_;
  p.total_tokens_used = tokens_;
  p.total_cost_micro_usd = cost_micro_;
  p.total_cost_usd = static_cast<double>(cost_micro_) / 1e6;
  p.total_retries = retries_;
  p.last_execution_at = last_;
  if (total_ > 0) {
    p.success_rate = static_cast<double>(success_) / static_cast<double>(total_);
    p.avg_duration_ms = static_cast<double>(duration_sum_ms_) / static_cast<double>(total_);
    p.avg_cost_per_execution = p.total_cost_usd / static_cast<double>(total_);
    p.p50_duration_ms = durations_.quantile(0.50);
    p.p95_duration_ms = durations_.quantile(0.95);
    p.p99_duration_ms = durations_.quantile(0.99);
  }
  return p;
}

void performance_accumulator::restore(const performance& p, log_histogram durations) {
  total_ = p.total_executions;
  success_ = p.successful_executions;
  failed_ = p.failed_executions;
  timeout_ = p.timeout_executions;
  duration_sum_ms_ = static_cast<std::int64_t>(p.avg_duration_ms * static_cast<double>(p.total_executions) + 0.5);
  tokens_ = p.total_tokens_used;
  cost_micro_ = p.total_cost_micro_usd;
  retries_ = p.total_retries;
  last_ = p.last_execution_at;
  durations_ = std::move(durations);
}

performance_accumulator& summary_set::slot(table& t, std::string_view key) {
  // Heterogeneous find first: the key is copied only when it is new.
  if (auto it = t.find(key); it != t.end())
    return it->second;
  return t.try_emplace(std::string{key}).first->second;
}

namespace {

// An execution's key along each summary dimension, in group_by order: the
// one order summary_set's tables and summary_delta's combined keys share.
std::array<const std::string*, summary_set::dimensions> keys_of(const execution& e) {
  return {&e.agent_id, &e.agent_type, &e.model_name, &e.task_type, &e.workflow_slug};
}

}  // namespace

void summary_set::add(const execution& e) {
  const auto keys = keys_of(e);
  for (std::size_t d = 0; d < dimensions; ++d)
    slot(tables_[d], *keys[d]).add(e);
}

void summary_delta::add(const execution& e) {
  key_.clear();
  for (const auto* k : keys_of(e)) {
    const auto n = static_cast<std::uint32_t>(k->size());
    key_.append(reinterpret_cast<const char*>(&n), sizeof n).append(*k);
  }
  auto it = combinations_.find(std::string_view{key_});
  if (it == combinations_.end())
    it = combinations_.try_emplace(key_).first;
  it->second.add(e);
}

void summary_delta::fold_into(summary_set& into) const {
  for (const auto& [key, acc] : combinations_) {
    std::size_t at = 0;
    for (std::size_t d = 0; d < summary_set::dimensions; ++d) {
      std::uint32_t n = 0;
      std::memcpy(&n, key.data() + at, sizeof n);
      at += sizeof n;
      summary_set::slot(into.tables_[d], std::string_view{key}.substr(at, n)).merge(acc);
      at += n;
    }
  }
}

void summary_set::merge(const summary_set& other) {
  for (std::size_t d = 0; d < dimensions; ++d)
    for (const auto& [key, acc] : other.tables_[d])
      slot(tables_[d], key).merge(acc);
}

const summary_set::table& summary_set::of(group_by dimension) const {
  static const table none;
  const auto d = static_cast<std::size_t>(dimension);
  return d < dimensions ? tables_[d] : none;
}

performance_accumulator& summary_set::at(group_by dimension, const std::string& key) {
  return slot(tables_.at(static_cast<std::size_t>(dimension)), key);
}

void tool_accumulator::add(const tool_call_record& r) {
  const std::int64_t n = r.call.success_count + r.call.failure_count;
  invocations_ = saturating_add(invocations_, n);
  success_ = saturating_add(success_, r.call.success_count);
  failure_ = saturating_add(failure_, r.call.failure_count);
  duration_sum_ms_ += r.call.duration_ms * static_cast<double>(n);
  durations_.add(r.call.duration_ms, static_cast<std::uint64_t>(n));
  if (r.at > last_)
    last_ = r.at;
}

tool_usage tool_accumulator::snapshot(const std::string& agent_id, const std::string& tool) const {
  tool_usage u;
  u.agent_id = agent_id;
  u.tool_name = tool;
  u.invocation_count = invocations_;
  u.success_count = success_;
  u.failure_count = failure_;
  u.last_used_at = last_;
  if (invocations_ > 0) {
    u.avg_duration_ms = duration_sum_ms_ / static_cast<double>(invocations_);
    u.p50_duration_ms = durations_.quantile(0.50);
    u.p95_duration_ms = durations_.quantile(0.95);
    u.p99_duration_ms = durations_.quantile(0.99);
  }
  return u;
}

void tool_accumulator::merge(const tool_accumulator& other) {
  invocations_ = saturating_add(invocations_, other.invocations_);
  success_ = saturating_add(success_, other.success_);
  failure_ = saturating_add(failure_, other.failure_);
  duration_sum_ms_ += other.duration_sum_ms_;
  last_ = std::max(last_, other.last_);
  durations_.merge(other.durations_);
}

void tool_accumulator::restore(const tool_usage& u, log_histogram durations) {
  invocations_ = u.invocation_count;
  success_ = u.success_count;
  failure_ = u.failure_count;
  duration_sum_ms_ = u.avg_duration_ms * static_cast<double>(u.invocation_count);
  last_ = u.last_used_at;
  durations_ = std::move(durations);
}

}  // namespace agentreg::core
