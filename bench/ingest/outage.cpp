#include "bench/ingest/parts.hpp"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "bench/ingest/runs.hpp"
#include "bench/ingest/workload.hpp"

namespace agentreg::bench::ingest {

// ---- part 6: the outage ----------------------------------------------------------------------

namespace {

struct sample {
  double at_s;  // since the kill (negative before)
  std::int64_t value;
};

// What the producers and samplers of the outage share. Held by shared_ptr
// so that, should the server not come back, the threads (blocked on the
// full buffer for good) can be left running on state that stays alive.
struct outage_load {
  std::unique_ptr<registry> reg;
  std::vector<std::string> ids = agent_ids();
  // relaxed everywhere below: stop flags are plain requests, counters are
  // progress readings, and exact values are read after join().
  std::atomic<bool> stop{false};
  std::atomic<bool> sampling{true};
  std::atomic<std::uint64_t> started{0}, completed{0}, failures{0};
  std::atomic<bench_clock::rep> kill_at{0};  // 0: not yet
  std::mutex samples_mutex;
  std::vector<sample> rss, backlog;

  void produce(unsigned t) {
    const execution_request request = ingest::request_of();
    const execution_metrics metrics = ingest::metrics_of();
    std::uint32_t agent = t * (ingest::agent_count / 2);
    while (!stop.load(std::memory_order_relaxed)) {
      auto id = reg->start_execution(ids[agent], request);
      agent = agent + 1 == ingest::agent_count ? 0 : agent + 1;
      if (!id) {
        failures.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      started.fetch_add(1, std::memory_order_relaxed);
      if (reg->complete_execution(*id, execution_status::success, metrics))
        completed.fetch_add(1, std::memory_order_relaxed);
      else
        failures.fetch_add(1, std::memory_order_relaxed);
    }
  }

  double since_kill() const {
    const auto k = kill_at.load(std::memory_order_relaxed);
    return k == 0 ? -1.0 : seconds_between(bench_clock::time_point{bench_clock::duration{k}}, bench_clock::now());
  }

  // Two samplers run this: VmRSS (never blocks) and the backlog through
  // stats(), which waits for the writer while it is inside a write and
  // would delay the RSS samples if one thread took both.
  void sample_every(milliseconds interval, bool of_rss) {
    auto next = bench_clock::now();
    while (sampling.load(std::memory_order_relaxed)) {
      const std::int64_t value =
          of_rss ? static_cast<std::int64_t>(resident_bytes()) : reg->stats().persistence_backlog;
      {
        std::lock_guard guard{samples_mutex};
        (of_rss ? rss : backlog).push_back({since_kill(), value});
      }
      next += interval;
      std::this_thread::sleep_until(next);
    }
  }
};

}  // namespace

void measure_outage(const plan& p, pg_server& srv, support::scratch_cluster& cluster, results& out) {
  auto& o = out.outage;
  o.ran = true;
  const config defaults;
  std::printf("outage: registry on the database (batch_size %zu, flush_interval %lld ms, buffer_limit %zu,\n"
              "on_full block), 2 threads of start+complete pairs; after %lld ms, kill -9 of the server, %lld s\n"
              "of load with it down, restart, wait until the backlog is committed; VmRSS every %lld ms\n",
              defaults.batch_size, static_cast<long long>(defaults.flush_interval.count()), p.outage_buffer_limit,
              static_cast<long long>(p.outage_warmup.count()),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(p.outage).count()),
              static_cast<long long>(rss_sample_interval.count()));
  std::fflush(stdout);

  scratch_database db{srv};
  config cfg = registry_config(db.url(), defaults.batch_size, defaults.flush_interval);
  cfg.buffer_limit = p.outage_buffer_limit;
  cfg.on_full = backlog_policy::block;
  malloc_trim(0);  // what earlier parts freed should not count as this part's memory
  auto st = std::make_shared<outage_load>();
  st->reg = std::make_unique<registry>(cfg);
  register_agents(*st->reg);
  o.rss_idle = resident_bytes();

  std::thread rss_thread{[st] { st->sample_every(rss_sample_interval, true); }};
  std::thread backlog_thread{[st] { st->sample_every(rss_sample_interval, false); }};
  std::thread a{[st] { st->produce(0); }};
  std::thread b{[st] { st->produce(1); }};
  std::this_thread::sleep_for(p.outage_warmup);

  const auto kill_start = bench_clock::now();
  st->kill_at.store(kill_start.time_since_epoch().count(), std::memory_order_relaxed);
  o.started_before = st->started.load(std::memory_order_relaxed);
  try {
    cluster.kill();
  } catch (const std::exception& e) {
    // Go on: the restart below finds the server still running and the
    // checks still hold, but the outage did not happen.
    out.problems.push_back(std::string{"outage: kill -9 of the server failed: "} + e.what());
  }
  o.kill_ms = seconds_between(kill_start, bench_clock::now()) * 1e3;
  std::this_thread::sleep_for(p.outage);

  // Producers stop at their next turn; those blocked on the full buffer
  // turn only once the server is back and the backlog moves.
  st->stop.store(true, std::memory_order_relaxed);
  const auto restart_start = bench_clock::now();
  o.started_during = st->started.load(std::memory_order_relaxed) - o.started_before;
  std::string url;
  try {
    url = cluster.restart();
  } catch (const std::exception& e) {
    out.problems.push_back(std::string{"outage: the server did not restart: "} + e.what());
  }
  const auto restarted = bench_clock::now();
  o.restart_ms = seconds_between(restart_start, restarted) * 1e3;
  o.seconds = seconds_between(kill_start, restarted);
  if (!url.empty() && url != srv.admin_url())
    out.problems.push_back("outage: the server came back on another port (" + url +
                           "): the registry cannot reach it");
  if (url.empty() || url != srv.admin_url()) {
    // The producers may stay blocked on the full buffer for good. Destroying
    // the registry under them would wake them inside it: leave them, and the
    // registry, alive (leaked on purpose) and report.
    st->sampling.store(false, std::memory_order_relaxed);
    rss_thread.join();
    backlog_thread.join();
    a.detach();
    b.detach();
    [[maybe_unused]] auto* keep_alive = new std::shared_ptr<outage_load>(st);
    // The later parts need the server at its URL: stop here.
    throw std::runtime_error{"the server is not back at its URL after the outage"};
  }
  a.join();
  b.join();
  const bool drained = wait_for_backlog_zero(*st->reg, bench_clock::now() + drain_deadline);
  const auto end = bench_clock::now();
  o.drain_seconds = seconds_between(restarted, end);
  st->sampling.store(false, std::memory_order_relaxed);
  rss_thread.join();
  backlog_thread.join();

  o.started = st->started.load();
  o.completed = st->completed.load();
  const auto stats = st->reg->stats();
  o.retries = stats.persistence_retries;
  o.last_error = stats.persistence_last_error;
  if (!drained)
    out.problems.push_back("outage: backlog still " + std::to_string(stats.persistence_backlog) +
                           " records after the restart");
  if (st->failures.load() != 0)
    out.problems.push_back("outage: " + std::to_string(st->failures.load()) + " start/complete calls failed");
  const auto& rss = st->rss;
  const auto& backlog = st->backlog;

  // Memory: before = the last sample before the kill; peaks from the kill
  // on; the backlog read nearest in time to the peak.
  const double down_s = o.seconds;
  const double drained_s = seconds_between(kill_start, end);
  o.samples = rss.size();
  for (const auto& s : rss) {
    const auto v = static_cast<std::size_t>(s.value);
    if (s.at_s < 0) {
      o.rss_before = v;
      continue;
    }
    if (s.at_s <= drained_s && v > o.rss_peak) {
      o.rss_peak = v;
      o.rss_peak_at_s = s.at_s;
    }
    if (s.at_s <= down_s) {
      o.rss_peak_down = std::max(o.rss_peak_down, v);
      auto& half = s.at_s < down_s / 2 ? o.rss_first_half : o.rss_second_half;
      half = std::max(half, v);
    }
  }
  double nearest = 1e9;
  for (const auto& s : backlog) {
    if (s.at_s < 0)
      o.backlog_before = s.value;
    if (s.at_s >= 0)
      o.backlog_max = std::max(o.backlog_max, s.value);
    if (s.at_s >= 0 && std::abs(s.at_s - o.rss_peak_at_s) < nearest) {
      nearest = std::abs(s.at_s - o.rss_peak_at_s);
      o.backlog_at_peak = s.value;
    }
  }
  // Bounded: once the buffer is full, memory must stop growing. The second
  // half of the outage may not exceed the first by more than 10 % + 16 MB
  // (allocator noise); a leak or an unbounded queue grows all along.
  o.bounded = o.rss_second_half <= o.rss_first_half + o.rss_first_half / 10 + (16u << 20);
  if (!o.bounded)
    out.problems.push_back("outage: memory kept growing with the server down: peak " +
                           std::to_string(o.rss_first_half >> 20) + " MB in the first half, " +
                           std::to_string(o.rss_second_half >> 20) + " MB in the second");

  const auto stored = read_executions(db.url());
  o.rows = stored.rows;
  o.rows_completed = stored.completed;
  const bool all_there = stored.rows == static_cast<std::int64_t>(o.started) &&
                         stored.completed == static_cast<std::int64_t>(o.completed);
  if (!all_there)
    out.problems.push_back("outage: the database holds " + std::to_string(stored.rows) + " executions (" +
                           std::to_string(stored.completed) + " completed) for " + std::to_string(o.started) +
                           " started and " + std::to_string(o.completed) + " completed");
  st->reg.reset();

  const auto mb = [](std::size_t bytes) { return static_cast<double>(bytes) / 1e6; };
  std::printf("  kill -9 took %.0f ms; server down %.1f s (restart %.0f ms); backlog committed %.1f s after the "
              "restart\n",
              o.kill_ms, o.seconds, o.restart_ms, o.drain_seconds);
  std::printf("  pairs started: %llu before the kill, %llu while the server was down (then the producers\n"
              "  blocked on the full buffer), %llu in all; writer retries %lld\n",
              static_cast<unsigned long long>(o.started_before), static_cast<unsigned long long>(o.started_during),
              static_cast<unsigned long long>(o.started), static_cast<long long>(o.retries));
  std::printf("  VmRSS: %.1f MB before the kill (backlog %lld records), peak %.1f MB while down (first half\n"
              "  %.1f, second half %.1f), peak %.1f MB until the backlog was written (%.1f s after the kill,\n"
              "  backlog %lld records then, at most %lld); %zu samples; bounded: %s\n",
              mb(o.rss_before), static_cast<long long>(o.backlog_before), mb(o.rss_peak_down), mb(o.rss_first_half), mb(o.rss_second_half), mb(o.rss_peak),
              o.rss_peak_at_s, static_cast<long long>(o.backlog_at_peak), static_cast<long long>(o.backlog_max),
              o.samples, o.bounded ? "yes" : "NO");
  if (o.backlog_at_peak > 0 && o.rss_peak > o.rss_idle)
    std::printf("  = %.0f bytes per buffered record above the idle registry (%.1f MB), so buffer_limit bounds\n"
                "  memory at about that many bytes per record\n",
                static_cast<double>(o.rss_peak - o.rss_idle) / static_cast<double>(o.backlog_at_peak),
                mb(o.rss_idle));
  std::printf("check: after the outage the database holds %lld executions, %lld completed, for %llu started and\n"
              "       %llu completed through the facade: %s\n\n",
              static_cast<long long>(o.rows), static_cast<long long>(o.rows_completed),
              static_cast<unsigned long long>(o.started), static_cast<unsigned long long>(o.completed),
              all_there && drained ? "ok" : "FAILED");
  std::fflush(stdout);
}

}  // namespace agentreg::bench::ingest
