// GET /metrics: the Prometheus text format (docs/metrics.md).

#include "server/metrics.hpp"

#include <atomic>
#include <charconv>
#include <chrono>
#include <memory>
#include <algorithm>
#include <vector>

#include "server/errors.hpp"

namespace agentreg::http {

namespace {

// A number as Prometheus reads it: integers as integers, others in the
// shortest form that reads back the same.
void put_number(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc{} ? end : buf);
}
void put_number(std::string& out, std::int64_t v) { out += std::to_string(v); }
void put_number(std::string& out, std::uint64_t v) { out += std::to_string(v); }

// A label value with \, " and newline escaped.
void put_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
}

using labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Writes the metric families; each family's HELP and TYPE once, before its
// first sample.
class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }

  template <class T>
  void sample(std::string_view name, labels ls, T value, std::string_view extra_label = {},
              std::string_view extra_value = {}) {
    out_.append(name);
    bool first = true;
    auto label = [&](std::string_view k, std::string_view v) {
      out_ += first ? '{' : ',';
      first = false;
      out_.append(k).append("=\"");
      put_escaped(out_, v);
      out_ += '"';
    };
    for (const auto& [k, v] : ls)
      label(k, v);
    if (!extra_label.empty())
      label(extra_label, extra_value);
    if (!first)
      out_ += '}';
    out_ += ' ';
    put_number(out_, value);
    out_ += '\n';
  }

  // One histogram's series: cumulative buckets, +Inf, sum and count.
  template <std::size_t N, class Cells>
  void histogram(std::string_view name, labels ls, const std::array<double, N>& bounds, const Cells& cells,
                 double sum) {
    const std::string bucket = std::string{name} + "_bucket";
    std::uint64_t cumulative = 0;
    std::string le;
    for (std::size_t i = 0; i < N; ++i) {
      cumulative += cells[i];
      le.clear();
      put_number(le, bounds[i]);
      sample(bucket, ls, cumulative, "le", le);
    }
    cumulative += cells[N];
    sample(bucket, ls, cumulative, "le", "+Inf");
    sample(std::string{name} + "_sum", ls, sum);
    sample(std::string{name} + "_count", ls, cumulative);
  }

 private:
  std::string& out_;
};

constexpr std::array<const char*, 4> status_names{"online", "offline", "paused", "busy"};
constexpr std::array<const char*, 3> outcome_names{"success", "failed", "timeout"};

std::int64_t flag(bool b) { return b ? 1 : 0; }

}  // namespace

void http_metrics::observe(const completed_request& r) {
  const double seconds = std::chrono::duration<double>(r.duration).count();
  const auto cell = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
  std::lock_guard lock{mutex_};
  ++requests_[{std::string{r.pattern}, r.verb, r.status}];
  auto& l = latency_[std::string{r.pattern}];
  ++l.cells[cell];
  l.sum += seconds;
}

void http_metrics::render(std::string& out) const {
  writer w{out};
  std::lock_guard lock{mutex_};
  w.family("agentreg_http_requests_total", "counter", "HTTP requests answered, by route pattern, method and status");
  for (const auto& [key, n] : requests_) {
    const auto& [pattern, verb, status] = key;
    const auto code = std::to_string(status);
    w.sample("agentreg_http_requests_total",
             {{"route", pattern.empty() ? "unmatched" : pattern}, {"method", to_string(verb)}, {"code", code}}, n);
  }
  w.family("agentreg_http_request_duration_seconds", "histogram",
           "from request read to answer written (a stream: to its header), by route pattern");
  for (const auto& [pattern, l] : latency_)
    w.histogram("agentreg_http_request_duration_seconds", {{"route", pattern.empty() ? "unmatched" : pattern}},
                bounds, l.cells, l.sum);
}

std::string render_metrics(const metrics_snapshot& m, const metrics_sources& sources, std::size_t max_series,
                           double previous_scrape_seconds) {
  std::string out;
  out.reserve(64 * 1024);
  writer w{out};
  const auto& e = m.engine;

  // ---- fleet: types past the cap folded into "other" ----
  std::vector<core::fleet_metrics> fleet;
  for (const auto& f : m.fleet) {
    if (fleet.size() < max_series) {
      fleet.push_back(f);
      continue;
    }
    if (fleet.size() == max_series) {
      core::fleet_metrics other;
      other.agent_type = "other";
      fleet.push_back(other);
    }
    auto& o = fleet.back();
    for (std::size_t i = 0; i < o.agents.size(); ++i)
      o.agents[i] += f.agents[i];
    o.capacity_slots += f.capacity_slots;
    o.load_slots += f.load_slots;
    o.heartbeat_overdue += f.heartbeat_overdue;
    o.acquires += f.acquires;
    o.acquire_no_capacity += f.acquire_no_capacity;
    o.releases += f.releases;
  }
  w.family("agentreg_agents", "gauge", "registered agents by type and status");
  for (const auto& f : fleet)
    for (std::size_t s = 0; s < status_names.size(); ++s)
      w.sample("agentreg_agents", {{"agent_type", f.agent_type}, {"status", status_names[s]}}, f.agents[s]);
  w.family("agentreg_agents_heartbeat_overdue", "gauge", "online or busy agents whose last heartbeat is over 60 s old");
  for (const auto& f : fleet)
    w.sample("agentreg_agents_heartbeat_overdue", {{"agent_type", f.agent_type}}, f.heartbeat_overdue);
  w.family("agentreg_capacity_slots", "gauge", "max_capacity summed over online and busy agents");
  for (const auto& f : fleet)
    w.sample("agentreg_capacity_slots", {{"agent_type", f.agent_type}}, f.capacity_slots);
  w.family("agentreg_load_slots", "gauge", "current_load summed over online and busy agents");
  for (const auto& f : fleet)
    w.sample("agentreg_load_slots", {{"agent_type", f.agent_type}}, f.load_slots);
  w.family("agentreg_leases_held", "gauge", "leases not yet released or reclaimed");
  w.sample("agentreg_leases_held", {}, e.leases_held);
  w.family("agentreg_acquires_total", "counter", "leases granted by acquire");
  for (const auto& f : fleet)
    w.sample("agentreg_acquires_total", {{"agent_type", f.agent_type}}, f.acquires);
  w.family("agentreg_acquire_no_capacity_total", "counter", "acquire answered no_capacity");
  for (const auto& f : fleet)
    w.sample("agentreg_acquire_no_capacity_total", {{"agent_type", f.agent_type}}, f.acquire_no_capacity);
  w.family("agentreg_releases_total", "counter", "leases released");
  for (const auto& f : fleet)
    w.sample("agentreg_releases_total", {{"agent_type", f.agent_type}}, f.releases);
  w.family("agentreg_lease_expirations_total", "counter", "leases reclaimed by the sweep after their TTL");
  w.sample("agentreg_lease_expirations_total", {}, e.leases_expired_total);

  // ---- work ----
  // Executions and cost by (type, model): the engine's (type, provider,
  // model) sets summed over providers.
  std::map<std::pair<std::string, std::string>, std::pair<std::array<std::int64_t, 3>, std::int64_t>> by_model;
  std::map<std::string, std::array<double, 3>> tokens_by_type;  // input, output, cached
  for (const auto& x : m.work) {
    auto& [executions, cost] = by_model[{x.agent_type, x.model_name}];
    for (std::size_t i = 0; i < executions.size(); ++i)
      executions[i] += x.executions[i];
    cost += x.cost_micro_usd;
    auto& t = tokens_by_type[x.agent_type];
    t[0] += x.input_tokens.sum;
    t[1] += x.output_tokens.sum;
    t[2] += static_cast<double>(x.cached_tokens);
  }
  w.family("agentreg_executions_total", "counter", "completed executions (timeouts by the sweep included)");
  for (const auto& [key, v] : by_model)
    for (std::size_t i = 0; i < outcome_names.size(); ++i)
      w.sample("agentreg_executions_total",
               {{"agent_type", key.first}, {"gen_ai_request_model", key.second}, {"status", outcome_names[i]}},
               v.first[i]);
  w.family("agentreg_executions_running", "gauge", "executions started, not completed");
  w.sample("agentreg_executions_running", {}, e.running_executions);
  w.family("gen_ai_client_token_usage", "histogram", "tokens per execution (input: prompt, output: completion)");
  for (const auto& x : m.work) {
    w.histogram("gen_ai_client_token_usage",
                {{"agent_type", x.agent_type}, {"gen_ai_provider_name", x.llm_provider},
                 {"gen_ai_request_model", x.model_name}, {"gen_ai_token_type", "input"}},
                core::token_bucket_bounds, x.input_tokens.cells, x.input_tokens.sum);
    w.histogram("gen_ai_client_token_usage",
                {{"agent_type", x.agent_type}, {"gen_ai_provider_name", x.llm_provider},
                 {"gen_ai_request_model", x.model_name}, {"gen_ai_token_type", "output"}},
                core::token_bucket_bounds, x.output_tokens.cells, x.output_tokens.sum);
  }
  w.family("agentreg_tokens_total", "counter", "tokens of completed executions by type (input, output, cached)");
  for (const auto& [type, t] : tokens_by_type) {
    w.sample("agentreg_tokens_total", {{"agent_type", type}, {"gen_ai_token_type", "input"}}, t[0]);
    w.sample("agentreg_tokens_total", {{"agent_type", type}, {"gen_ai_token_type", "output"}}, t[1]);
    w.sample("agentreg_tokens_total", {{"agent_type", type}, {"gen_ai_token_type", "cached"}}, t[2]);
  }
  w.family("agentreg_cost_micro_usd_total", "counter", "cost of completed executions in integer micro-dollars");
  for (const auto& [key, v] : by_model)
    w.sample("agentreg_cost_micro_usd_total", {{"agent_type", key.first}, {"gen_ai_request_model", key.second}},
             v.second);
  w.family("gen_ai_client_operation_duration_seconds", "histogram", "execution duration measured by the registry");
  for (const auto& x : m.work)
    w.histogram("gen_ai_client_operation_duration_seconds",
                {{"agent_type", x.agent_type}, {"gen_ai_provider_name", x.llm_provider},
                 {"gen_ai_request_model", x.model_name}},
                core::duration_bucket_bounds, x.duration_seconds.cells, x.duration_seconds.sum);
  w.family("agentreg_tool_calls_total", "counter", "tool calls recorded, by tool and outcome");
  for (const auto& t : m.tools) {
    w.sample("agentreg_tool_calls_total", {{"gen_ai_tool_name", t.tool_name}, {"outcome", "success"}}, t.success);
    w.sample("agentreg_tool_calls_total", {{"gen_ai_tool_name", t.tool_name}, {"outcome", "failure"}}, t.failure);
  }
  w.family("agentreg_tool_call_duration_seconds", "histogram", "tool call duration as recorded, by tool");
  for (const auto& t : m.tools)
    w.histogram("agentreg_tool_call_duration_seconds", {{"gen_ai_tool_name", t.tool_name}},
                core::duration_bucket_bounds, t.duration_seconds.cells, t.duration_seconds.sum);

  // ---- engine ----
  auto gauge = [&](std::string_view name, std::string_view help, auto v) {
    w.family(name, "gauge", help);
    w.sample(name, {}, v);
  };
  auto counter = [&](std::string_view name, std::string_view help, auto v) {
    w.family(name, "counter", help);
    w.sample(name, {}, v);
  };
  gauge("agentreg_degraded", "1 while the last sweep held evictions because most agents looked stale at once",
        flag(e.degraded));
  gauge("agentreg_in_grace_period", "1 during the start grace period (no evictions)", flag(e.in_grace_period));
  gauge("agentreg_stale_agents", "agents the last sweep found stale", e.last_sweep.stale);
  counter("agentreg_stale_evictions_total", "agents the sweep took offline", e.evictions_total);
  counter("agentreg_sweep_evictions_held_total", "stale agents a sweep kept (grace period, fraction cap, degraded)",
          e.evictions_held_total);
  counter("agentreg_sweeps_total", "sweeps run", e.sweeps);
  gauge("agentreg_sweep_duration_seconds", "how long the last sweep took",
        static_cast<double>(e.last_sweep.sweep_ns) / 1e9);
  counter("agentreg_agent_actor_restarts_total", "agent actors respawned after a crash", e.agent_actor_restarts);
  gauge("agentreg_persistence_enabled", "1 with a database", flag(e.persistence_enabled));
  gauge("agentreg_persistence_backlog_records", "records accepted, not yet committed", e.persistence_backlog);
  gauge("agentreg_persistence_buffer_limit_records", "the backlog's bound (buffer_limit)", m.buffer_limit);
  counter("agentreg_persistence_batches_total", "transactions committed", e.persistence_batches);
  counter("agentreg_persistence_rows_written_total", "rows written", e.persistence_rows);
  counter("agentreg_persistence_retries_total", "failed attempts (connect or write)", e.persistence_retries);
  counter("agentreg_persistence_dead_letters_total", "records the database refused for their data (kept as dead letters)",
          e.persistence_dead_letters);
  counter("agentreg_persistence_lost_total", "records that will never be written", e.persistence_lost);
  counter("agentreg_persistence_writer_restarts_total", "persistence writers replaced after they stopped",
          e.persistence_writer_restarts);
  counter("agentreg_persistence_gate_refusals_total", "records refused because the backlog was full",
          e.persistence_gate_refusals);
  gauge("agentreg_change_revision", "the change stream's current revision", m.revision);
  gauge("agentreg_change_compacted_revision", "the oldest revision a watcher can resume after",
        m.compacted_revision);
  if (sources.watch) {
    const auto& wc = *sources.watch;
    // relaxed: counts for display.
    gauge("agentreg_watchers", "SSE and long-poll watchers connected", wc.watchers.load(std::memory_order_relaxed));
    counter("agentreg_watch_events_sent_total", "change events written to watchers",
            wc.events_sent.load(std::memory_order_relaxed));
    counter("agentreg_watch_disconnects_total", "slow watchers disconnected with a final compacted event",
            wc.disconnects.load(std::memory_order_relaxed));
  }
  if (sources.server) {
    gauge("agentreg_http_connections", "HTTP connections open", sources.server->connections.load(std::memory_order_relaxed));
    counter("agentreg_http_refused_connections_total", "connections refused over max_connections",
            sources.server->refused_connections.load(std::memory_order_relaxed));
    counter("agentreg_http_engine_timeouts_total", "requests answered 504 engine_timeout (--request-timeout-ms)",
            sources.server->engine_timeouts.load(std::memory_order_relaxed));
    gauge("agentreg_http_engine_calls", "engine calls in flight (capped by --max-engine-calls)",
          sources.server->engine_calls.load(std::memory_order_relaxed));
    counter("agentreg_http_overloaded_total", "requests answered 503 overloaded (--max-engine-calls)",
            sources.server->overloaded.load(std::memory_order_relaxed));
  }
  if (sources.http)
    sources.http->render(out);
  w.family("agentreg_build_info", "gauge", "always 1; the version in a label");
  w.sample("agentreg_build_info", {{"version", sources.version}}, std::int64_t{1});
  gauge("agentreg_metrics_scrape_duration_seconds", "how long the previous scrape took to build",
        previous_scrape_seconds);
  return out;
}

void render_per_agent(std::string& out, const std::vector<core::performance>& summaries, std::size_t cap) {
  writer w{out};
  w.family("agentreg_agent_executions_total", "counter",
           "completed executions per agent (only the first --metrics-per-agent agents by id)");
  std::size_t n = 0;
  for (const auto& p : summaries) {
    if (n++ == cap)
      break;
    w.sample("agentreg_agent_executions_total", {{"gen_ai_agent_name", p.key}, {"status", "success"}},
             p.successful_executions);
    w.sample("agentreg_agent_executions_total", {{"gen_ai_agent_name", p.key}, {"status", "failed"}},
             p.failed_executions);
    w.sample("agentreg_agent_executions_total", {{"gen_ai_agent_name", p.key}, {"status", "timeout"}},
             p.timeout_executions);
  }
}

void render_agent_load(std::string& out, const std::vector<core::agent>& agents) {
  writer w{out};
  w.family("agentreg_agent_load_slots", "gauge",
           "slots in use per agent, leased and reported (only the first --metrics-per-agent registered agents by id)");
  for (const auto& a : agents)
    w.sample("agentreg_agent_load_slots", {{"gen_ai_agent_name", a.agent_id}, {"agent_type", a.agent_type}},
             a.current_load);
}

void add_metrics_route(router& table, registry& reg, metrics_sources sources) {
  auto shared = std::make_shared<const metrics_sources>(std::move(sources));
  // The previous scrape's duration, in nanoseconds (relaxed: a figure for display).
  auto previous = std::make_shared<std::atomic<std::int64_t>>(0);
  const std::size_t max_series = reg.configuration().metrics_max_series;
  table.add({method::get, "/metrics", scope::read,
             [&reg, shared, previous, max_series](const request&, responder respond) {
               const auto began = std::chrono::steady_clock::now();
               reg.metrics_async([&reg, shared, previous, max_series, began,
                                  respond = std::move(respond)](expected<metrics_snapshot> m) {
                 if (!m)
                   return respond(error_response(m.error()));
                 auto r = std::make_shared<response>();
                 r->content_type = "text/plain; version=0.0.4; charset=utf-8";
                 r->body = render_metrics(*m, *shared, max_series,
                                          static_cast<double>(previous->load(std::memory_order_relaxed)) / 1e9);
                 auto finish = [r, previous, began, respond] {
                   previous->store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now() - began)
                                       .count(),
                                   std::memory_order_relaxed);
                   respond(std::move(*r));
                 };
                 if (shared->per_agent == 0)
                   return finish();
                 reg.get_performance_by_async(group_by::agent, [&reg, r, shared, finish](
                                                                    expected<std::vector<core::performance>> p) {
                   if (p)
                     render_per_agent(r->body, *p, shared->per_agent);
                   // The load of the first registered agents, copied for
                   // those only (the page's selection runs on an engine thread).
                   reg.list_agents_page_async({{}, {}, {}, shared->per_agent},
                                              [r, finish](expected<agent_page> page) {
                                                if (page)
                                                  render_agent_load(r->body, page->agents);
                                                finish();
                                              });
                 });
               });
             },
             "Prometheus metrics (text format 0.0.4)", {200}, false});
}

}  // namespace agentreg::http
