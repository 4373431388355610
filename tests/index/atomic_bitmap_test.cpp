#include <boost/test/unit_test.hpp>

#include <atomic>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "index/atomic_bitmap.hpp"

using agentreg::index::atomic_bitmap;

BOOST_AUTO_TEST_SUITE(bitmap_unit)

BOOST_AUTO_TEST_CASE(an_empty_bitmap_finds_nothing) {
  atomic_bitmap bm{1u << 20};
  BOOST_TEST(bm.empty());
  BOOST_TEST(bm.find_first() == atomic_bitmap::none);
  BOOST_TEST(bm.find_from(12345) == atomic_bitmap::none);
}

// A bitmap asked for no bits has one block: nothing found, and no read
// past its summaries (ASan runs this).
BOOST_AUTO_TEST_CASE(a_bitmap_of_zero_bits_has_one_block_and_finds_nothing) {
  atomic_bitmap bm{0};
  BOOST_TEST(bm.size() == atomic_bitmap::block_bits);
  BOOST_TEST(bm.empty());
  BOOST_TEST(bm.find_next(0) == atomic_bitmap::none);
  bm.set(4095);
  BOOST_TEST(bm.find_first() == 4095u);
}

BOOST_AUTO_TEST_CASE(find_first_returns_the_lowest_set_bit_across_blocks) {
  atomic_bitmap bm{1u << 20};
  for (std::uint32_t i : {900000u, 70000u, 4097u, 4096u + 64u})
    bm.set(i);
  BOOST_TEST(bm.find_first() == 4097u);
  bm.clear(4097);
  BOOST_TEST(bm.find_first() == 4096u + 64u);
  bm.clear(4096 + 64);
  BOOST_TEST(bm.find_first() == 70000u);
  bm.clear(70000);
  bm.clear(900000);
  BOOST_TEST(bm.empty());
}

BOOST_AUTO_TEST_CASE(find_from_returns_the_next_set_bit_and_wraps_around) {
  atomic_bitmap bm{1u << 16};
  for (std::uint32_t i : {3u, 64u, 5000u, 65535u})
    bm.set(i);
  BOOST_TEST(bm.find_from(0) == 3u);
  BOOST_TEST(bm.find_from(4) == 64u);
  BOOST_TEST(bm.find_from(65) == 5000u);
  BOOST_TEST(bm.find_from(5001) == 65535u);
  BOOST_TEST(bm.find_from(65535) == 65535u);
  bm.clear(65535);
  BOOST_TEST(bm.find_from(5001) == 3u);  // wrapped
}

BOOST_AUTO_TEST_CASE(find_next_returns_the_next_set_bit_and_never_wraps) {
  atomic_bitmap bm{1u << 16};
  for (std::uint32_t i : {3u, 64u, 5000u})
    bm.set(i);
  BOOST_TEST(bm.find_next(0) == 3u);
  BOOST_TEST(bm.find_next(3) == 3u);
  BOOST_TEST(bm.find_next(4) == 64u);
  BOOST_TEST(bm.find_next(65) == 5000u);
  BOOST_TEST(bm.find_next(5001) == atomic_bitmap::none);  // find_from would wrap to 3
  BOOST_TEST(bm.find_next(1u << 16) == atomic_bitmap::none);
  BOOST_TEST(bm.find_from(5001) == 3u);
}

BOOST_AUTO_TEST_CASE(clearing_a_bit_that_is_not_set_changes_nothing) {
  atomic_bitmap bm{4096};
  bm.set(10);
  bm.clear(11);
  bm.clear(4000);
  BOOST_TEST(bm.test(10));
  BOOST_TEST(bm.find_first() == 10u);
}

BOOST_AUTO_TEST_CASE(concurrent_set_and_clear_leave_exactly_the_surviving_bits_reachable) {
  // Each thread owns the bits i with i % threads == t and toggles them; the
  // bits it leaves set must all be reachable through the summaries.
  constexpr std::uint32_t bits = 1u << 16, threads = 4;
  atomic_bitmap bm{bits};
  std::vector<std::set<std::uint32_t>> kept(threads);
  std::vector<std::thread> pool;
  for (std::uint32_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      std::uint64_t x = 88172645463325252ull + t;
      for (int op = 0; op < 200000; ++op) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        // Concentrate on a few words so that summary bits flip constantly.
        const std::uint32_t i = static_cast<std::uint32_t>(x % 512) * threads + t;
        if (kept[t].count(i)) {
          bm.clear(i);
          kept[t].erase(i);
        } else {
          bm.set(i);
          kept[t].insert(i);
        }
      }
    });
  for (auto& th : pool)
    th.join();
  std::set<std::uint32_t> expected, found;
  for (auto& k : kept)
    expected.insert(k.begin(), k.end());
  for (auto i = bm.find_first(); i != atomic_bitmap::none && !found.count(i); i = bm.find_from(i + 1))
    found.insert(i);
  BOOST_TEST(found == expected);
}

BOOST_AUTO_TEST_CASE(a_bit_set_again_while_readers_drop_stale_summaries_stays_reachable) {
  // set() of a bit that is set writes nothing (it only reads the summaries),
  // while readers drop the summaries of words they find empty. One thread
  // toggles bit `lone` (the only bit of its word, so its word's and its
  // block's summaries keep going stale), one sets it again and again (mostly
  // the read-only path), two readers search all the time. Whatever the
  // interleaving, once the last set() returned the bit is reachable.
  constexpr std::uint32_t lone = 5 * 4096 + 7 * 64 + 9;
  atomic_bitmap bm{1u << 16};
  std::atomic<bool> done{false};
  std::vector<std::thread> pool;
  pool.emplace_back([&] {
    for (int i = 0; i < 200000; ++i) {
      bm.clear(lone);
      bm.set(lone);
    }
  });
  pool.emplace_back([&] {
    for (int i = 0; i < 200000; ++i)
      bm.set(lone);
  });
  for (int r = 0; r < 2; ++r)
    pool.emplace_back([&] {
      // relaxed: a plain stop request; join() orders the rest.
      while (!done.load(std::memory_order_relaxed)) {
        (void)bm.find_first();
        (void)bm.find_next(lone - 100);
      }
    });
  pool[0].join();
  pool[1].join();
  done.store(true, std::memory_order_relaxed);
  for (std::size_t t = 2; t < pool.size(); ++t)
    pool[t].join();
  BOOST_TEST(bm.find_first() == lone);
  BOOST_TEST(bm.find_next(0) == lone);
  BOOST_TEST(bm.find_from(lone + 1) == lone);
}

BOOST_AUTO_TEST_SUITE_END()
