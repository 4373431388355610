// The supervisor against real agent actors: an actor that crashes is
// respawned for its agent, one stopped on purpose is not. The registry's
// facade offers no way to crash an actor, so these tests build the engine's
// parts themselves, as registry.cpp does.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/agent_actor.hpp"
#include "actors/changes.hpp"
#include "actors/context.hpp"
#include "actors/supervisor.hpp"
#include "core/clock.hpp"
#include "tests/agentreg/eventually.hpp"

using namespace agentreg;
using agentreg::test::eventually;
using namespace std::chrono_literals;

namespace {

struct engine {
  engine() : system{cfg.set("scheduler.max-threads", 2).set("scheduler.policy", caf::atom("sharing"))} {
    core::registry_config c;
    c.auto_sweep = false;
    ctx = std::make_unique<actors::engine_context>(c, std::make_shared<core::system_clock>(),
                                                   core::price_table::builtin());
    ctx->changes = std::make_unique<core::change_log>(core::change_log::options{}, actors::change_resolver(*ctx));
    ctx->supervisor = actors::spawn_supervisor(system, *ctx);
  }
  ~engine() {
    // As the registry stops: nothing is respawned, every actor goes.
    ctx->stopping.store(true, std::memory_order_release);
    caf::anon_send_exit(ctx->supervisor, caf::exit_reason::user_shutdown);
    ctx->agents.for_each([](const std::shared_ptr<actors::agent_record>& rec) { rec->set_actor({}); });
    system.await_all_actors_done();
  }

  // An agent as registry::impl::add_agent makes one.
  std::shared_ptr<actors::agent_record> add(const std::string& id) {
    auto rec = std::make_shared<actors::agent_record>(id, ctx->next_serial.fetch_add(1), ctx->clock->now());
    auto ref = ctx->index.insert("worker", 4, rec->serial, index::agent_status::online);
    BOOST_REQUIRE(ref.error == index::errc::ok);
    core::agent_spec spec{id, "worker", "test", "model"};
    spec.max_capacity = 4;
    rec->set_binding(actors::bind(ctx->profiles, spec, ref.value));
    rec->set_actor(actors::spawn_agent(system, rec, *ctx));
    BOOST_REQUIRE(ctx->agents.insert(rec).second);
    return rec;
  }

  std::int64_t restarts() {
    caf::scoped_actor self{system};
    std::int64_t n = -1;
    self->request(ctx->supervisor, caf::infinite, msg::stats_atom::value)
        .receive([&](const msg::supervisor_stats& s) { n = s.restarts; }, [](caf::error&) {});
    return n;
  }

  // A heartbeat sent to the agent's current actor; answers whether it
  // replied for this agent (a reply dropped unanswered says unknown_agent).
  bool answers(const actors::agent_record& rec) {
    std::promise<core::expected<core::agent>> answer;
    auto reply = answer.get_future();
    caf::anon_send(rec.actor(), msg::heartbeat_atom::value, false, std::int64_t{0},
                   msg::agent_reply{rec.agent_id, [&answer](core::expected<core::agent> a) { answer.set_value(std::move(a)); },
                                    nullptr});
    if (reply.wait_for(60s) != std::future_status::ready)
      return false;
    const auto a = reply.get();
    return a && a->agent_id == rec.agent_id;
  }

  caf::actor_system_config cfg;
  caf::actor_system system;
  std::unique_ptr<actors::engine_context> ctx;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(actors_supervisor)

// The record holds its actor and the actor its record: the actor lets go of
// the record when it exits, and when its last handle goes without an exit,
// so an agent let go leaves neither behind, whether or not its actor ran.
BOOST_AUTO_TEST_CASE(an_agent_let_go_frees_its_record_and_actor_whether_or_not_the_actor_ran) {
  engine e;
  for (int way = 0; way < 3; ++way) {
    BOOST_TEST_CONTEXT((way == 0 ? "ran, then stopped" : way == 1 ? "stopped before a message" : "handle dropped")) {
      auto rec = e.add("agent-" + std::to_string(way));
      if (way == 0)
        BOOST_TEST(e.answers(*rec));
      const std::weak_ptr<actors::agent_record> record = rec;
      const caf::actor_addr actor = rec->actor().address();
      BOOST_REQUIRE(e.ctx->agents.erase(*rec));
      rec->unregistered.store(true);
      if (way < 2)
        caf::anon_send_exit(rec->actor(), caf::exit_reason::user_shutdown);
      else
        rec->set_actor({});
      rec.reset();
      BOOST_TEST(eventually([&] { return record.expired(); }));
      BOOST_TEST(eventually([&] { return !caf::actor_cast<caf::strong_actor_ptr>(actor); }));
    }
  }
  BOOST_TEST(e.restarts() == 0);
}

BOOST_AUTO_TEST_CASE(an_agent_actor_that_crashes_is_respawned_and_answers_again) {
  engine e;
  auto rec = e.add("a1");
  BOOST_TEST(e.answers(*rec));
  const auto crashed = rec->actor().address();
  caf::anon_send_exit(rec->actor(), caf::exit_reason::kill);
  BOOST_REQUIRE(eventually([&] { return rec->actor().address() != crashed; }));
  BOOST_TEST(e.restarts() == 1);
  BOOST_TEST(e.answers(*rec));
}

BOOST_AUTO_TEST_CASE(an_actor_that_crashes_before_its_first_message_is_respawned) {
  // Spawned lazily, it starts at the exit message itself.
  engine e;
  auto rec = e.add("a1");
  const auto crashed = rec->actor().address();
  caf::anon_send_exit(rec->actor(), caf::exit_reason::kill);
  BOOST_REQUIRE(eventually([&] { return rec->actor().address() != crashed; }));
  BOOST_TEST(e.answers(*rec));
}

BOOST_AUTO_TEST_CASE(an_actor_stopped_on_purpose_or_of_an_unregistered_agent_is_not_respawned) {
  engine e;
  auto stopped = e.add("stopped");
  auto left = e.add("left");
  auto crashing = e.add("crashing");
  const auto stopped_actor = stopped->actor().address();
  const auto left_actor = left->actor().address();
  // As registry::unregister_agent does: flagged, out of the directory, then
  // killed (a crash notice for it finds no agent).
  left->unregistered.store(true, std::memory_order_release);
  BOOST_REQUIRE(e.ctx->agents.erase(*left));
  {
    caf::scoped_actor self{e.system};
    self->send_exit(stopped->actor(), caf::exit_reason::user_shutdown);
    self->send_exit(left->actor(), caf::exit_reason::kill);
    self->wait_for(stopped->actor(), left->actor());
  }
  // A crash after those: once its respawn is seen, a notice of the others,
  // sent earlier, would have been handled too.
  const auto crashed = crashing->actor().address();
  caf::anon_send_exit(crashing->actor(), caf::exit_reason::kill);
  BOOST_REQUIRE(eventually([&] { return crashing->actor().address() != crashed; }));
  BOOST_TEST(e.restarts() == 1);
  BOOST_TEST((stopped->actor().address() == stopped_actor));
  BOOST_TEST((left->actor().address() == left_actor));
}

BOOST_AUTO_TEST_SUITE_END()
