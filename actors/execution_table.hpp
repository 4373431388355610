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
/// Sharded by id: callers on different threads rarely meet. Thread-safe.
class execution_table {
 public:
  /// Completed ids remembered per shard, the most recent first out: an id
  /// completed longer ago answers unknown_execution instead of
  /// already_completed (still an error that changes nothing). 64 shards x
  /// 4096 = 262 144 recent ids in 4 MiB. A ring, written in order, so that a
  /// completion touches a cache line its shard touched before (a slot picked
  /// by hash cost a cache miss per completion); only a failed completion
  /// searches it.
  static constexpr std::size_t remembered_per_shard = 4096;

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
  static constexpr std::size_t shard_count = 64;
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
  shard& shard_of(const core::uuid& id) { return shards_[core::uuid_hash{}(id) % shard_count]; }
  const shard& shard_of(const core::uuid& id) const { return shards_[core::uuid_hash{}(id) % shard_count]; }

  std::array<shard, shard_count> shards_;
};

}  // namespace agentreg::actors
