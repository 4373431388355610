#pragma once
// Baseline (a) of agentreg-bench ingest: the seed's way of persisting an
// execution. Per execution, one transaction holding an INSERT of the
// execution row into agent_executions and an upsert of the agent's row of
// agent_performance_summary that increments its totals; one connection per
// thread. The header hides libpqxx (only the ingest suite's .cpp files
// include it).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "bench/suite.hpp"

namespace agentreg::bench {

class seed_baseline {
 public:
  /// Opens `connections` connections to `url` (a database at the current
  /// schema) and prepares both statements on each. Throws on failure.
  seed_baseline(const std::string& url, unsigned connections);
  ~seed_baseline();
  seed_baseline(const seed_baseline&) = delete;
  seed_baseline& operator=(const seed_baseline&) = delete;

  /// The body of a run_round thread: executions on connection `thread`, one
  /// transaction each, until `stop`. ops: committed transactions; failures:
  /// transactions that threw (the connection is then reopened).
  thread_tally run(unsigned thread, const std::atomic<bool>& stop);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace agentreg::bench
