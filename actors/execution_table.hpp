#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actors/agent_binding.hpp"
#include "core/error.hpp"
#include "core/types.hpp"
#include "core/uuid.hpp"

namespace agentreg::actors {

/// A running execution as the engine keeps it: the agent's spec as it was at
/// the start, shared with the agent's binding rather than copied, and what
/// the caller asked. The full core::execution is made once, at completion.
struct running_execution {
  std::shared_ptr<const agent_binding> agent;  ///< id, type, provider, model
  std::string task_type;
  std::string workflow_slug;
  std::string run_id;
  core::timestamp started_at = 0;       ///< wall clock: reported and stored
  core::monotonic_time started_mono = 0;  ///< what its duration and timeout are measured from
  /// The agent's serial (actors::agent_record::serial) when it started; 0
  /// for an execution recovered from the database.
  std::uint64_t agent_serial = 0;

  /// The record of this execution, still `running`.
  core::execution to_execution(const core::uuid& id, const std::string& price_version) &&;
};

/// Running executions by id, and the ids completed lately (so that a second
/// completion answers already_completed rather than unknown_execution).
/// Thread-safe.
///
/// Sharded by the id's low six bits. An id from make_id() names one of the
/// calling thread's shards (four per index::stripe), so an execution
/// started and completed on one thread locks a shard, and touches a map,
/// that other threads' executions rarely do: with shards picked by hash,
/// two threads met on every shard, and each start and each completion moved
/// a mutex's cache line between their CPUs (agentreg-bench engine: the
/// facade at 2 threads x1.27 with this, on a machine whose line round trip
/// is ~450 ns). A shard is still locked by whichever thread completes an
/// execution kept there, by threads that share a stripe or own it later,
/// and by take_started_before() and size(), which visit every shard. Ids
/// made elsewhere are kept by the same bits: those made before this scheme
/// spread over all shards, those recovered from an earlier run stay in the
/// shards of the threads that started them.
class execution_table {
 public:
  static constexpr std::size_t shard_count = 64;

  /// Completed ids remembered per shard, the most recent first out: an id
  /// completed longer ago answers unknown_execution instead of
  /// already_completed (still an error that changes nothing). A completed
  /// id is remembered in the shard it was kept in, which the thread that
  /// started it chose: 4 x 4096 = 16 384 ids for each stripe whose threads
  /// start executions (32 768 for agentregd's two I/O threads), 262 144 in
  /// 4 MiB when all 16 stripes do. A ring, written in order, so that a
  /// completion touches a cache line its shard touched before (a slot
  /// picked by hash cost a cache miss per completion); only a failed
  /// completion searches it.
  static constexpr std::size_t remembered_per_shard = 4096;

  /// A new execution id: core::make_uuid() (122 random bits from the
  /// operating system) with its low six bits naming one of the calling
  /// thread's shards, taken in turn; 116 random bits stay. Claims the
  /// thread's stripe (index::stripe) if it has none. Thread-safe.
  static core::uuid make_id();

  /// The shard an id is kept in (its low six bits).
  static std::size_t shard_index(const core::uuid& id) { return id.lo % shard_count; }

  /// Running executions kept in shard `shard` (a moment's count). For tests.
  [[nodiscard]] std::size_t running_in(std::size_t shard) const;

  void insert(const core::uuid& id, running_execution e);

  /// Removes a running execution and remembers it as completed, in one step:
  /// of two concurrent completions exactly one gets it.
  /// Errors: unknown_execution, already_completed.
  core::expected<running_execution> take(const core::uuid& id);

  /// A copy of a running execution, left in place.
  /// Errors: unknown_execution, already_completed.
  [[nodiscard]] core::expected<running_execution> find(const core::uuid& id) const;

  /// Removes (and remembers as completed) every execution started before
  /// `cutoff` (monotonic).
  std::vector<std::pair<core::uuid, running_execution>> take_started_before(core::monotonic_time cutoff);

  [[nodiscard]] std::size_t size() const;

 private:
  struct alignas(64) shard {
    mutable std::mutex mutex;
    std::unordered_map<core::uuid, running_execution, core::uuid_hash> running;
    std::vector<core::uuid> completed = std::vector<core::uuid>(remembered_per_shard);
    std::size_t next = 0;  // the ring's next slot
    void remember(const core::uuid& id) {
      completed[next] = id;
      next = next + 1 == remembered_per_shard ? 0 : next + 1;
    }
    bool was_completed(const core::uuid& id) const {  // (empty slots hold the nil id)
      return id != core::uuid{} && std::find(completed.begin(), completed.end(), id) != completed.end();
    }
  };
  shard& shard_of(const core::uuid& id) { return shards_[shard_index(id)]; }
  const shard& shard_of(const core::uuid& id) const { return shards_[shard_index(id)]; }

  std::array<shard, shard_count> shards_;
};

}  // namespace agentreg::actors
