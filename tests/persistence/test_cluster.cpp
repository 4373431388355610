#include "test_cluster.hpp"

#include <stdexcept>

#include "core/histogram.hpp"
#include "core/uuid.hpp"
#include "persistence/migrations.hpp"

namespace agentreg::test {

test_cluster& test_cluster::get() {
  // A function-local static: started on first use, destroyed at exit (also
  // after failed tests, which Boost.Test reports and survives).
  static test_cluster cluster;
  return cluster;
}

test_cluster::test_cluster() : admin_url_(cluster_.url()) {}

test_cluster::~test_cluster() = default;

std::string test_cluster::create_database() {
  const std::string name = "t" + std::to_string(++databases_);
  pqxx::connection c{admin_url_};
  pqxx::nontransaction tx{c};  // CREATE DATABASE cannot run in a transaction
  tx.exec0("CREATE DATABASE " + name);
  const auto slash = admin_url_.rfind('/');
  return admin_url_.substr(0, slash + 1) + name;
}

void test_cluster::kill() { cluster_.kill(); }

void test_cluster::restart() { admin_url_ = cluster_.restart(); }

pqxx::connection& fresh_database::sql() {
  if (!sql_ || !sql_->is_open())
    sql_ = std::make_unique<pqxx::connection>(url);
  return *sql_;
}

pqxx::result fresh_database::query(const std::string& q) {
  try {
    pqxx::work tx{sql()};
    auto r = tx.exec(q);
    tx.commit();
    return r;
  } catch (const pqxx::broken_connection&) {
    // The outage tests restart the server under this connection: reconnect once.
    sql_.reset();
    pqxx::work tx{sql()};
    auto r = tx.exec(q);
    tx.commit();
    return r;
  }
}

std::string fresh_database::scalar(const std::string& q) {
  const auto r = query(q);
  if (r.size() != 1 || r.columns() != 1)
    throw std::runtime_error{"expected one value from: " + q};
  return r[0][0].is_null() ? std::string{} : r[0][0].as<std::string>();
}

std::int64_t fresh_database::count(const std::string& table) {
  return std::stoll(scalar("SELECT count(*) FROM " + table));
}

migrated_database::migrated_database() {
  auto r = db::migrate(url);
  if (!r)
    throw std::runtime_error{"migrate: " + r.error().message};
}

core::timestamp sample_time(std::int64_t offset_us) {
  return (1'700'000'000'000'000 + offset_us) * 1000 + 789;
}

std::int64_t micros_of(core::timestamp ns) { return ns / 1000 - (ns % 1000 < 0 ? 1 : 0); }

std::string micros_sql(const std::string& column) {
  return "(extract(epoch from " + column + ") * 1000000)::bigint";
}

core::agent sample_agent(const std::string& id) {
  core::agent a;
  a.agent_id = id;
  a.agent_type = "planner";
  a.llm_provider = "claude";
  a.model_name = "claude-3-5-sonnet-20241022";
  a.temperature = 0.7;
  a.max_tokens = 8000;
  a.max_capacity = 10;
  a.metadata = {{"region", "eu-west-1"}, {"team", "research"}};
  a.current_load = 3;
  a.status = core::agent_status::online;
  a.last_heartbeat = sample_time(5'000'001);
  a.registered_at = sample_time(1);
  return a;
}

core::execution sample_running(const std::string& agent_id, std::int64_t offset_us) {
  core::execution e;
  e.id = core::to_string(core::make_uuid());
  e.agent_id = agent_id;
  e.agent_type = "planner";
  e.llm_provider = "claude";
  e.model_name = "claude-3-5-sonnet-20241022";
  e.task_type = "planning";
  e.workflow_slug = "code_analysis";
  e.run_id = "run-42";
  e.status = core::execution_status::running;
  e.started_at = sample_time(offset_us);
  e.price_version = "2024-10";
  return e;
}

core::execution completed(core::execution e, core::execution_status status) {
  e.status = status;
  e.completed_at = e.started_at + 1'234'567'891;
  e.duration_ms = 1234;
  e.prompt_tokens = 1500;
  e.completion_tokens = 800;
  e.cached_tokens = 300;
  e.total_tokens = 2300;
  e.cost_micro_usd = 12'345;  // $0.012345: exact in micro-dollars, not in binary floating point
  e.cost_from_price_table = true;
  e.success_score = 0.95;
  e.retry_count = 2;
  e.error_message = status == core::execution_status::success ? "" : "rate limited";
  return e;
}

core::tool_call_record sample_tool_call(const std::string& agent_id, const std::string& tool,
                                        const std::string& execution_id) {
  core::tool_call_record r;
  r.id = core::to_string(core::make_uuid());
  r.agent_id = agent_id;
  r.tool_name = tool;
  r.call.execution_id = execution_id;
  r.call.success_count = 2;
  r.call.failure_count = 1;
  r.call.duration_ms = 250.125;
  r.at = sample_time(7'000'003);
  return r;
}

db::tool_usage_snapshot sample_tool_usage(const std::string& agent_id, const std::string& tool,
                                          std::int64_t invocations) {
  core::log_histogram h;
  h.add(0);  // the exact-zero bucket (index INT32_MIN) must survive too
  for (std::int64_t i = 1; i < invocations; ++i)
    h.add(static_cast<double>(i) * 10.5);
  db::tool_usage_snapshot s;
  s.usage.agent_id = agent_id;
  s.usage.tool_name = tool;
  s.usage.invocation_count = invocations;
  s.usage.success_count = invocations - 1;
  s.usage.failure_count = 1;
  s.usage.avg_duration_ms = 1.0 / 3.0;  // needs all 17 digits to round-trip
  s.usage.p50_duration_ms = h.quantile(0.5);
  s.usage.p95_duration_ms = h.quantile(0.95);
  s.usage.p99_duration_ms = h.quantile(0.99);
  s.usage.last_used_at = sample_time(8'000'005);
  s.durations = h.buckets();
  s.taken_at = sample_time(9'000'000);
  return s;
}

db::performance_snapshot sample_performance(core::group_by dimension, const std::string& key,
                                            std::int64_t executions) {
  core::log_histogram h;
  for (std::int64_t i = 0; i < executions; ++i)
    h.add(100.0 + static_cast<double>(i));
  db::performance_snapshot s;
  auto& p = s.summary;
  p.dimension = dimension;
  p.key = key;
  p.total_executions = executions;
  p.successful_executions = executions - 2;
  p.failed_executions = 1;
  p.timeout_executions = 1;
  p.success_rate = static_cast<double>(executions - 2) / static_cast<double>(executions);
  p.avg_duration_ms = 149.5;
  p.p50_duration_ms = h.quantile(0.5);
  p.p95_duration_ms = h.quantile(0.95);
  p.p99_duration_ms = h.quantile(0.99);
  p.total_tokens_used = 2300 * executions;
  p.total_cost_micro_usd = 12'345 * executions;
  p.total_cost_usd = static_cast<double>(p.total_cost_micro_usd) / 1e6;
  p.avg_cost_per_execution = p.total_cost_usd / static_cast<double>(executions);
  p.total_retries = 7;
  p.last_execution_at = sample_time(9'500'000);
  s.durations = h.buckets();
  s.taken_at = sample_time(10'000'000);
  return s;
}

}  // namespace agentreg::test
