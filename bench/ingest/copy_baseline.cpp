#include "bench/ingest/copy_baseline.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <tuple>
#include <vector>

#include <pqxx/pqxx>

#include "bench/ingest/workload.hpp"

namespace agentreg::bench {

namespace {

using ingest::sql_timestamp;

// The staging table and the column order are the engine writer's for
// executions (persistence/batch_writer.cpp), so both send the same bytes by
// COPY and the merge converts the same way. TEMP and ON COMMIT DELETE ROWS
// as there: private to the session, empty at the start of each transaction.
constexpr const char* stage_table = "bench_stage_executions";

const std::vector<std::string> stage_columns{
    "id", "agent_id", "agent_type", "llm_provider", "model_name", "task_type", "workflow_slug", "run_id",
    "status", "started_us", "completed_us", "duration_ms", "prompt_tokens", "completion_tokens", "cached_tokens",
    "total_tokens", "cost_micro_usd", "cost_from_price_table", "price_version", "success_score", "retry_count",
    "error_message"};

const std::string create_stage_sql =
    std::string{"CREATE TEMP TABLE "} + stage_table +
    " (id uuid, agent_id text, agent_type text, llm_provider text, model_name text, task_type text, "
    "workflow_slug text, run_id text, status text, started_us bigint, completed_us bigint, duration_ms bigint, "
    "prompt_tokens bigint, completion_tokens bigint, cached_tokens bigint, total_tokens bigint, "
    "cost_micro_usd bigint, cost_from_price_table boolean, price_version text, success_score double precision, "
    "retry_count bigint, error_message text) ON COMMIT DELETE ROWS";

// DO NOTHING, as the brief of the baseline says: the engine's merge instead
// updates a running row to completed (DO UPDATE ... WHERE), which costs it
// a little more per conflict; here there are no conflicts at all.
const std::string merge_sql =
    "INSERT INTO agent_executions (id, agent_id, agent_type, llm_provider, model_name, task_type, workflow_slug, "
    "run_id, status, started_at, completed_at, duration_ms, prompt_tokens, completion_tokens, cached_tokens, "
    "total_tokens, cost_micro_usd, cost_from_price_table, price_version, success_score, retry_count, "
    "error_message) "
    "SELECT id, agent_id, agent_type, llm_provider, model_name, task_type, nullif(workflow_slug, ''), "
    "nullif(run_id, ''), status, " +
    sql_timestamp("started_us") + ", " + sql_timestamp("completed_us") +
    ", duration_ms, prompt_tokens, completion_tokens, cached_tokens, total_tokens, cost_micro_usd, "
    "cost_from_price_table, nullif(price_version, ''), success_score, retry_count, nullif(error_message, '') "
    "FROM " +
    stage_table + " ON CONFLICT (id) DO NOTHING";

}  // namespace

struct copy_baseline::impl {
  pqxx::connection conn;
  explicit impl(const std::string& url) : conn(url) {}
};

copy_baseline::copy_baseline(const std::string& url) : impl_(std::make_unique<impl>(url)) {
  pqxx::work tx{impl_->conn};
  tx.exec0(create_stage_sql);
  tx.commit();
  impl_->conn.prepare("bench_copy_merge", merge_sql);
}

copy_baseline::~copy_baseline() = default;

std::uint64_t copy_baseline::write(std::uint64_t rows, std::uint64_t rows_per_transaction) {
  std::uint64_t inserted = 0;
  std::uint32_t agent = 0;
  for (std::uint64_t done = 0; done < rows;) {
    const std::uint64_t n = std::min(rows_per_transaction, rows - done);
    pqxx::work tx{impl_->conn};
    {
      pqxx::stream_to stream{tx, stage_table, stage_columns};
      for (std::uint64_t i = 0; i < n; ++i) {
        // Made here like the engine makes its rows (a UUID and a few short
        // strings): a small share of the time a row costs the database.
        const execution e = ingest::completed_row(agent, ingest::now_ns());
        agent = agent + 1 == ingest::agent_count ? 0 : agent + 1;
        stream << std::forward_as_tuple(e.id, e.agent_id, e.agent_type, e.llm_provider, e.model_name, e.task_type,
                                        e.workflow_slug, e.run_id, "success", ingest::micros_of(e.started_at),
                                        ingest::micros_of(e.completed_at), e.duration_ms, e.prompt_tokens,
                                        e.completion_tokens, e.cached_tokens, e.total_tokens, e.cost_micro_usd,
                                        e.cost_from_price_table, e.price_version, e.success_score, e.retry_count,
                                        e.error_message);
      }
      stream.complete();
    }
    inserted += static_cast<std::uint64_t>(tx.exec_prepared("bench_copy_merge").affected_rows());
    tx.commit();
    done += n;
  }
  return inserted;
}

}  // namespace agentreg::bench
