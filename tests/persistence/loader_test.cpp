#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "core/histogram.hpp"
#include "persistence/loader.hpp"
#include "writer_fixture.hpp"

using namespace agentreg;
using namespace agentreg::test;
using core::execution_status;

namespace {

// What the database keeps of a timestamp: its microseconds.
core::timestamp stored(core::timestamp ns) { return ns == 0 ? 0 : micros_of(ns) * 1000; }

db::loader connect_loader(const std::string& url) {
  auto l = db::loader::connect(url);
  if (!l)
    throw std::runtime_error{"connect loader: " + l.error().message};
  return std::move(*l);
}

void check_same(const core::agent& got, const core::agent& want) {
  BOOST_TEST(got.agent_id == want.agent_id);
  BOOST_TEST(got.agent_type == want.agent_type);
  BOOST_TEST(got.llm_provider == want.llm_provider);
  BOOST_TEST(got.model_name == want.model_name);
  BOOST_TEST(got.temperature == want.temperature);
  BOOST_TEST(got.max_tokens == want.max_tokens);
  BOOST_TEST(got.max_capacity == want.max_capacity);
  BOOST_TEST((got.metadata == want.metadata));
  BOOST_TEST(got.current_load == want.current_load);
  BOOST_TEST((got.status == want.status));
  BOOST_TEST(got.last_heartbeat == stored(want.last_heartbeat));
  BOOST_TEST(got.registered_at == stored(want.registered_at));
}

void check_same(const core::execution& got, const core::execution& want) {
  BOOST_TEST(got.id == want.id);
  BOOST_TEST(got.agent_id == want.agent_id);
  BOOST_TEST(got.agent_type == want.agent_type);
  BOOST_TEST(got.llm_provider == want.llm_provider);
  BOOST_TEST(got.model_name == want.model_name);
  BOOST_TEST(got.task_type == want.task_type);
  BOOST_TEST(got.workflow_slug == want.workflow_slug);
  BOOST_TEST(got.run_id == want.run_id);
  BOOST_TEST((got.status == execution_status::running));
  BOOST_TEST(got.started_at == stored(want.started_at));
  BOOST_TEST(got.completed_at == 0);
  BOOST_TEST(got.price_version == want.price_version);
  BOOST_TEST(!got.success_score.has_value());
  BOOST_TEST(got.error_message.empty());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(persistence_loader)

BOOST_FIXTURE_TEST_CASE(the_loader_returns_what_was_written_including_running_executions, writer_fixture) {
  const auto planner = sample_agent("agent_planner_1");
  auto coder = sample_agent("agent_coder_1");
  coder.agent_type = "coder";
  coder.status = core::agent_status::paused;
  coder.metadata.clear();
  coder.last_heartbeat = 0;  // never heartbeated: comes back as 0
  const auto gone = sample_agent("agent_gone");

  const auto still_running = sample_running(planner.agent_id, 10);
  auto no_workflow = sample_running(coder.agent_id, 20);
  no_workflow.workflow_slug.clear();
  no_workflow.run_id.clear();
  const auto finished = completed(sample_running(planner.agent_id, 30));
  const auto started_then_finished = sample_running(coder.agent_id, 40);

  db::batch b1;
  b1.agents = {{planner}, {coder}, {gone}};
  b1.executions = {still_running, no_workflow, finished, started_then_finished};
  b1.tool_usage = {sample_tool_usage(planner.agent_id, "code_search", 50),
                   sample_tool_usage(coder.agent_id, "bash", 1)};
  b1.performance = {sample_performance(core::group_by::agent, planner.agent_id, 40),
                    sample_performance(core::group_by::agent_type, "planner", 12)};
  write(b1);
  db::batch b2;
  b2.agents = {{gone, true, sample_time(99)}};
  b2.executions = {completed(started_then_finished, execution_status::timeout)};
  write(b2);

  auto l = connect_loader(url);
  auto state = l.load();
  BOOST_TEST_REQUIRE(bool(state), (state ? "" : state.error().message));

  BOOST_TEST_REQUIRE(state->agents.size() == 2u);  // the unregistered one stays in the table only
  check_same(state->agents[0], coder);             // ordered by agent id
  check_same(state->agents[1], planner);

  BOOST_TEST_REQUIRE(state->running_executions.size() == 2u);
  check_same(state->running_executions[0], still_running);  // ordered by start time
  check_same(state->running_executions[1], no_workflow);

  BOOST_TEST_REQUIRE(state->tool_usage.size() == 2u);
  for (const auto& want : b1.tool_usage) {
    const auto it = std::find_if(state->tool_usage.begin(), state->tool_usage.end(), [&](const auto& s) {
      return s.usage.agent_id == want.usage.agent_id && s.usage.tool_name == want.usage.tool_name;
    });
    BOOST_TEST_REQUIRE((it != state->tool_usage.end()));
    const auto& got = *it;
    BOOST_TEST(got.usage.invocation_count == want.usage.invocation_count);
    BOOST_TEST(got.usage.success_count == want.usage.success_count);
    BOOST_TEST(got.usage.failure_count == want.usage.failure_count);
    BOOST_TEST(got.usage.avg_duration_ms == want.usage.avg_duration_ms);
    BOOST_TEST(got.usage.p50_duration_ms == want.usage.p50_duration_ms);
    BOOST_TEST(got.usage.p95_duration_ms == want.usage.p95_duration_ms);
    BOOST_TEST(got.usage.p99_duration_ms == want.usage.p99_duration_ms);
    BOOST_TEST(got.usage.last_used_at == stored(want.usage.last_used_at));
    BOOST_TEST(got.taken_at == stored(want.taken_at));
    BOOST_TEST((got.durations == want.durations));
    // The rebuilt histogram answers the same percentiles as the original.
    const auto h = core::log_histogram::from_buckets(got.durations);
    BOOST_TEST(h.quantile(0.99) == want.usage.p99_duration_ms);
    BOOST_TEST(h.count() == static_cast<std::uint64_t>(want.usage.invocation_count));
  }

  BOOST_TEST_REQUIRE(state->performance.size() == 2u);
  for (const auto& want : b1.performance) {
    const auto it = std::find_if(state->performance.begin(), state->performance.end(), [&](const auto& s) {
      return s.summary.dimension == want.summary.dimension && s.summary.key == want.summary.key;
    });
    BOOST_TEST_REQUIRE((it != state->performance.end()));
    const auto& got = it->summary;
    const auto& w = want.summary;
    BOOST_TEST(got.total_executions == w.total_executions);
    BOOST_TEST(got.successful_executions == w.successful_executions);
    BOOST_TEST(got.failed_executions == w.failed_executions);
    BOOST_TEST(got.timeout_executions == w.timeout_executions);
    BOOST_TEST(got.success_rate == w.success_rate);
    BOOST_TEST(got.avg_duration_ms == w.avg_duration_ms);
    BOOST_TEST(got.p50_duration_ms == w.p50_duration_ms);
    BOOST_TEST(got.p95_duration_ms == w.p95_duration_ms);
    BOOST_TEST(got.p99_duration_ms == w.p99_duration_ms);
    BOOST_TEST(got.total_tokens_used == w.total_tokens_used);
    BOOST_TEST(got.total_cost_micro_usd == w.total_cost_micro_usd);
    BOOST_TEST(got.total_cost_usd == w.total_cost_usd);
    BOOST_TEST(got.avg_cost_per_execution == w.avg_cost_per_execution);
    BOOST_TEST(got.total_retries == w.total_retries);
    BOOST_TEST(got.last_execution_at == stored(w.last_execution_at));
    BOOST_TEST(it->taken_at == stored(want.taken_at));
    BOOST_TEST((it->durations == want.durations));
  }

  // The single-kind calls agree with load().
  BOOST_TEST(l.running_executions()->size() == 2u);
  BOOST_TEST(l.agents()->size() == 2u);
  BOOST_TEST(l.tool_usage()->size() == 2u);
  BOOST_TEST(l.performance()->size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(an_agent_card_and_skills_round_trip_through_the_writer_and_the_loader, writer_fixture) {
  auto carded = sample_agent("agent_with_card");
  carded.agent_card =
      R"({"name": "Planner", "skills": [{"id": "plan", "tags": ["a,b", "{x}"]}], "note": "quote \" and \\ and \u00fc"})";
  // Commas, braces, quotes, backslashes, spaces, the word NULL, non-ASCII
  // and an empty skill are all plain elements of the array.
  carded.skills = {"plan", "a,b", "{x}", "say \"hi\"", "back\\slash", "NULL", "ünï", ""};
  auto plain = sample_agent("agent_without_card");
  db::batch b;
  b.agents = {{carded}, {plain}};
  write(b);

  BOOST_TEST(scalar("SELECT agent_card IS NULL FROM agent_instances WHERE agent_id = 'agent_without_card'") == "t");
  BOOST_TEST(scalar("SELECT cardinality(skills) FROM agent_instances WHERE agent_id = 'agent_without_card'") == "0");
  // Stored as jsonb (queryable), equal as a JSON value to what was given.
  BOOST_TEST(query_params("SELECT agent_card = $1::jsonb, agent_card->>'name' FROM agent_instances "
                          "WHERE agent_id = 'agent_with_card'",
                          carded.agent_card)[0][0]
                 .as<bool>());
  BOOST_TEST(scalar("SELECT skills[2] FROM agent_instances WHERE agent_id = 'agent_with_card'") == "a,b");

  auto state = connect_loader(url).load();
  BOOST_TEST_REQUIRE(bool(state), (state ? "" : state.error().message));
  BOOST_TEST_REQUIRE(state->agents.size() == 2u);
  const auto& got = state->agents[0];  // ordered by id
  BOOST_TEST(got.agent_id == "agent_with_card");
  BOOST_TEST((got.skills == carded.skills));
  // The card comes back as jsonb prints it: the same JSON value.
  BOOST_TEST(query_params("SELECT $1::jsonb = $2::jsonb", got.agent_card, carded.agent_card)[0][0].as<bool>(),
             got.agent_card);
  BOOST_TEST(state->agents[1].agent_card.empty());
  BOOST_TEST(state->agents[1].skills.empty());
}

BOOST_FIXTURE_TEST_CASE(the_loader_on_a_new_database_returns_nothing, migrated_database) {
  auto l = connect_loader(url);
  auto state = l.load();
  BOOST_TEST_REQUIRE(bool(state), (state ? "" : state.error().message));
  BOOST_TEST(state->agents.empty());
  BOOST_TEST(state->tool_usage.empty());
  BOOST_TEST(state->performance.empty());
  BOOST_TEST(state->running_executions.empty());
}

BOOST_FIXTURE_TEST_CASE(the_loader_on_a_database_without_the_schema_gives_an_error_value, fresh_database) {
  auto l = connect_loader(url);
  auto state = l.load();
  BOOST_TEST_REQUIRE(!state);
  BOOST_TEST((state.code() == core::errc::internal));
  BOOST_TEST(state.error().message.find("agent_instances") != std::string::npos, state.error().message);
}

BOOST_AUTO_TEST_SUITE_END()
