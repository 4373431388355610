#include "agentreg/registry.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <future>
#include <iostream>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/agent_actor.hpp"
#include "actors/aggregator.hpp"
#include "actors/changes.hpp"
#include "actors/context.hpp"
#include "actors/scheduler.hpp"
#include "actors/supervisor.hpp"
#include "agentreg/asker.hpp"
#include "core/random.hpp"
#include "core/uuid.hpp"
#include "core/validate.hpp"
#include "messages/asker.hpp"
#include "messages/errors.hpp"
#include "persistence/loader.hpp"
#include "persistence/migrations.hpp"
#include "persistence/persistence_router.hpp"

namespace agentreg {

namespace {

// How long a blocking call waits for an actor's answer before giving up.
constexpr auto ask_timeout = std::chrono::seconds{60};

// Jobs one asker has waiting for answers at once (see spawn_asker): enough
// to keep the engine's workers busy, few enough that CAF's linear search of
// pending responses stays cheap.
constexpr std::size_t asker_max_in_flight = 128;

caf::actor_system_config& configure(caf::actor_system_config& cfg, const config& c) {
  if (c.scheduler_threads > 0)
    cfg.set("scheduler.max-threads", c.scheduler_threads);
  // Work stealing polls for work with short sleeps when idle, which on a
  // small machine takes CPU from the callers' threads (seen as ~10 % of a
  // profile); sharing blocks idle workers on a condition variable.
  // CAF's coordinator with a clock that spares each actor's teardown a
  // wake-up of the clock thread (see actors/scheduler.hpp).
  actors::use_engine_scheduler(
      cfg, c.scheduler_policy == "stealing" ? actors::scheduling::stealing : actors::scheduling::sharing);
  return cfg;
}

// The configuration was validated, price table included; a file that broke
// since then is refused the same way, never replaced by the built-in table.
core::price_table load_prices(const config& c) {
  if (c.price_table_path.empty())
    return core::price_table::builtin();
  auto t = core::price_table::load(c.price_table_path);
  if (!t)
    throw invalid_config{"config.price_table_path is not a usable price table: " + t.error().message};
  return *t;
}

// now + ttl, the expiry of a lease; refused rather than wrapped when it
// would overflow the clock's range.
expected<core::timestamp> lease_deadline(core::timestamp now, std::chrono::nanoseconds ttl) {
  if (ttl.count() <= 0)
    return error{errc::invalid_argument, "ttl must be positive"};
  if (now > 0 && ttl.count() > std::numeric_limits<core::timestamp>::max() - now)
    return error{errc::invalid_argument, "ttl is too large: now + ttl overflows the clock"};
  return now + ttl.count();
}

// The configuration, checked: the constructor's first step, before any
// thread or actor starts.
config checked(config c) {
  if (auto ok = core::validate(c); !ok)
    throw invalid_config{ok.error().message};
  return c;
}

// The error of a release or renew that found no holding.
core::error lease_error(index::errc e) {
  if (e == index::errc::unknown_agent)
    return {errc::lease_not_held, "the lease's agent was unregistered: its leases ended with it"};
  if (e == index::errc::lease_not_held)
    return {errc::lease_not_held, "the lease was already released or expired, or is not a lease of this registry"};
  return actors::to_core(e, "");
}

}  // namespace

struct registry::impl {
  explicit impl(config c)
      : system(configure(system_config, c)),
        ctx(c, c.time_source ? c.time_source : std::make_shared<core::system_clock>(), load_prices(c)) {
    // The change stream, the gate and the writers first: the actors
    // spawned next read them from the context, which must not change once
    // they run. Revisions start at the start time in microseconds, so a
    // revision a client kept from an earlier run is (almost always) behind
    // this run's and answered "compacted" rather than mistaken for one of ours.
    core::change_log::options changes;
    changes.capacity = c.change_log_capacity;
    changes.first_revision = static_cast<std::uint64_t>(ctx.clock->now() / 1000);
    ctx.changes = std::make_unique<core::change_log>(changes, actors::change_resolver(ctx));
    if (c.database_url) {
      ctx.gate = std::make_shared<core::backlog_gate>(c.buffer_limit, c.on_full);
      ctx.persistence = db::spawn_persistence(
          system, writer_settings(c), c.writer_connections, ctx.gate);
    }
    ctx.aggregator = actors::spawn_aggregator(system, ctx);
    ctx.supervisor = actors::spawn_supervisor(system, ctx);
    // Two askers per scheduler thread, so that every worker can be answering.
    const std::size_t n_askers = 2 * std::max<std::size_t>(1, c.scheduler_threads);
    for (std::size_t i = 0; i < n_askers; ++i)
      askers.push_back(spawn_asker(system, asker_max_in_flight));
    if (c.database_url) {
      if (!recover(*c.database_url))
        recovery = std::thread{[this, url = *c.database_url] { keep_recovering(url); }};
    } else {
      std::clog << "agentreg: no database URL configured: running in memory only\n";
    }
  }

  // Retries recovery with exponential backoff (100 ms doubling to 5 s)
  // until it succeeds or the registry stops. Meanwhile the engine serves
  // from memory and its records are written as usual (they are
  // idempotent), but no snapshot is: the aggregator takes none before it
  // has the recovered summaries, so what the database holds is never
  // overwritten with the smaller totals of an engine that started empty.
  void keep_recovering(const std::string& url) {
    auto backoff = std::chrono::milliseconds{100};
    std::unique_lock lock{recovery_mutex};
    for (;;) {
      if (recovery_wake.wait_for(lock, backoff, [this] { return recovery_stop; }))
        return;
      lock.unlock();
      const bool done = recover(url);
      lock.lock();
      if (done)
        return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds{5000});
    }
  }

  // Loads what a previous registry wrote: agents (offline until they
  // heartbeat; the start grace period covers them), tool usage, summaries,
  // and executions still running. Answers false when the database cannot
  // be reached (reported; keep_recovering tries again). What was loaded is
  // merged with what this engine did before it: counts are added, an agent
  // registered or unregistered here since the start is left as it is here.
  bool recover(const std::string& url) {
    auto migrated = db::migrate(url);
    auto loaded = migrated ? db::loader::connect(url) : core::expected<db::loader>{migrated.error()};
    auto state = loaded ? loaded->load(run_id) : core::expected<db::recovered_state>{loaded.error()};
    if (!state) {
      if (recovery_failures++ == 0)
        std::clog << "agentreg: could not recover from the database (" << state.error().message
                  << "); serving from memory, recovery will be retried with backoff, and no summary is "
                     "written before it succeeds\n";
      return false;
    }
    for (const auto& a : state->agents) {
      if (left_before_recovery(a.agent_id))
        continue;
      if (auto added = add_agent(a, index::agent_status::offline, a.registered_at); !added)
        std::clog << "agentreg: could not recover agent " << a.agent_id << ": " << added.error().message << "\n";
    }
    for (const auto& t : state->tool_usage)
      ctx.tools.restore(t.usage, core::log_histogram::from_buckets(t.durations));
    // Restored summaries count against max_summary_keys as new ones do.
    for (const auto& p : state->performance)
      if (p.summary.dimension == group_by::task_type)
        ctx.task_types.admit(p.summary.key);
      else if (p.summary.dimension == group_by::workflow)
        ctx.workflows.admit(p.summary.key);
    // Also the aggregator's signal that recovery is done: it takes no
    // snapshot before this message.
    caf::anon_send(ctx.aggregator, msg::restore_atom::value, std::move(state->performance), state->tool_usage);
    // A running execution keeps the agent's spec of its start, so it is
    // rebuilt from the row, whether or not its agent is still registered.
    for (auto& e : state->running_executions)
      if (auto id = core::parse_uuid(e.id)) {
        core::agent_spec spec;
        spec.agent_id = std::move(e.agent_id);
        spec.agent_type = std::move(e.agent_type);
        spec.llm_provider = std::move(e.llm_provider);
        spec.model_name = std::move(e.model_name);
        // Its monotonic start is estimated from the stored wall time (the
        // previous process's monotonic clock means nothing here).
        const auto age = std::max<core::timestamp>(0, ctx.clock->now() - e.started_at);
        // A binding with no index handle: only its spec is read.
        ctx.executions.insert(*id, {actors::bind(ctx.profiles, std::move(spec), index::agent_ref{}),
                                    std::move(e.task_type),
                                    std::move(e.workflow_slug), std::move(e.run_id), e.started_at,
                                    ctx.clock->monotonic() - age});
      }
    {
      std::lock_guard guard{recovery_mutex};
      recovered = true;
      left_early.clear();
    }
    std::clog << "agentreg: recovered " << state->agents.size() << " agents, " << state->tool_usage.size()
              << " tool usage rows, " << state->running_executions.size() << " running executions";
    if (state->folded_executions + state->folded_tool_calls > 0)
      std::clog << "; " << state->folded_executions << " completed executions and " << state->folded_tool_calls
                << " tool calls committed after the last stored totals were added to them";
    std::clog << "\n";
    return true;
  }

  // True when `agent_id` was unregistered here before recovery: the row
  // recovery reads is older than that, and must not bring it back.
  bool left_before_recovery(const std::string& agent_id) {
    std::lock_guard guard{recovery_mutex};
    return left_early.count(agent_id) > 0;
  }

  // Notes an unregistration that happens before recovery succeeded.
  void note_unregistered(const std::string& agent_id) {
    std::lock_guard guard{recovery_mutex};
    if (!recovered)
      left_early.insert(agent_id);
  }

  // Makes a new agent: index slot, record, actor, directory entry, watch.
  struct added_agent {
    std::shared_ptr<actors::agent_record> rec;  ///< the record now under the id
    bool inserted = false;                       ///< false: another thread's won
  };
  expected<added_agent> add_agent(const core::agent_spec& spec, index::agent_status status,
                                  core::timestamp registered_at) {
    auto rec = std::make_shared<actors::agent_record>(spec.agent_id, ctx.next_serial.fetch_add(1), registered_at);
    // The type's pool is made only if the insert succeeds (a refused
    // registration uses up none of config.max_agent_types).
    auto ref = ctx.index.insert(spec.agent_type, static_cast<std::uint32_t>(spec.max_capacity), rec->serial, status);
    if (!ref)
      return actors::to_core(ref.error, spec.agent_id);
    rec->set_binding(actors::bind(ctx.profiles, spec, ref.value));
    actors::touch(*rec, ref.value, ctx);
    // Spawned here rather than by the supervisor so that registering needs no
    // round trip; a crash reaches the supervisor from the actor itself.
    rec->set_actor(actors::spawn_agent(system, rec, ctx));
    auto [winner, inserted] = ctx.agents.insert(rec);
    if (!inserted) {
      ctx.index.remove(ref.value);
      caf::anon_send_exit(rec->actor(), caf::exit_reason::user_shutdown);
      return added_agent{winner, false};
    }
    // Only now, with the registration published: a pick of the slot before
    // this finds no label and asks the directory, which does not know a
    // loser's serial (its slot must never be leased under the winner's id).
    // An agent moved to another type meanwhile has left this slot (this
    // writes nothing then), and its actor labelled the new one.
    ctx.index.set_label(ref.value, rec->agent_id);
    return added_agent{rec, true};
  }

  // Tells persistence about one agent now (registration, unregistration),
  // through the aggregator: it takes every agent snapshot, so they reach
  // persistence in the order of the directory's changes (see unreg_atom).
  void persist_agent(const actors::agent_record& rec, bool unregistered) {
    if (!ctx.persistence)
      return;
    if (unregistered)
      caf::anon_send(ctx.aggregator, msg::unreg_atom::value,
                     core::agent_snapshot{actors::snapshot(rec, ctx.index), true, ctx.clock->now()}, rec.serial);
    else
      caf::anon_send(ctx.aggregator, msg::changed_atom::value, rec.agent_id);
  }

  // Room in the persistence backlog for one record (always, in memory only).
  expected<unit> admit(when_backlog_full full) {
    if (!ctx.gate || (full == when_backlog_full::refuse ? ctx.gate->try_admit(1) : ctx.gate->admit(1)))
      return unit{};
    return error{errc::persistence_backlog,
                 "the database is behind: " + std::to_string(ctx.gate->limit()) +
                     " records wait to be written (buffer_limit); retry later"};
  }

  ~impl() {
    if (recovery.joinable()) {
      {
        std::lock_guard guard{recovery_mutex};
        recovery_stop = true;
      }
      recovery_wake.notify_all();
      recovery.join();
    }
    // Every completion runs before anything stops: the agents' (each call
    // counted in agent_calls until its completion has run), then the
    // askers'. Asked from a scoped actor: a job in an asker cannot wait for
    // its own asker to be idle.
    // acquire: pairs with the release decrement after each completion.
    for (auto n = agent_calls.load(std::memory_order_acquire); n != 0; n = agent_calls.load(std::memory_order_acquire))
      agent_calls.wait(n, std::memory_order_acquire);
    {
      caf::scoped_actor self{system};
      for (const auto& a : askers)
        self->request(a, ask_timeout, msg::sync_atom::value).receive([](caf::ok_atom) {}, [](caf::error&) {});
    }
    if (ctx.persistence) {
      // Clean shutdown: every summary, tool usage and agent, then everything
      // buffered, reach the database before the actors stop. A flush may
      // answer false while the database is reachable but the backlog takes
      // longer than a writer's answer may (a writer busy past
      // persistence_request_timeout): shutdown waits as long as records are
      // committed, and gives up only when none was for
      // shutdown_flush_timeout (the database unreachable or stuck), leaving
      // the rest unwritten: reported.
      ask<bool>(ctx.aggregator, msg::publish_atom::value);
      auto flush = [this] {
        auto done = ask<bool>(ctx.persistence, msg::flush_atom::value);
        return done && *done;
      };
      auto backlog = ctx.gate->backlog();
      auto deadline = std::chrono::steady_clock::now() + ctx.config.shutdown_flush_timeout;
      bool flushed = flush();
      while (!flushed) {
        const auto now = std::chrono::steady_clock::now();
        if (const auto left = ctx.gate->backlog(); left < backlog) {  // progress: wait on
          backlog = left;
          deadline = now + ctx.config.shutdown_flush_timeout;
        } else if (now >= deadline) {
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{100});  // between two attempts, not a wait for a state
        flushed = flush();
      }
      if (!flushed)
        std::clog << "agentreg: the database committed nothing for "
                  << std::chrono::duration_cast<std::chrono::seconds>(ctx.config.shutdown_flush_timeout).count()
                  << " s; " << ctx.gate->backlog() << " unwritten records were lost at shutdown\n";
      ctx.gate->close();
      caf::anon_send_exit(ctx.persistence, caf::exit_reason::user_shutdown);
    }
    ctx.stopping.store(true, std::memory_order_release);
    {
      // Gone before the agents' actors are let go, so that no respawn can
      // bind a fresh actor to a record after the loop below passed it.
      caf::scoped_actor self{system};
      self->send_exit(ctx.supervisor, caf::exit_reason::user_shutdown);
      self->wait_for(ctx.supervisor);
    }
    // A bulk stop: each agent's actor is destroyed where its last handle
    // goes, here (CAF runs its cleanup then), rather than sent an exit
    // message that a worker must schedule and run: a third of the
    // instructions per actor (callgrind, 20 000 actors). An actor busy with
    // a message holds a handle to itself until it is done; the wait for
    // every actor below covers it. Each agent's actor, record and binding
    // go together, in the order they were registered (directory::take_all):
    // their frees then merge with chunks freed just before, in cache; in
    // the directory's hash order, a free met a neighbour anywhere in 2 GB
    // (1 M agents: 3.3-5.4 s to destroy the registry, 1.7-1.9 s in order;
    // agentreg-bench engine). One thread per scheduler thread: each actor's
    // cleanup hands an event to CAF's clock thread, which one thread alone
    // wakes for nearly every actor (a context switch each, measured); with
    // every CPU busy dropping, the clock takes them in batches.
    // The changes recorded so far are published while the directory still
    // resolves them: once it is empty, the change log would drop an
    // agent's last changes as superseded.
    (void)ctx.changes->revision();
    auto agents = ctx.agents.take_all();
    {
      const auto drop = [&agents](std::size_t from, std::size_t to) {
        for (auto i = from; i < to; ++i) {
          agents[i]->set_actor({});
          agents[i].reset();
        }
      };
      const std::size_t parts = std::max<std::size_t>(1, ctx.config.scheduler_threads);
      const std::size_t n = agents.size();
      std::vector<std::jthread> helpers;
      for (std::size_t part = 1; part < parts; ++part)
        helpers.emplace_back([drop, part, parts, n] { drop(n * part / parts, n * (part + 1) / parts); });
      drop(0, n / parts);
    }
    caf::anon_send_exit(ctx.aggregator, caf::exit_reason::user_shutdown);
    for (const auto& a : askers)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    system.await_all_actors_done();
  }

  // An asker, in turn (the agents' actors are told directly: tell_agent).
  const caf::actor& any_asker() const {
    // relaxed: only spreads calls; no ordering is promised between them.
    return askers[next_asker.fetch_add(1, std::memory_order_relaxed) % askers.size()];
  }

  // Runs `send` in `asker` (see msg::ask_job); returns at once.
  static void run_in(const caf::actor& asker,
                     std::function<void(caf::event_based_actor*, std::function<void()>)> send) {
    caf::anon_send(asker, msg::ask_job{std::move(send)});
  }

  // Asks `h` from `asker` and hands the answer or the error to `done`, on the
  // asker's thread; returns at once.
  template <class T, class Handle, class... Ts>
  static void ask_async(const caf::actor& asker, Handle h, completion<T> done, Ts... xs) {
    run_in(asker, [h = std::move(h), done = std::move(done), args = std::make_tuple(std::move(xs)...)](
                      caf::event_based_actor* self, std::function<void()> finished) mutable {
      std::apply([&](auto&... a) { return self->request(h, caf::infinite, std::move(a)...); }, args)
          .then(
              [done, finished](T& value) {
                done(std::move(value));
                finished();
              },
              [done, finished](caf::error& e) {
                done(msg::from_caf(e));
                finished();
              });
    });
  }

  // Waits for an asynchronous call's answer: `start` receives the completion.
  template <class T, class Start>
  static expected<T> wait_for(Start&& start) {
    auto promise = std::make_shared<std::promise<expected<T>>>();
    auto answer = promise->get_future();
    start(completion<T>{[promise](expected<T> r) { promise->set_value(std::move(r)); }});
    if (answer.wait_for(ask_timeout) != std::future_status::ready)
      return error{errc::internal, "no answer from the engine within 60 s"};
    return answer.get();
  }

  // Asks an actor and waits for its answer (not for hot paths: a round trip
  // from a plain thread costs tens of microseconds).
  template <class T, class Handle, class... Ts>
  expected<T> ask(const Handle& h, Ts... xs) {
    return wait_for<T>([&](completion<T> done) { ask_async<T>(any_asker(), h, std::move(done), std::move(xs)...); });
  }

  // Each task type and workflow becomes a summary kept for good: a bounded
  // number of them. Known keys (the usual case) cost one lock-free lookup
  // each. New ones are both checked before either is added, so a refusal
  // adds neither (unless another thread takes the last room in between: then
  // the first may stay; no limit is ever exceeded). Errors: limit_reached.
  expected<unit> admit_keys(const execution_request& request) {
    if (ctx.task_types.contains(request.task_type) && ctx.workflows.contains(request.workflow_slug))
      return unit{};
    const std::tuple<actors::summary_keys*, const std::string*, const char*> dims[] = {
        {&ctx.task_types, &request.task_type, "task_type"},
        {&ctx.workflows, &request.workflow_slug, "workflow_slug"}};
    for (bool adding : {false, true})
      for (auto [keys, value, name] : dims)
        if (!(adding ? keys->admit(*value) : keys->admits(*value)))
          return error{errc::limit_reached, std::string{name} + " \"" + *value + "\" would be one more than the " +
                                                std::to_string(keys->limit()) +
                                                " distinct values summaries keep (max_summary_keys)"};
    return unit{};
  }

  // Tells the aggregator to drain the outbox now, when a put said its lane
  // is full.
  void nudge(bool lane_full) {
    if (lane_full)
      caf::anon_send(ctx.aggregator, msg::drain_atom::value);
  }

  expected<std::shared_ptr<actors::agent_record>> find(const std::string& agent_id) const {
    if (auto ok = core::validate_id(agent_id, "agent_id"); !ok)
      return ok.error();
    if (auto rec = ctx.agents.find(agent_id))
      return rec;
    return error{errc::unknown_agent, "agent " + agent_id + " is not registered"};
  }

  // Tells the agent's actor, which runs `done` itself with its answer: one
  // mailbox trip (msg::agent_reply). From one thread, the calls about one
  // agent enter its mailbox, and are applied, in the order they were made.
  // Counted in `agent_calls` until `done` has run (the reply decrements
  // it), for the destructor.
  template <class... Ts>
  void tell_agent(const actors::agent_record& rec, completion<agent> done, Ts... xs) {
    // relaxed: the count's own read-modify-writes order it; the destructor
    // reads it only after every caller has returned (calls made during the
    // destructor are not allowed).
    agent_calls.fetch_add(1, std::memory_order_relaxed);
    caf::anon_send(rec.actor(), std::move(xs)..., msg::agent_reply{rec.agent_id, std::move(done), &agent_calls});
  }

  template <class... Ts>
  void tell_agent(const std::string& agent_id, completion<agent> done, Ts... xs) {
    auto rec = find(agent_id);
    if (!rec)
      return done(rec.error());
    tell_agent(**rec, std::move(done), std::move(xs)...);
  }

  // One message per item to its agent's actor, each holding the batch
  // (msg::heartbeat_slot); the last one let go runs `done`. Counted once in
  // `agent_calls`, as one call.
  void heartbeat_many(std::vector<heartbeat_item> items, completion<std::vector<expected<heartbeat_ack>>> done) {
    // relaxed: as tell_agent's.
    agent_calls.fetch_add(1, std::memory_order_relaxed);
    auto* batch = msg::heartbeat_batch::make(std::move(items), std::move(done), &agent_calls);
    const auto& list = batch->items();
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto rec = find(list[i].agent_id);
      if (!rec) {
        batch->result(i) = rec.error();
        continue;
      }
      const auto& load = list[i].current_load;
      caf::anon_send((*rec)->actor(), msg::heartbeat_atom::value, load.has_value(), load.value_or(0),
                     msg::heartbeat_slot{batch, i});
    }
    batch->release();
  }

  // Re-registration: the agent's actor applies the new spec; then it is persisted.
  // A registration's answer when it is decided here: a refused spec, or a
  // new id registered. nullopt for an id already registered (by now, or by
  // another thread meanwhile): `existing` is its record, which the caller
  // updates (update_spec_async).
  std::optional<expected<agent>> register_here(const agent_spec& spec, std::shared_ptr<actors::agent_record>& existing) {
    if (auto ok = core::validate(spec, ctx.config.max_agent_metadata_bytes); !ok)
      return expected<agent>{ok.error()};
    existing = ctx.agents.find(spec.agent_id);
    if (existing)
      return std::nullopt;
    auto added = add_agent(spec, index::agent_status::online, ctx.clock->now());
    if (!added)
      return expected<agent>{added.error()};
    if (!added->inserted) {
      existing = added->rec;  // another thread registered this id first: ours updates it
      return std::nullopt;
    }
    actors::record_agent_change(ctx, core::change_kind::agent_registered, added->rec->serial);
    persist_agent(*added->rec, false);
    return expected<agent>{actors::snapshot(*added->rec, ctx.index)};
  }

  void update_spec_async(const std::shared_ptr<actors::agent_record>& rec, agent_spec spec, completion<agent> done) {
    tell_agent(*rec,
               completion<agent>{[this, rec, done = std::move(done)](expected<agent> updated) {
                 if (updated)
                   persist_agent(*rec, false);
                 done(std::move(updated));
               }},
               msg::spec_atom::value, std::move(spec));
  }

  void get_performance_async(const std::string& agent_id, completion<performance> done) {
    if (auto ok = core::validate_id(agent_id, "agent_id"); !ok)
      return done(ok.error());
    // An agent with no execution yet has zeros; one never registered and
    // without history is unknown.
    auto answer = [this, agent_id, done = std::move(done)](expected<performance> p) {
      if (!p && p.error().code == errc::unknown_agent && ctx.agents.find(agent_id)) {
        performance zeros;
        zeros.key = agent_id;
        return done(std::move(zeros));
      }
      if (!p && p.error().code == errc::unknown_agent)
        return done(error{errc::unknown_agent, "agent " + agent_id + " is not registered and has no history"});
      done(std::move(p));
    };
    ask_async<performance>(any_asker(), ctx.aggregator, completion<performance>{std::move(answer)},
                           msg::perf_atom::value, group_by::agent, agent_id);
  }

  // The counters: the agents counted in the asker, then the rest
  // (ask_counters).
  void stats_async(completion<engine_stats> done) {
    run_in(any_asker(), [this, done = std::move(done)](caf::event_based_actor* self, std::function<void()> finished) {
      auto s = std::make_shared<engine_stats>();
      ctx.agents.for_each([&](const std::shared_ptr<actors::agent_record>& rec) {
        ++s->agents;
        switch (actors::snapshot(*rec, ctx.index).status) {
          case agent_status::online: ++s->online; break;
          case agent_status::busy: ++s->busy; break;
          case agent_status::offline: ++s->offline; break;
          case agent_status::paused: ++s->paused; break;
        }
      });
      ask_counters(self, s, [s, done, finished] {
        done(std::move(*s));
        finished();
      });
    });
  }

  // The fleet by agent type from one pass over the index's slots (no agent
  // copied, no directory lookup: the scrape's cost grows by ~10 ns an
  // agent), the agents counted into `s` on the way; then the counters.
  void metrics_async(completion<metrics_snapshot> done) {
    run_in(any_asker(), [this, done = std::move(done)](caf::event_based_actor* self, std::function<void()> finished) {
      auto m = std::make_shared<metrics_snapshot>();
      auto& s = m->engine;
      // The seed's "agents appear unhealthy": online, heartbeat over 60 s
      // old (stamps are the monotonic clock's, as the sweep reads them).
      const core::monotonic_time overdue_before = ctx.clock->monotonic() - 60 * core::ns_per_s;
      for (std::uint32_t pool = 0; pool < ctx.index.pool_count(); ++pool) {
        core::fleet_metrics f;
        f.agent_type = std::string{ctx.index.pool_name(pool)};
        ctx.index.scan(pool, [&](const index::agent_view& v) {
          const auto status = static_cast<agent_status>(v.status);
          ++f.agents[static_cast<std::size_t>(status)];
          if (status != agent_status::online && status != agent_status::busy)
            return;
          f.capacity_slots += v.capacity;
          f.load_slots += v.load();
          if (v.stamp < overdue_before)
            ++f.heartbeat_overdue;
        });
        using actors::lease_count;
        f.acquires = ctx.lease_counts.total(actors::lease_count_key(pool, lease_count::granted));
        f.acquire_no_capacity = ctx.lease_counts.total(actors::lease_count_key(pool, lease_count::no_capacity));
        f.releases = ctx.lease_counts.total(actors::lease_count_key(pool, lease_count::released));
        s.online += f.agents[static_cast<std::size_t>(agent_status::online)];
        s.offline += f.agents[static_cast<std::size_t>(agent_status::offline)];
        s.paused += f.agents[static_cast<std::size_t>(agent_status::paused)];
        s.busy += f.agents[static_cast<std::size_t>(agent_status::busy)];
        m->fleet.push_back(std::move(f));
      }
      s.agents = s.online + s.offline + s.paused + s.busy;
      std::sort(m->fleet.begin(), m->fleet.end(),
                [](const auto& a, const auto& b) { return a.agent_type < b.agent_type; });
      m->work = ctx.work.work();
      m->tools = ctx.work.tools();
      if (ctx.gate)
        m->buffer_limit = ctx.gate->limit();
      m->revision = ctx.changes->revision();
      m->compacted_revision = ctx.changes->compacted_revision();
      ask_counters(self, std::shared_ptr<engine_stats>(m, &m->engine), [m, done, finished] {
        done(std::move(*m));
        finished();
      });
    });
  }

  // Every counter of `s` but the agents': those the context holds, then
  // the aggregator, the supervisor and persistence asked in turn from the
  // asker `self`; then `complete`.
  void ask_counters(caf::event_based_actor* self, const std::shared_ptr<engine_stats>& s,
                    std::function<void()> complete) {
    s->leases_held = static_cast<std::int64_t>(ctx.index.leases_held());
    s->running_executions = static_cast<std::int64_t>(ctx.executions.size());
    const auto grace = ctx.config.start_grace.value_or(ctx.config.stale_timeout).count();
    s->in_grace_period = ctx.clock->monotonic() < ctx.started + grace;
    s->persistence_enabled = ctx.config.database_url.has_value();
    if (ctx.gate) {
      s->persistence_backlog = ctx.gate->backlog();
      s->persistence_gate_refusals = ctx.gate->refused();
    }
    auto ask_persistence = [this, self, s, complete] {
      if (!ctx.persistence)
        return complete();
      self->request(ctx.persistence, caf::infinite, msg::stats_atom::value)
          .then(
              [s, complete](msg::persistence_stats& p) {
                s->persistence_connected = p.connected;
                s->persistence_batches = p.batches;
                s->persistence_rows = p.rows;
                s->persistence_retries = p.retries;
                s->persistence_dead_letters = p.dead_letters;
                s->persistence_lost = p.lost;
                s->persistence_writer_restarts = p.writer_restarts;
                s->persistence_snapshot_rows = p.snapshot_rows;
                s->persistence_last_error = p.last_error;
                complete();
              },
              [complete](caf::error&) { complete(); });
    };
    auto ask_supervisor = [this, self, s, ask_persistence] {
      self->request(ctx.supervisor, caf::infinite, msg::stats_atom::value)
          .then(
              [s, ask_persistence](msg::supervisor_stats& sup) {
                s->sweeps = sup.sweeps;
                s->evictions_total = sup.evictions_total;
                s->evictions_held_total = sup.evictions_held_total;
                s->leases_expired_total = sup.leases_reclaimed_total;
                s->agent_actor_restarts = sup.restarts;
                s->last_sweep = sup.last_sweep;
                s->degraded = sup.last_sweep.degraded;
                ask_persistence();
              },
              [ask_persistence](caf::error&) { ask_persistence(); });
    };
    self->request(ctx.aggregator, caf::infinite, msg::stats_atom::value)
        .then(
            [s, ask_supervisor](msg::aggregator_stats& agg) {
              s->completed_executions = agg.executions_completed;
              s->tool_calls = agg.tool_calls;
              s->persistence_snapshots = agg.snapshots;
              ask_supervisor();
            },
            [ask_supervisor](caf::error&) { ask_supervisor(); });
  }

  caf::actor_system_config system_config;
  caf::actor_system system;
  actors::engine_context ctx;
  std::vector<caf::actor> askers;
  mutable std::atomic<std::size_t> next_asker{0};
  // Calls told to agents' actors whose completion has not run yet (see
  // tell_agent); on a cache line of its own, since every such call writes it.
  alignas(64) std::atomic<std::int64_t> agent_calls{0};

  // This run of the registry, as persistence numbers runs (see
  // db::batch_writer::connect, db::loader::load).
  const std::string run_id = core::to_string(core::make_uuid());

  db::writer_config writer_settings(const config& c) const {
    db::writer_config w{*c.database_url, c.batch_size, c.flush_interval};
    w.request_timeout = c.persistence_request_timeout;
    w.run_id = run_id;
    w.faults = c.faults;
    return w;
  }

  // Recovery retried in the background when the database was unreachable
  // at start (keep_recovering).
  std::mutex recovery_mutex;
  std::condition_variable recovery_wake;
  bool recovery_stop = false;                 // guarded by recovery_mutex
  bool recovered = false;                     // guarded by recovery_mutex
  std::unordered_set<std::string> left_early;  // guarded by recovery_mutex: see note_unregistered
  int recovery_failures = 0;                  // recovery thread (or constructor) only
  std::thread recovery;
};

expected<unit> validate(const config& cfg) { return core::validate(cfg); }

registry::registry(config cfg) : impl_(std::make_unique<impl>(checked(std::move(cfg)))) {}

registry::~registry() = default;

const config& registry::configuration() const { return impl_->ctx.config; }

bool registry::recovered() const {
  if (!impl_->ctx.config.database_url)
    return true;
  std::lock_guard guard{impl_->recovery_mutex};  // held by recovery between its steps only, never across I/O
  return impl_->recovered;
}

// ---- agents -----------------------------------------------------------------

expected<agent> registry::register_agent(agent_spec spec) {
  // A new id is answered here, without the promise and future of wait_for
  // (a tenth of registering 1 M agents went to them: perf); an id already
  // registered is updated by its actor, and waited for.
  std::shared_ptr<actors::agent_record> existing;
  if (auto answer = impl_->register_here(spec, existing))
    return std::move(*answer);
  return impl::wait_for<agent>(
      [&](completion<agent> done) { impl_->update_spec_async(existing, std::move(spec), std::move(done)); });
}

void registry::register_agent_async(agent_spec spec, completion<agent> done) {
  std::shared_ptr<actors::agent_record> existing;
  if (auto answer = impl_->register_here(spec, existing))
    return done(std::move(*answer));
  impl_->update_spec_async(existing, std::move(spec), std::move(done));
}

expected<unit> registry::unregister_agent(const std::string& agent_id) {
  auto rec = impl_->find(agent_id);
  if (!rec)
    return rec.error();
  auto& ctx = impl_->ctx;
  // Before the binding is read: an agent moving to a new slot meanwhile
  // removes it itself (actors::apply_spec).
  (*rec)->unregistered.store(true, std::memory_order_seq_cst);
  impl_->note_unregistered(agent_id);
  if (!ctx.agents.erase(**rec))
    return error{errc::unknown_agent, "agent " + agent_id + " is not registered"};
  if (auto binding = (*rec)->binding()) {
    ctx.index.remove(binding->ref);
    actors::record_unregistered(ctx, agent_id, binding->profile->agent_type);
  }
  caf::anon_send_exit((*rec)->actor(), caf::exit_reason::user_shutdown);
  impl_->persist_agent(**rec, true);
  return unit{};
}

expected<agent> registry::get_agent(const std::string& agent_id) const {
  auto rec = impl_->find(agent_id);
  if (!rec)
    return rec.error();
  return actors::snapshot(**rec, impl_->ctx.index);
}

std::vector<agent> registry::list_agents(const agent_filter& filter) const {
  std::vector<agent> out;
  auto& ctx = impl_->ctx;
  ctx.agents.for_each([&](const std::shared_ptr<actors::agent_record>& rec) {
    agent a = actors::snapshot(*rec, ctx.index);
    if ((filter.agent_type && a.agent_type != *filter.agent_type) || (filter.status && a.status != *filter.status) ||
        (filter.llm_provider && a.llm_provider != *filter.llm_provider) ||
        (filter.model_name && a.model_name != *filter.model_name))
      return;
    out.push_back(std::move(a));
  });
  std::sort(out.begin(), out.end(), [](const agent& a, const agent& b) { return a.agent_id < b.agent_id; });
  return out;
}

void registry::list_agents_page_async(agent_page_request request, completion<agent_page> done) const {
  if (request.limit == 0)
    return done(error{errc::invalid_argument, "limit must be at least 1"});
  impl::run_in(impl_->any_asker(), [this, request = std::move(request), done = std::move(done)](
                                       caf::event_based_actor*, std::function<void()> finished) {
    auto& ctx = impl_->ctx;
    const auto& f = request.filter;
    // The first limit + 1 matching records by id, in a heap whose top is
    // the greatest: one pass, no agent copied but the page's.
    using picked = std::shared_ptr<actors::agent_record>;
    auto later = [](const picked& a, const picked& b) { return a->agent_id < b->agent_id; };
    std::vector<picked> first;
    first.reserve(request.limit + 1);
    ctx.agents.for_each([&](const picked& rec) {
      if (!request.after.empty() && rec->agent_id <= request.after)
        return;
      if (first.size() > request.limit && !later(rec, first.front()))
        return;
      const auto binding = rec->binding();
      if (!binding)
        return;
      const auto& b = *binding->profile;
      if ((f.agent_type && b.agent_type != *f.agent_type) || (f.llm_provider && b.llm_provider != *f.llm_provider) ||
          (f.model_name && b.model_name != *f.model_name) ||
          (request.skill && std::find(b.skills().begin(), b.skills().end(), *request.skill) == b.skills().end()))
        return;
      if (f.status) {  // as snapshot() reads it: an agent out of the index is offline
        const auto v = ctx.index.view(binding->ref);
        if ((v ? static_cast<agent_status>(v->status) : agent_status::offline) != *f.status)
          return;
      }
      first.push_back(rec);
      std::push_heap(first.begin(), first.end(), later);
      if (first.size() > request.limit + 1) {
        std::pop_heap(first.begin(), first.end(), later);
        first.pop_back();
      }
    });
    std::sort_heap(first.begin(), first.end(), later);
    agent_page page;
    page.more = first.size() > request.limit;
    if (page.more)
      first.pop_back();
    page.agents.reserve(first.size());
    for (const auto& rec : first)
      page.agents.push_back(actors::snapshot(*rec, ctx.index));
    // A status filter was read before the copy: an agent whose status
    // changed in between is still answered, with its newer state, as a
    // listing made a moment earlier would have.
    done(std::move(page));
    finished();
  });
}

std::vector<agent> registry::list_online_agents() const {
  auto all = list_agents();
  std::erase_if(all, [](const agent& a) { return a.status != agent_status::online && a.status != agent_status::busy; });
  return all;
}

expected<agent> registry::heartbeat(const std::string& agent_id, std::optional<std::int64_t> current_load) {
  return impl::wait_for<agent>([&](completion<agent> done) { heartbeat_async(agent_id, current_load, std::move(done)); });
}

void registry::heartbeat_async(const std::string& agent_id, std::optional<std::int64_t> current_load,
                               completion<agent> done) {
  impl_->tell_agent(agent_id, std::move(done), msg::heartbeat_atom::value, current_load.has_value(),
                    current_load.value_or(0));
}

void registry::heartbeat_many(std::vector<heartbeat_item> items,
                              completion<std::vector<expected<heartbeat_ack>>> done) {
  impl_->heartbeat_many(std::move(items), std::move(done));
}

expected<agent> registry::update_status(const std::string& agent_id, agent_status status) {
  return impl::wait_for<agent>([&](completion<agent> done) { update_status_async(agent_id, status, std::move(done)); });
}

void registry::update_status_async(const std::string& agent_id, agent_status status, completion<agent> done) {
  if (auto ok = core::validate(status); !ok)
    return done(ok.error());
  if (status == agent_status::busy)
    return done(error{errc::invalid_status, "busy is derived from the load; it cannot be set"});
  impl_->tell_agent(agent_id, std::move(done), msg::status_atom::value, status);
}

expected<agent> registry::update_status(const std::string& agent_id, std::string_view status) {
  auto s = core::parse_agent_status(status);
  if (!s)
    return error{errc::invalid_status, "unknown status \"" + std::string{status} + "\" (online, offline, paused)"};
  return update_status(agent_id, *s);
}

expected<agent> registry::update_load(const std::string& agent_id, std::int64_t current_load) {
  return impl::wait_for<agent>(
      [&](completion<agent> done) { update_load_async(agent_id, current_load, std::move(done)); });
}

void registry::update_load_async(const std::string& agent_id, std::int64_t current_load, completion<agent> done) {
  impl_->tell_agent(agent_id, std::move(done), msg::load_atom::value, current_load);
}

// ---- selection --------------------------------------------------------------

expected<std::optional<agent>> registry::get_least_loaded_agent(const std::string& agent_type) {
  if (auto ok = core::validate_id(agent_type, "agent_type"); !ok)
    return ok.error();
  auto& ctx = impl_->ctx;
  const auto pool = ctx.index.find_pool(agent_type);
  if (!pool)
    return std::optional<agent>{};
  // A pick can race an unregistration: then pick again.
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto pick = ctx.index.least_loaded(*pool);
    if (!pick)
      return std::optional<agent>{};
    if (auto rec = ctx.agents.find_serial(pick->tag))
      return std::optional<agent>{actors::snapshot(*rec, ctx.index)};
  }
  return std::optional<agent>{};
}

expected<lease> registry::acquire(const std::string& agent_type, acquire_options options) {
  if (auto ok = core::validate_id(agent_type, "agent_type"); !ok)
    return ok.error();
  auto& ctx = impl_->ctx;
  // The index reclaims by the monotonic clock (a stepped wall clock must not
  // expire leases); the lease reports the wall-clock time.
  core::monotonic_time deadline = 0;
  core::timestamp expires_at = 0;
  if (options.ttl) {
    auto mono = lease_deadline(ctx.clock->monotonic(), *options.ttl);
    auto at = lease_deadline(ctx.clock->now(), *options.ttl);
    if (!mono)
      return mono.error();
    if (!at)
      return at.error();
    deadline = *mono;
    expires_at = *at;
  }
  const auto pool = ctx.index.find_pool(agent_type);
  if (!pool)
    return error{errc::unknown_type, "no agent of type " + agent_type + " was ever registered"};
  for (int attempt = 0; attempt < 16; ++attempt) {
    // The secret that proves the holding, from the operating system: a
    // lease that travels (HTTP) cannot be released or renewed by a client
    // that guesses.
    auto l = ctx.index.acquire(*pool, deadline, core::random_u64());
    if (!l) {
      if (l.error == index::errc::no_capacity)
        ctx.lease_counts.add(actors::lease_count_key(*pool, actors::lease_count::no_capacity));
      return actors::to_core(l.error, agent_type);
    }
    // The index granted the slot while the agent was in it (unregister
    // removes it from the index before it returns, and a move racing it
    // removes the new slot: actors::apply_spec), so the agent's id is all
    // that is left to find: none while its registration is not published,
    // nor once it left the slot under our feet (then pick again).
    auto agent_id = actors::agent_id_at(ctx.agents, ctx.index, l->agent);
    if (!agent_id) {
      ctx.index.release(*l);
      continue;
    }
    ctx.lease_counts.add(actors::lease_count_key(*pool, actors::lease_count::granted));
    actors::record_lease_change(ctx, core::change_kind::lease_granted, l->agent);
    return lease{std::move(*agent_id), l->token, l->agent.pool, l->agent.slot, l->agent.generation, l->record, expires_at};
  }
  return error{errc::no_capacity, "no agent of type " + agent_type + " stayed registered long enough"};
}

expected<unit> registry::release(const lease& l) {
  const auto e = impl_->ctx.index.release(index::lease{{l.pool, l.slot, l.generation}, l.record, l.lease_id});
  if (e == index::errc::ok) {
    impl_->ctx.lease_counts.add(actors::lease_count_key(l.pool, actors::lease_count::released));
    actors::record_lease_change(impl_->ctx, core::change_kind::lease_released, {l.pool, l.slot, l.generation});
    return unit{};
  }
  return lease_error(e);
}

expected<lease> registry::renew(const lease& l, std::chrono::nanoseconds ttl) {
  auto& ctx = impl_->ctx;
  const core::monotonic_time now = ctx.clock->monotonic();  // as in acquire()
  auto deadline = lease_deadline(now, ttl);
  auto expires_at = lease_deadline(ctx.clock->now(), ttl);
  if (!deadline)
    return deadline.error();
  if (!expires_at)
    return expires_at.error();
  auto renewed =
      ctx.index.renew(index::lease{{l.pool, l.slot, l.generation}, l.record, l.lease_id}, now, *deadline);
  if (!renewed)
    return lease_error(renewed.error);
  // The agent as the index's record names it, not as the caller's copy says
  // (a parsed lease carries no agent id).
  auto agent_id = actors::agent_id_at(ctx.agents, ctx.index, renewed->agent);
  return lease{agent_id ? std::move(*agent_id) : l.agent_id, renewed->token, renewed->agent.pool, renewed->agent.slot,
               renewed->agent.generation, renewed->record, *expires_at};
}

// ---- executions -------------------------------------------------------------

expected<std::string> registry::start_execution(const std::string& agent_id, execution_request request,
                                                when_backlog_full full) {
  auto rec = impl_->find(agent_id);
  if (!rec)
    return rec.error();
  for (const auto* field : {&request.task_type, &request.workflow_slug, &request.run_id})
    if (field->size() > core::max_name_length || !core::is_clean_text(*field))
      return error{errc::invalid_argument,
                   "task_type, workflow_slug and run_id are limited to 256 bytes of UTF-8 without NUL"};
  auto& ctx = impl_->ctx;
  if (ctx.persistence)
    if (auto room = impl_->admit(full); !room)
      return room.error();
  // After the backlog room, so that a call refused for room adds no key; a
  // refused key gives the room back.
  if (auto keys = impl_->admit_keys(request); !keys) {
    if (ctx.persistence && ctx.gate)
      ctx.gate->release(1);
    return keys.error();
  }
  const auto binding = (*rec)->binding();
  const core::uuid id = actors::execution_table::make_id();
  // The binding is shared, not copied.
  actors::running_execution running{binding,
                                    std::move(request.task_type), std::move(request.workflow_slug),
                                    std::move(request.run_id), ctx.clock->now(), ctx.clock->monotonic(),
                                    (*rec)->serial};
  if (ctx.config.database_url)  // running rows matter to persistence only
    impl_->nudge(ctx.records.put_started(actors::running_execution{running}.to_execution(id, ctx.prices.version())));
  ctx.executions.insert(id, std::move(running));
  return core::to_string(id);
}

expected<execution> registry::complete_execution(const std::string& execution_id, execution_status status,
                                                  const execution_metrics& metrics, when_backlog_full full) {
  if (auto ok = core::validate(status); !ok)
    return ok.error();
  if (status == execution_status::running)
    return error{errc::invalid_status, "an execution completes as success, failed or timeout"};
  const auto id = core::parse_uuid(execution_id);
  if (!id)
    return error{errc::invalid_argument, "execution_id must be a UUID, got \"" + execution_id + "\""};
  if (auto ok = core::validate(metrics); !ok)
    return ok.error();
  auto& ctx = impl_->ctx;
  if (auto room = impl_->admit(full); !room)
    return room.error();
  auto taken = ctx.executions.take(*id);
  if (!taken) {
    if (ctx.gate)
      ctx.gate->release(1);
    return taken.error();
  }
  const core::monotonic_time started_mono = taken->started_mono;
  const std::uint64_t agent_serial = taken->agent_serial;
  // A recovered execution's binding has no index handle (serial 0).
  const auto handle = agent_serial != 0 ? std::optional{taken->agent->ref} : std::nullopt;
  // Made in the answer's place: an execution is a dozen strings, and
  // moving them into the answer was a tenth of a start + complete pair.
  expected<execution> done{std::move(*taken).to_execution(*id, ctx.prices.version())};
  execution& e = *done;
  e.status = status;
  e.completed_at = ctx.clock->now();
  // Measured on the monotonic clock: a wall clock stepped meanwhile changes
  // completed_at, not the duration.
  e.duration_ms = std::max<std::int64_t>(0, (ctx.clock->monotonic() - started_mono) / core::ns_per_ms);
  e.prompt_tokens = metrics.prompt_tokens.value_or(0);
  e.completion_tokens = metrics.completion_tokens.value_or(0);
  e.cached_tokens = metrics.cached_tokens.value_or(0);
  e.total_tokens = metrics.total_tokens.value_or(e.prompt_tokens + e.completion_tokens);
  if (metrics.estimated_cost_usd) {
    e.cost_micro_usd = std::llround(*metrics.estimated_cost_usd * 1e6);
  } else if (const auto* price = ctx.prices.find(e.model_name)) {
    e.cost_micro_usd = core::price_table::cost_micro_usd(*price, e.prompt_tokens, e.completion_tokens, e.cached_tokens);
    e.cost_from_price_table = true;
  }
  e.success_score = metrics.success_score;
  e.retry_count = metrics.retry_count;
  e.error_message = metrics.error_message;
  actors::record_completion(ctx, *id, agent_serial, handle, e);
  ctx.work.completed(e);
  impl_->nudge(ctx.records.put_completed(e));
  return done;
}

expected<execution> registry::get_execution(const std::string& execution_id) const {
  const auto id = core::parse_uuid(execution_id);
  if (!id)
    return error{errc::invalid_argument, "execution_id must be a UUID, got \"" + execution_id + "\""};
  auto& ctx = impl_->ctx;
  auto running = ctx.executions.find(*id);
  if (!running)
    return running.error();
  return std::move(*running).to_execution(*id, ctx.prices.version());
}

expected<execution> registry::complete_execution(const std::string& execution_id, std::string_view status,
                                                  const execution_metrics& metrics, when_backlog_full full) {
  auto s = core::parse_execution_status(status);
  if (!s)
    return error{errc::invalid_status, "unknown status \"" + std::string{status} + "\" (success, failed, timeout)"};
  return complete_execution(execution_id, *s, metrics, full);
}

// ---- tools ------------------------------------------------------------------

expected<tool_usage> registry::record_tool_usage(const std::string& agent_id, const std::string& tool_name,
                                                 const tool_call& call, when_backlog_full full) {
  if (auto ok = core::validate_tool_call(tool_name, call); !ok)
    return ok.error();
  auto rec = impl_->find(agent_id);
  if (!rec)
    return rec.error();
  auto& ctx = impl_->ctx;
  if (auto room = impl_->admit(full); !room)
    return room.error();
  core::tool_call_record r{core::to_string(core::make_uuid()), agent_id, tool_name, call, ctx.clock->now()};
  // The record goes to the outbox before the count, under the same lock: a
  // tool usage snapshot the aggregator takes before draining the outbox then
  // never counts a call whose record the drain does not forward before it.
  auto added = ctx.tools.add(r, ctx.config.max_tools_per_agent, ctx.records);
  if (!added) {
    if (ctx.gate)
      ctx.gate->release(1);
    return added.error();
  }
  impl_->nudge(added->second);
  ctx.work.tool_calls(tool_name, call.success_count, call.failure_count, call.duration_ms);
  return std::move(added->first);
}

expected<std::vector<tool_usage>> registry::get_tool_usage(const std::string& agent_id) const {
  if (auto ok = core::validate_id(agent_id, "agent_id"); !ok)
    return ok.error();
  auto usage = impl_->ctx.tools.of(agent_id);
  if (usage.empty() && !impl_->ctx.agents.find(agent_id))
    return error{errc::unknown_agent, "agent " + agent_id + " is not registered"};
  return usage;
}

// ---- performance ------------------------------------------------------------

expected<performance> registry::get_performance(const std::string& agent_id) const {
  return impl::wait_for<performance>(
      [&](completion<performance> done) { get_performance_async(agent_id, std::move(done)); });
}

void registry::get_performance_async(const std::string& agent_id, completion<performance> done) const {
  impl_->get_performance_async(agent_id, std::move(done));
}

expected<std::vector<performance>> registry::get_performance_by(group_by dimension) const {
  return impl::wait_for<std::vector<performance>>(
      [&](completion<std::vector<performance>> done) { get_performance_by_async(dimension, std::move(done)); });
}

void registry::get_performance_by_async(group_by dimension, completion<std::vector<performance>> done) const {
  if (auto ok = core::validate(dimension); !ok)
    return done(ok.error());
  impl::ask_async<std::vector<performance>>(impl_->any_asker(), impl_->ctx.aggregator, std::move(done),
                                            msg::perf_by_atom::value, dimension);
}

// ---- operations -------------------------------------------------------------

expected<sweep_report> registry::sweep() {
  return impl::wait_for<sweep_report>([&](completion<sweep_report> done) { sweep_async(std::move(done)); });
}

void registry::sweep_async(completion<sweep_report> done) {
  impl::ask_async<sweep_report>(impl_->any_asker(), impl_->ctx.supervisor, std::move(done), msg::sweep_atom::value);
}

void registry::sync() const {
  // The aggregator answers after draining every outbox lane (so every
  // completion and tool call made before is counted and its record handed
  // on), the supervisor after every watch message enqueued before.
  impl_->ask<msg::aggregator_stats>(impl_->ctx.aggregator, msg::stats_atom::value);
  impl_->ask<msg::supervisor_stats>(impl_->ctx.supervisor, msg::stats_atom::value);
}

engine_stats registry::stats() const {
  auto s = impl::wait_for<engine_stats>([&](completion<engine_stats> done) { stats_async(std::move(done)); });
  return s ? std::move(*s) : engine_stats{};
}

void registry::stats_async(completion<engine_stats> done) const { impl_->stats_async(std::move(done)); }

// ---- metrics ----------------------------------------------------------------

metrics_snapshot registry::metrics() const {
  auto m = impl::wait_for<metrics_snapshot>([&](completion<metrics_snapshot> done) { metrics_async(std::move(done)); });
  return m ? std::move(*m) : metrics_snapshot{};
}

void registry::metrics_async(completion<metrics_snapshot> done) const { impl_->metrics_async(std::move(done)); }

// ---- change stream ----------------------------------------------------------

change_batch registry::changes_since(std::uint64_t revision, std::size_t max) const {
  return impl_->ctx.changes->changes_since(revision, max);
}

std::uint64_t registry::revision() const { return impl_->ctx.changes->revision(); }

std::unique_ptr<registry::change_subscription> registry::on_new_revision(
    std::function<void(std::uint64_t)> notify) const {
  return impl_->ctx.changes->subscribe(std::move(notify));
}

}  // namespace agentreg
