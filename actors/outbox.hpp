#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/summary.hpp"
#include "core/types.hpp"
#include "messages/persistence.hpp"

namespace agentreg::actors {

/// Where the hot calls leave what the aggregator must learn: one lane per
/// thread stripe, so a caller takes an uncontended lock.
///
/// A completed execution is counted at once in its lane's summaries, a
/// delta (core::summary_delta: one entry per combination of agent, type,
/// model, task type and workflow) the aggregator folds into its own, so the
/// aggregator's work grows with the combinations touched between two
/// drains, not with the executions. With
/// persistence on, the lane also keeps the records themselves. In memory
/// only, no record is kept.
///
/// Counts and records leave a lane together, only through drain(): the
/// aggregator forwards the records to persistence in the same step as it
/// folds their counts, before it can snapshot the summaries, so a summary
/// written to the database never counts a record that was not sent before
/// it. A put answers true when its lane holds `batch_size` records and has
/// not said so since the last drain: the caller then nudges the aggregator
/// (a nudge per record would wake it per record, a futex syscall each time
/// it was idle; otherwise it drains every 10 ms).
///
/// The aggregator also drains every lane before it answers any query, so
/// every execution put here before a query is counted in its answer.
/// Thread-safe.
class outbox {
 public:
  static constexpr std::size_t lanes = 16;
  static constexpr std::size_t batch_size = 256;

  /// `keep_records`: keep records for persistence (else only count them).
  explicit outbox(bool keep_records) : keep_records_(keep_records) {}

  /// A started execution, for persistence (the running row).
  [[nodiscard]] bool put_started(const core::execution& e);
  /// A completed execution: counted in the summaries, kept for persistence.
  [[nodiscard]] bool put_completed(const core::execution& e);
  /// A tool call: counted, kept for persistence.
  [[nodiscard]] bool put_tool_call(const core::tool_call_record& r);

  /// What every lane held, taken out.
  struct contents {
    msg::record_batch records;
    std::int64_t completed = 0;  ///< executions completed since the last drain
    std::int64_t tool_calls = 0;
    /// Started records left out because their completion is in the same
    /// drain: the completed record carries everything the running row would
    /// (one row written instead of two; a backlog gate gives their room back).
    std::int64_t superseded = 0;
  };
  /// Takes out every lane's records and counts, and folds the lanes'
  /// summaries into `into` (each lane's outside its lock).
  contents drain(core::summary_set& into);

 private:
  struct alignas(64) lane {
    std::mutex mutex;
    msg::record_batch records;
    std::size_t size = 0;  // records held
    bool nudged = false;   // a put answered true since the last drain
    core::summary_delta summaries;
    std::int64_t completed = 0;
    std::int64_t tool_calls = 0;
  };

  // Under the lane's lock, after a record was added: true once per drain
  // when the lane reaches batch_size.
  static bool nudge(lane& l);
  static lane& mine(std::array<lane, lanes>& all);

  const bool keep_records_;
  std::array<lane, lanes> lanes_;
};

}  // namespace agentreg::actors
