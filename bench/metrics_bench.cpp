// agentreg-bench metrics: what /metrics costs the engine.
//
// Measures, in one process run:
//   1. the hot-path cost of the lease counters (acquire granted / no
//      capacity / release per agent type, core::thread_counters): index
//      acquire+release pairs/s bare, with the two thread_counters adds the
//      facade makes per pair, and with one shared atomic per type instead
//      (the obvious design, which writes one cache line from every thread),
//      on 1 and 2 threads, rounds alternating; then the facade's own
//      acquire+release pairs/s for scale;
//   2. a scrape (registry::metrics(): the fleet from one pass over the
//      index's slots, the counters, the label sets; then the text
//      http::render_metrics makes of it: time and bytes) at 1 000, 10 000
//      and 100 000 agents, beside registry::stats() (which reads every
//      agent's record from the directory).
// Checks: the counters count every pair; the scrape's agents equal stats().

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "agentreg/registry.hpp"
#include "bench/suite.hpp"
#include "core/thread_counters.hpp"
#include "index/priority_index.hpp"
#include "server/metrics.hpp"

namespace agentreg::bench {
namespace {

namespace idx = agentreg::index;
using std::chrono::milliseconds;

constexpr std::uint32_t agents = 1000, capacity = 8;

// The three ways of counting a pair.
enum class counting { none, thread_cells, shared_atomic };
const char* name_of(counting c) {
  switch (c) {
    case counting::none: return "bare";
    case counting::thread_cells: return "thread_counters";
    case counting::shared_atomic: return "shared atomic";
  }
  return "";
}

struct index_fixture {
  idx::priority_index index;
  std::uint32_t pool = 0;
  core::thread_counters cells{3 * std::size_t{idx::priority_index::default_max_types}};
  // One cache line per type and counter, as a plain design would have it.
  struct alignas(64) shared_cell {
    std::atomic<std::uint64_t> n{0};
  };
  std::array<shared_cell, 3> shared{};

  index_fixture() {
    pool = *index.pool("worker");
    for (std::uint32_t i = 0; i < agents; ++i)
      (void)index.insert(pool, capacity, std::uint64_t{i} + 1);
  }
};

round_result pairs_round(index_fixture& f, counting how, unsigned threads, std::chrono::nanoseconds length) {
  return run_round(threads, length, [&f, how](unsigned t, const std::atomic<bool>& stop) {
    thread_tally tally;
    std::uint64_t secret = (t + 1) * 0x9E3779B97F4A7C15ull;
    // relaxed: a stop request only.
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 64; ++i) {
        auto l = f.index.acquire(f.pool, 0, ++secret);
        if (!l) {
          ++tally.failures;
          continue;
        }
        if (how == counting::thread_cells)
          f.cells.add(3 * std::size_t{f.pool});
        else if (how == counting::shared_atomic)
          f.shared[0].n.fetch_add(1, std::memory_order_relaxed);  // relaxed: a count
        if (f.index.release(*l) != idx::errc::ok)
          ++tally.failures;
        if (how == counting::thread_cells)
          f.cells.add(3 * std::size_t{f.pool} + 2);
        else if (how == counting::shared_atomic)
          f.shared[2].n.fetch_add(1, std::memory_order_relaxed);
        ++tally.ops;
      }
    }
    return tally;
  });
}

struct counter_cost {
  unsigned threads = 0;
  summary bare, cells, shared, cells_ratio, shared_ratio;
};

struct results {
  std::vector<counter_cost> costs;
  std::array<summary, 2> facade_pairs;
  struct scrape_row {
    std::uint32_t agents = 0;
    summary metrics_us, render_us, stats_us;
    std::size_t bytes = 0;
  };
  std::vector<scrape_row> scrapes;
  std::vector<std::string> problems;
};

void measure_counter_cost(bool quick, results& out) {
  const int rounds = quick ? 3 : 9;
  const auto length = milliseconds{quick ? 100 : 300};
  index_fixture f;
  std::printf("lease counters on the hot path: index acquire+release pairs/s, %u agents x capacity %u;\n"
              "%d rounds x %lld ms per variant, alternating; threads pinned one per CPU\n",
              agents, capacity, rounds, static_cast<long long>(length.count()));
  std::printf("  %7s  %-16s %12s  %-22s %s\n", "threads", "variant", "median", "[min .. max]", "vs bare");
  std::uint64_t counted_pairs = 0;
  for (unsigned threads = 1; threads <= 2; ++threads) {
    std::vector<double> bare, cells, shared, cr, sr;
    for (int r = 0; r < rounds; ++r) {
      // A different order each round, so drift hits every variant alike.
      std::array<counting, 3> order{counting::none, counting::thread_cells, counting::shared_atomic};
      std::rotate(order.begin(), order.begin() + r % 3, order.end());
      std::array<double, 3> ops{};
      for (auto how : order) {
        const auto res = pairs_round(f, how, threads, length);
        if (res.failures != 0)
          out.problems.push_back(std::to_string(res.failures) + " failed pairs (" + name_of(how) + ")");
        if (how == counting::thread_cells)
          counted_pairs += res.ops;
        ops[static_cast<std::size_t>(how)] = res.ops_per_s();
      }
      bare.push_back(ops[0]);
      cells.push_back(ops[1]);
      shared.push_back(ops[2]);
      cr.push_back(ops[1] / ops[0]);
      sr.push_back(ops[2] / ops[0]);
    }
    counter_cost c{threads, summarize(bare), summarize(cells), summarize(shared), summarize(cr), summarize(sr)};
    auto row = [&](const char* n, const summary& s, const summary* ratio) {
      std::printf("  %7u  %-16s %12.0f  [%9.0f .. %9.0f] %s", threads, n, s.median, s.min, s.max, ratio ? "" : "\n");
      if (ratio)
        std::printf(" x%.3f\n", ratio->median);
    };
    row("bare", c.bare, nullptr);
    row("thread_counters", c.cells, &c.cells_ratio);
    row("shared atomic", c.shared, &c.shared_ratio);
    out.costs.push_back(c);
    std::fflush(stdout);
  }
  if (f.cells.total(3 * std::size_t{f.pool}) != counted_pairs ||
      f.cells.total(3 * std::size_t{f.pool} + 2) != counted_pairs)
    out.problems.push_back("thread_counters lost counts: " + std::to_string(f.cells.total(3 * std::size_t{f.pool})) +
                           " acquires counted of " + std::to_string(counted_pairs));
  std::printf("  cache-line round trip now: %.0f ns\n\n", cache_line_round_trip_ns());
}

void measure_facade_pairs(bool quick, results& out) {
  config c;
  c.auto_sweep = false;
  registry reg{c};
  for (std::uint32_t i = 0; i < agents; ++i) {
    agent_spec s;
    // Formatted, not "w" + std::to_string(i): GCC 12 at -O3 warns falsely
    // (-Wrestrict) on that operator+.
    char id[16];
    std::snprintf(id, sizeof id, "w%u", i);
    s.agent_id = id;
    s.agent_type = "worker";
    s.max_capacity = capacity;
    (void)reg.register_agent(s);
  }
  const int rounds = quick ? 3 : 7;
  std::printf("facade acquire+release pairs/s (counters included), %d rounds x 300 ms\n", rounds);
  std::uint64_t pairs = 0;
  for (unsigned threads = 1; threads <= 2; ++threads) {
    std::vector<double> ops;
    for (int r = 0; r < rounds; ++r) {
      const auto res = run_round(threads, milliseconds{300}, [&reg](unsigned, const std::atomic<bool>& stop) {
        thread_tally tally;
        while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop request only
          auto l = reg.acquire("worker");
          if (!l || !reg.release(*l)) {
            ++tally.failures;
            continue;
          }
          ++tally.ops;
        }
        return tally;
      });
      pairs += res.ops;
      ops.push_back(res.ops_per_s());
    }
    out.facade_pairs[threads - 1] = summarize(ops);
    std::printf("  %u thread(s): %.0f pairs/s [%.0f .. %.0f]\n", threads, out.facade_pairs[threads - 1].median,
                out.facade_pairs[threads - 1].min, out.facade_pairs[threads - 1].max);
  }
  const auto m = reg.metrics();
  if (m.fleet.size() != 1 || m.fleet[0].acquires != pairs || m.fleet[0].releases != pairs)
    out.problems.push_back("the facade's counters disagree with the pairs made");
  std::printf("\n");
}

void measure_scrapes(bool quick, results& out) {
  std::printf("a scrape: registry::metrics(), then render_metrics (the /metrics text), vs registry::stats();\n"
              "10 types, 4 models, 8 tools; microseconds\n");
  std::printf("  %8s  %-20s %-20s %-22s %8s  %s\n", "agents", "metrics() median", "render median", "stats() median",
              "bytes", "metrics ns/agent");
  const std::vector<std::uint32_t> sizes = quick ? std::vector<std::uint32_t>{1000, 10000}
                                                 : std::vector<std::uint32_t>{1000, 10000, 100000};
  for (auto n : sizes) {
    config c;
    c.auto_sweep = false;
    registry reg{c};
    for (std::uint32_t i = 0; i < n; ++i) {
      agent_spec s;
      s.agent_id = "agent-" + std::to_string(i);
      s.agent_type = "type-" + std::to_string(i % 10);
      s.llm_provider = "provider";
      s.model_name = "model-" + std::to_string(i % 4);
      s.max_capacity = 4;
      (void)reg.register_agent(s);
    }
    // Some work, so the label sets are not empty.
    for (std::uint32_t i = 0; i < 400; ++i) {
      auto id = reg.start_execution("agent-" + std::to_string(i));
      if (id)
        (void)reg.complete_execution(*id, execution_status::success, {.prompt_tokens = 100, .completion_tokens = 50});
      (void)reg.record_tool_usage("agent-" + std::to_string(i), "tool-" + std::to_string(i % 8),
                                  {.success_count = 1, .duration_ms = 12});
    }
    reg.sync();
    std::vector<double> mu, ru, su;
    std::size_t bytes = 0;
    for (int r = 0; r < (quick ? 3 : 9); ++r) {
      auto t0 = bench_clock::now();
      const auto m = reg.metrics();
      auto t1 = bench_clock::now();
      const auto text = http::render_metrics(m, {}, c.metrics_max_series, 0);
      auto t2 = bench_clock::now();
      const auto s = reg.stats();
      auto t3 = bench_clock::now();
      bytes = text.size();
      mu.push_back(seconds_between(t0, t1) * 1e6);
      ru.push_back(seconds_between(t1, t2) * 1e6);
      su.push_back(seconds_between(t2, t3) * 1e6);
      if (m.engine.agents != s.agents || m.engine.agents != n)
        out.problems.push_back("metrics() counted " + std::to_string(m.engine.agents) + " agents of " +
                               std::to_string(n));
    }
    results::scrape_row row{n, summarize(mu), summarize(ru), summarize(su), bytes};
    std::printf("  %8u  %8.0f [%.0f..%.0f]  %8.0f [%.0f..%.0f]  %10.0f [%.0f..%.0f]  %8zu  %.1f\n", n,
                row.metrics_us.median, row.metrics_us.min, row.metrics_us.max, row.render_us.median,
                row.render_us.min, row.render_us.max, row.stats_us.median, row.stats_us.min, row.stats_us.max, bytes,
                row.metrics_us.median * 1000 / n);
    out.scrapes.push_back(row);
    std::fflush(stdout);
  }
  std::printf("\n");
}

int run_metrics_suite(const options& opts) {
  const machine_info machine = describe_machine();
  std::printf("agentreg-bench metrics (%s)\n", opts.quick ? "quick" : "full");
  print_machine(machine);
  std::printf("cache-line round trip: %.0f ns\n\n", cache_line_round_trip_ns());
  results r;
  report_progress("metrics", 0.0, "lease counters on the hot path");
  measure_counter_cost(opts.quick, r);
  report_progress("metrics", 0.4, "facade pairs");
  measure_facade_pairs(opts.quick, r);
  report_progress("metrics", 0.6, "scrapes");
  measure_scrapes(opts.quick, r);
  for (const auto& p : r.problems)
    std::printf("FAILED: %s\n", p.c_str());
  if (opts.json) {
    boost::json::array costs, scrapes;
    for (const auto& c : r.costs)
      costs.push_back(boost::json::object{{"threads", c.threads},
                                          {"bare_pairs_per_s", to_json(c.bare, 0)},
                                          {"thread_counters_pairs_per_s", to_json(c.cells, 0)},
                                          {"shared_atomic_pairs_per_s", to_json(c.shared, 0)},
                                          {"thread_counters_ratio", to_json(c.cells_ratio, 3)},
                                          {"shared_atomic_ratio", to_json(c.shared_ratio, 3)}});
    for (const auto& s : r.scrapes)
      scrapes.push_back(boost::json::object{{"agents", s.agents},
                                            {"metrics_us", to_json(s.metrics_us, 0)},
                                            {"render_us", to_json(s.render_us, 0)},
                                            {"bytes", s.bytes},
                                            {"stats_us", to_json(s.stats_us, 0)}});
    boost::json::object o{{"suite", "metrics"},
                          {"machine", to_json(machine)},
                          {"counter_cost", std::move(costs)},
                          {"facade_pairs_per_s_1t", to_json(r.facade_pairs[0], 0)},
                          {"facade_pairs_per_s_2t", to_json(r.facade_pairs[1], 0)},
                          {"scrapes", std::move(scrapes)}};
    add_problems(o, r.problems);
    emit_json_line(o);
  }
  return r.problems.empty() ? 0 : 1;
}

[[maybe_unused]] const bool registered = register_suite(
    {"metrics", "/metrics' cost: lease counters on the hot path (vs bare, vs a shared atomic), scrapes at 1k..100k agents",
     &run_metrics_suite});

}  // namespace
}  // namespace agentreg::bench
