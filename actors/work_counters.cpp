#include "actors/work_counters.hpp"

#include <atomic>
#include <map>
#include <tuple>

namespace agentreg::actors {

namespace {

// The calling thread's lane: threads take them in turn.
std::size_t my_lane() {
  static std::atomic<std::size_t> next{0};
  // relaxed: only spreads threads over lanes.
  thread_local const std::size_t lane = next.fetch_add(1, std::memory_order_relaxed) % work_counters::lanes;
  return lane;
}

}  // namespace

bool work_counters::admit(std::unordered_set<std::string>& admitted, const std::string& key) {
  std::lock_guard guard{admitted_mutex_};
  if (admitted.count(key))
    return true;
  if (admitted.size() >= max_series_)
    return false;
  admitted.insert(key);
  return true;
}

void work_counters::completed(const core::execution& e) {
  // The key in a reused buffer: no allocation per completion once warm.
  thread_local std::string key;
  key.assign(e.agent_type).append(1, '\x1f').append(e.llm_provider).append(1, '\x1f').append(e.model_name);
  lane& l = lanes_[my_lane()];
  std::lock_guard guard{l.mutex};
  auto it = l.work.find(std::string_view{key});
  if (it == l.work.end()) {
    core::work_metrics fresh;
    if (admit(admitted_work_, key)) {
      fresh.agent_type = e.agent_type;
      fresh.llm_provider = e.llm_provider;
      fresh.model_name = e.model_name;
    } else {
      key = "other\x1fother\x1fother";
      fresh.agent_type = fresh.llm_provider = fresh.model_name = "other";
    }
    it = l.work.try_emplace(key, std::move(fresh)).first;
  }
  auto& w = it->second;
  const auto outcome = static_cast<std::size_t>(e.status) - 1;  // success, failed, timeout
  if (outcome < w.executions.size())
    ++w.executions[outcome];
  w.input_tokens.observe(core::token_bucket_bounds, static_cast<double>(e.prompt_tokens));
  w.output_tokens.observe(core::token_bucket_bounds, static_cast<double>(e.completion_tokens));
  w.cached_tokens += e.cached_tokens;
  w.cost_micro_usd += e.cost_micro_usd;
  w.duration_seconds.observe(core::duration_bucket_bounds, static_cast<double>(e.duration_ms) / 1000.0);
}

void work_counters::tool_calls(std::string_view tool, std::int64_t success, std::int64_t failure,
                               double duration_ms) {
  lane& l = lanes_[my_lane()];
  std::lock_guard guard{l.mutex};
  auto it = l.tools.find(tool);
  if (it == l.tools.end()) {
    std::string key{tool};
    if (!admit(admitted_tools_, key))
      key = "other";
    core::tool_metrics fresh;
    fresh.tool_name = key;
    it = l.tools.try_emplace(key, std::move(fresh)).first;
  }
  auto& t = it->second;
  t.success += success;
  t.failure += failure;
  t.duration_seconds.observe(core::duration_bucket_bounds, duration_ms / 1000.0,
                             static_cast<std::uint64_t>(success + failure));
}

std::vector<core::work_metrics> work_counters::work() const {
  std::map<std::tuple<std::string, std::string, std::string>, core::work_metrics> all;
  for (const auto& l : lanes_) {
    std::lock_guard guard{l.mutex};
    for (const auto& [key, w] : l.work) {
      auto [it, fresh] = all.try_emplace({w.agent_type, w.llm_provider, w.model_name}, w);
      if (fresh)
        continue;
      auto& sum = it->second;
      for (std::size_t i = 0; i < sum.executions.size(); ++i)
        sum.executions[i] += w.executions[i];
      sum.input_tokens.add(w.input_tokens);
      sum.output_tokens.add(w.output_tokens);
      sum.cached_tokens += w.cached_tokens;
      sum.cost_micro_usd += w.cost_micro_usd;
      sum.duration_seconds.add(w.duration_seconds);
    }
  }
  std::vector<core::work_metrics> out;
  out.reserve(all.size());
  for (auto& [k, w] : all)
    out.push_back(std::move(w));
  return out;
}

std::vector<core::tool_metrics> work_counters::tools() const {
  std::map<std::string, core::tool_metrics> all;
  for (const auto& l : lanes_) {
    std::lock_guard guard{l.mutex};
    for (const auto& [key, t] : l.tools) {
      auto [it, fresh] = all.try_emplace(key, t);
      if (!fresh) {
        it->second.success += t.success;
        it->second.failure += t.failure;
        it->second.duration_seconds.add(t.duration_seconds);
      }
    }
  }
  std::vector<core::tool_metrics> out;
  for (auto& [k, t] : all)
    out.push_back(std::move(t));
  return out;
}

}  // namespace agentreg::actors
