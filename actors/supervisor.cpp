#include "actors/supervisor.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/agent_actor.hpp"
#include "actors/changes.hpp"
#include "messages/errors.hpp"

namespace agentreg::actors {

namespace {

struct supervisor_state {
  engine_context* ctx = nullptr;
  msg::supervisor_stats stats;
  static inline const char* name = "agentreg.supervisor";
};

using supervisor_pointer = msg::supervisor_actor::stateful_pointer<supervisor_state>;

// Turns running executions older than the timeout into `timeout`
// completions, counted and persisted like any other.
std::int64_t time_out_executions(engine_context& ctx, core::timestamp now, core::monotonic_time mono) {
  auto timed_out = ctx.executions.take_started_before(mono - ctx.config.execution_timeout.count());
  const auto n = static_cast<std::int64_t>(timed_out.size());
  if (n > 0 && ctx.gate)  // the writer releases every execution it commits
    ctx.gate->force(n);
  for (auto& [id, running] : timed_out) {
    const auto duration_ms = (mono - running.started_mono) / core::ns_per_ms;
    const auto agent_serial = running.agent_serial;
    const auto handle = agent_serial != 0 ? std::optional{running.agent->ref} : std::nullopt;
    auto e = std::move(running).to_execution(id, ctx.prices.version());
    e.status = core::execution_status::timeout;
    e.completed_at = now;
    e.duration_ms = duration_ms;
    e.error_message = "execution_timeout exceeded";
    record_completion(ctx, id, agent_serial, handle, e);
    ctx.work.completed(e);
    if (ctx.records.put_completed(e))
      caf::anon_send(ctx.aggregator, msg::drain_atom::value);
  }
  return n;
}

// One sweep; `done` receives the report once every eviction is applied.
using sweep_done = std::function<void(const core::sweep_report&)>;

// A sweep whose evictions are being asked. Owned only by the answers still
// due (and the call that asks the next ones): once the last is in, nothing
// refers to it and it is freed. (It used to hold its own asking function,
// which held it back: a cycle that leaked every sweep.)
struct pending_sweep {
  core::sweep_report report;
  std::vector<std::uint64_t> serials;  // agents to evict, oldest heartbeat first
  std::size_t next = 0;                // next one to ask
  std::size_t waiting = 0;             // answers still due
  core::monotonic_time stale_before = 0;
  sweep_done done;
  std::chrono::steady_clock::time_point began;
};

void finish(supervisor_pointer self, pending_sweep& p) {
  auto& r = p.report;
  r.sweep_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - p.began).count();
  auto& st = self->state.stats;
  ++st.sweeps;
  st.evictions_total += r.evicted;
  st.evictions_held_total += r.held_back;
  st.leases_reclaimed_total += r.leases_reclaimed;
  st.last_sweep = r;
  record_sweep(*self->state.ctx, r);
  p.done(r);
}

// Evictions are asked of each agent's actor (the owner of its status), at
// most `in_flight` at a time: CAF 0.17 keeps pending responses in a flat
// map searched linearly, so 50 000 requests at once would cost quadratic
// time. Asks the next agents, keeping `in_flight` requests out; finishes
// when the last answer is in.
void ask_more(supervisor_pointer self, const std::shared_ptr<pending_sweep>& pending) {
  constexpr std::size_t in_flight = 512;
  auto& engine = *self->state.ctx;
  while (pending->waiting < in_flight && pending->next < pending->serials.size()) {
    auto rec = engine.agents.find_serial(pending->serials[pending->next++]);
    if (!rec)  // unregistered since the scan
      continue;
    ++pending->waiting;
    auto on_answer = [self, pending](bool went_offline) {
      pending->report.evicted += went_offline ? 1 : 0;
      --pending->waiting;
      ask_more(self, pending);
    };
    self->request(rec->actor(), caf::infinite, msg::offline_atom::value, pending->stale_before)
        .then(on_answer, [on_answer](caf::error&) { on_answer(false); });
  }
  if (pending->waiting == 0 && pending->next >= pending->serials.size())
    finish(self, *pending);
}

void run_sweep(supervisor_pointer self, sweep_done done) {
  auto& ctx = *self->state.ctx;
  const auto began = std::chrono::steady_clock::now();
  // The wall clock only dates the report and the completions; every
  // interval is measured on the monotonic clock, so a stepped wall clock
  // neither evicts the fleet nor reclaims leases early.
  const core::timestamp now = ctx.clock->now();
  const core::monotonic_time mono = ctx.clock->monotonic();
  core::sweep_report report;
  report.at = now;
  report.leases_reclaimed = static_cast<std::int64_t>(ctx.index.reclaim_expired(mono));
  report.executions_timed_out = time_out_executions(ctx, now, mono);

  const core::monotonic_time stale_before = mono - ctx.config.stale_timeout.count();
  // Scans of the index's slots (contiguous, heartbeat stamped in each), not
  // of the directory's records: ~10 ns an agent instead of ~600. Two, and
  // neither keeps anything per agent: the first counts, the second (only
  // when some agent is to go) keeps the `evict` longest silent in a heap of
  // that size. (One scan that kept every stale agent grew a vector of up to
  // one entry per agent each sweep, 16 MB of fresh pages at 1 M stale
  // agents, whose page faults made a sweep take from 6 to 228 ms.)
  const auto scan_online = [&ctx](auto&& f) {
    for (std::uint32_t pool = 0; pool < ctx.index.pool_count(); ++pool)
      ctx.index.scan(pool, [&](const index::agent_view& v) {
        if (v.status == index::agent_status::online || v.status == index::agent_status::busy)
          f(v);
      });
  };
  std::int64_t online = 0, stale = 0;
  for (std::uint32_t pool = 0; pool < ctx.index.pool_count(); ++pool)
    ctx.index.scan(pool, [&](const index::agent_view& v) {
      ++report.agents_checked;
      if (v.status != index::agent_status::online && v.status != index::agent_status::busy)
        return;
      ++online;
      stale += v.stamp < stale_before ? 1 : 0;
    });
  report.stale = stale;

  const auto grace = ctx.config.start_grace.value_or(ctx.config.stale_timeout).count();
  report.in_grace_period = mono < ctx.started + grace;
  // Below the minimum fleet the fraction guards hold nothing back.
  const bool guarded = online >= static_cast<std::int64_t>(ctx.config.degraded_min_online);
  report.degraded = guarded && online > 0 &&
                    static_cast<double>(stale) > ctx.config.degraded_threshold * static_cast<double>(online);
  std::size_t evict = 0;
  if (!report.in_grace_period && !report.degraded) {
    const auto cap = guarded ? static_cast<std::size_t>(std::max<double>(
                                   1, std::floor(ctx.config.max_eviction_fraction * static_cast<double>(online))))
                             : static_cast<std::size_t>(stale);
    evict = std::min(static_cast<std::size_t>(stale), cap);
  }
  report.held_back = report.stale - static_cast<std::int64_t>(evict);

  // The longest silent go first: a max-heap on the heartbeat keeps the
  // `evict` oldest seen so far, its top the youngest of them. An agent that
  // heartbeat between the scans is no longer stale here (fewer go); one
  // that goes stale between them may take the place of an older one.
  using candidate = std::pair<core::monotonic_time, std::uint64_t>;  // (heartbeat, serial)
  std::vector<candidate> oldest;
  if (evict > 0) {
    oldest.reserve(evict);
    const auto younger = [](const candidate& a, const candidate& b) { return a.first < b.first; };
    scan_online([&](const index::agent_view& v) {
      if (v.stamp >= stale_before)
        return;
      if (oldest.size() < evict) {
        oldest.emplace_back(v.stamp, v.tag);
        std::push_heap(oldest.begin(), oldest.end(), younger);
      } else if (v.stamp < oldest.front().first) {
        std::pop_heap(oldest.begin(), oldest.end(), younger);
        oldest.back() = {v.stamp, v.tag};
        std::push_heap(oldest.begin(), oldest.end(), younger);
      }
    });
    std::sort_heap(oldest.begin(), oldest.end(), younger);
  }

  auto pending = std::make_shared<pending_sweep>();
  pending->report = report;
  pending->stale_before = stale_before;
  pending->done = std::move(done);
  pending->began = began;
  pending->serials.reserve(oldest.size());
  for (const auto& c : oldest)
    pending->serials.push_back(c.second);
  ask_more(self, pending);
}

msg::supervisor_actor::behavior_type supervisor_behavior(supervisor_pointer self, engine_context* ctx) {
  self->state.ctx = ctx;
  if (ctx->config.auto_sweep)
    self->delayed_send(self, ctx->config.heartbeat_interval, caf::tick_atom::value);
  return {
      [=](msg::crashed_atom, std::uint64_t serial, const caf::actor_addr& ended) {
        auto& engine = *self->state.ctx;
        auto rec = engine.agents.find_serial(serial);
        // Respawn only an actor that died while its agent is still registered
        // and still points at it (not replaced, not unregistered).
        if (!rec || engine.stopping.load(std::memory_order_acquire) ||
            rec->unregistered.load(std::memory_order_acquire) || rec->actor().address() != ended)
          return;
        rec->set_actor(spawn_agent(self->system(), rec, engine));
        ++self->state.stats.restarts;
      },
      [=](msg::sweep_atom) -> caf::result<core::sweep_report> {
        auto rp = self->make_response_promise<core::sweep_report>();
        run_sweep(self, [rp](const core::sweep_report& r) mutable { rp.deliver(r); });
        return rp;
      },
      [=](caf::tick_atom) {
        run_sweep(self, [](const core::sweep_report&) {});
        self->delayed_send(self, self->state.ctx->config.heartbeat_interval, caf::tick_atom::value);
      },
      [=](msg::stats_atom) { return self->state.stats; },
  };
}

}  // namespace

msg::supervisor_actor spawn_supervisor(caf::actor_system& system, engine_context& ctx) {
  return system.spawn(supervisor_behavior, &ctx);
}

}  // namespace agentreg::actors
