// The engine's scheduler (actors/scheduler.hpp): CAF's coordinator whose
// clock asks CAF's clock thread to cancel timeouts only for actors that set
// one. Every kind of timeout still fires, and cleanups are passed on or
// skipped exactly as the actors' timeouts say, under both policies.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/scheduler.hpp"
#include "tests/agentreg/eventually.hpp"

using namespace agentreg;
using agentreg::test::eventually;
using namespace std::chrono_literals;

namespace {

using fired_atom = caf::atom_constant<caf::atom("fired")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;

struct engine_system {
  explicit engine_system(actors::scheduling policy) : system{configured(policy)} {}

  caf::actor_system_config& configured(actors::scheduling policy) {
    actors::use_engine_scheduler(cfg, policy);
    cfg.set("scheduler.max-threads", 2);
    return cfg;
  }

  actors::clock_counters counters() { return actors::engine_clock_counters(system); }

  caf::actor_system_config cfg;
  caf::actor_system system;
};

// Sends `fired` to `observer` when its receive timeout (20 ms) expires,
// once: then it waits without a timeout.
caf::behavior timed_waiter(caf::event_based_actor* self, caf::actor observer) {
  return {
      [](ping_atom) {},
      caf::after(20ms) >>
          [self, observer] {
            self->send(observer, fired_atom::value);
            self->become([](ping_atom) {});
          },
  };
}

// Every actor here is spawned with an argument: CAF 0.17's init_fun_factory
// binds a reference to a null tuple for a function actor spawned without
// one (reported by UBSan inside CAF's header).
using tag = int;

// Never answers a ping: it keeps the promise and delivers nothing.
struct silent_state {
  std::vector<caf::response_promise> kept;
};
caf::behavior silent(caf::stateful_actor<silent_state>* self, tag) {
  return {[self](ping_atom) { self->state.kept.push_back(self->make_response_promise()); }};
}

const actors::scheduling policies[] = {actors::scheduling::sharing, actors::scheduling::stealing};

}  // namespace

BOOST_AUTO_TEST_SUITE(actors_scheduler)

BOOST_AUTO_TEST_CASE(a_system_without_it_reports_it_missing) {
  caf::actor_system_config cfg;
  caf::actor_system plain{cfg};
  BOOST_TEST(!actors::engine_clock_counters(plain).installed);
}

BOOST_AUTO_TEST_CASE(the_policy_and_the_thread_count_are_cafs) {
  {
    engine_system e{actors::scheduling::sharing};
    auto* c = dynamic_cast<caf::scheduler::coordinator<caf::policy::work_sharing>*>(&e.system.scheduler());
    BOOST_TEST_REQUIRE(c != nullptr);
    BOOST_TEST(c->num_workers() == 2u);
  }
  {
    engine_system e{actors::scheduling::stealing};
    auto* c = dynamic_cast<caf::scheduler::coordinator<caf::policy::work_stealing>*>(&e.system.scheduler());
    BOOST_TEST_REQUIRE(c != nullptr);
    BOOST_TEST(c->num_workers() == 2u);
  }
}

BOOST_AUTO_TEST_CASE(receive_request_and_delayed_timeouts_still_fire) {
  for (const auto policy : policies) {
    engine_system e{policy};
    BOOST_TEST(e.counters().installed);
    caf::scoped_actor self{e.system};

    auto waiter = e.system.spawn(timed_waiter, caf::actor{self});
    bool fired = false;
    self->receive([&](fired_atom) { fired = true; }, caf::after(10s) >> [] {});
    BOOST_TEST(fired, "a receive timeout (after) fired");

    auto quiet = e.system.spawn(silent, tag{0});
    std::optional<caf::error> answer;
    self->request(quiet, 30ms, ping_atom::value).receive([](ping_atom) {}, [&](caf::error& err) { answer = err; });
    BOOST_TEST((answer && *answer == caf::sec::request_timeout), "an unanswered request timed out");

    self->delayed_send(self, 10ms, ping_atom::value);
    bool delivered = false;
    self->receive([&](ping_atom) { delivered = true; }, caf::after(10s) >> [] {});
    BOOST_TEST(delivered, "a delayed message arrived");

    self->send_exit(waiter, caf::exit_reason::user_shutdown);
    self->send_exit(quiet, caf::exit_reason::user_shutdown);
    self->wait_for(waiter, quiet);
  }
}

BOOST_AUTO_TEST_CASE(only_actors_that_set_a_timeout_have_their_cleanup_passed_on) {
  for (const auto policy : policies) {
    engine_system e{policy};
    caf::scoped_actor self{e.system};
    const auto start = e.counters();

    // 1 000 actors that run (each handles a message) but set no timeout.
    constexpr std::uint64_t plain = 1000;
    {
      std::vector<caf::actor> actors;
      for (std::uint64_t i = 0; i < plain; ++i)
        actors.push_back(
            e.system.spawn([](caf::event_based_actor*, tag) -> caf::behavior { return {[](ping_atom) {}}; }, tag{0}));
      for (const auto& a : actors)
        self->send(a, ping_atom::value);
      for (const auto& a : actors)
        self->send_exit(a, caf::exit_reason::user_shutdown);
      self->wait_for(actors);
    }
    // An actor's cleanup tells its waiters it is done before it cancels its
    // timeouts (caf::local_actor::cleanup): the counters catch up just after
    // wait_for returns.
    BOOST_TEST(eventually([&] { return e.counters().cancellations_skipped - start.cancellations_skipped >= plain; }));
    const auto after_plain = e.counters();
    BOOST_TEST(after_plain.cancellations_skipped - start.cancellations_skipped == plain);
    BOOST_TEST(after_plain.cancellations_passed == start.cancellations_passed);
    BOOST_TEST(after_plain.timed_actors == start.timed_actors);

    // One that set a receive timeout: noted while it lives, passed on (and
    // forgotten) at its cleanup.
    auto waiter = e.system.spawn(timed_waiter, caf::actor{self});
    self->receive([](fired_atom) {}, caf::after(10s) >> [] { BOOST_FAIL("the receive timeout never fired"); });
    BOOST_TEST(e.counters().timed_actors == start.timed_actors + 1);
    self->send_exit(waiter, caf::exit_reason::user_shutdown);
    self->wait_for(waiter);
    BOOST_TEST(eventually([&] { return e.counters().cancellations_passed > start.cancellations_passed; }));
    const auto after_timed = e.counters();
    BOOST_TEST(after_timed.cancellations_passed == start.cancellations_passed + 1);
    BOOST_TEST(after_timed.timed_actors == start.timed_actors);
    BOOST_TEST(after_timed.cancellations_skipped == after_plain.cancellations_skipped);
  }
}

// The effect, not the counters: CAF's clock holds a strong reference to an
// actor with a pending timeout until the timeout is cancelled or due. An
// actor killed with an hour left on its receive timeout is freed at once
// only if its cancellation really reached CAF's clock.
BOOST_AUTO_TEST_CASE(a_killed_actor_with_a_pending_timeout_is_freed) {
  for (const auto policy : policies) {
    engine_system e{policy};
    caf::scoped_actor self{e.system};
    caf::weak_actor_ptr weak;
    {
      auto sleeper = e.system.spawn(
          [](caf::event_based_actor*, tag) -> caf::behavior {
            return {[](ping_atom) {}, caf::after(std::chrono::seconds{3600}) >> [] {}};
          },
          tag{0});
      self->send(sleeper, ping_atom::value);  // it runs: its timeout is set
      weak = caf::actor_cast<caf::weak_actor_ptr>(sleeper);
      self->send_exit(sleeper, caf::exit_reason::user_shutdown);
      self->wait_for(sleeper);
    }
    BOOST_TEST(eventually([&] { return weak.lock() == nullptr; }), "the actor was freed");
  }
}

BOOST_AUTO_TEST_SUITE_END()
