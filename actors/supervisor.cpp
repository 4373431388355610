#include "actors/supervisor.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/agent_actor.hpp"
#include "messages/errors.hpp"

namespace agentreg::actors {

namespace {

struct supervisor_state {
  engine_context* ctx = nullptr;
  std::unordered_map<caf::actor_addr, std::string> watched;
  msg::supervisor_stats stats;
  static inline const char* name = "agentreg.supervisor";
};

using supervisor_pointer = msg::supervisor_actor::stateful_pointer<supervisor_state>;

// Turns running executions older than the timeout into `timeout` completions.
std::int64_t time_out_executions(engine_context& ctx, core::timestamp now) {
  const auto cutoff = now - ctx.config.execution_timeout.count();
  msg::record_batch timed_out;
  timed_out.completed = ctx.executions.take_started_before(cutoff);
  for (auto& e : timed_out.completed) {
    e.status = core::execution_status::timeout;
    e.completed_at = now;
    e.duration_ms = (now - e.started_at) / core::ns_per_ms;
    e.error_message = "execution_timeout exceeded";
  }
  const auto n = static_cast<std::int64_t>(timed_out.completed.size());
  if (n > 0)
    caf::anon_send(ctx.aggregator, msg::batch_atom::value, std::move(timed_out));
  return n;
}

// One sweep; `done` receives the report once every eviction is applied.
template <class Done>
void run_sweep(supervisor_pointer self, Done done) {
  auto& ctx = *self->state.ctx;
  const auto began = std::chrono::steady_clock::now();
  const core::timestamp now = ctx.clock->now();
  core::sweep_report report;
  report.at = now;
  report.leases_reclaimed = static_cast<std::int64_t>(ctx.index.reclaim_expired(now));
  report.executions_timed_out = time_out_executions(ctx, now);

  const core::timestamp stale_before = now - ctx.config.stale_timeout.count();
  // A scan of the index's slots (contiguous, heartbeat stamped in each),
  // not of the directory's records: ~10 ns an agent instead of ~600.
  std::vector<std::pair<core::timestamp, std::uint64_t>> stale;  // (heartbeat, serial)
  std::int64_t online = 0;
  for (std::uint32_t pool = 0; pool < ctx.index.pool_count(); ++pool)
    ctx.index.scan(pool, [&](const index::agent_view& v) {
      ++report.agents_checked;
      if (v.status != index::agent_status::online && v.status != index::agent_status::busy)
        return;
      ++online;
      if (v.stamp < stale_before)
        stale.emplace_back(v.stamp, v.tag);
    });
  report.stale = static_cast<std::int64_t>(stale.size());

  const auto grace = ctx.config.start_grace.value_or(ctx.config.stale_timeout).count();
  report.in_grace_period = now < ctx.started_at + grace;
  report.degraded = online > 0 && static_cast<double>(stale.size()) >
                                      ctx.config.degraded_threshold * static_cast<double>(online);
  std::size_t evict = 0;
  if (!report.in_grace_period && !report.degraded) {
    const auto cap = static_cast<std::size_t>(
        std::max<double>(1, std::floor(ctx.config.max_eviction_fraction * static_cast<double>(online))));
    evict = std::min(stale.size(), cap);
  }
  // The longest silent go first.
  std::partial_sort(stale.begin(), stale.begin() + static_cast<std::ptrdiff_t>(evict), stale.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  report.held_back = report.stale - static_cast<std::int64_t>(evict);

  struct pending_sweep {
    core::sweep_report report;
    std::size_t waiting;
    Done done;
    std::chrono::steady_clock::time_point began;
  };
  auto pending = std::make_shared<pending_sweep>(pending_sweep{report, evict, std::move(done), began});
  auto finish = [self, pending] {
    auto& r = pending->report;
    r.sweep_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                      pending->began)
                     .count();
    auto& st = self->state.stats;
    ++st.sweeps;
    st.evictions_total += r.evicted;
    st.last_sweep = r;
    pending->done(r);
  };
  if (evict == 0) {
    finish();
    return;
  }
  for (std::size_t i = 0; i < evict; ++i) {
    auto rec = ctx.agents.find_serial(stale[i].second);
    if (!rec) {  // unregistered since the scan
      if (--pending->waiting == 0)
        finish();
      continue;
    }
    self->request(rec->actor(), caf::infinite, msg::offline_atom::value, stale_before)
        .then(
            [pending, finish](bool went_offline) {
              pending->report.evicted += went_offline ? 1 : 0;
              if (--pending->waiting == 0)
                finish();
            },
            [pending, finish](caf::error&) {
              if (--pending->waiting == 0)
                finish();
            });
  }
}

msg::supervisor_actor::behavior_type supervisor_behavior(supervisor_pointer self, engine_context* ctx) {
  self->state.ctx = ctx;
  self->set_down_handler([self](caf::down_msg& down) {
    auto it = self->state.watched.find(down.source);
    if (it == self->state.watched.end())
      return;
    const std::string agent_id = std::move(it->second);
    self->state.watched.erase(it);
    auto& engine = *self->state.ctx;
    auto rec = engine.agents.find(agent_id);
    // Respawn only an actor that died while its agent is still registered
    // and still points at it (not replaced, not unregistered).
    if (!rec || engine.stopping.load(std::memory_order_acquire) || rec->unregistered.load(std::memory_order_acquire) || rec->actor().address() != down.source)
      return;
    auto fresh = spawn_agent(self->system(), rec, engine);
    rec->set_actor(fresh);
    self->monitor(fresh);
    self->state.watched.emplace(fresh.address(), agent_id);
    ++self->state.stats.restarts;
  });
  if (ctx->config.auto_sweep)
    self->delayed_send(self, ctx->config.heartbeat_interval, caf::tick_atom::value);
  return {
      [=](msg::watch_atom, const msg::agent_actor& agent, std::string& agent_id) {
        self->monitor(agent);
        self->state.watched.emplace(agent.address(), std::move(agent_id));
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
