#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "core/random.hpp"

using namespace agentreg::core;

BOOST_AUTO_TEST_SUITE(random_unit)

BOOST_AUTO_TEST_CASE(random_u64_values_are_distinct_across_refills_and_threads) {
  // 4 threads x 5000 draws: each thread refills its 512-value buffer ~10
  // times. Threads that shared a buffer, or buffers that started alike,
  // would repeat values.
  constexpr int threads = 4, draws = 5000;
  std::vector<std::vector<std::uint64_t>> drawn(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&drawn, t] {
      for (int i = 0; i < draws; ++i)
        drawn[t].push_back(random_u64());
    });
  for (auto& w : workers)
    w.join();
  std::set<std::uint64_t> all;
  for (const auto& d : drawn)
    all.insert(d.begin(), d.end());
  BOOST_TEST(all.size() == std::size_t{threads * draws});
}

BOOST_AUTO_TEST_CASE(every_bit_of_random_u64_is_set_about_half_the_time) {
  // 20 000 draws: a fair bit is set 10 000 +- 71 (one standard deviation)
  // times; the bounds are 14 deviations wide, so only a stuck or strongly
  // biased bit (a truncated or shifted value) fails.
  constexpr int draws = 20'000;
  std::array<int, 64> ones{};
  for (int i = 0; i < draws; ++i) {
    const std::uint64_t v = random_u64();
    for (int b = 0; b < 64; ++b)
      ones[b] += static_cast<int>((v >> b) & 1);
  }
  for (int b = 0; b < 64; ++b)
    BOOST_TEST((ones[b] > draws * 45 / 100 && ones[b] < draws * 55 / 100), "bit " << b << ": " << ones[b]);
}

BOOST_AUTO_TEST_CASE(random_bytes_fills_every_byte_for_sizes_below_and_above_the_buffer) {
  for (const std::size_t size : {1u, 7u, 8u, 9u, 4095u, 4096u, 10'000u}) {
    // A fill of a buffer over a guard pattern: every byte must have been
    // written (a random 16-byte window equals the pattern with probability
    // 2^-128, so windows are compared, not bytes), and later fills must
    // differ from it. Two fills of one byte are equal with probability
    // 1/256 (CI met it), so up to 8 fills are drawn: all 8 equal to the
    // first has probability 2^-56, while a fill that repeats itself, or
    // writes nothing, fails every time.
    std::vector<unsigned char> a(size + 16, 0xA5), b(size + 16, 0xA5);
    random_bytes(a.data(), size);
    bool differs = false;
    for (int fill = 0; fill < 8 && !differs; ++fill) {
      random_bytes(b.data(), size);
      differs = std::memcmp(a.data(), b.data(), size) != 0;
    }
    BOOST_TEST(differs, "size " << size);
    const std::vector<unsigned char> guard(16, 0xA5);
    BOOST_TEST(std::memcmp(a.data() + size, guard.data(), 16) == 0, "wrote past " << size);
    for (std::size_t at = 0; at + 16 <= size; at += 16)
      BOOST_TEST(std::memcmp(a.data() + at, guard.data(), 16) != 0, "size " << size << " at " << at);
  }
}

BOOST_AUTO_TEST_CASE(a_forked_child_does_not_hand_out_its_parents_buffered_values) {
  random_u64();  // the buffer now holds 511 values the parent will hand out
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  const pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    const std::uint64_t v = random_u64();
    const bool sent = write(fds[1], &v, sizeof v) == static_cast<ssize_t>(sizeof v);
    _exit(sent ? 0 : 1);
  }
  close(fds[1]);
  std::uint64_t from_child = 0;
  const bool got = read(fds[0], &from_child, sizeof from_child) == static_cast<ssize_t>(sizeof from_child);
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  BOOST_REQUIRE(got);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  BOOST_TEST(from_child != random_u64());
}

BOOST_AUTO_TEST_SUITE_END()
