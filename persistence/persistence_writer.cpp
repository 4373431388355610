#include "persistence/persistence_writer.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <iostream>
#include <utility>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "persistence/batch_writer.hpp"
#include "persistence/migrations.hpp"

namespace agentreg::db {

namespace {

// Moves the first `n` records of `from` (kinds in batch order) into a new
// batch, which it answers; the rest stay in `from`, with the snapshot
// point (it is reached only once the last of its rows is written).
batch take_front(batch& from, std::size_t n) {
  batch front;
  auto move = [](auto& to, auto& v, std::size_t k) {
    k = std::min(k, v.size());
    to.insert(to.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.begin() + static_cast<std::ptrdiff_t>(k)));
    v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k));
  };
  auto take = [&](auto& to, auto& v) {
    const auto k = std::min(n, v.size());
    move(to, v, k);
    n -= k;
    return k;
  };
  take(front.agents, from.agents);
  move(front.execution_drains, from.execution_drains, take(front.executions, from.executions));
  move(front.tool_call_drains, from.tool_call_drains, take(front.tool_calls, from.tool_calls));
  take(front.tool_usage, from.tool_usage);
  take(front.performance, from.performance);
  return front;
}

// Executions and tool calls hold room in the gate; snapshots do not.
std::int64_t gated(const batch& b) { return static_cast<std::int64_t>(b.executions.size() + b.tool_calls.size()); }
std::int64_t snapshot_rows(const batch& b) {
  return static_cast<std::int64_t>(b.agents.size() + b.tool_usage.size() + b.performance.size());
}

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
  std::shared_ptr<published_stats> published;
  std::optional<batch_writer> writer;
  bool migrated = false;
  std::deque<batch> backlog;
  std::size_t waiting = 0;  // records in `backlog`
  std::uint64_t committed = 0;  // records ever committed (see sync_atom)
  // sync requests, by the point they wait for: answered once `committed` reaches it
  std::multimap<std::uint64_t, caf::typed_response_promise<bool>> syncs;
  std::chrono::steady_clock::time_point oldest{};  // when the oldest waiting record came
  std::chrono::steady_clock::time_point next_attempt{};
  std::chrono::milliseconds backoff{0};
  msg::persistence_stats stats;  // published after every change (publish)
  static inline const char* name = "agentreg.persistence_writer";

  void publish() const { published->publish(stats); }

  [[nodiscard]] std::size_t segment_limit() const { return 2 * std::max<std::size_t>(cfg.batch_size, 1); }

  // Moves `from` into the segments, opening new ones as they fill; with
  // `drains`, each record's drain goes beside it.
  template <class T>
  void add(std::vector<T> batch::*field, std::vector<T>& from, std::vector<std::uint64_t> batch::*drains = nullptr,
           std::uint64_t drain = 0) {
    for (auto& x : from) {
      if (backlog.empty() || backlog.back().size() >= segment_limit())
        backlog.emplace_back();
      auto& segment = backlog.back();
      if (drains) {
        auto& d = segment.*drains;
        d.resize((segment.*field).size(), 0);
        d.push_back(drain);
      }
      (segment.*field).push_back(std::move(x));
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
      auto w = batch_writer::connect(cfg.url, cfg.statement_timeout, cfg.run_id);
      if (!w)
        return failed(w.error().message);
      writer.emplace(std::move(*w));
    }
    batch& segment = backlog.front();
    auto report = writer->write(segment);
    if (!report) {
      if (writer->data_error())
        return refused(report.error().message);
      return failed(report.error().message);
    }
    stats.connected = true;
    ++stats.batches;
    stats.rows += report->rows_written();
    done_with_front();  // publishes
    return true;
  }

  // The database refused the front segment for its data: a record in it is
  // at fault, and writing it again would fail forever (and keep its room in
  // the gate, blocking every caller under `block`). The segment is split in
  // two, each half written on its own, so the good records land; a single
  // record still refused is kept in the dead-letter table instead. Each
  // split halves a part, so a segment of n records with one bad record costs
  // about 2 log2(n) transactions. True: go on with the next segment.
  bool refused(const std::string& why) {
    batch& segment = backlog.front();
    if (segment.size() > 1) {
      batch front = take_front(segment, segment.size() / 2);
      backlog.push_front(std::move(front));
      return true;
    }
    auto kept = writer->write_dead_letters(segment, why);
    if (!kept && !writer->data_error())
      return failed(kept.error().message);  // retried later: the record waits in place
    if (kept) {
      stats.dead_letters += *kept;
    } else {
      // Refused even as JSON text (the builder makes valid JSON, so this
      // would be a bug): said, and counted as lost.
      stats.lost += static_cast<std::int64_t>(segment.size());
      std::clog << "agentreg: a record the database refused could not be kept as a dead letter ("
                << kept.error().message << "); it is lost\n";
    }
    stats.last_error = why;
    done_with_front();  // publishes
    return true;
  }

  // The front segment is settled (committed or dead-lettered): its room in
  // the gate is given back and the syncs it completes are answered.
  void done_with_front() {
    const batch& segment = backlog.front();
    const auto room_held = gated(segment);
    gate->release(room_held);
    room->fetch_sub(room_held, std::memory_order_relaxed);  // relaxed: a count, read by the router after this actor is gone
    stats.buffered -= static_cast<std::int64_t>(segment.size());
    stats.snapshot_rows -= snapshot_rows(segment);
    waiting -= segment.size();
    committed += segment.size();
    backlog.pop_front();
    publish();
    while (!syncs.empty() && syncs.begin()->first <= committed) {
      syncs.begin()->second.deliver(true);
      syncs.erase(syncs.begin());
    }
    backoff = std::chrono::milliseconds{0};
  }

  bool failed(const std::string& why) {
    ++stats.retries;
    stats.last_error = why;
    stats.connected = false;
    publish();
    backoff = std::clamp(backoff * 2, cfg.min_backoff, cfg.max_backoff);
    next_attempt = std::chrono::steady_clock::now() + backoff;
    return false;
  }

  // Counts `records` just added to the open segment; flushes at batch_size.
  void took(std::size_t records) {
    if (waiting == 0)
      oldest = std::chrono::steady_clock::now();
    waiting += records;
    stats.buffered += static_cast<std::int64_t>(records);
    publish();
    if (waiting >= cfg.batch_size)
      write_pending();
  }
};

using writer_pointer = msg::persistence_writer_actor::stateful_pointer<writer_state>;

msg::persistence_writer_actor::behavior_type writer_behavior(writer_pointer self, writer_config cfg,
                                                      std::shared_ptr<core::backlog_gate> gate,
                                                      std::shared_ptr<std::atomic<std::int64_t>> room,
                                                      std::shared_ptr<published_stats> published) {
  self->state.cfg = std::move(cfg);
  self->state.gate = std::move(gate);
  self->state.room = std::move(room);
  self->state.published = std::move(published);
  self->delayed_send(self, self->state.cfg.flush_interval, caf::tick_atom::value);
  return {
      [=](msg::batch_atom, msg::record_batch& b) {
        auto& st = self->state;
        // Started and completed executions and tool calls hold gate room
        // (admitted by the hot calls); snapshots do not.
        const auto n = b.started.size() + b.completed.size() + b.tool_calls.size();
        // A running record counts nowhere: no drain.
        st.add(&batch::executions, b.started, &batch::execution_drains, 0);
        st.add(&batch::executions, b.completed, &batch::execution_drains, b.drain);
        st.add(&batch::tool_calls, b.tool_calls, &batch::tool_call_drains, b.drain);
        if (st.cfg.faults && core::fault_injection::take(st.cfg.faults->writer_deaths)) {
          self->quit(caf::exit_reason::unhandled_exception);  // a test's fault: dies holding them
          return;
        }
        st.took(n);
      },
      [=](msg::snapshot_atom, msg::snapshots& s) {
        auto& st = self->state;
        const auto n = s.agents.size() + s.tool_usage.size() + s.performance.size();
        const bool counts = !s.tool_usage.empty() || !s.performance.empty();
        st.add(&batch::agents, s.agents);
        st.add(&batch::tool_usage, s.tool_usage);
        st.add(&batch::performance, s.performance);
        // The segment holding the snapshot's last row records its point.
        if (counts && s.drain > 0 && !st.backlog.empty())
          st.backlog.back().snapshot_drain = std::max(st.backlog.back().snapshot_drain, s.drain);
        st.stats.snapshot_rows += static_cast<std::int64_t>(n);
        st.took(n);  // publishes
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
      [=](msg::sync_atom, std::uint64_t point) -> caf::result<bool> {
        auto& st = self->state;
        if (st.committed >= point)
          return true;
        auto rp = self->make_response_promise<bool>();
        st.syncs.emplace(point, rp);
        return rp;
      },
      // The protocol's; the router reads published_stats instead.
      [=](msg::stats_atom) { return self->state.stats; },
  };
}

}  // namespace

msg::persistence_writer_actor spawn_persistence_writer(caf::actor_system& system, writer_config cfg,
                                                std::shared_ptr<core::backlog_gate> gate,
                                                std::shared_ptr<std::atomic<std::int64_t>> room,
                                                std::shared_ptr<published_stats> published) {
  return system.spawn<caf::detached>(writer_behavior, std::move(cfg), std::move(gate), std::move(room),
                                     std::move(published));
}

}  // namespace agentreg::db
