#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <iterator>
#include <latch>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "index/priority_index.hpp"
#include "index/rank.hpp"
#include "index/stripe.hpp"
#include "tests/index/test_access.hpp"

using namespace agentreg::index;

namespace {

struct fixture {
  priority_index idx;
  std::uint32_t pool = idx.pool("planner").value;

  agent_ref add(std::uint32_t capacity, std::uint64_t tag = 0) {
    auto r = idx.insert(pool, capacity, tag);
    BOOST_REQUIRE(r);
    return r.value;
  }
  agent_view view(agent_ref a) {
    auto v = idx.view(a);
    BOOST_REQUIRE(v);
    return v.value;
  }
  // Distinct tokens whose halves both change, as random ones would.
  std::uint64_t tokens = 0;
  result<lease> acquire(std::uint32_t p, std::int64_t expires_at = 0) {
    return idx.acquire(p, expires_at, ++tokens * 0x9E3779B97F4A7C15ull);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(index_unit)

// The rank by reciprocal is the division it replaces, for every load below
// every capacity (8.4 M pairs), the largest capacity and its top load included.
BOOST_AUTO_TEST_CASE(the_rank_by_reciprocal_is_the_exact_quotient_for_every_load_and_capacity) {
  std::uint64_t wrong = 0, checked = 0;
  for (std::uint32_t capacity = 1; capacity <= priority_index::max_capacity; ++capacity)
    for (std::uint32_t load = 0; load < capacity; ++load, ++checked)
      if (detail::load_rank(load, capacity) != (load << 16) / capacity)
        ++wrong;
  BOOST_TEST(wrong == 0u);
  BOOST_TEST(checked == std::uint64_t{4095} * 4096 / 2);
  BOOST_TEST(detail::load_rank(4094, 4095) == (4094u << 16) / 4095);
  BOOST_TEST(detail::load_rank(0, 1) == 0u);
}

BOOST_FIXTURE_TEST_CASE(pools_are_found_by_type_name_and_created_once, fixture) {
  BOOST_TEST(*idx.find_pool("planner") == pool);
  BOOST_TEST(!idx.find_pool("coder").has_value());
  auto coder = idx.pool("coder");
  BOOST_TEST(bool(coder));
  BOOST_TEST(*coder != pool);
  BOOST_TEST(*idx.pool("coder") == *coder);
  BOOST_TEST(idx.pool_name(*coder) == "coder");
}

BOOST_FIXTURE_TEST_CASE(insert_rejects_capacity_outside_one_to_max, fixture) {
  BOOST_TEST((idx.insert(pool, 0, 1).error == errc::invalid_capacity));
  BOOST_TEST((idx.insert(pool, priority_index::max_capacity + 1, 1).error == errc::invalid_capacity));
  BOOST_TEST((idx.insert(pool + 99, 4, 1).error == errc::unknown_type));
  BOOST_TEST((idx.least_loaded(pool).error == errc::no_capacity));
}

BOOST_FIXTURE_TEST_CASE(an_inserted_agent_is_online_with_zero_load_and_keeps_its_tag, fixture) {
  auto a = add(5, 42);
  auto v = view(a);
  BOOST_TEST(v.capacity == 5u);
  BOOST_TEST(v.load() == 0u);
  BOOST_TEST(v.tag == 42u);
  BOOST_TEST((v.status == agent_status::online));
}

BOOST_FIXTURE_TEST_CASE(least_loaded_picks_the_smallest_load_to_capacity_ratio, fixture) {
  auto a = add(10, 1);  // 5/10 = 0.5
  auto b = add(3, 2);   // 1/3 = 0.33
  auto c = add(4, 3);   // 2/4 = 0.5
  BOOST_TEST((idx.set_load(a, 5) == errc::ok));
  BOOST_TEST((idx.set_load(b, 1) == errc::ok));
  BOOST_TEST((idx.set_load(c, 2) == errc::ok));
  for (int i = 0; i < 5; ++i)
    BOOST_TEST(idx.least_loaded(pool)->tag == 2u);
  BOOST_TEST((idx.set_load(b, 2) == errc::ok));  // 2/3 = 0.67: now a and c tie at 0.5
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 4; ++i)
    seen.insert(idx.least_loaded(pool)->tag);
  BOOST_TEST((seen == std::set<std::uint64_t>{1, 3}));
}

BOOST_FIXTURE_TEST_CASE(ratios_that_differ_by_little_are_still_ordered_exactly, fixture) {
  // 254/255 < 255/256: the closest distinct pair of ratios at capacity <= 256.
  auto a = add(256, 1);
  auto b = add(255, 2);
  BOOST_TEST((idx.set_load(a, 255) == errc::ok));
  BOOST_TEST((idx.set_load(b, 254) == errc::ok));
  BOOST_TEST(idx.least_loaded(pool)->tag == 2u);
}

BOOST_FIXTURE_TEST_CASE(ties_rotate_over_all_tied_agents, fixture) {
  for (std::uint64_t t = 0; t < 7; ++t)
    add(4, t);
  std::map<std::uint64_t, int> picks;
  for (int i = 0; i < 70; ++i)
    ++picks[idx.least_loaded(pool)->tag];
  BOOST_TEST(picks.size() == 7u);
  for (auto& [tag, n] : picks)
    BOOST_TEST(n == 10);
}

BOOST_FIXTURE_TEST_CASE(ties_rotate_in_a_large_pool_so_no_agent_is_picked_twice_before_sixty_three_others, fixture) {
  // 1000 tied agents: a thread rotates over a region of at least 64 of them
  // (so that two threads keep to different agents), not over all 1000.
  for (std::uint64_t t = 0; t < 1000; ++t)
    add(8, t);
  std::map<std::uint64_t, int> picks;
  for (int i = 0; i < 640; ++i) {
    const auto l = acquire(pool);
    BOOST_REQUIRE(l);
    ++picks[view(l->agent).tag];
    BOOST_REQUIRE((idx.release(*l) == errc::ok));
  }
  BOOST_TEST(picks.size() >= 64u);
  for (auto& [tag, n] : picks)
    BOOST_TEST(n <= 10);
}

// Moves leave stale hints behind (an agent's bit stays in the bucket of the
// rank it left, until a pick meets it): whatever they pile up to, after every
// step the pick is the exact minimum of load/capacity over the eligible
// agents, and no_capacity exactly when none has room.
BOOST_FIXTURE_TEST_CASE(the_pick_at_quiescence_is_the_exact_minimum_while_stale_hints_pile_up, fixture) {
  std::vector<agent_ref> agents;
  for (std::uint32_t i = 0; i < 200; ++i)  // four pick regions
    agents.push_back(add(1 + i % 7, i));
  std::vector<lease> held;
  std::uint64_t x = 0x2545F4914F6CDD1Dull;
  const auto next = [&x] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  for (int step = 0; step < 20000; ++step) {
    const std::uint64_t r = next() % 100;
    agent_ref& a = agents[next() % agents.size()];
    if (r < 45) {
      if (auto l = acquire(pool))
        held.push_back(*l);
    } else if (r < 85 && !held.empty()) {
      const std::size_t k = next() % held.size();
      BOOST_REQUIRE((idx.release(held[k]) == errc::ok));
      held[k] = held.back();
      held.pop_back();
    } else if (r < 92) {
      const auto v = view(a);
      idx.set_load(a, static_cast<std::int64_t>(next() % (v.capacity - v.leased + 1)));
    } else if (r < 97) {
      idx.set_status(a, next() % 4 == 0 ? agent_status::paused : agent_status::online);
    } else {
      // Remove and insert again: the old slot's bits go stale at once.
      const auto v = view(a);
      if (v.leased == 0) {
        BOOST_REQUIRE((idx.remove(a) == errc::ok));
        a = add(v.capacity, v.tag);
      }
    }
    // The exact minimum, by cross-multiplication, over every eligible agent.
    std::optional<agent_view> best;
    for (const auto& ag : agents) {
      const auto v = view(ag);
      if (v.status != agent_status::online || v.load() >= v.capacity)
        continue;
      if (!best || std::uint64_t{v.load()} * best->capacity < std::uint64_t{best->load()} * v.capacity)
        best = v;
    }
    const auto picked = idx.least_loaded(pool);
    if (!best) {
      BOOST_REQUIRE((picked.error == errc::no_capacity));
      continue;
    }
    BOOST_REQUIRE(picked);
    BOOST_REQUIRE(std::uint64_t{picked->load()} * best->capacity == std::uint64_t{best->load()} * picked->capacity);
  }
  for (const auto& l : held)
    BOOST_REQUIRE((idx.release(l) == errc::ok));
}

BOOST_FIXTURE_TEST_CASE(two_threads_picking_among_many_tied_agents_keep_to_different_agents, fixture) {
  // Each thread holds at most one lease, so its region always has a tied
  // agent free and no pick has to leave it: the two never touch the same
  // agent (nor its cache line), which is what lets a pair scale over CPUs.
  for (std::uint64_t t = 0; t < 1000; ++t)
    add(8, t);
  std::vector<std::set<std::uint32_t>> picked(2);
  std::vector<std::thread> pair;
  // Both threads hold their stripes before either picks: a thread that ran
  // its pairs and exited before the other began would hand it its stripe,
  // and its region, which is the case of one thread after another.
  std::latch both_hold_a_stripe{2};
  for (std::uint64_t t = 0; t < 2; ++t)
    pair.emplace_back([&, t] {
      (void)agentreg::index::stripe::of_this_thread();
      both_hold_a_stripe.arrive_and_wait();
      for (std::uint64_t i = 0; i < 2000; ++i) {
        const auto l = idx.acquire(pool, 0, (t << 32 | i) * 0x9E3779B97F4A7C15ull + 1);
        if (!l)
          return;
        picked[t].insert(l->agent.slot);
        if (idx.release(*l) != errc::ok)
          return;
      }
    });
  for (auto& th : pair)
    th.join();
  BOOST_TEST(picked[0].size() >= 64u);
  BOOST_TEST(picked[1].size() >= 64u);
  std::vector<std::uint32_t> shared;
  std::set_intersection(picked[0].begin(), picked[0].end(), picked[1].begin(), picked[1].end(),
                        std::back_inserter(shared));
  BOOST_TEST(shared.empty());
}

// A report of INT64_MAX with a slot leased made `n + leased` overflow, which
// passed the range check and wrote 2^32 - 1 into the word's reported field:
// the bits spilled into status and generation (over HTTP: the agent went
// offline, then "not registered").
BOOST_FIXTURE_TEST_CASE(set_load_refuses_loads_that_overflow_with_leased_slots, fixture) {
  auto a = add(4);
  BOOST_REQUIRE(acquire(pool));
  const auto before = view(a);
  for (std::int64_t n : {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max() - 1,
                         std::int64_t{1} << 32, std::int64_t{4}})
    BOOST_TEST((idx.set_load(a, n) == errc::load_out_of_range));
  const auto after = view(a);
  BOOST_TEST(after.leased == before.leased);
  BOOST_TEST(after.reported == before.reported);
  BOOST_TEST(after.capacity == before.capacity);
  BOOST_TEST((after.status == before.status));
  BOOST_TEST((idx.set_load(a, 3) == errc::ok));
}

BOOST_FIXTURE_TEST_CASE(acquire_reserves_a_slot_and_release_frees_it, fixture) {
  auto a = add(2, 1);
  auto l1 = acquire(pool);
  BOOST_REQUIRE(l1);
  BOOST_TEST((l1->agent == a));
  BOOST_TEST(view(a).leased == 1u);
  auto l2 = acquire(pool);
  BOOST_REQUIRE(l2);
  BOOST_TEST(l2->record != l1->record);
  BOOST_TEST((view(a).status == agent_status::busy));
  BOOST_TEST((acquire(pool).error == errc::no_capacity));
  BOOST_TEST(idx.leases_held() == 2u);
  BOOST_TEST((idx.release(*l1) == errc::ok));
  BOOST_TEST(view(a).leased == 1u);
  BOOST_TEST((view(a).status == agent_status::online));
  BOOST_TEST((idx.release(*l2) == errc::ok));
  BOOST_TEST(view(a).load() == 0u);
  BOOST_TEST(idx.leases_held() == 0u);
}

BOOST_FIXTURE_TEST_CASE(acquire_spreads_over_agents_by_ratio, fixture) {
  auto big = add(8, 1);
  auto small = add(2, 2);
  std::vector<lease> held;
  for (int i = 0; i < 10; ++i) {
    auto l = acquire(pool);
    BOOST_REQUIRE(l);
    held.push_back(*l);
    // After every acquire the two ratios stay within one step of each other.
    const double rb = view(big).load() / 8.0, rs = view(small).load() / 2.0;
    BOOST_TEST(std::abs(rb - rs) <= 0.5);
  }
  BOOST_TEST(view(big).load() == 8u);
  BOOST_TEST(view(small).load() == 2u);
  BOOST_TEST((acquire(pool).error == errc::no_capacity));
}

BOOST_FIXTURE_TEST_CASE(releasing_a_lease_twice_is_harmless_and_reported, fixture) {
  auto a = add(3, 1);
  auto l = acquire(pool);
  auto other = acquire(pool);
  BOOST_TEST((idx.release(*l) == errc::ok));
  BOOST_TEST((idx.release(*l) == errc::lease_not_held));
  BOOST_TEST(view(a).leased == 1u);  // the other lease still counts
  BOOST_TEST((idx.release(lease{a, 77, 0xdeadbeefull}) == errc::lease_not_held));
  BOOST_TEST((idx.release(*other) == errc::ok));
}

BOOST_FIXTURE_TEST_CASE(release_and_renew_with_a_token_that_is_not_the_holdings_change_nothing, fixture) {
  auto a = add(3, 1);
  auto l = acquire(pool, 100);
  BOOST_REQUIRE(l);
  // Tokens that differ from the holding's in one bit of either half, and
  // records that are not its own (one in the table, one beyond it).
  for (const std::uint64_t flip : {std::uint64_t{1}, std::uint64_t{1} << 31, std::uint64_t{1} << 32,
                                   std::uint64_t{1} << 63}) {
    lease forged = *l;
    forged.token ^= flip;
    BOOST_TEST((idx.release(forged) == errc::lease_not_held));
    BOOST_TEST((idx.renew(forged, 50, 1000).error == errc::lease_not_held));
  }
  lease elsewhere = *l;
  elsewhere.record += 1;
  BOOST_TEST((idx.release(elsewhere) == errc::lease_not_held));
  elsewhere.record = 1u << 30;
  BOOST_TEST((idx.release(elsewhere) == errc::lease_not_held));
  BOOST_TEST((idx.renew(elsewhere, 50, 1000).error == errc::lease_not_held));
  BOOST_TEST(view(a).leased == 1u);
  BOOST_TEST(idx.leases_held() == 1u);
  // The expiry was not moved by the forged renewals: the lease expires at 100.
  BOOST_TEST(idx.reclaim_expired(100) == 1u);
  BOOST_TEST(view(a).leased == 0u);
}

BOOST_FIXTURE_TEST_CASE(renew_moves_the_expiry_and_answers_the_lease_as_held, fixture) {
  auto a = add(3, 1);
  auto l = acquire(pool, 100);
  BOOST_REQUIRE(l);
  lease anonymous{{}, l->record, l->token};  // as parsed from text: no agent handle
  auto renewed = idx.renew(anonymous, 99, 500);
  BOOST_REQUIRE(renewed);
  BOOST_TEST((renewed->agent == a));
  BOOST_TEST(renewed->record == l->record);
  BOOST_TEST(renewed->token == l->token);
  BOOST_TEST(idx.reclaim_expired(499) == 0u);
  BOOST_TEST(view(a).leased == 1u);
  BOOST_TEST(idx.reclaim_expired(500) == 1u);
  BOOST_TEST(view(a).leased == 0u);
  BOOST_TEST((idx.renew(*l, 501, 900).error == errc::lease_not_held));
  BOOST_TEST((idx.release(*l) == errc::lease_not_held));
}

BOOST_FIXTURE_TEST_CASE(renew_of_an_expired_lease_frees_it_and_answers_lease_not_held, fixture) {
  auto a = add(3, 1);
  auto l = acquire(pool, 100);
  BOOST_REQUIRE(l);
  BOOST_TEST((idx.renew(*l, 100, 1000).error == errc::lease_not_held));
  BOOST_TEST(view(a).leased == 0u);
  BOOST_TEST(idx.leases_held() == 0u);
  BOOST_TEST((idx.release(*l) == errc::lease_not_held));
  BOOST_TEST(idx.reclaim_expired(10'000) == 0u);
}

BOOST_FIXTURE_TEST_CASE(renew_after_release_answers_lease_not_held_and_leaves_the_next_holding_alone, fixture) {
  auto a = add(3, 1);
  auto first = acquire(pool, 100);
  BOOST_REQUIRE(first);
  BOOST_TEST((idx.release(*first) == errc::ok));
  BOOST_TEST((idx.renew(*first, 0, 1000).error == errc::lease_not_held));
  auto second = acquire(pool, 200);  // reuses the freed record
  BOOST_REQUIRE(second);
  BOOST_TEST(second->record == first->record);
  BOOST_TEST((idx.renew(*first, 0, 1000).error == errc::lease_not_held));
  BOOST_TEST(idx.reclaim_expired(200) == 1u);  // its own expiry, untouched
  BOOST_TEST(view(a).leased == 0u);
}

BOOST_FIXTURE_TEST_CASE(leases_acquired_on_one_thread_and_released_on_another_reuse_their_records, fixture) {
  // A freed record goes back to the releasing thread. The table used to
  // keep it there, so a thread that only acquires took a fresh record for
  // every lease and the table grew by every round's leases, up to
  // max_leases (2^24 records, 1 GiB). The releaser hands full chains to
  // the acquirer: the table holds a round's leases plus what the releaser
  // keeps cached, two chains of 32.
  for (std::uint64_t t = 0; t < 100; ++t)
    add(8, t);
  constexpr int rounds = 40;
  constexpr std::uint32_t per_round = 500;
  std::vector<lease> in_flight;
  std::barrier step{2};
  std::atomic<int> failures{0};
  std::uint32_t after_first_round = 0;
  std::thread acquirer{[&] {
    for (int r = 0; r < rounds; ++r) {
      for (std::uint32_t i = 0; i < per_round; ++i) {
        const auto l = idx.acquire(pool, 0, (std::uint64_t(r) << 32 | i) * 0x9E3779B97F4A7C15ull + 1);
        if (l)
          in_flight.push_back(l.value);
        else
          ++failures;
      }
      if (r == 0)
        after_first_round = test_access::lease_records(idx);
      step.arrive_and_wait();  // the releaser takes this round's leases
      step.arrive_and_wait();  // and has released them
    }
  }};
  std::thread releaser{[&] {
    for (int r = 0; r < rounds; ++r) {
      step.arrive_and_wait();
      for (const auto& l : in_flight)
        if (idx.release(l) != errc::ok)
          ++failures;
      in_flight.clear();
      step.arrive_and_wait();
    }
  }};
  acquirer.join();
  releaser.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(idx.leases_held() == 0u);
  BOOST_TEST(after_first_round == per_round);
  BOOST_TEST(test_access::lease_records(idx) <= per_round + 2 * 32);
}

BOOST_FIXTURE_TEST_CASE(a_thread_that_exits_leaves_its_free_records_to_the_next_owner_of_its_stripe, fixture) {
  for (std::uint64_t t = 0; t < 10; ++t)
    add(8, t);
  const auto acquire_and_release_twenty = [this](std::uint64_t salt) {
    std::vector<lease> held;
    for (std::uint64_t i = 0; i < 20; ++i)
      if (const auto l = idx.acquire(pool, 0, (salt << 32 | i) * 0x9E3779B97F4A7C15ull + 1))
        held.push_back(l.value);
    for (const auto& l : held)
      (void)idx.release(l);
    return held.size();
  };
  std::size_t first = 0, second = 0;
  std::thread{[&] { first = acquire_and_release_twenty(1); }}.join();
  const std::uint32_t made = test_access::lease_records(idx);
  // The next thread is given the stripe just given back (the lowest free)
  // with the 20 free records its cache holds: it makes none.
  std::thread{[&] { second = acquire_and_release_twenty(2); }}.join();
  BOOST_TEST(first == 20u);
  BOOST_TEST(second == 20u);
  BOOST_TEST(made >= 20u);
  BOOST_TEST(test_access::lease_records(idx) == made);
  BOOST_TEST(idx.leases_held() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_thread_that_shares_a_stripe_takes_records_from_a_chain_an_owner_handed_on, fixture) {
  // Every stripe owned (by parked threads and one that frees), so that one
  // more thread shares a stripe: its acquires take the first record of the
  // chain the owner handed on and put the rest back, and make no record
  // until the chain is used up.
  for (std::uint64_t t = 0; t < 20; ++t)
    add(8, t);
  const std::uint32_t free_stripes = stripe::count - stripe::owned_count();
  BOOST_REQUIRE(free_stripes >= 1u);
  std::latch all_claimed{free_stripes}, done{1};
  std::vector<std::thread> owners;
  for (std::uint32_t t = 1; t < free_stripes; ++t)
    owners.emplace_back([&] {
      (void)stripe::of_this_thread();
      all_claimed.count_down();
      done.wait();
    });
  // The freeing owner: 65 frees fill its two chains and hand one of 32 on.
  std::thread freer{[&] {
    BOOST_TEST(stripe::of_this_thread().owned);
    std::vector<lease> held;
    for (std::uint64_t i = 0; i < 65; ++i)
      if (const auto l = idx.acquire(pool, 0, (i + 1) * 0x9E3779B97F4A7C15ull))
        held.push_back(l.value);
    for (const auto& l : held)
      (void)idx.release(l);
    BOOST_TEST(held.size() == 65u);
    all_claimed.count_down();
    done.wait();
  }};
  all_claimed.wait();
  BOOST_TEST(stripe::owned_count() == stripe::count);
  const std::uint32_t made = test_access::lease_records(idx);
  std::uint32_t made_after_32 = 0, made_after_33 = 0;
  bool shared = false;
  std::thread{[&] {
    shared = !stripe::of_this_thread().owned;
    std::vector<lease> held;
    for (std::uint64_t i = 0; i < 33; ++i) {
      if (const auto l = idx.acquire(pool, 0, (i + 1000) * 0x9E3779B97F4A7C15ull))
        held.push_back(l.value);
      if (i == 31)
        made_after_32 = test_access::lease_records(idx);
    }
    made_after_33 = test_access::lease_records(idx);
    for (const auto& l : held)
      (void)idx.release(l);
  }}.join();
  done.count_down();
  freer.join();
  for (auto& t : owners)
    t.join();
  BOOST_TEST(shared);
  BOOST_TEST(made == 65u);
  BOOST_TEST(made_after_32 == made);     // all 32 from the chain
  BOOST_TEST(made_after_33 == made + 1);  // then the owner's cache is out of reach
  BOOST_TEST(idx.leases_held() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_lease_record_keeps_working_across_its_sequence_wrap, fixture) {
  // The sequence of a record advances at every free and renewal; a record
  // reused that often must keep matching its holder's lease. The lease names
  // the holding by its token only, so it carries nothing that could wrap
  // differently from what the record compares.
  auto a = add(2, 1);
  auto l = acquire(pool, 1000);
  BOOST_REQUIRE(l);
  const std::uint32_t r = l->record;
  BOOST_TEST((idx.release(*l) == errc::ok));
  constexpr std::uint64_t last = (std::uint64_t{1} << 62) - 1;
  test_access::set_lease_sequence(idx, r, last - 2);
  std::int64_t now = 0;
  for (int round = 0; round < 4; ++round) {  // acquire, renew and release or reclaim: 2 steps a round
    auto held = acquire(pool, now + 10);
    BOOST_REQUIRE(held);
    BOOST_TEST(held->record == r);  // the same record, reused (per-thread LIFO)
    BOOST_TEST(bool(idx.renew(*held, now, now + 20)));
    if (round % 2 == 0)
      BOOST_TEST((idx.release(*held) == errc::ok));
    else
      BOOST_TEST(idx.reclaim_expired(now + 20) == 1u);
    BOOST_TEST(view(a).leased == 0u);
    now += 100;
  }
  // 8 steps from last - 2: the sequence went past 2^62 - 1 and wrapped to 5.
  BOOST_TEST(test_access::lease_sequence(idx, r) == 5u);
  // And a token that matches only in its low 32 bits, which is what an id
  // carrying a truncated sequence compared, still frees nothing.
  auto held = acquire(pool);
  BOOST_REQUIRE(held);
  lease low_half = *held;
  low_half.token ^= std::uint64_t{0xffffffff} << 32;
  BOOST_TEST((idx.release(low_half) == errc::lease_not_held));
  BOOST_TEST((idx.release(*held) == errc::ok));
}

BOOST_FIXTURE_TEST_CASE(a_released_lease_id_cannot_free_a_later_lease_on_the_same_record, fixture) {
  auto a = add(3, 1);
  auto first = acquire(pool);
  BOOST_TEST((idx.release(*first) == errc::ok));
  auto second = acquire(pool);  // reuses the freed record
  BOOST_TEST((idx.release(*first) == errc::lease_not_held));
  BOOST_TEST(view(a).leased == 1u);
  BOOST_TEST((idx.release(*second) == errc::ok));
}

BOOST_FIXTURE_TEST_CASE(expired_leases_are_reclaimed_by_the_sweep_at_the_given_time, fixture) {
  auto a = add(4, 1);
  auto short_lived = acquire(pool, 100);
  auto long_lived = acquire(pool, 500);
  auto forever = acquire(pool);
  BOOST_TEST(view(a).leased == 3u);
  BOOST_TEST(idx.reclaim_expired(99) == 0u);
  BOOST_TEST(idx.reclaim_expired(100) == 1u);
  BOOST_TEST(view(a).leased == 2u);
  BOOST_TEST((idx.release(*short_lived) == errc::lease_not_held));
  BOOST_TEST(idx.reclaim_expired(1'000'000) == 1u);
  BOOST_TEST(view(a).leased == 1u);
  BOOST_TEST((idx.release(*long_lived) == errc::lease_not_held));
  BOOST_TEST((idx.release(*forever) == errc::ok));
}

BOOST_FIXTURE_TEST_CASE(set_load_rejects_negative_or_above_capacity_and_changes_nothing, fixture) {
  auto a = add(4, 1);
  BOOST_TEST((idx.set_load(a, 3) == errc::ok));
  BOOST_TEST((idx.set_load(a, -1) == errc::load_out_of_range));
  BOOST_TEST((idx.set_load(a, 5) == errc::load_out_of_range));
  BOOST_TEST(view(a).reported == 3u);
  auto l = acquire(pool);
  BOOST_REQUIRE(l);
  // One slot is leased: the agent may report at most 3 more.
  BOOST_TEST((idx.set_load(a, 4) == errc::load_out_of_range));
  BOOST_TEST((idx.set_load(a, 3) == errc::ok));
  BOOST_TEST((view(a).status == agent_status::busy));
  BOOST_TEST((idx.set_load(a, 0) == errc::ok));
  BOOST_TEST((view(a).status == agent_status::online));
}

BOOST_FIXTURE_TEST_CASE(an_agent_at_capacity_shows_busy_and_is_not_selected, fixture) {
  auto a = add(2, 1);
  auto b = add(2, 2);
  BOOST_TEST((idx.set_load(a, 2) == errc::ok));
  BOOST_TEST((view(a).status == agent_status::busy));
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(idx.least_loaded(pool)->tag == 2u);
  BOOST_TEST((idx.set_load(b, 2) == errc::ok));
  BOOST_TEST((idx.least_loaded(pool).error == errc::no_capacity));
  BOOST_TEST((idx.set_load(a, 1) == errc::ok));
  BOOST_TEST((view(a).status == agent_status::online));
  BOOST_TEST(idx.least_loaded(pool)->tag == 1u);
}

BOOST_FIXTURE_TEST_CASE(paused_and_offline_agents_are_never_selected, fixture) {
  auto a = add(4, 1);
  auto b = add(4, 2);
  BOOST_TEST((idx.set_status(a, agent_status::paused) == errc::ok));
  BOOST_TEST((idx.set_status(b, agent_status::offline) == errc::ok));
  BOOST_TEST((idx.least_loaded(pool).error == errc::no_capacity));
  BOOST_TEST((acquire(pool).error == errc::no_capacity));
  BOOST_TEST((view(a).status == agent_status::paused));
  BOOST_TEST((idx.set_status(b, agent_status::online) == errc::ok));
  BOOST_TEST(acquire(pool)->agent.slot == b.slot);
}

BOOST_FIXTURE_TEST_CASE(busy_cannot_be_set_directly, fixture) {
  auto a = add(4, 1);
  BOOST_TEST((idx.set_status(a, agent_status::busy) == errc::invalid_status));
  BOOST_TEST((view(a).status == agent_status::online));
}

BOOST_FIXTURE_TEST_CASE(set_capacity_changes_the_ratio_and_refuses_to_go_below_the_load, fixture) {
  auto a = add(4, 1);
  auto b = add(4, 2);
  BOOST_TEST((idx.set_load(a, 2) == errc::ok));
  BOOST_TEST((idx.set_load(b, 1) == errc::ok));
  BOOST_TEST(idx.least_loaded(pool)->tag == 2u);
  BOOST_TEST((idx.set_capacity(a, 100) == errc::ok));  // 2/100 < 1/4
  BOOST_TEST(idx.least_loaded(pool)->tag == 1u);
  BOOST_TEST((idx.set_capacity(a, 1) == errc::capacity_below_load));
  BOOST_TEST((idx.set_capacity(a, 0) == errc::invalid_capacity));
  BOOST_TEST(view(a).capacity == 100u);
}

BOOST_FIXTURE_TEST_CASE(a_removed_agent_leaves_selection_and_its_handle_goes_stale, fixture) {
  auto a = add(4, 1);
  auto l = acquire(pool);
  BOOST_TEST((idx.remove(a) == errc::ok));
  BOOST_TEST((idx.remove(a) == errc::unknown_agent));
  BOOST_TEST((idx.view(a).error == errc::unknown_agent));
  BOOST_TEST((idx.set_load(a, 1) == errc::unknown_agent));
  BOOST_TEST((idx.set_status(a, agent_status::paused) == errc::unknown_agent));
  BOOST_TEST((idx.set_capacity(a, 9) == errc::unknown_agent));
  BOOST_TEST((idx.least_loaded(pool).error == errc::no_capacity));
  // The slot is reused with a new generation; the old lease cannot touch it.
  auto b = add(4, 2);
  BOOST_TEST(b.slot == a.slot);
  BOOST_TEST(b.generation != a.generation);
  BOOST_TEST((idx.release(*l) == errc::unknown_agent));
  BOOST_TEST(view(b).leased == 0u);
  BOOST_TEST(idx.leases_held() == 0u);
}

BOOST_FIXTURE_TEST_CASE(leases_of_a_removed_agent_are_void_at_once_and_their_records_freed_by_the_next_reclaim, fixture) {
  auto a = add(4, 1);
  auto keep = add(4, 2);
  auto l1 = acquire(pool);  // no TTL: before, such leases were held forever
  auto l2 = acquire(pool, 1'000'000);
  BOOST_REQUIRE(l1);
  BOOST_REQUIRE(l2);
  BOOST_REQUIRE((l1->agent == a) != (l2->agent == a));  // one on each agent: ties rotate
  const lease on_a = l1->agent == a ? *l1 : *l2;
  const lease on_keep = l1->agent == a ? *l2 : *l1;
  BOOST_TEST(idx.leases_held() == 2u);
  BOOST_TEST((idx.remove(a) == errc::ok));
  BOOST_TEST(idx.leases_held() == 1u);  // at once, before any sweep
  BOOST_TEST(idx.reclaim_expired(0) == 1u);  // the record of the void lease is freed
  BOOST_TEST(idx.reclaim_expired(0) == 0u);
  BOOST_TEST((idx.release(on_a) == errc::lease_not_held));
  BOOST_TEST((idx.renew(on_a, 0, 5).error == errc::lease_not_held));
  BOOST_TEST(view(keep).leased == 1u);
  BOOST_TEST((idx.release(on_keep) == errc::ok));
  BOOST_TEST(idx.leases_held() == 0u);
}

BOOST_FIXTURE_TEST_CASE(release_or_renew_of_a_lease_whose_agent_was_removed_frees_its_record, fixture) {
  auto a = add(4, 1);
  auto released = acquire(pool);
  auto renewed = acquire(pool, 100);
  BOOST_REQUIRE(released);
  BOOST_REQUIRE(renewed);
  BOOST_TEST((idx.remove(a) == errc::ok));
  BOOST_TEST((idx.release(*released) == errc::unknown_agent));
  BOOST_TEST((idx.renew(*renewed, 0, 500).error == errc::unknown_agent));
  BOOST_TEST(idx.reclaim_expired(0) == 0u);  // nothing left to free
  BOOST_TEST((idx.release(*released) == errc::lease_not_held));
  BOOST_TEST((idx.release(*renewed) == errc::lease_not_held));
}

BOOST_FIXTURE_TEST_CASE(move_carries_an_agent_to_another_type_with_its_state_and_closes_the_old_slot, fixture) {
  auto a = add(4, 7);
  BOOST_TEST((idx.set_load(a, 2) == errc::ok));
  BOOST_TEST((idx.set_status(a, agent_status::paused) == errc::ok));
  BOOST_TEST((idx.set_stamp(a, 1234) == errc::ok));
  auto moved = idx.move(a, "coder", 3);
  BOOST_REQUIRE(moved);
  const auto coder = idx.find_pool("coder");
  BOOST_REQUIRE(coder.has_value());
  BOOST_TEST(moved->pool == *coder);
  const auto v = view(*moved);
  BOOST_TEST(v.tag == 7u);
  BOOST_TEST(v.stamp == 1234);
  BOOST_TEST(v.reported == 2u);
  BOOST_TEST(v.capacity == 3u);
  BOOST_TEST((v.status == agent_status::paused));
  BOOST_TEST((idx.view(a).error == errc::unknown_agent));
  std::size_t in_old_pool = 0;
  idx.scan(pool, [&](const agent_view&) { ++in_old_pool; });
  BOOST_TEST(in_old_pool == 0u);
  // To its own type, a move is a change of capacity.
  auto same = idx.move(*moved, "coder", 5);
  BOOST_REQUIRE(same);
  BOOST_TEST((*same == *moved));
  BOOST_TEST(view(*moved).capacity == 5u);
}

BOOST_FIXTURE_TEST_CASE(a_label_is_copied_back_whole_at_every_size_up_to_the_maximum_and_a_longer_one_is_not_kept,
                        fixture) {
  auto a = add(4, 1);
  BOOST_TEST(!idx.label(a).has_value());  // none until set
  for (std::size_t size : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9}, std::size_t{36},
                           agent_label::max_size - 1, agent_label::max_size}) {
    std::string text;
    for (std::size_t i = 0; i < size; ++i)
      text.push_back(static_cast<char>('!' + (i * 7 + size) % 90));
    BOOST_TEST((idx.set_label(a, text) == errc::ok));
    const auto got = idx.label(a);
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(std::string{got->view()} == text);
  }
  // One byte past the maximum is not kept, and the label it replaces is gone.
  BOOST_TEST((idx.set_label(a, std::string(agent_label::max_size + 1, 'x')) == errc::ok));
  BOOST_TEST(!idx.label(a).has_value());
  BOOST_TEST((idx.set_label(a, "back") == errc::ok));
  BOOST_TEST(std::string{idx.label(a)->view()} == "back");
  BOOST_TEST((idx.set_label(a, "") == errc::ok));
  BOOST_TEST(!idx.label(a).has_value());
  // Bytes of every value, NUL included, come back as they went in.
  std::string binary;
  for (int i = 0; i < 56; ++i)
    binary.push_back(static_cast<char>(i * 37 % 256));
  BOOST_TEST((idx.set_label(a, binary) == errc::ok));
  BOOST_TEST(std::string{idx.label(a)->view()} == binary);
}

BOOST_FIXTURE_TEST_CASE(a_label_belongs_to_one_agent_of_a_slot_and_a_handle_that_is_not_its_own_gets_none, fixture) {
  auto a = add(4, 1);
  BOOST_TEST((idx.set_label(a, "agent-a") == errc::ok));
  BOOST_TEST((idx.remove(a) == errc::ok));
  BOOST_TEST(!idx.label(a).has_value());  // removed: its label is not answered
  BOOST_TEST((idx.set_label(a, "late") == errc::unknown_agent));
  auto b = add(4, 2);
  BOOST_REQUIRE(b.slot == a.slot);
  BOOST_TEST(!idx.label(b).has_value());  // the slot's next agent starts with none
  BOOST_TEST(!idx.label(a).has_value());
  BOOST_TEST((idx.set_label(b, "agent-b") == errc::ok));
  BOOST_TEST(std::string{idx.label(b)->view()} == "agent-b");
  BOOST_TEST(!idx.label(a).has_value());  // the old handle never reads the new agent's
  BOOST_TEST((idx.set_label(a, "late") == errc::unknown_agent));
  BOOST_TEST(std::string{idx.label(b)->view()} == "agent-b");
  // Handles into nothing.
  BOOST_TEST(!idx.label({pool, b.slot + 1, 1}).has_value());
  BOOST_TEST(!idx.label({pool + 7, 0, 1}).has_value());
  BOOST_TEST((idx.set_label({pool, b.slot + 1, 1}, "x") == errc::unknown_agent));
  BOOST_TEST((idx.set_label({pool + 7, 0, 1}, "x") == errc::unknown_agent));
}

BOOST_FIXTURE_TEST_CASE(labels_on_both_sides_of_a_chunk_boundary_stay_apart, fixture) {
  // Labels live in chunks of 4 096 slots, each made by its first label:
  // chunks 0 (its last slot), 1 and 4 are labelled here, 2 and 3 never
  // made, so slot 16 383 reads a chunk that does not exist.
  std::vector<agent_ref> refs;
  for (std::uint32_t i = 0; i < 4 * 4096 + 2; ++i)
    refs.push_back(add(1, i));
  for (std::uint32_t i : {4095u, 4096u, 4097u, 4 * 4096u, 4 * 4096u + 1})
    BOOST_TEST((idx.set_label(refs[i], "agent-" + std::to_string(i)) == errc::ok));
  BOOST_TEST(!idx.label(refs[0]).has_value());
  BOOST_TEST(!idx.label(refs[4094]).has_value());
  for (std::uint32_t i : {4095u, 4096u, 4097u, 4 * 4096u, 4 * 4096u + 1})
    BOOST_TEST(std::string{idx.label(refs[i])->view()} == "agent-" + std::to_string(i));
  BOOST_TEST(!idx.label(refs[4098]).has_value());
  BOOST_TEST(!idx.label(refs[4 * 4096 - 1]).has_value());
}

BOOST_FIXTURE_TEST_CASE(a_move_to_another_type_leaves_the_label_behind_cleared_and_one_to_the_same_type_keeps_it,
                        fixture) {
  auto a = add(4, 7);
  BOOST_TEST((idx.set_label(a, "agent-7") == errc::ok));
  // To its own type a move changes the capacity only: the label stays.
  auto same = idx.move(a, "planner", 5);
  BOOST_REQUIRE(same);
  BOOST_TEST(std::string{idx.label(*same)->view()} == "agent-7");
  // Refused before the slot is closed (a lease is held): the label stays.
  auto l = acquire(pool);
  BOOST_REQUIRE(l);
  BOOST_TEST((idx.move(a, "coder", 3).error == errc::agent_has_leases));
  BOOST_TEST(std::string{idx.label(a)->view()} == "agent-7");
  BOOST_TEST((idx.release(*l) == errc::ok));
  // Moved: neither handle has it; the caller labels the new slot.
  auto moved = idx.move(a, "coder", 3);
  BOOST_REQUIRE(moved);
  BOOST_TEST(!idx.label(*moved).has_value());
  BOOST_TEST(!idx.label(a).has_value());
  BOOST_TEST((idx.set_label(a, "late") == errc::unknown_agent));
  BOOST_TEST((idx.set_label(*moved, "agent-7") == errc::ok));
  BOOST_TEST(std::string{idx.label(*moved)->view()} == "agent-7");
  // The freed slot's next agent does not inherit the old one's.
  auto b = add(4, 8);
  BOOST_REQUIRE(b.slot == a.slot);
  BOOST_TEST(!idx.label(b).has_value());
}

BOOST_FIXTURE_TEST_CASE(a_refused_move_changes_nothing_and_makes_no_pool, fixture) {
  auto a = add(4, 1);
  auto l = acquire(pool);
  BOOST_REQUIRE(l);
  const auto pools = idx.pool_count();
  BOOST_TEST((idx.move(a, "coder", 4).error == errc::agent_has_leases));
  BOOST_TEST(idx.pool_count() == pools);
  BOOST_TEST(!idx.find_pool("coder").has_value());
  BOOST_TEST(view(a).leased == 1u);
  BOOST_TEST((idx.release(*l) == errc::ok));
  BOOST_TEST((idx.set_load(a, 3) == errc::ok));
  BOOST_TEST((idx.move(a, "coder", 2).error == errc::capacity_below_load));
  BOOST_TEST((idx.move(a, "coder", 0).error == errc::invalid_capacity));
  BOOST_TEST(idx.pool_count() == pools);
  BOOST_TEST(view(a).reported == 3u);
  BOOST_TEST(acquire(pool)->agent.slot == a.slot);  // still selected where it was
}

BOOST_AUTO_TEST_CASE(a_move_refused_for_want_of_a_type_reopens_the_old_slot_as_it_was) {
  priority_index idx{2};
  const auto a = idx.insert("planner", 4, 1).value;
  BOOST_TEST(bool(idx.insert("coder", 4, 2)));
  BOOST_TEST((idx.set_label(a, "agent-1") == errc::ok));
  BOOST_TEST((idx.move(a, "writer", 4).error == errc::too_many_types));
  const auto v = idx.view(a);
  BOOST_REQUIRE(v);
  BOOST_TEST(v.value.capacity == 4u);
  BOOST_TEST((idx.least_loaded(a.pool)->ref == a));
  // Refused after closing the slot: reopened without its label, which its
  // owner sets again (the engine, once it checked the agent is registered).
  BOOST_TEST(!idx.label(a).has_value());
  BOOST_TEST((idx.set_label(a, "agent-1") == errc::ok));
  BOOST_TEST(std::string{idx.label(a)->view()} == "agent-1");
}

BOOST_AUTO_TEST_CASE(a_refused_insert_makes_no_pool_and_the_type_limit_counts_only_successes) {
  priority_index idx{2};
  BOOST_TEST(idx.max_types() == 2u);
  BOOST_TEST((idx.insert("planner", 0, 1).error == errc::invalid_capacity));
  BOOST_TEST((idx.insert("coder", 5, 1, agent_status::busy).error == errc::invalid_status));
  BOOST_TEST(idx.pool_count() == 0u);
  BOOST_TEST(bool(idx.insert("planner", 1, 1)));
  BOOST_TEST(bool(idx.insert("coder", 1, 2)));
  BOOST_TEST((idx.insert("writer", 1, 3).error == errc::too_many_types));
  BOOST_TEST(idx.pool_count() == 2u);
  BOOST_CHECK_THROW(priority_index{0}, std::invalid_argument);
  BOOST_CHECK_THROW(priority_index{priority_index::max_types_limit + 1}, std::invalid_argument);
}

BOOST_FIXTURE_TEST_CASE(pools_are_independent, fixture) {
  const auto coder = *idx.pool("coder");
  idx.insert(coder, 1, 9);
  add(1, 1);
  BOOST_TEST(acquire(pool)->agent.pool == pool);
  BOOST_TEST((acquire(pool).error == errc::no_capacity));
  BOOST_TEST(acquire(coder)->agent.pool == coder);
  BOOST_TEST((acquire(99).error == errc::unknown_type));
}

BOOST_FIXTURE_TEST_CASE(scan_visits_every_live_agent_with_its_tag_and_stamp, fixture) {
  auto a = add(4, 1);
  auto b = add(4, 2);
  auto c = add(4, 3);
  BOOST_TEST((idx.set_stamp(a, 100) == errc::ok));
  BOOST_TEST((idx.set_stamp(b, 200) == errc::ok));
  BOOST_TEST((idx.remove(c) == errc::ok));
  BOOST_TEST((idx.set_stamp(c, 300) == errc::unknown_agent));
  BOOST_TEST((idx.set_status(b, agent_status::paused) == errc::ok));
  std::map<std::uint64_t, std::int64_t> seen;
  std::map<std::uint64_t, agent_status> status;
  idx.scan(pool, [&](const agent_view& v) {
    seen[v.tag] = v.stamp;
    status[v.tag] = v.status;
  });
  BOOST_TEST((seen == std::map<std::uint64_t, std::int64_t>{{1, 100}, {2, 200}}));
  BOOST_TEST((status[2] == agent_status::paused));
  BOOST_TEST(view(a).stamp == 100);
  BOOST_TEST(idx.pool_count() == 1u);
  // A reused slot starts with a fresh stamp.
  auto d = add(4, 4);
  BOOST_TEST(d.slot == c.slot);
  BOOST_TEST(view(d).stamp == 0);
}

BOOST_FIXTURE_TEST_CASE(errors_have_readable_names, fixture) {
  BOOST_TEST(std::string{to_string(errc::no_capacity)} == "no_capacity");
  BOOST_TEST(std::string{to_string(agent_status::busy)} == "busy");
}

BOOST_AUTO_TEST_SUITE_END()
