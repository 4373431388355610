#include <boost/test/unit_test.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agentreg/registry.hpp"

using namespace agentreg;

BOOST_AUTO_TEST_SUITE(registry_stress)

BOOST_AUTO_TEST_CASE(hammering_threads_leave_exact_totals_and_never_overbook) {
  config c;
  c.auto_sweep = false;
  registry reg{c};
  // Fewer slots than workers (3 agents, 6 slots, plus the churn agents'),
  // so that they meet on the same agents: an overbooking needs two holders
  // of one agent at once.
  constexpr int stable_agents = 3, workers = 6, tasks_per_worker = 15000;
  for (int i = 0; i < stable_agents; ++i) {
    agent_spec s{"w" + std::to_string(i), "worker", "openai", "gpt-4o-mini"};
    s.max_capacity = 1 + i % 3;
    BOOST_REQUIRE(bool(reg.register_agent(s)));
  }
  std::atomic<bool> done{false};
  std::atomic<std::int64_t> completed{0}, tokens{0}, micro_usd{0}, tool_calls{0}, overbooked{0}, errors{0};
  // Who holds each agent at once, counted by the workers themselves: the
  // registry's own current_load cannot show an overbooking (its CAS never
  // lets it pass max_capacity), two holders too many can. Keyed by the
  // agent's index slot and generation, so that a churn agent registered
  // again is counted afresh while leases of its removed self end.
  std::mutex holders_mutex;
  std::map<std::pair<std::uint32_t, std::uint32_t>, int> holders;  // (slot, generation) -> holders now
  const auto hold = [&](const lease& l, int delta) {
    std::lock_guard guard{holders_mutex};
    return holders[{l.slot, l.generation}] += delta;
  };
  const auto capacity_of = [](const std::string& id) {
    return id.rfind("churn", 0) == 0 ? 2 : 1 + std::stoi(id.substr(1)) % 3;
  };

  // Churn: agents of the same type come and go, heartbeat and change load.
  std::thread churn([&] {
    std::mt19937 rng{7};
    for (int round = 0; !done.load(); ++round) {
      const std::string id = "churn" + std::to_string(round % 10);
      agent_spec s{id, "worker", "openai", "gpt-4o-mini"};
      s.max_capacity = 2;
      reg.register_agent(s);
      reg.heartbeat(id);
      reg.heartbeat("w" + std::to_string(rng() % stable_agents));
      if (round % 3 == 0)
        reg.unregister_agent(id);
      // A query drains the callers' outbox lanes while they fill them.
      if (round % 50 == 0 && !reg.get_performance_by(group_by::task_type))
        ++errors;
    }
  });

  std::vector<std::thread> pool;
  for (int t = 0; t < workers; ++t)
    pool.emplace_back([&, t] {
      std::mt19937_64 rng{static_cast<std::uint64_t>(t) + 1};
      for (int i = 0; i < tasks_per_worker; ++i) {
        auto l = reg.acquire("worker");
        if (!l) {
          if (l.code() != errc::no_capacity)
            ++errors;
          continue;
        }
        if (hold(*l, +1) > capacity_of(l->agent_id))
          ++overbooked;
        auto id = reg.start_execution(l->agent_id, {.task_type = "t" + std::to_string(i % 3)});
        if (id) {
          execution_metrics m;
          m.prompt_tokens = static_cast<std::int64_t>(rng() % 5000);
          m.completion_tokens = static_cast<std::int64_t>(rng() % 2000);
          m.estimated_cost_usd = static_cast<double>(rng() % 100000) / 1e6;  // whole micro-dollars
          auto e = reg.complete_execution(*id, i % 7 ? execution_status::success : execution_status::failed, m);
          if (e) {
            ++completed;
            tokens += e->total_tokens;
            micro_usd += e->cost_micro_usd;
          } else {
            ++errors;
          }
        } else if (id.code() != errc::unknown_agent) {  // a churn agent may have just left
          ++errors;
        }
        // Only for a task that got a lease: with fewer slots than workers,
        // some acquires answer no_capacity.
        if (reg.record_tool_usage("w0", "bash", {.success_count = 1, .duration_ms = 1}))
          ++tool_calls;
        else
          ++errors;
        hold(*l, -1);
        // A churn agent may have left with our lease: that is lease_not_held.
        if (auto released = reg.release(*l);
            !released && !(released.code() == errc::lease_not_held && l->agent_id.rfind("churn", 0) == 0))
          ++errors;
      }
    });
  for (auto& th : pool)
    th.join();
  done = true;
  churn.join();
  reg.sync();

  BOOST_TEST(errors.load() == 0);
  BOOST_TEST(overbooked.load() == 0);
  BOOST_TEST(completed.load() > workers * tasks_per_worker / 2);
  // Every dimension counts every completion once.
  for (auto dim : {group_by::agent, group_by::agent_type, group_by::model, group_by::task_type, group_by::workflow}) {
    BOOST_TEST_CONTEXT("group_by " << to_string(dim)) {
      std::int64_t total = 0, sum_tokens = 0, sum_micro = 0;
      const auto summaries = reg.get_performance_by(dim);
      BOOST_REQUIRE(bool(summaries));
      for (const auto& p : *summaries) {
        total += p.total_executions;
        sum_tokens += p.total_tokens_used;
        sum_micro += p.total_cost_micro_usd;
      }
      BOOST_TEST(total == completed.load());
      BOOST_TEST(sum_tokens == tokens.load());
      BOOST_TEST(sum_micro == micro_usd.load());
    }
  }
  BOOST_TEST(reg.get_tool_usage("w0")->at(0).invocation_count == tool_calls.load());
  for (const auto& a : reg.list_agents()) {
    BOOST_TEST(a.current_load == 0);
    BOOST_TEST(a.current_load <= a.max_capacity);
  }
  BOOST_TEST(reg.stats().leases_held == 0);
  BOOST_TEST(reg.stats().completed_executions == completed.load());
}

BOOST_AUTO_TEST_CASE(re_registering_an_agent_under_another_type_under_load_never_gives_it_more_holders_than_capacity) {
  // One agent of capacity 1 is registered again and again under two types
  // while workers acquire both types and count who holds it at once. A type
  // change that checked for leases, then inserted the new slot and only
  // then removed the old one, let an acquire of the old type and one of the
  // new type hold the agent beyond its capacity.
  config c;
  c.auto_sweep = false;
  registry reg{c};
  const auto spec = [](const char* type) {
    agent_spec s{"flip", type, "openai", "gpt-4o-mini"};
    s.max_capacity = 1;
    return s;
  };
  BOOST_REQUIRE(bool(reg.register_agent(spec("first"))));
  BOOST_REQUIRE(bool(reg.register_agent(spec("second"))));  // both types exist from here on
  std::atomic<bool> done{false};
  std::atomic<int> holders{0}, most{0};
  std::atomic<std::int64_t> flips{0}, taken{0}, errors{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t)
    workers.emplace_back([&, t] {
      for (int i = 0; i < 40'000; ++i) {
        // Now and then hold nothing until the agent changed type once more:
        // a change is refused while a lease is held, and three workers
        // would otherwise leave it few moments without one.
        if (i % 20 == 19)
          for (const std::int64_t before = flips.load(); flips.load() == before && !done.load();)
            std::this_thread::yield();
        auto l = reg.acquire((i + t) % 2 ? "first" : "second");
        if (!l) {
          if (l.code() != errc::no_capacity)
            ++errors;
          continue;
        }
        ++taken;
        const int now = holders.fetch_add(1) + 1;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        holders.fetch_sub(1);
        if (!reg.release(*l))
          ++errors;
      }
    });
  std::thread flipper([&] {
    for (int n = 0; !done.load(); ++n)
      if (reg.register_agent(spec(n % 2 ? "first" : "second")))
        ++flips;  // refused while it holds leases: invalid_argument
  });
  for (auto& w : workers)
    w.join();
  done = true;
  flipper.join();
  BOOST_TEST(errors.load() == 0);
  BOOST_TEST(most.load() <= 1);
  BOOST_TEST(taken.load() > 0);
  BOOST_TEST(flips.load() > 0);
  BOOST_TEST_MESSAGE("type changes " << flips.load() << ", leases taken " << taken.load());
  BOOST_TEST(reg.get_agent("flip")->current_load == 0);
  BOOST_TEST(reg.stats().leases_held == 0);
}

BOOST_AUTO_TEST_CASE(two_registrations_of_one_new_id_racing_acquires_never_lease_the_loser_beside_the_winner) {
  // Two threads register the same new id at once, round after round; the
  // loser's index slot lives until its directory insert fails. An acquirer
  // takes every lease it can get of the round's agent (capacity 1) and
  // holds them to the round's end: a lease granted on the loser's slot
  // under the winner's id (named before the registration was published)
  // would be a second one. Each round's agent is unregistered before the
  // next, so the newest is the only one to pick.
  config c;
  c.auto_sweep = false;
  registry reg{c};
  constexpr int rounds = 3000;
  // Both registrars meet here before each step, spinning (a futex wake-up
  // takes longer than a registration, and they would not overlap), then
  // yielding: a waiter that found the other off its CPU gives it the CPU.
  std::atomic<int> arrived{0};
  const auto meet = [&arrived](int& meetings) {
    meetings += 2;
    arrived.fetch_add(1);
    for (int spins = 0; arrived.load() < meetings; ++spins)
      if (spins > 2000)
        std::this_thread::yield();
  };
  std::atomic<int> current{0};  // the round whose agent is being registered
  std::atomic<bool> done{false};
  std::atomic<std::int64_t> errors{0};
  int overbooked = 0, taken = 0;
  std::thread acquirer([&] {
    std::vector<lease> held;
    // Two of the leases held at once naming one id (the round may have
    // moved on between our look at it and an acquire: those differ).
    const auto count_twice_held = [&] {
      std::set<std::string> ids;
      for (const auto& l : held)
        overbooked += !ids.insert(l.agent_id).second;
    };
    int round = 0;
    while (!done.load()) {
      if (const int now = current.load(); now != round) {
        count_twice_held();
        for (const auto& l : held)
          reg.release(l);  // after the unregistration: it answers an error
        held.clear();
        round = now;
      }
      auto l = reg.acquire("racing");
      if (l) {
        ++taken;
        held.push_back(*l);
      } else if (l.code() != errc::no_capacity && l.code() != errc::unknown_type) {
        ++errors;
      }
      std::this_thread::yield();  // room for both registrars on two cores
    }
    count_twice_held();
  });
  std::vector<std::thread> registrars;
  for (int r = 0; r < 2; ++r)
    registrars.emplace_back([&, r] {
      int meetings = 0;
      for (int k = 0; k < rounds; ++k) {
        agent_spec s{"race-" + std::to_string(k), "racing", "openai", "gpt-4o-mini"};
        s.max_capacity = 1;
        meet(meetings);  // both register round k's id at once
        if (!reg.register_agent(s))
          ++errors;
        meet(meetings);
        if (r == 0) {
          if (!reg.unregister_agent(s.agent_id))
            ++errors;
          current.store(k + 1);
        }
      }
    });
  for (auto& r : registrars)
    r.join();
  done = true;
  acquirer.join();
  BOOST_TEST(overbooked == 0);
  BOOST_TEST(errors.load() == 0);
  BOOST_TEST(taken > 0);
  BOOST_TEST_MESSAGE("leases taken " << taken << " over " << rounds << " rounds");
}

BOOST_AUTO_TEST_SUITE_END()
