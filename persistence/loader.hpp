#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/types.hpp"
#include "persistence/records.hpp"

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
  /// each other. Errors: internal.
  core::expected<recovered_state> load();

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
