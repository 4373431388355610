#include "bench/ingest/parts.hpp"

#include <cstdio>
#include <string>

#include "bench/ingest/runs.hpp"

namespace agentreg::bench::ingest {

// ---- part 5: choosing the defaults --------------------------------------------------------
//
// Runs before the comparison, so that the comparison can pair the best batch
// size with the baselines round by round.

void measure_sweep(const plan& p, pg_server& srv, const cpu_meter& cpu, results& out) {
  std::printf("sweep at full load: %llu pairs from 2 threads per run, %d run(s) per setting (order reversed\n"
              "every other round); batch_size counts records (a start and a completion are two); the clock\n"
              "includes the tail, when the last partial batch waits up to one flush_interval\n",
              static_cast<unsigned long long>(p.sweep_rows), p.sweep_rounds);
  std::fflush(stdout);
  const auto cpu_start = cpu.read();
  for (auto batch : p.sweep_batch_sizes)
    for (auto flush : p.sweep_flush_intervals)
      out.sweep.push_back({batch, flush, {}, {}, {}});
  std::size_t runs_done = 0;
  for (int round = 0; round < p.sweep_rounds; ++round) {
    std::vector<std::size_t> order(out.sweep.size());
    for (std::size_t i = 0; i < order.size(); ++i)
      order[i] = round % 2 == 0 ? i : order.size() - 1 - i;
    for (auto i : order) {
      auto& s = out.sweep[i];
      // The sweep is about a third of the suite, after the outage.
      report_progress("ingest", 0.15 + 0.3 * static_cast<double>(runs_done++) /
                                           static_cast<double>(static_cast<std::size_t>(p.sweep_rounds) * order.size()),
                      "sweep batch " + std::to_string(s.batch_size) + " round " + std::to_string(round + 1));
      const auto r = run_agentreg(srv, p.sweep_rows, s.batch_size, s.flush_interval,
                                  "sweep batch " + std::to_string(s.batch_size) + " flush " +
                                      std::to_string(s.flush_interval.count()) + " ms",
                                  out.problems);
      s.rows_per_s.push_back(r.rows_per_s());
      s.rows_per_batch.push_back(r.batches > 0 ? static_cast<double>(r.rows) / static_cast<double>(r.batches) : 0);
    }
  }
  out.sweep_cpu = cpu.between(cpu_start, cpu.read());
  std::printf("  %10s %10s %10s  %-22s %12s\n", "batch_size", "flush ms", "rows/s", "[min .. max]", "rows/tx");
  const sweep_point* fastest = nullptr;
  for (auto& s : out.sweep) {
    s.rate = summarize(s.rows_per_s);
    std::printf("  %10zu %10lld %10.0f  [%8.0f .. %8.0f] %12.0f\n", s.batch_size,
                static_cast<long long>(s.flush_interval.count()), s.rate.median, s.rate.min, s.rate.max,
                summarize(s.rows_per_batch).median);
    if (fastest == nullptr || s.rate.median > fastest->rate.median)
      fastest = &s;
  }
  // At full load batches fill before the interval ends, so the flush
  // interval changes only the tail: the batch size is chosen on the median
  // over its flush intervals, which is steadier than one point.
  std::printf("  by batch_size (median over the flush intervals):");
  for (auto batch : p.sweep_batch_sizes) {
    std::vector<double> rates;
    for (const auto& s : out.sweep)
      if (s.batch_size == batch)
        rates.insert(rates.end(), s.rows_per_s.begin(), s.rows_per_s.end());
    const double m = summarize(rates).median;
    std::printf(" %zu: %.0f", batch, m);
    out.sweep_by_batch.emplace_back(batch, m);
  }
  std::printf(" rows/s\n");
  if (fastest != nullptr) {
    out.fastest_batch = fastest->batch_size;
    out.fastest_flush = fastest->flush_interval;
    std::printf("  fastest point: batch_size %zu, flush_interval %lld ms (%.0f rows/s)\n", fastest->batch_size,
                static_cast<long long>(fastest->flush_interval.count()), fastest->rate.median);
  }
  std::printf("  other processes used %.0f %% of the CPUs meanwhile%s, steal %.0f %%\n\n",
              out.sweep_cpu.others * 100, out.server_cpu_known ? "" : " (our server included)",
              out.sweep_cpu.steal * 100);
  std::fflush(stdout);
}

}  // namespace agentreg::bench::ingest
