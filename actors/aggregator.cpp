#include "actors/aggregator.hpp"

#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/summary.hpp"
#include "messages/errors.hpp"

namespace agentreg::actors {

namespace {

struct aggregator_state {
  engine_context* ctx = nullptr;
  core::summary_set summaries;
  msg::aggregator_stats stats;
  // Set by the restore message, which the registry sends once recovery
  // succeeded: before it, no snapshot is sent, since the summaries would
  // lack what the database holds and overwrite its totals with smaller ones.
  bool recovered = false;
  // Drains that forwarded records, numbered from 1 (see record_batch::drain).
  std::uint64_t drains = 0;
  // Tool usage as persistence counts it: built from the records forwarded
  // (the callers' table, ctx->tools, counts a call slightly before its
  // record leaves the outbox), so that a snapshot counts exactly the tool
  // calls of the drains up to its own; `changed` since the last snapshot.
  struct tool_totals {
    core::tool_accumulator totals;
    bool changed = true;
  };
  std::map<std::pair<std::string, std::string>, tool_totals> tools;
  // What the last snapshot sent, so that the next one sends only the rows
  // that changed since (the persistence router keeps every row sent until
  // it is committed, and merges newer rows of a key over older ones, so the
  // database gets every change). Summaries: the executions each counted
  // (every change of a summary adds some).
  std::array<std::unordered_map<std::string, std::int64_t, core::string_hash, std::equal_to<>>,
             core::summary_set::dimensions>
      sent_executions;
  // Agents: what each row said (a new spec comes with a new binding, and is
  // sent at once anyway by the changed message). The binding's address is
  // only compared, never followed.
  struct agent_mark {
    const void* binding = nullptr;
    core::timestamp heartbeat = 0;
    std::int64_t load = 0;
    core::agent_status status = core::agent_status::offline;
    bool operator==(const agent_mark&) const = default;
  };
  std::unordered_map<std::string, agent_mark, core::string_hash, std::equal_to<>> sent_agents;
  static inline const char* name = "agentreg.aggregator";

  // Takes in everything callers left in the outbox, so that an answer counts
  // every execution completed before the question was asked, and hands the
  // records on to persistence in the same step as their counts are folded.
  void catch_up() {
    auto drained = ctx->records.drain(summaries);
    stats.executions_completed += drained.completed;
    stats.tool_calls += drained.tool_calls;
    if (ctx->gate && drained.superseded > 0)  // admitted, now never to be written
      ctx->gate->release(drained.superseded);
    if (ctx->persistence && !drained.records.empty()) {
      drained.records.drain = ++drains;
      for (const auto& r : drained.records.tool_calls) {
        auto& t = tools[{r.agent_id, r.tool_name}];
        t.totals.add(r);
        t.changed = true;
      }
      caf::anon_send(ctx->persistence, msg::batch_atom::value, std::move(drained.records));
    }
  }

  // Every summary, tool usage and agent row that changed since the last
  // snapshot, as absolute values, to persistence (nothing when none did).
  // Summaries and tool usage hold exactly what the drains up to this one
  // brought (and what recovery restored), so the snapshot counts through
  // `drains`, and every record it counts was forwarded before it. The first
  // snapshot after recovery sends every row (none was sent before), folded
  // totals included.
  void send_snapshots() {
    if (!ctx->persistence || !recovered)
      return;
    ++stats.snapshots;
    msg::snapshots s;
    const auto now = ctx->clock->now();
    catch_up();
    s.drain = drains;
    for (auto& [key, t] : tools)
      if (std::exchange(t.changed, false))
        s.tool_usage.push_back(
            {t.totals.snapshot(key.first, key.second), t.totals.durations().buckets(), now, drains});
    for (std::size_t d = 0; d < core::summary_set::dimensions; ++d) {
      const auto dim = static_cast<core::group_by>(d);
      auto& sent = sent_executions[d];
      for (const auto& [key, acc] : summaries.of(dim)) {
        auto [it, added] = sent.try_emplace(key, -1);
        if (!added && it->second == acc.executions())
          continue;
        it->second = acc.executions();
        s.performance.push_back({acc.snapshot(dim, key), acc.durations().buckets(), now, drains});
      }
    }
    ctx->agents.for_each([&](const std::shared_ptr<agent_record>& rec) {
      if (auto row = agent_row(*rec, false))
        s.agents.push_back(std::move(*row));
    });
    if (s.agents.empty() && s.tool_usage.empty() && s.performance.empty())
      return;
    caf::anon_send(ctx->persistence, msg::snapshot_atom::value, std::move(s));
  }

  // The row of agent `rec` as persistence stores it, unless it is what the
  // last one sent said and not `always`; remembered as sent.
  std::optional<core::agent_snapshot> agent_row(const agent_record& rec, bool always) {
    const auto binding = rec.binding();
    core::agent_snapshot row{snapshot(rec, ctx->index), false, 0};
    const agent_mark mark{binding.get(), row.agent.last_heartbeat, row.agent.current_load, row.agent.status};
    auto [it, added] = sent_agents.try_emplace(rec.agent_id, mark);
    if (!added && it->second == mark && !always)
      return std::nullopt;
    it->second = mark;
    return row;
  }

  // Persisted summaries are added to what may already be counted (a
  // timeout the sweep drained first), not put in its place.
  void restore(const std::vector<core::performance_snapshot>& snaps,
               const std::vector<core::tool_usage_snapshot>& tool_snaps) {
    recovered = true;
    if (ctx->persistence)
      for (const auto& t : tool_snaps) {
        core::tool_accumulator persisted;
        persisted.restore(t.usage, core::log_histogram::from_buckets(t.durations));
        tools[{t.usage.agent_id, t.usage.tool_name}].totals.merge(persisted);
      }
    for (const auto& p : snaps) {
      if (static_cast<std::size_t>(p.summary.dimension) >= core::summary_set::dimensions)
        continue;
      core::performance_accumulator persisted;
      persisted.restore(p.summary, core::log_histogram::from_buckets(p.durations));
      summaries.at(p.summary.dimension, p.summary.key).merge(persisted);
    }
  }
};

using aggregator_pointer = msg::aggregator_actor::stateful_pointer<aggregator_state>;

// How often the aggregator drains partial outbox lanes by itself: bounds how
// long a record waits when its caller's lane does not fill.
constexpr auto drain_interval = std::chrono::milliseconds{10};

msg::aggregator_actor::behavior_type aggregator_behavior(aggregator_pointer self, engine_context* ctx) {
  self->state.ctx = ctx;
  self->delayed_send(self, drain_interval, caf::tick_atom::value);
  auto last_snapshot = std::make_shared<core::monotonic_time>(ctx->clock->monotonic());
  return {
      [=](msg::drain_atom) { self->state.catch_up(); },
      [=](caf::tick_atom) {
        auto& st = self->state;
        st.catch_up();
        // Summaries go to the database every performance_update_interval.
        const auto now = st.ctx->clock->monotonic();  // an interval: never the wall clock
        if (st.ctx->persistence && now - *last_snapshot >= st.ctx->config.performance_update_interval.count()) {
          *last_snapshot = now;
          st.send_snapshots();
        }
        if (!st.ctx->stopping.load(std::memory_order_acquire))
          self->delayed_send(self, drain_interval, caf::tick_atom::value);
      },
      [=](msg::perf_atom, core::group_by dim, const std::string& key) -> caf::result<core::performance> {
        self->state.catch_up();
        if (static_cast<std::size_t>(dim) >= core::summary_set::dimensions)
          return msg::to_caf(core::errc::invalid_argument, "unknown group_by dimension");
        const auto& table = self->state.summaries.of(dim);
        auto it = table.find(key);
        if (it == table.end())
          return msg::to_caf(core::errc::unknown_agent, "nothing recorded for " + key);
        return it->second.snapshot(dim, key);
      },
      [=](msg::perf_by_atom, core::group_by dim) {
        self->state.catch_up();
        std::vector<core::performance> out;
        std::map<std::string_view, const core::performance_accumulator*> ordered;
        for (const auto& [key, acc] : self->state.summaries.of(dim))
          ordered.emplace(key, &acc);
        for (const auto& [key, acc] : ordered)
          out.push_back(acc->snapshot(dim, std::string{key}));
        return out;
      },
      [=](msg::changed_atom, const std::string& agent_id) {
        auto& st = self->state;
        if (!st.ctx->persistence)
          return;
        auto rec = st.ctx->agents.find(agent_id);
        if (!rec)
          return;  // unregistered since: its unregistration follows, or came first
        msg::snapshots s;
        s.agents.push_back(*st.agent_row(*rec, true));
        caf::anon_send(st.ctx->persistence, msg::snapshot_atom::value, std::move(s));
      },
      [=](msg::unreg_atom, core::agent_snapshot& last, std::uint64_t serial) {
        auto& st = self->state;
        if (!st.ctx->persistence)
          return;
        if (auto now = st.ctx->agents.find(last.agent.agent_id); now && now->serial != serial)
          return;  // registered again since: that registration is what persistence must keep
        st.sent_agents.erase(last.agent.agent_id);  // a later registration is a new row
        msg::snapshots s;
        s.agents.push_back(std::move(last));
        caf::anon_send(st.ctx->persistence, msg::snapshot_atom::value, std::move(s));
      },
      [=](msg::restore_atom, const std::vector<core::performance_snapshot>& snaps,
          const std::vector<core::tool_usage_snapshot>& tool_snaps) { self->state.restore(snaps, tool_snaps); },
      [=](msg::publish_atom) {
        self->state.catch_up();
        self->state.send_snapshots();
        return true;
      },
      [=](msg::stats_atom) {
        self->state.catch_up();
        return self->state.stats;
      },
  };
}

}  // namespace

msg::aggregator_actor spawn_aggregator(caf::actor_system& system, engine_context& ctx) {
  return system.spawn(aggregator_behavior, &ctx);
}

}  // namespace agentreg::actors
