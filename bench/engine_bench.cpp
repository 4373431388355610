// agentreg-bench engine: the whole engine through its facade (agentreg::registry).
//
// Measures, in one process run:
//   1. start_execution + complete_execution pairs/s on 1 and 2 threads, 1000
//      agents of 4 types, against a mutex around a std::unordered_map of the
//      same records (bench/mutex_map_baseline.hpp); rounds alternate, and a
//      facade round ends with registry::sync() inside its timed window, so
//      the aggregator's share of the work is counted;
//   2. registering 1M agents (20k with --quick) into a fresh registry, one
//      actor each: time, agents/s, and resident bytes per agent of the whole
//      engine (VmRSS growth / N);
//      Its baseline comes first: as many raw CAF spawns of the same actor
//      behaviour (bench/spawn_baseline.hpp), then letting them go; the
//      memory they used is handed back to the kernel before the registry
//      starts, so both touch fresh pages;
//   3. the stale sweep over those agents: once with every agent stale (the
//      degraded guard holds evictions, the sweep still checks every agent),
//      and once with 5 % stale and evictions allowed (95 % heartbeat first);
//      then the registry's destruction.
// Correctness checks run after each part: the engine's summaries must hold
// exactly the completed pairs, the sweeps must count what the bench made
// stale. Exit code 1 if one fails.

#include <malloc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "agentreg/registry.hpp"
#include "bench/mutex_map_baseline.hpp"
#include "bench/spawn_baseline.hpp"
#include "bench/suite.hpp"
#include "core/clock.hpp"

namespace agentreg::bench {
namespace {

using std::chrono::milliseconds;

// ---- the workload ----------------------------------------------------------------

// Part 1: enough agents that consecutive pairs rarely touch the same one, a
// few types and models, so the aggregator keeps several keys per dimension.
constexpr std::uint32_t pair_agents = 1000;
constexpr std::array<const char*, 4> agent_types{"planner", "coder", "reviewer", "researcher"};
constexpr std::array<const char*, 4> models{"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama-3-70b"};

// What each completion reports: tokens and an explicit cost, so no price
// table lookup happens (the baseline has no price table).
constexpr std::int64_t prompt_tokens = 120;
constexpr std::int64_t completion_tokens = 80;
constexpr double cost_usd = 0.0021;
constexpr std::int64_t cost_micro_usd = 2100;

// Pairs between two polls of the stop flag: a pair costs microseconds, so
// 32 pairs end a round within ~0.2 ms of the stop request.
constexpr unsigned batch = 32;

// Part 3: the fraction of agents left stale in the eviction case (one in 20
// = 5 %), below the eviction cap of 10 % so that every stale agent goes.
constexpr std::uint32_t stale_one_in = 20;
constexpr double eviction_fraction = 0.10;

struct plan {
  int rounds;
  milliseconds round_length;
  milliseconds warmup;
  std::uint32_t registered;  // agents of parts 2 and 3
  int sweep_repeats;         // all-stale sweeps (they change nothing, so repeatable)
};

plan make_plan(const options& o) {
  if (o.quick)
    return {3, milliseconds{100}, milliseconds{50}, 20'000, 3};
  return {7, milliseconds{400}, milliseconds{200}, 1'000'000, 5};
}

// Zero-padded, so ids sort as numbers and all have the same length.
std::string id_of(std::uint32_t i) {
  char id[24];
  std::snprintf(id, sizeof id, "agent-%07u", i);
  return id;
}

agent_spec spec_of(std::uint32_t i) {
  agent_spec s;
  s.agent_id = id_of(i);
  s.agent_type = agent_types[i % agent_types.size()];
  s.llm_provider = "bench";
  s.model_name = models[(i / agent_types.size()) % models.size()];
  s.max_capacity = 4;
  return s;
}

execution_request request_of() {
  execution_request r;
  r.task_type = "summarize";
  r.workflow_slug = "bench-flow";
  return r;
}

execution_metrics metrics_of() {
  execution_metrics m;
  m.prompt_tokens = prompt_tokens;
  m.completion_tokens = completion_tokens;
  m.estimated_cost_usd = cost_usd;
  return m;
}

config bench_config() {
  config cfg;
  // No timer sweeps: nothing but the measured calls runs in the engine.
  cfg.auto_sweep = false;
  return cfg;
}

// Resident bytes after handing free heap pages back to the kernel, so a
// difference of two readings is memory in use, not memory glibc kept.
std::size_t trimmed_resident_bytes() {
  malloc_trim(0);
  return resident_bytes();
}

// ---- part 1: the two sides ----------------------------------------------------------

// The engine, through its facade, with `pair_agents` agents.
class facade_side {
 public:
  static constexpr const char* name = "facade";

  facade_side() : reg_(bench_config()) {
    ids_.reserve(pair_agents);
    for (std::uint32_t i = 0; i < pair_agents; ++i) {
      auto a = reg_.register_agent(spec_of(i));
      if (!a) {
        error_ = "register_agent: " + a.error().message;
        return;
      }
      ids_.push_back(a->agent_id);
    }
  }

  bool pair(std::uint32_t agent, const execution_request& request, const execution_metrics& metrics) {
    auto id = reg_.start_execution(ids_[agent], request);
    if (!id)
      return false;
    return static_cast<bool>(reg_.complete_execution(*id, execution_status::success, metrics));
  }

  // Completions reach the aggregator as one-way messages: a round is over
  // when it has processed them all.
  void finish_round() { reg_.sync(); }

  registry& reg() { return reg_; }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  registry reg_;
  std::vector<std::string> ids_;
  std::string error_;
};

// The baseline with the same agents.
class baseline_side {
 public:
  static constexpr const char* name = "mutex+map";

  baseline_side() {
    ids_.reserve(pair_agents);
    for (std::uint32_t i = 0; i < pair_agents; ++i) {
      const auto s = spec_of(i);
      map_.add_agent(s);
      ids_.push_back(s.agent_id);
    }
  }

  bool pair(std::uint32_t agent, const execution_request& request, const execution_metrics& metrics) {
    auto id = map_.start(ids_[agent], request);
    return id && map_.complete(*id, execution_status::success, metrics);
  }

  void finish_round() {}  // all its work is done inside the calls

  mutex_map_baseline& map() { return map_; }

 private:
  mutex_map_baseline map_;
  std::vector<std::string> ids_;
};

// Each thread walks the agents round-robin from its own starting point, so
// two threads start on different agents.
template <class Side>
thread_tally pairs_until_stop(Side& side, unsigned thread, unsigned threads, const std::atomic<bool>& stop) {
  const execution_request request = request_of();
  const execution_metrics metrics = metrics_of();
  std::uint32_t agent = thread * (pair_agents / threads);
  thread_tally tally;
  // relaxed: a plain stop request, see run_round.
  while (!stop.load(std::memory_order_relaxed)) {
    for (unsigned i = 0; i < batch; ++i) {
      if (side.pair(agent, request, metrics))
        ++tally.ops;
      else
        ++tally.failures;
      agent = agent + 1 == pair_agents ? 0 : agent + 1;
    }
  }
  return tally;
}

// One round; the side's finish_round() (the facade's sync) is timed with it.
// run_round closes its window when the workers have joined, and the sync
// starts right after, so adding its time is the same as timing both at once.
// `finish_share`, when given, receives the fraction of the round spent in
// finish_round(): for the facade, how far the aggregator lagged behind.
template <class Side>
round_result pair_round(Side& side, unsigned threads, milliseconds length, std::uint64_t& completed,
                        std::vector<double>* finish_share = nullptr) {
  round_result r = run_round(threads, length, [&side, threads](unsigned t, const std::atomic<bool>& stop) {
    return pairs_until_stop(side, t, threads, stop);
  });
  const auto sync_start = bench_clock::now();
  side.finish_round();
  const double finish_seconds = std::chrono::duration<double>(bench_clock::now() - sync_start).count();
  r.seconds += finish_seconds;
  completed += r.ops;
  if (finish_share != nullptr)
    finish_share->push_back(r.seconds > 0 ? finish_seconds / r.seconds : 0);
  return r;
}

// ---- alternating rounds ------------------------------------------------------------


// ---- results ------------------------------------------------------------------------

struct results {
  struct throughput {
    summary subject_ops, baseline_ops, ratio;  // subject: the facade
    summary sync_share;  // fraction of a facade round spent in the closing sync()
  };
  std::array<throughput, 2> by_threads;  // [0]: 1 thread, [1]: 2 threads
  std::uint64_t facade_pairs = 0, baseline_pairs = 0;
  std::vector<std::pair<const char*, double>> round_trips;

  // Part 2.
  std::uint32_t registered = 0;
  double register_seconds = 0;      // until the last register_agent returned
  double register_drain_ms = 0;     // then until stats() answered (it walks every agent)
  std::size_t rss_before = 0, rss_empty = 0, rss_after = 0;
  double bytes_per_agent = 0;           // (after - before) / N: the whole engine
  double bytes_per_agent_marginal = 0;  // (after - empty registry) / N
  // After part 3's heartbeats and evictions, every agent has had a message:
  // its actor made its behavior (CAF does at the first one).
  std::size_t rss_running = 0;
  double bytes_per_agent_running = 0;  // (running - before) / N

  // Part 3.
  summary sweep_all_ms;        // sweep_ns of the all-stale sweeps
  summary sweep_all_call_ms;   // the same sweeps timed around registry::sweep()
  std::int64_t sweep_all_checked = 0, sweep_all_stale = 0;
  bool sweep_all_degraded = false;
  std::uint32_t heartbeats = 0;
  double heartbeat_seconds = 0;
  double sweep_evict_ms = 0;
  std::int64_t evict_checked = 0, evict_stale = 0, evicted = 0, offline_after = 0;
  double teardown_seconds = 0;

  // Part 2's baseline.
  std::uint32_t spawned = 0;
  spawn_timing raw;
  [[nodiscard]] double register_per_s() const { return register_seconds > 0 ? registered / register_seconds : 0; }
  [[nodiscard]] double spawn_per_s() const { return raw.spawn_seconds > 0 ? spawned / raw.spawn_seconds : 0; }

  std::vector<std::string> problems;
};

// ---- output ------------------------------------------------------------------------

void print_rate_row(unsigned threads, const char* variant, const summary& s) {
  std::printf("  %7u  %-10s %8.1f k  [%7.1f .. %7.1f k]  %12.2f\n", threads, variant, s.median / 1e3, s.min / 1e3,
              s.max / 1e3, s.median > 0 ? 1e6 / s.median : 0.0);
}

void print_ratio_row(const summary& s) {
  std::printf("  %7s  %-10s   x%.2f     [x%.2f .. x%.2f]  (facade/mutex+map, per round pair)\n", "", "ratio",
              s.median, s.min, s.max);
}

// ---- part 1 ----------------------------------------------------------------------------

// The engine's summaries must hold exactly the pairs completed: every
// completion counted once in the agent_type dimension, as a success, with
// its tokens and cost.
void check_facade(facade_side& facade, std::uint64_t pairs, results& out) {
  const auto by_type = facade.reg().get_performance_by(group_by::agent_type);
  if (!by_type) {
    out.problems.push_back("get_performance_by(agent_type): " + by_type.error().message);
    return;
  }
  std::int64_t total = 0, success = 0, tokens = 0, micro = 0;
  for (const auto& p : *by_type) {
    total += p.total_executions;
    success += p.successful_executions;
    tokens += p.total_tokens_used;
    micro += p.total_cost_micro_usd;
  }
  const auto n = static_cast<std::int64_t>(pairs);
  const auto stats = facade.reg().stats();
  const bool ok = total == n && success == n && tokens == n * (prompt_tokens + completion_tokens) &&
                  micro == n * cost_micro_usd && stats.running_executions == 0 &&
                  stats.completed_executions == n;
  std::printf("check: facade summaries by agent_type: %lld executions, %lld successes, %lld tokens, %lld micro-USD, "
              "%lld running, for %llu pairs completed: %s\n",
              static_cast<long long>(total), static_cast<long long>(success), static_cast<long long>(tokens),
              static_cast<long long>(micro), static_cast<long long>(stats.running_executions),
              static_cast<unsigned long long>(pairs), ok ? "ok" : "FAILED");
  if (!ok)
    out.problems.push_back("facade summaries: " + std::to_string(total) + " executions (" + std::to_string(success) +
                           " successes, " + std::to_string(tokens) + " tokens, " + std::to_string(micro) +
                           " micro-USD, " + std::to_string(stats.running_executions) + " running, " +
                           std::to_string(stats.completed_executions) + " completed in stats) for " +
                           std::to_string(pairs) + " pairs");
}

void check_baseline(baseline_side& baseline, std::uint64_t pairs, results& out) {
  const auto t = baseline.map().sum();
  const auto n = static_cast<std::int64_t>(pairs);
  const bool ok = t.total == n && t.success == n && t.tokens == n * (prompt_tokens + completion_tokens) &&
                  t.cost_micro_usd == n * cost_micro_usd && baseline.map().running() == 0;
  std::printf("check: mutex+map totals: %lld executions for %llu pairs completed: %s\n",
              static_cast<long long>(t.total), static_cast<unsigned long long>(pairs), ok ? "ok" : "FAILED");
  if (!ok)
    out.problems.push_back("mutex+map totals: " + std::to_string(t.total) + " executions for " +
                           std::to_string(pairs) + " pairs");
}

void measure_pairs(const plan& p, results& out) {
  facade_side facade;
  if (!facade.error().empty()) {
    out.problems.push_back("facade setup: " + facade.error());
    return;
  }
  baseline_side baseline;
  std::printf("start_execution + complete_execution pairs/s: %u agents of %zu types, each pair on the next agent\n"
              "round-robin, success with %lld tokens and an explicit cost; %d rounds x %lld ms per side, facade\n"
              "and mutex+map rounds alternating; a facade round ends with registry::sync() inside the timed\n"
              "window; worker threads pinned one per CPU, the engine's %zu CAF threads unpinned\n",
              pair_agents, agent_types.size(), static_cast<long long>(prompt_tokens + completion_tokens), p.rounds,
              static_cast<long long>(p.round_length.count()), facade.reg().configuration().scheduler_threads);
  std::printf("  %7s  %-10s %10s  %-22s  %12s\n", "threads", "variant", "median", "[min .. max]", "wall us/pair");
  std::fflush(stdout);
  for (unsigned threads = 1; threads <= 2; ++threads) {
    if (threads == 2)
      out.round_trips.emplace_back("before 2-thread rounds", cache_line_round_trip_ns());
    pair_round(facade, threads, p.warmup, out.facade_pairs);
    pair_round(baseline, threads, p.warmup, out.baseline_pairs);
    std::vector<double> sync_share;
    const auto pairs = alternate(
        p.rounds, [&] { return pair_round(facade, threads, p.round_length, out.facade_pairs, &sync_share); },
        [&] { return pair_round(baseline, threads, p.round_length, out.baseline_pairs); });
    if (pairs.failures != 0)
      out.problems.push_back(std::to_string(pairs.failures) + " failed start/complete at " + std::to_string(threads) +
                             " thread(s)");
    auto& t = out.by_threads[threads - 1];
    t = {summarize(pairs.subject_ops), summarize(pairs.baseline_ops), summarize(pairs.ratio),
         summarize(sync_share)};
    print_rate_row(threads, facade_side::name, t.subject_ops);
    print_rate_row(threads, baseline_side::name, t.baseline_ops);
    print_ratio_row(t.ratio);
    std::printf("  %7s  %-10s %7.2f %%    [%5.2f .. %5.2f %%]  (of a facade round, aggregator catching up)\n", "",
                "sync()", t.sync_share.median * 100, t.sync_share.min * 100, t.sync_share.max * 100);
    std::fflush(stdout);
  }
  check_facade(facade, out.facade_pairs, out);
  check_baseline(baseline, out.baseline_pairs, out);
  std::printf("\n");
}

// Part 2's baseline: as many actors as part 2 registers.
void measure_raw_spawns(const plan& p, const config& cfg, results& out) {
  out.spawned = p.registered;
  const double round_trip_ns = cache_line_round_trip_ns();
  out.round_trips.emplace_back("before raw spawns", round_trip_ns);
  out.raw = raw_spawns(out.spawned, cfg.scheduler_threads);
  std::printf("baseline: %u raw CAF spawns of the agent actor (actors::spawn_agent, one thread, %zu scheduler "
              "threads;\n  cache-line round trip before: %.0f ns): %.2f s, %.0f spawns/s (%.2f us each), let go in %.2f s\n\n",
              out.spawned, cfg.scheduler_threads, round_trip_ns, out.raw.spawn_seconds, out.spawn_per_s(),
              out.raw.spawn_seconds * 1e6 / out.spawned, out.raw.destroy_seconds);
  std::fflush(stdout);
}

// ---- part 2 -------------------------------------------------------------------------------

// Registers `n` agents from one thread, the way a bulk loader would. Each
// spec is built in the loop (a few dozen ns against microseconds per
// registration), so no million specs sit in memory while RSS is read.
void measure_registration(const plan& p, registry& reg, results& out) {
  const std::uint32_t n = p.registered;
  const auto start = bench_clock::now();
  std::uint32_t done = 0;
  for (; done < n; ++done) {
    auto a = reg.register_agent(spec_of(done));
    if (!a) {
      out.problems.push_back("register_agent #" + std::to_string(done) + ": " + a.error().message);
      break;
    }
  }
  const auto registered = bench_clock::now();
  // What registration left to the engine's actors (changes, persistence
  // notices) is processed before stats() answers, which also walks every
  // agent: an upper bound.
  const auto s = reg.stats();
  const auto drained = bench_clock::now();
  out.registered = done;
  out.register_seconds = std::chrono::duration<double>(registered - start).count();
  out.register_drain_ms = std::chrono::duration<double, std::milli>(drained - registered).count();
  if (s.agents != static_cast<std::int64_t>(n) || s.online != static_cast<std::int64_t>(n))
    out.problems.push_back("after registering " + std::to_string(n) + " agents, stats() counts " +
                           std::to_string(s.agents) + " agents, " + std::to_string(s.online) + " online");
}

// ---- part 3 -------------------------------------------------------------------------------

// Every agent stale: more than degraded_threshold of the online agents, so
// the sweep evicts nobody, but it still checks every agent, which is the
// cost measured. Nothing changes, so the sweep is repeated.
void measure_sweep_all_stale(const plan& p, registry& reg, core::manual_clock& clock, results& out) {
  clock.advance(reg.configuration().stale_timeout + std::chrono::seconds{1});
  std::vector<double> inside, call;
  for (int i = 0; i < p.sweep_repeats; ++i) {
    const auto start = bench_clock::now();
    const auto r = reg.sweep();
    const auto end = bench_clock::now();
    if (!r) {
      out.problems.push_back("sweep(): " + r.error().message);
      return;
    }
    inside.push_back(static_cast<double>(r->sweep_ns) / 1e6);
    call.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    out.sweep_all_checked = r->agents_checked;
    out.sweep_all_stale = r->stale;
    out.sweep_all_degraded = r->degraded;
    const auto n = static_cast<std::int64_t>(out.registered);
    if (r->agents_checked != n || r->stale != n || !r->degraded || r->evicted != 0 || r->in_grace_period)
      out.problems.push_back("all-stale sweep: checked " + std::to_string(r->agents_checked) + ", stale " +
                             std::to_string(r->stale) + ", evicted " + std::to_string(r->evicted) + ", degraded " +
                             (r->degraded ? "yes" : "no") + ", in grace " + (r->in_grace_period ? "yes" : "no") +
                             " for " + std::to_string(n) + " agents all stale");
  }
  out.sweep_all_ms = summarize(inside);
  out.sweep_all_call_ms = summarize(call);
}

// Heartbeats answered but not yet seen by a sending thread of
// measure_sweep_evictions, at most, per thread.
constexpr std::ptrdiff_t heartbeat_window = 4096;

// 95 % of the agents heartbeat (heartbeat_async from two threads, at most
// heartbeat_window outstanding each: the blocking call's round trip made
// this preparation 79 s of the suite at 1 M agents), the other 5 % stay
// stale; with max_eviction_fraction 0.1 the sweep evicts every one of
// them, each eviction a request to the agent's actor.
void measure_sweep_evictions(registry& reg, results& out) {
  const std::uint32_t n = out.registered;
  std::atomic<std::uint32_t> failures{0};
  const auto beat = [&](unsigned t) {
    pin_to_cpu(t);
    std::counting_semaphore<heartbeat_window> room{heartbeat_window};
    for (std::uint32_t i = t; i < n; i += 2) {
      if (i % stale_one_in == 0)
        continue;
      room.acquire();
      reg.heartbeat_async(id_of(i), std::nullopt, [&room, &failures](expected<agent> a) {
        if (!a)
          // relaxed: a count read after join().
          failures.fetch_add(1, std::memory_order_relaxed);
        room.release();
      });
    }
    // Every answer is in once all the room is back.
    for (std::ptrdiff_t k = 0; k < heartbeat_window; ++k)
      room.acquire();
  };
  const auto start = bench_clock::now();
  {
    std::jthread a{beat, 0u}, b{beat, 1u};
  }
  out.heartbeat_seconds = std::chrono::duration<double>(bench_clock::now() - start).count();
  const std::uint32_t stale = (n + stale_one_in - 1) / stale_one_in;
  out.heartbeats = n - stale;
  if (failures.load() != 0)
    out.problems.push_back(std::to_string(failures.load()) + " heartbeats failed");

  const auto r = reg.sweep();
  if (!r) {
    out.problems.push_back("sweep(): " + r.error().message);
    return;
  }
  out.sweep_evict_ms = static_cast<double>(r->sweep_ns) / 1e6;
  out.evict_checked = r->agents_checked;
  out.evict_stale = r->stale;
  out.evicted = r->evicted;
  const auto s = reg.stats();
  out.offline_after = s.offline;
  if (r->agents_checked != n || r->stale != stale || r->evicted != stale || r->degraded || s.offline != stale)
    out.problems.push_back("eviction sweep: checked " + std::to_string(r->agents_checked) + ", stale " +
                           std::to_string(r->stale) + ", evicted " + std::to_string(r->evicted) + ", offline after " +
                           std::to_string(s.offline) + "; expected " + std::to_string(stale) + " of " +
                           std::to_string(n) + " stale and evicted");
}

void measure_engine_at_scale(const plan& p, results& out) {
  auto clock = std::make_shared<core::manual_clock>();
  config cfg = bench_config();
  cfg.time_source = clock;
  cfg.max_eviction_fraction = eviction_fraction;

  // Before the registry exists, so the figure is the whole engine's: actor
  // system, threads, directory, index, actors.
  out.rss_before = trimmed_resident_bytes();
  const double round_trip_ns = cache_line_round_trip_ns();
  out.round_trips.emplace_back("before registration", round_trip_ns);
  auto reg = std::make_unique<registry>(cfg);
  out.rss_empty = trimmed_resident_bytes();
  measure_registration(p, *reg, out);
  out.rss_after = trimmed_resident_bytes();
  const double n = out.registered > 0 ? static_cast<double>(out.registered) : 1.0;
  out.bytes_per_agent = static_cast<double>(out.rss_after - out.rss_before) / n;
  out.bytes_per_agent_marginal = static_cast<double>(out.rss_after - out.rss_empty) / n;
  std::printf("registration: %u agents of %zu types, one actor each, from one thread, into a fresh registry\n"
              "  (cache-line round trip between the CPUs before: %.0f ns)\n",
              out.registered, agent_types.size(), round_trip_ns);
  std::printf("  %.2f s, %.0f agents/s (%.2f us each, x%.2f of the raw spawns' rate); the engine caught up %.0f ms "
              "later\n",
              out.register_seconds, out.register_per_s(), out.register_seconds * 1e6 / n,
              out.spawn_per_s() > 0 ? out.register_per_s() / out.spawn_per_s() : 0.0, out.register_drain_ms);
  std::printf("  resident memory (VmRSS after malloc_trim): %.1f MB before, %.1f MB with the empty registry, "
              "%.1f MB after\n  = %.0f bytes per agent for the whole engine (%.0f without the empty registry)\n\n",
              static_cast<double>(out.rss_before) / 1e6, static_cast<double>(out.rss_empty) / 1e6,
              static_cast<double>(out.rss_after) / 1e6, out.bytes_per_agent, out.bytes_per_agent_marginal);
  std::fflush(stdout);
  if (!out.problems.empty())
    return;

  measure_sweep_all_stale(p, *reg, *clock, out);
  std::printf("stale sweep, every one of %u agents stale (degraded guard: no eviction), %d sweeps:\n"
              "  %.1f ms [%.1f .. %.1f] inside the supervisor (sweep_ns), %.1f ms [%.1f .. %.1f] around sweep();\n"
              "  checked %lld, stale %lld, degraded %s\n",
              out.registered, p.sweep_repeats, out.sweep_all_ms.median, out.sweep_all_ms.min, out.sweep_all_ms.max,
              out.sweep_all_call_ms.median, out.sweep_all_call_ms.min, out.sweep_all_call_ms.max,
              static_cast<long long>(out.sweep_all_checked), static_cast<long long>(out.sweep_all_stale),
              out.sweep_all_degraded ? "yes" : "no");
  std::fflush(stdout);

  measure_sweep_evictions(*reg, out);
  std::printf("stale sweep, 5 %% stale: %u heartbeats first (heartbeat_async from 2 threads: %.1f s, %.0f/s);\n"
              "  max_eviction_fraction %.2f: %.1f ms inside the supervisor; checked %lld, stale %lld, evicted %lld,\n"
              "  offline afterwards %lld\n",
              out.heartbeats, out.heartbeat_seconds,
              out.heartbeat_seconds > 0 ? out.heartbeats / out.heartbeat_seconds : 0.0, eviction_fraction,
              out.sweep_evict_ms, static_cast<long long>(out.evict_checked), static_cast<long long>(out.evict_stale),
              static_cast<long long>(out.evicted), static_cast<long long>(out.offline_after));
  out.rss_running = trimmed_resident_bytes();
  out.bytes_per_agent_running = static_cast<double>(out.rss_running - out.rss_before) / n;
  std::printf("  resident memory now that every agent has had a message (its actor's behavior made): %.1f MB\n"
              "  = %.0f bytes per agent for the whole engine\n",
              static_cast<double>(out.rss_running) / 1e6, out.bytes_per_agent_running);
  std::fflush(stdout);

  const auto start = bench_clock::now();
  reg.reset();
  out.teardown_seconds = std::chrono::duration<double>(bench_clock::now() - start).count();
  std::printf("  registry destroyed (every actor stopped) in %.2f s\n\n", out.teardown_seconds);
  std::fflush(stdout);
}

// ---- JSON ---------------------------------------------------------------------------------

boost::json::object to_json(const results& r, const options& opts, const plan& p, const machine_info& machine) {
  boost::json::array throughput;
  for (unsigned threads = 1; threads <= 2; ++threads) {
    const auto& t = r.by_threads[threads - 1];
    throughput.push_back(boost::json::object{{"threads", threads},
                                             {"facade_pairs_per_s", to_json(t.subject_ops, 0)},
                                             {"mutex_map_pairs_per_s", to_json(t.baseline_ops, 0)},
                                             {"ratio", to_json(t.ratio, 3)},
                                             {"facade_sync_share", to_json(t.sync_share, 4)}});
  }
  boost::json::array round_trips;
  for (const auto& [when, ns] : r.round_trips)
    round_trips.push_back(boost::json::object{{"when", when}, {"ns", whole(ns)}});
  boost::json::object o{
      {"suite", "engine"},
      {"ok", r.problems.empty()},
      {"quick", opts.quick},
      {"machine", to_json(machine)},
      {"ratio_vs_mutex_map_1t", rounded(r.by_threads[0].ratio.median, 3)},
      {"ratio_vs_mutex_map_2t", rounded(r.by_threads[1].ratio.median, 3)},
      {"pairs_per_s_1t", whole(r.by_threads[0].subject_ops.median)},
      {"pairs_per_s_2t", whole(r.by_threads[1].subject_ops.median)},
      {"mutex_map_pairs_per_s_1t", whole(r.by_threads[0].baseline_ops.median)},
      {"mutex_map_pairs_per_s_2t", whole(r.by_threads[1].baseline_ops.median)},
      {"pairs_completed", r.facade_pairs},
      {"agents_registered", r.registered},
      {"register_per_s", whole(r.register_per_s())},
      {"spawn_per_s", whole(r.spawn_per_s())},
      {"register_vs_spawn", rounded(r.spawn_per_s() > 0 ? r.register_per_s() / r.spawn_per_s() : 0, 3)},
      {"spawn_destroy_s", rounded(r.raw.destroy_seconds, 3)},
      {"register_s", rounded(r.register_seconds, 3)},
      {"register_drain_ms", whole(r.register_drain_ms)},
      {"bytes_per_agent_1m", whole(r.bytes_per_agent)},
      {"bytes_per_agent_marginal", whole(r.bytes_per_agent_marginal)},
      {"rss_before_bytes", r.rss_before},
      {"rss_empty_registry_bytes", r.rss_empty},
      {"rss_after_bytes", r.rss_after},
      {"bytes_per_agent_running", whole(r.bytes_per_agent_running)},
      {"rss_running_bytes", r.rss_running},
      {"sweep_ms_1m", rounded(r.sweep_all_ms.median, 2)},
      {"sweep_all_stale_ms", to_json(r.sweep_all_ms, 2)},
      {"sweep_all_stale_call_ms", to_json(r.sweep_all_call_ms, 2)},
      {"sweep_all_stale_checked", r.sweep_all_checked},
      {"sweep_all_stale_degraded", r.sweep_all_degraded},
      {"eviction_case", boost::json::object{{"agents", r.registered},
                                            {"heartbeats", r.heartbeats},
                                            {"heartbeat_s", rounded(r.heartbeat_seconds, 3)},
                                            {"max_eviction_fraction", eviction_fraction},
                                            {"sweep_ms", rounded(r.sweep_evict_ms, 2)},
                                            {"checked", r.evict_checked},
                                            {"stale", r.evict_stale},
                                            {"evicted", r.evicted},
                                            {"offline_after", r.offline_after}}},
      {"teardown_s", rounded(r.teardown_seconds, 3)},
      {"destroy_s_1m", rounded(r.teardown_seconds, 3)},
      {"throughput", std::move(throughput)},
      {"cache_line_round_trip_ns", std::move(round_trips)},
      {"workload", boost::json::object{{"pair_agents", pair_agents},
                                       {"agent_types", agent_types.size()},
                                       {"rounds", p.rounds},
                                       {"round_ms", p.round_length.count()},
                                       {"sweep_repeats", p.sweep_repeats}}},
  };
  add_problems(o, r.problems);
  return o;
}

// ---- the suite ----------------------------------------------------------------------------

int run_engine_suite(const options& opts) {
  const plan p = make_plan(opts);
  const machine_info machine = describe_machine();
  results r;
  r.round_trips.emplace_back("start", cache_line_round_trip_ns());

  std::printf("agentreg-bench engine (%s)\n", opts.quick ? "quick" : "full");
  print_machine(machine);
  std::printf("\n");
  std::fflush(stdout);

  measure_pairs(p, r);
  measure_raw_spawns(p, bench_config(), r);
  measure_engine_at_scale(p, r);

  std::printf("summary: %.0f pairs/s at 1 thread, %.0f at 2 threads (facade/mutex+map x%.2f, x%.2f);\n"
              "         %u agents registered at %.0f/s (x%.2f of raw spawns), %.0f bytes/agent resident (%.0f once\n"
              "         every agent ran), destroyed in %.2f s; sweep of %u stale agents %.1f ms, 5 %% stale: %.1f ms with %lld evicted\n",
              r.by_threads[0].subject_ops.median, r.by_threads[1].subject_ops.median, r.by_threads[0].ratio.median,
              r.by_threads[1].ratio.median, r.registered, r.register_per_s(),
              r.spawn_per_s() > 0 ? r.register_per_s() / r.spawn_per_s() : 0.0, r.bytes_per_agent,
              r.bytes_per_agent_running, r.teardown_seconds,
              r.registered, r.sweep_all_ms.median, r.sweep_evict_ms, static_cast<long long>(r.evicted));
  for (const auto& problem : r.problems)
    std::printf("FAILED: %s\n", problem.c_str());
  std::fflush(stdout);

  if (opts.json)
    emit_json_line(to_json(r, opts, p, machine));
  return r.problems.empty() ? 0 : 1;
}

[[maybe_unused]] const bool registered =
    register_suite({"engine", "registry facade: execution pairs vs mutex+unordered_map, 1M agents, stale sweep",
                    &run_engine_suite});

}  // namespace
}  // namespace agentreg::bench
