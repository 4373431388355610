#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace agentreg::core {

/// An agent's status. `busy` is shown when current_load == max_capacity.
enum class agent_status : std::uint8_t { online = 0, offline = 1, paused = 2, busy = 3 };
/// An execution's status: `running` until completed.
enum class execution_status : std::uint8_t { running = 0, success = 1, failed = 2, timeout = 3 };
/// The dimension a performance summary is grouped by.
enum class group_by : std::uint8_t { agent = 0, agent_type = 1, model = 2, task_type = 3, workflow = 4 };

const char* to_string(agent_status s);
const char* to_string(execution_status s);
const char* to_string(group_by g);
std::optional<agent_status> parse_agent_status(std::string_view s);
std::optional<execution_status> parse_execution_status(std::string_view s);
std::optional<group_by> parse_group_by(std::string_view s);

/// What a caller registers: the seed's fields.
struct agent_spec {
  std::string agent_id;
  std::string agent_type;  ///< any non-empty text
  std::string llm_provider;
  std::string model_name;
  double temperature = 0.7;
  std::int64_t max_tokens = 0;
  std::int64_t max_capacity = 1;  ///< 1..4095
  std::map<std::string, std::string> metadata;
  /// The agent's A2A Agent Card (the JSON document A2A agents publish at
  /// /.well-known/agent-card.json), as validated JSON text; empty: none.
  std::string agent_card;
  /// Skills the agent offers (the card's skill ids and tags, or given
  /// directly); list_agents can filter by one.
  std::vector<std::string> skills;
};

/// A registered agent: its spec and its live state.
struct agent : agent_spec {
  std::int64_t current_load = 0;
  agent_status status = agent_status::online;
  timestamp last_heartbeat = 0;
  timestamp registered_at = 0;
};

/// Filter for list_agents; empty fields match everything.
struct agent_filter {
  std::optional<std::string> agent_type;
  std::optional<agent_status> status;
  std::optional<std::string> llm_provider;
  std::optional<std::string> model_name;
};

/// What start_execution is told about the task.
struct execution_request {
  std::string task_type;
  std::string workflow_slug;
  std::string run_id;
};

/// What complete_execution is told; absent fields are computed or zero.
struct execution_metrics {
  std::optional<std::int64_t> prompt_tokens;
  std::optional<std::int64_t> completion_tokens;
  std::optional<std::int64_t> cached_tokens;
  std::optional<std::int64_t> total_tokens;        ///< prompt + completion when absent
  std::optional<double> estimated_cost_usd;        ///< from the price table when absent
  std::optional<double> success_score;             ///< 0..1
  std::int64_t retry_count = 0;
  std::string error_message;
};

/// One execution, running or completed. Money is integer micro-dollars.
struct execution {
  std::string id;  ///< UUID text
  std::string agent_id;
  std::string agent_type;
  std::string llm_provider;
  std::string model_name;
  std::string task_type;
  std::string workflow_slug;
  std::string run_id;
  execution_status status = execution_status::running;
  timestamp started_at = 0;
  timestamp completed_at = 0;  ///< 0 while running
  std::int64_t duration_ms = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cost_micro_usd = 0;
  bool cost_from_price_table = false;
  std::string price_version;  ///< the price table version used (or that was current)
  std::optional<double> success_score;
  std::int64_t retry_count = 0;
  std::string error_message;

  [[nodiscard]] double estimated_cost_usd() const { return static_cast<double>(cost_micro_usd) / 1e6; }
};

/// What record_tool_usage is told.
struct tool_call {
  std::string execution_id;  ///< optional: the execution the calls belong to
  std::int64_t success_count = 0;
  std::int64_t failure_count = 0;
  double duration_ms = 0;  ///< duration of each call (the average, when counts > 1)
};

/// A tool call as recorded (one record per record_tool_usage call).
struct tool_call_record {
  std::string id;  ///< UUID text: the idempotency key for persistence
  std::string agent_id;
  std::string tool_name;
  tool_call call;
  timestamp at = 0;
};

/// Usage of one tool by one agent, aggregated.
struct tool_usage {
  std::string agent_id;
  std::string tool_name;
  std::int64_t invocation_count = 0;
  std::int64_t success_count = 0;
  std::int64_t failure_count = 0;
  double avg_duration_ms = 0;
  double p50_duration_ms = 0;
  double p95_duration_ms = 0;
  double p99_duration_ms = 0;
  timestamp last_used_at = 0;
};

/// A performance summary, per agent or per group.
struct performance {
  group_by dimension = group_by::agent;
  std::string key;  ///< agent id, type, model, task type or workflow
  std::int64_t total_executions = 0;
  std::int64_t successful_executions = 0;
  std::int64_t failed_executions = 0;
  std::int64_t timeout_executions = 0;
  double success_rate = 0;
  double avg_duration_ms = 0;
  double p50_duration_ms = 0;
  double p95_duration_ms = 0;
  double p99_duration_ms = 0;
  std::int64_t total_tokens_used = 0;
  std::int64_t total_cost_micro_usd = 0;
  double total_cost_usd = 0;
  double avg_cost_per_execution = 0;  ///< USD
  std::int64_t total_retries = 0;
  timestamp last_execution_at = 0;
};

/// A reserved slot on an agent, from acquire(); give it back to release().
struct lease {
  std::string agent_id;
  /// The lease's secret: 64 bits from the operating system's random source,
  /// checked (all of them) by release and renew.
  std::uint64_t lease_id = 0;
  std::uint32_t pool = 0, slot = 0, generation = 0;  ///< the agent's index handle
  std::uint32_t record = 0;                          ///< the index's lease record
  timestamp expires_at = 0;                          ///< 0: no TTL
};

/// The opaque, URL-safe text form of a lease for clients that hold it
/// outside the process (32 characters of base64url: the index handle, the
/// record and the secret; not the agent id nor the expiry). Whoever holds
/// the text can release or renew the lease: it is a bearer credential.
std::string to_string(const lease& l);

/// Parses the text of to_string(lease); nullopt unless it is exactly such a
/// text. The result has an empty agent_id and expires_at 0; release() and
/// renew() accept it, and answer lease_not_held for a well-formed text that
/// names no holding.
std::optional<lease> parse_lease(std::string_view text);

/// What one stale sweep did.
struct sweep_report {
  timestamp at = 0;
  std::int64_t agents_checked = 0;
  std::int64_t stale = 0;              ///< agents whose heartbeat is too old
  std::int64_t evicted = 0;            ///< marked offline by this sweep
  std::int64_t held_back = 0;          ///< stale but kept (grace, fraction cap, degraded)
  bool in_grace_period = false;
  bool degraded = false;               ///< most agents stale at once: evictions held
  std::int64_t leases_reclaimed = 0;
  std::int64_t executions_timed_out = 0;
  std::int64_t sweep_ns = 0;
};

/// The engine's counters, for operators (and later /metrics).
struct engine_stats {
  std::int64_t agents = 0;
  std::int64_t online = 0, busy = 0, offline = 0, paused = 0;
  std::int64_t leases_held = 0;
  std::int64_t running_executions = 0;
  std::int64_t completed_executions = 0;
  std::int64_t tool_calls = 0;
  std::int64_t evictions_total = 0;
  std::int64_t evictions_held_total = 0;   ///< stale agents sweeps kept (grace, fraction cap, degraded)
  std::int64_t leases_expired_total = 0;   ///< leases the sweep reclaimed past their TTL
  std::int64_t agent_actor_restarts = 0;   ///< agent actors respawned after a crash
  std::int64_t sweeps = 0;
  bool degraded = false;
  bool in_grace_period = false;
  sweep_report last_sweep;
  // Persistence (zero without a database).
  bool persistence_enabled = false;
  bool persistence_connected = false;  ///< every writer's last write succeeded
  std::int64_t persistence_backlog = 0;
  std::int64_t persistence_batches = 0;
  std::int64_t persistence_rows = 0;
  std::int64_t persistence_retries = 0;
  /// Records the database refused for their data, kept in the
  /// agentreg_dead_letters table (as JSON, with the error) instead.
  std::int64_t persistence_dead_letters = 0;
  /// Records that will never be written (a writer that died held them).
  std::int64_t persistence_lost = 0;
  /// Writers replaced after they stopped (what they held is counted lost).
  std::int64_t persistence_writer_restarts = 0;
  /// Records refused because the backlog was full (policy refuse, or a
  /// caller that must not wait).
  std::int64_t persistence_gate_refusals = 0;
  /// Snapshots taken for persistence (each sends only the agent, tool usage
  /// and summary rows that changed since the one before).
  std::int64_t persistence_snapshots = 0;
  /// Snapshot rows held in memory, not yet committed: at most three per
  /// key (pending, being written, the writer's copy), however long the
  /// database is away.
  std::int64_t persistence_snapshot_rows = 0;
  std::string persistence_last_error;
};

}  // namespace agentreg::core
