#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/change_log.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/heartbeat.hpp"
#include "core/metrics.hpp"
#include "core/types.hpp"

/// agentreg's public C++ API. Include this header, link agentreg::agentreg.
/// It hides CAF, Beast and libpqxx: nothing here needs their headers.
namespace agentreg {

using config = core::registry_config;
using core::agent;
using core::agent_filter;
using core::agent_spec;
using core::agent_status;
using core::change;
using core::change_batch;
using core::change_kind;
using core::backlog_policy;
using core::engine_stats;
using core::errc;
using core::error;
using core::execution;
using core::execution_metrics;
using core::execution_request;
using core::execution_status;
using core::group_by;
using core::heartbeat_ack;
using core::heartbeat_item;
using core::lease;
using core::metrics_snapshot;
using core::parse_lease;
using core::performance;
using core::sweep_report;
using core::tool_call;
using core::tool_usage;
using core::unit;
template <class T>
using expected = core::expected<T>;

/// The callback of an asynchronous call: receives the call's value or error.
/// It runs exactly once: on an engine thread once the actor asked has
/// answered, or on the calling thread before the call returns when the
/// answer needs no actor (bad input, unknown agent, a new registration). It
/// must return quickly and never block: it runs on a thread the engine's
/// actors share.
template <class T>
using completion = std::function<void(expected<T>)>;

/// What a hot call (start_execution, complete_execution, record_tool_usage)
/// does when the write-behind backlog is full.
enum class when_backlog_full : std::uint8_t {
  apply_policy,  ///< what config.on_full says: wait (block) or fail (refuse)
  refuse,        ///< fail with errc::persistence_backlog, never wait (for a thread that must not block)
};

/// What registry's constructor throws for a configuration it refuses (the
/// one exception of the facade: a registry is either built from a valid
/// configuration or not at all). `what()` names the field at fault, as
/// "config.heartbeat_interval must be within ...".
class invalid_config : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Checks a configuration as registry's constructor does, without building
/// one (nothing starts). Errors: invalid_argument, naming the field.
expected<unit> validate(const config& cfg);

/// Which agents list_agents_page_async() answers: those matching `filter`
/// (and having `skill` among their skills, when set) whose ids come after
/// `after`, the first `limit` by id.
struct agent_page_request {
  agent_filter filter;
  std::optional<std::string> skill;  ///< an A2A skill id or tag (agent_spec::skills)
  std::string after;                 ///< empty: from the first id
  std::size_t limit = 100;           ///< at least 1
};

/// One page of agents, ordered by id; `more` when others match after the last.
struct agent_page {
  std::vector<agent> agents;
  bool more = false;
};

/// Options of acquire().
struct acquire_options {
  /// A lease not released within this time is reclaimed by the sweep
  /// (measured on the monotonic clock; one too long to add to now never
  /// expires).
  std::optional<std::chrono::nanoseconds> ttl;
};

/// The registry: agents, selection, executions, tool usage, summaries.
///
/// Every member function is thread-safe and none throws (only the
/// constructor does, for a configuration it refuses): each answers a value
/// or an error (`expected<T>`). A call that answers an error changed
/// nothing: its arguments, limits and backlog room are checked before any
/// state is touched (see README "Using it from C++" for the one exception,
/// an actor that does not answer in time). The hot calls (acquire, release,
/// get_least_loaded_agent, start_execution, complete_execution,
/// record_tool_usage) never wait on an actor's mailbox; the others ask the
/// owning actor and wait for its answer. What a call did is seen by every
/// call that starts after it returns, on any thread (summaries included:
/// the aggregator drains the outbox before it answers).
///
/// The calls that ask an actor also have an asynchronous form (`..._async`)
/// that returns at once and hands the answer to a completion; a thread that
/// must never wait (an HTTP I/O thread) uses those, and the hot calls with
/// when_backlog_full::refuse. The asynchronous heartbeat, update_status,
/// update_load and re-registration are one message to the agent's actor,
/// which runs the completion itself with its answer (one mailbox trip); the
/// other asynchronous calls go through an asker actor. Asynchronous calls
/// about one agent are applied in the order they were made from one thread.
/// Every completion has run when the destructor returns, provided no call
/// is made during it.
class registry {
 public:
  /// Starts the engine. Throws invalid_config when validate(cfg) fails:
  /// zero or negative intervals, fractions outside (0, 1] or NaN, unknown
  /// enum values or scheduler policy, zero batch_size, buffer_limit or
  /// writer_connections, an unreadable or malformed price table file...
  explicit registry(config cfg = {});
  /// Stops every actor cleanly.
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  // ---- agents ----
  /// Registers an agent (online, heartbeat now), or updates the spec of an
  /// existing id, keeping its load and history.
  /// Errors: invalid_argument (also: metadata, agent_card and skills over
  /// config.max_agent_metadata_bytes, an agent_card that is no JSON object),
  /// invalid_capacity, capacity_below_load.
  expected<agent> register_agent(agent_spec spec);
  /// Removes an agent from selection and listings; its executions, costs and
  /// tool usage stay. Errors: unknown_agent.
  expected<unit> unregister_agent(const std::string& agent_id);
  /// Errors: unknown_agent.
  [[nodiscard]] expected<agent> get_agent(const std::string& agent_id) const;
  /// Agents whose status is online or busy, ordered by id.
  [[nodiscard]] std::vector<agent> list_online_agents() const;
  /// Agents matching every field set in `filter`, ordered by id (a status
  /// outside agent_status matches none).
  [[nodiscard]] std::vector<agent> list_agents(const agent_filter& filter = {}) const;
  /// One page of list_agents() (with a skill filter), answered through
  /// `done` from an engine thread: the agents are selected there by their
  /// spec and status, and only the page's are copied. Errors:
  /// invalid_argument (limit 0).
  void list_agents_page_async(agent_page_request request, completion<agent_page> done) const;
  /// Refreshes the heartbeat, optionally sets the agent's reported load, and
  /// brings an offline agent back online. Errors: unknown_agent, load_out_of_range.
  expected<agent> heartbeat(const std::string& agent_id, std::optional<std::int64_t> current_load = {});
  /// Sets online, offline or paused. Errors: unknown_agent, invalid_status
  /// (busy, or a value outside agent_status).
  expected<agent> update_status(const std::string& agent_id, agent_status status);
  /// The same, by name ("online", "offline", "paused").
  expected<agent> update_status(const std::string& agent_id, std::string_view status);
  /// Sets the load the agent reports (0..max_capacity, leased slots included).
  /// Errors: unknown_agent, load_out_of_range.
  expected<agent> update_load(const std::string& agent_id, std::int64_t current_load);

  /// register_agent(), answered through `done`.
  void register_agent_async(agent_spec spec, completion<agent> done);
  /// heartbeat(), answered through `done`.
  void heartbeat_async(const std::string& agent_id, std::optional<std::int64_t> current_load,
                       completion<agent> done);
  /// update_status(), answered through `done`.
  void update_status_async(const std::string& agent_id, agent_status status, completion<agent> done);
  /// update_load(), answered through `done`.
  void update_load_async(const std::string& agent_id, std::int64_t current_load, completion<agent> done);
  /// heartbeat() for many agents in one call (a sidecar speaking for a
  /// pool; agentregd's POST /v1/heartbeats), answered through one
  /// completion holding a result per item, in the items' order: the
  /// agent's status, load and heartbeat time after it (not its spec), or
  /// the item's own error (invalid_argument, unknown_agent,
  /// load_out_of_range). Each heartbeat is applied by its agent's actor, as
  /// heartbeat_async's is, and costs no completion of its own. The batch
  /// itself always succeeds. `done` runs on the thread that settles the
  /// last item: an engine thread, or the calling thread before the call
  /// returns when every item was answered by then (all refused up front,
  /// or the actors were quicker than the loop that sends to them).
  void heartbeat_many(std::vector<heartbeat_item> items, completion<std::vector<expected<heartbeat_ack>>> done);

  // ---- selection ----
  /// The eligible agent of the type with the smallest load/capacity (ties
  /// rotate), or nothing when none has a free slot. Reserves nothing: use
  /// acquire() to take a slot without racing other schedulers.
  /// Errors: invalid_argument (empty type).
  expected<std::optional<agent>> get_least_loaded_agent(const std::string& agent_type);
  /// Picks as get_least_loaded_agent and reserves one slot, atomically.
  /// Errors: invalid_argument, unknown_type, no_capacity.
  expected<lease> acquire(const std::string& agent_type, acquire_options options = {});
  /// Frees a lease's slot. Errors: lease_not_held (released twice, expired,
  /// its agent unregistered since, or a lease_id that is not the holding's:
  /// a forged or garbled lease frees nothing). A lease from parse_lease
  /// (empty agent_id) works.
  expected<unit> release(const lease& l);
  /// Moves a held lease's expiry to now + ttl (a lease without TTL gets
  /// one); answers the lease with its agent_id and new expires_at.
  /// Errors: invalid_argument (ttl <= 0, or now + ttl beyond the clock's
  /// range), lease_not_held (released, expired, reclaimed, its agent
  /// unregistered since, or a lease_id that is not the holding's); an error
  /// changes nothing, except that a lease found expired is freed as the
  /// sweep would. A lease from parse_lease works.
  expected<lease> renew(const lease& l, std::chrono::nanoseconds ttl);

  // ---- executions ----
  /// Starts an execution on an agent; answers its id (a UUID).
  /// Errors: invalid_argument, unknown_agent, limit_reached (a task_type or
  /// workflow_slug past config.max_summary_keys), persistence_backlog.
  expected<std::string> start_execution(const std::string& agent_id, execution_request request = {},
                                        when_backlog_full full = when_backlog_full::apply_policy);
  /// Completes a running execution with success, failed or timeout. Tokens
  /// total is prompt + completion when absent, cost comes from the price table
  /// when absent, duration is measured. Errors: invalid_argument,
  /// invalid_status, invalid_tokens, invalid_cost, invalid_score,
  /// unknown_execution, already_completed, persistence_backlog.
  expected<execution> complete_execution(const std::string& execution_id, execution_status status,
                                         const execution_metrics& metrics = {},
                                         when_backlog_full full = when_backlog_full::apply_policy);
  /// The same, with the status by name.
  expected<execution> complete_execution(const std::string& execution_id, std::string_view status,
                                         const execution_metrics& metrics = {},
                                         when_backlog_full full = when_backlog_full::apply_policy);

  /// A running execution (status running, completed_at 0).
  /// Errors: invalid_argument (not a UUID), unknown_execution,
  /// already_completed (completed lately).
  [[nodiscard]] expected<execution> get_execution(const std::string& execution_id) const;

  // ---- tools ----
  /// Records tool calls of an agent; answers the (agent, tool) totals.
  /// Errors: invalid_argument, unknown_agent, limit_reached (a tool past
  /// config.max_tools_per_agent), persistence_backlog.
  expected<tool_usage> record_tool_usage(const std::string& agent_id, const std::string& tool_name,
                                         const tool_call& call,
                                         when_backlog_full full = when_backlog_full::apply_policy);
  /// Every tool the agent used, ordered by name. Errors: unknown_agent.
  [[nodiscard]] expected<std::vector<tool_usage>> get_tool_usage(const std::string& agent_id) const;

  // ---- performance ----
  /// The agent's summary (zeros before its first execution; kept after it
  /// is unregistered). Errors: unknown_agent.
  [[nodiscard]] expected<performance> get_performance(const std::string& agent_id) const;
  /// Every summary of one dimension (agent, agent_type, model, task_type,
  /// workflow), ordered by key. Errors: invalid_argument (a value outside
  /// group_by).
  [[nodiscard]] expected<std::vector<performance>> get_performance_by(group_by dimension) const;
  /// get_performance(), answered through `done`.
  void get_performance_async(const std::string& agent_id, completion<performance> done) const;
  /// get_performance_by(), answered through `done`.
  void get_performance_by_async(group_by dimension, completion<std::vector<performance>> done) const;

  // ---- operations ----
  /// Runs one stale sweep now (it also runs every heartbeat_interval when
  /// config.auto_sweep): stale agents offline with the guards, expired
  /// leases reclaimed, old executions timed out.
  expected<sweep_report> sweep();
  /// sweep(), answered through `done`.
  void sweep_async(completion<sweep_report> done);
  /// Counters for operators.
  [[nodiscard]] engine_stats stats() const;
  /// stats(), answered through `done` (the agents are counted on an engine
  /// thread, not the caller's).
  void stats_async(completion<engine_stats> done) const;
  /// Everything /metrics exports (docs/metrics.md): the fleet by type (one
  /// pass over the index's slots, no agent copied), counters kept by the
  /// hot calls in per-thread stripes, executions and tool calls by bounded
  /// label sets, and stats().
  [[nodiscard]] metrics_snapshot metrics() const;
  /// metrics(), answered through `done` (computed on an engine thread).
  void metrics_async(completion<metrics_snapshot> done) const;
  /// Waits until the engine has taken in everything done before the call,
  /// on any thread: every completed execution (timeouts included) and tool
  /// call is counted in the summaries and stats, with its record handed on
  /// to persistence, and every registered agent is watched by the
  /// supervisor. It does not wait for the database to commit those records
  /// (stats().persistence_backlog says how many wait), nor for a sweep.
  void sync() const;

  // ---- change stream ----
  // One sequence of revisions over the changes watchers care about (see
  // core::change_kind): agents registered, updated, unregistered; status and
  // load changes (a heartbeat that changes neither is none); leases granted,
  // released and expired; executions completed; sweeps held in degraded
  // mode. Kept in a ring of config.change_log_capacity changes.
  //
  // To follow the registry: read revision(), then list (the listing
  // reflects at least every change up to it), then changes_since(revision)
  // in a loop, each time from the batch's revision. A batch that says
  // `compacted` means the watcher fell behind the ring (or holds a revision
  // of another run): list again. A change made during the listing may come
  // twice; none is missed, except that one thread's lease changes of one
  // agent between two publishing rounds are usually one change (the first
  // one's kind; docs/watch.md). Changes carry the agent's state when
  // published, so the last change of an agent carries its latest state.

  /// The changes after `revision`, oldest first, at most `max`; every change
  /// whose call returned before this one is included. Never waits on an
  /// actor (a lock shared with other readers and the publisher).
  [[nodiscard]] change_batch changes_since(std::uint64_t revision, std::size_t max = 1000) const;
  /// The last revision, every change whose call returned before included.
  [[nodiscard]] std::uint64_t revision() const;
  /// While the handle lives, `notify` is called with the last revision each
  /// time it grows (at most every 5 ms; on the change stream's publisher
  /// thread or a reader's). For long polls and Server-Sent Events without
  /// polling: `notify` must return quickly (post to an I/O thread) and never
  /// call into the registry; destroying the handle waits for a call in
  /// progress, so never destroy it from `notify` itself.
  using change_subscription = core::change_log::subscription;
  [[nodiscard]] std::unique_ptr<change_subscription> on_new_revision(std::function<void(std::uint64_t)> notify) const;
  /// True once what the database held is loaded (recovery done; at once
  /// without a database). Recovery that failed at start is retried in the
  /// background until the database answers. Never waits on an actor.
  [[nodiscard]] bool recovered() const;
  /// The configuration in use.
  [[nodiscard]] const config& configuration() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace agentreg
