#include "bench/spawn_baseline.hpp"

#include <memory>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/agent_actor.hpp"
#include "actors/context.hpp"
#include "bench/suite.hpp"
#include "core/clock.hpp"

namespace agentreg::bench {

spawn_timing raw_spawns(std::uint32_t n, std::size_t scheduler_threads) {
  spawn_timing t;
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", scheduler_threads);
  cfg.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system system{cfg};
  actors::engine_context ctx{core::registry_config{}, std::make_shared<core::system_clock>(),
                             core::price_table::builtin()};
  auto rec = std::make_shared<actors::agent_record>("spawned", 1, 0);
  std::vector<msg::agent_actor> spawned;
  spawned.reserve(n);
  const auto start = bench_clock::now();
  for (std::uint32_t i = 0; i < n; ++i)
    spawned.push_back(actors::spawn_agent(system, rec, ctx));
  const auto made = bench_clock::now();
  spawned.clear();
  system.await_all_actors_done();
  t.spawn_seconds = seconds_between(start, made);
  t.destroy_seconds = seconds_between(made, bench_clock::now());
  return t;
}

}  // namespace agentreg::bench
