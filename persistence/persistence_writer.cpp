#include "persistence/persistence_writer.hpp"

#include <algorithm>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "persistence/batch_writer.hpp"
#include "persistence/migrations.hpp"

namespace agentreg::db {

namespace {

struct writer_state {
  writer_config cfg;
  std::shared_ptr<core::backlog_gate> gate;
  std::optional<batch_writer> writer;
  bool migrated = false;
  batch pending;
  std::int64_t pending_gated = 0;  // records in `pending` that hold room in the gate
  std::chrono::steady_clock::time_point oldest{};  // when `pending` got its first record
  std::chrono::steady_clock::time_point next_attempt{};
  std::chrono::milliseconds backoff{0};
  msg::persistence_stats stats;
  static inline const char* name = "agentreg.persistence_writer";

  // Writes everything pending, in transactions of at most two batches (a
  // backlog that built up during an outage is not sent as one huge
  // transaction). True when nothing is left; false after a failure, with the
  // unwritten records still pending.
  bool write_pending() {
    while (!pending.empty())
      if (!write_chunk())
        return false;
    return true;
  }

  bool write_chunk() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_attempt)
      return false;
    if (!migrated) {  // the database may have been down when the registry started
      auto m = migrate(cfg.url);
      if (!m)
        return failed(m.error().message);
      migrated = true;
    }
    if (!writer || writer->broken()) {
      writer.reset();
      auto w = batch_writer::connect(cfg.url);
      if (!w)
        return failed(w.error().message);
      writer.emplace(std::move(*w));
    }
    const std::size_t limit = 2 * std::max<std::size_t>(cfg.batch_size, 1);
    const bool whole = pending.size() <= limit;
    batch chunk;
    if (!whole) {  // a prefix of the executions and tool calls, every snapshot
      const auto n_exec = std::min(limit, pending.executions.size());
      const auto n_tools = std::min(limit - n_exec, pending.tool_calls.size());
      chunk.executions.assign(pending.executions.begin(), pending.executions.begin() + static_cast<std::ptrdiff_t>(n_exec));
      chunk.tool_calls.assign(pending.tool_calls.begin(), pending.tool_calls.begin() + static_cast<std::ptrdiff_t>(n_tools));
      chunk.agents = pending.agents;
      chunk.tool_usage = pending.tool_usage;
      chunk.performance = pending.performance;
    }
    const batch& out = whole ? pending : chunk;
    auto report = writer->write(out);
    if (!report)
      return failed(report.error().message);
    stats.connected = true;
    ++stats.batches;
    stats.rows += report->rows_written();
    // Executions and tool calls hold room in the gate; snapshots do not.
    const auto gated = static_cast<std::int64_t>(out.executions.size() + out.tool_calls.size());
    gate->release(gated);
    pending_gated -= gated;
    stats.buffered -= static_cast<std::int64_t>(out.size());
    if (whole) {
      pending.clear();
    } else {
      pending.executions.erase(pending.executions.begin(),
                               pending.executions.begin() + static_cast<std::ptrdiff_t>(chunk.executions.size()));
      pending.tool_calls.erase(pending.tool_calls.begin(),
                               pending.tool_calls.begin() + static_cast<std::ptrdiff_t>(chunk.tool_calls.size()));
      pending.agents.clear();
      pending.tool_usage.clear();
      pending.performance.clear();
    }
    backoff = std::chrono::milliseconds{0};
    return true;
  }

  bool failed(const std::string& why) {
    ++stats.retries;
    stats.last_error = why;
    stats.connected = false;
    backoff = std::clamp(backoff * 2, cfg.min_backoff, cfg.max_backoff);
    next_attempt = std::chrono::steady_clock::now() + backoff;
    return false;
  }

  void took(std::size_t records, std::int64_t gated) {
    if (pending.empty() || stats.buffered == 0)
      oldest = std::chrono::steady_clock::now();
    pending_gated += gated;
    stats.buffered += static_cast<std::int64_t>(records);
    if (pending.size() >= cfg.batch_size)
      write_pending();
  }
};

using writer_pointer = msg::persistence_actor::stateful_pointer<writer_state>;

template <class T>
void append(std::vector<T>& to, std::vector<T>& from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

msg::persistence_actor::behavior_type writer_behavior(writer_pointer self, writer_config cfg,
                                                      std::shared_ptr<core::backlog_gate> gate) {
  self->state.cfg = std::move(cfg);
  self->state.gate = std::move(gate);
  self->delayed_send(self, self->state.cfg.flush_interval, caf::tick_atom::value);
  return {
      [=](msg::batch_atom, msg::record_batch& b) {
        auto& st = self->state;
        // Started and completed executions and tool calls hold gate room
        // (admitted by the hot calls); snapshots do not.
        const auto n = b.started.size() + b.completed.size() + b.tool_calls.size();
        append(st.pending.executions, b.started);
        append(st.pending.executions, b.completed);
        append(st.pending.tool_calls, b.tool_calls);
        st.took(n, static_cast<std::int64_t>(n));
      },
      [=](msg::snapshot_atom, msg::snapshots& s) {
        auto& st = self->state;
        const auto n = s.agents.size() + s.tool_usage.size() + s.performance.size();
        append(st.pending.agents, s.agents);
        append(st.pending.tool_usage, s.tool_usage);
        append(st.pending.performance, s.performance);
        st.took(n, 0);
      },
      [=](caf::tick_atom) {
        auto& st = self->state;
        if (!st.pending.empty() && std::chrono::steady_clock::now() - st.oldest >= st.cfg.flush_interval)
          st.write_pending();
        self->delayed_send(self, st.cfg.flush_interval, caf::tick_atom::value);
      },
      [=](msg::flush_atom) {
        auto& st = self->state;
        st.next_attempt = {};  // an explicit flush tries now
        return st.write_pending();
      },
      [=](msg::stats_atom) { return self->state.stats; },
  };
}

}  // namespace

msg::persistence_actor spawn_persistence_writer(caf::actor_system& system, writer_config cfg,
                                                std::shared_ptr<core::backlog_gate> gate) {
  return system.spawn<caf::detached>(writer_behavior, std::move(cfg), std::move(gate));
}

}  // namespace agentreg::db
