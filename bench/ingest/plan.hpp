#pragma once
// The plan of agentreg-bench ingest: how much each part runs (full and
// --quick), and the constants its parts share.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bench/suite.hpp"

namespace agentreg::bench::ingest {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

struct plan {
  std::uint64_t rows;            // executions per agentreg and COPY run of the comparison
  int rounds;                    // rounds of the comparison
  milliseconds seed_length;      // per seed run
  std::uint64_t sweep_rows;      // executions per sweep run
  int sweep_rounds;
  int latency_probes;            // per flush interval
  std::uint32_t light_pairs_per_s;
  milliseconds outage_warmup;    // full load before the kill
  milliseconds outage;           // full load with the server down
  std::size_t outage_buffer_limit;
  std::vector<std::size_t> sweep_batch_sizes;      // records per batch
  std::vector<milliseconds> sweep_flush_intervals;
  std::vector<milliseconds> latency_flush_intervals;  // of the light-load latency
  std::size_t max_candidates;    // batch sizes from the sweep measured again beside the default
  std::uint64_t http_rows;       // executions per run of the over-HTTP rounds
  int http_rounds;
};

// Records per batch (a start and a completion are two records). 50 000
// (25 000 rows per transaction) checks that the largest useful size is
// inside the range, not at its edge. --quick sweeps the default only: it
// is a smoke test of every part (scripts/bench --quick runs it inside
// scripts/test), not a choice of defaults: one comparison round, a 2 s
// outage with a buffer small enough to fill in it (so that "bounded" is
// checked), on a server with fsync off.
inline plan make_plan(const options& o) {
  if (o.quick)
    return {3'000, 1, 300ms, 3'000, 1, 2, 1000, 300ms, 2s, 20'000, {5000}, {50ms}, {50ms}, 1, 1'000, 1};
  // Even round counts: as many rounds in each order. Sized to about 5
  // minutes here (the longest part of scripts/bench's 30 after the soak
  // and scale; it took 490 s with 12 sweep settings, 3 candidates and
  // 100 000 rows a run): 60 000 rows a comparison run are 3 to 6 s of
  // ingest, past the start-up and tail of one run; 20 000 a sweep run (8
  // settings: the flush interval matters little at full load, so the sweep
  // leaves out 200 ms, which the light-load latency still shows), 2 rounds;
  // a 30 s outage at full load fills far more than one batch.
  return {60'000, 2, 2s, 20'000, 2, 25, 1000, 3s, 30s, 200'000, {1000, 5000, 20000, 50000}, {20ms, 50ms},
          {20ms, 50ms, 200ms}, 2, 25'000, 2};
}

inline constexpr std::uint64_t copy_rows_per_transaction = 10'000;
// How often the end of an ingest run is polled; its resolution.
inline constexpr milliseconds poll_interval{5};
// A run whose backlog does not drain within this is reported as a hang.
inline constexpr auto drain_deadline = 180s;
inline constexpr milliseconds rss_sample_interval{100};

// Targets of issue 5.
inline constexpr double copy_ratio_target = 0.8;
inline constexpr double copy_ratio_goal = 0.9;
inline constexpr double seed_ratio_target = 20;

}  // namespace agentreg::bench::ingest
