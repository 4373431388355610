// agentreg-bench index: the lock-free priority index against a mutex around
// a std::set (bench/mutex_set_baseline.hpp), in the same process run.
//
// Measures, for one agent type:
//   1. acquire+release pairs/s on each thread count of --threads (default 1
//      and 2), 1000 agents of capacity 8, index and baseline rounds
//      alternating; median, min/max, the ratio, and the curve: each count's
//      rate over the rate at the first count;
//   2. acquire latency p50/p99/p99.9 at 2 threads (every 16th acquire timed);
//   3. from 1k to 1M agents: ns per pair on one thread, and index bytes per
//      agent (marginal, and with the fixed cost).
// Before timing anything, both sides pass the same correctness check, and
// after each phase every agent must be back at load 0.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "bench/mutex_set_baseline.hpp"
#include "bench/suite.hpp"
#include "core/random.hpp"
#include "index/priority_index.hpp"

namespace agentreg::bench {
namespace {

namespace idx = agentreg::index;
using std::chrono::milliseconds;

// The workload of parts 1 and 2: enough agents that picks spread, a capacity
// typical of an LLM agent's concurrent slots.
constexpr std::uint32_t agents = 1000;
constexpr std::uint32_t capacity = 8;
constexpr std::array<std::uint32_t, 4> scale_sizes{1'000, 10'000, 100'000, 1'000'000};

// Pairs between two polls of the stop flag: long enough that polling costs
// nothing, short enough (~10 us) that a round ends on time.
constexpr unsigned batch = 256;

// One acquire in 16 is timed: two clock reads per sample cost ~40 ns, and
// timing every acquire would put them on the critical path of the other
// thread too. Sampling keeps the workload nearly the one of part 1.
constexpr unsigned sample_every = 16;

struct plan {
  int rounds;
  milliseconds round_length;
  int latency_rounds;
  milliseconds latency_round_length;
  int scale_rounds;
  milliseconds scale_round_length;
  milliseconds warmup;
};

plan make_plan(const options& o) {
  if (o.quick)
    return {3, milliseconds{50}, 2, milliseconds{50}, 3, milliseconds{30}, milliseconds{20}};
  return {7, milliseconds{300}, 5, milliseconds{300}, 5, milliseconds{200}, milliseconds{100}};
}

// ---- the two sides, driven through one interface ----------------------------------

// The priority index with one pool of `n` agents. Thread-safe as the index is.
class index_side {
 public:
  using handle = idx::lease;
  static constexpr const char* name = "index";

  index_side(std::uint32_t n, std::uint32_t agent_capacity) {
    refs_.reserve(n);
    const std::size_t heap_before = heap_bytes();
    index_ = std::make_unique<idx::priority_index>();
    const auto pool = index_->pool("bench");
    if (!pool) {
      error_ = std::string{"pool(): "} + idx::to_string(pool.error);
      return;
    }
    pool_ = *pool;
    empty_bytes_ = index_->memory_bytes();
    for (std::uint32_t i = 0; i < n; ++i) {
      // Distinct tags, as real agents have distinct keys.
      const auto ref = index_->insert(pool_, agent_capacity, std::uint64_t{i} + 1);
      if (!ref) {
        error_ = "insert() of agent " + std::to_string(i) + ": " + idx::to_string(ref.error);
        return;
      }
      refs_.push_back(*ref);
    }
    full_bytes_ = index_->memory_bytes();
    heap_delta_ = heap_bytes() - heap_before;
  }

  std::optional<handle> acquire() {
    // The facade gives each lease a secret from core::random_u64(); its cost
    // is measured on its own (measure_secret_draw) so that this side stays
    // the index's cost. Distinct values per thread and call, all 64 bits used.
    thread_local std::uint64_t drawn = 0;
    thread_local const std::uint64_t thread_key = reinterpret_cast<std::uintptr_t>(&drawn) * 0xD1B54A32D192ED03ull;
    const auto l = index_->acquire(pool_, 0, (++drawn * 0x9E3779B97F4A7C15ull) ^ thread_key);
    return l ? std::optional<handle>{l.value} : std::nullopt;
  }
  bool release(const handle& l) { return index_->release(l) == idx::errc::ok; }
  [[nodiscard]] std::uint32_t agent_of(const handle& l) const { return l.agent.slot; }

  // Every agent at load 0 and no lease outstanding.
  [[nodiscard]] bool idle() const {
    if (index_->leases_held() != 0)
      return false;
    return std::all_of(refs_.begin(), refs_.end(), [this](const idx::agent_ref& r) {
      const auto v = index_->view(r);
      return v && v->load() == 0;
    });
  }

  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::size_t empty_bytes() const { return empty_bytes_; }
  [[nodiscard]] std::size_t full_bytes() const { return full_bytes_; }
  [[nodiscard]] std::size_t memory_bytes() const { return index_->memory_bytes(); }
  [[nodiscard]] std::size_t heap_delta() const { return heap_delta_; }

 private:
  std::unique_ptr<idx::priority_index> index_;
  std::uint32_t pool_ = 0;
  std::vector<idx::agent_ref> refs_;
  std::string error_;
  std::size_t empty_bytes_ = 0;
  std::size_t full_bytes_ = 0;
  std::size_t heap_delta_ = 0;
};

// The baseline with `n` agents. Thread-safe as the baseline is.
class baseline_side {
 public:
  using handle = std::uint32_t;
  static constexpr const char* name = "mutex+set";

  baseline_side(std::uint32_t n, std::uint32_t agent_capacity) : agents_(n) {
    const std::size_t heap_before = heap_bytes();
    set_ = std::make_unique<mutex_set_baseline>();
    for (std::uint32_t i = 0; i < n; ++i)
      set_->insert(agent_capacity);
    heap_delta_ = heap_bytes() - heap_before;
  }

  std::optional<handle> acquire() { return set_->acquire(); }
  bool release(handle agent) { return set_->release(agent); }
  [[nodiscard]] std::uint32_t agent_of(handle agent) const { return agent; }

  [[nodiscard]] bool idle() const {
    for (std::uint32_t a = 0; a < agents_; ++a)
      if (set_->load(a) != 0)
        return false;
    return true;
  }

  [[nodiscard]] std::size_t heap_delta() const { return heap_delta_; }

 private:
  std::unique_ptr<mutex_set_baseline> set_;
  std::uint32_t agents_;
  std::size_t heap_delta_ = 0;
};

// ---- correctness first ----------------------------------------------------------

// Fills every slot from one thread and checks the least-loaded rule at
// quiescence: the k-th sweep of `n` acquires must hit each agent once, at
// load k. Then a full pool refuses, every release succeeds, a second release
// of the same lease is refused, and all agents end idle. Returns "" or what
// went wrong.
template <class Side>
std::string check_fill(Side& side, std::uint32_t n, std::uint32_t agent_capacity) {
  std::vector<typename Side::handle> held;
  held.reserve(std::size_t{n} * agent_capacity);
  std::vector<std::uint32_t> load(n, 0);
  for (std::uint32_t level = 0; level < agent_capacity; ++level)
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto l = side.acquire();
      if (!l)
        return "acquire failed with free slots left (sweep " + std::to_string(level) + ", pick " +
               std::to_string(i) + ")";
      const std::uint32_t a = side.agent_of(*l);
      if (a >= n)
        return "acquire picked unknown agent " + std::to_string(a);
      if (load[a] != level)
        return "acquire picked agent " + std::to_string(a) + " at load " + std::to_string(load[a]) +
               " while an agent at load " + std::to_string(level) + " was free";
      ++load[a];
      held.push_back(*l);
    }
  if (side.acquire())
    return "acquire succeeded with every slot taken";
  for (const auto& l : held)
    if (!side.release(l))
      return "release of a held slot failed";
  if (side.release(held.front()))
    return "a second release of the same lease was accepted";
  const auto l = side.acquire();
  if (!l || !side.release(*l))
    return "acquire+release failed after a full drain";
  return side.idle() ? std::string{} : "agents not at load 0 after releasing everything";
}

// ---- timed loops ------------------------------------------------------------------

template <class Side>
thread_tally pairs_until_stop(Side& side, const std::atomic<bool>& stop) {
  thread_tally tally;
  // relaxed: a plain stop request, see run_round.
  while (!stop.load(std::memory_order_relaxed)) {
    for (unsigned i = 0; i < batch; ++i) {
      const auto l = side.acquire();
      if (l && side.release(*l))
        ++tally.ops;
      else
        ++tally.failures;
    }
  }
  return tally;
}

template <class Side>
thread_tally sampled_pairs_until_stop(Side& side, const std::atomic<bool>& stop,
                                      std::vector<std::uint64_t>& samples) {
  thread_tally tally;
  // relaxed: a plain stop request, see run_round.
  while (!stop.load(std::memory_order_relaxed)) {
    for (unsigned i = 0; i < batch; ++i) {
      std::optional<typename Side::handle> l;
      if (i % sample_every == 0) {
        const auto t0 = bench_clock::now();
        l = side.acquire();
        const auto t1 = bench_clock::now();
        samples.push_back(nanoseconds_between(t0, t1));
      } else {
        l = side.acquire();
      }
      if (l && side.release(*l))
        ++tally.ops;
      else
        ++tally.failures;
    }
  }
  return tally;
}

template <class Side>
round_result throughput_round(Side& side, unsigned threads, milliseconds length) {
  return run_round(threads, length,
                   [&side](unsigned, const std::atomic<bool>& stop) { return pairs_until_stop(side, stop); });
}

// Per-round latency percentiles of acquire, samples of all threads pooled.
struct latency_round {
  std::uint64_t p50 = 0, p99 = 0, p999 = 0;
  std::size_t samples = 0;
  std::uint64_t failures = 0;
};

template <class Side>
latency_round sampled_round(Side& side, unsigned threads, milliseconds length) {
  std::vector<std::vector<std::uint64_t>> per_thread(threads);
  for (auto& v : per_thread)
    v.reserve(1u << 21);  // no reallocation inside the timed loop at ~100 M pairs/s
  const auto r = run_round(threads, length, [&](unsigned t, const std::atomic<bool>& stop) {
    return sampled_pairs_until_stop(side, stop, per_thread[t]);
  });
  std::vector<std::uint64_t> all;
  for (const auto& v : per_thread)
    all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  return {percentile(all, 0.50), percentile(all, 0.99), percentile(all, 0.999), all.size(), r.failures};
}

// ---- alternating rounds ------------------------------------------------------------


std::vector<double> ns_per_op(const std::vector<double>& ops_per_s) {
  std::vector<double> ns;
  for (double x : ops_per_s)
    ns.push_back(x > 0 ? 1e9 / x : 0);
  return ns;
}

// ---- output ------------------------------------------------------------------------

void print_rate_row(unsigned threads, const char* variant, const summary& s) {
  std::printf("  %7u  %-10s %9.2f M  [%6.2f .. %6.2f M]  %12.1f\n", threads, variant, s.median / 1e6,
              s.min / 1e6, s.max / 1e6, s.median > 0 ? 1e9 / s.median : 0.0);
}

void print_ratio_row(const summary& s) {
  std::printf("  %7s  %-10s   x%.2f     [x%.2f .. x%.2f]  (index/mutex+set, per round pair)\n", "", "ratio",
              s.median, s.min, s.max);
}

void print_latency_row(const char* variant, const summary& p50, const summary& p99, const summary& p999) {
  std::printf("  %-10s %6.0f [%5.0f .. %5.0f]  %7.0f [%6.0f .. %6.0f]  %7.0f [%6.0f .. %6.0f]\n", variant,
              p50.median, p50.min, p50.max, p99.median, p99.min, p99.max, p999.median, p999.min, p999.max);
}

// ---- the suite's parts ----------------------------------------------------------------

// Everything one run measured, for the summary and the JSON line.
struct results {
  struct throughput {
    summary subject_ops, baseline_ops, ratio;  // subject: the index
  };
  struct latency {
    summary p50, p99, p999;
    std::size_t samples = 0;
  };
  struct scale_row {
    std::uint32_t agents = 0;
    summary index_ns, baseline_ns;
    double index_bytes_per_agent = 0;             // memory_bytes(): (full - empty) / N
    double index_bytes_per_agent_with_fixed = 0;  // memory_bytes(): full / N
    double index_heap_per_agent = 0;              // heap growth / N, fixed cost included
    double baseline_heap_per_agent = 0;
  };

  std::vector<std::pair<unsigned, throughput>> by_threads;  // in the order of --threads

  // The figures at `threads`, if that count was measured.
  [[nodiscard]] const throughput* at(unsigned threads) const {
    for (const auto& [n, t] : by_threads)
      if (n == threads)
        return &t;
    return nullptr;
  }
  latency index_latency, baseline_latency;
  std::vector<scale_row> scale;
  double cost_ratio = 0, baseline_cost_ratio = 0;
  std::vector<std::pair<std::string, double>> round_trips;
  summary secret_draw_ns;
  std::vector<std::string> problems;
};

void check_both(results& out) {
  index_side index{agents, capacity};
  baseline_side baseline{agents, capacity};
  const std::string index_result =
      index.error().empty() ? check_fill(index, agents, capacity) : "setup: " + index.error();
  const std::string baseline_result = check_fill(baseline, agents, capacity);
  std::printf("check: fill %u agents x %u slots least-loaded first, refuse when full, drain: index %s, "
              "mutex+set %s\n\n",
              agents, capacity, index_result.empty() ? "ok" : "FAILED", baseline_result.empty() ? "ok" : "FAILED");
  if (!index_result.empty())
    out.problems.push_back("index check: " + index_result);
  if (!baseline_result.empty())
    out.problems.push_back("mutex+set check: " + baseline_result);
}

// The scaling curve: each thread count's median rate over the median rate
// at the first count, for both sides (on a machine with more cores than
// counts it shows where each stops gaining).
void print_curve(const results& out) {
  if (out.by_threads.size() < 2)
    return;
  const auto& [first, base] = out.by_threads.front();
  std::printf("  curve, median rate over the rate at %u thread%s:", first, first == 1 ? "" : "s");
  for (const auto& [threads, t] : out.by_threads)
    std::printf("  %u: index x%.2f, mutex+set x%.2f;", threads,
                base.subject_ops.median > 0 ? t.subject_ops.median / base.subject_ops.median : 0.0,
                base.baseline_ops.median > 0 ? t.baseline_ops.median / base.baseline_ops.median : 0.0);
  std::printf("\n");
}

// Part 1, on instances shared by all rounds of every thread count.
void measure_throughput(const plan& p, const std::vector<unsigned>& thread_counts, index_side& index,
                        baseline_side& baseline, results& out) {
  const std::size_t index_bytes_before = index.memory_bytes();
  std::printf("acquire+release pairs/s: %u agents x capacity %u, one type; %d rounds x %lld ms per side,\n"
              "index and mutex+set rounds alternating; worker threads pinned one per CPU\n",
              agents, capacity, p.rounds, static_cast<long long>(p.round_length.count()));
  std::printf("  %7s  %-10s %11s  %-20s  %12s\n", "threads", "variant", "median", "[min .. max]", "wall ns/pair");
  std::fflush(stdout);
  for (const unsigned threads : thread_counts) {
    if (threads > 1) {
      const double trip = cache_line_round_trip_ns();
      out.round_trips.emplace_back("before " + std::to_string(threads) + "-thread rounds", trip);
      std::printf("  (cache-line round trip CPU 0 -> 1 -> 0 before the %u-thread rounds: %.0f ns)\n", threads, trip);
    }
    throughput_round(index, threads, p.warmup);
    throughput_round(baseline, threads, p.warmup);
    const auto pairs = alternate(
        p.rounds, [&] { return throughput_round(index, threads, p.round_length); },
        [&] { return throughput_round(baseline, threads, p.round_length); });
    if (pairs.failures != 0)
      out.problems.push_back(std::to_string(pairs.failures) + " failed acquire/release at " +
                             std::to_string(threads) + " thread(s)");
    auto& t = out.by_threads.emplace_back(threads, results::throughput{}).second;
    t = {summarize(pairs.subject_ops), summarize(pairs.baseline_ops), summarize(pairs.ratio)};
    print_rate_row(threads, index_side::name, t.subject_ops);
    print_rate_row(threads, baseline_side::name, t.baseline_ops);
    print_ratio_row(t.ratio);
    std::fflush(stdout);
  }
  print_curve(out);
  if (!index.idle())
    out.problems.push_back("index: agents not at load 0 after the throughput rounds");
  if (!baseline.idle())
    out.problems.push_back("mutex+set: agents not at load 0 after the throughput rounds");
  std::printf("  index memory_bytes(): %zu before the rounds, %zu after\n\n", index_bytes_before,
              index.memory_bytes());
}

// Part 2: rounds alternate and flip order, as in part 1.
void measure_latency(const plan& p, index_side& index, baseline_side& baseline, results& out) {
  out.round_trips.emplace_back("before latency rounds", cache_line_round_trip_ns());
  std::vector<double> index_p50, index_p99, index_p999, baseline_p50, baseline_p99, baseline_p999;
  for (int r = 0; r < p.latency_rounds; ++r) {
    latency_round a, b;
    if (r % 2 == 0) {
      a = sampled_round(index, 2, p.latency_round_length);
      b = sampled_round(baseline, 2, p.latency_round_length);
    } else {
      b = sampled_round(baseline, 2, p.latency_round_length);
      a = sampled_round(index, 2, p.latency_round_length);
    }
    index_p50.push_back(static_cast<double>(a.p50));
    index_p99.push_back(static_cast<double>(a.p99));
    index_p999.push_back(static_cast<double>(a.p999));
    baseline_p50.push_back(static_cast<double>(b.p50));
    baseline_p99.push_back(static_cast<double>(b.p99));
    baseline_p999.push_back(static_cast<double>(b.p999));
    out.index_latency.samples += a.samples;
    out.baseline_latency.samples += b.samples;
    if (a.failures + b.failures != 0)
      out.problems.push_back(std::to_string(a.failures + b.failures) +
                             " failed acquire/release in latency rounds");
  }
  out.round_trips.emplace_back("after latency rounds", cache_line_round_trip_ns());
  if (!index.idle())
    out.problems.push_back("index: agents not at load 0 after the latency rounds");
  auto& li = out.index_latency;
  auto& lb = out.baseline_latency;
  li.p50 = summarize(index_p50);
  li.p99 = summarize(index_p99);
  li.p999 = summarize(index_p999);
  lb.p50 = summarize(baseline_p50);
  lb.p99 = summarize(baseline_p99);
  lb.p999 = summarize(baseline_p999);

  std::printf("acquire latency at 2 threads, ns: every %uth acquire timed, %d rounds x %lld ms per side;\n"
              "median of per-round percentiles [min .. max]; %zu index / %zu mutex+set samples\n",
              sample_every, p.latency_rounds, static_cast<long long>(p.latency_round_length.count()), li.samples,
              lb.samples);
  std::printf("  %-10s %-23s  %-26s  %s\n", "variant", "p50", "p99", "p99.9");
  print_latency_row(index_side::name, li.p50, li.p99, li.p999);
  print_latency_row(baseline_side::name, lb.p50, lb.p99, lb.p999);
  std::printf("cache-line round trip CPU 0 -> 1 -> 0, ns:");
  for (std::size_t i = 0; i < out.round_trips.size(); ++i)
    std::printf(" %.0f %s%s", out.round_trips[i].second, out.round_trips[i].first.c_str(),
                i + 1 < out.round_trips.size() ? "," : "\n");
  std::printf("\n");
  std::fflush(stdout);
}

// Part 3: a fresh index and baseline per size, built, measured, dropped.
void measure_scaling(const plan& p, results& out) {
  std::printf("scaling, one type, capacity %u, 1 thread: ns per acquire+release pair, median of %d rounds x %lld ms\n"
              "[min .. max]; index bytes per agent from memory_bytes(): marginal (minus the empty index\n"
              "with its pool) and with the fixed cost; heap: glibc heap growth per agent, fixed cost included\n",
              capacity, p.scale_rounds, static_cast<long long>(p.scale_round_length.count()));
  std::printf("  %9s  %-26s  %-26s  %8s  %10s  %10s  %10s\n", "agents", "index ns/pair", "mutex+set ns/pair",
              "B/agent", "with fixed", "index heap", "m+set heap");
  std::fflush(stdout);
  for (const std::uint32_t n : scale_sizes) {
    results::scale_row row;
    row.agents = n;
    auto index = std::make_unique<index_side>(n, capacity);
    if (!index->error().empty()) {
      out.problems.push_back("index setup at " + std::to_string(n) + " agents: " + index->error());
      break;
    }
    auto baseline = std::make_unique<baseline_side>(n, capacity);
    const auto per_agent = [n](std::size_t bytes) { return static_cast<double>(bytes) / static_cast<double>(n); };
    row.index_bytes_per_agent = per_agent(index->full_bytes() - index->empty_bytes());
    row.index_bytes_per_agent_with_fixed = per_agent(index->full_bytes());
    row.index_heap_per_agent = per_agent(index->heap_delta());
    row.baseline_heap_per_agent = per_agent(baseline->heap_delta());

    throughput_round(*index, 1, p.warmup);
    throughput_round(*baseline, 1, p.warmup);
    const auto pairs = alternate(
        p.scale_rounds, [&] { return throughput_round(*index, 1, p.scale_round_length); },
        [&] { return throughput_round(*baseline, 1, p.scale_round_length); });
    if (pairs.failures != 0)
      out.problems.push_back(std::to_string(pairs.failures) + " failed acquire/release at " + std::to_string(n) +
                             " agents");
    if (!index->idle())
      out.problems.push_back("index: agents not at load 0 after the rounds at " + std::to_string(n) + " agents");
    row.index_ns = summarize(ns_per_op(pairs.subject_ops));
    row.baseline_ns = summarize(ns_per_op(pairs.baseline_ops));
    std::printf("  %9u  %7.1f [%6.1f .. %6.1f]  %7.1f [%6.1f .. %6.1f]  %8.1f  %10.1f  %10.1f  %10.1f\n", n,
                row.index_ns.median, row.index_ns.min, row.index_ns.max, row.baseline_ns.median,
                row.baseline_ns.min, row.baseline_ns.max, row.index_bytes_per_agent,
                row.index_bytes_per_agent_with_fixed, row.index_heap_per_agent, row.baseline_heap_per_agent);
    std::fflush(stdout);
    out.scale.push_back(row);
  }
  if (out.scale.size() == scale_sizes.size() && out.scale.front().index_ns.median > 0 &&
      out.scale.front().baseline_ns.median > 0) {
    out.cost_ratio = out.scale.back().index_ns.median / out.scale.front().index_ns.median;
    out.baseline_cost_ratio = out.scale.back().baseline_ns.median / out.scale.front().baseline_ns.median;
    std::printf("  cost at 1M / cost at 1k: index x%.2f, mutex+set x%.2f\n", out.cost_ratio,
                out.baseline_cost_ratio);
  }
  std::printf("\n");
}

// The secret every facade acquire draws (core::random_u64), ns per draw on
// one thread, refills included: the facade's acquire costs the index's pair
// plus this.
void measure_secret_draw(const plan& p, results& out) {
  std::vector<double> ns;
  std::uint64_t sink = 0;
  for (int round = 0; round < p.scale_rounds; ++round) {
    constexpr int draws = 1 << 18;  // 512 refills a round
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < draws; ++i)
      sink += core::random_u64();
    ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / draws);
  }
  out.secret_draw_ns = summarize(ns);
  std::printf("lease secret draw (core::random_u64: %s), 1 thread:\n"
              "  %.1f ns per draw [%.1f .. %.1f], median of %d rounds of %d draws (checksum %llx)\n\n",
              core::random_source(), out.secret_draw_ns.median, out.secret_draw_ns.min, out.secret_draw_ns.max,
              p.scale_rounds, 1 << 18, static_cast<unsigned long long>(sink & 0xfff));
}

boost::json::object to_json(const results& r, const options& opts, const plan& p, const machine_info& machine,
                            std::uint64_t timer_ns) {
  boost::json::array throughput;
  const double first_rate = r.by_threads.empty() ? 0.0 : r.by_threads.front().second.subject_ops.median;
  for (const auto& [threads, t] : r.by_threads)
    throughput.push_back(boost::json::object{
        {"threads", threads},
        {"index_pairs_per_s", to_json(t.subject_ops, 0)},
        {"mutex_pairs_per_s", to_json(t.baseline_ops, 0)},
        {"ratio", to_json(t.ratio, 3)},
        {"index_vs_first_count", rounded(first_rate > 0 ? t.subject_ops.median / first_rate : 0.0, 3)}});
  boost::json::array scale;
  for (const auto& row : r.scale)
    scale.push_back(boost::json::object{
        {"agents", row.agents},
        {"index_ns_per_pair", to_json(row.index_ns, 1)},
        {"mutex_ns_per_pair", to_json(row.baseline_ns, 1)},
        {"index_bytes_per_agent", rounded(row.index_bytes_per_agent, 2)},
        {"index_bytes_per_agent_with_fixed", rounded(row.index_bytes_per_agent_with_fixed, 2)},
        {"index_heap_bytes_per_agent", rounded(row.index_heap_per_agent, 2)},
        {"mutex_heap_bytes_per_agent", rounded(row.baseline_heap_per_agent, 2)}});
  boost::json::array round_trips;
  for (const auto& [when, ns] : r.round_trips)
    round_trips.push_back(boost::json::object{{"when", when}, {"ns", whole(ns)}});
  const bool scaled = r.scale.size() == scale_sizes.size();
  const auto& li = r.index_latency;
  const auto& lb = r.baseline_latency;

  boost::json::object o{
      {"suite", "index"},
      {"ok", r.problems.empty()},
      {"quick", opts.quick},
      {"machine", to_json(machine)},

      {"acquire_p50_ns_2t", whole(li.p50.median)},
      {"acquire_p99_ns_2t", whole(li.p99.median)},
      {"acquire_p999_ns_2t", whole(li.p999.median)},
      {"mutex_acquire_p50_ns_2t", whole(lb.p50.median)},
      {"mutex_acquire_p99_ns_2t", whole(lb.p99.median)},
      {"mutex_acquire_p999_ns_2t", whole(lb.p999.median)},
      {"cost_ratio_1m_vs_1k", rounded(r.cost_ratio, 3)},
      {"secret_draw_ns", to_json(r.secret_draw_ns, 1)},
      {"mutex_cost_ratio_1m_vs_1k", rounded(r.baseline_cost_ratio, 3)},
      {"index_bytes_per_agent", scaled ? rounded(r.scale.back().index_bytes_per_agent, 2) : 0.0},
      {"index_bytes_per_agent_with_fixed", scaled ? rounded(r.scale.back().index_bytes_per_agent_with_fixed, 2) : 0.0},
      {"throughput", std::move(throughput)},
      {"latency_2t", boost::json::object{{"index_p50_ns", to_json(li.p50, 0)},
                                         {"index_p99_ns", to_json(li.p99, 0)},
                                         {"index_p999_ns", to_json(li.p999, 0)},
                                         {"mutex_p50_ns", to_json(lb.p50, 0)},
                                         {"mutex_p99_ns", to_json(lb.p99, 0)},
                                         {"mutex_p999_ns", to_json(lb.p999, 0)},
                                         {"sample_every", sample_every},
                                         {"timer_overhead_ns", timer_ns}}},
      {"scaling", std::move(scale)},
      {"cache_line_round_trip_ns", std::move(round_trips)},
      {"workload", boost::json::object{{"agents", agents},
                                       {"capacity", capacity},
                                       {"rounds", p.rounds},
                                       {"round_ms", p.round_length.count()},
                                       {"latency_rounds", p.latency_rounds},
                                       {"latency_round_ms", p.latency_round_length.count()},
                                       {"scale_rounds", p.scale_rounds},
                                       {"scale_round_ms", p.scale_round_length.count()}}},
  };
  // The keys of the 1- and 2-thread figures, when those counts ran.
  for (const unsigned threads : {1u, 2u})
    if (const auto* t = r.at(threads)) {
      const std::string suffix = "_" + std::to_string(threads) + "t";
      o["ratio_vs_mutex" + suffix] = rounded(t->ratio.median, 3);
      o["index_pairs_per_s" + suffix] = whole(t->subject_ops.median);
      o["mutex_pairs_per_s" + suffix] = whole(t->baseline_ops.median);
    }
  if (const auto* one = r.at(1), *two = r.at(2); one && two && one->subject_ops.median > 0)
    o["index_2t_vs_1t"] = rounded(two->subject_ops.median / one->subject_ops.median, 3);
  add_problems(o, r.problems);
  return o;
}

// ---- the suite ----------------------------------------------------------------------

int run_index_suite(const options& opts) {
  const plan p = make_plan(opts);
  const machine_info machine = describe_machine();
  const std::uint64_t timer_ns = timer_overhead_ns();
  results r;
  // Taken around the 2-thread phases: contended figures scale with it (see
  // cache_line_round_trip_ns), so a reader can tell a slower host from slower code.
  r.round_trips.emplace_back("start", cache_line_round_trip_ns());

  std::printf("agentreg-bench index (%s)\n", opts.quick ? "quick" : "full");
  print_machine(machine);
  std::printf("timer: two steady_clock reads cost %llu ns (included in every latency sample)\n\n",
              static_cast<unsigned long long>(timer_ns));
  std::fflush(stdout);

  check_both(r);
  {
    index_side index{agents, capacity};
    baseline_side baseline{agents, capacity};
    if (index.error().empty()) {
      measure_throughput(p, opts.threads.empty() ? std::vector<unsigned>{1, 2} : opts.threads, index, baseline, r);
      measure_latency(p, index, baseline, r);
    } else {
      r.problems.push_back("index setup: " + index.error());
    }
  }
  measure_scaling(p, r);
  measure_secret_draw(p, r);

  const bool scaled = r.scale.size() == scale_sizes.size();
  const auto ratio_at = [&r](unsigned threads) { return r.at(threads) ? r.at(threads)->ratio.median : 0.0; };
  const auto rate_at = [&r](unsigned threads) { return r.at(threads) ? r.at(threads)->subject_ops.median : 0.0; };
  std::printf("summary: index/mutex+set x%.2f at 1 thread, x%.2f at 2 threads; index 2 threads / 1 thread x%.2f;\n"
              "         acquire p50 %.0f ns, p99 %.0f ns "
              "at 2 threads;\n         %.1f bytes/agent at 1M agents (%.1f with fixed cost), cost 1M/1k x%.2f\n",
              ratio_at(1), ratio_at(2), rate_at(1) > 0 ? rate_at(2) / rate_at(1) : 0.0, r.index_latency.p50.median,
              r.index_latency.p99.median, scaled ? r.scale.back().index_bytes_per_agent : 0.0,
              scaled ? r.scale.back().index_bytes_per_agent_with_fixed : 0.0, r.cost_ratio);
  for (const auto& problem : r.problems)
    std::printf("FAILED: %s\n", problem.c_str());
  std::fflush(stdout);

  if (opts.json)
    emit_json_line(to_json(r, opts, p, machine, timer_ns));
  return r.problems.empty() ? 0 : 1;
}

[[maybe_unused]] const bool registered =
    register_suite({"index", "lock-free priority index vs mutex+std::set: throughput, latency, scaling",
                    &run_index_suite});

}  // namespace
}  // namespace agentreg::bench
