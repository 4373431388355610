// agentreg-bench ingest [--url URL]: executions through the facade into
// PostgreSQL, against the seed's way and against raw COPY, on one server.
//
// Unless --url is given, the suite starts its own PostgreSQL (scripts/pg
// start in a mkdtemp directory), stopped and removed at exit, also on
// failure. It runs with PostgreSQL's default durability (fsync on,
// synchronous_commit on: every commit reaches the disk), as a production
// server does: a write path is judged by what it costs there, and the
// seed's commit per execution pays exactly that cost. (The tests, and
// --quick, a smoke test, use fsync off, for speed; give --url to measure
// against any other server.)
// Every measured variant runs on a fresh database (CREATE DATABASE, then
// db::migrate), dropped afterwards, after a CHECKPOINT so that no variant
// pays for the dirty pages of the one before.
//
// Measures, in one process run:
//   1. agentreg end-to-end: 100 agents registered (their rows committed
//      before the clock starts), then N start+complete pairs from 2 threads
//      with tokens and an explicit cost. The timer starts when the producers
//      are released and stops at the first poll (every 5 ms, once both
//      producers have returned) where registry::stats() reads
//      persistence_backlog 0: every started and completed record has been
//      committed (the backlog gate releases a record only after the commit
//      that holds it). A SQL check then finds N completed rows. The
//      registry's destructor (which also writes the summaries) runs after,
//      timed apart.
//   2. baseline (a), the seed's way (bench/ingest/seed_baseline.hpp): per execution
//      a transaction with an INSERT and a summary upsert incrementing totals,
//      on 1 and on 2 connections, for a fixed time (it is slow).
//   3. baseline (b), raw COPY (bench/ingest/copy_baseline.hpp): the same rows by
//      pqxx::stream_to into staging, INSERT ... SELECT ... ON CONFLICT (id)
//      DO NOTHING, 10 000 rows per transaction, one connection; and (b2)
//      the same on two connections at once, the server's own ceiling.
//   4. ratios per round (variants alternate order every round), median
//      [min .. max]; with a diagnostic (c): the engine's db::batch_writer
//      fed directly, which splits the gap to COPY into the writer's own SQL
//      and the pipeline around it.
//   5. before the comparison, a sweep of batch_size x flush_interval at full
//      load; every batch size not clearly slower than the default there
//      (median at least 90 % of the default's) runs in the comparison rounds
//      too, paired with the baselines, and the smallest one within 3 % of
//      the fastest paired rate is the recommended batch_size. Then the
//      commit latency of each flush interval at light load. Together they
//      choose the defaults.
//   6. an outage, run first so that VmRSS reflects it and not the heap
//      the other parts leave behind: under full load, kill -9 the server,
//      keep loading (the producers block once buffer_limit records wait),
//      sample VmRSS every 100 ms, restart the server and wait until the
//      backlog is committed; every accepted execution must then be in the
//      database. Needs the suite's own cluster (skipped with --url: it never
//      kills a server it did not start).
//   7. over HTTP (bench/ingest/over_http.cpp): the same pairs through
//      agentregd (the one built beside this program) on a fresh database,
//      from 4 keep-alive connections, until its /v1/stats backlog reads 0;
//      each round paired with the in-process run and raw COPY of the same
//      rows.
// The machine may be shared: the sweep and each comparison round report the
// CPU share other processes took meanwhile (from /proc), so that a noisy
// figure can be told apart from a slow one.
// Exit code 1 if a correctness check fails.

// The parts live in bench/ingest/, one file each (parts.hpp lists them);
// this file holds the suite's entry point, its summary and its JSON.

#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "bench/ingest/parts.hpp"
#include "bench/ingest/workload.hpp"

namespace agentreg::bench::ingest {
namespace {

// ---- JSON -------------------------------------------------------------------------------------

boost::json::object to_json(const variant_series& v) {
  return {{"rows_per_s", to_json(v.s_rate, 0)},
          {"vs_copy", to_json(v.s_copy, 3)},
          {"vs_seed_1conn", to_json(v.s_seed1, 1)},
          {"vs_seed_2conn", to_json(v.s_seed2, 1)}};
}

bool targets_met(const variant_series& v) {
  return v.s_copy.median >= copy_ratio_target && v.s_seed1.median >= seed_ratio_target &&
         v.s_seed2.median >= seed_ratio_target;
}

boost::json::object to_json(const results& r, const options& opts, const plan& p, const machine_info& machine,
                            const std::string& server_description) {
  const config defaults;
  boost::json::array sweep;
  for (const auto& s : r.sweep)
    sweep.push_back(boost::json::object{{"batch_size", s.batch_size},
                                        {"flush_interval_ms", s.flush_interval.count()},
                                        {"rows_per_s", to_json(s.rate, 0)},
                                        {"rows_per_transaction", whole(summarize(s.rows_per_batch).median)}});
  boost::json::array latency;
  for (const auto& l : r.latency)
    latency.push_back(boost::json::object{{"flush_interval_ms", l.flush_interval.count()},
                                          {"visible_ms", to_json(l.visible_ms, 1)},
                                          {"transactions_per_s", rounded(l.transactions_per_s, 1)}});
  boost::json::array round_cpu;
  for (const auto& c : r.round_cpu)
    round_cpu.push_back(to_json(c));
  boost::json::object outage;
  const auto& o = r.outage;
  if (o.ran)
    outage = {{"seconds_down", rounded(o.seconds, 2)},
              {"kill_ms", whole(o.kill_ms)},
              {"restart_ms", whole(o.restart_ms)},
              {"drain_s", rounded(o.drain_seconds, 2)},
              {"rss_idle_bytes", o.rss_idle},
              {"rss_before_bytes", o.rss_before},
              {"rss_peak_down_bytes", o.rss_peak_down},
              {"rss_peak_bytes", o.rss_peak},
              {"rss_peak_at_s", rounded(o.rss_peak_at_s, 1)},
              {"backlog_before", o.backlog_before},
              {"backlog_at_peak", o.backlog_at_peak},
              {"backlog_max", o.backlog_max},
              {"buffer_limit", p.outage_buffer_limit},
              {"bounded", o.bounded},
              {"pairs_started_before", o.started_before},
              {"pairs_started_down", o.started_during},
              {"pairs_started", o.started},
              {"pairs_completed", o.completed},
              {"rows", o.rows},
              {"rows_completed", o.rows_completed},
              {"writer_retries", o.retries}};
  else
    outage = {{"skipped", o.skipped}};

  boost::json::object j{
      {"suite", "ingest"},
      {"ok", r.problems.empty()},
      {"quick", opts.quick},
      {"machine", to_json(machine)},
      {"server", server_description},
      {"own_cluster", opts.url.empty()},
      {"rows_per_s", whole(r.agentreg.s_rate.median)},
      {"ratio_vs_copy", rounded(r.agentreg.s_copy.median, 3)},
      {"ratio_vs_seed_1conn", rounded(r.agentreg.s_seed1.median, 1)},
      {"ratio_vs_seed_2conn", rounded(r.agentreg.s_seed2.median, 1)},
      {"copy_rows_per_s", whole(r.s_copy.median)},
      {"copy_2conn_rows_per_s", whole(r.s_copy2.median)},
      {"writer_connections", defaults.writer_connections},
      {"ratio_writers_vs_1_writer", rounded(r.s_writers_gain.median, 3)},
      {"agentreg_1_writer", to_json(r.one_writer)},
      {"ceiling_copy_2conn_vs_seed_2conn", rounded(r.s_copy2_vs_seed2.median, 1)},
      {"seed_rows_per_s_1conn", whole(r.s_seed1.median)},
      {"seed_rows_per_s_2conn", whole(r.s_seed2.median)},
      {"batch_size", defaults.batch_size},
      {"flush_interval_ms", defaults.flush_interval.count()},
      {"outage_peak_rss_bytes", o.ran ? boost::json::value(o.rss_peak) : boost::json::value(nullptr)},
      {"outage_seconds", o.ran ? boost::json::value(rounded(o.seconds, 2)) : boost::json::value(nullptr)},
      {"targets_met", targets_met(r.agentreg)},
      {"targets", boost::json::object{{"ratio_vs_copy_min", copy_ratio_target},
                                      {"ratio_vs_copy_goal", copy_ratio_goal},
                                      {"ratio_vs_seed_min", seed_ratio_target}}},
      {"agentreg", to_json(r.agentreg)},
      {"copy", to_json(r.s_copy, 0)},
      {"copy_2conn", to_json(r.s_copy2, 0)},
      {"seed_1conn", to_json(r.s_seed1, 0)},
      {"seed_2conn", to_json(r.s_seed2, 0)},
      {"writer_alone", to_json(r.writer)},
      {"agentreg_rows_per_transaction", whole(summarize(r.rows_per_batch).median)},
      {"agentreg_producers_share", rounded(summarize(r.produce_share).median, 3)},
      {"sweep", std::move(sweep)},
      {"sweep_fastest", boost::json::object{{"batch_size", r.fastest_batch},
                                            {"flush_interval_ms", r.fastest_flush.count()}}},
      {"light_load_latency", std::move(latency)},
      {"outage", std::move(outage)},
      {"over_http", r.http_skipped.empty()
                        ? boost::json::value(boost::json::object{{"rows_per_s", to_json(r.http.s_rate, 0)},
                                                                 {"vs_copy", to_json(r.http.s_copy, 3)},
                                                                 {"vs_in_process", to_json(r.s_http_vs_in_process, 3)},
                                                                 {"rows", p.http_rows},
                                                                 {"rounds", p.http_rounds}})
                        : boost::json::value(boost::json::object{{"skipped", r.http_skipped}})},
      {"http_rows_per_s", whole(r.http.s_rate.median)},
      {"http_ratio_vs_in_process", rounded(r.s_http_vs_in_process.median, 3)},
      {"other_cpu_share", boost::json::object{{"comparison", to_json(r.comparison_cpu)},
                                              {"sweep", to_json(r.sweep_cpu)},
                                              {"rounds", std::move(round_cpu)},
                                              {"server_excluded", r.server_cpu_known}}},
      {"workload", boost::json::object{{"rows", p.rows},
                                       {"rounds", p.rounds},
                                       {"agents", ingest::agent_count},
                                       {"producer_threads", 2},
                                       {"seed_ms", p.seed_length.count()},
                                       {"copy_rows_per_transaction", copy_rows_per_transaction},
                                       {"sweep_rows", p.sweep_rows},
                                       {"sweep_rounds", p.sweep_rounds}}},
  };
  boost::json::array candidates;
  for (const auto& c : r.candidates) {
    auto entry = to_json(c.series);
    entry["batch_size"] = c.batch_size;
    entry["flush_interval_ms"] = defaults.flush_interval.count();
    entry["targets_met"] = targets_met(c.series);
    candidates.push_back(std::move(entry));
  }
  j["candidates"] = std::move(candidates);
  j["recommended_batch_size"] = r.recommended_batch;
  add_problems(j, r.problems);
  return j;
}

// ---- the suite -----------------------------------------------------------------------------------

void print_targets(const char* name, const variant_series& v) {
  std::printf("targets (%s): /COPY x%.2f >= %.1f (goal %.1f): %s; /seed x%.1f and x%.1f >= %.0f: %s\n", name,
              v.s_copy.median, copy_ratio_target, copy_ratio_goal,
              v.s_copy.median >= copy_ratio_goal     ? "goal met"
              : v.s_copy.median >= copy_ratio_target ? "met"
                                                     : "NOT met",
              v.s_seed1.median, v.s_seed2.median, seed_ratio_target,
              v.s_seed1.median >= seed_ratio_target && v.s_seed2.median >= seed_ratio_target ? "met" : "NOT met");
}

int run_ingest_suite(const options& opts) {
  const plan p = make_plan(opts);
  const machine_info machine = describe_machine();
  results r;
  std::string server_description;
  const auto suite_start = bench_clock::now();

  std::printf("agentreg-bench ingest (%s)\n", opts.quick ? "quick" : "full");
  print_machine(machine);
  std::fflush(stdout);

  try {
    // Declared first, destroyed last: the server outlives every database and
    // registry of the parts below, and is stopped and removed also when a
    // part throws.
    std::optional<support::scratch_cluster> cluster;
    std::string admin_url = opts.url;
    if (admin_url.empty()) {
      const auto t = bench_clock::now();
      // --quick is a smoke test: fsync off spares a shared disk; the figures are not quoted.
      cluster.emplace(opts.quick ? support::durability::throwaway : support::durability::durable);
      admin_url = cluster->url();
      std::printf("server: own scratch cluster (%s) in %s, started in %.1f s\n",
                  opts.quick ? "fsync off: --quick" : "default durability", cluster->dir().c_str(),
                  seconds_between(t, bench_clock::now()));
    }
    pg_server srv{admin_url};
    server_description = srv.description();
    std::printf("server: %s at %s\n\n", server_description.c_str(), printable(admin_url).c_str());
    std::fflush(stdout);
    const cpu_meter cpu{cluster ? cluster->dir() + "/data/postmaster.pid" : std::string{}};
    r.server_cpu_known = cpu.server_known();

    // The outage first: its VmRSS figures should hold the engine under the
    // outage, not what the heap keeps from earlier parts.
    if (cluster) {
      report_progress("ingest", 0.0, "outage");
      measure_outage(p, srv, *cluster, r);
    } else {
      r.outage.skipped = "--url given: the suite kills only a server it started itself";
      std::printf("outage: skipped (%s)\n\n", r.outage.skipped.c_str());
    }
    measure_sweep(p, srv, cpu, r);
    measure_comparison(p, srv, cpu, r);
    measure_over_http(p, srv, r);
    report_progress("ingest", 0.95, "light-load latency");
    measure_latency(p, srv, r);
  } catch (const std::exception& e) {
    r.problems.push_back(std::string{"aborted: "} + e.what());
  }

  const config defaults;
  std::printf("summary: agentreg %.0f rows/s end to end at the defaults (batch_size %zu, flush_interval %lld ms):\n"
              "         x%.2f of COPY, x%.1f of the seed on 1 connection, x%.1f on 2 (raw COPY on 2\n"
              "         connections, the server's ceiling, reached x%.1f of the seed on 2);\n",
              r.agentreg.s_rate.median, defaults.batch_size, static_cast<long long>(defaults.flush_interval.count()),
              r.agentreg.s_copy.median, r.agentreg.s_seed1.median, r.agentreg.s_seed2.median,
              r.s_copy2_vs_seed2.median);
  for (const auto& c : r.candidates)
    std::printf("         at batch_size %zu: %.0f rows/s, x%.2f of COPY, x%.1f and x%.1f of the seed;\n",
                c.batch_size, c.series.s_rate.median, c.series.s_copy.median, c.series.s_seed1.median,
                c.series.s_seed2.median);
  if (r.recommended_batch != 0)
    std::printf("         recommended batch_size %zu;\n", r.recommended_batch);
  if (r.outage.ran)
    std::printf("         outage %.0f s: peak VmRSS %.1f MB (%.1f MB before), every accepted execution stored: %s;\n",
                r.outage.seconds, static_cast<double>(r.outage.rss_peak) / 1e6,
                static_cast<double>(r.outage.rss_before) / 1e6,
                r.outage.rows == static_cast<std::int64_t>(r.outage.started) &&
                        r.outage.rows_completed == static_cast<std::int64_t>(r.outage.completed)
                    ? "yes"
                    : "NO");
  if (r.http_skipped.empty() && !r.http.rate.empty())
    std::printf("         over HTTP (agentregd, 4 connections) %.0f rows/s: x%.2f of in process, x%.2f of COPY;\n",
                r.http.s_rate.median, r.s_http_vs_in_process.median, r.http.s_copy.median);
  std::printf("         suite took %.0f s\n", seconds_between(suite_start, bench_clock::now()));
  print_targets("defaults", r.agentreg);
  for (const auto& c : r.candidates) {
    char name[48];
    std::snprintf(name, sizeof name, "batch_size %zu", c.batch_size);
    print_targets(name, c.series);
  }
  for (const auto& problem : r.problems)
    std::printf("FAILED: %s\n", problem.c_str());
  std::fflush(stdout);

  if (opts.json)
    emit_json_line(to_json(r, opts, p, machine, server_description));
  return r.problems.empty() ? 0 : 1;
}

[[maybe_unused]] const bool registered = register_suite(
    {"ingest", "executions into PostgreSQL end to end vs the seed's way and raw COPY; sweep; outage",
     &run_ingest_suite});

}  // namespace
}  // namespace agentreg::bench::ingest

