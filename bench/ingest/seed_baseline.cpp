#include "bench/ingest/seed_baseline.hpp"

#include <chrono>
#include <stdexcept>
#include <vector>

#include <pqxx/pqxx>

#include "bench/ingest/workload.hpp"

namespace agentreg::bench {

namespace {

using ingest::sql_timestamp;

// The execution row as the seed wrote it: one INSERT with every column the
// engine also fills for a completed execution (the same row the other
// variants write), as a prepared statement, the best case for this way.
const std::string insert_execution_sql =
    "INSERT INTO agent_executions (id, agent_id, agent_type, llm_provider, model_name, task_type, workflow_slug, "
    "status, started_at, completed_at, duration_ms, prompt_tokens, completion_tokens, cached_tokens, total_tokens, "
    "cost_micro_usd, cost_from_price_table, price_version, retry_count) "
    "VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, " +
    sql_timestamp("$9::bigint") + ", " + sql_timestamp("$10::bigint") +
    ", $11, $12, $13, 0, $14, $15, false, $16, 0)";

// The seed's summary update: increments, read-modify-write under the row
// lock of the agent's summary row (what the engine replaced with absolute
// snapshots written in batches).
const std::string upsert_summary_sql =
    "INSERT INTO agent_performance_summary AS s (dimension, key, total_executions, successful_executions, "
    "success_rate, avg_duration_ms, total_tokens_used, total_cost_micro_usd, last_execution_at, updated_at) "
    "VALUES ('agent', $1, 1, 1, 1, $2, $3, $4, " +
    sql_timestamp("$5::bigint") +
    ", now()) "
    "ON CONFLICT (dimension, key) DO UPDATE SET "
    "total_executions = s.total_executions + 1, "
    "successful_executions = s.successful_executions + 1, "
    "success_rate = (s.successful_executions + 1)::double precision / (s.total_executions + 1), "
    "avg_duration_ms = (s.avg_duration_ms * s.total_executions + EXCLUDED.avg_duration_ms) / (s.total_executions + 1), "
    "total_tokens_used = s.total_tokens_used + EXCLUDED.total_tokens_used, "
    "total_cost_micro_usd = s.total_cost_micro_usd + EXCLUDED.total_cost_micro_usd, "
    "last_execution_at = EXCLUDED.last_execution_at, updated_at = now()";

std::unique_ptr<pqxx::connection> open(const std::string& url) {
  auto c = std::make_unique<pqxx::connection>(url);
  c->prepare("seed_insert_execution", insert_execution_sql);
  c->prepare("seed_upsert_summary", upsert_summary_sql);
  return c;
}

}  // namespace

struct seed_baseline::impl {
  std::string url;
  std::vector<std::unique_ptr<pqxx::connection>> connections;
};

seed_baseline::seed_baseline(const std::string& url, unsigned connections) : impl_(std::make_unique<impl>()) {
  impl_->url = url;
  for (unsigned i = 0; i < connections; ++i)
    impl_->connections.push_back(open(url));
}

seed_baseline::~seed_baseline() = default;

thread_tally seed_baseline::run(unsigned thread, const std::atomic<bool>& stop) {
  auto& c = impl_->connections.at(thread);
  // Threads start on different agents, as the facade's producers do, so two
  // connections rarely wait on the same summary row.
  std::uint32_t agent = thread * (ingest::agent_count / static_cast<std::uint32_t>(impl_->connections.size()));
  thread_tally tally;
  // relaxed: a plain stop request, see run_round.
  while (!stop.load(std::memory_order_relaxed)) {
    // Made inside the loop like the engine makes its rows: a UUID and a few
    // short strings, well under 1 % of a transaction's time here.
    const execution e = ingest::completed_row(agent, ingest::now_ns());
    agent = agent + 1 == ingest::agent_count ? 0 : agent + 1;
    try {
      pqxx::work tx{*c};
      tx.exec_prepared0("seed_insert_execution", e.id, e.agent_id, e.agent_type, e.llm_provider, e.model_name,
                        e.task_type, e.workflow_slug, "success", ingest::micros_of(e.started_at),
                        ingest::micros_of(e.completed_at), e.duration_ms, e.prompt_tokens, e.completion_tokens,
                        e.total_tokens, e.cost_micro_usd, e.price_version);
      tx.exec_prepared0("seed_upsert_summary", e.agent_id, static_cast<double>(e.duration_ms), e.total_tokens,
                        e.cost_micro_usd, ingest::micros_of(e.completed_at));
      tx.commit();
      ++tally.ops;
    } catch (const std::exception&) {
      ++tally.failures;
      if (!c->is_open())
        c = open(impl_->url);
    }
  }
  return tally;
}

}  // namespace agentreg::bench
