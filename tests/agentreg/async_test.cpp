#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "agentreg/registry.hpp"
#include "tests/agentreg/fixture.hpp"
#include "test_cluster.hpp"

using namespace agentreg;
using namespace std::chrono_literals;

namespace {

// Collects the answers of asynchronous calls and lets a test wait for a
// number of them (event-based, with a generous deadline).
template <class T>
struct answers {
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<expected<T>> values;
  std::vector<std::thread::id> threads;

  completion<T> collect() {
    return [this](expected<T> r) {
      std::lock_guard lock{mutex};
      values.push_back(std::move(r));
      threads.push_back(std::this_thread::get_id());
      arrived.notify_all();
    };
  }
  // Waits for `n` answers; false when the deadline passed first.
  bool wait(std::size_t n) {
    std::unique_lock lock{mutex};
    return arrived.wait_for(lock, 60s, [&] { return values.size() >= n; });
  }
  expected<T> only() {
    BOOST_REQUIRE(wait(1));
    std::lock_guard lock{mutex};
    BOOST_REQUIRE_EQUAL(values.size(), 1u);
    return values.front();
  }
};

using fixture = test::registry_fixture;

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_async)

BOOST_FIXTURE_TEST_CASE(heartbeat_async_answers_on_an_engine_thread_with_the_new_state, fixture) {
  add("a1");
  BOOST_REQUIRE(bool(reg.update_status("a1", agent_status::offline)));
  clock->advance(5s);
  answers<agent> got;
  reg.heartbeat_async("a1", 3, got.collect());
  auto a = got.only();
  BOOST_REQUIRE(bool(a));
  BOOST_TEST(a->current_load == 3);
  BOOST_TEST((a->status == agent_status::online));  // an offline agent comes back
  BOOST_TEST(a->last_heartbeat == clock->now());
  BOOST_TEST((got.threads.front() != std::this_thread::get_id()));  // the actor answered
  BOOST_TEST(reg.get_agent("a1")->current_load == 3);
}

BOOST_FIXTURE_TEST_CASE(async_errors_arrive_through_the_completion_and_change_nothing, fixture) {
  add("a1", 4);
  answers<agent> unknown, out_of_range, busy, bad_spec, bad_load;
  reg.heartbeat_async("nobody", std::nullopt, unknown.collect());
  reg.heartbeat_async("a1", 5, out_of_range.collect());  // answered by the actor
  reg.update_status_async("a1", agent_status::busy, busy.collect());
  reg.register_agent_async(agent_spec{"a1", "planner", "claude", "m", 0.7, 0, 0}, bad_spec.collect());
  reg.update_load_async("a1", -1, bad_load.collect());
  BOOST_TEST((unknown.only().code() == errc::unknown_agent));
  BOOST_TEST((out_of_range.only().code() == errc::load_out_of_range));
  BOOST_TEST((busy.only().code() == errc::invalid_status));
  BOOST_TEST((bad_spec.only().code() == errc::invalid_capacity));
  BOOST_TEST((bad_load.only().code() == errc::load_out_of_range));
  auto a = reg.get_agent("a1");
  BOOST_TEST(a->current_load == 0);
  BOOST_TEST(a->max_capacity == 4);
  BOOST_TEST((a->status == agent_status::online));
}

BOOST_FIXTURE_TEST_CASE(register_status_and_load_async_apply_their_change, fixture) {
  answers<agent> fresh, again, status, load;
  reg.register_agent_async(agent_spec{"a1", "planner", "claude", "m", 0.7, 0, 2}, fresh.collect());
  BOOST_TEST(fresh.only()->max_capacity == 2);
  reg.register_agent_async(agent_spec{"a1", "planner", "claude", "m2", 0.7, 0, 8}, again.collect());
  auto updated = again.only();
  BOOST_REQUIRE(bool(updated));
  BOOST_TEST(updated->max_capacity == 8);
  BOOST_TEST(updated->model_name == "m2");
  reg.update_status_async("a1", agent_status::paused, status.collect());
  BOOST_TEST((status.only()->status == agent_status::paused));
  reg.update_load_async("a1", 6, load.collect());
  BOOST_TEST(load.only()->current_load == 6);
  BOOST_TEST(reg.get_agent("a1")->model_name == "m2");
}

BOOST_FIXTURE_TEST_CASE(performance_sweep_and_stats_async_answer_what_the_blocking_forms_do, fixture) {
  add("a1");
  auto id = reg.start_execution("a1", {.task_type = "planning"});
  BOOST_REQUIRE(bool(id));
  BOOST_REQUIRE(bool(reg.complete_execution(*id, "success", {.prompt_tokens = 10, .completion_tokens = 5})));
  add("a2");
  answers<performance> perf, zeros, unknown;
  answers<std::vector<performance>> by_type;
  answers<sweep_report> swept;
  answers<engine_stats> counted;
  reg.get_performance_async("a1", perf.collect());
  reg.get_performance_async("a2", zeros.collect());
  reg.get_performance_async("nobody", unknown.collect());
  reg.get_performance_by_async(group_by::agent_type, by_type.collect());
  clock->advance(301s);  // both agents are stale now
  reg.sweep_async(swept.collect());
  BOOST_TEST(perf.only()->total_tokens_used == 15);
  BOOST_TEST(zeros.only()->total_executions == 0);
  BOOST_TEST((unknown.only().code() == errc::unknown_agent));
  auto types = by_type.only();
  BOOST_REQUIRE(bool(types));
  BOOST_REQUIRE_EQUAL(types->size(), 1u);
  BOOST_TEST(types->front().key == "planner");
  auto report = swept.only();
  BOOST_REQUIRE(bool(report));
  BOOST_TEST(report->stale == 2);
  reg.stats_async(counted.collect());
  auto s = counted.only();
  BOOST_REQUIRE(bool(s));
  BOOST_TEST(s->agents == 2);
  BOOST_TEST(s->completed_executions == 1);
  BOOST_TEST(s->sweeps == 1);
  BOOST_TEST(s->evictions_total == report->evicted);
}

// 200 000 heartbeats in flight at once from two threads, each carrying a
// load: every completion arrives once, and each agent ends with the load of
// its thread's last heartbeat (calls about one agent from one thread are
// applied in order).
BOOST_FIXTURE_TEST_CASE(many_async_heartbeats_in_flight_all_complete_in_order_per_agent, fixture) {
  constexpr int agents = 500, per_thread = 100'000;
  for (int i = 0; i < agents; ++i)
    add("a" + std::to_string(i), 4000);
  std::atomic<std::int64_t> ok{0}, failed{0};
  std::mutex mutex;
  std::condition_variable all_done;
  auto done = [&](expected<agent> r) {
    (r ? ok : failed).fetch_add(1);
    if (ok.load() + failed.load() == 2 * per_thread) {
      std::lock_guard lock{mutex};
      all_done.notify_all();
    }
  };
  // Thread t heartbeats the agents of parity t, with a load rising with i.
  auto run = [&](int t) {
    for (int i = 0; i < per_thread; ++i) {
      const int a = (i * 2 + t) % agents;
      reg.heartbeat_async("a" + std::to_string(a), i / agents, done);
    }
  };
  std::thread t0{run, 0}, t1{run, 1};
  t0.join();
  t1.join();
  {
    std::unique_lock lock{mutex};
    BOOST_REQUIRE(all_done.wait_for(lock, 120s, [&] { return ok.load() + failed.load() == 2 * per_thread; }));
  }
  BOOST_TEST(ok.load() == 2 * per_thread);
  BOOST_TEST(failed.load() == 0);
  for (int a = 0; a < agents; ++a) {
    // The last i of the thread that owns agent a with (i*2+t) % agents == a.
    const int t = a % 2;
    int last = -1;
    for (int i = per_thread - 1; i >= 0 && last < 0; --i)
      if ((i * 2 + t) % agents == a)
        last = i;
    BOOST_TEST_REQUIRE(reg.get_agent("a" + std::to_string(a))->current_load == last / agents);
  }
}

// Calls already in the actor's mailbox when the agent is unregistered are
// dropped unread as the actor stops: each completion still runs, once, with
// unknown_agent.
BOOST_FIXTURE_TEST_CASE(async_calls_racing_an_unregistration_are_each_answered_once, fixture) {
  add("a1", 4000);
  constexpr int calls = 20'000;
  answers<agent> got;
  for (int i = 0; i < calls; ++i) {
    if (i == calls / 2)
      BOOST_REQUIRE(bool(reg.unregister_agent("a1")));
    switch (i % 3) {
      case 0: reg.heartbeat_async("a1", i % 100, got.collect()); break;
      case 1: reg.update_load_async("a1", i % 100, got.collect()); break;
      default: reg.update_status_async("a1", agent_status::online, got.collect()); break;
    }
  }
  BOOST_REQUIRE(got.wait(calls));
  std::lock_guard lock{got.mutex};
  BOOST_TEST(got.values.size() == static_cast<std::size_t>(calls));
  std::size_t ok = 0;
  for (const auto& r : got.values) {
    if (r)
      ++ok;
    else
      BOOST_TEST((r.code() == errc::unknown_agent), r.error().message);
  }
  BOOST_TEST(ok <= static_cast<std::size_t>(calls / 2));  // none after the unregistration
}

BOOST_FIXTURE_TEST_CASE(heartbeat_many_answers_every_item_in_order_and_applies_each_heartbeat, fixture) {
  add("a1", 4);
  add("a2", 4);
  BOOST_REQUIRE(bool(reg.update_status("a2", agent_status::offline)));
  clock->advance(5s);
  answers<std::vector<expected<heartbeat_ack>>> got;
  reg.heartbeat_many({{"a1", 3}, {"nobody", std::nullopt}, {"a2", std::nullopt}, {"", std::nullopt}, {"a1", 5},
                      {"a1", std::nullopt}},
                     got.collect());
  auto batch = got.only();
  BOOST_REQUIRE(bool(batch));
  const auto& r = *batch;
  BOOST_REQUIRE_EQUAL(r.size(), 6u);
  BOOST_REQUIRE(bool(r[0]));
  BOOST_TEST(r[0]->current_load == 3);
  BOOST_TEST((r[0]->status == agent_status::online));
  BOOST_TEST(r[0]->last_heartbeat == clock->now());
  BOOST_TEST((r[1].code() == errc::unknown_agent));
  BOOST_TEST(r[1].error().message.find("nobody") != std::string::npos);
  BOOST_REQUIRE(bool(r[2]));
  BOOST_TEST((r[2]->status == agent_status::online));  // an offline agent comes back
  BOOST_TEST((r[3].code() == errc::invalid_argument));
  BOOST_TEST((r[4].code() == errc::load_out_of_range));  // answered by the actor, changes nothing
  BOOST_REQUIRE(bool(r[5]));
  BOOST_TEST(r[5]->current_load == 3);  // after item 4, in the order sent: 5 was refused
  BOOST_TEST(reg.get_agent("a1")->current_load == 3);
  BOOST_TEST((reg.get_agent("a2")->status == agent_status::online));
}

BOOST_FIXTURE_TEST_CASE(an_empty_heartbeat_batch_is_answered_at_once_with_no_results, fixture) {
  answers<std::vector<expected<heartbeat_ack>>> got;
  reg.heartbeat_many({}, got.collect());
  // No actor to ask: answered on this thread before the call returned.
  BOOST_REQUIRE_EQUAL(got.values.size(), 1u);
  BOOST_TEST(got.values.front()->empty());
}

// A batch's messages still in the actor's mailbox when the agent is
// unregistered are dropped unread: the batch completes once all the same,
// those items with unknown_agent.
BOOST_FIXTURE_TEST_CASE(a_heartbeat_batch_racing_an_unregistration_is_answered_once_with_every_item, fixture) {
  add("a1", 4000);
  add("a2", 4000);
  constexpr int batches = 200, per_batch = 100;
  answers<std::vector<expected<heartbeat_ack>>> got;
  for (int b = 0; b < batches; ++b) {
    if (b == batches / 2)
      BOOST_REQUIRE(bool(reg.unregister_agent("a1")));
    std::vector<heartbeat_item> items;
    for (int i = 0; i < per_batch; ++i)
      items.push_back({i % 2 ? "a1" : "a2", i});
    reg.heartbeat_many(std::move(items), got.collect());
  }
  BOOST_REQUIRE(got.wait(batches));
  std::lock_guard lock{got.mutex};
  BOOST_TEST(got.values.size() == static_cast<std::size_t>(batches));
  std::size_t a1_ok = 0;
  for (std::size_t b = 0; b < got.values.size(); ++b) {
    BOOST_REQUIRE(bool(got.values[b]));
    const auto& r = *got.values[b];
    BOOST_REQUIRE_EQUAL(r.size(), static_cast<std::size_t>(per_batch));
    for (int i = 0; i < per_batch; ++i) {
      if (i % 2 == 0) {
        BOOST_TEST_REQUIRE(bool(r[i]));  // a2 stays registered
      } else if (r[i]) {
        ++a1_ok;
      } else {
        BOOST_TEST_REQUIRE((r[i].code() == errc::unknown_agent), r[i].error().message);
        BOOST_TEST_REQUIRE(r[i].error().message.find("a1") != std::string::npos);
      }
    }
  }
  BOOST_TEST(a1_ok <= static_cast<std::size_t>(batches / 2 * per_batch / 2));  // none after the unregistration
}

BOOST_AUTO_TEST_CASE(heartbeat_batches_still_pending_complete_before_the_destructor_returns) {
  std::atomic<int> items{0};
  {
    config c;
    c.auto_sweep = false;
    registry reg{c};
    for (int i = 0; i < 100; ++i)
      BOOST_REQUIRE(bool(reg.register_agent({"a" + std::to_string(i), "planner", "p", "m"})));
    for (int b = 0; b < 100; ++b) {
      std::vector<heartbeat_item> batch;
      for (int i = 0; i < 100; ++i)
        batch.push_back({"a" + std::to_string(i), std::nullopt});
      reg.heartbeat_many(std::move(batch), [&](expected<std::vector<expected<heartbeat_ack>>> r) {
        for (const auto& item : *r)
          if (item)
            items.fetch_add(1);
      });
    }
  }
  BOOST_TEST(items.load() == 10'000);
}

BOOST_AUTO_TEST_CASE(completions_still_pending_run_before_the_destructor_returns) {
  std::atomic<int> ran{0};
  {
    config c;
    c.auto_sweep = false;
    registry reg{c};
    for (int i = 0; i < 100; ++i)
      BOOST_REQUIRE(bool(reg.register_agent({"a" + std::to_string(i), "planner", "p", "m"})));
    for (int i = 0; i < 10'000; ++i)
      reg.heartbeat_async("a" + std::to_string(i % 100), std::nullopt, [&](expected<agent> r) {
        if (r)
          ran.fetch_add(1);
      });
  }
  BOOST_TEST(ran.load() == 10'000);
}

BOOST_AUTO_TEST_SUITE_END()

// Under the block policy a hot call waits for room; with
// when_backlog_full::refuse it answers persistence_backlog at once instead.
BOOST_AUTO_TEST_SUITE(registry_backlog_refuse)

BOOST_AUTO_TEST_CASE(hot_calls_refuse_instead_of_waiting_when_the_backlog_is_full) {
  test::fresh_database db;
  config c;
  c.database_url = db.url;
  c.auto_sweep = false;
  c.buffer_limit = 3;
  c.on_full = backlog_policy::block;
  c.flush_interval = 20ms;
  auto cluster_down = [] { test::test_cluster::get().kill(); };
  registry reg{c};
  BOOST_REQUIRE(bool(reg.register_agent({"a1", "planner", "p", "m"})));
  cluster_down();  // nothing is committed from now on: the backlog only grows
  std::vector<std::string> ids;
  std::int64_t refused = 0;
  for (int i = 0; i < 10; ++i) {
    auto id = reg.start_execution("a1", {}, when_backlog_full::refuse);
    if (id)
      ids.push_back(*id);
    else {
      BOOST_TEST((id.code() == errc::persistence_backlog));
      ++refused;
    }
  }
  BOOST_REQUIRE(!ids.empty());
  BOOST_TEST(ids.size() <= 3u);
  BOOST_TEST(refused >= 7);
  const auto running = reg.stats().running_executions;
  BOOST_TEST(running == static_cast<std::int64_t>(ids.size()));  // a refusal started nothing
  auto done = reg.complete_execution(ids.front(), "success", {}, when_backlog_full::refuse);
  BOOST_TEST((done.code() == errc::persistence_backlog));
  auto tools = reg.record_tool_usage("a1", "search", {.success_count = 1}, when_backlog_full::refuse);
  BOOST_TEST((tools.code() == errc::persistence_backlog));
  BOOST_TEST(reg.stats().running_executions == running);  // the refused completion left it running
  BOOST_TEST(reg.get_tool_usage("a1")->empty());
  test::test_cluster::get().restart();  // the destructor's flush then succeeds
}

BOOST_AUTO_TEST_SUITE_END()
