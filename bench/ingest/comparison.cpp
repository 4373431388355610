#include "bench/ingest/parts.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>

#include "bench/ingest/runs.hpp"
#include "bench/ingest/workload.hpp"

namespace agentreg::bench::ingest {

// ---- part 1-4: the comparison -------------------------------------------------------------

namespace {

void print_rate_row(const char* variant, const summary& s) {
  std::printf("  %-40s %9.0f  [%9.0f .. %9.0f]\n", variant, s.median, s.min, s.max);
}

void print_ratio_row(const char* what, const summary& s, const char* target) {
  std::printf("  %-40s x%-8.2f [x%.2f .. x%.2f]  %s\n", what, s.median, s.min, s.max, target);
}

void print_ratios(const char* name, const variant_series& v) {
  char label[80];
  std::snprintf(label, sizeof label, "%s / COPY", name);
  print_ratio_row(label, v.s_copy, "(target >= 0.8, goal 0.9)");
  std::snprintf(label, sizeof label, "%s / seed 1 connection", name);
  print_ratio_row(label, v.s_seed1, "(target >= 20)");
  std::snprintf(label, sizeof label, "%s / seed 2 connections", name);
  print_ratio_row(label, v.s_seed2, "(target >= 20)");
}

// Candidates: the sweep's batch sizes other than the default whose median
// there is at least 90 % of the default's, the fastest `most` of them. The
// sweep is short and runs once or twice per point, so it only rules out
// what is clearly slower; the paired rounds below decide among the rest.
std::vector<std::size_t> candidate_batches(const results& out, std::size_t default_batch, std::size_t most) {
  double default_rate = 0;
  for (const auto& [batch, rate] : out.sweep_by_batch)
    if (batch == default_batch)
      default_rate = rate;
  std::vector<std::pair<double, std::size_t>> chosen;  // (rate, batch)
  for (const auto& [batch, rate] : out.sweep_by_batch)
    if (batch != default_batch && rate >= 0.9 * default_rate)
      chosen.emplace_back(rate, batch);
  std::sort(chosen.rbegin(), chosen.rend());
  chosen.resize(std::min(chosen.size(), most));
  std::vector<std::size_t> batches;
  for (const auto& c : chosen)
    batches.push_back(c.second);
  std::sort(batches.begin(), batches.end());
  return batches;
}

}  // namespace

void measure_comparison(const plan& p, pg_server& srv, const cpu_meter& cpu, results& out) {
  const config defaults;
  for (auto batch : candidate_batches(out, defaults.batch_size, p.max_candidates))
    out.candidates.push_back({batch, {}});
  std::printf("end-to-end ingest vs baselines, %d rounds (order reversed every other round), each variant on a\n"
              "fresh database after a CHECKPOINT:\n"
              "  agentreg: %llu start+complete pairs from 2 threads over %u agents (batch_size %zu, flush_interval\n"
              "            %lld ms, writer_connections %zu: the defaults), clock from release of the producers to\n"
              "            persistence_backlog 0; and the same with writer_connections 1\n",
              p.rounds, static_cast<unsigned long long>(p.rows), ingest::agent_count, defaults.batch_size,
              static_cast<long long>(defaults.flush_interval.count()), defaults.writer_connections);
  if (!out.candidates.empty()) {
    std::printf("  candidates: the same at batch_size");
    for (const auto& c : out.candidates)
      std::printf(" %zu", c.batch_size);
    std::printf(" (not clearly slower than the default in the sweep)\n");
  }
  std::printf("  COPY:     %llu rows, stream_to into staging + INSERT ... ON CONFLICT DO NOTHING, %llu rows/tx;\n"
              "            (b2): the same rows split over 2 connections writing at once\n"
              "  seed:     INSERT + summary upsert per transaction, %lld ms per run, on 1 and 2 connections\n"
              "  diagnostic (c): db::batch_writer::write() alone, %llu rows, batches as the pipeline makes them\n"
              "            (start + completion of batch_size / 2 executions), only write() timed\n",
              static_cast<unsigned long long>(p.rows), static_cast<unsigned long long>(copy_rows_per_transaction),
              static_cast<long long>(p.seed_length.count()), static_cast<unsigned long long>(p.rows));
  std::fflush(stdout);

  const auto part_start = cpu.read();
  for (int round = 0; round < p.rounds; ++round) {
    report_progress("ingest", 0.45 + 0.5 * round / p.rounds,
                    "comparison round " + std::to_string(round + 1) + "/" + std::to_string(p.rounds));
    const auto round_start = cpu.read();
    double agentreg = 0, one_writer = 0, copy = 0, copy2 = 0, seed1 = 0, seed2 = 0, writer = 0;
    std::vector<double> candidate_rates(out.candidates.size());
    std::vector<std::function<void()>> steps{
        [&] {
          const auto r = run_agentreg(srv, p.rows, defaults.batch_size, defaults.flush_interval,
                                      "agentreg round " + std::to_string(round + 1), out.problems);
          agentreg = r.rows_per_s();
          out.produce_share.push_back(r.seconds > 0 ? r.produce_seconds / r.seconds : 0);
          out.rows_per_batch.push_back(r.batches > 0 ? static_cast<double>(r.rows) / static_cast<double>(r.batches)
                                                     : 0);
          out.destructor_ms.push_back(r.destructor_ms);
        },
        [&] {
          one_writer = run_agentreg(srv, p.rows, defaults.batch_size, defaults.flush_interval,
                                    "agentreg 1 writer round " + std::to_string(round + 1), out.problems, 1)
                           .rows_per_s();
        },
        [&] { copy = run_copy(srv, p.rows, out.problems); },
        [&] { copy2 = run_copy(srv, p.rows, out.problems, 2); },
        [&] { writer = run_writer_alone(srv, p.rows, defaults.batch_size, out.problems); },
        [&] { seed1 = run_seed(srv, 1, p.seed_length, out.problems); },
        [&] { seed2 = run_seed(srv, 2, p.seed_length, out.problems); },
    };
    for (std::size_t i = 0; i < out.candidates.size(); ++i)
      steps.insert(steps.begin() + 1 + static_cast<std::ptrdiff_t>(i), [&, i] {
        candidate_rates[i] = run_agentreg(srv, p.rows, out.candidates[i].batch_size, defaults.flush_interval,
                                          "agentreg batch " + std::to_string(out.candidates[i].batch_size) +
                                              " round " + std::to_string(round + 1),
                                          out.problems)
                                 .rows_per_s();
      });
    if (round % 2 == 1)
      std::reverse(steps.begin(), steps.end());
    for (auto& step : steps)
      step();
    out.copy.push_back(copy);
    out.copy2.push_back(copy2);
    out.copy2_vs_seed2.push_back(seed2 > 0 ? copy2 / seed2 : 0);
    out.seed1.push_back(seed1);
    out.seed2.push_back(seed2);
    const auto add = [&](variant_series& v, double rate) {
      v.rate.push_back(rate);
      v.vs_copy.push_back(copy > 0 ? rate / copy : 0);
      v.vs_seed1.push_back(seed1 > 0 ? rate / seed1 : 0);
      v.vs_seed2.push_back(seed2 > 0 ? rate / seed2 : 0);
    };
    add(out.agentreg, agentreg);
    add(out.one_writer, one_writer);
    out.writers_gain.push_back(one_writer > 0 ? agentreg / one_writer : 0);
    add(out.writer, writer);
    for (std::size_t i = 0; i < out.candidates.size(); ++i)
      add(out.candidates[i].series, candidate_rates[i]);
    out.round_cpu.push_back(cpu.between(round_start, cpu.read()));
    std::printf("  round %d: agentreg %.0f (1 writer %.0f)", round + 1, agentreg, one_writer);
    for (std::size_t i = 0; i < out.candidates.size(); ++i)
      std::printf(", batch %zu %.0f", out.candidates[i].batch_size, candidate_rates[i]);
    std::printf(", COPY %.0f (2 conn %.0f), seed 1 conn %.0f, seed 2 conn %.0f, writer alone %.0f rows/s;\n"
                "           other processes used %.0f %% of the CPUs, steal %.0f %%\n",
                copy, copy2, seed1, seed2, writer, out.round_cpu.back().others * 100, out.round_cpu.back().steal * 100);
    std::fflush(stdout);
  }
  out.comparison_cpu = cpu.between(part_start, cpu.read());
  out.agentreg.finish();
  for (auto& c : out.candidates)
    c.series.finish();
  // The recommendation: the smallest batch size whose paired median rate is
  // within 3 % of the fastest one. Smaller batches mean shorter
  // transactions, a smaller batch in memory and less to write again after a
  // failure, so a larger one must earn its place by more than the noise.
  std::vector<std::pair<std::size_t, double>> paired{{defaults.batch_size, out.agentreg.s_rate.median}};
  for (const auto& c : out.candidates)
    paired.emplace_back(c.batch_size, c.series.s_rate.median);
  std::sort(paired.begin(), paired.end());
  double fastest = 0;
  for (const auto& [batch, rate] : paired)
    fastest = std::max(fastest, rate);
  for (const auto& [batch, rate] : paired)
    if (rate >= 0.97 * fastest) {
      out.recommended_batch = batch;
      break;
    }
  out.writer.finish();
  out.one_writer.finish();
  out.s_writers_gain = summarize(out.writers_gain);
  out.s_copy = summarize(out.copy);
  out.s_copy2 = summarize(out.copy2);
  out.s_copy2_vs_seed2 = summarize(out.copy2_vs_seed2);
  out.s_seed1 = summarize(out.seed1);
  out.s_seed2 = summarize(out.seed2);

  std::printf("  %-40s %9s  %-24s\n", "variant (ratios per round)", "rows/s", "[min .. max]");
  char label[80];
  std::snprintf(label, sizeof label, "agentreg (batch %zu, %lld ms, %zu writers)", defaults.batch_size,
                static_cast<long long>(defaults.flush_interval.count()), defaults.writer_connections);
  print_rate_row(label, out.agentreg.s_rate);
  print_rate_row("agentreg, the same with 1 writer", out.one_writer.s_rate);
  for (const auto& c : out.candidates) {
    std::snprintf(label, sizeof label, "agentreg (batch %zu, %lld ms)", c.batch_size,
                  static_cast<long long>(defaults.flush_interval.count()));
    print_rate_row(label, c.series.s_rate);
  }
  print_rate_row("(b) COPY + ON CONFLICT, 10000/tx", out.s_copy);
  print_rate_row("(b2) the same on 2 connections at once", out.s_copy2);
  print_rate_row("(a) seed, 1 connection", out.s_seed1);
  print_rate_row("(a) seed, 2 connections", out.s_seed2);
  std::snprintf(label, sizeof label, "(c) batch_writer alone, %zu rows/tx", defaults.batch_size / 2);
  print_rate_row(label, out.writer.s_rate);
  print_ratios("agentreg", out.agentreg);
  print_ratios("1 writer", out.one_writer);
  std::snprintf(label, sizeof label, "%zu writers / 1 writer", defaults.writer_connections);
  print_ratio_row(label, out.s_writers_gain, "(how writer_connections was chosen)");
  for (const auto& c : out.candidates) {
    std::snprintf(label, sizeof label, "batch %zu", c.batch_size);
    print_ratios(label, c.series);
  }
  print_ratio_row("(c) batch_writer alone / COPY", out.writer.s_copy, "(diagnostic: the writer's SQL and checks)");
  print_ratio_row("(b2) COPY on 2 conn / seed 2 conn", out.s_copy2_vs_seed2,
                  "(the server's ceiling: no write path goes past it)");
  const auto share = summarize(out.produce_share);
  const auto per_batch = summarize(out.rows_per_batch);
  const auto destructor = summarize(out.destructor_ms);
  std::printf("  recommended batch_size: %zu (the smallest within 3 %% of the fastest paired median)\n",
              out.recommended_batch);
  std::printf("  agentreg: the producers were done after %.0f %% of the window (the rest: writer catching up);\n"
              "  %.0f execution rows per transaction; the registry destructor (summaries) took %.0f ms more\n",
              share.median * 100, per_batch.median, destructor.median);
  std::printf("  other processes used %.0f %% of the CPUs during the comparison%s, steal %.0f %%\n",
              out.comparison_cpu.others * 100, out.server_cpu_known ? "" : " (our server included)",
              out.comparison_cpu.steal * 100);
  std::printf("check: every run stored exactly its executions, completed, with tokens and cost: %s\n\n",
              out.problems.empty() ? "ok" : "FAILED");
  std::fflush(stdout);
}

}  // namespace agentreg::bench::ingest
