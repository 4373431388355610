#include "persistence/batch_writer.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <pqxx/pqxx>

#include "core/text.hpp"
#include "core/uuid.hpp"
#include "persistence/migrations.hpp"
#include "persistence/pg_common.hpp"
#include "persistence/encoding.hpp"

namespace agentreg::db {

namespace {

using detail::sql_timestamp;
using detail::to_micros;

// ---------------------------------------------------------------------------
// Staging tables and merge statements.
//
// Each record kind has a staging table (TEMP: private to this session, so
// several writers never see each other's rows; ON COMMIT DELETE ROWS: empty
// at the start of every batch, and a failed batch's rows vanish with its
// rollback). Times travel as bigint microseconds and become timestamptz in
// the merge (see detail::sql_timestamp). The COPY column list, the staging
// table and the merge are generated from one list per kind so they cannot
// drift apart; the tuples written in write() follow the same order.

struct column {
  std::string_view stage;   // staging column
  std::string_view type;    // its SQL type
  std::string_view target;  // column of the real table ("": none)
  std::string select;       // expression over the staging row
  std::string update;       // ON CONFLICT assignment ("": target = EXCLUDED.target)
};

enum class on_conflict { update, update_if, nothing };

// In update expressions the real table's row is `t`, the new one EXCLUDED.
struct table_spec {
  std::string_view stage;
  std::string_view target;
  std::vector<column> columns;
  std::vector<std::string_view> key;  // the conflict target (primary key)
  on_conflict conflict = on_conflict::update;
  std::string update_if;  // WHERE of the update, for on_conflict::update_if
};

column same(std::string_view name, std::string_view type) {
  return {name, type, name, std::string{name}, {}};
}
column optional_text(std::string_view name) {
  // The engine's "" means "not given"; the seed's columns are nullable.
  return {name, "text", name, "nullif(" + std::string{name} + ", '')", {}};
}
column time_us(std::string_view stage, std::string_view target) {
  return {stage, "bigint", target, sql_timestamp(stage), {}};
}

const table_spec& agents_spec() {
  static const table_spec spec{
      "agentreg_stage_agents",
      "agent_instances",
      {same("agent_id", "text"), same("agent_type", "text"), same("status", "text"),
       same("current_load", "integer"), same("max_capacity", "integer"), same("llm_provider", "text"),
       same("model_name", "text"), time_us("last_heartbeat_us", "last_heartbeat"),
       same("temperature", "double precision"), same("max_tokens", "bigint"),
       time_us("registered_at_us", "registered_at"),
       {"metadata", "text", "metadata", "metadata::jsonb", {}},
       {"agent_card", "text", "agent_card", "nullif(agent_card, '')::jsonb", {}},
       same("skills", "text[]"),
       {"unregistered", "boolean", "", "", {}},
       // The first unregistration time is kept across replays; registering
       // again (unregistered = false) clears it.
       {"unregistered_at_us", "bigint", "unregistered_at",
        "CASE WHEN unregistered THEN coalesce(" + sql_timestamp("unregistered_at_us") + ", now()) END",
        "CASE WHEN EXCLUDED.unregistered_at IS NULL THEN NULL "
        "ELSE coalesce(t.unregistered_at, EXCLUDED.unregistered_at) END"}},
      {"agent_id"}};
  return spec;
}

const table_spec& executions_spec() {
  static const table_spec spec{
      "agentreg_stage_executions",
      "agent_executions",
      {same("id", "uuid"), same("agent_id", "text"), same("agent_type", "text"), same("llm_provider", "text"),
       same("model_name", "text"), same("task_type", "text"), optional_text("workflow_slug"),
       optional_text("run_id"), same("status", "text"), time_us("started_us", "started_at"),
       time_us("completed_us", "completed_at"), same("duration_ms", "bigint"), same("prompt_tokens", "bigint"),
       same("completion_tokens", "bigint"), same("cached_tokens", "bigint"), same("total_tokens", "bigint"),
       same("cost_micro_usd", "bigint"), same("cost_from_price_table", "boolean"),
       optional_text("price_version"), same("success_score", "double precision"),
       same("retry_count", "bigint"), optional_text("error_message"), same("counted_at", "bigint")},
      {"id"},
      on_conflict::update_if,
      // Only a completion moves a row: running -> completed. A running record
      // never overwrites anything, and a completed row is final, so replays
      // and late "started" records change nothing.
      "t.status = 'running' AND EXCLUDED.status <> 'running'"};
  return spec;
}

const table_spec& tool_calls_spec() {
  static const table_spec spec{
      "agentreg_stage_tool_calls",
      "agent_tool_calls",
      {same("id", "uuid"), same("agent_id", "text"), same("tool_name", "text"), same("execution_id", "uuid"),
       same("success_count", "bigint"), same("failure_count", "bigint"), same("duration_ms", "double precision"),
       time_us("called_at_us", "called_at"), same("counted_at", "bigint")},
      {"id"},
      on_conflict::nothing};
  return spec;
}

std::vector<column> statistics_columns() {
  return {same("avg_duration_ms", "double precision"), same("p50_duration_ms", "double precision"),
          same("p95_duration_ms", "double precision"), same("p99_duration_ms", "double precision"),
          same("duration_bucket_index", "integer[]"), same("duration_bucket_count", "bigint[]")};
}

const table_spec& tool_usage_spec() {
  static const table_spec spec = [] {
    table_spec s{"agentreg_stage_tool_usage",
                 "agent_tool_usage",
                 {same("agent_id", "text"), same("tool_name", "text"), same("invocation_count", "bigint"),
                  same("success_count", "bigint"), same("failure_count", "bigint")},
                 {"agent_id", "tool_name"}};
    for (auto& c : statistics_columns())
      s.columns.push_back(std::move(c));
    s.columns.push_back(time_us("last_used_us", "last_used_at"));
    s.columns.push_back(same("counted_through", "bigint"));
    s.columns.push_back({"taken_us", "bigint", "updated_at", "coalesce(" + sql_timestamp("taken_us") + ", now())", {}});
    return s;
  }();
  return spec;
}

const table_spec& performance_spec() {
  static const table_spec spec = [] {
    table_spec s{"agentreg_stage_performance",
                 "agent_performance_summary",
                 {same("dimension", "text"), same("key", "text"), same("total_executions", "bigint"),
                  same("successful_executions", "bigint"), same("failed_executions", "bigint"),
                  same("timeout_executions", "bigint"), same("success_rate", "double precision"),
                  same("total_tokens_used", "bigint"), same("total_cost_micro_usd", "bigint"),
                  same("total_retries", "bigint"), time_us("last_execution_us", "last_execution_at"),
                  same("counted_through", "bigint")},
                 {"dimension", "key"}};
    for (auto& c : statistics_columns())
      s.columns.push_back(std::move(c));
    s.columns.push_back({"taken_us", "bigint", "updated_at", "coalesce(" + sql_timestamp("taken_us") + ", now())", {}});
    return s;
  }();
  return spec;
}

std::vector<std::string> copy_columns(const table_spec& s) {
  std::vector<std::string> out;
  for (const auto& c : s.columns)
    out.emplace_back(c.stage);
  return out;
}

std::string create_stage_sql(const table_spec& s) {
  std::string sql = "CREATE TEMP TABLE " + std::string{s.stage} + " (";
  for (std::size_t i = 0; i < s.columns.size(); ++i)
    sql += (i ? ", " : "") + std::string{s.columns[i].stage} + " " + std::string{s.columns[i].type};
  return sql + ") ON COMMIT DELETE ROWS";
}

std::string merge_sql(const table_spec& s) {
  const auto list = [](std::string& out, const std::string& item) { out += (out.empty() ? "" : ", ") + item; };
  std::string targets, selects, updates, key;
  for (auto k : s.key)
    list(key, std::string{k});
  for (const auto& c : s.columns) {
    if (c.target.empty())
      continue;
    const std::string target{c.target};
    list(targets, target);
    list(selects, c.select);
    if (std::find(s.key.begin(), s.key.end(), c.target) == s.key.end())
      list(updates, target + " = " + (c.update.empty() ? "EXCLUDED." + target : c.update));
  }
  std::string sql = "INSERT INTO " + std::string{s.target} + " AS t (" + targets + ") SELECT " + selects +
                    " FROM " + std::string{s.stage} + " ON CONFLICT (" + key + ")";
  switch (s.conflict) {
    case on_conflict::nothing: return sql + " DO NOTHING";
    case on_conflict::update: return sql + " DO UPDATE SET " + updates;
    case on_conflict::update_if: return sql + " DO UPDATE SET " + updates + " WHERE " + s.update_if;
  }
  return sql;
}

const table_spec* all_specs[] = {&agents_spec(), &executions_spec(), &tool_calls_spec(), &tool_usage_spec(),
                                 &performance_spec()};

std::string merge_name(const table_spec& s) { return "merge_" + std::string{s.stage}; }

// ---------------------------------------------------------------------------
// Preparing a batch: text that PostgreSQL cannot store, UUID checks, and
// duplicates within the batch (ON CONFLICT DO UPDATE refuses to touch one row
// twice in a statement, and fewer rows make a cheaper COPY).

template <class Batch, class F>
void for_each_text(Batch& b, F&& f) {
  for (auto& r : b.agents) {
    auto& a = r.agent;
    for (auto* s : {&a.agent_id, &a.agent_type, &a.llm_provider, &a.model_name, &a.agent_card})
      f(*s);
    for (auto& s : a.skills)
      f(s);
  }
  for (auto& e : b.executions)
    for (auto* s : {&e.agent_id, &e.agent_type, &e.llm_provider, &e.model_name, &e.task_type, &e.workflow_slug,
                    &e.run_id, &e.price_version, &e.error_message})
      f(*s);
  for (auto& t : b.tool_calls)
    for (auto* s : {&t.agent_id, &t.tool_name})
      f(*s);
  for (auto& u : b.tool_usage)
    for (auto* s : {&u.usage.agent_id, &u.usage.tool_name})
      f(*s);
  for (auto& p : b.performance)
    f(p.summary.key);
}

bool any_unstorable(const batch& b) {
  bool any = false;
  for_each_text(b, [&](const std::string& s) { any = any || !core::is_clean_text(s); });
  for (const auto& r : b.agents)
    for (const auto& [k, v] : r.agent.metadata)
      any = any || !core::is_clean_text(k) || !core::is_clean_text(v);
  return any;
}

void sanitize(batch& b) {
  for_each_text(b, [](std::string& s) {
    if (!core::is_clean_text(s))
      s = detail::sanitized_text(s);
  });
  for (auto& r : b.agents) {
    std::map<std::string, std::string> fixed;
    for (const auto& [k, v] : r.agent.metadata)
      fixed[detail::sanitized_text(k)] = detail::sanitized_text(v);
    r.agent.metadata = std::move(fixed);
  }
}

bool completed(const core::execution& e) { return e.status != core::execution_status::running; }

// Which records of a batch to send, by index.
struct selection {
  std::vector<std::size_t> agents, executions, tool_calls, tool_usage, performance;
};

template <class T, class Key>
std::vector<std::size_t> last_per_key(const std::vector<T>& v, Key key) {
  std::unordered_map<std::string, std::size_t> slot;
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto [it, inserted] = slot.try_emplace(key(v[i]), out.size());
    if (inserted)
      out.push_back(i);
    else
      out[it->second] = i;
  }
  return out;
}

core::expected<selection> select_records(const batch& b) {
  selection sel;
  const auto bad_uuid = [](const char* what, std::size_t i, const std::string& text) {
    return core::error{core::errc::invalid_argument,
                       std::string{what} + " #" + std::to_string(i) + ": '" + text + "' is not a UUID"};
  };

  std::unordered_map<core::uuid, std::size_t, core::uuid_hash> slot;
  slot.reserve(b.executions.size());
  for (std::size_t i = 0; i < b.executions.size(); ++i) {
    const auto id = core::parse_uuid(b.executions[i].id);
    if (!id)
      return bad_uuid("execution", i, b.executions[i].id);
    auto [it, inserted] = slot.try_emplace(*id, sel.executions.size());
    if (inserted) {
      sel.executions.push_back(i);
    } else {
      // The same rule as the merge: only running -> completed moves.
      auto& kept = sel.executions[it->second];
      if (!completed(b.executions[kept]) && completed(b.executions[i]))
        kept = i;
    }
  }

  slot.clear();
  for (std::size_t i = 0; i < b.tool_calls.size(); ++i) {
    const auto& t = b.tool_calls[i];
    const auto id = core::parse_uuid(t.id);
    if (!id)
      return bad_uuid("tool call", i, t.id);
    if (!t.call.execution_id.empty() && !core::parse_uuid(t.call.execution_id))
      return bad_uuid("tool call execution_id", i, t.call.execution_id);
    if (slot.try_emplace(*id, i).second)
      sel.tool_calls.push_back(i);
  }

  // Snapshots: the last one of a key is the newest. Keys are joined with a
  // NUL, which sanitised text cannot contain.
  sel.agents = last_per_key(b.agents, [](const agent_snapshot& r) { return r.agent.agent_id; });
  sel.tool_usage = last_per_key(b.tool_usage, [](const tool_usage_snapshot& s) {
    return s.usage.agent_id + '\0' + s.usage.tool_name;
  });
  sel.performance = last_per_key(b.performance, [](const performance_snapshot& s) {
    return std::string{core::to_string(s.summary.dimension)} + '\0' + s.summary.key;
  });
  return sel;
}

// PostgreSQL array literals for a histogram: {index,...} and {count,...}.
std::pair<std::string, std::string> array_literals(const histogram_buckets& h) {
  std::string index = "{", count = "{";
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (i > 0) {
      index += ',';
      count += ',';
    }
    index += std::to_string(h[i].first);
    count += std::to_string(h[i].second);
  }
  return {index + '}', count + '}'};
}

const char* null_if_empty(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

// Each record of `b` as (kind, JSON), for the dead-letter table.
std::vector<std::pair<std::string, std::string>> records_as_json(const batch& b) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : b.agents) {
    const auto& a = r.agent;
    detail::json_builder j;
    j.text("agent_id", a.agent_id).text("agent_type", a.agent_type).text("status", core::to_string(a.status));
    j.number("current_load", a.current_load).number("max_capacity", a.max_capacity);
    j.text("llm_provider", a.llm_provider).text("model_name", a.model_name);
    j.number("temperature", a.temperature).number("max_tokens", a.max_tokens);
    j.number("last_heartbeat_ns", a.last_heartbeat).number("registered_at_ns", a.registered_at);
    j.raw("metadata", detail::json_object(a.metadata)).text("agent_card", a.agent_card).texts("skills", a.skills);
    j.flag("unregistered", r.unregistered).number("unregistered_at_ns", r.unregistered_at);
    out.emplace_back("agent", j.str());
  }
  for (const auto& e : b.executions) {
    detail::json_builder j;
    j.text("id", e.id).text("agent_id", e.agent_id).text("agent_type", e.agent_type);
    j.text("llm_provider", e.llm_provider).text("model_name", e.model_name).text("task_type", e.task_type);
    j.text("workflow_slug", e.workflow_slug).text("run_id", e.run_id).text("status", core::to_string(e.status));
    j.number("started_at_ns", e.started_at).number("completed_at_ns", e.completed_at);
    j.number("duration_ms", e.duration_ms).number("prompt_tokens", e.prompt_tokens);
    j.number("completion_tokens", e.completion_tokens).number("cached_tokens", e.cached_tokens);
    j.number("total_tokens", e.total_tokens).number("cost_micro_usd", e.cost_micro_usd);
    j.flag("cost_from_price_table", e.cost_from_price_table).text("price_version", e.price_version);
    if (e.success_score)
      j.number("success_score", *e.success_score);
    j.number("retry_count", e.retry_count).text("error_message", e.error_message);
    out.emplace_back("execution", j.str());
  }
  for (const auto& t : b.tool_calls) {
    detail::json_builder j;
    j.text("id", t.id).text("agent_id", t.agent_id).text("tool_name", t.tool_name);
    j.text("execution_id", t.call.execution_id).number("success_count", t.call.success_count);
    j.number("failure_count", t.call.failure_count).number("duration_ms", t.call.duration_ms);
    j.number("called_at_ns", t.at);
    out.emplace_back("tool_call", j.str());
  }
  for (const auto& s : b.tool_usage) {
    const auto& u = s.usage;
    detail::json_builder j;
    j.text("agent_id", u.agent_id).text("tool_name", u.tool_name).number("invocation_count", u.invocation_count);
    j.number("success_count", u.success_count).number("failure_count", u.failure_count);
    j.number("avg_duration_ms", u.avg_duration_ms).number("last_used_at_ns", u.last_used_at);
    out.emplace_back("tool_usage", j.str());
  }
  for (const auto& s : b.performance) {
    const auto& p = s.summary;
    detail::json_builder j;
    j.text("dimension", core::to_string(p.dimension)).text("key", p.key);
    j.number("total_executions", p.total_executions).number("successful_executions", p.successful_executions);
    j.number("failed_executions", p.failed_executions).number("timeout_executions", p.timeout_executions);
    j.number("total_tokens_used", p.total_tokens_used).number("total_cost_micro_usd", p.total_cost_micro_usd);
    j.number("total_retries", p.total_retries).number("last_execution_at_ns", p.last_execution_at);
    out.emplace_back("performance", j.str());
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------

struct batch_writer::impl {
  std::unique_ptr<pqxx::connection> conn;
  bool broken = false;
  bool data_error = false;
  std::int64_t run = 0;  // the run's ordinal (0: none)

  std::optional<std::int64_t> point(std::uint64_t drain) const { return detail::count_point(run, drain); }
  static std::uint64_t drain_of(const std::vector<std::uint64_t>& drains, std::size_t i) {
    return i < drains.size() ? drains[i] : 0;
  }

  template <class Rows>
  std::int64_t copy_and_merge(pqxx::work& tx, const table_spec& spec, std::size_t count, Rows&& rows) {
    if (count == 0)
      return 0;
    pqxx::stream_to stream{tx, std::string{spec.stage}, copy_columns(spec)};
    rows(stream);
    stream.complete();
    return static_cast<std::int64_t>(tx.exec_prepared(merge_name(spec)).affected_rows());
  }

  write_report write(const batch& b, const selection& sel) {
    write_report report;
    pqxx::work tx{*conn};

    report.agents = copy_and_merge(tx, agents_spec(), sel.agents.size(), [&](pqxx::stream_to& s) {
      for (auto i : sel.agents) {
        const auto& r = b.agents[i];
        const auto& a = r.agent;
        s << std::forward_as_tuple(a.agent_id, a.agent_type, core::to_string(a.status), a.current_load,
                                   a.max_capacity, a.llm_provider, a.model_name, to_micros(a.last_heartbeat),
                                   a.temperature, a.max_tokens, to_micros(a.registered_at),
                                   detail::json_object(a.metadata), a.agent_card, detail::array_literal(a.skills),
                                   r.unregistered, to_micros(r.unregistered_at));
      }
    });

    report.executions = copy_and_merge(tx, executions_spec(), sel.executions.size(), [&](pqxx::stream_to& s) {
      for (auto i : sel.executions) {
        const auto& e = b.executions[i];
        s << std::forward_as_tuple(e.id, e.agent_id, e.agent_type, e.llm_provider, e.model_name, e.task_type,
                                   e.workflow_slug, e.run_id, core::to_string(e.status), to_micros(e.started_at),
                                   to_micros(e.completed_at), e.duration_ms, e.prompt_tokens,
                                   e.completion_tokens, e.cached_tokens, e.total_tokens, e.cost_micro_usd,
                                   e.cost_from_price_table, e.price_version, e.success_score, e.retry_count,
                                   e.error_message,
                                   completed(e) ? point(drain_of(b.execution_drains, i)) : std::nullopt);
      }
    });

    report.tool_calls = copy_and_merge(tx, tool_calls_spec(), sel.tool_calls.size(), [&](pqxx::stream_to& s) {
      for (auto i : sel.tool_calls) {
        const auto& t = b.tool_calls[i];
        s << std::forward_as_tuple(t.id, t.agent_id, t.tool_name, null_if_empty(t.call.execution_id),
                                   t.call.success_count, t.call.failure_count, t.call.duration_ms,
                                   to_micros(t.at), point(drain_of(b.tool_call_drains, i)));
      }
    });

    report.tool_usage = copy_and_merge(tx, tool_usage_spec(), sel.tool_usage.size(), [&](pqxx::stream_to& s) {
      for (auto i : sel.tool_usage) {
        const auto& u = b.tool_usage[i].usage;
        const auto [index, count] = array_literals(b.tool_usage[i].durations);
        s << std::forward_as_tuple(u.agent_id, u.tool_name, u.invocation_count, u.success_count, u.failure_count,
                                   u.avg_duration_ms, u.p50_duration_ms, u.p95_duration_ms, u.p99_duration_ms,
                                   index, count, to_micros(u.last_used_at), point(b.tool_usage[i].drain),
                                   to_micros(b.tool_usage[i].taken_at));
      }
    });

    report.performance = copy_and_merge(tx, performance_spec(), sel.performance.size(), [&](pqxx::stream_to& s) {
      for (auto i : sel.performance) {
        const auto& p = b.performance[i].summary;
        const auto [index, count] = array_literals(b.performance[i].durations);
        s << std::forward_as_tuple(core::to_string(p.dimension), p.key, p.total_executions,
                                   p.successful_executions, p.failed_executions, p.timeout_executions,
                                   p.success_rate, p.total_tokens_used, p.total_cost_micro_usd, p.total_retries,
                                   to_micros(p.last_execution_at), point(b.performance[i].drain), p.avg_duration_ms,
                                   p.p50_duration_ms,
                                   p.p95_duration_ms, p.p99_duration_ms, index, count,
                                   to_micros(b.performance[i].taken_at));
      }
    });

    if (const auto through = point(b.snapshot_drain))
      tx.exec_params0(
          "INSERT INTO agentreg_counted_through AS t (singleton, counted_through) VALUES (true, $1) "
          "ON CONFLICT (singleton) DO UPDATE SET counted_through = greatest(t.counted_through, EXCLUDED.counted_through)",
          *through);
    tx.commit();
    return report;
  }
};

batch_writer::batch_writer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
batch_writer::batch_writer(batch_writer&&) noexcept = default;
batch_writer& batch_writer::operator=(batch_writer&&) noexcept = default;
batch_writer::~batch_writer() = default;

core::expected<batch_writer> batch_writer::connect(const std::string& url,
                                                   std::chrono::milliseconds statement_timeout,
                                                   const std::string& run_id) {
  auto p = std::make_unique<impl>();
  try {
    p->conn = detail::open_connection(url);
    pqxx::work tx{*p->conn};
    // A session setting (not LOCAL): it outlives this transaction.
    tx.exec0("SET statement_timeout = " + std::to_string(std::max<std::int64_t>(statement_timeout.count(), 1)));
    const bool versioned = tx.exec1("SELECT to_regclass('schema_version') IS NOT NULL")[0].as<bool>();
    const int version =
        versioned ? tx.exec1("SELECT coalesce(max(version), 0) FROM schema_version")[0].as<int>() : 0;
    if (version != latest_schema_version())
      return core::error{core::errc::internal, "database: schema is at version " + std::to_string(version) +
                                                   ", this build needs " +
                                                   std::to_string(latest_schema_version()) + ": run migrate first"};
    for (const auto* spec : all_specs)
      tx.exec0(create_stage_sql(*spec));
    tx.commit();
    for (const auto* spec : all_specs)
      p->conn->prepare(merge_name(*spec), merge_sql(*spec));
    if (!run_id.empty())
      p->run = detail::register_run(*p->conn, run_id);
  } catch (...) {
    return detail::current_failure("connect writer", p->conn.get()).error;
  }
  return batch_writer{std::move(p)};
}

bool batch_writer::broken() const { return impl_->broken; }

bool batch_writer::data_error() const { return impl_->data_error; }

core::expected<std::int64_t> batch_writer::write_dead_letters(const batch& b, const std::string& error) {
  impl_->data_error = false;
  if (impl_->broken || !impl_->conn->is_open()) {
    impl_->broken = true;
    return core::error{core::errc::internal, "database: the connection was lost earlier: connect a new writer"};
  }
  const auto records = records_as_json(b);
  const std::string why = detail::sanitized_text(error);
  try {
    pqxx::work tx{*impl_->conn};
    for (const auto& [kind, json] : records)
      tx.exec_params0("INSERT INTO agentreg_dead_letters (kind, record, error) VALUES ($1, $2::jsonb, $3)", kind, json,
                      why);
    tx.commit();
  } catch (...) {
    auto f = detail::current_failure("write dead letters", impl_->conn.get());
    impl_->broken = f.broken;
    impl_->data_error = f.data;
    return f.error;
  }
  return static_cast<std::int64_t>(records.size());
}

core::expected<write_report> batch_writer::write(const batch& b) {
  impl_->data_error = false;
  if (impl_->broken || !impl_->conn->is_open()) {
    impl_->broken = true;
    return core::error{core::errc::internal, "database: the connection was lost earlier: connect a new writer"};
  }
  if (b.empty())
    return write_report{};

  // The common case sends the caller's batch as is; only a batch with text
  // PostgreSQL would refuse is copied and repaired (one bad string must not
  // block every batch behind it forever). The engine refuses such text at
  // every call that takes it (core::validate), so this guards the writer's
  // own callers only; it is not counted anywhere, since through the engine
  // the count would be zero by construction.
  std::optional<batch> repaired;
  if (any_unstorable(b)) {
    repaired = b;
    sanitize(*repaired);
  }
  const batch& to_send = repaired ? *repaired : b;

  auto sel = select_records(to_send);
  if (!sel) {
    impl_->data_error = true;
    return sel.error();
  }
  try {
    return impl_->write(to_send, *sel);
  } catch (...) {
    auto f = detail::current_failure("write batch", impl_->conn.get());
    impl_->broken = f.broken;
    impl_->data_error = f.data;
    return f.error;
  }
}

}  // namespace agentreg::db
