#include "persistence/migrations.hpp"

#include <array>

#include <pqxx/pqxx>

#include "persistence/pg_common.hpp"

namespace agentreg::db {

namespace {

// Schema notes (decisions the SQL cannot show):
// - The seed's four tables keep its names and column names; what the engine
//   records beyond the seed is added, never renamed.
// - Money is bigint micro-dollars, the engine's exact unit; the seed's
//   USD columns are numeric columns generated from it, so SQL users read
//   dollars and nothing ever sums floats.
// - No foreign keys to agent_instances: unregistering keeps an agent's
//   executions and costs, and write-behind order must not matter (a batch
//   may carry an execution before its agent's row, and one refused row
//   would block every batch behind it).
// - Times are timestamptz (microseconds); NULL means "never" (the engine's 0).
// - Histograms are two parallel arrays (bucket index, count) from
//   core::log_histogram::buckets(), so percentiles survive restarts exactly.
// - Indexes are the few the engine reads by (recovery of running executions,
//   per-agent history): each extra index costs every ingested row.
constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE agent_instances (
  agent_id        text PRIMARY KEY,
  agent_type      text NOT NULL,
  status          text NOT NULL CHECK (status IN ('online', 'offline', 'paused', 'busy')),
  current_load    integer NOT NULL DEFAULT 0,
  max_capacity    integer NOT NULL,
  llm_provider    text NOT NULL DEFAULT '',
  model_name      text NOT NULL DEFAULT '',
  last_heartbeat  timestamptz,
  temperature     double precision NOT NULL DEFAULT 0.7,
  max_tokens      bigint NOT NULL DEFAULT 0,
  registered_at   timestamptz,
  metadata        jsonb NOT NULL DEFAULT '{}',
  unregistered_at timestamptz
);

CREATE TABLE agent_executions (
  id                    uuid PRIMARY KEY,
  agent_id              text NOT NULL,
  task_type             text NOT NULL DEFAULT '',
  status                text NOT NULL CHECK (status IN ('running', 'success', 'failed', 'timeout')),
  duration_ms           bigint NOT NULL DEFAULT 0,
  prompt_tokens         bigint NOT NULL DEFAULT 0,
  completion_tokens     bigint NOT NULL DEFAULT 0,
  cached_tokens         bigint NOT NULL DEFAULT 0,
  total_tokens          bigint NOT NULL DEFAULT 0,
  cost_micro_usd        bigint NOT NULL DEFAULT 0,
  estimated_cost_usd    numeric(20, 6) GENERATED ALWAYS AS (cost_micro_usd / 1000000.0) STORED,
  cost_from_price_table boolean NOT NULL DEFAULT false,
  success_score         double precision,
  retry_count           bigint NOT NULL DEFAULT 0,
  error_message         text,
  workflow_slug         text,
  run_id                text,
  agent_type            text NOT NULL DEFAULT '',
  model_name            text NOT NULL DEFAULT '',
  llm_provider          text NOT NULL DEFAULT '',
  price_version         text,
  started_at            timestamptz,
  completed_at          timestamptz
);
CREATE INDEX agent_executions_agent_idx ON agent_executions (agent_id, started_at);
-- Holds only running rows, so recovery reads few pages however long the
-- history; a completed row leaves it.
CREATE INDEX agent_executions_running_idx ON agent_executions (started_at) WHERE status = 'running';

CREATE TABLE agent_tool_usage (
  agent_id              text NOT NULL,
  tool_name             text NOT NULL,
  invocation_count      bigint NOT NULL DEFAULT 0,
  success_count         bigint NOT NULL DEFAULT 0,
  failure_count         bigint NOT NULL DEFAULT 0,
  avg_duration_ms       double precision NOT NULL DEFAULT 0,
  p50_duration_ms       double precision NOT NULL DEFAULT 0,
  p95_duration_ms       double precision NOT NULL DEFAULT 0,
  p99_duration_ms       double precision NOT NULL DEFAULT 0,
  duration_bucket_index integer[] NOT NULL DEFAULT '{}',
  duration_bucket_count bigint[] NOT NULL DEFAULT '{}',
  last_used_at          timestamptz,
  updated_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, tool_name),
  CHECK (cardinality(duration_bucket_index) = cardinality(duration_bucket_count))
);

-- One row per recorded tool call, keyed by the call's own id: the
-- idempotency record behind agent_tool_usage's totals, and the per-call
-- history.
CREATE TABLE agent_tool_calls (
  id            uuid PRIMARY KEY,
  agent_id      text NOT NULL,
  tool_name     text NOT NULL,
  execution_id  uuid,
  success_count bigint NOT NULL DEFAULT 0,
  failure_count bigint NOT NULL DEFAULT 0,
  duration_ms   double precision NOT NULL DEFAULT 0,
  called_at     timestamptz
);

-- One row per (dimension, key): dimension 'agent' is the seed's per-agent
-- summary (agent_id is generated for it); other dimensions group by agent
-- type, model, task type or workflow.
CREATE TABLE agent_performance_summary (
  dimension              text NOT NULL CHECK (dimension IN ('agent', 'agent_type', 'model', 'task_type', 'workflow')),
  key                    text NOT NULL,
  agent_id               text GENERATED ALWAYS AS (CASE WHEN dimension = 'agent' THEN key END) STORED,
  total_executions       bigint NOT NULL DEFAULT 0,
  successful_executions  bigint NOT NULL DEFAULT 0,
  failed_executions      bigint NOT NULL DEFAULT 0,
  timeout_executions     bigint NOT NULL DEFAULT 0,
  success_rate           double precision NOT NULL DEFAULT 0,
  avg_duration_ms        double precision NOT NULL DEFAULT 0,
  p50_duration_ms        double precision NOT NULL DEFAULT 0,
  p95_duration_ms        double precision NOT NULL DEFAULT 0,
  p99_duration_ms        double precision NOT NULL DEFAULT 0,
  total_tokens_used      bigint NOT NULL DEFAULT 0,
  total_cost_micro_usd   bigint NOT NULL DEFAULT 0,
  total_cost_usd         numeric(20, 6) GENERATED ALWAYS AS (total_cost_micro_usd / 1000000.0) STORED,
  avg_cost_per_execution numeric(20, 6) GENERATED ALWAYS AS (
                           CASE WHEN total_executions > 0
                                THEN total_cost_micro_usd / 1000000.0 / total_executions
                                ELSE 0 END) STORED,
  total_retries          bigint NOT NULL DEFAULT 0,
  last_execution_at      timestamptz,
  duration_bucket_index  integer[] NOT NULL DEFAULT '{}',
  duration_bucket_count  bigint[] NOT NULL DEFAULT '{}',
  updated_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dimension, key),
  CHECK (cardinality(duration_bucket_index) = cardinality(duration_bucket_count))
);
)sql";

// A2A: an agent's Agent Card (validated JSON text from the engine; jsonb,
// so SQL can query it; NULL: none) and its skills (the list filter).
constexpr std::string_view schema_v2 = R"sql(
ALTER TABLE agent_instances ADD COLUMN agent_card jsonb;
ALTER TABLE agent_instances ADD COLUMN skills text[] NOT NULL DEFAULT '{}';
)sql";

// Records the database refused for their data (a constraint, a value out
// of range), kept instead of blocking every record behind them: the record
// as JSON (as the engine had it), the database's error, and when.
constexpr std::string_view schema_v3 = R"sql(
CREATE TABLE agentreg_dead_letters (
  id        bigserial PRIMARY KEY,
  kind      text NOT NULL,
  record    jsonb NOT NULL,
  error     text NOT NULL,
  failed_at timestamptz NOT NULL DEFAULT now()
);
)sql";

// Reconciliation after a crash. Summaries and tool usage are written every
// performance_update_interval, rows every flush: a registry killed between
// two snapshots leaves rows no summary counts. Each run of a registry gets
// an ordinal (agentreg_runs), and each aggregator drain a number; a
// completed row and a tool call carry the point that counted them
// (counted_at = ordinal << 40 | drain), a summary row the point it counts
// through, and agentreg_counted_through the point through which every
// summary and tool usage row is complete. Recovery folds in the rows
// counted after it (see loader). BRIN indexes: rows arrive in counted_at
// order, so the index stays tiny and cheap to maintain, and recovery
// reads only the block ranges of recent rows.
constexpr std::string_view schema_v4 = R"sql(
CREATE TABLE agentreg_runs (
  ordinal    bigserial PRIMARY KEY,
  run_id     uuid NOT NULL UNIQUE,
  started_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE agentreg_counted_through (
  singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  counted_through bigint NOT NULL
);
ALTER TABLE agent_executions ADD COLUMN counted_at bigint;
ALTER TABLE agent_tool_calls ADD COLUMN counted_at bigint;
ALTER TABLE agent_performance_summary ADD COLUMN counted_through bigint;
ALTER TABLE agent_tool_usage ADD COLUMN counted_through bigint;
CREATE INDEX agent_executions_counted_idx ON agent_executions USING brin (counted_at);
CREATE INDEX agent_tool_calls_counted_idx ON agent_tool_calls USING brin (counted_at);
)sql";

constexpr std::array builtin = {
    migration{1, "agent registry tables", schema_v1},
    migration{2, "A2A agent cards and skills", schema_v2},
    migration{3, "dead letters", schema_v3},
    migration{4, "reconciliation points", schema_v4},
};

// The runner's own table, created under the advisory lock (two concurrent
// CREATE TABLE IF NOT EXISTS can still collide on the catalog's unique index).
constexpr std::string_view create_version_table = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))sql";

core::expected<core::unit> check_numbering(std::span<const migration> list) {
  for (std::size_t i = 0; i < list.size(); ++i)
    if (list[i].version != static_cast<int>(i) + 1)
      return core::error{core::errc::internal, "migration list must be numbered 1, 2, 3...: entry " +
                                                   std::to_string(i) + " has version " +
                                                   std::to_string(list[i].version)};
  return core::unit{};
}

}  // namespace

std::span<const migration> schema_migrations() { return builtin; }

int latest_schema_version() { return builtin.back().version; }

core::expected<migration_report> migrate(const std::string& url) { return migrate(url, schema_migrations()); }

core::expected<migration_report> migrate(const std::string& url, std::span<const migration> list) {
  if (auto ok = check_numbering(list); !ok)
    return ok.error();
  std::unique_ptr<pqxx::connection> c;
  try {
    c = detail::open_connection(url);
  } catch (...) {
    return detail::current_failure("connect", nullptr).error;
  }

  const int latest = static_cast<int>(list.size());
  migration_report report;
  bool first = true;
  // One transaction per migration: the lock is taken again each time, and the
  // current version re-read under it, so a concurrent runner that got there
  // first is simply followed.
  for (;;) {
    const migration* applying = nullptr;
    try {
      pqxx::work tx{*c};
      tx.exec0("SET LOCAL client_min_messages = warning");  // no NOTICE for IF NOT EXISTS
      tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(detail::migration_lock_key) + ")");
      tx.exec0(std::string{create_version_table});
      const int current = tx.exec1("SELECT coalesce(max(version), 0) FROM schema_version")[0].as<int>();
      if (first) {
        report.from_version = current;
        first = false;
      }
      if (current > latest)
        return core::error{core::errc::internal,
                           "database schema is at version " + std::to_string(current) +
                               ", newer than this build's " + std::to_string(latest) +
                               ": run a newer agentreg, or restore the database"};
      if (current == latest) {
        tx.commit();
        report.to_version = current;
        return report;
      }
      applying = &list[static_cast<std::size_t>(current)];
      tx.exec(std::string{applying->sql});
      tx.exec_params0("INSERT INTO schema_version (version, name) VALUES ($1, $2)", applying->version,
                      std::string{applying->name});
      tx.commit();
      report.applied.push_back(applying->version);
    } catch (...) {
      const std::string doing = applying == nullptr ? std::string{"migrate"}
                                                    : "migration " + std::to_string(applying->version) + " (" +
                                                          std::string{applying->name} + ")";
      return detail::current_failure(doing, c.get()).error;
    }
  }
}

}  // namespace agentreg::db
