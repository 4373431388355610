#pragma once
// One measured run of each variant of agentreg-bench ingest, on a fresh
// database each, with the check that every execution it wrote is stored:
// the building blocks of the suite's parts (bench/ingest/parts.hpp).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "agentreg/registry.hpp"
#include "bench/ingest/plan.hpp"
#include "bench/pg_database.hpp"
#include "bench/suite.hpp"

namespace agentreg::bench::ingest {

// ---- checks --------------------------------------------------------------------------

/// What agent_executions holds.
struct stored_executions {
  std::int64_t rows = 0, completed = 0, tokens = 0, micro_usd = 0;
};

stored_executions read_executions(const std::string& url);

/// Every one of `expected` executions stored once, completed, with its
/// tokens and cost. When not, prints a line and records a problem (the
/// parts print one summary check line for all their runs).
bool check_executions(const std::string& url, std::int64_t expected, const std::string& what,
                      std::vector<std::string>& problems);

// ---- the registry side -----------------------------------------------------------------

/// A registry on `url` with nothing running but the measured calls.
config registry_config(const std::string& url, std::size_t batch_size, milliseconds flush_interval,
                       std::size_t writer_connections = config{}.writer_connections);

/// The ids of the workload's agents.
std::vector<std::string> agent_ids();

/// Registers the agents and waits until their rows are committed, so that a
/// timed window holds executions only. Throws on failure.
void register_agents(registry& reg);

/// One start+complete pair on agent `agent`; false if a call failed.
bool pair(registry& reg, const std::string& agent, const execution_request& request,
          const execution_metrics& metrics);

/// Polls until every admitted record is committed; false at `deadline`.
bool wait_for_backlog_zero(const registry& reg, bench_clock::time_point deadline);

struct ingest_result {
  double seconds = 0;          // producers released .. backlog read 0
  double produce_seconds = 0;  // producers released .. both returned
  double destructor_ms = 0;    // ~registry afterwards (writes the summaries)
  std::int64_t batches = 0;    // transactions the writer committed in the window
  std::uint64_t rows = 0;
  [[nodiscard]] double rows_per_s() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
};

/// agentreg end to end: `rows` start+complete pairs from 2 threads, timed
/// until every record is committed.
ingest_result run_agentreg(pg_server& srv, std::uint64_t rows, std::size_t batch_size, milliseconds flush_interval,
                           const std::string& label, std::vector<std::string>& problems,
                           std::size_t writer_connections = config{}.writer_connections);

// ---- the baselines ----------------------------------------------------------------------

/// Raw COPY on `connections` connections at once; rows/s.
double run_copy(pg_server& srv, std::uint64_t rows, std::vector<std::string>& problems, unsigned connections = 1);

/// The seed's transaction per execution on `connections` connections for
/// `length`; rows/s.
double run_seed(pg_server& srv, unsigned connections, milliseconds length, std::vector<std::string>& problems);

/// Diagnostic: db::batch_writer fed directly; rows/s of write() alone.
double run_writer_alone(pg_server& srv, std::uint64_t rows, std::size_t batch_size,
                        std::vector<std::string>& problems);

}  // namespace agentreg::bench::ingest
