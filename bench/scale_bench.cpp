// agentreg-bench scale [--url URL]: the engine at 1 k, 10 k, 100 k and 1 M
// agents (1 k and 4 k with --quick), each size on a fresh database of one
// PostgreSQL server (--url, or a cluster of the suite's own with the
// default durability; --quick: fsync off), every agent of one type with 4 slots:
//   register    agents/s registering from one thread (one actor each; the
//               write-behind of their rows included: the clock stops once
//               persistence_backlog reads 0)
//   memory      resident bytes per agent: VmRSS growth over the registry's
//               creation and registration (malloc_trim before each reading)
//   acquire     p50 and p99 of one acquire() (then release, untimed), from
//               one thread, in rounds alternating with the baseline: a
//               std::mutex + std::set of the same N agents
//               (bench/mutex_set_baseline.hpp); each percentile is the
//               median over the rounds
//   heartbeat   heartbeats/s from 2 threads over the agents in turn, blocking
//               (heartbeat(), a round trip to the agent's actor each) and asynchronous
//               (heartbeat_async(), at most 4096 in flight per thread, the
//               clock stopping at the last answer)
//   sweep       the stale sweep over every agent (none stale: it checks all)
//   scrape      what GET /metrics does for a scrape, in process: the
//               snapshot (registry::metrics(), one pass over the index) and
//               its Prometheus text (http::render_metrics); time (median of
//               3) and bytes. In process because registering 1 M agents over
//               HTTP first would take longer than the rest of the suite; the
//               HTTP round trip adds a constant (the http suite measures it)
//   recovery    a new registry on the same database: time for its
//               constructor to load every agent back, with the count checked
// Exit code 1 if a check fails (a count, a failed call).

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "agentreg/registry.hpp"
#include "bench/mutex_set_baseline.hpp"
#include "bench/pg_database.hpp"
#include "bench/suite.hpp"
#include "server/metrics.hpp"
#include "support/scratch_cluster.hpp"

namespace agentreg::bench {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t capacity = 4;
constexpr const char* type = "worker";
constexpr std::ptrdiff_t async_window = 4096;

struct plan {
  std::vector<std::uint32_t> sizes;
  int latency_rounds;
  std::uint32_t latency_samples;    // per round
  std::uint32_t heartbeats;         // asynchronous ones; a tenth of it blocking
};

plan make_plan(const options& o) {
  if (o.quick)
    return {{1'000, 4'000}, 2, 5'000, 5'000};
  return {{1'000, 10'000, 100'000, 1'000'000}, 5, 200'000, 200'000};
}

std::string id_of(std::uint32_t i) {
  char id[24];
  std::snprintf(id, sizeof id, "s-%07u", i);
  return id;
}

std::size_t trimmed_resident_bytes() {
  malloc_trim(0);
  return resident_bytes();
}

struct point {
  std::uint32_t n = 0;
  double register_s = 0, persisted_s = 0;
  std::size_t rss_before = 0, rss_after = 0;
  std::vector<double> p50, p99, base_p50, base_p99;  // per round, ns
  double heartbeat_per_s = 0, heartbeat_async_per_s = 0;
  std::vector<double> sweep_ms, scrape_ms;
  std::size_t scrape_bytes = 0;
  double shutdown_s = 0, recovery_s = 0;
  std::int64_t recovered = 0;
  [[nodiscard]] double register_per_s() const { return register_s > 0 ? n / register_s : 0; }
  [[nodiscard]] double bytes_per_agent() const {
    return n > 0 && rss_after > rss_before ? static_cast<double>(rss_after - rss_before) / n : 0;
  }
};

config scale_config(const std::string& url) {
  config cfg;
  cfg.auto_sweep = false;  // the suite sweeps itself, once per reading
  cfg.database_url = url;
  return cfg;
}

// Samples `samples` acquires of `acquire_one` (which answers the elapsed
// nanoseconds of the acquire alone, or 0 on failure); p50 and p99.
template <class F>
std::pair<double, double> latency(std::uint32_t samples, F&& acquire_one, std::uint64_t& failures) {
  std::vector<std::uint64_t> ns;
  ns.reserve(samples);
  for (std::uint32_t i = 0; i < samples; ++i) {
    const auto t = acquire_one();
    if (t == 0)
      ++failures;
    else
      ns.push_back(t);
  }
  std::sort(ns.begin(), ns.end());
  return {static_cast<double>(percentile(ns, 0.50)), static_cast<double>(percentile(ns, 0.99))};
}

double heartbeat_rate(registry& reg, std::uint32_t n, std::uint32_t count, bool async,
                      std::atomic<std::uint64_t>& failures) {
  const auto start = bench_clock::now();
  {
    std::vector<std::jthread> threads;
    for (unsigned t = 0; t < 2; ++t)
      threads.emplace_back([&, t] {
        pin_to_cpu(t);
        if (!async) {
          for (std::uint32_t i = t; i < count; i += 2)
            if (!reg.heartbeat(id_of(i % n)))
              failures.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after join
          return;
        }
        // At most async_window answers outstanding, as a client keeps a
        // bounded window; the completion gives the room back.
        std::counting_semaphore<async_window> room{async_window};
        std::uint32_t sent = 0;
        for (std::uint32_t i = t; i < count; i += 2, ++sent) {
          room.acquire();
          reg.heartbeat_async(id_of(i % n), std::nullopt, [&room, &failures](expected<agent> a) {
            if (!a)
              failures.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after the wait
            room.release();
          });
        }
        // Every answer is in once all the room is back.
        for (std::ptrdiff_t k = 0; k < async_window; ++k)
          room.acquire();
      });
  }
  const double s = seconds_between(start, bench_clock::now());
  return s > 0 ? count / s : 0;
}

point measure(const plan& p, pg_server& srv, std::uint32_t n, std::vector<std::string>& problems) {
  point pt;
  pt.n = n;
  scratch_database db{srv};
  const config cfg = scale_config(db.url());
  pt.rss_before = trimmed_resident_bytes();
  auto reg = std::make_unique<registry>(cfg);
  {
    const auto start = bench_clock::now();
    for (std::uint32_t i = 0; i < n; ++i) {
      agent_spec s;
      s.agent_id = id_of(i);
      s.agent_type = type;
      s.llm_provider = "bench";
      s.model_name = "bench-model";
      s.max_capacity = capacity;
      if (auto a = reg->register_agent(std::move(s)); !a) {
        problems.push_back("register_agent at " + std::to_string(n) + ": " + a.error().message);
        return pt;
      }
    }
    const auto registered = bench_clock::now();
    while (reg->stats().persistence_backlog != 0) {
      if (bench_clock::now() - registered > 300s) {
        problems.push_back("the rows of " + std::to_string(n) + " agents were not committed within 300 s");
        break;
      }
      std::this_thread::sleep_for(5ms);  // polls the backlog counter; 5 ms is its resolution
    }
    pt.register_s = seconds_between(start, registered);
    pt.persisted_s = seconds_between(start, bench_clock::now());
  }
  pt.rss_after = trimmed_resident_bytes();

  mutex_set_baseline baseline;
  for (std::uint32_t i = 0; i < n; ++i)
    baseline.insert(capacity);
  std::uint64_t failures = 0;
  // On a thread of its own pinned to one CPU: pinning the main thread would
  // pin every thread it starts later (they inherit its mask).
  std::thread sampler{[&] {
    pin_to_cpu(0);
    for (int round = 0; round < p.latency_rounds; ++round) {
      const auto subject = [&] {
        return latency(
            p.latency_samples,
            [&]() -> std::uint64_t {
              const auto t0 = bench_clock::now();
              auto l = reg->acquire(type);
              const auto t1 = bench_clock::now();
              if (!l)
                return 0;
              reg->release(*l);
              return std::max<std::uint64_t>(1, nanoseconds_between(t0, t1));
            },
            failures);
      };
      const auto base = [&] {
        return latency(
            p.latency_samples,
            [&]() -> std::uint64_t {
              const auto t0 = bench_clock::now();
              auto a = baseline.acquire();
              const auto t1 = bench_clock::now();
              if (!a)
                return 0;
              baseline.release(*a);
              return std::max<std::uint64_t>(1, nanoseconds_between(t0, t1));
            },
            failures);
      };
      std::pair<double, double> a, b;
      if (round % 2 == 0) {
        a = subject();
        b = base();
      } else {
        b = base();
        a = subject();
      }
      pt.p50.push_back(a.first);
      pt.p99.push_back(a.second);
      pt.base_p50.push_back(b.first);
      pt.base_p99.push_back(b.second);
    }
  }};
  sampler.join();
  if (failures != 0)
    problems.push_back(std::to_string(failures) + " failed acquires at " + std::to_string(n) + " agents");

  std::atomic<std::uint64_t> beat_failures{0};
  // A blocking heartbeat is a round trip to an actor (tens of microseconds
  // here): a tenth as many of them measure its rate as well.
  pt.heartbeat_per_s = heartbeat_rate(*reg, n, p.heartbeats / 10, false, beat_failures);
  pt.heartbeat_async_per_s = heartbeat_rate(*reg, n, p.heartbeats, true, beat_failures);
  if (beat_failures.load() != 0)
    problems.push_back(std::to_string(beat_failures.load()) + " failed heartbeats at " + std::to_string(n));

  for (int i = 0; i < 3; ++i) {
    const auto r = reg->sweep();
    if (!r || r->agents_checked != static_cast<std::int64_t>(n)) {
      problems.push_back("sweep at " + std::to_string(n) + ": " +
                         (r ? "checked " + std::to_string(r->agents_checked) : r.error().message));
      break;
    }
    pt.sweep_ms.push_back(static_cast<double>(r->sweep_ns) / 1e6);
  }

  // Three scrapes, one at 1 M agents: there a snapshot took 15 s on the
  // loaded machine (2026-12-02), and two more would be 30 s of the 30
  // minutes scripts/bench has for every suite.
  const int scrapes = n >= 1'000'000 ? 1 : 3;
  for (int i = 0; i < scrapes; ++i) {
    const auto t = bench_clock::now();
    const auto m = reg->metrics();
    const auto text = http::render_metrics(m, {}, cfg.metrics_max_series, 0);
    pt.scrape_ms.push_back(seconds_between(t, bench_clock::now()) * 1e3);
    pt.scrape_bytes = text.size();
    if (m.engine.agents != static_cast<std::int64_t>(n)) {
      problems.push_back("metrics() at " + std::to_string(n) + " counted " + std::to_string(m.engine.agents) +
                         " agents");
      break;
    }
  }

  {
    const auto t = bench_clock::now();
    reg.reset();
    pt.shutdown_s = seconds_between(t, bench_clock::now());
  }
  {
    const auto t = bench_clock::now();
    registry recovered{cfg};
    pt.recovery_s = seconds_between(t, bench_clock::now());
    pt.recovered = recovered.stats().agents;
    if (pt.recovered != static_cast<std::int64_t>(n))
      problems.push_back("recovery at " + std::to_string(n) + ": " + std::to_string(pt.recovered) + " agents back");
  }
  return pt;
}

std::string count_name(std::uint32_t n) {
  return n >= 1'000'000 ? std::to_string(n / 1'000'000) + "M" : std::to_string(n / 1000) + "k";
}

int run_scale_suite(const options& opts) {
  const plan p = make_plan(opts);
  const machine_info machine = describe_machine();
  std::vector<std::string> problems;
  std::vector<point> points;
  std::string server_description;
  std::printf("agentreg-bench scale (%s): one type, %u slots per agent\n", opts.quick ? "quick" : "full", capacity);
  print_machine(machine);
  std::fflush(stdout);
  try {
    std::optional<support::scratch_cluster> cluster;
    std::string admin_url = opts.url;
    if (admin_url.empty()) {
      // --quick is a smoke test: fsync off spares a shared disk; the figures are not quoted.
      cluster.emplace(opts.quick ? support::durability::throwaway : support::durability::durable);
      admin_url = cluster->url();
    }
    pg_server srv{admin_url};
    server_description = srv.description();
    std::printf("postgresql: %s\n", server_description.c_str());
    // Work grows about linearly with N: the progress fraction follows it.
    double total = 0, done = 0;
    for (auto n : p.sizes)
      total += n + 20'000.0;
    for (auto n : p.sizes) {
      report_progress("scale", done / total, count_name(n) + " agents");
      points.push_back(measure(p, srv, n, problems));
      done += n + 20'000.0;
      const auto& pt = points.back();
      std::printf("  %s: registered %.0f/s (rows committed after %.2f s), %.0f bytes/agent, acquire p50 %.0f ns p99 "
                  "%.0f ns (mutex+set %.0f / %.0f), heartbeats %.0f/s blocking, %.0f/s async, sweep %.2f ms, "
                  "scrape %.2f ms (%zu bytes), recovery %.2f s\n",
                  count_name(pt.n).c_str(), pt.register_per_s(), pt.persisted_s, pt.bytes_per_agent(),
                  summarize(pt.p50).median, summarize(pt.p99).median, summarize(pt.base_p50).median,
                  summarize(pt.base_p99).median, pt.heartbeat_per_s, pt.heartbeat_async_per_s,
                  summarize(pt.sweep_ms).median, summarize(pt.scrape_ms).median, pt.scrape_bytes, pt.recovery_s);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    problems.push_back(std::string{"aborted: "} + e.what());
  }
  double p99_ratio = 0;
  if (points.size() >= 2 && summarize(points.front().p99).median > 0)
    p99_ratio = summarize(points.back().p99).median / summarize(points.front().p99).median;
  if (!points.empty())
    std::printf("acquire p99 at %s / at %s: x%.2f (target <= 2)\n", count_name(points.back().n).c_str(),
                count_name(points.front().n).c_str(), p99_ratio);
  for (const auto& problem : problems)
    std::printf("FAILED: %s\n", problem.c_str());
  std::fflush(stdout);
  if (opts.json) {
    boost::json::array list;
    for (const auto& pt : points)
      list.push_back(boost::json::object{{"agents", pt.n},
                                         {"register_per_s", whole(pt.register_per_s())},
                                         {"persisted_s", rounded(pt.persisted_s, 3)},
                                         {"bytes_per_agent", whole(pt.bytes_per_agent())},
                                         {"acquire_p50_ns", to_json(summarize(pt.p50), 0)},
                                         {"acquire_p99_ns", to_json(summarize(pt.p99), 0)},
                                         {"mutex_set_p50_ns", to_json(summarize(pt.base_p50), 0)},
                                         {"mutex_set_p99_ns", to_json(summarize(pt.base_p99), 0)},
                                         {"heartbeat_per_s", whole(pt.heartbeat_per_s)},
                                         {"heartbeat_async_per_s", whole(pt.heartbeat_async_per_s)},
                                         {"sweep_ms", to_json(summarize(pt.sweep_ms), 2)},
                                         {"metrics_scrape_ms", to_json(summarize(pt.scrape_ms), 2)},
                                         {"metrics_scrape_bytes", pt.scrape_bytes},
                                         {"shutdown_s", rounded(pt.shutdown_s, 3)},
                                         {"recovery_s", rounded(pt.recovery_s, 3)},
                                         {"recovered", pt.recovered}});
    boost::json::object j{{"suite", "scale"},
                          {"ok", problems.empty()},
                          {"quick", opts.quick},
                          {"machine", to_json(machine)},
                          {"server", server_description},
                          {"capacity", capacity},
                          {"latency_rounds", p.latency_rounds},
                          {"latency_samples", p.latency_samples},
                          {"points", std::move(list)},
                          {"acquire_p99_ratio_largest_vs_smallest", rounded(p99_ratio, 2)}};
    add_problems(j, problems);
    emit_json_line(j);
  }
  return problems.empty() ? 0 : 1;
}

[[maybe_unused]] const bool registered = register_suite(
    {"scale", "1k..1M agents: register rate, bytes/agent, acquire p50/p99, heartbeats, sweep, /metrics scrape, recovery",
     &run_scale_suite});

}  // namespace
}  // namespace agentreg::bench
