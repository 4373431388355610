#include "actors/aggregator.hpp"

#include <array>
#include <map>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/summary.hpp"
#include "messages/errors.hpp"

namespace agentreg::actors {

namespace {

constexpr std::size_t dimensions = 5;

struct aggregator_state {
  std::array<std::unordered_map<std::string, core::performance_accumulator>, dimensions> summaries;
  msg::aggregator_stats stats;
  static inline const char* name = "agentreg.aggregator";

  void add(const core::execution& e) {
    const std::string* keys[dimensions] = {&e.agent_id, &e.agent_type, &e.model_name, &e.task_type,
                                           &e.workflow_slug};
    for (std::size_t d = 0; d < dimensions; ++d)
      summaries[d][*keys[d]].add(e);
    ++stats.executions_completed;
  }
};

using aggregator_pointer = msg::aggregator_actor::stateful_pointer<aggregator_state>;

msg::aggregator_actor::behavior_type aggregator_behavior(aggregator_pointer self) {
  return {
      [=](msg::started_atom, core::execution&) {
        // Running executions matter to persistence only; summaries count completions.
      },
      [=](msg::completed_atom, core::execution& e) { self->state.add(e); },
      [=](msg::tool_atom, core::tool_call_record&) { ++self->state.stats.tool_calls; },
      [=](msg::perf_atom, core::group_by dim, const std::string& key) -> caf::result<core::performance> {
        const auto d = static_cast<std::size_t>(dim);
        if (d >= dimensions)
          return msg::to_caf(core::errc::invalid_argument, "unknown group_by dimension");
        auto& table = self->state.summaries[d];
        auto it = table.find(key);
        if (it == table.end())
          return msg::to_caf(core::errc::unknown_agent, "nothing recorded for " + key);
        return it->second.snapshot(dim, key);
      },
      [=](msg::perf_by_atom, core::group_by dim) {
        std::vector<core::performance> out;
        const auto d = static_cast<std::size_t>(dim);
        if (d < dimensions) {
          std::map<std::string, const core::performance_accumulator*> ordered;
          for (auto& [key, acc] : self->state.summaries[d])
            ordered.emplace(key, &acc);
          for (auto& [key, acc] : ordered)
            out.push_back(acc->snapshot(dim, key));
        }
        return out;
      },
      [=](msg::stats_atom) { return self->state.stats; },
  };
}

}  // namespace

msg::aggregator_actor spawn_aggregator(caf::actor_system& system) { return system.spawn(aggregator_behavior); }

}  // namespace agentreg::actors
