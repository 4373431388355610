#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "agentreg/registry.hpp"
#include "tests/agentreg/fixture.hpp"

using namespace agentreg;
using namespace std::chrono_literals;

namespace {

// Three label sets per /metrics family (later ones count as "other"), so
// that a few agents reach the bound.
struct fixture : test::registry_fixture {
  fixture() : registry_fixture{[](config& c) { c.metrics_max_series = 3; }} {}

  void run(const std::string& agent, execution_status status, std::int64_t prompt, std::int64_t completion,
           std::chrono::milliseconds took) {
    auto id = reg.start_execution(agent);
    BOOST_REQUIRE(bool(id));
    clock->advance(took);
    BOOST_REQUIRE(reg.complete_execution(*id, status,
                                         {.prompt_tokens = prompt, .completion_tokens = completion,
                                          .cached_tokens = 1, .estimated_cost_usd = 0.001}));
  }
};

const core::fleet_metrics& fleet_of(const metrics_snapshot& m, const std::string& type) {
  for (const auto& f : m.fleet)
    if (f.agent_type == type)
      return f;
  BOOST_FAIL("no fleet metrics for " + type);
  return m.fleet.front();
}
// The result refers into the snapshot: a temporary one would leave it
// dangling (ASan found `fleet_of(reg.metrics(), ...)` reading freed memory).
const core::fleet_metrics& fleet_of(metrics_snapshot&&, const std::string&) = delete;

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_metrics)

BOOST_FIXTURE_TEST_CASE(metrics_agree_with_stats_after_a_known_workload, fixture) {
  add("p1", "planner", 2, "claude-3-5-sonnet-20241022");
  add("p2", "planner", 2, "claude-3-5-sonnet-20241022");
  add("c1", "coder", 1, "gpt-4o");
  add("c2", "coder", 3, "gpt-4o");
  BOOST_REQUIRE(reg.update_status("c2", agent_status::paused));

  // planner: 4 slots; 5 acquires = 4 leases + 1 no_capacity; 1 release.
  std::vector<lease> held;
  for (int i = 0; i < 4; ++i)
    held.push_back(*reg.acquire("planner"));
  BOOST_TEST((reg.acquire("planner").error().code == errc::no_capacity));
  BOOST_REQUIRE(reg.release(held.back()));

  run("p1", execution_status::success, 100, 50, 30ms);     // input bucket <=256, output <=64, 0.04 s
  run("p1", execution_status::failed, 3, 1, 5ms);          // input <=4, output <=1, 0.01 s
  run("c1", execution_status::success, 5000, 70000, 90s);  // input <=16384, output <=262144, +Inf
  BOOST_REQUIRE(reg.record_tool_usage("p1", "code_search", {.success_count = 3, .failure_count = 1, .duration_ms = 5}));
  BOOST_REQUIRE(reg.record_tool_usage("c1", "code_search", {.success_count = 1, .duration_ms = 5}));

  auto m = reg.metrics();
  auto s = reg.stats();
  // Fleet: counted from the index's slots, stats() from the directory.
  std::int64_t agents = 0, online = 0, busy = 0, paused = 0, offline = 0;
  for (const auto& f : m.fleet) {
    online += f.agents[0];
    offline += f.agents[1];
    paused += f.agents[2];
    busy += f.agents[3];
    agents += f.agents[0] + f.agents[1] + f.agents[2] + f.agents[3];
  }
  BOOST_TEST(agents == s.agents);
  BOOST_TEST(online == s.online);
  BOOST_TEST(busy == s.busy);
  BOOST_TEST(paused == s.paused);
  BOOST_TEST(offline == s.offline);
  const auto& planner = fleet_of(m, "planner");
  BOOST_TEST(planner.capacity_slots == 4);
  BOOST_TEST(planner.load_slots == 3);
  BOOST_TEST(planner.acquires == 4u);
  BOOST_TEST(planner.acquire_no_capacity == 1u);
  BOOST_TEST(planner.releases == 1u);
  const auto& coder = fleet_of(m, "coder");
  BOOST_TEST(coder.agents[2] == 1);        // c2 paused
  BOOST_TEST(coder.capacity_slots == 1);  // paused capacity is not selectable
  // Work.
  std::int64_t completed = 0;
  for (const auto& w : m.work)
    completed += w.executions[0] + w.executions[1] + w.executions[2];
  BOOST_TEST(completed == s.completed_executions);
  BOOST_REQUIRE_EQUAL(m.work.size(), 2u);
  const auto& cw = m.work[0];  // ordered: coder before planner
  BOOST_TEST(cw.agent_type == "coder");
  BOOST_TEST(cw.model_name == "gpt-4o");
  BOOST_TEST(cw.input_tokens.cells[7] == 1u);   // 5000 <= 16384
  BOOST_TEST(cw.output_tokens.cells[9] == 1u);  // 70000 <= 262144
  BOOST_TEST(cw.duration_seconds.cells[14] == 1u);  // 90 s > 81.92
  const auto& pw = m.work[1];
  BOOST_TEST(pw.executions[0] == 1);
  BOOST_TEST(pw.executions[1] == 1);
  BOOST_TEST(pw.input_tokens.cells[4] == 1u);  // 100 <= 256
  BOOST_TEST(pw.input_tokens.cells[1] == 1u);  // 3 <= 4
  BOOST_TEST(pw.input_tokens.sum == 103);
  BOOST_TEST(pw.output_tokens.cells[0] == 1u);  // 1 <= 1
  BOOST_TEST(pw.duration_seconds.cells[2] == 1u);  // 0.03 <= 0.04
  BOOST_TEST(pw.duration_seconds.cells[0] == 1u);  // 0.005 <= 0.01
  BOOST_TEST(pw.cached_tokens == 2);
  BOOST_TEST(pw.cost_micro_usd == 2000);
  // Tools.
  BOOST_REQUIRE_EQUAL(m.tools.size(), 1u);
  BOOST_TEST(m.tools[0].success == 4);
  BOOST_TEST(m.tools[0].failure == 1);
  BOOST_TEST(s.tool_calls == 2);  // records; the metric counts calls
  BOOST_TEST(m.tools[0].duration_seconds.count() == 5u);
  BOOST_TEST(m.tools[0].duration_seconds.cells[0] == 5u);  // 5 ms <= 0.01 s
  // Engine.
  BOOST_TEST(m.engine.agents == s.agents);
  BOOST_TEST(m.engine.leases_held == s.leases_held);
  BOOST_TEST(m.engine.leases_held == 3);
  BOOST_TEST(m.engine.completed_executions == s.completed_executions);
  BOOST_TEST(m.engine.tool_calls == s.tool_calls);
  BOOST_TEST(m.engine.persistence_enabled == false);
  BOOST_TEST(m.buffer_limit == 0);
  BOOST_TEST(m.revision == reg.revision());
}

BOOST_FIXTURE_TEST_CASE(acquires_and_releases_from_many_threads_are_all_counted, fixture) {
  for (int i = 0; i < 8; ++i)
    add("w" + std::to_string(i), "worker", 4, "m");
  constexpr int threads = 4, rounds = 2000;
  std::atomic<std::int64_t> granted{0}, refused{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        auto l = reg.acquire("worker");
        if (!l) {
          refused.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        granted.fetch_add(1, std::memory_order_relaxed);
        BOOST_REQUIRE(reg.release(*l));
      }
    });
  for (auto& t : ts)
    t.join();
  const auto m = reg.metrics();
  const auto& f = fleet_of(m, "worker");
  BOOST_TEST(f.acquires == static_cast<std::uint64_t>(granted.load()));
  BOOST_TEST(f.releases == static_cast<std::uint64_t>(granted.load()));
  BOOST_TEST(f.acquire_no_capacity == static_cast<std::uint64_t>(refused.load()));
  BOOST_TEST(f.load_slots == 0);
}

BOOST_FIXTURE_TEST_CASE(sweep_counters_agree_with_the_sweep_reports, fixture) {
  // 20 agents (above degraded_min_online): 1 lease with a TTL, then 3 go
  // silent; the fraction cap (10% of 20) lets one sweep evict 2 and hold 1.
  for (int i = 0; i < 20; ++i)
    add("a" + std::to_string(i), "t", 2, "m");
  BOOST_REQUIRE(reg.acquire("t", {.ttl = 1s}));
  clock->advance(301s);
  for (int i = 3; i < 20; ++i)
    BOOST_REQUIRE(reg.heartbeat("a" + std::to_string(i)));
  auto first = reg.sweep();
  BOOST_REQUIRE(first);
  BOOST_TEST(first->leases_reclaimed == 1);
  BOOST_TEST(first->evicted == 2);
  BOOST_TEST(first->held_back == 1);
  auto second = reg.sweep();
  BOOST_REQUIRE(second);
  auto m = reg.metrics();
  BOOST_TEST(m.engine.sweeps == 2);
  BOOST_TEST(m.engine.leases_expired_total == 1);
  BOOST_TEST(m.engine.evictions_total == first->evicted + second->evicted);
  BOOST_TEST(m.engine.evictions_held_total == first->held_back + second->held_back);
  BOOST_TEST(m.engine.last_sweep.sweep_ns == second->sweep_ns);
  BOOST_TEST(fleet_of(m, "t").agents[1] == first->evicted + second->evicted);  // offline
}

BOOST_FIXTURE_TEST_CASE(label_sets_past_the_cap_are_counted_as_other, fixture) {
  for (int i = 0; i < 5; ++i) {
    add("a" + std::to_string(i), "t", 1, "model-" + std::to_string(i));
    run("a" + std::to_string(i), execution_status::success, 1, 1, 1ms);
    BOOST_REQUIRE(reg.record_tool_usage("a0", "tool-" + std::to_string(i), {.success_count = 1}));
  }
  auto m = reg.metrics();
  BOOST_REQUIRE_EQUAL(m.work.size(), 4u);  // 3 label sets + other
  std::int64_t total = 0;
  for (const auto& w : m.work)
    total += w.executions[0];
  BOOST_TEST(total == 5);
  BOOST_TEST(m.work[0].agent_type == "other");  // ordered by labels
  BOOST_TEST(m.work[0].model_name == "other");
  BOOST_TEST(m.work[0].executions[0] == 2);
  BOOST_TEST(m.work[1].model_name == "model-0");
  BOOST_REQUIRE_EQUAL(m.tools.size(), 4u);
  BOOST_TEST(m.tools[0].tool_name == "other");
  BOOST_TEST(m.tools[0].success == 2);
}

BOOST_FIXTURE_TEST_CASE(agents_silent_for_a_minute_count_as_overdue_before_they_go_offline, fixture) {
  add("p1", "planner", 1, "m");
  add("p2", "planner", 1, "m");
  clock->advance(61s);
  BOOST_REQUIRE(reg.heartbeat("p2"));
  auto m = reg.metrics();
  BOOST_TEST(fleet_of(m, "planner").heartbeat_overdue == 1);
  BOOST_TEST(fleet_of(m, "planner").agents[0] == 2);  // still online: stale_timeout is 300 s
}

BOOST_AUTO_TEST_SUITE_END()
