#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/types.hpp"
#include "core/uuid.hpp"

namespace agentreg::core {

/// What changed. Each kind is one event a watcher cares about; a heartbeat
/// that only refreshes the timestamp is none of them.
enum class change_kind : std::uint8_t {
  agent_registered = 0,
  agent_updated = 1,       ///< spec changed by a re-registration
  status_changed = 2,      ///< online, offline (by hand or the sweep), paused, revived by a heartbeat
  load_changed = 3,        ///< the load the agent reports
  agent_unregistered = 4,
  lease_granted = 5,
  lease_released = 6,
  leases_expired = 7,      ///< the sweep reclaimed `count` leases past their TTL
  execution_completed = 8, ///< success, failed, or timeout (by the caller or the sweep)
  sweep_degraded = 9,      ///< a sweep held its evictions: `count` agents stale at once
};
const char* to_string(change_kind k);

/// One change, as watchers receive it. Agent fields hold the agent's state
/// when the change was published, which is at least as new as the change:
/// the last change of an agent always carries its latest published state
/// (watchers converge on the truth even where two threads' changes of one
/// agent are published in another order than they were made).
struct change {
  std::uint64_t revision = 0;
  change_kind kind = change_kind::agent_registered;
  timestamp at = 0;  ///< when the change was made
  // The agent (every kind but leases_expired and sweep_degraded).
  std::string agent_id;
  std::string agent_type;
  agent_status status = agent_status::online;
  std::int64_t current_load = 0;
  std::int64_t max_capacity = 0;
  /// leases_expired: leases reclaimed; sweep_degraded: agents stale.
  std::int64_t count = 0;
  // execution_completed.
  std::string execution_id;
  execution_status outcome = execution_status::running;
  std::int64_t duration_ms = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cost_micro_usd = 0;
};

/// What changes_since answers.
struct change_batch {
  /// The changes after the asked revision, oldest first (at most `max`).
  std::vector<change> changes;
  /// The last revision published. After reading every batch up to it, a
  /// watcher asks again from here.
  std::uint64_t revision = 0;
  /// The asked revision is no longer in the ring (or is ahead of this
  /// registry's, as after a restart): `changes` is empty, and the watcher
  /// re-lists and watches from the revision the listing carries.
  bool compacted = false;
  /// The oldest revision a watcher can still resume after.
  std::uint64_t compacted_revision = 0;
};

/// A change as recorded by the thread that made it, before it has a
/// revision. Plain data: the publisher fills in the agent's fields.
struct pending_change {
  change_kind kind = change_kind::agent_registered;
  timestamp at = 0;
  /// The agent by its serial (the directory's key), or by its index handle
  /// (leases: the hot paths have only that); 0 / unused when absent.
  std::uint64_t serial = 0;
  std::uint32_t pool = 0, slot = 0, generation = 0;
  bool by_handle = false;
  std::int64_t count = 0;
  /// Only where the agent may be gone when published: its id (unregistered,
  /// completed executions) and type.
  std::string agent_id;
  std::string agent_type;
  // execution_completed: the id as a number (the publisher writes its text).
  uuid execution_id;
  execution_status outcome = execution_status::running;
  std::int64_t duration_ms = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cost_micro_usd = 0;
};

/// The change stream: one sequence of revisions over the engine's changes,
/// kept in a bounded ring (`capacity` changes; older ones are compacted).
///
/// Recording is cheap and never waits: each thread appends to its own
/// single-producer ring (no lock, no shared cache line written per change).
/// A publisher thread gives the recorded changes their revisions in rounds
/// (at most every `publish_interval`, at most `round_limit` changes a round,
/// so it costs a bounded share of a CPU however fast changes come), fills
/// in the agents' state through the resolver, appends them to the ring and
/// tells the subscribers the new revision. A reader also publishes what was
/// recorded before it asks, so changes_since sees every change whose call
/// returned before.
///
/// Nothing is lost silently: a change that finds its thread's ring full is
/// counted, and the next round publishes a gap (a revision with no change)
/// and compacts the ring up to it, so every watcher that could have missed
/// the change is told "compacted" and re-lists. Thread-safe.
class change_log {
 public:
  /// Fills `out`'s agent fields from `in`; false drops the change (its
  /// agent is gone, and the unregistration that follows tells watchers).
  using resolver = std::function<bool(const pending_change& in, change& out)>;
  /// Told each new last revision, on the publisher's thread (or a
  /// reader's): must return quickly and never call back in.
  using subscriber = std::function<void(std::uint64_t revision)>;

  struct options {
    std::size_t capacity = 16384;       ///< changes kept in the ring
    std::size_t lane_capacity = 4096;   ///< changes a thread can have waiting to be published
    std::size_t round_limit = 8192;     ///< changes the publisher thread takes per round
    std::chrono::nanoseconds publish_interval = std::chrono::milliseconds{5};
    std::uint64_t first_revision = 0;   ///< revision of the empty log (see registry)
  };

  change_log(options opts, resolver resolve);
  /// Stops the publisher; no call may run meanwhile.
  ~change_log();
  change_log(const change_log&) = delete;
  change_log& operator=(const change_log&) = delete;

  /// Records a change made by the calling thread. Never waits. Thread-safe.
  void record(pending_change c);
  /// Whether a change of the agent at this index handle (pool, slot,
  /// generation) need not be recorded: the calling thread recorded one of
  /// it (by handle) since the last publishing round ended, no round is
  /// under way, and so that one is resolved after the caller's change (made
  /// before this call) and carries its state. A thread's lease changes of
  /// one agent between two rounds are so usually one change: the first
  /// one's kind, the latest state (two agents that share one of the lane's
  /// 64 marks are recorded each time). Never waits. Thread-safe.
  [[nodiscard]] bool coalesces(std::uint32_t pool, std::uint32_t slot, std::uint32_t generation);

  /// The changes after `revision`, at most `max`. Thread-safe.
  [[nodiscard]] change_batch changes_since(std::uint64_t revision, std::size_t max);
  /// The last revision published, after publishing what was recorded
  /// before the call. Read it before listing, watch from it after: nothing
  /// is missed (a change made meanwhile may come twice). Thread-safe.
  [[nodiscard]] std::uint64_t revision();
  /// The last revision published, without publishing. Thread-safe.
  [[nodiscard]] std::uint64_t published_revision() const { return revision_.load(std::memory_order_acquire); }
  /// The oldest revision a watcher can resume after. Thread-safe.
  [[nodiscard]] std::uint64_t compacted_revision() const;

  /// Calls `s` with the last revision each time it grows, until the handle
  /// is destroyed (which waits for a call in progress). Thread-safe.
  class subscription;
  [[nodiscard]] std::unique_ptr<subscription> subscribe(subscriber s);

  /// Changes dropped because a thread's ring was full (each made a gap).
  [[nodiscard]] std::uint64_t dropped() const;

 private:
  struct lane;
  struct subscriber_entry {
    std::uint64_t id;
    subscriber call;
  };

  lane& mine();
  // Publishes what the lanes hold, at most `limit` changes; under publish_mutex_.
  void publish(std::size_t limit);
  // Appends a published change to the ring, the oldest leaving when it is
  // full; under ring_mutex_.
  void push(change&& c);
  void run_publisher();

  const options opts_;
  const resolver resolve_;
  const std::uint64_t id_;  // tells this log's thread lanes from another's

  std::mutex lanes_mutex_;  // the lane list; taken when a thread first records
  std::vector<std::shared_ptr<lane>> lanes_;

  mutable std::mutex publish_mutex_;  // one publisher at a time; orders revisions
  std::uint64_t dropped_seen_ = 0;     // under publish_mutex_: drops a gap was published for
  std::uint64_t dropped_retired_ = 0;  // under publish_mutex_: drops of lanes forgotten
  // Twice the publishing rounds, plus one while a round is under way;
  // written under publish_mutex_, read by coalesces() (see there).
  std::atomic<std::uint64_t> round_{0};
  std::vector<change> ready_;          // under publish_mutex_: a round's changes, kept for its capacity

  mutable std::mutex ring_mutex_;  // the ring: publisher writes, readers copy
  // The ring, oldest first: change i is ring_[(ring_first_ + i) % ring_.size()]
  // for i < ring_count_. It grows to opts_.capacity slots and then keeps
  // them, each slot reused (with its strings' buffers) by a later change.
  std::vector<change> ring_;
  std::size_t ring_first_ = 0;
  std::size_t ring_count_ = 0;
  std::uint64_t compacted_revision_;
  // release: stored after the ring holds the change (under ring_mutex_);
  // acquire in published_revision pairs with it.
  std::atomic<std::uint64_t> revision_;

  std::mutex subscribers_mutex_;  // held while subscribers are called
  std::vector<subscriber_entry> subscribers_;
  std::uint64_t next_subscriber_ = 0;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  // Set by a recording thread that found it clear (acq_rel exchange), with
  // wake_mutex_ held for the notify; cleared by the publisher before it
  // drains, so a change recorded after the clear wakes it again.
  std::atomic<bool> signalled_{false};
  bool stopping_ = false;  // under wake_mutex_
  std::thread publisher_;

  friend class subscription;
};

class change_log::subscription {
 public:
  subscription(change_log& log, std::uint64_t id) : log_(log), id_(id) {}
  ~subscription();
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;

 private:
  change_log& log_;
  std::uint64_t id_;
};

}  // namespace agentreg::core
