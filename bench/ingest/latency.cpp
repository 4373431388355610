#include "bench/ingest/parts.hpp"

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include <pqxx/pqxx>

#include "bench/ingest/runs.hpp"
#include "bench/ingest/workload.hpp"

namespace agentreg::bench::ingest {


// At light load batches never fill, so the flush interval alone decides how
// long a completion waits before it is in the database, and how many
// transactions per second the database sees. A paced producer keeps the
// engine busy; a probe completes an execution now and then and polls its row
// by primary key every millisecond.
void measure_latency(const plan& p, pg_server& srv, results& out) {
  const config defaults;
  std::printf("light load: %u pairs/s from one paced thread, %d probes per flush interval (batch_size %zu):\n"
              "time from complete_execution() returning until its row reads completed in the database\n",
              p.light_pairs_per_s, p.latency_probes, defaults.batch_size);
  std::printf("  %10s %10s  %-22s %10s\n", "flush ms", "median ms", "[min .. max]", "tx/s");
  std::fflush(stdout);
  for (auto flush : p.latency_flush_intervals) {
    scratch_database db{srv};
    registry reg{registry_config(db.url(), defaults.batch_size, flush)};
    register_agents(reg);
    const auto ids = agent_ids();
    std::atomic<std::uint64_t> failures{0};
    // A jthread: should a probe query throw, leaving the scope stops and
    // joins it before the registry it uses goes away.
    std::jthread load{[&](const std::stop_token& stop) {
      const execution_request request = ingest::request_of();
      const execution_metrics metrics = ingest::metrics_of();
      // One pair per tick of 1/rate s, on an absolute schedule so that
      // sleeping late does not lower the rate.
      const auto tick = std::chrono::nanoseconds{1'000'000'000 / p.light_pairs_per_s};
      auto next = bench_clock::now();
      std::uint32_t agent = 0;
      while (!stop.stop_requested()) {
        if (!pair(reg, ids[agent], request, metrics))
          failures.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after join
        agent = (agent + 1) % ingest::agent_count;
        next += tick;
        std::this_thread::sleep_until(next);
      }
    }};

    pqxx::connection c{db.url()};
    c.prepare("probe", "SELECT status FROM agent_executions WHERE id = $1::uuid");
    const execution_request request = ingest::request_of();
    const execution_metrics metrics = ingest::metrics_of();
    std::vector<double> visible_ms;
    const std::int64_t batches_before = reg.stats().persistence_batches;
    const auto window_start = bench_clock::now();
    for (int i = 0; i < p.latency_probes; ++i) {
      // Irregular gaps (20..59 ms), so the probes do not lock onto the
      // writer's tick and sample every phase of it.
      std::this_thread::sleep_for(milliseconds{20 + (i * 17) % 40});
      auto id = reg.start_execution(ids[static_cast<std::size_t>(i) % ids.size()], request);
      if (!id || !reg.complete_execution(*id, execution_status::success, metrics)) {
        out.problems.push_back("latency probe: start/complete failed");
        continue;
      }
      const auto completed = bench_clock::now();
      const auto deadline = completed + 30s;
      for (;;) {
        pqxx::nontransaction tx{c};
        const auto r = tx.exec_prepared("probe", *id);
        if (!r.empty() && r[0][0].as<std::string>() != "running")
          break;
        if (bench_clock::now() > deadline) {
          out.problems.push_back("latency probe: execution " + *id + " not completed in the database after 30 s");
          break;
        }
        std::this_thread::sleep_for(1ms);
      }
      visible_ms.push_back(seconds_between(completed, bench_clock::now()) * 1e3);
    }
    const double window = seconds_between(window_start, bench_clock::now());
    const std::int64_t batches = reg.stats().persistence_batches - batches_before;
    load.request_stop();
    load.join();
    if (failures.load() != 0)
      out.problems.push_back("light load: " + std::to_string(failures.load()) + " start/complete calls failed");
    latency_point lp{flush, summarize(visible_ms), window > 0 ? static_cast<double>(batches) / window : 0};
    std::printf("  %10lld %10.1f  [%7.1f .. %7.1f] %10.1f\n", static_cast<long long>(flush.count()),
                lp.visible_ms.median, lp.visible_ms.min, lp.visible_ms.max, lp.transactions_per_s);
    std::fflush(stdout);
    out.latency.push_back(lp);
  }
  std::printf("\n");
}

}  // namespace agentreg::bench::ingest
