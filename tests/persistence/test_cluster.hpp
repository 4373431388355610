#pragma once
// A throwaway PostgreSQL for the persistence tests, and helpers to read the
// database back with plain SQL.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <pqxx/pqxx>

#include "core/types.hpp"
#include "persistence/batch.hpp"
#include "support/scratch_cluster.hpp"

namespace agentreg::test {

/// One PostgreSQL cluster per test process, started by scripts/pg in a
/// fresh temporary directory on first use (so suites that need no database
/// start none), stopped and removed when the process exits, whether tests
/// passed or not.
class test_cluster {
 public:
  static test_cluster& get();

  /// URL of the `postgres` database (for CREATE DATABASE).
  [[nodiscard]] const std::string& admin_url() const { return admin_url_; }
  /// A new, empty database; returns its URL.
  std::string create_database();
  /// kill -9 the server (scripts/pg kill).
  void kill();
  /// Starts the server again after kill (same directory, same port if free).
  void restart();

  test_cluster(const test_cluster&) = delete;
  test_cluster& operator=(const test_cluster&) = delete;
  ~test_cluster();

 private:
  test_cluster();
  support::scratch_cluster cluster_;
  std::string admin_url_;
  int databases_ = 0;
};


/// A fresh database, without the schema.
struct fresh_database {
  std::string url = test_cluster::get().create_database();
  std::unique_ptr<pqxx::connection> sql_;

  /// A connection for checks, opened on first use.
  pqxx::connection& sql();
  /// Runs `query` in its own transaction and returns the result.
  pqxx::result query(const std::string& q);
  /// Runs a parameterised query ($1, $2...) in its own transaction.
  template <class... Args>
  pqxx::result query_params(const std::string& q, Args&&... args) {
    pqxx::work tx{sql()};
    auto r = tx.exec_params(q, std::forward<Args>(args)...);
    tx.commit();
    return r;
  }
  /// The single value of a one-row, one-column query, as text ("" for NULL).
  std::string scalar(const std::string& q);
  std::int64_t count(const std::string& table);
};

/// A fresh database with the schema migrated.
struct migrated_database : fresh_database {
  migrated_database();
};

/// A nanosecond timestamp with sub-microsecond digits, so that rounding to
/// microseconds is visible: 2023-11-14 22:13:20 UTC + `offset_us` µs + 789 ns.
core::timestamp sample_time(std::int64_t offset_us);

/// Microseconds of a written nanosecond timestamp, as the database keeps it.
std::int64_t micros_of(core::timestamp ns);

/// SQL for a timestamptz column as bigint microseconds since the epoch.
std::string micros_sql(const std::string& column);

/// A registered agent with every field set.
core::agent sample_agent(const std::string& id);
/// A running execution of `agent` with every field a start sets.
core::execution sample_running(const std::string& agent_id, std::int64_t offset_us);
/// `e` completed with every metric set.
core::execution completed(core::execution e, core::execution_status status = core::execution_status::success);
/// A recorded tool call.
core::tool_call_record sample_tool_call(const std::string& agent_id, const std::string& tool,
                                        const std::string& execution_id);
/// Tool usage and performance snapshots with histograms.
db::tool_usage_snapshot sample_tool_usage(const std::string& agent_id, const std::string& tool,
                                          std::int64_t invocations);
db::performance_snapshot sample_performance(core::group_by dimension, const std::string& key,
                                            std::int64_t executions);

}  // namespace agentreg::test
