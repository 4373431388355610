#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_set.hpp>

#include "actors/agent_binding.hpp"
#include "core/spin_lock.hpp"
#include "core/string_hash.hpp"
#include "core/types.hpp"
#include "index/priority_index.hpp"
#include "messages/agent.hpp"

namespace agentreg::actors {

/// What the engine knows of one agent, published for lock-free reads.
/// Written by the agent's actor (binding, heartbeat), read by any thread.
struct agent_record {
  agent_record(std::string id, std::uint64_t serial_number, core::timestamp registered)
      : agent_id(std::move(id)), serial(serial_number), registered_at(registered), last_heartbeat(registered) {}

  const std::string agent_id;
  const std::uint64_t serial;  ///< the tag this agent carries in the index
  const core::timestamp registered_at;

  /// The spec and index handle. Owner actor only writes; any thread reads.
  std::shared_ptr<const agent_binding> binding() const {
    std::lock_guard guard{mutex_};
    return binding_;
  }
  void set_binding(std::shared_ptr<const agent_binding> b) {
    std::lock_guard guard{mutex_};
    binding_ = std::move(b);
  }
  /// Wall-clock time of the last heartbeat, as reported (the sweep measures
  /// staleness from the monotonic stamp touch() leaves in the index).
  /// Owner actor only writes (release); any thread reads (acquire).
  std::atomic<core::timestamp> last_heartbeat;
  /// Set once by unregister, before the actor is told to stop.
  std::atomic<bool> unregistered{false};

  /// The agent's actor; replaced by the supervisor when it respawns one.
  msg::agent_actor actor() const {
    std::lock_guard guard{mutex_};
    return actor_;
  }
  void set_actor(msg::agent_actor a) {
    std::lock_guard guard{mutex_};
    actor_ = std::move(a);
  }

 private:
  // Guards binding_ and actor_: both change rarely, and a lock is cheaper
  // here than libstdc++'s atomic<shared_ptr> (and visible to TSan). One
  // byte where std::mutex took 40: with make_shared's control block the
  // record's allocation went from 144 to 104 bytes.
  mutable core::spin_lock mutex_;
  std::shared_ptr<const agent_binding> binding_;
  msg::agent_actor actor_;
};

/// The agent as callers see it, read from the record and the index. Thread-safe.
core::agent snapshot(const agent_record& rec, const index::priority_index& idx);
/// The same, with the record's binding already at hand (its owner actor
/// keeps one: no lock). Thread-safe.
core::agent snapshot(const agent_record& rec, const agent_binding& binding, const index::priority_index& idx);

class directory;

/// The id of the agent `ref` names: the label the index keeps for it (set
/// once its registration is published, for ids of up to
/// index::agent_label::max_size bytes), else its record's, found by the
/// slot's tag. nullopt once the agent has left the slot, and while its
/// registration is not published (a loser of two registrations of one id
/// has no label and no record by serial). A labelled agent costs no lock
/// and writes nothing shared, so threads picking the same agents keep
/// their copies of its lines (acquire's hot path). Thread-safe.
std::optional<std::string> agent_id_at(const directory& agents, const index::priority_index& idx,
                                       index::agent_ref ref);

/// Every registered agent, by id and by serial. Sharded: readers of
/// different shards never meet, and readers of one shard share its lock.
/// Thread-safe.
class directory {
 public:
  std::shared_ptr<agent_record> find(std::string_view agent_id) const;
  std::shared_ptr<agent_record> find_serial(std::uint64_t serial) const;

  /// Inserts `rec` unless its id is taken; answers the record now under the
  /// id and whether it is `rec`.
  std::pair<std::shared_ptr<agent_record>, bool> insert(std::shared_ptr<agent_record> rec);

  /// Removes `rec` if it is still the record under its id.
  bool erase(const agent_record& rec);

  /// Calls f(const std::shared_ptr<agent_record>&) for every record, one
  /// shard at a time under its shared lock: f must not call back in.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& s : by_id_) {
      std::shared_lock guard{s.mutex};
      for (const auto& rec : s.map)
        f(rec);
    }
  }

  /// Empties the directory and answers every record it held, in the order
  /// they were registered (by serial). For a teardown: letting records and
  /// their actors go in the order they were allocated lets glibc's free
  /// merge each chunk with the one freed just before it, still in cache,
  /// rather than with a neighbour anywhere in the heap (in hash order, the
  /// frees of 1 M agents took twice as long: agentreg-bench engine).
  /// Reads each record's serial once; sorts only a directory whose serials
  /// are spread over more than twice its size.
  /// Locks one shard at a time: finds meanwhile are safe (and find nothing
  /// once it is done); an insert or erase meanwhile is not (each takes its
  /// two locks one after the other, and could be cut in two). For the
  /// teardown, when no call of the registry runs.
  std::vector<std::shared_ptr<agent_record>> take_all();

  [[nodiscard]] std::size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t shard_count = 64;
  template <class Map>
  struct alignas(64) shard {
    mutable std::shared_mutex mutex;
    Map map;
  };
  // Open addressing (Boost's flat containers): a lookup reads a group of
  // hash fragments and the one entry they point at, where
  // std::unordered_map walks a chain of nodes, each a cache miss at a
  // million agents (with a 64-bit division per node), and rehashing relinks
  // every node; that walk and those rehashes were a quarter of registering
  // 1 M agents (perf). Sets of the records, keyed by what each record holds
  // (its id, its serial): an entry is the record's shared_ptr, 16 bytes,
  // where a map's copy of the key beside it made 48 (id) and 24 (serial),
  // and 96 + 49 bytes an agent at a million (heaptrack). A lookup's
  // comparison, and a rehash, read the record's id or serial (const). Searched by
  // string_view or serial: no std::string and no record is built per
  // lookup. No reference into a set outlives its shard's lock.
  // Hash and equality over a record's key `Member` (of type Key when
  // looked up), transparent: a record and a bare key compare alike.
  template <class Key, auto Member, class Hash>
  struct record_key {
    using is_transparent = void;
    static Key key(Key k) { return k; }
    static Key key(const std::shared_ptr<agent_record>& r) { return (*r).*Member; }
    template <class A>
    std::size_t operator()(const A& a) const {
      return Hash{}(key(a));
    }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return key(a) == key(b);
    }
  };
  using by_id = record_key<std::string_view, &agent_record::agent_id, core::string_hash>;
  using by_serial = record_key<std::uint64_t, &agent_record::serial, std::hash<std::uint64_t>>;
  using id_map = boost::unordered_flat_set<std::shared_ptr<agent_record>, by_id, by_id>;
  using serial_map = boost::unordered_flat_set<std::shared_ptr<agent_record>, by_serial, by_serial>;
  shard<id_map>& id_shard(std::string_view id) const;

  mutable std::array<shard<id_map>, shard_count> by_id_;
  mutable std::array<shard<serial_map>, shard_count> by_serial_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace agentreg::actors
