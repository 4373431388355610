#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/types.hpp"
#include "persistence/batch.hpp"

namespace agentreg::db {

/// Everything the engine needs back after a restart.
struct recovered_state {
  /// Registered agents (unregistered ones are left out), with the status
  /// last written: the engine decides what a recovered agent starts as.
  std::vector<core::agent> agents;
  std::vector<tool_usage_snapshot> tool_usage;    ///< taken_at: the row's updated_at
  std::vector<performance_snapshot> performance;  ///< taken_at: the row's updated_at
  /// Executions still `running`, with their start times, so that they can
  /// be completed or time out after the restart.
  std::vector<core::execution> running_executions;
  /// Completed executions and tool calls that a registry committed after
  /// the last totals it wrote (it stopped without writing them: a crash),
  /// folded into `performance` and `tool_usage` above.
  std::int64_t folded_executions = 0, folded_tool_calls = 0;
};

/// Reads the persisted state back for recovery. Timestamps come back as
/// written, to the microsecond (the database's precision); a NULL time comes
/// back as 0, and an absent text (workflow, run id, error message) as "".
///
/// Owns one connection. Not thread-safe: one owner.
class loader {
 public:
  /// Connects to `url`. Errors: internal (cannot connect).
  static core::expected<loader> connect(const std::string& url);

  loader(loader&&) noexcept;
  loader& operator=(loader&&) noexcept;
  ~loader();

  /// All four kinds, read in one repeatable-read snapshot so they agree with
  /// each other. The totals are what the committed rows say: each stored
  /// summary and tool usage row, plus the completed executions and tool
  /// calls committed after the point it counts through (which a registry
  /// killed between two snapshots never counted in it). `run_id` (a UUID;
  /// empty: none) is the loading registry's run: it is registered, and its
  /// own rows (written before this recovery, already counted in its
  /// memory) are left out of the fold. Errors: internal.
  core::expected<recovered_state> load(const std::string& run_id = {});

  /// Registered (not unregistered) agents, by agent id. Errors: internal.
  core::expected<std::vector<core::agent>> agents();
  /// Every (agent, tool) usage row with its histogram. Errors: internal.
  core::expected<std::vector<tool_usage_snapshot>> tool_usage();
  /// Every performance summary with its histogram. Errors: internal.
  core::expected<std::vector<performance_snapshot>> performance();
  /// Executions whose status is still `running`. Errors: internal.
  core::expected<std::vector<core::execution>> running_executions();

 private:
  struct impl;
  explicit loader(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace agentreg::db
