#pragma once
// The parts of agentreg-bench ingest (see bench/ingest_bench.cpp for what
// each measures) and the results they fill in. Each part is one source file
// of bench/ingest/.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/cpu_meter.hpp"
#include "bench/ingest/plan.hpp"
#include "bench/pg_database.hpp"
#include "bench/suite.hpp"
#include "support/scratch_cluster.hpp"

namespace agentreg::bench::ingest {

struct sweep_point {
  std::size_t batch_size;
  milliseconds flush_interval;
  std::vector<double> rows_per_s;
  std::vector<double> rows_per_batch;
  summary rate;
};

struct latency_point {
  milliseconds flush_interval;
  summary visible_ms;          // complete_execution returned .. row completed in the database
  double transactions_per_s = 0;
};

struct outage_result {
  bool ran = false;
  std::string skipped;
  double seconds = 0;           // server down: kill .. restart command returned
  double kill_ms = 0, restart_ms = 0;
  double drain_seconds = 0;     // restart returned .. backlog 0
  std::size_t rss_idle = 0;     // the registry with its agents, before any load
  std::size_t rss_before = 0;   // last sample before the kill
  std::size_t rss_peak_down = 0;  // while the server was down
  std::size_t rss_peak = 0;     // kill .. backlog 0 (the figure reported)
  double rss_peak_at_s = 0;     // after the kill
  std::int64_t backlog_before = 0;  // last sample before the kill
  std::int64_t backlog_at_peak = 0;
  std::int64_t backlog_max = 0;
  std::size_t rss_first_half = 0, rss_second_half = 0;  // peaks of the two halves of the outage
  bool bounded = false;
  std::uint64_t started_before = 0, started_during = 0, started = 0, completed = 0;
  std::int64_t rows = 0, rows_completed = 0;
  std::int64_t retries = 0;
  std::string last_error;
  std::size_t samples = 0;
};

// One variant of the comparison: its rate per round and its ratios to the
// baselines measured in the same round.
struct variant_series {
  std::vector<double> rate, vs_copy, vs_seed1, vs_seed2;
  summary s_rate, s_copy, s_seed1, s_seed2;
  void finish() {
    s_rate = summarize(rate);
    s_copy = summarize(vs_copy);
    s_seed1 = summarize(vs_seed1);
    s_seed2 = summarize(vs_seed2);
  }
};

struct results {
  variant_series agentreg;       // at the defaults
  // Other batch sizes paired with the baselines (see measure_comparison).
  struct candidate {
    std::size_t batch_size = 0;
    variant_series series;
  };
  std::vector<candidate> candidates;
  std::size_t recommended_batch = 0;
  variant_series writer;         // diagnostic: batch_writer alone
  variant_series one_writer;     // the defaults but writer_connections 1
  std::vector<double> writers_gain;  // per round: defaults / one_writer
  summary s_writers_gain;
  std::vector<double> copy, seed1, seed2;
  summary s_copy, s_seed1, s_seed2;
  // The server's ceiling: raw COPY on 2 connections at once, and its ratio
  // to the seed on 2 connections (per round).
  std::vector<double> copy2, copy2_vs_seed2;
  summary s_copy2, s_copy2_vs_seed2;
  std::vector<double> produce_share;  // producers' share of the agentreg window
  std::vector<double> rows_per_batch;
  std::vector<double> destructor_ms;
  std::vector<cpu_share> round_cpu;
  cpu_share comparison_cpu, sweep_cpu;
  bool server_cpu_known = false;
  std::vector<sweep_point> sweep;
  std::vector<std::pair<std::size_t, double>> sweep_by_batch;  // median over its flush intervals
  std::size_t fastest_batch = 0;  // the single fastest point
  milliseconds fastest_flush{0};
  std::vector<latency_point> latency;
  outage_result outage;
  // Over HTTP (over_http.cpp): its rate, its ratio to COPY, and to the
  // in-process run of the same round.
  variant_series http;
  std::vector<double> http_vs_in_process;
  summary s_http_vs_in_process;
  std::string http_skipped;
  std::vector<std::string> problems;
};

/// Part 5 (sweep.cpp): batch_size x flush_interval at full load. Runs before
/// the comparison, which pairs the candidate batch sizes it finds with the
/// baselines.
void measure_sweep(const plan& p, pg_server& srv, const cpu_meter& cpu, results& out);

/// Parts 1-4 (comparison.cpp): agentreg end to end against the seed and raw
/// COPY, alternating rounds; chooses the recommended batch_size.
void measure_comparison(const plan& p, pg_server& srv, const cpu_meter& cpu, results& out);

/// Part 5, light load (latency.cpp): how long a completion waits before its
/// row is in the database, per flush interval.
void measure_latency(const plan& p, pg_server& srv, results& out);

/// Part 6 (outage.cpp): kill -9 of the server under full load, restart,
/// nothing accepted lost, memory bounded. Needs the suite's own cluster.
void measure_outage(const plan& p, pg_server& srv, support::scratch_cluster& cluster, results& out);

/// Part 7 (over_http.cpp): the same executions through agentregd, paired
/// with the in-process run and raw COPY per round.
void measure_over_http(const plan& p, pg_server& srv, results& out);

}  // namespace agentreg::bench::ingest
