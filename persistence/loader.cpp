#include "persistence/loader.hpp"

#include <charconv>
#include <unordered_map>

#include <pqxx/pqxx>

#include "persistence/pg_common.hpp"

namespace agentreg::db {

namespace {

using detail::from_micros;
using detail::sql_micros;

// Histograms come back as two comma-separated lists (array_to_string): no
// array parser needed, and the element types are plain integers.
template <class Int>
bool parse_list(std::string_view text, std::vector<Int>& out) {
  out.clear();
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    Int v{};
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc{})
      return false;
    out.push_back(v);
    p = next;
    if (p < end && *p++ != ',')
      return false;
  }
  return true;
}

std::string_view view(const pqxx::field& f) { return {f.c_str(), f.size()}; }

histogram_buckets parse_buckets(const pqxx::field& index_text, const pqxx::field& count_text) {
  std::vector<std::int32_t> index;
  std::vector<std::uint64_t> count;
  if (!parse_list(view(index_text), index) || !parse_list(view(count_text), count) || index.size() != count.size())
    throw std::runtime_error{"malformed duration histogram: {" + index_text.as<std::string>() + "} / {" +
                             count_text.as<std::string>() + "}"};
  histogram_buckets out;
  out.reserve(index.size());
  for (std::size_t i = 0; i < index.size(); ++i)
    out.emplace_back(index[i], count[i]);
  return out;
}

std::string text_or_empty(const pqxx::field& f) { return f.is_null() ? std::string{} : f.as<std::string>(); }

template <class Enum>
Enum parse_enum(std::optional<Enum> (*parse)(std::string_view), const pqxx::field& f, const char* what) {
  const auto v = parse(view(f));
  if (!v)
    throw std::runtime_error{std::string{"unknown "} + what + " '" + f.as<std::string>() + "' in the database"};
  return *v;
}

std::vector<core::agent> read_agents(pqxx::transaction_base& tx) {
  const auto rows = tx.exec(
      "SELECT agent_id, agent_type, status, current_load, max_capacity, llm_provider, model_name, " +
      sql_micros("last_heartbeat") + ", temperature, max_tokens, " + sql_micros("registered_at") +
      ", coalesce(agent_card::text, '') FROM agent_instances WHERE unregistered_at IS NULL ORDER BY agent_id");
  std::vector<core::agent> out;
  out.reserve(rows.size());
  std::unordered_map<std::string, std::size_t> by_id;
  by_id.reserve(rows.size());
  for (const auto& r : rows) {
    core::agent a;
    a.agent_id = r[0].as<std::string>();
    a.agent_type = r[1].as<std::string>();
    a.status = parse_enum(core::parse_agent_status, r[2], "agent status");
    a.current_load = r[3].as<std::int64_t>();
    a.max_capacity = r[4].as<std::int64_t>();
    a.llm_provider = r[5].as<std::string>();
    a.model_name = r[6].as<std::string>();
    a.last_heartbeat = from_micros(r[7].as<std::int64_t>());
    a.temperature = r[8].as<double>();
    a.max_tokens = r[9].as<std::int64_t>();
    a.registered_at = from_micros(r[10].as<std::int64_t>());
    // jsonb keeps the card's value, not its text: it comes back as
    // PostgreSQL prints jsonb (keys ordered, its own spacing).
    a.agent_card = r[11].as<std::string>();
    by_id.emplace(a.agent_id, out.size());
    out.push_back(std::move(a));
  }
  // Metadata as (agent, key, value) rows: the server unpacks the jsonb, so
  // no JSON parser is needed here.
  const auto meta = tx.exec(
      "SELECT a.agent_id, m.key, m.value FROM agent_instances a "
      "CROSS JOIN LATERAL jsonb_each_text(a.metadata) m WHERE a.unregistered_at IS NULL");
  for (const auto& r : meta)
    if (auto it = by_id.find(r[0].as<std::string>()); it != by_id.end())
      out[it->second].metadata[r[1].as<std::string>()] = text_or_empty(r[2]);
  // Skills in their stored order, one row each (no array parser needed).
  const auto skills = tx.exec(
      "SELECT a.agent_id, s.skill FROM agent_instances a "
      "CROSS JOIN LATERAL unnest(a.skills) WITH ORDINALITY s(skill, n) WHERE a.unregistered_at IS NULL "
      "ORDER BY a.agent_id, s.n");
  for (const auto& r : skills)
    if (auto it = by_id.find(r[0].as<std::string>()); it != by_id.end())
      out[it->second].skills.push_back(text_or_empty(r[1]));
  return out;
}

std::vector<tool_usage_snapshot> read_tool_usage(pqxx::transaction_base& tx) {
  const auto rows = tx.exec(
      "SELECT agent_id, tool_name, invocation_count, success_count, failure_count, avg_duration_ms, "
      "p50_duration_ms, p95_duration_ms, p99_duration_ms, " +
      sql_micros("last_used_at") +
      ", array_to_string(duration_bucket_index, ','), array_to_string(duration_bucket_count, ','), " +
      sql_micros("updated_at") + " FROM agent_tool_usage ORDER BY agent_id, tool_name");
  std::vector<tool_usage_snapshot> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    tool_usage_snapshot s;
    auto& u = s.usage;
    u.agent_id = r[0].as<std::string>();
    u.tool_name = r[1].as<std::string>();
    u.invocation_count = r[2].as<std::int64_t>();
    u.success_count = r[3].as<std::int64_t>();
    u.failure_count = r[4].as<std::int64_t>();
    u.avg_duration_ms = r[5].as<double>();
    u.p50_duration_ms = r[6].as<double>();
    u.p95_duration_ms = r[7].as<double>();
    u.p99_duration_ms = r[8].as<double>();
    u.last_used_at = from_micros(r[9].as<std::int64_t>());
    s.durations = parse_buckets(r[10], r[11]);
    s.taken_at = from_micros(r[12].as<std::int64_t>());
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<performance_snapshot> read_performance(pqxx::transaction_base& tx) {
  const auto rows = tx.exec(
      "SELECT dimension, key, total_executions, successful_executions, failed_executions, timeout_executions, "
      "success_rate, avg_duration_ms, p50_duration_ms, p95_duration_ms, p99_duration_ms, total_tokens_used, "
      "total_cost_micro_usd, total_retries, " +
      sql_micros("last_execution_at") +
      ", array_to_string(duration_bucket_index, ','), array_to_string(duration_bucket_count, ','), " +
      sql_micros("updated_at") + " FROM agent_performance_summary ORDER BY dimension, key");
  std::vector<performance_snapshot> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    performance_snapshot s;
    auto& p = s.summary;
    p.dimension = parse_enum(core::parse_group_by, r[0], "summary dimension");
    p.key = r[1].as<std::string>();
    p.total_executions = r[2].as<std::int64_t>();
    p.successful_executions = r[3].as<std::int64_t>();
    p.failed_executions = r[4].as<std::int64_t>();
    p.timeout_executions = r[5].as<std::int64_t>();
    p.success_rate = r[6].as<double>();
    p.avg_duration_ms = r[7].as<double>();
    p.p50_duration_ms = r[8].as<double>();
    p.p95_duration_ms = r[9].as<double>();
    p.p99_duration_ms = r[10].as<double>();
    p.total_tokens_used = r[11].as<std::int64_t>();
    p.total_cost_micro_usd = r[12].as<std::int64_t>();
    p.total_retries = r[13].as<std::int64_t>();
    p.last_execution_at = from_micros(r[14].as<std::int64_t>());
    // Derived fields, computed as core::performance_accumulator does.
    p.total_cost_usd = static_cast<double>(p.total_cost_micro_usd) / 1e6;
    if (p.total_executions > 0)
      p.avg_cost_per_execution = p.total_cost_usd / static_cast<double>(p.total_executions);
    s.durations = parse_buckets(r[15], r[16]);
    s.taken_at = from_micros(r[17].as<std::int64_t>());
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<core::execution> read_running(pqxx::transaction_base& tx) {
  const auto rows = tx.exec(
      "SELECT id, agent_id, agent_type, llm_provider, model_name, task_type, workflow_slug, run_id, status, " +
      sql_micros("started_at") + ", " + sql_micros("completed_at") +
      ", duration_ms, prompt_tokens, completion_tokens, cached_tokens, total_tokens, cost_micro_usd, "
      "cost_from_price_table, price_version, success_score, retry_count, error_message "
      "FROM agent_executions WHERE status = 'running' ORDER BY started_at, id");
  std::vector<core::execution> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    core::execution e;
    e.id = r[0].as<std::string>();
    e.agent_id = r[1].as<std::string>();
    e.agent_type = r[2].as<std::string>();
    e.llm_provider = r[3].as<std::string>();
    e.model_name = r[4].as<std::string>();
    e.task_type = r[5].as<std::string>();
    e.workflow_slug = text_or_empty(r[6]);
    e.run_id = text_or_empty(r[7]);
    e.status = parse_enum(core::parse_execution_status, r[8], "execution status");
    e.started_at = from_micros(r[9].as<std::int64_t>());
    e.completed_at = from_micros(r[10].as<std::int64_t>());
    e.duration_ms = r[11].as<std::int64_t>();
    e.prompt_tokens = r[12].as<std::int64_t>();
    e.completion_tokens = r[13].as<std::int64_t>();
    e.cached_tokens = r[14].as<std::int64_t>();
    e.total_tokens = r[15].as<std::int64_t>();
    e.cost_micro_usd = r[16].as<std::int64_t>();
    e.cost_from_price_table = r[17].as<bool>();
    e.price_version = text_or_empty(r[18]);
    if (!r[19].is_null())
      e.success_score = r[19].as<double>();
    e.retry_count = r[20].as<std::int64_t>();
    e.error_message = text_or_empty(r[21]);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

struct loader::impl {
  std::unique_ptr<pqxx::connection> conn;

  // Runs `read` in a read-only repeatable-read transaction and turns any
  // failure into an error value.
  template <class Read>
  auto run(const char* doing, Read read) -> core::expected<decltype(read(std::declval<pqxx::transaction_base&>()))> {
    try {
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx{*conn};
      auto result = read(tx);
      tx.commit();
      return result;
    } catch (...) {
      return detail::current_failure(doing, conn.get()).error;
    }
  }
};

loader::loader(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
loader::loader(loader&&) noexcept = default;
loader& loader::operator=(loader&&) noexcept = default;
loader::~loader() = default;

core::expected<loader> loader::connect(const std::string& url) {
  auto p = std::make_unique<impl>();
  try {
    p->conn = detail::open_connection(url);
  } catch (...) {
    return detail::current_failure("connect loader", nullptr).error;
  }
  return loader{std::move(p)};
}

core::expected<recovered_state> loader::load() {
  return impl_->run("load state", [](pqxx::transaction_base& tx) {
    recovered_state s;
    s.agents = read_agents(tx);
    s.tool_usage = read_tool_usage(tx);
    s.performance = read_performance(tx);
    s.running_executions = read_running(tx);
    return s;
  });
}

core::expected<std::vector<core::agent>> loader::agents() { return impl_->run("load agents", read_agents); }

core::expected<std::vector<tool_usage_snapshot>> loader::tool_usage() {
  return impl_->run("load tool usage", read_tool_usage);
}

core::expected<std::vector<performance_snapshot>> loader::performance() {
  return impl_->run("load performance summaries", read_performance);
}

core::expected<std::vector<core::execution>> loader::running_executions() {
  return impl_->run("load running executions", read_running);
}

}  // namespace agentreg::db
