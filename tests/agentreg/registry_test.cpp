#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <limits>
#include <set>

#include <unistd.h>

#include "agentreg/registry.hpp"
#include "tests/agentreg/fixture.hpp"

using namespace agentreg;
using namespace std::chrono_literals;

namespace {

using fixture = test::registry_fixture;

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

BOOST_FIXTURE_TEST_CASE(every_agent_status_value_and_one_past_it_are_checked_by_update_status, fixture) {
  add("a", "planner", 4);
  const std::pair<agent_status, errc> cases[] = {
      {agent_status::online, errc::ok},
      {agent_status::offline, errc::ok},
      {agent_status::paused, errc::ok},
      {agent_status::busy, errc::invalid_status},
      {static_cast<agent_status>(4), errc::invalid_status},
      {static_cast<agent_status>(255), errc::invalid_status},
  };
  for (const auto& [status, code] : cases) {
    BOOST_REQUIRE(bool(reg.update_status("a", agent_status::online)));
    auto r = reg.update_status("a", status);
    BOOST_TEST((r.code() == code), "status " << static_cast<int>(status));
    if (code != errc::ok) {  // refused: the agent is as it was, and still selectable
      BOOST_TEST((reg.get_agent("a")->status == agent_status::online));
      auto l = reg.acquire("planner");
      BOOST_TEST_REQUIRE(bool(l));
      BOOST_TEST(l->agent_id == "a");
      BOOST_TEST(bool(reg.release(*l)));
    } else {
      BOOST_TEST((reg.get_agent("a")->status == status));
    }
  }
  BOOST_TEST(std::string{core::to_string(static_cast<agent_status>(4))} == "unknown");
  // A filter on a status no agent can have matches none.
  BOOST_TEST(reg.list_agents({.status = static_cast<agent_status>(4)}).empty());
  BOOST_TEST(reg.list_agents({.status = agent_status::online}).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(every_execution_status_value_and_one_past_it_are_checked_by_complete_execution, fixture) {
  add("a");
  const std::pair<execution_status, errc> cases[] = {
      {execution_status::running, errc::invalid_status},
      {execution_status::success, errc::ok},
      {execution_status::failed, errc::ok},
      {execution_status::timeout, errc::ok},
      {static_cast<execution_status>(4), errc::invalid_status},
      {static_cast<execution_status>(200), errc::invalid_status},
  };
  std::int64_t completed = 0;
  for (const auto& [status, code] : cases) {
    auto id = reg.start_execution("a");
    auto r = reg.complete_execution(*id, status);
    BOOST_TEST((r.code() == code), "status " << static_cast<int>(status));
    if (code == errc::ok) {
      ++completed;
      BOOST_TEST((r->status == status));
    } else {  // refused: still running, nothing counted; a valid completion still works
      BOOST_TEST(reg.get_performance("a")->total_executions == completed);
      BOOST_TEST(reg.stats().running_executions == 1);
      BOOST_TEST(bool(reg.complete_execution(*id, execution_status::success)));
      ++completed;
    }
  }
  auto p = reg.get_performance("a");
  BOOST_TEST(p->total_executions == completed);
  BOOST_TEST(p->successful_executions + p->failed_executions + p->timeout_executions == completed);
}

BOOST_FIXTURE_TEST_CASE(every_group_by_value_and_one_past_it_are_checked_by_get_performance_by, fixture) {
  add("a");
  reg.complete_execution(*reg.start_execution("a", {"t", "w"}), "success");
  for (int d = 0; d <= 4; ++d) {
    auto rows = reg.get_performance_by(static_cast<group_by>(d));
    BOOST_TEST_REQUIRE(bool(rows), "group_by " << d);
    BOOST_TEST(rows->size() == 1u);
  }
  for (int d : {5, 255})
    BOOST_TEST((reg.get_performance_by(static_cast<group_by>(d)).code() == errc::invalid_argument));
}

BOOST_FIXTURE_TEST_CASE(a_load_that_would_overflow_with_the_leased_slots_is_refused_and_changes_nothing, fixture) {
  add("a", "planner", 4);
  auto l = reg.acquire("planner");  // one leased slot: load + leased must not overflow
  BOOST_REQUIRE(bool(l));
  reg.update_load("a", 1);
  clock->advance(10s);
  for (std::int64_t bad : {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max() - 1,
                           std::numeric_limits<std::int64_t>::min(), std::int64_t{4096}}) {
    BOOST_TEST((reg.update_load("a", bad).code() == errc::load_out_of_range), bad);
    BOOST_TEST((reg.heartbeat("a", bad).code() == errc::load_out_of_range), bad);
  }
  auto a = reg.get_agent("a");
  BOOST_TEST(a->current_load == 2);
  BOOST_TEST(a->last_heartbeat == clock->now() - std::chrono::nanoseconds{10s}.count());  // refused heartbeats
  BOOST_TEST((a->status == agent_status::online));
  BOOST_TEST(bool(reg.release(*l)));
}

BOOST_FIXTURE_TEST_CASE(a_ttl_too_long_to_add_to_now_is_refused_rather_than_wrapped, fixture) {
  add("a", "planner", 2);
  auto r = reg.acquire("planner", {.ttl = std::chrono::nanoseconds::max()});
  BOOST_TEST((r.code() == errc::invalid_argument));
  BOOST_TEST(reg.get_agent("a")->current_load == 0);  // nothing held
  auto l = reg.acquire("planner", {.ttl = 1min});
  BOOST_REQUIRE(bool(l));
  BOOST_TEST((reg.renew(*l, std::chrono::nanoseconds::max()).code() == errc::invalid_argument));
  clock->advance(59s);
  BOOST_TEST(reg.sweep()->leases_reclaimed == 0);  // the refused renewal changed nothing
  clock->advance(1s);
  BOOST_TEST(reg.sweep()->leases_reclaimed == 1);
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

BOOST_AUTO_TEST_CASE(every_configuration_field_is_checked_at_construction_and_the_error_names_it) {
  BOOST_TEST(bool(validate(config{})));
  const auto dir = std::filesystem::temp_directory_path() / ("agentreg-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = [&](const std::string& name, const std::string& text) {
    std::ofstream{dir / name} << text;
    return (dir / name).string();
  };
  const auto not_json = file("not_json.json", "{\"version\": ");
  const auto no_output = file("no_output.json", R"({"version": "v", "models": {"m": {"input_per_million_usd": 1}}})");
  const auto good = file("good.json", R"({"version": "v1", "models": {"m": {"input_per_million_usd": 1,
                                          "output_per_million_usd": 2}}})");
  struct bad_case {
    const char* field;
    std::function<void(config&)> change;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const bad_case cases[] = {
      {"stale_timeout", [](config& c) { c.stale_timeout = 0ns; }},
      {"stale_timeout", [](config& c) { c.stale_timeout = -5s; }},
      {"stale_timeout", [](config& c) { c.stale_timeout = std::chrono::nanoseconds::max(); }},
      {"heartbeat_interval", [](config& c) { c.heartbeat_interval = 0ns; }},
      {"heartbeat_interval", [](config& c) { c.heartbeat_interval = 1us; }},
      {"performance_update_interval", [](config& c) { c.performance_update_interval = 0ns; }},
      {"execution_timeout", [](config& c) { c.execution_timeout = 0ns; }},
      {"execution_timeout", [](config& c) { c.execution_timeout = std::chrono::hours{24 * 365 * 101}; }},
      {"start_grace", [](config& c) { c.start_grace = -1s; }},
      {"max_eviction_fraction", [=](config& c) { c.max_eviction_fraction = nan; }},
      {"max_eviction_fraction", [](config& c) { c.max_eviction_fraction = 0; }},
      {"max_eviction_fraction", [](config& c) { c.max_eviction_fraction = 1.5; }},
      {"degraded_threshold", [=](config& c) { c.degraded_threshold = nan; }},
      {"degraded_threshold", [](config& c) { c.degraded_threshold = -0.1; }},
      {"degraded_threshold", [](config& c) { c.degraded_threshold = INFINITY; }},
      {"scheduler_threads", [](config& c) { c.scheduler_threads = 100'000; }},
      {"scheduler_policy", [](config& c) { c.scheduler_policy = "fastest"; }},
      {"batch_size", [](config& c) { c.batch_size = 0; }},
      {"flush_interval", [](config& c) { c.flush_interval = 0ms; }},
      {"writer_connections", [](config& c) { c.writer_connections = 0; }},
      {"writer_connections", [](config& c) { c.writer_connections = 1000; }},
      {"buffer_limit", [](config& c) { c.buffer_limit = 0; }},
      {"persistence_request_timeout", [](config& c) { c.persistence_request_timeout = 0ms; }},
      {"shutdown_flush_timeout", [](config& c) { c.shutdown_flush_timeout = -1ms; }},
      {"max_agent_metadata_bytes", [](config& c) { c.max_agent_metadata_bytes = 0; }},
      {"max_summary_keys", [](config& c) { c.max_summary_keys = 0; }},
      {"max_summary_keys", [](config& c) { c.max_summary_keys = 2'000'000; }},
      {"max_tools_per_agent", [](config& c) { c.max_tools_per_agent = 0; }},
      {"max_agent_types", [](config& c) { c.max_agent_types = 0; }},
      {"max_agent_types", [](config& c) { c.max_agent_types = 65'537; }},
      {"change_log_capacity", [](config& c) { c.change_log_capacity = 0; }},
      {"change_log_capacity", [](config& c) { c.change_log_capacity = 100'000'001; }},
      {"on_full", [](config& c) { c.on_full = static_cast<backlog_policy>(2); }},
      {"database_url", [](config& c) { c.database_url = ""; }},
      {"price_table_path", [&](config& c) { c.price_table_path = (dir / "missing.json").string(); }},
      {"price_table_path", [&](config& c) { c.price_table_path = not_json; }},
      {"price_table_path", [&](config& c) { c.price_table_path = no_output; }},
  };
  for (const auto& [field, change] : cases) {
    config c;
    change(c);
    auto ok = validate(c);
    BOOST_TEST_REQUIRE(!ok, field);
    BOOST_TEST((ok.code() == errc::invalid_argument));
    BOOST_TEST(ok.error().message.find(std::string{"config."} + field) != std::string::npos, ok.error().message);
    try {
      registry reg{c};
      BOOST_ERROR("registry accepted a bad " << field);
    } catch (const invalid_config& e) {
      BOOST_TEST(std::string{e.what()} == ok.error().message);
    }
  }
  // The limits are inclusive, and a good price file is used, not the built-in table.
  config c;
  c.auto_sweep = false;
  c.heartbeat_interval = 1ms;
  c.max_eviction_fraction = 1;
  c.degraded_threshold = 1;
  c.start_grace = 0ns;
  c.max_agent_types = 1;
  c.price_table_path = good;
  registry reg{c};
  reg.register_agent({.agent_id = "a", .agent_type = "t", .model_name = "m"});
  auto e = reg.complete_execution(*reg.start_execution("a"), "success",
                                  {.prompt_tokens = 1'000'000, .completion_tokens = 1'000'000});
  BOOST_TEST(e->price_version == "v1");
  BOOST_TEST(e->cost_micro_usd == 3'000'000);
  std::filesystem::remove_all(dir);
}

namespace {
config limited(std::size_t metadata_bytes, std::size_t summary_keys, std::size_t tools) {
  config c;
  c.auto_sweep = false;
  c.max_agent_metadata_bytes = metadata_bytes;
  c.max_summary_keys = summary_keys;
  c.max_tools_per_agent = tools;
  return c;
}
}  // namespace

BOOST_AUTO_TEST_CASE(an_agent_s_metadata_card_and_skills_are_bounded_in_total_bytes) {
  registry reg{limited(1000, 10, 10)};
  agent_spec s{.agent_id = "a", .agent_type = "t"};
  s.metadata["k"] = std::string(1000 - 1 - 64, 'v');  // exactly the limit: key + value + 64 per entry
  BOOST_TEST_REQUIRE(bool(reg.register_agent(s)));
  auto big = s;
  big.metadata["k2"] = "x";
  auto r = reg.register_agent(big);  // re-registration: refused, the spec stays
  BOOST_TEST((r.code() == errc::invalid_argument));
  BOOST_TEST(r.error().message.find("max_agent_metadata_bytes") != std::string::npos, r.error().message);
  BOOST_TEST(reg.get_agent("a")->metadata.size() == 1u);

  agent_spec card{.agent_id = "b", .agent_type = "t"};
  card.agent_card = R"({"name": "b", "description": ")" + std::string(1000, 'd') + "\"}";
  BOOST_TEST((reg.register_agent(card).code() == errc::invalid_argument));
  agent_spec skills{.agent_id = "c", .agent_type = "t"};
  for (int i = 0; i < 20; ++i)  // 20 x (3 + 64) > 1000
    skills.skills.push_back("s" + std::to_string(i % 10) + std::to_string(i / 10));
  BOOST_TEST((reg.register_agent(skills).code() == errc::invalid_argument));
  BOOST_TEST(reg.list_agents().size() == 1u);  // neither b nor c exists

  agent_spec fine{.agent_id = "d", .agent_type = "t"};
  fine.agent_card = R"({"name": "d", "skills": [{"id": "search"}]})";
  fine.skills = {"search"};
  auto d = reg.register_agent(fine);
  BOOST_TEST_REQUIRE(bool(d));
  BOOST_TEST(d->agent_card == fine.agent_card);
  fine.agent_card = "not json";
  BOOST_TEST((reg.register_agent(fine).code() == errc::invalid_argument));
  fine.agent_card = "[1, 2]";
  BOOST_TEST((reg.register_agent(fine).code() == errc::invalid_argument));
  fine.agent_card.clear();
  fine.skills = {""};
  BOOST_TEST((reg.register_agent(fine).code() == errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(distinct_task_types_and_workflows_are_bounded_and_a_refused_start_changes_nothing) {
  registry reg{limited(64 * 1024, 3, 10)};
  reg.register_agent({.agent_id = "a", .agent_type = "t"});
  for (int i = 0; i < 3; ++i)  // 3 task types, 3 workflows: the limit
    BOOST_TEST_REQUIRE(bool(reg.start_execution("a", {"task" + std::to_string(i), "flow" + std::to_string(i)})));
  auto r = reg.start_execution("a", {"task3", "flow0"});
  BOOST_TEST((r.code() == errc::limit_reached));
  BOOST_TEST(r.error().message.find("max_summary_keys") != std::string::npos, r.error().message);
  BOOST_TEST((reg.start_execution("a", {"task0", "flow3"}).code() == errc::limit_reached));
  BOOST_TEST(reg.stats().running_executions == 3);
  auto known = reg.start_execution("a", {"task2", "flow1"});  // known keys still work
  BOOST_TEST_REQUIRE(bool(known));
  BOOST_TEST(bool(reg.complete_execution(*known, "success")));
  BOOST_TEST(reg.get_performance_by(group_by::task_type)->size() == 1u);
  BOOST_TEST(reg.get_performance_by(group_by::workflow)->size() == 1u);
}

BOOST_AUTO_TEST_CASE(distinct_tools_per_agent_are_bounded_and_a_refused_call_records_nothing) {
  registry reg{limited(64 * 1024, 10, 2)};
  reg.register_agent({.agent_id = "a", .agent_type = "t"});
  reg.register_agent({.agent_id = "b", .agent_type = "t"});
  const tool_call once{.success_count = 1, .duration_ms = 5};
  BOOST_TEST(bool(reg.record_tool_usage("a", "search", once)));
  BOOST_TEST(bool(reg.record_tool_usage("a", "edit", once)));
  auto r = reg.record_tool_usage("a", "bash", once);
  BOOST_TEST((r.code() == errc::limit_reached));
  BOOST_TEST(r.error().message.find("max_tools_per_agent") != std::string::npos, r.error().message);
  BOOST_TEST(reg.record_tool_usage("a", "search", once)->invocation_count == 2);  // a known tool: counted
  BOOST_TEST(reg.get_tool_usage("a")->size() == 2u);
  BOOST_TEST(bool(reg.record_tool_usage("b", "bash", once)));  // the bound is per agent
  BOOST_TEST(reg.stats().tool_calls == 4);
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

// The index keeps an agent type's slots in chunks of 4096: the sweep's scans
// must cross from one chunk to the next without losing or doubling a slot.
BOOST_FIXTURE_TEST_CASE(a_sweep_across_index_chunk_boundaries_checks_every_agent_and_finds_the_stale_at_the_edges,
                        fixture) {
  constexpr int n = 2 * 4096 + 1;
  for (int i = 0; i < n; ++i)
    add("a" + std::to_string(i));
  clock->advance(301s);
  const std::set<int> silent{0, 4095, 4096, 8191, 8192};  // first and last slots of each chunk
  for (int i = 0; i < n; ++i)
    if (!silent.count(i))
      reg.heartbeat("a" + std::to_string(i));
  auto r = reg.sweep();
  BOOST_TEST(r->agents_checked == n);
  BOOST_TEST(r->stale == 5);
  BOOST_TEST(r->evicted == 5);
  int offline = 0;
  for (const auto& a : reg.list_agents({.status = agent_status::offline}))
    offline += silent.count(std::stoi(a.agent_id.substr(1))) ? 1 : 0;
  BOOST_TEST(offline == 5);
  BOOST_TEST(reg.stats().offline == 5);
}

BOOST_FIXTURE_TEST_CASE(when_the_fraction_cap_holds_some_back_the_longest_silent_go_first, fixture) {
  for (int i = 0; i < 30; ++i)
    add("a" + std::to_string(i));
  // a0..a5 fall silent one after the other, 10 s apart, in an order the
  // index's slots do not follow: a5 first, a0 last.
  for (int k = 5; k >= 0; --k) {
    for (int i = 0; i < k; ++i)
      reg.heartbeat("a" + std::to_string(i));
    for (int i = 6; i < 30; ++i)
      reg.heartbeat("a" + std::to_string(i));
    clock->advance(10s);
  }
  clock->advance(300s);
  for (int i = 6; i < 30; ++i)
    reg.heartbeat("a" + std::to_string(i));
  auto r = reg.sweep();  // 6 of 30 stale, at most 10 % = 3 go
  BOOST_TEST(r->stale == 6);
  BOOST_TEST(r->evicted == 3);
  for (int i = 0; i < 6; ++i)
    BOOST_TEST((reg.get_agent("a" + std::to_string(i))->status == (i >= 3 ? agent_status::offline : agent_status::online)),
               "a" << i);
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

BOOST_FIXTURE_TEST_CASE(a_lone_stale_agent_goes_offline_at_the_next_sweep_and_leaves_selection, fixture) {
  add("only");
  clock->advance(301s);  // 1 of 1 stale: "more than half", but one agent is no fleet
  auto r = reg.sweep();
  BOOST_TEST(!r->degraded);
  BOOST_TEST(r->evicted == 1);
  BOOST_TEST((reg.get_agent("only")->status == agent_status::offline));
  BOOST_TEST((reg.acquire("planner").code() == errc::no_capacity));
}

BOOST_FIXTURE_TEST_CASE(below_the_minimum_fleet_every_stale_agent_goes_offline_at_the_next_sweep, fixture) {
  for (int i = 0; i < 3; ++i)
    add("a" + std::to_string(i));
  clock->advance(301s);
  reg.heartbeat("a0");  // 2 of 3 stale
  auto r = reg.sweep();
  BOOST_TEST(!r->degraded);
  BOOST_TEST(r->stale == 2);
  BOOST_TEST(r->evicted == 2);
  BOOST_TEST(r->held_back == 0);
  BOOST_TEST(reg.list_online_agents().size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_minimum_fleet_for_degraded_mode_is_configurable) {
  auto clock = std::make_shared<core::manual_clock>();
  config c;
  c.time_source = clock;
  c.auto_sweep = false;
  c.start_grace = 0ns;
  c.degraded_min_online = 3;
  registry reg{c};
  for (int i = 0; i < 3; ++i)
    reg.register_agent({"a" + std::to_string(i), "planner"});
  clock->advance(301s);
  reg.heartbeat("a0");  // 2 of 3 stale, and 3 online is a fleet now
  auto r = reg.sweep();
  BOOST_TEST(r->degraded);
  BOOST_TEST(r->evicted == 0);
}

BOOST_FIXTURE_TEST_CASE(a_wall_clock_step_evicts_nobody_and_changes_no_duration_ttl_or_timeout, fixture) {
  for (int i = 0; i < 3; ++i)  // a small fleet: the sweep would evict every stale agent at once
    add("a" + std::to_string(i));
  auto lease = reg.acquire("planner", {.ttl = 30min});
  BOOST_REQUIRE(bool(lease));
  auto forward = reg.start_execution("a0");
  clock->advance(2s);
  clock->step_wall(1h);  // NTP steps the wall clock forward an hour
  auto r = reg.sweep();
  BOOST_TEST(r->stale == 0);
  BOOST_TEST(r->evicted == 0);
  BOOST_TEST(r->leases_reclaimed == 0);
  BOOST_TEST(r->executions_timed_out == 0);
  BOOST_TEST(r->at == clock->now());  // reports carry the wall time
  BOOST_TEST(reg.list_online_agents().size() == 3u);
  clock->advance(1s);
  auto e = reg.complete_execution(*forward, "success");
  BOOST_TEST(e->duration_ms == 3000);
  BOOST_TEST(e->completed_at == clock->now());

  auto back = reg.start_execution("a1");
  clock->step_wall(-2h);  // and back two hours
  clock->advance(1500ms);
  e = reg.complete_execution(*back, "success");
  BOOST_TEST(e->duration_ms == 1500);
  BOOST_TEST(reg.heartbeat("a2")->last_heartbeat == clock->now());
  r = reg.sweep();
  BOOST_TEST(r->stale == 0);
  BOOST_TEST(r->leases_reclaimed == 0);

  // Time that really passes still counts: the TTL, then staleness.
  clock->advance(30min);
  BOOST_TEST(reg.sweep()->leases_reclaimed == 1);
  BOOST_TEST(reg.list_online_agents().empty());  // all 30 min silent: stale, and a small fleet
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
