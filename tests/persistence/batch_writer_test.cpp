#include <boost/test/unit_test.hpp>

#include <climits>
#include <string>
#include <vector>

#include "core/uuid.hpp"
#include "persistence/loader.hpp"
#include "writer_fixture.hpp"

using namespace agentreg;
using namespace agentreg::test;
using namespace std::string_literals;
using core::execution_status;

namespace {

// Reads one execution row back and compares it with what was written,
// field by field.
void check_execution_row(writer_fixture& f, const core::execution& e) {
  const auto rows = f.query(
      "SELECT agent_id, agent_type, llm_provider, model_name, task_type, coalesce(workflow_slug, ''), "
      "coalesce(run_id, ''), status, " + micros_sql("started_at") + ", coalesce(" + micros_sql("completed_at") +
      ", 0), duration_ms, prompt_tokens, completion_tokens, cached_tokens, total_tokens, cost_micro_usd, "
      "estimated_cost_usd::text, cost_from_price_table, coalesce(price_version, ''), success_score, "
      "retry_count, coalesce(error_message, ''), completed_at IS NULL "
      "FROM agent_executions WHERE id = '" + e.id + "'");
  BOOST_TEST_REQUIRE(rows.size() == 1u, "execution " << e.id);
  const auto r = rows[0];
  BOOST_TEST(r[0].as<std::string>() == e.agent_id);
  BOOST_TEST(r[1].as<std::string>() == e.agent_type);
  BOOST_TEST(r[2].as<std::string>() == e.llm_provider);
  BOOST_TEST(r[3].as<std::string>() == e.model_name);
  BOOST_TEST(r[4].as<std::string>() == e.task_type);
  BOOST_TEST(r[5].as<std::string>() == e.workflow_slug);
  BOOST_TEST(r[6].as<std::string>() == e.run_id);
  BOOST_TEST(r[7].as<std::string>() == core::to_string(e.status));
  BOOST_TEST(r[8].as<std::int64_t>() == micros_of(e.started_at));
  BOOST_TEST(r[9].as<std::int64_t>() == (e.completed_at == 0 ? 0 : micros_of(e.completed_at)));
  BOOST_TEST(r[10].as<std::int64_t>() == e.duration_ms);
  BOOST_TEST(r[11].as<std::int64_t>() == e.prompt_tokens);
  BOOST_TEST(r[12].as<std::int64_t>() == e.completion_tokens);
  BOOST_TEST(r[13].as<std::int64_t>() == e.cached_tokens);
  BOOST_TEST(r[14].as<std::int64_t>() == e.total_tokens);
  BOOST_TEST(r[15].as<std::int64_t>() == e.cost_micro_usd);
  BOOST_TEST(r[16].as<std::string>() == usd_text(e.cost_micro_usd));
  BOOST_TEST(r[17].as<bool>() == e.cost_from_price_table);
  BOOST_TEST(r[18].as<std::string>() == e.price_version);
  BOOST_TEST(r[19].is_null() == !e.success_score.has_value());
  if (e.success_score)
    BOOST_TEST(r[19].as<double>() == *e.success_score);
  BOOST_TEST(r[20].as<std::int64_t>() == e.retry_count);
  BOOST_TEST(r[21].as<std::string>() == e.error_message);
  BOOST_TEST(r[22].as<bool>() == (e.completed_at == 0));
}

void check_agent_row(writer_fixture& f, const core::agent& a) {
  const auto rows = f.query_params(
      "SELECT agent_type, status, current_load, max_capacity, llm_provider, model_name, " +
          micros_sql("last_heartbeat") + ", temperature, max_tokens, " + micros_sql("registered_at") +
          ", unregistered_at IS NULL FROM agent_instances WHERE agent_id = $1",
      a.agent_id);
  BOOST_TEST_REQUIRE(rows.size() == 1u, "agent " << a.agent_id);
  const auto r = rows[0];
  BOOST_TEST(r[0].as<std::string>() == a.agent_type);
  BOOST_TEST(r[1].as<std::string>() == core::to_string(a.status));
  BOOST_TEST(r[2].as<std::int64_t>() == a.current_load);
  BOOST_TEST(r[3].as<std::int64_t>() == a.max_capacity);
  BOOST_TEST(r[4].as<std::string>() == a.llm_provider);
  BOOST_TEST(r[5].as<std::string>() == a.model_name);
  BOOST_TEST(r[6].as<std::int64_t>() == micros_of(a.last_heartbeat));
  BOOST_TEST(r[7].as<double>() == a.temperature);
  BOOST_TEST(r[8].as<std::int64_t>() == a.max_tokens);
  BOOST_TEST(r[9].as<std::int64_t>() == micros_of(a.registered_at));
  BOOST_TEST(r[10].as<bool>());
  const auto meta = f.query_params("SELECT m.key, m.value FROM agent_instances a, jsonb_each_text(a.metadata) m "
                                   "WHERE a.agent_id = $1 ORDER BY m.key",
                                   a.agent_id);
  std::map<std::string, std::string> stored;
  for (const auto& m : meta)
    stored[m[0].as<std::string>()] = m[1].as<std::string>();
  BOOST_TEST((stored == a.metadata));
}

// "{1,2}" from a histogram's bucket indexes or counts, as PostgreSQL prints arrays.
template <class Pick>
std::string array_text(const db::histogram_buckets& h, Pick pick) {
  std::string s = "{";
  for (std::size_t i = 0; i < h.size(); ++i)
    s += (i ? "," : "") + std::to_string(pick(h[i]));
  return s + "}";
}

db::batch full_batch(const std::string& agent_id, int executions) {
  db::batch b;
  b.agents.push_back({sample_agent(agent_id)});
  for (int i = 0; i < executions; ++i) {
    auto e = completed(sample_running(agent_id, 100 + i), i % 3 == 0 ? execution_status::failed
                                                                     : execution_status::success);
    e.cost_micro_usd += i;
    e.total_tokens += i;
    b.executions.push_back(e);
    b.tool_calls.push_back(sample_tool_call(agent_id, "code_search", e.id));
  }
  b.tool_usage.push_back(sample_tool_usage(agent_id, "code_search", executions));
  b.performance.push_back(sample_performance(core::group_by::agent, agent_id, executions));
  b.performance.push_back(sample_performance(core::group_by::task_type, "planning", executions));
  return b;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(persistence_writer)

BOOST_FIXTURE_TEST_CASE(a_batch_round_trips_field_by_field_through_copy_and_the_merges, writer_fixture) {
  const auto agent = sample_agent("agent_planner_1");
  const auto running = sample_running(agent.agent_id, 10);
  auto unscored = sample_running(agent.agent_id, 20);

  // First flush: the agent and two executions that have just started.
  db::batch started;
  started.agents.push_back({agent});
  started.executions = {running, unscored};
  const auto r1 = write(started);
  BOOST_TEST(r1.agents == 1);
  BOOST_TEST(r1.executions == 2);
  check_agent_row(*this, agent);
  check_execution_row(*this, running);
  check_execution_row(*this, unscored);

  // Second flush: both completed, with tool calls and the aggregates.
  const auto done = completed(running);
  auto failed = completed(unscored, execution_status::failed);
  failed.success_score.reset();
  auto call = sample_tool_call(agent.agent_id, "code_search", done.id);
  auto loose_call = sample_tool_call(agent.agent_id, "bash", "");  // not tied to an execution
  const auto usage = sample_tool_usage(agent.agent_id, "code_search", 5);
  const auto per_agent = sample_performance(core::group_by::agent, agent.agent_id, 10);
  const auto per_model = sample_performance(core::group_by::model, agent.model_name, 4);
  db::batch finished;
  finished.executions = {done, failed};
  finished.tool_calls = {call, loose_call};
  finished.tool_usage = {usage};
  finished.performance = {per_agent, per_model};
  const auto r2 = write(finished);
  BOOST_TEST(r2.executions == 2);
  BOOST_TEST(r2.tool_calls == 2);
  BOOST_TEST(r2.tool_usage == 1);
  BOOST_TEST(r2.performance == 2);
  BOOST_TEST(r2.rows_written() == 7);
  check_execution_row(*this, done);
  check_execution_row(*this, failed);
  BOOST_TEST(count("agent_executions") == 2);

  const auto calls = query(
      "SELECT agent_id, tool_name, coalesce(execution_id::text, ''), success_count, failure_count, duration_ms, " +
      micros_sql("called_at") + " FROM agent_tool_calls WHERE id = '" + call.id + "'");
  BOOST_TEST_REQUIRE(calls.size() == 1u);
  BOOST_TEST(calls[0][0].as<std::string>() == call.agent_id);
  BOOST_TEST(calls[0][1].as<std::string>() == call.tool_name);
  BOOST_TEST(calls[0][2].as<std::string>() == call.call.execution_id);
  BOOST_TEST(calls[0][3].as<std::int64_t>() == call.call.success_count);
  BOOST_TEST(calls[0][4].as<std::int64_t>() == call.call.failure_count);
  BOOST_TEST(calls[0][5].as<double>() == call.call.duration_ms);
  BOOST_TEST(calls[0][6].as<std::int64_t>() == micros_of(call.at));
  BOOST_TEST(scalar("SELECT execution_id IS NULL FROM agent_tool_calls WHERE id = '" + loose_call.id + "'") == "t");

  const auto u = query(
      "SELECT invocation_count, success_count, failure_count, avg_duration_ms, p50_duration_ms, "
      "p95_duration_ms, p99_duration_ms, duration_bucket_index::text, duration_bucket_count::text, " +
      micros_sql("last_used_at") + ", " + micros_sql("updated_at") +
      " FROM agent_tool_usage WHERE agent_id = 'agent_planner_1' AND tool_name = 'code_search'");
  BOOST_TEST_REQUIRE(u.size() == 1u);
  BOOST_TEST(u[0][0].as<std::int64_t>() == usage.usage.invocation_count);
  BOOST_TEST(u[0][1].as<std::int64_t>() == usage.usage.success_count);
  BOOST_TEST(u[0][2].as<std::int64_t>() == usage.usage.failure_count);
  BOOST_TEST(u[0][3].as<double>() == usage.usage.avg_duration_ms);  // exact: 1/3 needs 17 digits
  BOOST_TEST(u[0][4].as<double>() == usage.usage.p50_duration_ms);
  BOOST_TEST(u[0][5].as<double>() == usage.usage.p95_duration_ms);
  BOOST_TEST(u[0][6].as<double>() == usage.usage.p99_duration_ms);
  BOOST_TEST(u[0][7].as<std::string>() == array_text(usage.durations, [](auto b) { return b.first; }));
  BOOST_TEST(u[0][8].as<std::string>() == array_text(usage.durations, [](auto b) { return b.second; }));
  BOOST_TEST(u[0][7].as<std::string>().find(std::to_string(INT32_MIN)) != std::string::npos);
  BOOST_TEST(u[0][9].as<std::int64_t>() == micros_of(usage.usage.last_used_at));
  BOOST_TEST(u[0][10].as<std::int64_t>() == micros_of(usage.taken_at));

  const auto p = query(
      "SELECT agent_id, total_executions, successful_executions, failed_executions, timeout_executions, "
      "success_rate, avg_duration_ms, p50_duration_ms, p95_duration_ms, p99_duration_ms, total_tokens_used, "
      "total_cost_micro_usd, total_cost_usd::text, avg_cost_per_execution::text, total_retries, " +
      micros_sql("last_execution_at") +
      ", duration_bucket_index::text, duration_bucket_count::text FROM agent_performance_summary "
      "WHERE dimension = 'agent' AND key = 'agent_planner_1'");
  BOOST_TEST_REQUIRE(p.size() == 1u);
  const auto& s = per_agent.summary;
  BOOST_TEST(p[0][0].as<std::string>() == "agent_planner_1");  // the seed's column, generated
  BOOST_TEST(p[0][1].as<std::int64_t>() == s.total_executions);
  BOOST_TEST(p[0][2].as<std::int64_t>() == s.successful_executions);
  BOOST_TEST(p[0][3].as<std::int64_t>() == s.failed_executions);
  BOOST_TEST(p[0][4].as<std::int64_t>() == s.timeout_executions);
  BOOST_TEST(p[0][5].as<double>() == s.success_rate);
  BOOST_TEST(p[0][6].as<double>() == s.avg_duration_ms);
  BOOST_TEST(p[0][7].as<double>() == s.p50_duration_ms);
  BOOST_TEST(p[0][8].as<double>() == s.p95_duration_ms);
  BOOST_TEST(p[0][9].as<double>() == s.p99_duration_ms);
  BOOST_TEST(p[0][10].as<std::int64_t>() == s.total_tokens_used);
  BOOST_TEST(p[0][11].as<std::int64_t>() == s.total_cost_micro_usd);
  BOOST_TEST(p[0][12].as<std::string>() == usd_text(s.total_cost_micro_usd));
  BOOST_TEST(p[0][13].as<std::string>() == usd_text(s.total_cost_micro_usd / s.total_executions));
  BOOST_TEST(p[0][14].as<std::int64_t>() == s.total_retries);
  BOOST_TEST(p[0][15].as<std::int64_t>() == micros_of(s.last_execution_at));
  BOOST_TEST(p[0][16].as<std::string>() == array_text(per_agent.durations, [](auto b) { return b.first; }));
  BOOST_TEST(p[0][17].as<std::string>() == array_text(per_agent.durations, [](auto b) { return b.second; }));
  BOOST_TEST(scalar("SELECT agent_id IS NULL FROM agent_performance_summary WHERE dimension = 'model'") == "t");
}

BOOST_FIXTURE_TEST_CASE(timestamps_keep_every_microsecond_and_drop_only_the_nanoseconds, writer_fixture) {
  // Far from the sample times too: the epoch's first microsecond, a date
  // before 1970, and one in 2200.
  db::batch b;
  const std::vector<core::timestamp> times = {1'999, -1'500, 7'258'118'400'123'456'789, sample_time(123'456)};
  for (auto t : times) {
    auto e = sample_running("agent_time", 0);
    e.started_at = t;
    b.executions.push_back(e);
  }
  write(b);
  for (const auto& e : b.executions)
    BOOST_TEST(std::stoll(scalar("SELECT " + micros_sql("started_at") + " FROM agent_executions WHERE id = '" +
                                 e.id + "'")) == micros_of(e.started_at));
}

BOOST_FIXTURE_TEST_CASE(the_same_batch_written_twice_leaves_one_row_each_and_identical_sums, writer_fixture) {
  const auto b = full_batch("agent_retry", 6);
  const auto first = write(b);
  BOOST_TEST(first.executions == 6);
  BOOST_TEST(first.tool_calls == 6);
  const auto before = fingerprint();

  // As after a commit whose acknowledgement was lost: the actor reconnects
  // and sends the same batch again.
  auto second_writer = connect_writer(url);
  auto again = second_writer.write(b);
  BOOST_TEST_REQUIRE(bool(again), (again ? "" : again.error().message));
  BOOST_TEST(again->executions == 0);
  BOOST_TEST(again->tool_calls == 0);
  BOOST_TEST(fingerprint() == before);
  BOOST_TEST(count("agent_executions") == 6);
  BOOST_TEST(count("agent_tool_calls") == 6);
  BOOST_TEST(count("agent_tool_usage") == 1);
  BOOST_TEST(count("agent_performance_summary") == 2);
  std::int64_t tokens = 0, cost = 0;
  for (const auto& e : b.executions) {
    tokens += e.total_tokens;
    cost += e.cost_micro_usd;
  }
  BOOST_TEST(scalar("SELECT sum(total_tokens) FROM agent_executions") == std::to_string(tokens));
  BOOST_TEST(scalar("SELECT sum(cost_micro_usd) FROM agent_executions") == std::to_string(cost));
}

BOOST_FIXTURE_TEST_CASE(a_running_record_replayed_after_the_completion_does_not_undo_it, writer_fixture) {
  const auto running = sample_running("agent_late", 1);
  const auto done = completed(running);
  db::batch start, finish;
  start.executions = {running};
  finish.executions = {done};
  write(start);
  write(finish);
  const auto late = write(start);  // a retried older batch arrives last
  BOOST_TEST(late.executions == 0);
  check_execution_row(*this, done);

  // A second, different completion does not replace the first either.
  auto other = completed(running, execution_status::timeout);
  other.total_tokens = 1;
  db::batch twice;
  twice.executions = {other};
  BOOST_TEST(write(twice).executions == 0);
  check_execution_row(*this, done);
}

BOOST_FIXTURE_TEST_CASE(a_batch_holding_both_records_of_an_execution_keeps_the_completion_in_either_order,
                        writer_fixture) {
  const auto a = sample_running("agent_both", 1);
  const auto b = sample_running("agent_both", 2);
  db::batch mixed;
  mixed.executions = {a, completed(a), completed(b), b};
  const auto r = write(mixed);
  BOOST_TEST(r.executions == 2);
  check_execution_row(*this, completed(a));
  check_execution_row(*this, completed(b));
}

BOOST_FIXTURE_TEST_CASE(snapshots_are_absolute_values_so_the_newest_replaces_the_older, writer_fixture) {
  db::batch b1;
  b1.agents.push_back({sample_agent("agent_abs")});
  b1.tool_usage.push_back(sample_tool_usage("agent_abs", "bash", 5));
  b1.performance.push_back(sample_performance(core::group_by::agent, "agent_abs", 5));
  write(b1);

  // Within one batch the last snapshot of a key wins; across batches the
  // newer overwrites. Never a sum.
  db::batch b2;
  auto busier = sample_agent("agent_abs");
  busier.current_load = 10;
  busier.status = core::agent_status::busy;
  b2.agents = {{sample_agent("agent_abs")}, {busier}};
  b2.tool_usage = {sample_tool_usage("agent_abs", "bash", 9), sample_tool_usage("agent_abs", "bash", 7)};
  b2.performance = {sample_performance(core::group_by::agent, "agent_abs", 8)};
  const auto r = write(b2);
  BOOST_TEST(r.agents == 1);
  BOOST_TEST(r.tool_usage == 1);
  check_agent_row(*this, busier);
  BOOST_TEST(scalar("SELECT invocation_count FROM agent_tool_usage") == "7");
  BOOST_TEST(scalar("SELECT total_executions FROM agent_performance_summary") == "8");
  BOOST_TEST(scalar("SELECT total_cost_micro_usd FROM agent_performance_summary") == std::to_string(12'345 * 8));
}

BOOST_FIXTURE_TEST_CASE(text_with_tabs_newlines_quotes_backslashes_and_non_ascii_round_trips_through_copy,
                        writer_fixture) {
  const std::vector<std::string> nasty = {
      "tab\there",
      "new\nline and\r\ncrlf",
      "double \"quotes\" and 'single'",
      "back\\slash \\t not a tab \\\\ two",
      "\\N",   // COPY's NULL marker, as text
      "\\.",   // COPY's end-of-data marker, as text
      "é 漢字 🚀 Ünïcødé",
      "control \x01\x02\x1f\x7f bytes",
      "binary-looking \xC3\xBF\xC3\xBE \x0b\x0c\x08",
      "{\"json\": [1, 2], \"k\": null}",
      "comma, separated; and -- SQL'); DROP TABLE agent_executions; --",
      "  padded  ",
      std::string(3000, 'x') + "\t" + std::string(3000, 'y'),
  };
  db::batch b;
  std::vector<core::execution> executions;
  for (std::size_t i = 0; i < nasty.size(); ++i) {
    const auto& s = nasty[i];
    auto a = sample_agent("agent " + s);
    a.agent_type = s;
    a.model_name = s;
    a.metadata = {{s, s}, {"plain", s}};
    b.agents.push_back({a});
    auto e = completed(sample_running(a.agent_id, static_cast<std::int64_t>(i)), execution_status::failed);
    e.task_type = s;
    e.workflow_slug = s;
    e.run_id = s;
    e.error_message = s;
    b.executions.push_back(e);
    auto call = sample_tool_call(a.agent_id, s, e.id);
    b.tool_calls.push_back(call);
    b.tool_usage.push_back(sample_tool_usage(a.agent_id, s, 3));
    b.performance.push_back(sample_performance(core::group_by::workflow, s, 3));
  }
  const auto r = write(b);
  BOOST_TEST(r.executions == static_cast<std::int64_t>(nasty.size()));
  for (const auto& rec : b.agents)
    check_agent_row(*this, rec.agent);
  for (const auto& e : b.executions)
    check_execution_row(*this, e);
  for (const auto& s : nasty) {
    BOOST_TEST(query_params("SELECT 1 FROM agent_tool_calls WHERE tool_name = $1", s).size() == 1u, s);
    BOOST_TEST(query_params("SELECT 1 FROM agent_tool_usage WHERE tool_name = $1", s).size() == 1u, s);
    BOOST_TEST(query_params("SELECT 1 FROM agent_performance_summary WHERE key = $1", s).size() == 1u, s);
  }

  // And back through the loader, as recovery sees it.
  auto l = db::loader::connect(url);
  BOOST_TEST_REQUIRE(bool(l));
  auto agents = l->agents();
  BOOST_TEST_REQUIRE(bool(agents));
  BOOST_TEST_REQUIRE(agents->size() == nasty.size());
  for (const auto& a : *agents) {
    const std::string s = a.agent_id.substr(6);
    BOOST_TEST(a.agent_type == s);
    BOOST_TEST((a.metadata == std::map<std::string, std::string>{{s, s}, {"plain", s}}));
  }
}

BOOST_FIXTURE_TEST_CASE(text_postgresql_cannot_store_is_replaced_instead_of_blocking_the_batch,
                        writer_fixture) {
  auto a = sample_agent("bad \xff id");
  a.metadata = {{"k", "nul\0inside"s}};
  auto e = completed(sample_running(a.agent_id, 1), execution_status::failed);
  e.error_message = "truncated \xE6\xBC";
  db::batch b;
  b.agents.push_back({a});
  b.executions.push_back(e);
  const auto r = write(b);
  BOOST_TEST(r.agents == 1);
  BOOST_TEST(r.executions == 1);
  BOOST_TEST(scalar("SELECT agent_id FROM agent_instances") == "bad \xEF\xBF\xBD id");
  BOOST_TEST(scalar("SELECT metadata->>'k' FROM agent_instances") == "nul\xEF\xBF\xBDinside");
  BOOST_TEST(scalar("SELECT error_message FROM agent_executions") == "truncated \xEF\xBF\xBD");
  BOOST_TEST(scalar("SELECT agent_id FROM agent_executions") == "bad \xEF\xBF\xBD id");
}

BOOST_FIXTURE_TEST_CASE(an_id_that_is_not_a_uuid_is_refused_before_anything_is_sent, writer_fixture) {
  db::batch b;
  b.agents.push_back({sample_agent("agent_uuid")});
  b.executions.push_back(sample_running("agent_uuid", 1));
  b.executions.back().id = "not-a-uuid";
  auto r = writer.write(b);
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST((r.code() == core::errc::invalid_argument));
  BOOST_TEST(r.error().message.find("not-a-uuid") != std::string::npos, r.error().message);
  BOOST_TEST(!writer.broken());
  BOOST_TEST(count("agent_instances") == 0);

  db::batch calls;
  calls.tool_calls.push_back(sample_tool_call("agent_uuid", "bash", "exec-1"));
  BOOST_TEST((writer.write(calls).code() == core::errc::invalid_argument));

  b.executions.back().id = core::to_string(core::make_uuid());
  BOOST_TEST(write(b).executions == 1);
}

BOOST_FIXTURE_TEST_CASE(a_database_error_on_a_working_connection_is_an_error_value_without_the_broken_flag,
                        writer_fixture) {
  query("DROP TABLE agent_tool_calls");
  db::batch b;
  b.agents.push_back({sample_agent("agent_err")});
  b.tool_calls.push_back(sample_tool_call("agent_err", "bash", ""));
  auto r = writer.write(b);
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST((r.code() == core::errc::internal));
  BOOST_TEST(r.error().message.find("agent_tool_calls") != std::string::npos, r.error().message);
  BOOST_TEST(!writer.broken());
  BOOST_TEST(!writer.data_error());  // a missing table is no fault of the records
  BOOST_TEST(count("agent_instances") == 0);  // all or nothing

  b.tool_calls.clear();
  BOOST_TEST(write(b).agents == 1);
}

BOOST_FIXTURE_TEST_CASE(a_constraint_refusing_a_record_is_a_data_error_and_the_record_can_be_kept_as_a_dead_letter,
                        writer_fixture) {
  query("ALTER TABLE agent_executions ADD CONSTRAINT test_no_poison CHECK (task_type <> 'poison')");
  auto bad = completed(sample_running("agent_p", 1));
  bad.task_type = "poison";
  bad.error_message = "quote \" backslash \\ tab\t and \xff invalid UTF-8";
  db::batch b;
  b.executions = {completed(sample_running("agent_p", 2)), bad};
  auto r = writer.write(b);
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST(r.error().message.find("SQLSTATE 23514") != std::string::npos, r.error().message);
  BOOST_TEST(writer.data_error());
  BOOST_TEST(!writer.broken());
  BOOST_TEST(count("agent_executions") == 0);

  db::batch one;
  one.executions = {bad};
  auto kept = writer.write_dead_letters(one, r.error().message);
  BOOST_TEST_REQUIRE(bool(kept), (kept ? "" : kept.error().message));
  BOOST_TEST(*kept == 1);
  const auto row = query("SELECT kind, record->>'id', record->>'task_type', (record->>'total_tokens')::bigint, "
                         "record->>'error_message', error, failed_at > now() - interval '1 minute' "
                         "FROM agentreg_dead_letters")[0];
  BOOST_TEST(row[0].as<std::string>() == "execution");
  BOOST_TEST(row[1].as<std::string>() == bad.id);
  BOOST_TEST(row[2].as<std::string>() == "poison");
  BOOST_TEST(row[3].as<std::int64_t>() == bad.total_tokens);
  BOOST_TEST(row[4].as<std::string>() == "quote \" backslash \\ tab\t and \xEF\xBF\xBD invalid UTF-8");
  BOOST_TEST(row[5].as<std::string>().find("test_no_poison") != std::string::npos);
  BOOST_TEST(row[6].as<bool>());
  // The writer goes on: the good record alone is written.
  b.executions.pop_back();
  BOOST_TEST(write(b).executions == 1);
}

BOOST_FIXTURE_TEST_CASE(a_write_blocked_by_a_lock_fails_after_the_statement_timeout_instead_of_waiting_forever,
                        writer_fixture) {
  auto w = db::batch_writer::connect(url, std::chrono::milliseconds{300});
  BOOST_TEST_REQUIRE(bool(w), (w ? "" : w.error().message));
  pqxx::work blocker{sql()};
  blocker.exec0("LOCK TABLE agent_executions IN ACCESS EXCLUSIVE MODE");
  db::batch b;
  b.executions = {completed(sample_running("agent_t", 1))};
  auto r = w->write(b);
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST(r.error().message.find("SQLSTATE 57014") != std::string::npos, r.error().message);
  BOOST_TEST(!w->broken());      // the connection is fine...
  BOOST_TEST(!w->data_error());  // ...and so are the records: retry later
  blocker.abort();
  auto again = w->write(b);
  BOOST_TEST_REQUIRE(bool(again), (again ? "" : again.error().message));
  BOOST_TEST(again->executions == 1);
}

BOOST_FIXTURE_TEST_CASE(unregistering_an_agent_keeps_its_executions_and_costs, writer_fixture) {
  const auto agent = sample_agent("agent_gone");
  const auto e = completed(sample_running(agent.agent_id, 1));
  db::batch b;
  b.agents.push_back({agent});
  b.executions.push_back(e);
  write(b);

  const core::timestamp gone_at = sample_time(60'000'000);
  db::batch bye;
  bye.agents.push_back({agent, true, gone_at});
  write(bye);
  BOOST_TEST(scalar("SELECT " + micros_sql("unregistered_at") + " FROM agent_instances") ==
             std::to_string(micros_of(gone_at)));
  BOOST_TEST(count("agent_executions") == 1);
  BOOST_TEST(scalar("SELECT sum(cost_micro_usd) FROM agent_executions WHERE agent_id = 'agent_gone'") ==
             std::to_string(e.cost_micro_usd));

  // A replay without a time keeps the first unregistration time.
  db::batch replay;
  replay.agents.push_back({agent, true, 0});
  write(replay);
  BOOST_TEST(scalar("SELECT " + micros_sql("unregistered_at") + " FROM agent_instances") ==
             std::to_string(micros_of(gone_at)));

  auto l = db::loader::connect(url);
  BOOST_TEST_REQUIRE(bool(l));
  BOOST_TEST(l->agents()->empty());

  // Registering the id again brings it back, history intact.
  write(b);
  BOOST_TEST(scalar("SELECT unregistered_at IS NULL FROM agent_instances") == "t");
  BOOST_TEST(l->agents()->size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_empty_batch_writes_nothing, writer_fixture) {
  const auto r = write(db::batch{});
  BOOST_TEST(r.rows_written() == 0);
}

BOOST_FIXTURE_TEST_CASE(a_large_batch_is_written_whole_in_one_transaction, writer_fixture) {
  constexpr int n = 20'000;
  db::batch b;
  b.executions.reserve(n);
  std::int64_t cost = 0;
  const auto base = sample_running("agent_bulk", 0);
  for (int i = 0; i < n; ++i) {
    auto e = base;
    e.id = core::to_string(core::make_uuid());
    e.started_at += i * 1000;
    if (i % 2 == 0) {
      e = completed(e);
      e.cost_micro_usd = i;
      cost += i;
    }
    b.executions.push_back(e);
  }
  const auto r = write(b);
  BOOST_TEST(r.executions == n);
  BOOST_TEST(count("agent_executions") == n);
  BOOST_TEST(scalar("SELECT count(*) FROM agent_executions WHERE status = 'running'") == std::to_string(n / 2));
  BOOST_TEST(scalar("SELECT sum(cost_micro_usd) FROM agent_executions") == std::to_string(cost));
}

BOOST_AUTO_TEST_SUITE_END()
