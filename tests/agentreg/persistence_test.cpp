#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdio>
#include <map>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "agentreg/registry.hpp"
#include "core/fault_injection.hpp"
#include "persistence/migrations.hpp"
#include "test_cluster.hpp"

using namespace agentreg;
using namespace std::chrono_literals;

namespace {

config db_config(const std::string& url) {
  config c;
  c.database_url = url;
  c.auto_sweep = false;
  c.flush_interval = 20ms;
  return c;
}

agent_spec spec(const std::string& id, std::int64_t capacity = 100) {
  agent_spec s{id, "planner", "openai", "gpt-4o-mini"};
  s.max_capacity = capacity;
  return s;
}

// Waits until `done()` holds, checking every few milliseconds, for at most
// `deadline` (generous: the machine is shared); answers whether it held.
template <class Pred>
bool eventually(Pred done, std::chrono::seconds deadline = 120s) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Whether a new connection to `url` fails (the server is down).
bool database_is_down(const std::string& url) {
  try {
    pqxx::connection c{url};
    return false;
  } catch (const std::exception&) {
    return true;
  }
}

// Runs start+complete pairs on `threads` threads until `stop`; counts what
// the registry accepted (and sums it) and what it refused.
struct load {
  registry& reg;
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> completed{0}, tokens{0}, micro{0}, refused{0}, other_errors{0};
  std::vector<std::thread> threads;

  load(registry& r, int n) : reg(r) {
    for (int t = 0; t < n; ++t)
      threads.emplace_back([this, t] {
        for (int i = 0; !stop.load(); ++i) {
          auto id = reg.start_execution("a" + std::to_string(t));
          if (!id) {
            (id.code() == errc::persistence_backlog ? refused : other_errors)++;
            std::this_thread::sleep_for(1ms);
            continue;
          }
          execution_metrics m;
          m.prompt_tokens = 10 + i % 7;
          m.completion_tokens = 5;
          m.estimated_cost_usd = 0.000123;
          for (;;) {  // a refused completion changes nothing: retry it
            auto e = reg.complete_execution(*id, "success", m);
            if (e) {
              ++completed;
              tokens += e->total_tokens;
              micro += e->cost_micro_usd;
              break;
            }
            if (e.code() != errc::persistence_backlog) {
              ++other_errors;
              break;
            }
            ++refused;
            std::this_thread::sleep_for(1ms);
          }
        }
      });
  }
  void finish() {
    stop = true;
    for (auto& t : threads)
      t.join();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_persistence)

BOOST_AUTO_TEST_CASE(everything_recorded_reaches_postgres_field_by_field) {
  test::fresh_database db;
  std::string exec_id;
  {
    registry reg{db_config(db.url)};
    BOOST_REQUIRE(bool(reg.register_agent(spec("a1"))));
    BOOST_REQUIRE(bool(reg.register_agent(spec("a2"))));
    auto id = reg.start_execution("a1", {"plan", "wf-1", "run-9"});
    exec_id = *id;
    execution_metrics m;
    m.prompt_tokens = 1500;
    m.completion_tokens = 800;
    m.cached_tokens = 500;
    m.success_score = 0.5;
    m.error_message = "tab\there, newline\nthere, quote ' \" backslash \\ and ünïcødé";
    BOOST_REQUIRE(bool(reg.complete_execution(*id, "failed", m)));
    reg.start_execution("a2", {.task_type = "still running"});
    reg.record_tool_usage("a1", "bash", {.success_count = 2, .failure_count = 1, .duration_ms = 30});
  }  // the destructor flushes everything
  BOOST_TEST(db.count("agent_instances") == 2);
  BOOST_TEST(db.count("agent_executions") == 2);
  auto row = db.query("SELECT status, prompt_tokens, completion_tokens, cached_tokens, total_tokens, "
                      "cost_micro_usd, error_message, workflow_slug, run_id, task_type, model_name "
                      "FROM agent_executions WHERE id = '" + exec_id + "'")[0];
  BOOST_TEST(row[0].as<std::string>() == "failed");
  BOOST_TEST(row[1].as<long>() == 1500);
  BOOST_TEST(row[2].as<long>() == 800);
  BOOST_TEST(row[3].as<long>() == 500);
  BOOST_TEST(row[4].as<long>() == 2300);
  BOOST_TEST(row[5].as<long>() == 668);  // gpt-4o-mini: 1000*0.15 + 500*0.075 + 800*0.6 = 667.5, rounded half up
  BOOST_TEST(row[6].as<std::string>() == "tab\there, newline\nthere, quote ' \" backslash \\ and ünïcødé");
  BOOST_TEST(row[7].as<std::string>() == "wf-1");
  BOOST_TEST(row[8].as<std::string>() == "run-9");
  BOOST_TEST(row[10].as<std::string>() == "gpt-4o-mini");
  BOOST_TEST(db.scalar("SELECT count(*) FROM agent_executions WHERE status = 'running'") == "1");
  BOOST_TEST(db.scalar("SELECT invocation_count FROM agent_tool_usage WHERE agent_id = 'a1' AND tool_name = 'bash'") ==
             "3");
  BOOST_TEST(db.scalar("SELECT total_executions FROM agent_performance_summary WHERE dimension = 'agent' AND "
                       "key = 'a1'") == "1");
}

BOOST_AUTO_TEST_CASE(a_new_registry_on_the_same_database_gets_agents_tools_totals_and_running_executions_back) {
  test::fresh_database db;
  std::string running;
  {
    registry reg{db_config(db.url)};
    reg.register_agent(spec("a1"));
    for (int i = 0; i < 5; ++i) {
      auto id = reg.start_execution("a1", {.task_type = "plan"});
      reg.complete_execution(*id, "success", {.prompt_tokens = 100, .completion_tokens = 50, .estimated_cost_usd = 0.01});
    }
    reg.record_tool_usage("a1", "code_search", {.success_count = 4, .duration_ms = 250});
    running = *reg.start_execution("a1");
  }
  registry again{db_config(db.url)};
  auto a = again.get_agent("a1");
  BOOST_REQUIRE(bool(a));
  BOOST_TEST((a->status == agent_status::offline));  // until it heartbeats
  BOOST_TEST(a->model_name == "gpt-4o-mini");
  BOOST_TEST((again.heartbeat("a1")->status == agent_status::online));
  auto p = again.get_performance("a1");
  BOOST_TEST(p->total_executions == 5);
  BOOST_TEST(p->total_tokens_used == 750);
  BOOST_TEST(p->total_cost_micro_usd == 50'000);
  BOOST_TEST(again.get_tool_usage("a1")->at(0).invocation_count == 4);
  BOOST_TEST(again.get_performance_by(group_by::task_type)->at(0).total_executions == 5);
  // The execution that was running before the restart can be completed.
  BOOST_TEST(bool(again.complete_execution(running, "success", {.prompt_tokens = 1})));
  BOOST_TEST(again.get_performance("a1")->total_executions == 6);
}

// The teardown lets the agents' actors go all at once, on several threads,
// some of them still busy: what was persisted before must all be there.
BOOST_AUTO_TEST_CASE(a_registry_of_many_agents_torn_down_with_its_actors_busy_loses_no_agent) {
  test::fresh_database db;
  constexpr int n = 20'000;
  std::atomic<int> answered{0};
  std::string running;
  {
    registry reg{db_config(db.url)};
    for (int i = 0; i < n; ++i) {
      auto s = spec("many_" + std::to_string(i), 1 + i % 7);
      s.model_name = i % 2 ? "gpt-4o" : "claude-3-5-sonnet";
      BOOST_REQUIRE(bool(reg.register_agent(std::move(s))));
    }
    running = *reg.start_execution("many_" + std::to_string(n - 1));
    // Every third agent's actor started and is busy when the registry goes.
    for (int i = 0; i < n; i += 3)
      reg.heartbeat_async("many_" + std::to_string(i), std::nullopt, [&](expected<agent> a) {
        if (a)
          answered.fetch_add(1);
      });
  }
  BOOST_TEST(answered.load() == (n + 2) / 3);  // every completion ran before the actors went
  registry again{db_config(db.url)};
  BOOST_TEST(again.stats().agents == n);
  const auto all = again.list_agents();
  BOOST_REQUIRE(all.size() == std::size_t{n});
  int wrong = 0;
  for (const auto& a : all) {
    const int i = std::stoi(a.agent_id.substr(5));
    if (a.max_capacity != 1 + i % 7 || a.model_name != (i % 2 ? "gpt-4o" : "claude-3-5-sonnet"))
      ++wrong;
  }
  BOOST_TEST(wrong == 0);
  BOOST_TEST(bool(again.complete_execution(running, "success", {.prompt_tokens = 1})));
}

BOOST_AUTO_TEST_CASE(an_agent_card_and_skills_survive_a_restart) {
  test::fresh_database db;
  auto s = spec("carded");
  s.agent_card = R"({"name":"Planner","version":"1.0","skills":[{"id":"plan","tags":["x"]}]})";
  s.skills = {"plan", "x"};
  {
    registry reg{db_config(db.url)};
    BOOST_REQUIRE(bool(reg.register_agent(s)));
  }
  registry again{db_config(db.url)};
  auto a = again.get_agent("carded");
  BOOST_REQUIRE(bool(a));
  BOOST_TEST((a->skills == s.skills));
  // jsonb keeps the value; the text comes back as PostgreSQL prints it.
  BOOST_TEST(db.query_params("SELECT $1::jsonb = $2::jsonb", a->agent_card, s.agent_card)[0][0].as<bool>(),
             a->agent_card);
}

// A record the database refuses for its data must not be retried forever:
// that writer would hold its gate room for good, and under `block` every
// hot call would then hang. The refused segment is split until the record
// at fault is alone; it goes to the dead-letter table, everything else lands.
BOOST_AUTO_TEST_CASE(a_record_the_database_refuses_goes_to_the_dead_letters_and_every_other_record_lands) {
  test::fresh_database db;
  constexpr int executions = 600;
  config c = db_config(db.url);
  c.buffer_limit = 100;  // far fewer than the executions: a stuck writer blocks the producer
  c.on_full = backlog_policy::block;
  c.batch_size = 64;
  auto owned = std::make_unique<registry>(c);
  registry& reg = *owned;
  db.query("ALTER TABLE agent_executions ADD CONSTRAINT test_no_poison CHECK (total_tokens <> 4242)");
  BOOST_REQUIRE(bool(reg.register_agent(spec("a0"))));
  std::atomic<int> done{0};
  std::thread producer{[&] {
    for (int i = 0; i < executions; ++i) {
      auto id = reg.start_execution("a0", {.task_type = "t"});
      if (!id)
        break;
      // Only the completion of execution 300 is refused: its running row lands.
      auto e = reg.complete_execution(*id, "success",
                                      {.prompt_tokens = i == 300 ? 4242 : 1, .completion_tokens = 0});
      if (!e)
        break;
      ++done;
    }
  }};
  const bool finished = eventually([&] { return done.load() == executions; });
  BOOST_TEST(finished, "the producer stopped at " << done.load() << " of " << executions);
  if (!finished) {  // blocked for good: stopping the registry closes the gate, which frees it
    owned.reset();
    producer.join();
    return;
  }
  BOOST_TEST(eventually([&] { return reg.stats().persistence_backlog == 0; }));
  const auto stats = reg.stats();
  BOOST_TEST(stats.persistence_dead_letters == 1);
  BOOST_TEST(stats.persistence_lost == 0);
  BOOST_TEST(db.scalar("SELECT count(*) FROM agent_executions WHERE status = 'success'") ==
             std::to_string(executions - 1));
  const auto dead = db.query("SELECT kind, record->>'status', (record->>'total_tokens')::bigint, error, "
                             "record->>'id' FROM agentreg_dead_letters");
  BOOST_TEST_REQUIRE(dead.size() == 1u);
  BOOST_TEST(dead[0][0].as<std::string>() == "execution");
  BOOST_TEST(dead[0][1].as<std::string>() == "success");
  BOOST_TEST(dead[0][2].as<std::int64_t>() == 4242);
  BOOST_TEST(dead[0][3].as<std::string>().find("test_no_poison") != std::string::npos);
  // Its running row landed, unless its start left the outbox together with
  // the completion (then one record carried both).
  BOOST_TEST(db.scalar("SELECT count(*) FROM agent_executions WHERE status <> 'running' AND id = '" +
                       dead[0][4].as<std::string>() + "'") == "0");
  producer.join();
}

// The aggregator snapshots every agent each performance_update_interval;
// one snapshot taken just before an unregistration and sent after it used
// to clear unregistered_at, and the agent came back at the next start.
BOOST_AUTO_TEST_CASE(an_agent_snapshot_taken_before_an_unregistration_never_brings_the_agent_back) {
  test::fresh_database db;
  {
    config c = db_config(db.url);
    c.performance_update_interval = 1ms;  // an agent snapshot at every aggregator tick (10 ms)
    registry reg{c};
    for (int round = 0; round < 30; ++round) {
      for (int i = 0; i < 100; ++i)
        BOOST_REQUIRE(bool(reg.register_agent(spec("r" + std::to_string(round) + "_" + std::to_string(i)))));
      for (int i = 0; i < 100; ++i)
        BOOST_REQUIRE(bool(reg.unregister_agent("r" + std::to_string(round) + "_" + std::to_string(i))));
    }
  }
  BOOST_TEST(db.count("agent_instances") == 3000);
  BOOST_TEST(db.scalar("SELECT count(*) FROM agent_instances WHERE unregistered_at IS NULL") == "0");
  registry again{db_config(db.url)};
  BOOST_TEST(again.list_agents().empty());
}

// A registry that starts while the database is down must not overwrite
// the stored totals with the smaller ones it counts meanwhile: it retries
// recovery, writes no snapshot before it succeeds, and then adds what it
// loads to what it counted.
BOOST_AUTO_TEST_CASE(a_registry_started_while_the_database_is_down_recovers_later_and_merges_its_counts) {
  test::fresh_database db;
  const execution_metrics m{.prompt_tokens = 100, .completion_tokens = 50, .estimated_cost_usd = 0.01};
  {
    registry reg{db_config(db.url)};
    reg.register_agent(spec("a1"));
    for (int i = 0; i < 5; ++i)
      BOOST_REQUIRE(bool(reg.complete_execution(*reg.start_execution("a1", {.task_type = "plan"}), "success", m)));
    reg.record_tool_usage("a1", "bash", {.success_count = 2, .duration_ms = 10});
  }
  test::test_cluster::get().kill();
  {
    config c = db_config(db.url);
    c.performance_update_interval = 1ms;  // it would write a snapshot at every tick if it could
    registry reg{c};
    BOOST_REQUIRE(bool(reg.register_agent(spec("a1"))));
    for (int i = 0; i < 3; ++i)
      BOOST_REQUIRE(bool(reg.complete_execution(*reg.start_execution("a1", {.task_type = "plan"}), "success", m)));
    reg.record_tool_usage("a1", "bash", {.success_count = 1, .duration_ms = 10});
    BOOST_TEST(reg.get_performance("a1")->total_executions == 3);
    test::test_cluster::get().restart();
    // Recovery succeeds at one of its retries and adds the stored totals.
    BOOST_TEST(eventually([&] { return reg.get_performance("a1")->total_executions == 8; }));
    BOOST_TEST(reg.get_performance("a1")->total_tokens_used == 8 * 150);
    BOOST_TEST(reg.get_tool_usage("a1")->at(0).invocation_count == 3);
    BOOST_TEST(reg.get_performance_by(group_by::task_type)->at(0).total_executions == 8);
  }
  BOOST_TEST(db.scalar("SELECT total_executions FROM agent_performance_summary WHERE dimension = 'agent' AND "
                       "key = 'a1'") == "8");
  BOOST_TEST(db.scalar("SELECT invocation_count FROM agent_tool_usage WHERE agent_id = 'a1'") == "3");
  BOOST_TEST(db.scalar("SELECT count(*) FROM agent_executions WHERE status = 'success'") == "8");
  registry again{db_config(db.url)};
  BOOST_TEST(again.get_performance("a1")->total_executions == 8);
}

namespace {

// Starts tests/agentreg/crash_child.cpp on `url` and waits until it runs.
pid_t start_crash_child(const std::string& url) {
  int out[2];
  BOOST_REQUIRE(::pipe(out) == 0);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execl(AGENTREG_CRASH_CHILD, AGENTREG_CRASH_CHILD, url.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  char line[16] = {};
  const auto n = ::read(out[0], line, sizeof line - 1);  // "running\n" once registered
  ::close(out[0]);
  BOOST_REQUIRE_MESSAGE(n > 0 && std::string{line}.rfind("running", 0) == 0, "the crash child did not start");
  return pid;
}

// Kills the child with SIGKILL once the database holds summaries and, past
// them, completed rows they do not count (so that the kill loses what a
// crash loses), then waits until its connections are gone from the server.
void kill_mid_interval(test::fresh_database& db, pid_t pid, std::int64_t more_than) {
  const bool lagging = eventually([&] {
    pqxx::transaction<pqxx::isolation_level::repeatable_read> tx{db.sql()};
    const auto counted = tx.exec1("SELECT coalesce(sum(total_executions), 0) FROM agent_performance_summary "
                                  "WHERE dimension = 'agent'")[0].as<std::int64_t>();
    const auto committed =
        tx.exec1("SELECT count(*) FROM agent_executions WHERE status <> 'running'")[0].as<std::int64_t>();
    tx.commit();
    return counted > more_than && committed > counted + 50;
  });
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_REQUIRE(lagging);
  BOOST_REQUIRE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  BOOST_REQUIRE(eventually([&] {
    return db.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'agentreg' AND "
                     "datname = current_database()") == "0";
  }));
}

// Every total a registry reports for `dim`, against SQL over the rows.
void check_totals_equal_the_rows(registry& reg, test::fresh_database& db, group_by dim, const std::string& column) {
  std::map<std::string, std::vector<std::int64_t>> want;
  for (const auto& r : db.query("SELECT " + column + ", count(*), count(*) FILTER (WHERE status = 'success'), "
                                "sum(total_tokens), sum(cost_micro_usd) FROM agent_executions "
                                "WHERE status <> 'running' GROUP BY 1"))
    want[r[0].as<std::string>()] = {r[1].as<std::int64_t>(), r[2].as<std::int64_t>(), r[3].as<std::int64_t>(),
                                    r[4].as<std::int64_t>()};
  std::map<std::string, std::vector<std::int64_t>> got;
  const auto summaries = reg.get_performance_by(dim);
  BOOST_REQUIRE(bool(summaries));
  for (const auto& p : *summaries)
    got[p.key] = {p.total_executions, p.successful_executions, p.total_tokens_used, p.total_cost_micro_usd};
  BOOST_TEST(want.size() >= 2u);
  BOOST_TEST((got == want), "totals by " << column << " differ from the rows");
  for (const auto& [key, w] : want)
    BOOST_TEST((got[key] == w), column << " " << key << ": executions, successes, tokens, micro-dollars");
}

}  // namespace

// A registry killed between two summaries leaves completed rows that no
// stored summary counts. Recovery folds in the rows committed after the
// point each total counts through, so a new registry's totals are what the
// rows say; twice in a row, so that a run that recovered and was killed
// again before writing any summary is covered too.
BOOST_AUTO_TEST_CASE(after_a_sigkill_the_recovered_totals_equal_sql_aggregates_over_the_committed_rows) {
  test::fresh_database db;
  BOOST_REQUIRE(bool(db::migrate(db.url)));
  kill_mid_interval(db, start_crash_child(db.url), 0);
  // The second run kills once its own summaries (which count everything of
  // the first run) are in, and its rows are past them.
  const auto first_run = std::stoll(db.scalar("SELECT count(*) FROM agent_executions WHERE status <> 'running'"));
  kill_mid_interval(db, start_crash_child(db.url), first_run);
  registry reg{db_config(db.url)};
  check_totals_equal_the_rows(reg, db, group_by::agent, "agent_id");
  check_totals_equal_the_rows(reg, db, group_by::agent_type, "agent_type");
  check_totals_equal_the_rows(reg, db, group_by::model, "model_name");
  check_totals_equal_the_rows(reg, db, group_by::task_type, "task_type");
  // Tool usage too, against the tool call rows.
  for (const auto& r : db.query("SELECT agent_id, tool_name, sum(success_count + failure_count) FROM agent_tool_calls "
                                "GROUP BY 1, 2")) {
    const auto usage = reg.get_tool_usage(r[0].as<std::string>());
    BOOST_REQUIRE(bool(usage));
    auto it = std::find_if(usage->begin(), usage->end(),
                           [&](const tool_usage& u) { return u.tool_name == r[1].as<std::string>(); });
    BOOST_REQUIRE((it != usage->end()));
    BOOST_TEST(it->invocation_count == r[2].as<std::int64_t>(), r[0].as<std::string>() << "/" << r[1].as<std::string>());
  }
}

BOOST_AUTO_TEST_CASE(a_database_killed_under_load_loses_nothing_and_duplicates_nothing) {
  test::fresh_database db;
  std::int64_t completed = 0, tokens = 0, micro = 0;
  {
    registry reg{db_config(db.url)};
    for (int t = 0; t < 3; ++t)
      reg.register_agent(spec("a" + std::to_string(t)));
    load l{reg, 3};
    BOOST_TEST(eventually([&] { return reg.stats().persistence_rows > 100; }));  // committing under load
    test::test_cluster::get().kill();  // kill -9 the postmaster
    // Down for anyone: a server that survived the kill would make the rest
    // of this test meaningless (the writers would never fail).
    BOOST_TEST_REQUIRE(database_is_down(db.url));
    // The writers fail with records waiting. (Whether calls are accepted
    // during the outage depends on the gate: under load it is often full
    // already, and with `block` nothing is accepted until the restart.)
    const bool failing = eventually([&] {
      const auto st = reg.stats();
      return st.persistence_backlog > 0 && st.persistence_retries > 0;
    });
    const auto st = reg.stats();
    BOOST_TEST(failing, "backlog " << st.persistence_backlog << ", retries " << st.persistence_retries << ", rows "
                                   << st.persistence_rows << ", last error '" << st.persistence_last_error << "'");
    test::test_cluster::get().restart();
    const auto before_restart = l.completed.load();
    BOOST_TEST(eventually([&] { return l.completed.load() > before_restart + 100; }));
    l.finish();
    BOOST_TEST(l.other_errors.load() == 0);
    completed = l.completed;
    tokens = l.tokens;
    micro = l.micro;
    BOOST_TEST(reg.stats().persistence_retries > 0);
  }
  BOOST_TEST(completed > 100);
  BOOST_TEST(std::stol(db.scalar("SELECT count(*) FROM agent_executions WHERE status = 'success'")) == completed);
  BOOST_TEST(std::stol(db.scalar("SELECT count(DISTINCT id) FROM agent_executions")) == completed);
  BOOST_TEST(std::stol(db.scalar("SELECT coalesce(sum(total_tokens), 0) FROM agent_executions")) == tokens);
  BOOST_TEST(std::stol(db.scalar("SELECT coalesce(sum(cost_micro_usd), 0) FROM agent_executions")) == micro);
}

BOOST_AUTO_TEST_CASE(a_full_buffer_refuses_with_persistence_backlog_and_keeps_everything_accepted) {
  test::fresh_database db;
  std::int64_t completed = 0, refused = 0;
  {
    config c = db_config(db.url);
    c.buffer_limit = 300;
    c.on_full = backlog_policy::refuse;
    registry reg{c};
    for (int t = 0; t < 2; ++t)
      reg.register_agent(spec("a" + std::to_string(t)));
    test::test_cluster::get().kill();
    load l{reg, 2};
    BOOST_TEST(eventually([&] { return l.refused.load() > 0; }));
    BOOST_TEST(reg.stats().persistence_backlog <= 300);
    test::test_cluster::get().restart();
    const auto before_restart = l.completed.load();
    BOOST_TEST(eventually([&] { return l.completed.load() > before_restart + 100; }));
    l.finish();
    BOOST_TEST(l.other_errors.load() == 0);
    completed = l.completed;
    refused = l.refused;
  }
  BOOST_TEST(refused > 0);
  BOOST_TEST(std::stol(db.scalar("SELECT count(*) FROM agent_executions WHERE status = 'success'")) == completed);
}

// Tool calls, not executions: each is one record (a start and its
// completion drained together become one, so the count of executions a
// full gate admits is not exact), so exactly buffer_limit calls return
// while the database is down, and the next one waits.
BOOST_AUTO_TEST_CASE(a_full_buffer_blocks_the_producer_until_the_database_is_back) {
  test::fresh_database db;
  std::atomic<std::int64_t> accepted{0}, errors{0};
  std::atomic<bool> stop{false};
  {
    config c = db_config(db.url);
    c.buffer_limit = 100;
    c.on_full = backlog_policy::block;
    registry reg{c};
    reg.register_agent(spec("a0"));
    test::test_cluster::get().kill();
    std::thread producer{[&] {
      while (!stop.load())
        (reg.record_tool_usage("a0", "bash", {.success_count = 1, .duration_ms = 1}) ? accepted : errors)++;
    }};
    BOOST_TEST(eventually([&] { return accepted.load() == 100; }));
    // Blocked: while the writers fail attempt after attempt, no call returns.
    const auto retries = reg.stats().persistence_retries;
    BOOST_TEST(eventually([&] { return reg.stats().persistence_retries >= retries + 3; }));
    BOOST_TEST(accepted.load() == 100);
    BOOST_TEST(reg.stats().persistence_backlog == 100);
    test::test_cluster::get().restart();
    BOOST_TEST(eventually([&] { return accepted.load() > 200; }));  // it resumed once the database came back
    stop = true;
    producer.join();
  }
  BOOST_TEST(errors.load() == 0);
  BOOST_TEST(db.count("agent_tool_calls") == accepted.load());
}

BOOST_AUTO_TEST_CASE(executions_timed_out_by_the_sweep_are_stored_and_keep_the_backlog_balanced) {
  test::fresh_database db;
  auto clock = std::make_shared<core::manual_clock>();
  {
    config c = db_config(db.url);
    c.time_source = clock;
    registry reg{c};
    reg.register_agent(spec("a0"));
    for (int i = 0; i < 5; ++i)
      reg.start_execution("a0");
    clock->advance(31min);
    BOOST_TEST(reg.sweep()->executions_timed_out == 5);
    reg.sync();
    BOOST_TEST(eventually([&] { return reg.stats().persistence_backlog == 0; }));
    // 5 starts admitted + 5 timeouts forced, 10 released: exactly zero, not below.
    BOOST_TEST(reg.stats().persistence_backlog == 0);
  }
  BOOST_TEST(db.scalar("SELECT count(*) FROM agent_executions WHERE status = 'timeout'") == "5");
}

BOOST_AUTO_TEST_CASE(a_backlog_built_during_an_outage_is_written_in_transactions_of_two_batches) {
  test::fresh_database db;
  {
    config c = db_config(db.url);
    c.batch_size = 50;  // transactions of at most 100 records
    c.writer_connections = 1;
    registry reg{c};
    reg.register_agent(spec("a0"));
    reg.sync();
    BOOST_TEST_REQUIRE(eventually([&] { return reg.stats().persistence_backlog == 0; }));
    test::test_cluster::get().kill();
    // 600 records, one per tool call (a start and a completion drained
    // together make one record, so executions would not count exactly).
    for (int i = 0; i < 600; ++i)
      BOOST_REQUIRE(bool(reg.record_tool_usage("a0", "bash", {.success_count = 1, .duration_ms = 1})));
    reg.sync();
    const auto batches_before = reg.stats().persistence_batches;
    test::test_cluster::get().restart();
    BOOST_TEST(eventually([&] { return reg.stats().persistence_backlog == 0; }));
    BOOST_TEST(reg.stats().persistence_backlog == 0);
    // 600 records in transactions of at most 100; as many more would mean
    // a segment written twice (or split in pieces).
    const auto written = reg.stats().persistence_batches - batches_before;
    BOOST_TEST(written >= 6);
    BOOST_TEST(written <= 7);
  }
  BOOST_TEST(db.count("agent_tool_calls") == 600);
}

// Snapshots are absolute values: during an outage the newest row of each
// key replaces the older ones (item 18). Before, every interval queued a
// full copy of every agent, tool usage and summary row: 200 intervals of
// an outage held 200 copies.
BOOST_AUTO_TEST_CASE(a_long_outage_with_a_short_interval_keeps_one_pending_snapshot_per_kind) {
  test::fresh_database db;
  std::int64_t executions = 0;
  {
    config c = db_config(db.url);
    c.performance_update_interval = 10ms;
    registry reg{c};
    for (int a = 0; a < 3; ++a)
      reg.register_agent(spec("a" + std::to_string(a)));
    BOOST_TEST_REQUIRE(eventually([&] { return db.count("agent_instances") == 3; }));
    test::test_cluster::get().kill();
    // Every interval has changed rows of every kind: an execution and a
    // tool call per agent, a heartbeat with a new load. A round a
    // millisecond paces the records (~10 rounds an interval, ~30 records
    // each) far below the gate's 200 000, which at full speed they would
    // fill during the outage, blocking this thread for good.
    std::atomic<bool> stop{false};
    std::thread changes{[&] {
      for (std::int64_t i = 0; !stop.load(); ++i) {
        for (int a = 0; a < 3; ++a) {
          const auto agent = "a" + std::to_string(a);
          if (auto id = reg.start_execution(agent); id && reg.complete_execution(*id, "success", {}))
            ++executions;
          reg.record_tool_usage(agent, "bash", {.success_count = 1, .duration_ms = 2});
          reg.heartbeat(agent, i % 5);
        }
        std::this_thread::sleep_for(1ms);  // pacing the load, not a wait for a state
      }
    }};
    const auto taken = reg.stats().persistence_snapshots;
    BOOST_TEST_REQUIRE(eventually([&] { return reg.stats().persistence_snapshots >= taken + 200; }));
    // Keys: 3 agents, 3 tool usage rows, and the summaries of every dimension.
    std::int64_t keys = 3 + 3;
    for (auto dim : {group_by::agent, group_by::agent_type, group_by::model, group_by::task_type, group_by::workflow})
      keys += static_cast<std::int64_t>(reg.get_performance_by(dim)->size());
    const auto held = reg.stats().persistence_snapshot_rows;
    BOOST_TEST(held > 0);
    BOOST_TEST(held <= 3 * keys, held << " snapshot rows held for " << keys << " keys");
    stop = true;
    changes.join();
    test::test_cluster::get().restart();
  }  // the destructor writes the newest rows
  // The newest row of each key is what the database holds.
  BOOST_TEST(std::stoll(db.scalar("SELECT sum(total_executions) FROM agent_performance_summary WHERE dimension = "
                                  "'agent'")) == executions);
  BOOST_TEST(std::stoll(db.scalar("SELECT sum(invocation_count) FROM agent_tool_usage")) ==
             db.count("agent_tool_calls"));
}

// Each snapshot writes only the rows that changed since the one before: a
// registry with nothing going on writes nothing, and a load change writes
// that one agent row (item 18). Before, every interval rewrote every row.
BOOST_AUTO_TEST_CASE(a_snapshot_writes_only_the_rows_that_changed) {
  test::fresh_database db;
  config c = db_config(db.url);
  c.performance_update_interval = 10ms;
  registry reg{c};
  for (int a = 0; a < 3; ++a) {
    reg.register_agent(spec("a" + std::to_string(a)));
    auto id = reg.start_execution("a" + std::to_string(a));
    reg.complete_execution(*id, "success", {});
    reg.record_tool_usage("a" + std::to_string(a), "bash", {.success_count = 1, .duration_ms = 2});
  }
  BOOST_TEST_REQUIRE(eventually([&] {
    return db.count("agent_tool_usage") == 3 &&
           db.scalar("SELECT coalesce(sum(total_executions), 0) FROM agent_performance_summary WHERE dimension = "
                     "'agent'") == "3";
  }));
  // Agent rows reach the first writer in order, one release after the
  // other: once a load change is in the database, every agent row sent
  // before it is too (and the summaries and tool usage are, above).
  auto load_is_stored = [&](const std::string& agent, std::int64_t load) {
    BOOST_TEST_REQUIRE(bool(reg.update_load(agent, load)));
    return eventually([&] {
      return db.scalar("SELECT current_load FROM agent_instances WHERE agent_id = '" + agent + "'") ==
             std::to_string(load);
    });
  };
  BOOST_TEST_REQUIRE(load_is_stored("a0", 1));
  const auto rows = reg.stats().persistence_rows;
  // 50 snapshots with nothing changed, one load change, 50 more, and
  // another load change: two rows written, no other.
  auto snapshots_go_by = [&](std::int64_t n) {
    const auto taken = reg.stats().persistence_snapshots;
    return eventually([&] { return reg.stats().persistence_snapshots >= taken + n; });
  };
  BOOST_TEST_REQUIRE(snapshots_go_by(50));
  BOOST_TEST_REQUIRE(load_is_stored("a1", 1));
  BOOST_TEST_REQUIRE(snapshots_go_by(50));
  BOOST_TEST_REQUIRE(load_is_stored("a2", 1));
  BOOST_TEST(reg.stats().persistence_rows == rows + 2);
}

// A writer actor that dies under load (item 20; through the test-only
// fault seam, as every database failure is a value a writer retries) is
// replaced, and the gate room of what it held is given back: else that
// room stays taken for good (the backlog never returns to 0) and, once
// writers have died holding a gate's worth, every `block` caller waits
// for good. The stats
// count what it held as lost, and every other record lands. Tool calls:
// one record each, so rows and lost records add up to the calls exactly.
BOOST_AUTO_TEST_CASE(a_writer_killed_under_load_is_replaced_gives_its_room_back_and_counts_what_it_lost) {
  test::fresh_database db;
  auto faults = std::make_shared<core::fault_injection>();
  std::atomic<std::int64_t> accepted{0}, errors{0};
  std::int64_t lost = 0, rows = 0;
  {
    config c = db_config(db.url);
    c.faults = faults;
    c.buffer_limit = 2000;
    c.on_full = backlog_policy::block;
    registry reg{c};
    reg.register_agent(spec("a0"));
    std::atomic<bool> stop{false};
    std::vector<std::thread> producers;
    for (int t = 0; t < 2; ++t)
      producers.emplace_back([&] {
        while (!stop.load())
          (reg.record_tool_usage("a0", "bash", {.success_count = 1, .duration_ms = 1}) ? accepted : errors)++;
      });
    BOOST_TEST_REQUIRE(eventually([&] { return reg.stats().persistence_rows > 5000; }));
    faults->writer_deaths = 1;
    BOOST_TEST_REQUIRE(eventually([&] { return reg.stats().persistence_lost > 0; }));
    BOOST_TEST(faults->writer_deaths.load() == 0);
    // Many gates' worth more: the room came back, and both writers write
    // (half the calls go to the replacement).
    const auto at_death = accepted.load();
    BOOST_TEST(eventually([&] { return accepted.load() > at_death + 10 * 2000; }));
    BOOST_TEST(eventually([&] {
      return db.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'agentreg' AND "
                       "datname = current_database()") == "2";
    }));
    stop = true;
    for (auto& t : producers)
      t.join();
    reg.sync();
    BOOST_TEST(eventually([&] { return reg.stats().persistence_backlog == 0; }));  // nothing held for good
    lost = reg.stats().persistence_lost;
    rows = reg.stats().persistence_rows;
  }
  BOOST_TEST(errors.load() == 0);
  BOOST_TEST(lost > 0);
  BOOST_TEST(db.count("agent_tool_calls") + lost == accepted.load());
  // Every row committed is counted, the dead writer's too: it published
  // its counters after each commit, and the router retired them with it.
  // (When the router kept a dead writer's last stats answer instead, the
  // rows committed after it were missing: 30 698 < 31 191 in a CI run.)
  BOOST_TEST(rows >= db.count("agent_tool_calls"));
}

// A backlog that takes longer to write than a writer may take to answer
// a flush, with the database reachable all along: shutdown waits for as
// long as records are committed. Before, it gave up after 30 s in all
// (shutdown_flush_timeout here), however fast rows were being committed:
// the records still landed (a writer handles its mailbox in order before
// it stops), but the last tool usage row, which waits until both writers
// committed the calls it counts, was never written (0 calls stored for
// 2 000), and shutdown said the records were lost.
BOOST_AUTO_TEST_CASE(shutdown_waits_for_a_slow_database_as_long_as_it_commits) {
  test::fresh_database db;
  std::int64_t accepted = 0;
  {
    config c = db_config(db.url);
    c.batch_size = 10;  // transactions of at most 20 records
    c.persistence_request_timeout = 500ms;
    c.shutdown_flush_timeout = 2s;
    registry reg{c};
    reg.register_agent(spec("a0"));
    // Each transaction writing tool calls takes 50 ms more: 2 000 calls over
    // two writers are ~100 transactions, ~2.5 s for each writer.
    db.query("CREATE FUNCTION agentreg_test_slow() RETURNS trigger LANGUAGE plpgsql AS "
             "$$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$");
    db.query("CREATE TRIGGER agentreg_test_slow AFTER INSERT ON agent_tool_calls FOR EACH STATEMENT "
             "EXECUTE FUNCTION agentreg_test_slow()");
    for (int i = 0; i < 2000; ++i)
      accepted += reg.record_tool_usage("a0", "bash", {.success_count = 1, .duration_ms = 1}) ? 1 : 0;
  }  // flushes answer false (writers busy past 500 ms) for longer than 2 s
  BOOST_TEST(accepted == 2000);
  BOOST_TEST(db.count("agent_tool_calls") == accepted);
  // The last tool usage row, which waits until both writers committed the
  // calls it counts, landed too.
  BOOST_TEST(db.scalar("SELECT coalesce(sum(invocation_count), 0) FROM agent_tool_usage") == std::to_string(accepted));
}

// A summary is an absolute value that counts completions: written before the
// rows it counts are committed, a crash in between would leave it counting
// executions the database still holds as running (and they would be counted
// again when they complete or time out after recovery). With two writers,
// a snapshot every 10 ms under load, and one writer's connection killed now
// and then (so that one writer lags the other while it reconnects), every
// moment the database shows must have the summaries at most at the
// committed completions.
BOOST_AUTO_TEST_CASE(a_summary_in_the_database_never_counts_an_execution_not_committed) {
  test::fresh_database db;
  config c = db_config(db.url);
  c.writer_connections = 2;
  c.performance_update_interval = 1ms;  // a snapshot at every aggregator tick (10 ms)
  c.buffer_limit = 5000;  // a short backlog: a snapshot waits behind little
  registry reg{c};
  reg.register_agent(spec("a0"));
  reg.register_agent(spec("a1"));
  load producers{reg, 2};
  constexpr int wanted_kills = 6;
  int samples = 0, ahead = 0, nonzero_after_kills = 0, kills = 0;
  // A writer connection killed every 20 samples until 6 were; then, without
  // kills (a writer whose transactions outlast the time between two kills
  // never commits, as under TSan), until 20 more samples showed summaries.
  // The deadline only bounds a failing run.
  const auto deadline = std::chrono::steady_clock::now() + 180s;
  auto done = [&] {
    return (kills >= wanted_kills && nonzero_after_kills >= 20) || std::chrono::steady_clock::now() >= deadline;
  };
  while (!done()) {
    if (kills < wanted_kills && samples % 20 == 10)
      kills += db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'agentreg' "
                        "AND datname = current_database() ORDER BY random() LIMIT 1")
                   .size();
    // One snapshot of the database for both counts.
    pqxx::transaction<pqxx::isolation_level::repeatable_read> tx{db.sql()};
    const auto counted =
        tx.exec1("SELECT coalesce(sum(total_executions), 0) FROM agent_performance_summary WHERE dimension = 'agent'")[0]
            .as<std::int64_t>();
    const auto committed = tx.exec1("SELECT count(*) FROM agent_executions WHERE status <> 'running'")[0].as<std::int64_t>();
    tx.commit();
    ++samples;
    ahead += counted > committed ? 1 : 0;
    nonzero_after_kills += counted > 0 && kills >= wanted_kills ? 1 : 0;
    std::this_thread::sleep_for(5ms);  // pacing the samples, not waiting for a state
  }
  producers.finish();
  BOOST_TEST(producers.other_errors.load() == 0);
  BOOST_TEST(kills == wanted_kills);
  BOOST_TEST(nonzero_after_kills >= 20);  // summaries were being written
  BOOST_TEST(ahead == 0, ahead << " of " << samples << " samples had summaries ahead of the committed rows");
}

BOOST_AUTO_TEST_CASE(writer_connections_each_write_their_share_and_every_execution_lands_once) {
  test::fresh_database db;
  constexpr int executions = 2000;
  std::int64_t tokens = 0;
  {
    config c = db_config(db.url);
    c.writer_connections = 3;
    registry reg{c};
    reg.register_agent(spec("a0"));
    for (int i = 0; i < executions; ++i) {
      auto id = reg.start_execution("a0", {.task_type = "t"});
      BOOST_REQUIRE(bool(id));
      auto e = reg.complete_execution(*id, "success", {.prompt_tokens = i, .completion_tokens = 1});
      BOOST_REQUIRE(bool(e));
      tokens += e->total_tokens;
      reg.record_tool_usage("a0", "bash", {.execution_id = *id, .success_count = 1, .duration_ms = 2});
    }
    reg.sync();
    BOOST_TEST(eventually([&] { return reg.stats().persistence_backlog == 0; }));
    BOOST_TEST(reg.stats().persistence_backlog == 0);
    // Three writers, each with its own connection, each having written.
    BOOST_TEST(db.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'agentreg' AND "
                         "datname = current_database()") == "3");
    BOOST_TEST(reg.stats().persistence_batches >= 3);
  }
  BOOST_TEST(db.count("agent_executions") == executions);
  BOOST_TEST(db.scalar("SELECT count(*) FROM agent_executions WHERE status = 'success'") == std::to_string(executions));
  BOOST_TEST(db.scalar("SELECT sum(total_tokens) FROM agent_executions") == std::to_string(tokens));
  BOOST_TEST(db.count("agent_tool_calls") == executions);
  BOOST_TEST(db.scalar("SELECT invocation_count FROM agent_tool_usage WHERE agent_id = 'a0'") ==
             std::to_string(executions));
}

// A writer blocked in a statement (here behind a lock; at 1 M agents, in a
// long write) handles no message until the statement ends. stats() and
// metrics() asked it and waited for persistence_request_timeout (every
// scrape of agentreg-bench scale at 1 M agents took 15.0 s, the default),
// then said "a persistence writer did not answer" though the database was
// fine. They read what each writer publishes instead: both answer while the
// writer is still blocked, with its counters and no error.
BOOST_AUTO_TEST_CASE(stats_and_metrics_answer_while_a_writer_is_blocked_in_a_statement) {
  test::fresh_database db;
  config c = db_config(db.url);
  c.writer_connections = 1;
  c.persistence_request_timeout = 200ms;  // what the answers waited for before
  registry reg{c};
  reg.register_agent(spec("a0"));
  BOOST_TEST_REQUIRE(bool(reg.record_tool_usage("a0", "bash", {.success_count = 1, .duration_ms = 1})));
  reg.sync();
  BOOST_TEST_REQUIRE(eventually([&] { return reg.stats().persistence_backlog == 0; }));
  const auto before = reg.stats();
  BOOST_TEST_REQUIRE(before.persistence_connected);
  BOOST_TEST_REQUIRE(before.persistence_last_error == "");

  pqxx::connection blocker_connection{db.url};
  pqxx::work blocker{blocker_connection};
  blocker.exec0("LOCK TABLE agent_tool_calls IN ACCESS EXCLUSIVE MODE");
  BOOST_TEST_REQUIRE(bool(reg.record_tool_usage("a0", "bash", {.success_count = 1, .duration_ms = 1})));
  const auto writer_waiting = [&] {
    return db.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'agentreg' AND "
                     "datname = current_database() AND wait_event_type = 'Lock'") == "1";
  };
  BOOST_TEST_REQUIRE(eventually(writer_waiting));
  const auto s = reg.stats();
  const auto m = reg.metrics();
  BOOST_TEST(writer_waiting());  // both answered while the writer was blocked
  BOOST_TEST(s.persistence_connected);
  BOOST_TEST(s.persistence_last_error == "");
  // Snapshot rows (tool usage, in their own table) may have been committed
  // since `before`; the counter never goes down.
  BOOST_TEST(s.persistence_rows >= before.persistence_rows);
  BOOST_TEST(s.persistence_backlog == 1);  // the call waiting for the lock
  BOOST_TEST(m.engine.persistence_connected);
  BOOST_TEST(m.engine.persistence_last_error == "");
  BOOST_TEST(m.engine.persistence_rows >= s.persistence_rows);

  blocker.abort();
  BOOST_TEST(eventually([&] { return reg.stats().persistence_backlog == 0; }));
  const auto after = reg.stats();
  BOOST_TEST(after.persistence_rows > before.persistence_rows);
  BOOST_TEST(after.persistence_last_error == "");
}

BOOST_AUTO_TEST_SUITE_END()
