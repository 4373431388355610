#include "persistence/loader.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <unordered_map>

#include <pqxx/pqxx>

#include "core/summary.hpp"
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

// `through` (optional): each row's counting point (0: none), by index.
std::vector<tool_usage_snapshot> read_tool_usage(pqxx::transaction_base& tx,
                                                 std::vector<std::int64_t>* through = nullptr) {
  const auto rows = tx.exec(
      "SELECT agent_id, tool_name, invocation_count, success_count, failure_count, avg_duration_ms, "
      "p50_duration_ms, p95_duration_ms, p99_duration_ms, " +
      sql_micros("last_used_at") +
      ", array_to_string(duration_bucket_index, ','), array_to_string(duration_bucket_count, ','), " +
      sql_micros("updated_at") + ", coalesce(counted_through, 0) FROM agent_tool_usage ORDER BY agent_id, tool_name");
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
    if (through)
      through->push_back(r[13].as<std::int64_t>());
    out.push_back(std::move(s));
  }
  return out;
}

// `through` (optional): each row's counting point (0: none), by index.
std::vector<performance_snapshot> read_performance(pqxx::transaction_base& tx,
                                                   std::vector<std::int64_t>* through = nullptr) {
  const auto rows = tx.exec(
      "SELECT dimension, key, total_executions, successful_executions, failed_executions, timeout_executions, "
      "success_rate, avg_duration_ms, p50_duration_ms, p95_duration_ms, p99_duration_ms, total_tokens_used, "
      "total_cost_micro_usd, total_retries, " +
      sql_micros("last_execution_at") +
      ", array_to_string(duration_bucket_index, ','), array_to_string(duration_bucket_count, ','), " +
      sql_micros("updated_at") + ", coalesce(counted_through, 0) FROM agent_performance_summary ORDER BY dimension, key");
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
    if (through)
      through->push_back(r[18].as<std::int64_t>());
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

// Runs `query` through a cursor, `batch` rows at a time, calling f(row):
// a fold may read millions of rows, which one result would hold at once.
template <class F>
void for_each_row(pqxx::transaction_base& tx, const std::string& query, F f) {
  tx.exec0("DECLARE agentreg_fold NO SCROLL CURSOR FOR " + query);
  for (;;) {
    const auto rows = tx.exec("FETCH 10000 FROM agentreg_fold");
    for (const auto& r : rows)
      f(r);
    if (rows.size() < 10000)
      break;
  }
  tx.exec0("CLOSE agentreg_fold");
}

// What the committed rows say: each stored summary and tool usage row plus
// the rows committed after the point it counts through. Only rows past the
// global point (through which every stored total was complete) can be
// missing from a total, so only they are read (the BRIN index on
// counted_at finds them); a row is folded into a total unless that total's
// own point already covers it (a snapshot split over several transactions
// may have committed some totals past the global point). Rows of the
// loading run (at or after `own` << 40) are counted in its memory already.
void fold(pqxx::transaction_base& tx, recovered_state& s, const std::vector<std::int64_t>& perf_through,
          const std::vector<std::int64_t>& tool_through, std::int64_t own) {
  const auto global = tx.exec1("SELECT coalesce(max(counted_through), 0) FROM agentreg_counted_through")[0]
                          .as<std::int64_t>();
  const std::string upper = own > 0 ? std::to_string(own << 40) : std::string{"9223372036854775807"};
  const std::string range = " WHERE counted_at > " + std::to_string(global) + " AND counted_at < " + upper;

  using key = std::pair<int, std::string>;
  std::map<key, std::int64_t> perf_point;
  for (std::size_t i = 0; i < s.performance.size(); ++i)
    perf_point[{static_cast<int>(s.performance[i].summary.dimension), s.performance[i].summary.key}] = perf_through[i];
  std::map<key, core::performance_accumulator> perf_fold;
  for_each_row(tx,
               "SELECT agent_id, agent_type, model_name, task_type, coalesce(workflow_slug, ''), status, duration_ms, "
               "total_tokens, cost_micro_usd, retry_count, " +
                   sql_micros("completed_at") + ", counted_at FROM agent_executions" + range +
                   " AND status <> 'running'",
               [&](const pqxx::row& r) {
                 core::execution e;
                 e.agent_id = r[0].as<std::string>();
                 e.agent_type = r[1].as<std::string>();
                 e.model_name = r[2].as<std::string>();
                 e.task_type = r[3].as<std::string>();
                 e.workflow_slug = r[4].as<std::string>();
                 e.status = parse_enum(core::parse_execution_status, r[5], "execution status");
                 e.duration_ms = r[6].as<std::int64_t>();
                 e.total_tokens = r[7].as<std::int64_t>();
                 e.cost_micro_usd = r[8].as<std::int64_t>();
                 e.retry_count = r[9].as<std::int64_t>();
                 e.completed_at = from_micros(r[10].as<std::int64_t>());
                 const auto at = r[11].as<std::int64_t>();
                 const std::string* keys[] = {&e.agent_id, &e.agent_type, &e.model_name, &e.task_type,
                                              &e.workflow_slug};
                 for (int d = 0; d < 5; ++d) {
                   key k{d, *keys[d]};
                   if (auto it = perf_point.find(k); it != perf_point.end() && it->second >= at)
                     continue;
                   perf_fold[k].add(e);
                 }
                 ++s.folded_executions;
               });
  for (auto& [k, acc] : perf_fold) {
    const auto dim = static_cast<core::group_by>(k.first);
    auto it = std::find_if(s.performance.begin(), s.performance.end(), [&](const performance_snapshot& p) {
      return p.summary.dimension == dim && p.summary.key == k.second;
    });
    core::performance_accumulator total;
    core::timestamp taken_at = 0;
    if (it != s.performance.end()) {
      total.restore(it->summary, core::log_histogram::from_buckets(it->durations));
      taken_at = it->taken_at;
    }
    total.merge(acc);
    performance_snapshot merged{total.snapshot(dim, k.second), total.durations().buckets(), taken_at};
    if (it != s.performance.end())
      *it = std::move(merged);
    else
      s.performance.push_back(std::move(merged));
  }

  std::map<std::pair<std::string, std::string>, std::int64_t> tool_point;
  for (std::size_t i = 0; i < s.tool_usage.size(); ++i)
    tool_point[{s.tool_usage[i].usage.agent_id, s.tool_usage[i].usage.tool_name}] = tool_through[i];
  std::map<std::pair<std::string, std::string>, core::tool_accumulator> tool_fold;
  for_each_row(tx,
               "SELECT agent_id, tool_name, success_count, failure_count, duration_ms, " + sql_micros("called_at") +
                   ", counted_at FROM agent_tool_calls" + range,
               [&](const pqxx::row& r) {
                 core::tool_call_record t;
                 t.agent_id = r[0].as<std::string>();
                 t.tool_name = r[1].as<std::string>();
                 t.call.success_count = r[2].as<std::int64_t>();
                 t.call.failure_count = r[3].as<std::int64_t>();
                 t.call.duration_ms = r[4].as<double>();
                 t.at = from_micros(r[5].as<std::int64_t>());
                 std::pair<std::string, std::string> k{t.agent_id, t.tool_name};
                 if (auto it = tool_point.find(k); it != tool_point.end() && it->second >= r[6].as<std::int64_t>())
                   return;
                 tool_fold[k].add(t);
                 ++s.folded_tool_calls;
               });
  for (auto& [k, acc] : tool_fold) {
    auto it = std::find_if(s.tool_usage.begin(), s.tool_usage.end(), [&](const tool_usage_snapshot& u) {
      return u.usage.agent_id == k.first && u.usage.tool_name == k.second;
    });
    core::tool_accumulator total;
    core::timestamp taken_at = 0;
    if (it != s.tool_usage.end()) {
      total.restore(it->usage, core::log_histogram::from_buckets(it->durations));
      taken_at = it->taken_at;
    }
    total.merge(acc);
    tool_usage_snapshot merged{total.snapshot(k.first, k.second), total.durations().buckets(), taken_at};
    if (it != s.tool_usage.end())
      *it = std::move(merged);
    else
      s.tool_usage.push_back(std::move(merged));
  }
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

core::expected<recovered_state> loader::load(const std::string& run_id) {
  std::int64_t own = 0;
  if (!run_id.empty()) {
    try {
      own = detail::register_run(*impl_->conn, run_id);
    } catch (...) {
      return detail::current_failure("register run", impl_->conn.get()).error;
    }
  }
  return impl_->run("load state", [own](pqxx::transaction_base& tx) {
    recovered_state s;
    s.agents = read_agents(tx);
    std::vector<std::int64_t> tool_through, perf_through;
    s.tool_usage = read_tool_usage(tx, &tool_through);
    s.performance = read_performance(tx, &perf_through);
    s.running_executions = read_running(tx);
    fold(tx, s, perf_through, tool_through, own);
    return s;
  });
}

core::expected<std::vector<core::agent>> loader::agents() { return impl_->run("load agents", read_agents); }

core::expected<std::vector<tool_usage_snapshot>> loader::tool_usage() {
  return impl_->run("load tool usage", [](pqxx::transaction_base& tx) { return read_tool_usage(tx); });
}

core::expected<std::vector<performance_snapshot>> loader::performance() {
  return impl_->run("load performance summaries", [](pqxx::transaction_base& tx) { return read_performance(tx); });
}

core::expected<std::vector<core::execution>> loader::running_executions() {
  return impl_->run("load running executions", read_running);
}

}  // namespace agentreg::db
