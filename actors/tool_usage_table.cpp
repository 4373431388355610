#include "actors/tool_usage_table.hpp"

namespace agentreg::actors {

core::expected<std::pair<core::tool_usage, bool>> tool_usage_table::add(const core::tool_call_record& r,
                                                                         std::size_t max_tools, outbox& records) {
  auto& s = shard_of(r.agent_id);
  std::lock_guard guard{s.mutex};
  auto& tools = s.agents[r.agent_id];  // (never left empty: max_tools >= 1)
  auto it = tools.find(r.tool_name);
  if (it == tools.end()) {
    if (tools.size() >= max_tools)
      return core::error{core::errc::limit_reached, "agent " + r.agent_id + " already used " +
                                                        std::to_string(tools.size()) +
                                                        " distinct tools (max_tools_per_agent); tool " +
                                                        r.tool_name + " is not recorded"};
    it = tools.try_emplace(r.tool_name).first;
  }
  const bool lane_full = records.put_tool_call(r);
  it->second.add(r);
  return std::pair{it->second.snapshot(r.agent_id, r.tool_name), lane_full};
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
