#include "persistence/persistence_writer.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <utility>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "persistence/batch_writer.hpp"
#include "persistence/migrations.hpp"

namespace agentreg::db {

namespace {

// Records wait in segments, in arrival order, each closed once it holds two
// batches' worth. A flush writes the segments front to back, one
// transaction each, and drops a segment only once it is committed: a failed
// one stays in place to be written again, and nothing is copied to be
// written. A backlog that built up during an outage thus goes out in
// transactions of at most two batches, not as one huge transaction.
struct writer_state {
  writer_config cfg;
  std::shared_ptr<core::backlog_gate> gate;
  std::shared_ptr<std::atomic<std::int64_t>> room;
  std::optional<batch_writer> writer;
  bool migrated = false;
  std::deque<batch> backlog;
  std::size_t waiting = 0;  // records in `backlog`
  std::uint64_t received = 0, committed = 0;  // records ever received, ever committed
  // sync requests: answered once `committed` reaches their `received`
  std::deque<std::pair<std::uint64_t, caf::typed_response_promise<bool>>> syncs;
  std::chrono::steady_clock::time_point oldest{};  // when the oldest waiting record came
  std::chrono::steady_clock::time_point next_attempt{};
  std::chrono::milliseconds backoff{0};
  msg::persistence_stats stats;
  static inline const char* name = "agentreg.persistence_writer";

  [[nodiscard]] std::size_t segment_limit() const { return 2 * std::max<std::size_t>(cfg.batch_size, 1); }

  // Moves `from` into the segments, opening new ones as they fill.
  template <class T>
  void add(std::vector<T> batch::*field, std::vector<T>& from) {
    for (auto& x : from) {
      if (backlog.empty() || backlog.back().size() >= segment_limit())
        backlog.emplace_back();
      (backlog.back().*field).push_back(std::move(x));
    }
  }

  // Writes every waiting segment. True when nothing is left; false after a
  // failure, with the unwritten segments still waiting.
  bool write_pending() {
    while (!backlog.empty())
      if (!write_front())
        return false;
    return true;
  }

  bool write_front() {
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
    const batch& segment = backlog.front();
    auto report = writer->write(segment);
    if (!report)
      return failed(report.error().message);
    stats.connected = true;
    ++stats.batches;
    stats.rows += report->rows_written();
    // Executions and tool calls hold room in the gate; snapshots do not.
    const auto gated = static_cast<std::int64_t>(segment.executions.size() + segment.tool_calls.size());
    gate->release(gated);
    room->fetch_sub(gated, std::memory_order_relaxed);  // relaxed: a count, read by the router after this actor is gone
    stats.buffered -= static_cast<std::int64_t>(segment.size());
    waiting -= segment.size();
    committed += segment.size();
    backlog.pop_front();
    while (!syncs.empty() && syncs.front().first <= committed) {
      syncs.front().second.deliver(true);
      syncs.pop_front();
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

  // Counts `records` just added to the open segment; flushes at batch_size.
  void took(std::size_t records) {
    if (waiting == 0)
      oldest = std::chrono::steady_clock::now();
    waiting += records;
    received += records;
    stats.buffered += static_cast<std::int64_t>(records);
    if (waiting >= cfg.batch_size)
      write_pending();
  }
};

using writer_pointer = msg::persistence_actor::stateful_pointer<writer_state>;

msg::persistence_actor::behavior_type writer_behavior(writer_pointer self, writer_config cfg,
                                                      std::shared_ptr<core::backlog_gate> gate,
                                                      std::shared_ptr<std::atomic<std::int64_t>> room) {
  self->state.cfg = std::move(cfg);
  self->state.gate = std::move(gate);
  self->state.room = std::move(room);
  self->delayed_send(self, self->state.cfg.flush_interval, caf::tick_atom::value);
  return {
      [=](msg::batch_atom, msg::record_batch& b) {
        auto& st = self->state;
        // Started and completed executions and tool calls hold gate room
        // (admitted by the hot calls); snapshots do not.
        const auto n = b.started.size() + b.completed.size() + b.tool_calls.size();
        st.add(&batch::executions, b.started);
        st.add(&batch::executions, b.completed);
        st.add(&batch::tool_calls, b.tool_calls);
        st.took(n);
      },
      [=](msg::snapshot_atom, msg::snapshots& s) {
        auto& st = self->state;
        const auto n = s.agents.size() + s.tool_usage.size() + s.performance.size();
        st.add(&batch::agents, s.agents);
        st.add(&batch::tool_usage, s.tool_usage);
        st.add(&batch::performance, s.performance);
        st.took(n);
      },
      [=](caf::tick_atom) {
        auto& st = self->state;
        if (st.waiting > 0 && std::chrono::steady_clock::now() - st.oldest >= st.cfg.flush_interval)
          st.write_pending();
        self->delayed_send(self, st.cfg.flush_interval, caf::tick_atom::value);
      },
      [=](msg::flush_atom) {
        auto& st = self->state;
        st.next_attempt = {};  // an explicit flush tries now
        return st.write_pending();
      },
      [=](msg::sync_atom) -> caf::result<bool> {
        auto& st = self->state;
        if (st.committed >= st.received)
          return true;
        auto rp = self->make_response_promise<bool>();
        st.syncs.emplace_back(st.received, rp);
        return rp;
      },
      [=](msg::stats_atom) { return self->state.stats; },
  };
}

}  // namespace

msg::persistence_actor spawn_persistence_writer(caf::actor_system& system, writer_config cfg,
                                                std::shared_ptr<core::backlog_gate> gate,
                                                std::shared_ptr<std::atomic<std::int64_t>> room) {
  return system.spawn<caf::detached>(writer_behavior, std::move(cfg), std::move(gate), std::move(room));
}

}  // namespace agentreg::db
