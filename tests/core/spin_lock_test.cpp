#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "core/spin_lock.hpp"

using agentreg::core::spin_lock;

BOOST_AUTO_TEST_SUITE(spin_lock_stress)

BOOST_AUTO_TEST_CASE(try_lock_fails_while_held_and_succeeds_after_unlock) {
  spin_lock l;
  BOOST_TEST(l.try_lock());
  BOOST_TEST(!l.try_lock());
  l.unlock();
  BOOST_TEST(l.try_lock());
  l.unlock();
}

// More threads than CPUs, so that holders are preempted while waiters spin:
// a plain counter, two words of it updated under the lock, comes out exact
// and never torn (and ThreadSanitizer sees the lock order every access).
BOOST_AUTO_TEST_CASE(threads_incrementing_under_the_lock_lose_no_update) {
  constexpr int threads = 6;
  constexpr int per_thread = 100'000;
  spin_lock l;
  std::uint64_t a = 0, b = 0, torn = 0;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        std::lock_guard guard{l};
        if (a != b)
          ++torn;
        ++a;
        ++b;
      }
    });
  for (auto& w : workers)
    w.join();
  BOOST_TEST(a == std::uint64_t{threads} * per_thread);
  BOOST_TEST(b == a);
  BOOST_TEST(torn == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
