#pragma once
// Baseline (b) of agentreg-bench ingest: the database's own bulk path, with
// nothing of the engine around it. The same completed execution rows go by
// COPY (pqxx::stream_to) into a session staging table, then
// INSERT ... SELECT ... ON CONFLICT (id) DO NOTHING into agent_executions,
// a fixed number of rows per transaction, on one connection. The header
// hides libpqxx (only the ingest suite's .cpp files include it).

#include <cstdint>
#include <memory>
#include <string>

namespace agentreg::bench {

class copy_baseline {
 public:
  /// Connects to `url` (a database at the current schema), creates the
  /// staging table and prepares the merge. Throws on failure.
  explicit copy_baseline(const std::string& url);
  ~copy_baseline();
  copy_baseline(const copy_baseline&) = delete;
  copy_baseline& operator=(const copy_baseline&) = delete;

  /// Writes `rows` new executions, `rows_per_transaction` per transaction
  /// (the last one may be shorter). Answers the rows the merges inserted.
  /// Throws on failure.
  std::uint64_t write(std::uint64_t rows, std::uint64_t rows_per_transaction);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace agentreg::bench
