#include "actors/tool_usage_table.hpp"

namespace agentreg::actors {

core::tool_usage tool_usage_table::add(const core::tool_call_record& r) {
  auto& s = shard_of(r.agent_id);
  std::lock_guard guard{s.mutex};
  auto& acc = s.agents[r.agent_id][r.tool_name];
  acc.add(r);
  return acc.snapshot(r.agent_id, r.tool_name);
}

std::vector<core::tool_usage> tool_usage_table::of(const std::string& agent_id) const {
  std::vector<core::tool_usage> out;
  auto& s = shard_of(agent_id);
  std::lock_guard guard{s.mutex};
  if (auto it = s.agents.find(agent_id); it != s.agents.end())
    for (const auto& [tool, acc] : it->second)
      out.push_back(acc.snapshot(agent_id, tool));
  return out;
}

std::vector<std::pair<core::tool_usage, core::log_histogram>> tool_usage_table::all() const {
  std::vector<std::pair<core::tool_usage, core::log_histogram>> out;
  for (auto& s : shards_) {
    std::lock_guard guard{s.mutex};
    for (const auto& [agent_id, tools] : s.agents)
      for (const auto& [tool, acc] : tools)
        out.emplace_back(acc.snapshot(agent_id, tool), acc.durations());
  }
  return out;
}

void tool_usage_table::restore(const core::tool_usage& u, core::log_histogram durations) {
  auto& s = shard_of(u.agent_id);
  std::lock_guard guard{s.mutex};
  // Added to what this engine counted before recovery, not put in its place.
  core::tool_accumulator persisted;
  persisted.restore(u, std::move(durations));
  s.agents[u.agent_id][u.tool_name].merge(persisted);
}

}  // namespace agentreg::actors
