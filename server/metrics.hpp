#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "agentreg/registry.hpp"
#include "server/http.hpp"
#include "server/router.hpp"
#include "server/watch.hpp"

namespace agentreg::http {

/// HTTP requests by route, method and status, with a latency histogram
/// per route, fed by server_options::observer on the I/O threads. Labels
/// are the route table's patterns (never a raw path), so the set is
/// bounded. Thread-safe (one uncontended lock per request).
class http_metrics {
 public:
  /// 0.0001 s .. 10 s.
  static constexpr std::array<double, 16> bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
  void observe(const completed_request& r);
  /// Appends the two families in the Prometheus text format.
  void render(std::string& out) const;

 private:
  struct latency {
    std::array<std::uint64_t, bounds.size() + 1> cells{};
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, method, unsigned>, std::uint64_t> requests_;
  std::map<std::string, latency> latency_;
};

/// Everything /metrics reads besides the registry.
struct metrics_sources {
  const server_counters* server = nullptr;  ///< may be null
  const http_metrics* http = nullptr;       ///< may be null
  const watch_counters* watch = nullptr;    ///< may be null
  std::string version;                      ///< agentreg_build_info's label
  /// Agents exported one by one (agentreg_agent_executions_total with
  /// gen_ai_agent_name): at most this many, the first by agent id; 0: none.
  std::size_t per_agent = 0;
};

/// agentreg_agent_executions_total for at most `cap` of `summaries` (by
/// key, which they are ordered by), appended to `out`.
void render_per_agent(std::string& out, const std::vector<core::performance>& summaries, std::size_t cap);

/// agentreg_agent_load_slots of `agents` (a page of registered agents), appended to `out`.
void render_agent_load(std::string& out, const std::vector<core::agent>& agents);

/// A snapshot in the Prometheus text format (version 0.0.4), every family
/// of docs/metrics.md with its HELP and TYPE. Agent types past
/// `max_series` are folded into "other" (the work families are folded
/// by the engine already).
std::string render_metrics(const metrics_snapshot& m, const metrics_sources& sources, std::size_t max_series,
                           double previous_scrape_seconds);

/// Adds GET /metrics (scope read) to `table`: a snapshot taken on an engine
/// thread (registry::metrics_async) and rendered there.
void add_metrics_route(router& table, registry& reg, metrics_sources sources);

}  // namespace agentreg::http
