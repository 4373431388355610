#include <boost/test/unit_test.hpp>

#include <latch>
#include <set>
#include <thread>
#include <vector>

#include "index/stripe.hpp"

using agentreg::index::stripe;

namespace {

// Runs `n` threads that each claim their stripe, then wait until all have
// claimed (so that none gives its stripe back early), and answers what
// each was given.
std::vector<stripe> claims_of_threads_alive_at_once(unsigned n) {
  std::vector<stripe> given(n);
  std::latch all_claimed{n};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < n; ++t)
    threads.emplace_back([&, t] {
      given[t] = stripe::of_this_thread();
      all_claimed.arrive_and_wait();
    });
  for (auto& t : threads)
    t.join();
  return given;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stripe_unit)

BOOST_AUTO_TEST_CASE(the_first_threads_alive_at_once_own_distinct_stripes_and_the_rest_share) {
  const std::uint32_t owned_elsewhere = stripe::owned_count();  // this test's own thread, maybe
  const auto given = claims_of_threads_alive_at_once(stripe::count + 5);
  std::set<std::uint32_t> owned_ids;
  unsigned owned = 0, shared = 0;
  for (const auto& s : given) {
    BOOST_TEST(s.id < stripe::count);
    if (s.owned) {
      ++owned;
      owned_ids.insert(s.id);
    } else {
      ++shared;
    }
  }
  BOOST_TEST(owned == stripe::count - owned_elsewhere);
  BOOST_TEST(owned_ids.size() == owned);  // no stripe owned twice
  BOOST_TEST(shared == 5 + owned_elsewhere);
  BOOST_TEST(stripe::owned_count() == owned_elsewhere);  // all given back at exit
}

BOOST_AUTO_TEST_CASE(a_thread_keeps_its_stripe_and_gives_it_back_at_exit_to_the_next_thread) {
  const std::uint32_t before = stripe::owned_count();
  stripe first{}, again{}, next{};
  std::uint32_t while_alive = 0;
  std::thread{[&] {
    first = stripe::of_this_thread();
    again = stripe::of_this_thread();
    while_alive = stripe::owned_count();
  }}.join();
  BOOST_TEST(first.owned);
  BOOST_TEST(again.id == first.id);
  BOOST_TEST(again.owned);
  BOOST_TEST(while_alive == before + 1);
  BOOST_TEST(stripe::owned_count() == before);
  // The lowest free stripe is claimed first: the one just given back.
  std::thread{[&] { next = stripe::of_this_thread(); }}.join();
  BOOST_TEST(next.owned);
  BOOST_TEST(next.id == first.id);
}

BOOST_AUTO_TEST_CASE(a_thread_that_shares_a_stripe_claims_one_once_one_is_free) {
  const std::uint32_t free_stripes = stripe::count - stripe::owned_count();
  std::latch all_claimed{free_stripes}, one_may_leave{1}, others_may_leave{1};
  std::vector<std::thread> owners;
  for (std::uint32_t t = 0; t < free_stripes; ++t)
    owners.emplace_back([&, t] {
      (void)stripe::of_this_thread();
      all_claimed.count_down();
      (t == 0 ? one_may_leave : others_may_leave).wait();
    });
  all_claimed.wait();
  stripe before{}, after{};
  std::latch looked{1}, look_again{1};
  std::thread sharer{[&] {
    before = stripe::of_this_thread();
    looked.count_down();
    look_again.wait();
    after = stripe::of_this_thread();
  }};
  looked.wait();
  one_may_leave.count_down();
  owners[0].join();  // its stripe is given back
  look_again.count_down();
  sharer.join();
  others_may_leave.count_down();
  for (std::size_t t = 1; t < owners.size(); ++t)
    owners[t].join();
  BOOST_TEST(!before.owned);
  BOOST_TEST(after.owned);
}

namespace {
// Made before the thread claims its stripe, so destroyed after the stripe
// is given back: what it then sees is what a lease released from a
// thread_local destructor would use.
struct probe_at_exit {
  stripe* seen = nullptr;
  ~probe_at_exit() {
    if (seen != nullptr)
      *seen = stripe::of_this_thread();
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_thread_local_destroyed_after_the_give_back_sees_the_same_stripe_shared) {
  const std::uint32_t before = stripe::owned_count();
  stripe claimed{}, at_exit{};
  std::thread{[&] {
    thread_local probe_at_exit probe;
    probe.seen = &at_exit;
    claimed = stripe::of_this_thread();
  }}.join();
  BOOST_TEST(claimed.owned);
  BOOST_TEST(!at_exit.owned);
  BOOST_TEST(at_exit.id == claimed.id);
  BOOST_TEST(stripe::owned_count() == before);
}

BOOST_AUTO_TEST_SUITE_END()
