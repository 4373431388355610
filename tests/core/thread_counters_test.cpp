#include <boost/test/unit_test.hpp>

#include <thread>
#include <vector>

#include "core/thread_counters.hpp"

using agentreg::core::thread_counters;

BOOST_AUTO_TEST_SUITE(thread_counters_unit)

BOOST_AUTO_TEST_CASE(totals_sum_every_threads_counts_and_no_count_is_lost) {
  thread_counters c{3 * 4096};
  constexpr int threads = 4, per_thread = 100000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&c, t] {
      for (int i = 0; i < per_thread; ++i) {
        c.add(0);
        c.add(3 * 4096 - 1);  // the last key: its group is the table's last
        c.add(100 + static_cast<std::size_t>(t));
      }
    });
  for (auto& t : ts)
    t.join();
  BOOST_TEST(c.total(0) == std::uint64_t{threads} * per_thread);
  BOOST_TEST(c.total(3 * 4096 - 1) == std::uint64_t{threads} * per_thread);
  for (int t = 0; t < threads; ++t)
    BOOST_TEST(c.total(100 + static_cast<std::size_t>(t)) == std::uint64_t{per_thread});
  BOOST_TEST(c.total(1) == 0u);
  BOOST_TEST(c.total(5000) == 0u);  // a group no thread counted in
}

BOOST_AUTO_TEST_CASE(one_thread_counting_for_two_instances_keeps_them_apart) {
  // The thread's cached block belongs to one instance: switching must not
  // count into the other's.
  thread_counters a{64}, b{64};
  for (int i = 0; i < 10; ++i) {
    a.add(1);
    b.add(1);
    b.add(2);
  }
  BOOST_TEST(a.total(1) == 10u);
  BOOST_TEST(a.total(2) == 0u);
  BOOST_TEST(b.total(1) == 10u);
  BOOST_TEST(b.total(2) == 10u);
}

BOOST_AUTO_TEST_CASE(a_later_instance_at_the_same_address_starts_from_zero) {
  // The cache is keyed by instance, not address: a registry made where an
  // earlier one was must not inherit the earlier one's cells.
  alignas(thread_counters) unsigned char storage[sizeof(thread_counters)];
  auto* first = new (storage) thread_counters{64};
  first->add(7);
  first->~thread_counters();
  auto* second = new (storage) thread_counters{64};
  second->add(8);
  BOOST_TEST(second->total(7) == 0u);
  BOOST_TEST(second->total(8) == 1u);
  second->~thread_counters();
}

BOOST_AUTO_TEST_CASE(a_total_read_while_threads_count_never_goes_backwards) {
  thread_counters c{64};
  std::atomic<bool> stop{false};
  std::thread writer{[&] {
    while (!stop.load(std::memory_order_relaxed))
      c.add(5);
  }};
  std::uint64_t last = 0;
  for (int i = 0; i < 10000; ++i) {
    const auto now = c.total(5);
    BOOST_TEST_REQUIRE(now >= last);
    last = now;
  }
  stop.store(true, std::memory_order_relaxed);
  writer.join();
}

BOOST_AUTO_TEST_SUITE_END()
