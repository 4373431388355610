#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/clock.hpp"
#include "core/types.hpp"
#include "core/uuid.hpp"

namespace agentreg::bench {

/// The design the registry's execution path must beat: the obvious locked
/// one. Running executions live in a `std::unordered_map` keyed by their id
/// text, next to per-agent running totals, all behind one `std::mutex`.
///
/// start() makes a UUID with the engine's generator (core::make_uuid and
/// core::to_string), so both sides pay for ids alike, and stores the same
/// record the engine stores (a core::execution filled with the agent's type,
/// provider and model). complete() takes the record out, finishes it as the
/// engine does (status, tokens, micro-dollars, duration) and adds it to the
/// agent's totals: counts by status, tokens, micro-dollars, duration sum.
///
/// Everything that needs no shared state (the id, the clock, the record's
/// strings, the rounding of the cost) is done outside the lock, so the
/// baseline is measured at its best: the lock covers the map operations and
/// the additions only.
///
/// Thread-safe: every shared access holds the one mutex.
class mutex_map_baseline {
 public:
  /// Running totals of one agent's completed executions.
  struct totals {
    std::int64_t total = 0, success = 0, failed = 0, timeout = 0;
    std::int64_t tokens = 0, cost_micro_usd = 0, duration_sum_ms = 0;
  };

  /// Adds an agent (a later add of the same id replaces its spec).
  void add_agent(const core::agent_spec& spec) {
    std::lock_guard guard{mutex_};
    agents_[spec.agent_id].spec = spec;
  }

  /// Starts an execution on a known agent; answers its id, or nullopt for an
  /// unknown agent.
  std::optional<std::string> start(const std::string& agent_id, const core::execution_request& request) {
    core::execution e;
    e.id = core::to_string(core::make_uuid());
    e.agent_id = agent_id;
    e.task_type = request.task_type;
    e.workflow_slug = request.workflow_slug;
    e.run_id = request.run_id;
    e.started_at = clock_.now();
    std::string answer = e.id;
    std::lock_guard guard{mutex_};
    const auto agent = agents_.find(agent_id);
    if (agent == agents_.end())
      return std::nullopt;
    // The spec's strings are copied under the lock: they belong to the map.
    e.agent_type = agent->second.spec.agent_type;
    e.llm_provider = agent->second.spec.llm_provider;
    e.model_name = agent->second.spec.model_name;
    std::string key = e.id;
    running_.emplace(std::move(key), std::move(e));
    return answer;
  }

  /// Completes a running execution; false if no execution has this id.
  bool complete(const std::string& execution_id, core::execution_status status,
                const core::execution_metrics& metrics) {
    const core::timestamp now = clock_.now();
    const std::int64_t prompt = metrics.prompt_tokens.value_or(0);
    const std::int64_t completion = metrics.completion_tokens.value_or(0);
    const std::int64_t tokens = metrics.total_tokens.value_or(prompt + completion);
    const std::int64_t cost = metrics.estimated_cost_usd ? std::llround(*metrics.estimated_cost_usd * 1e6) : 0;
    decltype(running_)::node_type node;
    {
      std::lock_guard guard{mutex_};
      node = running_.extract(execution_id);
      if (node.empty())
        return false;
      auto& e = node.mapped();
      e.status = status;
      e.completed_at = now;
      e.duration_ms = std::max<std::int64_t>(0, (now - e.started_at) / core::ns_per_ms);
      e.prompt_tokens = prompt;
      e.completion_tokens = completion;
      e.total_tokens = tokens;
      e.cost_micro_usd = cost;
      auto& t = agents_[e.agent_id].sums;
      ++t.total;
      t.success += status == core::execution_status::success ? 1 : 0;
      t.failed += status == core::execution_status::failed ? 1 : 0;
      t.timeout += status == core::execution_status::timeout ? 1 : 0;
      t.tokens += tokens;
      t.cost_micro_usd += cost;
      t.duration_sum_ms += e.duration_ms;
    }
    // The node (the record and its strings) is freed here, outside the lock.
    return true;
  }

  /// The totals of every agent summed (for the correctness check).
  [[nodiscard]] totals sum() const {
    std::lock_guard guard{mutex_};
    totals all;
    for (const auto& [id, a] : agents_) {
      all.total += a.sums.total;
      all.success += a.sums.success;
      all.failed += a.sums.failed;
      all.timeout += a.sums.timeout;
      all.tokens += a.sums.tokens;
      all.cost_micro_usd += a.sums.cost_micro_usd;
      all.duration_sum_ms += a.sums.duration_sum_ms;
    }
    return all;
  }

  /// Executions started and not completed.
  [[nodiscard]] std::size_t running() const {
    std::lock_guard guard{mutex_};
    return running_.size();
  }

 private:
  struct agent_entry {
    core::agent_spec spec;
    totals sums;
  };

  const core::system_clock clock_;  // the engine's default clock: same cost per read
  mutable std::mutex mutex_;
  std::unordered_map<std::string, core::execution> running_;
  std::unordered_map<std::string, agent_entry> agents_;
};

}  // namespace agentreg::bench
