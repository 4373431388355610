#include <boost/test/unit_test.hpp>

#include <cmath>
#include <thread>
#include <limits>
#include <set>

#include "agentreg/registry.hpp"

using namespace agentreg;
using namespace std::chrono_literals;

namespace {

struct fixture {
  std::shared_ptr<core::manual_clock> clock = std::make_shared<core::manual_clock>();
  registry reg{make_config()};

  config make_config() {
    config c;
    c.time_source = clock;
    c.auto_sweep = false;
    c.start_grace = 0ns;
    return c;
  }

  agent add(const std::string& id, const std::string& type = "planner", std::int64_t capacity = 10,
            const std::string& model = "claude-3-5-sonnet-20241022") {
    agent_spec s;
    s.agent_id = id;
    s.agent_type = type;
    s.llm_provider = "claude";
    s.model_name = model;
    s.max_capacity = capacity;
    auto a = reg.register_agent(s);
    BOOST_REQUIRE_MESSAGE(bool(a), (a ? "" : a.error().message));
    return *a;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_unit)

// The seed's own test, word for word.
BOOST_FIXTURE_TEST_CASE(registers_and_tracks_agent_execution, fixture) {
  agent_spec spec;
  spec.agent_id = "test_agent";
  spec.agent_type = "planner";
  spec.llm_provider = "claude";
  spec.model_name = "claude-3-5-sonnet";
  spec.max_capacity = 10;
  auto agent = reg.register_agent(spec);
  BOOST_REQUIRE(bool(agent));
  BOOST_TEST(agent->agent_id == "test_agent");

  auto exec_id = reg.start_execution("test_agent", {.task_type = "planning"});
  BOOST_REQUIRE(bool(exec_id));

  execution_metrics m;
  m.prompt_tokens = 100;
  m.completion_tokens = 50;
  m.estimated_cost_usd = 0.01;
  auto execution = reg.complete_execution(*exec_id, "success", m);
  BOOST_REQUIRE(bool(execution));
  BOOST_TEST(std::string{core::to_string(execution->status)} == "success");
  BOOST_TEST(execution->total_tokens == 150);

  auto perf = reg.get_performance("test_agent");
  BOOST_REQUIRE(bool(perf));
  BOOST_TEST(perf->total_executions == 1);
  BOOST_TEST(perf->success_rate == 1.0);
  BOOST_TEST(perf->total_cost_micro_usd == 10'000);
  BOOST_TEST(perf->avg_cost_per_execution == 0.01);
}

BOOST_FIXTURE_TEST_CASE(registering_sets_heartbeat_to_now_and_status_online, fixture) {
  auto a = add("a1");
  BOOST_TEST(a.last_heartbeat == clock->now());
  BOOST_TEST(a.registered_at == clock->now());
  BOOST_TEST((a.status == agent_status::online));
  BOOST_TEST(a.current_load == 0);
  BOOST_TEST(reg.get_agent("a1")->model_name == "claude-3-5-sonnet-20241022");
}

BOOST_FIXTURE_TEST_CASE(any_non_empty_agent_type_is_accepted, fixture) {
  add("x", "lightweight");
  add("y", "a type nobody listed");
  BOOST_TEST(reg.list_agents({.agent_type = "lightweight"}).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(bad_specs_are_refused_and_change_nothing, fixture) {
  agent_spec s{"", "planner"};
  BOOST_TEST((reg.register_agent(s).code() == errc::invalid_argument));
  s.agent_id = "a";
  s.agent_type = "";
  BOOST_TEST((reg.register_agent(s).code() == errc::invalid_argument));
  s.agent_type = "planner";
  s.max_capacity = 0;
  BOOST_TEST((reg.register_agent(s).code() == errc::invalid_capacity));
  s.max_capacity = 5000;
  BOOST_TEST((reg.register_agent(s).code() == errc::invalid_capacity));
  s.max_capacity = 1;
  s.temperature = std::numeric_limits<double>::quiet_NaN();
  BOOST_TEST((reg.register_agent(s).code() == errc::invalid_argument));
  s.temperature = 0.5;
  s.agent_id = "not utf-8 \xFF";
  BOOST_TEST((reg.register_agent(s).code() == errc::invalid_argument));
  BOOST_TEST(reg.list_agents().empty());
}

BOOST_FIXTURE_TEST_CASE(registering_an_existing_id_updates_the_spec_and_keeps_load_and_history, fixture) {
  add("a", "planner", 4, "gpt-4o");
  BOOST_TEST(bool(reg.update_load("a", 3)));
  auto id = reg.start_execution("a");
  reg.complete_execution(*id, execution_status::success);
  clock->advance(10s);
  agent_spec s{"a", "planner", "openai", "gpt-4o-mini"};
  s.max_capacity = 8;
  auto updated = reg.register_agent(s);
  BOOST_REQUIRE(bool(updated));
  BOOST_TEST(updated->model_name == "gpt-4o-mini");
  BOOST_TEST(updated->max_capacity == 8);
  BOOST_TEST(updated->current_load == 3);
  BOOST_TEST(updated->last_heartbeat == clock->now());
  BOOST_TEST(reg.get_performance("a")->total_executions == 1);
  // Capacity below the load is refused and changes nothing.
  s.max_capacity = 2;
  BOOST_TEST((reg.register_agent(s).code() == errc::capacity_below_load));
  BOOST_TEST(reg.get_agent("a")->max_capacity == 8);
  BOOST_TEST(reg.get_agent("a")->model_name == "gpt-4o-mini");
}

BOOST_FIXTURE_TEST_CASE(re_registering_under_a_new_type_moves_the_agent_to_that_pool, fixture) {
  add("a", "planner", 4);
  agent_spec s{"a", "coder"};
  s.max_capacity = 4;
  BOOST_TEST(bool(reg.register_agent(s)));
  BOOST_TEST(!reg.get_least_loaded_agent("planner")->has_value());
  BOOST_TEST(reg.get_least_loaded_agent("coder")->value().agent_id == "a");
}

BOOST_FIXTURE_TEST_CASE(unregistering_removes_the_agent_but_keeps_its_history, fixture) {
  add("a");
  auto id = reg.start_execution("a");
  reg.complete_execution(*id, execution_status::success, {.prompt_tokens = 10, .estimated_cost_usd = 0.5});
  BOOST_TEST(bool(reg.record_tool_usage("a", "bash", {.success_count = 1, .duration_ms = 5})));
  BOOST_TEST(bool(reg.unregister_agent("a")));
  BOOST_TEST((reg.get_agent("a").code() == errc::unknown_agent));
  BOOST_TEST((reg.unregister_agent("a").code() == errc::unknown_agent));
  BOOST_TEST(!reg.get_least_loaded_agent("planner")->has_value());
  BOOST_TEST(reg.get_performance("a")->total_cost_micro_usd == 500'000);
  BOOST_TEST(reg.get_tool_usage("a")->size() == 1u);
  BOOST_TEST((reg.get_performance("never").code() == errc::unknown_agent));
}

BOOST_FIXTURE_TEST_CASE(unknown_agents_and_empty_ids_get_specific_errors, fixture) {
  BOOST_TEST((reg.get_agent("nobody").code() == errc::unknown_agent));
  BOOST_TEST((reg.get_agent("").code() == errc::invalid_argument));
  BOOST_TEST((reg.heartbeat("nobody").code() == errc::unknown_agent));
  BOOST_TEST((reg.update_load("nobody", 1).code() == errc::unknown_agent));
  BOOST_TEST((reg.update_status("nobody", agent_status::paused).code() == errc::unknown_agent));
  BOOST_TEST((reg.start_execution("nobody").code() == errc::unknown_agent));
  BOOST_TEST((reg.record_tool_usage("nobody", "bash", {.success_count = 1}).code() == errc::unknown_agent));
  BOOST_TEST((reg.get_tool_usage("nobody").code() == errc::unknown_agent));
  BOOST_TEST((reg.acquire("no-such-type").code() == errc::unknown_type));
  BOOST_TEST((reg.acquire("").code() == errc::invalid_argument));
  BOOST_TEST(!reg.get_least_loaded_agent("no-such-type")->has_value());
}

BOOST_FIXTURE_TEST_CASE(list_online_agents_shows_online_and_busy_agents_ordered_by_id, fixture) {
  add("b", "executor", 1);
  add("a", "planner", 10);
  add("c", "researcher", 10);
  reg.update_load("b", 1);  // busy
  reg.update_status("c", agent_status::paused);
  auto online = reg.list_online_agents();
  BOOST_REQUIRE(online.size() == 2u);
  BOOST_TEST(online[0].agent_id == "a");
  BOOST_TEST(online[1].agent_id == "b");
  BOOST_TEST((online[1].status == agent_status::busy));
  BOOST_TEST(reg.list_agents({.status = agent_status::paused}).size() == 1u);
  BOOST_TEST(reg.list_agents({.llm_provider = "claude"}).size() == 3u);
  BOOST_TEST(reg.list_agents({.model_name = "other"}).empty());
}

BOOST_FIXTURE_TEST_CASE(update_load_and_status_validate_their_input, fixture) {
  add("a", "planner", 4);
  BOOST_TEST(reg.update_load("a", 4)->current_load == 4);
  BOOST_TEST((reg.get_agent("a")->status == agent_status::busy));
  BOOST_TEST((reg.update_load("a", 5).code() == errc::load_out_of_range));
  BOOST_TEST((reg.update_load("a", -1).code() == errc::load_out_of_range));
  BOOST_TEST(reg.get_agent("a")->current_load == 4);
  BOOST_TEST(bool(reg.update_load("a", 1)));
  BOOST_TEST((reg.get_agent("a")->status == agent_status::online));
  BOOST_TEST((reg.update_status("a", "sleeping").code() == errc::invalid_status));
  BOOST_TEST((reg.update_status("a", agent_status::busy).code() == errc::invalid_status));
  BOOST_TEST((reg.update_status("a", "paused")->status == agent_status::paused));
  BOOST_TEST((reg.get_agent("a")->status == agent_status::paused));
}

BOOST_FIXTURE_TEST_CASE(least_loaded_picks_the_lowest_ratio_and_rotates_ties, fixture) {
  add("a", "planner", 10);
  add("b", "planner", 2);
  add("c", "planner", 10);
  reg.update_load("a", 5);  // 0.5
  reg.update_load("b", 0);  // 0
  reg.update_load("c", 1);  // 0.1
  BOOST_TEST(reg.get_least_loaded_agent("planner")->value().agent_id == "b");
  reg.update_load("b", 1);  // 0.5: ties with a; c (0.1) wins
  BOOST_TEST(reg.get_least_loaded_agent("planner")->value().agent_id == "c");
  reg.update_load("c", 5);  // a, b, c all at 0.5
  std::set<std::string> seen;
  for (int i = 0; i < 6; ++i)
    seen.insert(reg.get_least_loaded_agent("planner")->value().agent_id);
  BOOST_TEST(seen.size() == 3u);
}

BOOST_FIXTURE_TEST_CASE(acquire_reserves_atomically_and_release_twice_is_reported, fixture) {
  add("a", "planner", 2);
  auto l1 = reg.acquire("planner");
  auto l2 = reg.acquire("planner");
  BOOST_REQUIRE(bool(l1));
  BOOST_REQUIRE(bool(l2));
  BOOST_TEST(l1->agent_id == "a");
  BOOST_TEST((reg.get_agent("a")->status == agent_status::busy));
  BOOST_TEST((reg.acquire("planner").code() == errc::no_capacity));
  BOOST_TEST(bool(reg.release(*l1)));
  BOOST_TEST((reg.release(*l1).code() == errc::lease_not_held));
  BOOST_TEST(reg.get_agent("a")->current_load == 1);
  BOOST_TEST(bool(reg.release(*l2)));
  BOOST_TEST(reg.get_agent("a")->current_load == 0);
}

BOOST_FIXTURE_TEST_CASE(a_lease_with_a_ttl_is_reclaimed_by_the_sweep_after_it_expires, fixture) {
  add("a", "planner", 1);
  auto l = reg.acquire("planner", {.ttl = 30s});
  BOOST_REQUIRE(bool(l));
  BOOST_TEST((reg.acquire("planner").code() == errc::no_capacity));
  clock->advance(29s);
  BOOST_TEST(reg.sweep()->leases_reclaimed == 0);
  clock->advance(1s);
  BOOST_TEST(reg.sweep()->leases_reclaimed == 1);
  BOOST_TEST(reg.get_agent("a")->current_load == 0);
  BOOST_TEST((reg.release(*l).code() == errc::lease_not_held));
  BOOST_TEST((reg.acquire("planner", {.ttl = -1s}).code() == errc::invalid_argument));
}

BOOST_FIXTURE_TEST_CASE(completion_computes_totals_cost_and_duration, fixture) {
  add("a", "planner", 10, "claude-3-5-sonnet-20241022");
  auto id = reg.start_execution("a", {"planning", "code_analysis", "run-7"});
  clock->advance(1500ms);
  execution_metrics m;
  m.prompt_tokens = 1500;
  m.completion_tokens = 800;
  m.cached_tokens = 500;
  m.success_score = 0.95;
  auto e = reg.complete_execution(*id, execution_status::success, m);
  BOOST_REQUIRE(bool(e));
  BOOST_TEST(e->total_tokens == 2300);
  BOOST_TEST(e->duration_ms == 1500);
  BOOST_TEST(e->cost_micro_usd == 15'150);  // 1000*3 + 500*0.3 + 800*15 micro-dollars
  BOOST_TEST(e->cost_from_price_table);
  BOOST_TEST(e->price_version == "2026-11-01");
  BOOST_TEST(e->workflow_slug == "code_analysis");
  BOOST_TEST(e->run_id == "run-7");
  BOOST_TEST(*e->success_score == 0.95);
}

BOOST_FIXTURE_TEST_CASE(completing_twice_or_an_unknown_id_is_an_error_and_changes_nothing, fixture) {
  add("a");
  auto id = reg.start_execution("a");
  BOOST_TEST(bool(reg.complete_execution(*id, execution_status::failed, {.error_message = "boom"})));
  BOOST_TEST((reg.complete_execution(*id, execution_status::success).code() == errc::already_completed));
  BOOST_TEST((reg.complete_execution("00000000-0000-4000-8000-000000000000", "success").code() ==
              errc::unknown_execution));
  BOOST_TEST((reg.complete_execution("garbage", "success").code() == errc::invalid_argument));
  auto p = reg.get_performance("a");
  BOOST_TEST(p->total_executions == 1);
  BOOST_TEST(p->failed_executions == 1);
  BOOST_TEST(p->success_rate == 0.0);
}

BOOST_FIXTURE_TEST_CASE(bad_metrics_are_refused_and_leave_the_execution_running, fixture) {
  add("a");
  auto id = reg.start_execution("a");
  BOOST_TEST((reg.complete_execution(*id, "success", {.prompt_tokens = -5}).code() == errc::invalid_tokens));
  BOOST_TEST((reg.complete_execution(*id, "success", {.prompt_tokens = 2'000'000'000}).code() == errc::invalid_tokens));
  BOOST_TEST((reg.complete_execution(*id, "success", {.estimated_cost_usd = std::nan("")}).code() == errc::invalid_cost));
  BOOST_TEST((reg.complete_execution(*id, "success", {.estimated_cost_usd = -1}).code() == errc::invalid_cost));
  BOOST_TEST((reg.complete_execution(*id, "success", {.estimated_cost_usd = INFINITY}).code() == errc::invalid_cost));
  BOOST_TEST((reg.complete_execution(*id, "success", {.success_score = 1.5}).code() == errc::invalid_score));
  BOOST_TEST((reg.complete_execution(*id, "done").code() == errc::invalid_status));
  BOOST_TEST((reg.complete_execution(*id, execution_status::running).code() == errc::invalid_status));
  BOOST_TEST(reg.get_performance("a")->total_executions == 0);
  BOOST_TEST(bool(reg.complete_execution(*id, "success")));  // still running, so this works
}

BOOST_FIXTURE_TEST_CASE(a_running_execution_older_than_the_timeout_becomes_timeout, fixture) {
  add("a");
  auto old_id = reg.start_execution("a");
  clock->advance(20min);
  auto young_id = reg.start_execution("a");
  clock->advance(10min + 1ms);
  auto r = reg.sweep();
  BOOST_TEST(r->executions_timed_out == 1);
  BOOST_TEST((reg.complete_execution(*old_id, "success").code() == errc::already_completed));
  BOOST_TEST(bool(reg.complete_execution(*young_id, "success")));
  auto p = reg.get_performance("a");
  BOOST_TEST(p->timeout_executions == 1);
  BOOST_TEST(p->successful_executions == 1);
}

BOOST_FIXTURE_TEST_CASE(summaries_group_by_type_model_task_and_workflow_with_exact_money, fixture) {
  add("p1", "planner", 10, "gpt-4o");
  add("p2", "planner", 10, "gpt-4o-mini");
  add("c1", "coder", 10, "gpt-4o");
  for (const auto& [agent_id, task, cost] : {std::tuple{"p1", "plan", 0.1}, std::tuple{"p2", "plan", 0.2},
                                             std::tuple{"c1", "code", 0.3}, std::tuple{"c1", "code", 0.000001}}) {
    auto id = reg.start_execution(agent_id, {.task_type = task, .workflow_slug = "wf"});
    reg.complete_execution(*id, "success", {.estimated_cost_usd = cost});
  }
  auto by_type = reg.get_performance_by(group_by::agent_type);
  BOOST_REQUIRE(by_type->size() == 2u);
  BOOST_TEST((*by_type)[0].key == "coder");
  BOOST_TEST((*by_type)[0].total_cost_micro_usd == 300'001);
  BOOST_TEST((*by_type)[1].total_cost_micro_usd == 300'000);  // 0.1 + 0.2, exactly
  auto by_model = reg.get_performance_by(group_by::model);
  BOOST_TEST(by_model->size() == 2u);
  BOOST_TEST((*by_model)[0].total_executions == 3);  // gpt-4o: p1 and c1
  auto by_workflow = reg.get_performance_by(group_by::workflow);
  BOOST_TEST(by_workflow->size() == 1u);
  BOOST_TEST((*by_workflow)[0].total_executions == 4);
  BOOST_TEST(reg.get_performance_by(group_by::task_type)->size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(performance_percentiles_follow_the_durations, fixture) {
  add("a");
  for (int ms = 1; ms <= 100; ++ms) {
    auto id = reg.start_execution("a");
    clock->advance(std::chrono::milliseconds{ms});
    reg.complete_execution(*id, "success");
  }
  auto p = reg.get_performance("a");
  BOOST_TEST(p->avg_duration_ms == 50.5);
  BOOST_TEST(std::abs(p->p50_duration_ms - 50) <= 50 * 0.01);
  BOOST_TEST(std::abs(p->p99_duration_ms - 99) <= 99 * 0.01);
  BOOST_TEST(p->last_execution_at == clock->now());
}

BOOST_FIXTURE_TEST_CASE(tool_usage_aggregates_per_agent_and_tool, fixture) {
  add("a");
  auto u = reg.record_tool_usage("a", "code_search", {.success_count = 1, .duration_ms = 250});
  BOOST_REQUIRE(bool(u));
  BOOST_TEST(u->invocation_count == 1);
  u = reg.record_tool_usage("a", "code_search", {.success_count = 2, .failure_count = 1, .duration_ms = 50});
  BOOST_TEST(u->invocation_count == 4);
  BOOST_TEST(u->success_count == 3);
  BOOST_TEST(u->failure_count == 1);
  BOOST_TEST(u->avg_duration_ms == 100.0);  // (250 + 3 * 50) / 4
  reg.record_tool_usage("a", "bash", {.success_count = 1, .duration_ms = 1});
  auto all = reg.get_tool_usage("a");
  BOOST_REQUIRE(all->size() == 2u);
  BOOST_TEST((*all)[0].tool_name == "bash");
  BOOST_TEST((reg.record_tool_usage("a", "bash", {.success_count = 0}).code() == errc::invalid_argument));
  BOOST_TEST((reg.record_tool_usage("a", "bash", {.success_count = 1, .duration_ms = -3}).code() ==
              errc::invalid_argument));
  BOOST_TEST((reg.record_tool_usage("a", "", {.success_count = 1}).code() == errc::invalid_argument));
  BOOST_TEST(reg.get_tool_usage("a")->at(0).invocation_count == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(registry_sweep)

BOOST_FIXTURE_TEST_CASE(a_stale_agent_goes_offline_and_a_heartbeat_brings_it_back, fixture) {
  for (int i = 0; i < 10; ++i)
    add("a" + std::to_string(i));
  clock->advance(200s);
  for (int i = 1; i < 10; ++i)
    reg.heartbeat("a" + std::to_string(i));
  clock->advance(101s);  // a0 is 301 s silent, the others 101 s
  auto r = reg.sweep();
  BOOST_TEST(r->stale == 1);
  BOOST_TEST(r->evicted == 1);
  BOOST_TEST((reg.get_agent("a0")->status == agent_status::offline));
  BOOST_TEST((reg.get_agent("a1")->status == agent_status::online));
  auto back = reg.heartbeat("a0", 2);
  BOOST_TEST((back->status == agent_status::online));
  BOOST_TEST(back->current_load == 2);
  BOOST_TEST(back->last_heartbeat == clock->now());
}

BOOST_FIXTURE_TEST_CASE(offline_agents_leave_selection, fixture) {
  add("old");
  clock->advance(100s);
  add("young");
  reg.update_load("young", 5);
  clock->advance(201s);
  reg.heartbeat("young");
  reg.sweep();
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(reg.get_least_loaded_agent("planner")->value().agent_id == "young");
}

BOOST_FIXTURE_TEST_CASE(one_sweep_evicts_at_most_the_configured_fraction, fixture) {
  for (int i = 0; i < 30; ++i)
    add("a" + std::to_string(i));
  clock->advance(301s);
  for (int i = 3; i < 30; ++i)  // 3 of 30 stale: at most 10 % = 3 per sweep
    reg.heartbeat("a" + std::to_string(i));
  BOOST_TEST(reg.sweep()->evicted == 3);
  // Now 6 of 27 online go stale: 10 % of 27 = 2 per sweep.
  clock->advance(301s);
  for (int i = 9; i < 30; ++i)
    reg.heartbeat("a" + std::to_string(i));
  auto r = reg.sweep();
  BOOST_TEST(r->stale == 6);
  BOOST_TEST(r->evicted == 2);
  BOOST_TEST(r->held_back == 4);
  BOOST_TEST(reg.sweep()->evicted == 2);
  BOOST_TEST(reg.stats().evictions_total == 7);
}

BOOST_FIXTURE_TEST_CASE(when_most_agents_look_stale_evictions_are_held_and_the_registry_is_degraded, fixture) {
  for (int i = 0; i < 10; ++i)
    add("a" + std::to_string(i));
  clock->advance(301s);
  for (int i = 0; i < 4; ++i)  // 6 of 10 stale: more than half
    reg.heartbeat("a" + std::to_string(i));
  auto r = reg.sweep();
  BOOST_TEST(r->degraded);
  BOOST_TEST(r->evicted == 0);
  BOOST_TEST(r->held_back == 6);
  BOOST_TEST(reg.stats().degraded);
  BOOST_TEST(reg.list_online_agents().size() == 10u);
  for (int i = 4; i < 10; ++i)  // the fleet recovers: the registry is healthy again
    reg.heartbeat("a" + std::to_string(i));
  BOOST_TEST(!reg.sweep()->degraded);
  BOOST_TEST(!reg.stats().degraded);
}

BOOST_AUTO_TEST_CASE(no_agent_is_evicted_during_the_grace_period_after_start) {
  auto clock = std::make_shared<core::manual_clock>();
  config c;
  c.time_source = clock;
  c.auto_sweep = false;
  c.start_grace = 600s;
  c.max_eviction_fraction = 1.0;
  registry reg{c};
  for (int i = 0; i < 10; ++i) {
    agent_spec s{"a" + std::to_string(i), "planner"};
    reg.register_agent(s);
  }
  clock->advance(301s);
  for (int i = 0; i < 9; ++i)
    reg.heartbeat("a" + std::to_string(i));
  auto r = reg.sweep();
  BOOST_TEST(r->in_grace_period);
  BOOST_TEST(r->stale == 1);
  BOOST_TEST(r->evicted == 0);
  BOOST_TEST(reg.stats().in_grace_period);
  clock->advance(300s);
  for (int i = 0; i < 9; ++i)
    reg.heartbeat("a" + std::to_string(i));
  r = reg.sweep();
  BOOST_TEST(!r->in_grace_period);
  BOOST_TEST(r->evicted == 1);
}

BOOST_FIXTURE_TEST_CASE(the_automatic_sweep_runs_on_its_timer, fixture) {
  // A registry with the timer on and a short interval: the sweep count grows.
  config c;
  c.heartbeat_interval = 10ms;
  registry timed{c};
  for (int i = 0; i < 500 && timed.stats().sweeps < 2; ++i)
    std::this_thread::sleep_for(10ms);
  BOOST_TEST(timed.stats().sweeps >= 2);
}

BOOST_AUTO_TEST_SUITE_END()
