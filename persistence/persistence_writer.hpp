#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include <caf/fwd.hpp>

#include "core/backlog_gate.hpp"
#include "core/fault_injection.hpp"
#include "messages/persistence.hpp"
#include "persistence/batch_writer.hpp"

namespace agentreg::db {

/// How the write-behind writer batches and retries.
struct writer_config {
  std::string url;
  /// Flush when this many records wait...
  std::size_t batch_size = 5000;
  /// ...or when the oldest has waited this long.
  std::chrono::milliseconds flush_interval{50};
  /// After a failure, wait this long, doubling per failure up to max_backoff.
  std::chrono::milliseconds min_backoff{50};
  std::chrono::milliseconds max_backoff{2000};
  /// Each statement of a write may run this long (batch_writer::connect).
  std::chrono::milliseconds statement_timeout = batch_writer::default_statement_timeout;
  /// How long the router waits for a writer's answer (flush, stats, a
  /// sync) before it takes the writer as not answering: a writer blocked in
  /// a statement cannot answer until the statement ends, and nothing in the
  /// engine may wait on it forever. A flush answers false then, and a
  /// snapshot release asks again (stats never ask: see published_stats).
  std::chrono::milliseconds request_timeout{15'000};
  /// The registry run the records belong to (batch_writer::connect).
  std::string run_id;
  /// Test-only faults (registry_config::faults); null: none.
  std::shared_ptr<core::fault_injection> faults;
};

/// A writer's counters as it last published them (after every change), for
/// its router to read without asking: a writer blocked in a statement (a
/// long write, a lock, a reconnect) handles no message until the statement
/// ends, and a stats() that asked it waited for the router's request
/// timeout (15 s at 1 M agents, on every scrape). Thread-safe: written by
/// the writer, read by the router.
class published_stats {
 public:
  void publish(const msg::persistence_stats& s) {
    std::lock_guard guard{mutex_};
    stats_ = s;
  }
  [[nodiscard]] msg::persistence_stats read() const {
    std::lock_guard guard{mutex_};
    return stats_;
  }

 private:
  mutable std::mutex mutex_;
  msg::persistence_stats stats_;  // guarded by mutex_
};

/// Spawns the write-behind persistence writer, detached (it blocks on
/// PostgreSQL), owning its connection. It collects records, writes them in
/// one transaction per flush (COPY into staging, INSERT ... ON CONFLICT, see
/// batch_writer), and releases what it committed from `gate`, subtracting it
/// from `room` too (the room its sender counts as held by this writer, so
/// that it can give back what a writer that died never committed). When the
/// database is down it keeps everything, reconnects with exponential
/// backoff and writes it all once it is back; a batch whose commit was not
/// acknowledged is written again, which the idempotent writes make harmless.
/// Its counters go to `published` whenever they change.
msg::persistence_writer_actor spawn_persistence_writer(caf::actor_system& system, writer_config cfg,
                                                std::shared_ptr<core::backlog_gate> gate,
                                                std::shared_ptr<std::atomic<std::int64_t>> room,
                                                std::shared_ptr<published_stats> published);

}  // namespace agentreg::db
