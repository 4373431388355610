#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agentreg/registry.hpp"
#include "server/http.hpp"
#include "server/router.hpp"

namespace agentreg::http {

/// How the watchers are served.
struct watch_options {
  /// An SSE client with more than this queued and unwritten is sent a final
  /// "compacted" event and disconnected, rather than buffered without
  /// bound; it re-lists and watches again.
  std::size_t max_buffered_bytes = 1 << 20;
  /// A comment line this often on a quiet stream, so that a client (or a
  /// proxy) that vanished is noticed and idle timeouts do not cut it.
  std::chrono::milliseconds keep_alive{15'000};
  /// The longest `wait` a long poll may ask.
  std::chrono::milliseconds max_wait{300'000};
  /// Changes per SSE write and per long-poll answer.
  std::size_t batch = 1000;
};

/// What the watchers cost and did, for /metrics. Thread-safe.
struct watch_counters {
  std::atomic<std::int64_t> watchers{0};       ///< SSE streams and long polls open now
  std::atomic<std::int64_t> events_sent{0};    ///< change events written to SSE streams and polls
  std::atomic<std::int64_t> disconnects{0};    ///< slow SSE clients disconnected with "compacted"
};

/// The watchers of the change stream (GET /v1/watch), served by one thread
/// of the hub's own: it wakes when the registry publishes a revision (one
/// subscription, registry::on_new_revision) or a long poll's wait ends,
/// reads each batch of changes once for all the watchers at the same
/// revision, encodes it once, and hands the same bytes to every one of
/// them. No I/O thread ever reads the change log or waits for it.
/// Thread-safe.
class watch_hub {
 public:
  watch_hub(const registry& reg, watch_options options);
  /// stop(), then joins the thread.
  ~watch_hub();
  watch_hub(const watch_hub&) = delete;
  watch_hub& operator=(const watch_hub&) = delete;

  /// Streams every change after `since` to `w` as Server-Sent Events until
  /// the client leaves, falls behind (compacted) or the hub stops.
  void add_stream(std::uint64_t since, std::shared_ptr<stream_writer> w);
  /// Answers `respond` with the changes after `since` as soon as there are
  /// some (or `since` is compacted), or with none at `deadline`.
  void add_poll(std::uint64_t since, std::chrono::steady_clock::time_point deadline, responder respond);

  /// Answers every long poll now (with what there is), finishes every
  /// stream, and answers watchers that come later at once (503
  /// shutting_down): call before stopping the server, whose stop() would
  /// otherwise wait for them. Idempotent.
  void stop();

  [[nodiscard]] const watch_counters& counters() const { return counters_; }
  [[nodiscard]] const watch_options& options() const { return options_; }

 private:
  // One SSE watcher (shared with its connection's close callback).
  struct stream {
    std::uint64_t last = 0;  // the revision the client has everything up to
    std::shared_ptr<stream_writer> writer;
    std::atomic<bool> gone{false};  // set by the close callback (release; the hub reads it acquire)
    std::chrono::steady_clock::time_point last_write;
  };
  // One long poll.
  struct poll {
    std::uint64_t since = 0;
    std::chrono::steady_clock::time_point deadline;
    responder respond;
  };
  void run();
  void serve_streams(std::vector<std::shared_ptr<stream>>& streams, std::chrono::steady_clock::time_point now);
  void serve_polls(std::vector<poll>& polls, bool all);

  // What the hub's thread and the callbacks that wake it share (a stream's
  // close callback may run on an I/O thread after the hub is gone).
  struct inbox {
    std::mutex mutex;  // the fields below
    std::condition_variable wake;
    bool stop = false;
    bool dirty = false;  // a revision, a watcher added or gone: serve now
    std::vector<std::shared_ptr<stream>> streams;
    std::vector<poll> polls;
    void poke();
  };

  const registry& reg_;
  const watch_options options_;
  watch_counters counters_;
  const std::shared_ptr<inbox> inbox_ = std::make_shared<inbox>();
  std::unique_ptr<registry::change_subscription> subscription_;
  std::thread thread_;
};

/// Adds GET /v1/watch (docs/watch.md) to `table`: `?since=REV` as
/// Server-Sent Events (`id:` the revision; a Last-Event-ID header resumes
/// after it), or with `&wait=DURATION` as a long poll answering JSON.
void add_watch_routes(router& table, const registry& reg, watch_hub& hub);

/// The JSON of one change (an SSE event's data, a long poll's item).
std::string change_json(const core::change& c);

}  // namespace agentreg::http
