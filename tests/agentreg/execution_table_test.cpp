// The table of running executions on its own: where make_id() puts an
// execution, and that ids made anywhere else are kept and found as well.

#include <boost/test/unit_test.hpp>

#include <iterator>
#include <latch>
#include <set>
#include <thread>
#include <vector>

#include "actors/execution_table.hpp"
#include "index/stripe.hpp"

using namespace agentreg;
using actors::execution_table;

namespace {

actors::running_execution running(std::string task) {
  actors::running_execution e;
  e.task_type = std::move(task);
  return e;
}

bool is_v4(const core::uuid& u) {
  return ((u.hi >> 12) & 0xF) == 4 && (u.lo >> 62) == 2;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(actors_executions)

BOOST_AUTO_TEST_CASE(ids_made_on_a_thread_are_random_version_4_uuids_kept_in_that_threads_four_shards) {
  constexpr std::size_t per_stripe = execution_table::shard_count / index::stripe::count;
  const index::stripe me = index::stripe::of_this_thread();
  BOOST_TEST_REQUIRE(me.owned);  // a sharer could claim another stripe in the loop
  execution_table table;
  std::set<std::uint64_t> his, los;
  for (int i = 0; i < 1000; ++i) {
    const core::uuid u = execution_table::make_id();
    BOOST_TEST(is_v4(u));
    his.insert(u.hi);
    los.insert(u.lo >> 6);
    table.insert(u, running("t"));
  }
  // Random, not a counter: no two share either half, and consecutive ids
  // are far apart (a counter's would differ by one).
  BOOST_TEST(his.size() == 1000u);
  BOOST_TEST(los.size() == 1000u);
  BOOST_TEST(*std::next(his.begin()) - *his.begin() > 1000u);
  // Kept in this thread's four shards, each used, and in no other.
  for (std::size_t s = 0; s < execution_table::shard_count; ++s) {
    const bool mine = s / per_stripe == me.id;
    BOOST_TEST((table.running_in(s) > 0) == mine, "shard " << s << " holds " << table.running_in(s));
  }
  BOOST_TEST(table.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(two_threads_that_own_stripes_keep_their_executions_in_disjoint_shards) {
  execution_table table;
  std::latch both_own{2};
  bool owned[2] = {false, false};
  std::vector<std::thread> pair;
  for (int t = 0; t < 2; ++t)
    pair.emplace_back([&, t] {
      owned[t] = index::stripe::of_this_thread().owned;
      both_own.arrive_and_wait();  // neither gives its stripe back before the other has one
      for (int i = 0; i < 100; ++i)
        table.insert(execution_table::make_id(), running(t == 0 ? "first" : "second"));
    });
  for (auto& t : pair)
    t.join();
  BOOST_TEST_REQUIRE((owned[0] && owned[1]));
  std::size_t used = 0;
  for (std::size_t s = 0; s < execution_table::shard_count; ++s)
    used += table.running_in(s) > 0 ? 1 : 0;
  BOOST_TEST(used == 2 * execution_table::shard_count / index::stripe::count);
  BOOST_TEST(table.size() == 200u);
}

BOOST_AUTO_TEST_CASE(an_execution_is_taken_once_whichever_thread_made_its_id_and_ids_made_elsewhere_work_too) {
  execution_table table;
  // One made here, one on another thread, and a recovered one (any UUID,
  // here one in every shard by its low bits).
  const core::uuid here = execution_table::make_id();
  core::uuid there;
  std::thread{[&] { there = execution_table::make_id(); }}.join();
  std::vector<core::uuid> recovered;
  for (std::uint64_t s = 0; s < execution_table::shard_count; ++s)
    recovered.push_back(core::uuid{0x1234000000004000ull | s << 16, 0x8000000000000000ull | s});
  table.insert(here, running("here"));
  table.insert(there, running("there"));
  for (const auto& r : recovered)
    table.insert(r, running("recovered"));
  BOOST_TEST(table.size() == 2 + recovered.size());
  std::thread{[&] {
    const auto got = table.take(here);  // completed on another thread than its start
    BOOST_TEST(got.has_value());
    BOOST_TEST(got->task_type == "here");
  }}.join();
  BOOST_TEST(table.take(there)->task_type == "there");
  for (const auto& r : recovered)
    BOOST_TEST(table.take(r)->task_type == "recovered");
  BOOST_TEST(table.size() == 0u);
  BOOST_TEST((table.take(here).error().code == core::errc::already_completed));
  BOOST_TEST((table.take(recovered.back()).error().code == core::errc::already_completed));
  BOOST_TEST((table.take(execution_table::make_id()).error().code == core::errc::unknown_execution));
}

BOOST_AUTO_TEST_SUITE_END()
