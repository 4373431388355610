#include <boost/test/unit_test.hpp>

#include <atomic>
#include <ostream>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "agentreg/registry.hpp"

using namespace agentreg;
using namespace std::chrono_literals;

namespace agentreg::core {
// For Boost.Test's messages.
inline std::ostream& operator<<(std::ostream& os, agent_status s) { return os << to_string(s); }
}  // namespace agentreg::core

namespace {

struct fixture {
  std::shared_ptr<core::manual_clock> clock = std::make_shared<core::manual_clock>();
  registry reg{make_config()};
  std::uint64_t seen = reg.revision();

  static config base(std::shared_ptr<core::manual_clock> clk) {
    config c;
    c.time_source = std::move(clk);
    c.auto_sweep = false;
    c.start_grace = 0ns;
    return c;
  }
  config make_config() { return base(clock); }

  agent add(const std::string& id, const std::string& type = "planner", std::int64_t capacity = 4) {
    agent_spec s;
    s.agent_id = id;
    s.agent_type = type;
    s.llm_provider = "anthropic";
    s.model_name = "claude-3-5-sonnet-20241022";
    s.max_capacity = capacity;
    auto a = reg.register_agent(s);
    BOOST_REQUIRE_MESSAGE(bool(a), (a ? "" : a.error().message));
    return *a;
  }

  // The changes since the last call.
  std::vector<change> next() {
    auto b = reg.changes_since(seen, 100000);
    BOOST_REQUIRE(!b.compacted);
    if (!b.changes.empty())
      BOOST_TEST(b.changes.back().revision == b.revision);
    seen = b.revision;
    return b.changes;
  }

  // The only change since the last call, which must be of `kind`.
  change only(change_kind kind) {
    auto cs = next();
    BOOST_REQUIRE_EQUAL(cs.size(), 1u);
    BOOST_TEST(to_string(cs[0].kind) == to_string(kind));
    return cs[0];
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_changes)

BOOST_FIXTURE_TEST_CASE(registering_updating_and_unregistering_are_changes, fixture) {
  add("p1");
  auto c = only(change_kind::agent_registered);
  BOOST_TEST(c.agent_id == "p1");
  BOOST_TEST(c.agent_type == "planner");
  BOOST_TEST(c.max_capacity == 4);
  BOOST_TEST(c.status == agent_status::online);
  BOOST_TEST(c.at == clock->now());

  add("p1", "planner", 8);  // the same id again: a spec update
  c = only(change_kind::agent_updated);
  BOOST_TEST(c.max_capacity == 8);

  BOOST_REQUIRE(reg.unregister_agent("p1"));
  c = only(change_kind::agent_unregistered);
  BOOST_TEST(c.agent_id == "p1");
  BOOST_TEST(c.agent_type == "planner");
}

BOOST_FIXTURE_TEST_CASE(status_and_load_changes_are_changes_and_unchanged_values_are_not, fixture) {
  add("p1");
  next();
  BOOST_REQUIRE(reg.update_status("p1", agent_status::paused));
  BOOST_TEST(only(change_kind::status_changed).status == agent_status::paused);
  BOOST_REQUIRE(reg.update_status("p1", agent_status::paused));  // already paused
  BOOST_TEST(next().empty());
  BOOST_REQUIRE(reg.update_status("p1", agent_status::online));
  BOOST_TEST(only(change_kind::status_changed).status == agent_status::online);

  BOOST_REQUIRE(reg.update_load("p1", 2));
  BOOST_TEST(only(change_kind::load_changed).current_load == 2);
  BOOST_REQUIRE(reg.update_load("p1", 2));
  BOOST_TEST(next().empty());
  BOOST_REQUIRE(reg.update_load("p1", 4));  // full: busy
  {
    auto c = only(change_kind::status_changed);
    BOOST_TEST(c.status == agent_status::busy);
    BOOST_TEST(c.current_load == 4);
  }
  // A refused change is no change.
  BOOST_TEST(!reg.update_load("p1", 99));
  BOOST_TEST(next().empty());
}

BOOST_FIXTURE_TEST_CASE(a_heartbeat_that_only_refreshes_the_timestamp_is_not_a_change, fixture) {
  add("p1");
  next();
  clock->advance(1s);
  BOOST_REQUIRE(reg.heartbeat("p1"));
  BOOST_REQUIRE(reg.heartbeat("p1", 0));  // the load it already had
  BOOST_TEST(next().empty());
  BOOST_REQUIRE(reg.heartbeat("p1", 3));  // carries a new load
  BOOST_TEST(only(change_kind::load_changed).current_load == 3);
}

BOOST_FIXTURE_TEST_CASE(the_sweep_taking_an_agent_offline_and_a_heartbeat_reviving_it_are_changes, fixture) {
  add("p1");
  add("p2");
  add("p3");
  next();
  clock->advance(200s);
  BOOST_REQUIRE(reg.heartbeat("p2"));
  BOOST_REQUIRE(reg.heartbeat("p3"));
  clock->advance(200s);  // p1 silent for 400 s, the others for 200 s
  BOOST_REQUIRE_EQUAL(reg.sweep()->evicted, 1);
  auto c = only(change_kind::status_changed);
  BOOST_TEST(c.agent_id == "p1");
  BOOST_TEST(c.status == agent_status::offline);
  BOOST_REQUIRE(reg.heartbeat("p1"));
  c = only(change_kind::status_changed);
  BOOST_TEST(c.agent_id == "p1");
  BOOST_TEST(c.status == agent_status::online);
}

BOOST_FIXTURE_TEST_CASE(a_sweep_held_in_degraded_mode_is_a_change, fixture) {
  // Degraded mode needs a minimum fleet (config.degraded_min_online, 10).
  for (int i = 0; i < 10; ++i)
    add("p" + std::to_string(i));
  next();
  clock->advance(400s);  // everyone stale at once
  auto r = reg.sweep();
  BOOST_REQUIRE(r->degraded);
  auto c = only(change_kind::sweep_degraded);
  BOOST_TEST(c.count == 10);
}

BOOST_FIXTURE_TEST_CASE(leases_granted_released_and_expired_are_changes, fixture) {
  add("p1");
  next();
  auto l = reg.acquire("planner");
  BOOST_REQUIRE(bool(l));
  auto c = only(change_kind::lease_granted);
  BOOST_TEST(c.agent_id == "p1");
  BOOST_TEST(c.current_load == 1);
  BOOST_REQUIRE(reg.release(*l));
  c = only(change_kind::lease_released);
  BOOST_TEST(c.current_load == 0);
  BOOST_TEST(!reg.release(*l));  // a second release frees nothing
  BOOST_TEST(next().empty());

  auto t = reg.acquire("planner", {.ttl = 10s});
  BOOST_REQUIRE(bool(t));
  only(change_kind::lease_granted);
  clock->advance(11s);
  BOOST_REQUIRE_EQUAL(reg.sweep()->leases_reclaimed, 1);
  BOOST_TEST(only(change_kind::leases_expired).count == 1);
}

BOOST_FIXTURE_TEST_CASE(a_threads_lease_changes_of_one_agent_between_two_reads_are_one_change_with_its_latest_state,
                        fixture) {
  add("p1");
  next();
  // The publisher thread may take a round between any two calls (the first
  // change wakes it), and a round ends coalescing: so each attempt allows 1
  // to 3 changes, every one of them must end on the true state, and at
  // least one attempt must show the three as one change.
  bool coalesced = false;
  for (int attempt = 0; attempt < 50 && !coalesced; ++attempt) {
    auto a = reg.acquire("planner");
    auto b = reg.acquire("planner");
    BOOST_REQUIRE(a && b);
    BOOST_REQUIRE(reg.release(*a));
    const auto cs = next();
    BOOST_REQUIRE(!cs.empty());
    BOOST_REQUIRE_LE(cs.size(), 3u);
    for (const auto& c : cs)
      BOOST_TEST(c.agent_id == "p1");
    BOOST_TEST(to_string(cs.front().kind) == std::string{"lease_granted"});
    BOOST_TEST(cs.back().current_load == 1);  // the state after all three
    coalesced = cs.size() == 1;
    // After a read (a publishing round), the next change is its own.
    BOOST_REQUIRE(reg.release(*b));
    const auto c = only(change_kind::lease_released);
    BOOST_TEST(c.current_load == 0);
  }
  BOOST_TEST(coalesced);
  // Another agent's lease change is a change of its own.
  add("p2");
  next();
  auto x = reg.acquire("planner");
  auto y = reg.acquire("planner");
  BOOST_REQUIRE(x && y);
  const auto cs = next();
  BOOST_REQUIRE_EQUAL(cs.size(), 2u);
  BOOST_TEST(cs[0].agent_id != cs[1].agent_id);
}

BOOST_FIXTURE_TEST_CASE(completed_executions_are_changes_and_timeouts_too, fixture) {
  add("p1");
  next();
  auto id = reg.start_execution("p1", {.task_type = "planning"});
  BOOST_REQUIRE(bool(id));
  BOOST_TEST(next().empty());  // a start is no change
  auto lease = reg.acquire("planner");
  BOOST_REQUIRE(bool(lease));
  only(change_kind::lease_granted);
  clock->advance(1500ms);
  BOOST_REQUIRE(reg.complete_execution(*id, execution_status::failed,
                                       {.prompt_tokens = 100, .completion_tokens = 20, .estimated_cost_usd = 0.25}));
  auto c = only(change_kind::execution_completed);
  BOOST_TEST(c.execution_id == *id);
  BOOST_TEST(c.agent_id == "p1");
  BOOST_TEST(c.agent_type == "planner");
  // The agent's state when published, as for every other change.
  BOOST_TEST(to_string(c.status) == std::string{"online"});
  BOOST_TEST(c.current_load == 1);
  BOOST_TEST(c.max_capacity == 4);
  BOOST_TEST(to_string(c.outcome) == std::string{"failed"});
  BOOST_TEST(c.duration_ms == 1500);
  BOOST_TEST(c.total_tokens == 120);
  BOOST_TEST(c.cost_micro_usd == 250000);

  // Its agent unregistered and registered again meanwhile (a new serial):
  // the completion carries the agent of that id as it is now.
  BOOST_REQUIRE(reg.release(*lease));
  only(change_kind::lease_released);
  auto before = reg.start_execution("p1");
  BOOST_REQUIRE(bool(before));
  BOOST_REQUIRE(reg.unregister_agent("p1"));
  add("p1");
  next();
  BOOST_REQUIRE(reg.complete_execution(*before, execution_status::success, {}));
  c = only(change_kind::execution_completed);
  BOOST_TEST(c.agent_id == "p1");
  BOOST_TEST(to_string(c.status) == std::string{"online"});
  BOOST_TEST(c.max_capacity == 4);

  auto late = reg.start_execution("p1");
  BOOST_REQUIRE(bool(late));
  clock->advance(31min);
  BOOST_REQUIRE(reg.heartbeat("p1"));  // keeps p1 from going stale meanwhile
  BOOST_REQUIRE_EQUAL(reg.sweep()->executions_timed_out, 1);
  c = only(change_kind::execution_completed);
  BOOST_TEST(c.execution_id == *late);
  BOOST_TEST(to_string(c.outcome) == std::string{"timeout"});
}

// A completion is resolved from the index slot its execution started on;
// an agent that left that slot meanwhile (moved to another type, or given
// another capacity in place) is found again, and the change carries its
// state now.
BOOST_FIXTURE_TEST_CASE(a_completion_carries_its_agent_as_it_is_now_after_a_move_or_a_capacity_change, fixture) {
  add("p1", "planner", 4);
  next();
  auto moved = reg.start_execution("p1");
  BOOST_REQUIRE(moved);
  add("p1", "coder", 6);  // to another type: another pool, another slot
  next();
  BOOST_REQUIRE(reg.complete_execution(*moved, execution_status::success, {}));
  auto c = only(change_kind::execution_completed);
  BOOST_TEST(c.agent_id == "p1");
  BOOST_TEST(c.agent_type == "coder");
  BOOST_TEST(c.max_capacity == 6);
  auto resized = reg.start_execution("p1");
  BOOST_REQUIRE(resized);
  add("p1", "coder", 9);  // same type: the same slot, a new capacity
  next();
  BOOST_REQUIRE(reg.complete_execution(*resized, execution_status::success, {}));
  c = only(change_kind::execution_completed);
  BOOST_TEST(c.agent_type == "coder");
  BOOST_TEST(c.max_capacity == 9);
}

BOOST_AUTO_TEST_CASE(a_watcher_behind_the_ring_is_told_compacted_and_relists_from_the_current_revision) {
  auto clock = std::make_shared<core::manual_clock>();
  config c = fixture::base(clock);
  c.change_log_capacity = 8;
  registry reg{c};
  const auto start = reg.revision();
  agent_spec s;
  s.agent_type = "planner";
  for (int i = 0; i < 20; ++i) {
    s.agent_id = "a" + std::to_string(i);
    BOOST_REQUIRE(reg.register_agent(s));
  }
  auto b = reg.changes_since(start, 100);
  BOOST_TEST(b.compacted);
  BOOST_TEST(b.changes.empty());
  BOOST_TEST(b.revision == start + 20);
  BOOST_TEST(b.compacted_revision == start + 12);
  // Re-list, then watch from the revision read before the listing.
  const auto rev = reg.revision();
  BOOST_TEST(reg.list_agents().size() == 20u);
  BOOST_REQUIRE(reg.update_status("a3", agent_status::paused));
  auto after = reg.changes_since(rev, 100);
  BOOST_TEST(!after.compacted);
  BOOST_REQUIRE_EQUAL(after.changes.size(), 1u);
  BOOST_TEST(after.changes[0].agent_id == "a3");
}

BOOST_FIXTURE_TEST_CASE(a_subscriber_is_told_of_a_change_made_on_an_actor_without_asking, fixture) {
  add("p1");
  std::mutex m;
  std::condition_variable cv;
  std::uint64_t told = 0;
  auto sub = reg.on_new_revision([&](std::uint64_t r) {
    std::lock_guard g{m};
    told = r;
    cv.notify_all();
  });
  const auto before = seen;
  // Asynchronous: nobody reads the stream; the publisher alone must tell.
  reg.update_status_async("p1", agent_status::paused, [](expected<agent>) {});
  std::unique_lock lock{m};
  BOOST_TEST(cv.wait_for(lock, 30s, [&] { return told > before + 1; }));  // registration + status
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(registry_changes_stress)

// Four threads acquire, release and change loads while a watcher follows
// the stream: revisions are consecutive, and at quiescence the last change
// of each agent carries its true load.
BOOST_AUTO_TEST_CASE(a_watcher_converges_on_every_agents_true_state_under_concurrent_changes) {
  auto clock = std::make_shared<core::manual_clock>();
  config c = fixture::base(clock);
  c.change_log_capacity = 1 << 20;
  registry reg{c};
  constexpr int agents = 16;
  agent_spec s;
  s.agent_type = "worker";
  s.max_capacity = 8;
  for (int i = 0; i < agents; ++i) {
    s.agent_id = "w" + std::to_string(i);
    BOOST_REQUIRE(reg.register_agent(s));
  }
  auto rev = reg.revision();
  std::map<std::string, std::int64_t> load;  // as the watcher sees it
  std::atomic<bool> stop{false};
  bool consecutive = true, compacted = false;  // Boost.Test asserts on the test's thread only
  std::thread watcher{[&] {
    while (true) {
      const bool last = stop.load();
      auto b = reg.changes_since(rev, 4096);
      if (b.compacted) {
        compacted = true;
        return;
      }
      for (const auto& ch : b.changes) {
        consecutive = consecutive && ch.revision == rev + 1;
        rev = ch.revision;
        load[ch.agent_id] = ch.current_load;
      }
      if (last && b.changes.empty())
        return;
    }
  }};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&, t] {
      std::vector<lease> held;
      for (int i = 0; i < 5000; ++i) {
        if (i % 3 == 2 && !held.empty()) {
          (void)reg.release(held.back());
          held.pop_back();
        } else if (auto l = reg.acquire("worker")) {
          held.push_back(*l);
        }
        if (i % 500 == 0)
          (void)reg.update_load("w" + std::to_string((t * 7 + i) % agents), 0);
      }
      for (const auto& l : held)
        (void)reg.release(l);
    });
  for (auto& w : workers)
    w.join();
  stop.store(true);
  watcher.join();
  BOOST_TEST(!compacted);
  BOOST_TEST(consecutive);
  BOOST_TEST(load.size() == static_cast<std::size_t>(agents));
  for (const auto& a : reg.list_agents())
    if (load.count(a.agent_id))
      BOOST_TEST(load[a.agent_id] == a.current_load, a.agent_id);
}

BOOST_AUTO_TEST_SUITE_END()
