#include "actors/changes.hpp"

namespace agentreg::actors {

void record_agent_change(engine_context& ctx, core::change_kind kind, std::uint64_t serial) {
  core::pending_change c;
  c.kind = kind;
  c.at = ctx.clock->now();
  c.serial = serial;
  ctx.changes->record(std::move(c));
}

void record_unregistered(engine_context& ctx, const std::string& agent_id, const std::string& agent_type) {
  core::pending_change c;
  c.kind = core::change_kind::agent_unregistered;
  c.at = ctx.clock->now();
  c.agent_id = agent_id;
  c.agent_type = agent_type;
  ctx.changes->record(std::move(c));
}

void record_lease_change(engine_context& ctx, core::change_kind kind, index::agent_ref ref) {
  // Leases come and go millions of times a second: a thread's lease changes
  // of one agent within a publishing round are one change, which carries
  // the agent's state when published (change_log::coalesces).
  if (ctx.changes->coalesces(ref.pool, ref.slot, ref.generation))
    return;
  core::pending_change c;
  c.kind = kind;
  c.at = ctx.clock->now();
  c.by_handle = true;
  c.pool = ref.pool;
  c.slot = ref.slot;
  c.generation = ref.generation;
  ctx.changes->record(std::move(c));
}

void record_completion(engine_context& ctx, const core::uuid& id, std::uint64_t agent_serial,
                       std::optional<index::agent_ref> handle, const core::execution& e) {
  core::pending_change c;
  c.kind = core::change_kind::execution_completed;
  c.at = e.completed_at;
  c.serial = agent_serial;
  if (handle) {
    c.by_handle = true;
    c.pool = handle->pool;
    c.slot = handle->slot;
    c.generation = handle->generation;
  }
  c.agent_id = e.agent_id;
  c.agent_type = e.agent_type;
  c.execution_id = id;
  c.outcome = e.status;
  c.duration_ms = e.duration_ms;
  c.total_tokens = e.total_tokens;
  c.cost_micro_usd = e.cost_micro_usd;
  ctx.changes->record(std::move(c));
}

void record_sweep(engine_context& ctx, const core::sweep_report& report) {
  core::pending_change c;
  c.at = report.at;
  if (report.leases_reclaimed > 0) {
    c.kind = core::change_kind::leases_expired;
    c.count = report.leases_reclaimed;
    ctx.changes->record(c);
  }
  if (report.degraded) {
    c.kind = core::change_kind::sweep_degraded;
    c.count = report.stale;
    ctx.changes->record(c);
  }
}

namespace {

// The agent's load and status as its index slot shows them.
void state_of(const index::agent_view& v, core::change& out) {
  out.current_load = v.load();
  out.status = static_cast<core::agent_status>(v.status);
}

}  // namespace

core::change_log::resolver change_resolver(const engine_context& ctx) {
  return [&ctx](const core::pending_change& in, core::change& out) {
    std::shared_ptr<agent_record> rec;
    if (in.by_handle) {
      const index::agent_ref ref{in.pool, in.slot, in.generation};
      if (auto v = ctx.index.view(ref)) {
        // A labelled agent is resolved from the index alone: its id from
        // the label (set once its registration was published), its type
        // from its pool, its state from its slot. No directory lock, no
        // record, no binding: the publisher resolves every lease change and
        // every completion, and on a machine whose CPUs the callers keep
        // busy its work is taken from theirs.
        if (auto label = ctx.index.label(ref)) {
          out.agent_id = label->view();
          out.agent_type = ctx.index.pool_name(in.pool);
          out.max_capacity = v.value.capacity;
          state_of(v.value, out);
          return true;
        }
        rec = ctx.agents.find_serial(v.value.tag);
      }
    }
    // Else by serial (a completion whose agent left its slot has one too),
    // else by id.
    if (!rec && in.serial != 0) {
      rec = ctx.agents.find_serial(in.serial);
      // An execution started before its agent was registered again (a new
      // serial): the agent of that id now.
      if (!rec && in.kind == core::change_kind::execution_completed && !in.agent_id.empty())
        rec = ctx.agents.find(in.agent_id);
    } else if (!rec && !in.by_handle && !in.agent_id.empty() && in.kind != core::change_kind::agent_unregistered) {
      rec = ctx.agents.find(in.agent_id);
    }
    if (!rec) {
      // Gone: an unregistration or a completion says what it recorded; a
      // change of an agent unregistered since is superseded by the
      // unregistration that follows it.
      out.status = core::agent_status::offline;
      switch (in.kind) {
        case core::change_kind::agent_unregistered:
        case core::change_kind::execution_completed:
        case core::change_kind::leases_expired:
        case core::change_kind::sweep_degraded: return true;
        default: return false;
      }
    }
    const auto binding = rec->binding();
    out.agent_id = rec->agent_id;
    out.agent_type = binding->profile->agent_type;
    out.max_capacity = binding->profile->max_capacity;
    if (auto v = ctx.index.view(binding->ref))
      state_of(v.value, out);
    return true;
  };
}

}  // namespace agentreg::actors
