#include "actors/agent_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/changes.hpp"
#include "core/validate.hpp"

namespace agentreg::actors {

void touch(agent_record& rec, index::agent_ref ref, engine_context& ctx) {
  rec.last_heartbeat.store(ctx.clock->now(), std::memory_order_release);
  ctx.index.set_stamp(ref, ctx.clock->monotonic());
}

namespace {

struct agent_state {
  std::shared_ptr<agent_record> rec;
  // The record's binding, kept here too: this actor is its only writer once
  // it runs, so its own copy is always current, and reading it costs no
  // lock (the record's mutex is for other threads' readers).
  std::shared_ptr<const agent_binding> binding;
  engine_context* ctx = nullptr;
};

class agent_actor_impl;
using agent_pointer = agent_actor_impl*;

msg::agent_actor::behavior_type agent_behavior(agent_pointer self);

// A class, not a function given to spawn: CAF keeps a function-based
// actor's spawn arguments, until its first message, in an init function of
// two allocations of their own (the function and a shared tuple of the
// arguments: 112 bytes an agent, and two mallocs a registration, while it
// has had no message; heaptrack of agentreg-bench engine). A class keeps
// them in its members, in the actor's one allocation.
class agent_actor_impl final : public msg::agent_actor::base {
 public:
  agent_actor_impl(caf::actor_config& cfg, std::shared_ptr<agent_record> rec, engine_context* ctx)
      : msg::agent_actor::base(cfg) {
    state.rec = std::move(rec);
    state.ctx = ctx;
  }

  const char* name() const override { return "agentreg.agent"; }

  behavior_type make_behavior() override { return agent_behavior(this); }

  // The record holds this actor, and this actor the record: the state goes
  // when the actor exits, as a stateful_actor's does, which ends the cycle.
  void on_exit() override { state = {}; }

  agent_state state;
};

// An unregistration that ran during a move removed the slot it read from
// the binding, which the move may have closed and replaced (or reopened,
// when the move was refused): the slot left in the index then carries the
// agent's serial with no agent in the directory, and acquire would grant
// it. unregister_agent sets `unregistered` before it reads the binding; the
// actor reads the flag after it published the binding (both under the
// record's mutex, the fence for the reopened case), so one of the two
// removes the slot that stays.
// An agent still registered gets its label back here (a move to another
// type leaves the slot without one, also when refused after closing it):
// only after the flag was read, so that acquire names no agent by its
// label once its unregistration returned.
void label_or_remove(agent_state& st, index::agent_ref ref) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (st.rec->unregistered.load(std::memory_order_seq_cst))
    st.ctx->index.remove(ref);
  else
    st.ctx->index.set_label(ref, st.rec->agent_id);
}

// Rebinds the agent to a new spec: same pool (capacity change) or a new
// pool (type change, refused while it holds leases: they belong to the old
// pool). The index moves the slot in one step with respect to acquires, and
// makes the new pool only if the move succeeds. A paused agent stays paused;
// an offline one comes back online, as a registration does.
core::expected<core::agent> apply_spec(agent_state& st, core::agent_spec spec) {
  auto& idx = st.ctx->index;
  auto moved = idx.move(st.binding->ref, spec.agent_type, static_cast<std::uint32_t>(spec.max_capacity));
  if (!moved) {
    label_or_remove(st, st.binding->ref);
    return to_core(moved.error, st.rec->agent_id);
  }
  const index::agent_ref ref = moved.value;
  if (auto v = idx.view(ref); v && v->status == index::agent_status::offline)
    idx.set_status(ref, index::agent_status::online);
  st.binding = bind(st.ctx->profiles, std::move(spec), ref);
  st.rec->set_binding(st.binding);
  label_or_remove(st, ref);
  touch(*st.rec, ref, *st.ctx);
  record_agent_change(*st.ctx, core::change_kind::agent_updated, st.rec->serial);
  return snapshot(*st.rec, *st.binding, idx);
}

index::agent_ref ref_of(agent_pointer self) { return self->state.binding->ref; }

core::expected<core::agent> answer(agent_pointer self, index::errc e) {
  if (e != index::errc::ok)
    return to_core(e, self->state.rec->agent_id);
  return snapshot(*self->state.rec, *self->state.binding, self->state.ctx->index);
}

// Tells the change stream what moved since `before`: status, load.
void record_changes(agent_pointer self, const index::result<index::agent_view>& before) {
  auto& engine = *self->state.ctx;
  const auto after = engine.index.view(ref_of(self));
  if (!before || !after)
    return;
  if (after->status != before->status)
    record_agent_change(engine, core::change_kind::status_changed, self->state.rec->serial);
  else if (after->reported != before->reported)
    record_agent_change(engine, core::change_kind::load_changed, self->state.rec->serial);
}

// A heartbeat (both forms): refreshes the heartbeat, sets the load when
// given, brings an offline agent back. Answers what the index said.
index::errc beat(agent_pointer self, bool has_load, std::int64_t load) {
  auto& idx = self->state.ctx->index;
  if (has_load && !core::load_in_range(load))
    return index::errc::load_out_of_range;
  const auto r = ref_of(self);
  const auto before = idx.view(r);
  if (has_load)
    if (auto e = idx.set_load(r, load); e != index::errc::ok)
      return e;
  touch(*self->state.rec, r, *self->state.ctx);
  if (before && before->status == index::agent_status::offline)
    idx.set_status(r, index::agent_status::online);
  // Only a heartbeat that changes something is a change: one that only
  // refreshes the heartbeat publishes nothing (issue 11's coalescing).
  record_changes(self, before);
  return index::errc::ok;
}

// Every handler captures `self` alone and reaches the rest through it: CAF
// keeps the handlers (with their captures) in a behavior of each actor's
// own, allocated at its first message; with the helpers captured by value
// it took 432 bytes per agent, with `self` alone 288 (heaptrack of
// agentreg-bench engine --quick).
msg::agent_actor::behavior_type agent_behavior(agent_pointer self) {
  self->state.binding = self->state.rec->binding();
  auto* ctx = self->state.ctx;
  // The supervisor learns of a crash from the actor's own exit hook rather
  // than by monitoring it: registering then sends no message and keeps no
  // entry in a map of the supervisor's. Attached here, when the actor starts
  // (at its first message: it is spawned lazily), before any handler can
  // fail. A stop the engine asked for (unregistration, the registry's
  // teardown) is no crash.
  self->attach_functor([ctx, serial = self->state.rec->serial, addr = self->address()](const caf::error& reason) {
    if (reason == caf::exit_reason::user_shutdown || ctx->stopping.load(std::memory_order_acquire))
      return;
    caf::anon_send(ctx->supervisor, msg::crashed_atom::value, serial, addr);
  });
  return {
      [self](msg::heartbeat_atom, bool has_load, std::int64_t load, const msg::agent_reply& reply) {
        reply(answer(self, beat(self, has_load, load)));
      },
      [self](msg::heartbeat_atom, bool has_load, std::int64_t load, const msg::heartbeat_slot& slot) {
        if (const auto e = beat(self, has_load, load); e != index::errc::ok)
          return slot(to_core(e, self->state.rec->agent_id));
        core::heartbeat_ack ack;
        ack.last_heartbeat = self->state.rec->last_heartbeat.load(std::memory_order_relaxed);  // relaxed: this actor wrote it
        if (const auto v = self->state.ctx->index.view(ref_of(self))) {
          ack.current_load = v->load();
          ack.status = static_cast<core::agent_status>(v->status);
        }
        slot(std::move(ack));
      },
      [self](msg::status_atom, core::agent_status s, const msg::agent_reply& reply) {
        // The index packs the status in two bits beside a vacant bit: a value
        // past busy must never reach it.
        if (auto ok = core::validate(s); !ok)
          return reply(ok.error());
        const auto before = self->state.ctx->index.view(ref_of(self));
        const auto e = self->state.ctx->index.set_status(ref_of(self), static_cast<index::agent_status>(s));
        if (e == index::errc::ok)
          record_changes(self, before);
        reply(answer(self, e));
      },
      [self](msg::load_atom, std::int64_t load, const msg::agent_reply& reply) {
        if (!core::load_in_range(load))
          return reply(answer(self, index::errc::load_out_of_range));
        const auto before = self->state.ctx->index.view(ref_of(self));
        const auto e = self->state.ctx->index.set_load(ref_of(self), load);
        if (e == index::errc::ok)
          record_changes(self, before);
        reply(answer(self, e));
      },
      [self](msg::spec_atom, core::agent_spec& spec, const msg::agent_reply& reply) {
        reply(apply_spec(self->state, std::move(spec)));
      },
      [self](msg::offline_atom, core::monotonic_time stale_before) -> bool {
        auto& idx = self->state.ctx->index;
        const auto v = idx.view(ref_of(self));
        if (!v || v->stamp >= stale_before)  // heartbeat since the sweep's scan
          return false;
        if (v->status != index::agent_status::online && v->status != index::agent_status::busy)
          return false;
        if (idx.set_status(ref_of(self), index::agent_status::offline) != index::errc::ok)
          return false;
        record_agent_change(*self->state.ctx, core::change_kind::status_changed, self->state.rec->serial);
        return true;
      },
  };
}

}  // namespace

msg::agent_actor spawn_agent(caf::actor_system& system, std::shared_ptr<agent_record> rec, engine_context& ctx) {
  // Lazily: the actor is first scheduled by its first message, so a spawn
  // wakes no worker (an eager spawn schedules the actor at once just to run
  // its start and block again: a wake-up and ~2 500 instructions more per
  // registration, measured with callgrind), and an agent that never gets a
  // message never allocates its behavior.
  return system.spawn<agent_actor_impl, caf::lazy_init>(std::move(rec), &ctx);
}

}  // namespace agentreg::actors
