// agentreg-bench ingest [--url URL]: executions through the facade into
// PostgreSQL, against the seed's way and against raw COPY, on one server.
//
// Unless --url is given, the suite starts its own PostgreSQL (scripts/pg
// start in a mkdtemp directory), stopped and removed at exit, also on
// failure. It runs with PostgreSQL's default durability (fsync on,
// synchronous_commit on: every commit reaches the disk), as a production
// server does: a write path is judged by what it costs there, and the
// seed's commit per execution pays exactly that cost. (The tests use fsync
// off, for speed; give --url to measure against any other server.)
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
//   2. baseline (a), the seed's way (bench/seed_baseline.hpp): per execution
//      a transaction with an INSERT and a summary upsert incrementing totals,
//      on 1 and on 2 connections, for a fixed time (it is slow).
//   3. baseline (b), raw COPY (bench/copy_baseline.hpp): the same rows by
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
// The machine may be shared: the sweep and each comparison round report the
// CPU share other processes took meanwhile (from /proc), so that a noisy
// figure can be told apart from a slow one.
// Exit code 1 if a correctness check fails.

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <pqxx/pqxx>

#include "agentreg/registry.hpp"
#include "bench/copy_baseline.hpp"
#include "bench/ingest_workload.hpp"
#include "support/scratch_cluster.hpp"
#include "bench/seed_baseline.hpp"
#include "bench/suite.hpp"
#include "persistence/batch_writer.hpp"
#include "persistence/migrations.hpp"

namespace agentreg::bench {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// ---- the plan ------------------------------------------------------------------------

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
};

plan make_plan(const options& o) {
  if (o.quick)
    return {20'000, 2, 1s, 20'000, 1, 10, 1000, 1s, 5s, 200'000};
  // Even round counts: as many rounds in each order.
  return {200'000, 4, 3s, 100'000, 2, 25, 1000, 3s, 60s, 200'000};
}

constexpr std::uint64_t copy_rows_per_transaction = 10'000;
// Records per batch (a start and a completion are two records). 50 000
// (25 000 rows per transaction) checks that the largest useful size is
// inside the range, not at its edge.
constexpr std::array<std::size_t, 4> sweep_batch_sizes{1000, 5000, 20000, 50000};
constexpr std::array<milliseconds, 3> sweep_flush_intervals{20ms, 50ms, 200ms};
// How often the end of an ingest run is polled; its resolution.
constexpr milliseconds poll_interval{5};
// A run whose backlog does not drain within this is reported as a hang.
constexpr auto drain_deadline = 180s;
constexpr milliseconds rss_sample_interval{100};

// Targets of issue 5.
constexpr double copy_ratio_target = 0.8;
constexpr double copy_ratio_goal = 0.9;
constexpr double seed_ratio_target = 20;

double seconds_between(bench_clock::time_point a, bench_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// ---- the server ------------------------------------------------------------------------

// `url` with its database replaced by `name`. Handles URLs
// (postgresql://user@host:port/db?params) and key=value strings (where
// libpq lets a later dbname override an earlier one).
std::string with_database(const std::string& url, const std::string& name) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos)
    return url + " dbname=" + name;
  const auto path = url.find('/', scheme + 3);
  const auto query = url.find('?', scheme + 3);
  if (path == std::string::npos || (query != std::string::npos && query < path)) {
    const auto at = query == std::string::npos ? url.size() : query;
    return url.substr(0, at) + "/" + name + url.substr(at);
  }
  return url.substr(0, path + 1) + name + (query == std::string::npos ? "" : url.substr(query));
}

// The URL without a password, for printing.
std::string printable(const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos)
    return url.find("password") == std::string::npos ? url : "(key=value string with a password)";
  const auto colon = url.find(':', scheme + 3);
  if (colon != std::string::npos && colon < at)
    return url.substr(0, colon) + ":***" + url.substr(at);
  return url;
}

// One query on a connection of its own (outside every timed window).
pqxx::result query(const std::string& url, const std::string& sql) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  return tx.exec(sql);
}

std::int64_t scalar(const std::string& url, const std::string& sql) {
  const auto r = query(url, sql);
  return r.at(0).at(0).is_null() ? 0 : r[0][0].as<std::int64_t>();
}

// The server the variants run on, reached through its admin URL.
class server {
 public:
  explicit server(std::string admin_url) : admin_url_(std::move(admin_url)) {
    const auto r = query(admin_url_,
                         "SELECT current_setting('server_version'), current_setting('fsync'), "
                         "current_setting('synchronous_commit'), current_setting('shared_buffers')");
    description_ = "PostgreSQL " + r[0][0].as<std::string>() + ", fsync " + r[0][1].as<std::string>() +
                   ", synchronous_commit " + r[0][2].as<std::string>() + ", shared_buffers " +
                   r[0][3].as<std::string>();
  }

  [[nodiscard]] const std::string& admin_url() const { return admin_url_; }
  [[nodiscard]] const std::string& description() const { return description_; }

  // CREATE DATABASE cannot run in a transaction: nontransaction.
  std::string create_database() {
    const std::string name = "agentreg_bench_" + std::to_string(::getpid()) + "_" + std::to_string(++created_);
    query(admin_url_, "CREATE DATABASE " + name);
    return name;
  }

  // WITH (FORCE) ends sessions a registry or baseline may not have closed yet.
  void drop_database(const std::string& name) noexcept {
    try {
      query(admin_url_, "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ingest: could not drop database %s: %s\n", name.c_str(), e.what());
    }
  }

  // Writes every dirty page now, so that the next variant starts clean
  // instead of paying for the checkpoint its predecessor made due. Needs
  // superuser (or pg_checkpoint): on a server given by --url it may be
  // refused, which is said once and then ignored.
  void checkpoint() {
    if (!checkpoint_allowed_)
      return;
    try {
      query(admin_url_, "CHECKPOINT");
    } catch (const std::exception& e) {
      checkpoint_allowed_ = false;
      std::printf("note: CHECKPOINT refused (%s); variants run without it\n", e.what());
    }
  }

 private:
  std::string admin_url_;
  std::string description_;
  int created_ = 0;
  bool checkpoint_allowed_ = true;
};

// A fresh database at the current schema, dropped when this goes away.
class scratch_database {
 public:
  explicit scratch_database(server& s) : server_(s), name_(s.create_database()) {
    url_ = with_database(s.admin_url(), name_);
    auto m = db::migrate(url_);
    if (!m) {
      server_.drop_database(name_);
      throw std::runtime_error{"migrate " + name_ + ": " + m.error().message};
    }
    server_.checkpoint();
  }
  ~scratch_database() { server_.drop_database(name_); }
  scratch_database(const scratch_database&) = delete;
  scratch_database& operator=(const scratch_database&) = delete;

  [[nodiscard]] const std::string& url() const { return url_; }

 private:
  server& server_;
  std::string name_;
  std::string url_;
};

// ---- checks --------------------------------------------------------------------------

struct stored_executions {
  std::int64_t rows = 0, completed = 0, tokens = 0, micro_usd = 0;
};

stored_executions read_executions(const std::string& url) {
  const auto r = query(url,
                       "SELECT count(*), count(*) FILTER (WHERE status <> 'running'), "
                       "coalesce(sum(total_tokens), 0), coalesce(sum(cost_micro_usd), 0) FROM agent_executions");
  return {r[0][0].as<std::int64_t>(), r[0][1].as<std::int64_t>(), r[0][2].as<std::int64_t>(),
          r[0][3].as<std::int64_t>()};
}

// Every one of `expected` executions stored once, completed, with its
// tokens and cost. When not, prints a line and records a problem (the
// parts print one summary check line for all their runs).
bool check_executions(const std::string& url, std::int64_t expected, const std::string& what,
                      std::vector<std::string>& problems) {
  const auto s = read_executions(url);
  const bool ok = s.rows == expected && s.completed == expected && s.tokens == expected * ingest::total_tokens &&
                  s.micro_usd == expected * ingest::cost_micro_usd;
  if (!ok)
    std::printf("check: %s: %lld rows, %lld completed, %lld tokens, %lld micro-USD for %lld executions: %s\n",
                what.c_str(), static_cast<long long>(s.rows), static_cast<long long>(s.completed),
                static_cast<long long>(s.tokens), static_cast<long long>(s.micro_usd),
                static_cast<long long>(expected), ok ? "ok" : "FAILED");
  if (!ok)
    problems.push_back(what + ": the database holds " + std::to_string(s.rows) + " rows (" +
                       std::to_string(s.completed) + " completed) for " + std::to_string(expected) +
                       " executions");
  return ok;
}

// ---- the registry side -----------------------------------------------------------------

config registry_config(const std::string& url, std::size_t batch_size, milliseconds flush_interval,
                       std::size_t writer_connections = config{}.writer_connections) {
  config cfg;
  cfg.auto_sweep = false;  // nothing but the measured calls runs in the engine
  cfg.database_url = url;
  cfg.batch_size = batch_size;
  cfg.flush_interval = flush_interval;
  cfg.writer_connections = writer_connections;
  return cfg;
}

std::vector<std::string> agent_ids() {
  std::vector<std::string> ids;
  for (std::uint32_t i = 0; i < ingest::agent_count; ++i)
    ids.push_back(ingest::agent_id(i));
  return ids;
}

// Registers the agents and waits until their rows are committed, so that a
// timed window holds executions only. Throws on failure.
void register_agents(registry& reg) {
  for (std::uint32_t i = 0; i < ingest::agent_count; ++i)
    if (auto a = reg.register_agent(ingest::spec_of(i)); !a)
      throw std::runtime_error{"register_agent: " + a.error().message};
  const auto deadline = bench_clock::now() + 30s;
  while (reg.stats().persistence_rows < ingest::agent_count) {
    if (bench_clock::now() > deadline)
      throw std::runtime_error{"the agents' rows were not committed within 30 s: " +
                               reg.stats().persistence_last_error};
    std::this_thread::sleep_for(poll_interval);
  }
}

// One start+complete pair on agent `agent`; false if a call failed.
bool pair(registry& reg, const std::string& agent, const execution_request& request,
          const execution_metrics& metrics) {
  auto id = reg.start_execution(agent, request);
  return id && reg.complete_execution(*id, execution_status::success, metrics);
}

// Polls until every admitted record is committed; false at `deadline`.
bool wait_for_backlog_zero(const registry& reg, bench_clock::time_point deadline) {
  while (reg.stats().persistence_backlog != 0) {
    if (bench_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(poll_interval);
  }
  return true;
}

struct ingest_result {
  double seconds = 0;          // producers released .. backlog read 0
  double produce_seconds = 0;  // producers released .. both returned
  double destructor_ms = 0;    // ~registry afterwards (writes the summaries)
  std::int64_t batches = 0;    // transactions the writer committed in the window
  std::uint64_t rows = 0;
  [[nodiscard]] double rows_per_s() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
};

// The end-to-end measure (see the top of the file for its exact window).
ingest_result run_agentreg(server& srv, std::uint64_t rows, std::size_t batch_size, milliseconds flush_interval,
                           const std::string& label, std::vector<std::string>& problems,
                           std::size_t writer_connections = config{}.writer_connections) {
  scratch_database db{srv};
  auto reg = std::make_unique<registry>(registry_config(db.url(), batch_size, flush_interval, writer_connections));
  register_agents(*reg);
  const auto ids = agent_ids();
  const std::int64_t batches_before = reg->stats().persistence_batches;

  std::latch go{1};
  std::atomic<std::uint64_t> failures{0};
  const auto produce = [&](unsigned t, std::uint64_t pairs) {
    const execution_request request = ingest::request_of();
    const execution_metrics metrics = ingest::metrics_of();
    // The two producers start half the agents apart, as the baselines do.
    std::uint32_t agent = t * (ingest::agent_count / 2);
    go.wait();
    for (std::uint64_t i = 0; i < pairs; ++i) {
      if (!pair(*reg, ids[agent], request, metrics))
        failures.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after join
      agent = agent + 1 == ingest::agent_count ? 0 : agent + 1;
    }
  };
  std::thread a{produce, 0u, rows - rows / 2};
  std::thread b{produce, 1u, rows / 2};
  const auto start = bench_clock::now();
  go.count_down();
  a.join();
  b.join();
  const auto produced = bench_clock::now();
  const bool drained = wait_for_backlog_zero(*reg, produced + drain_deadline);
  const auto end = bench_clock::now();

  ingest_result r;
  r.rows = rows;
  r.seconds = seconds_between(start, end);
  r.produce_seconds = seconds_between(start, produced);
  const auto stats = reg->stats();
  r.batches = stats.persistence_batches - batches_before;
  if (failures.load() != 0)
    problems.push_back(label + ": " + std::to_string(failures.load()) + " start/complete calls failed");
  if (!drained)
    problems.push_back(label + ": backlog still " + std::to_string(stats.persistence_backlog) + " records after " +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(drain_deadline).count()) +
                       " s (last error: " + stats.persistence_last_error + ")");
  check_executions(db.url(), static_cast<std::int64_t>(rows), label, problems);

  const auto destroy = bench_clock::now();
  reg.reset();
  r.destructor_ms = seconds_between(destroy, bench_clock::now()) * 1e3;
  return r;
}

// ---- the baselines ----------------------------------------------------------------------

// Raw COPY on `connections` connections in parallel (one thread each, each
// writing its share of the rows): 1 is baseline (b); 2 measures how far the
// server itself goes when two backends load it at once, the ceiling of any
// write path into this server.
double run_copy(server& srv, std::uint64_t rows, std::vector<std::string>& problems, unsigned connections = 1) {
  scratch_database db{srv};
  std::vector<std::unique_ptr<copy_baseline>> copies;
  for (unsigned c = 0; c < connections; ++c)
    copies.push_back(std::make_unique<copy_baseline>(db.url()));
  std::vector<std::uint64_t> inserted(connections);
  const auto start = bench_clock::now();
  {
    std::vector<std::jthread> writers;
    for (unsigned c = 0; c < connections; ++c)
      writers.emplace_back([&, c] {
        const std::uint64_t share = rows / connections + (c < rows % connections ? 1 : 0);
        try {
          inserted[c] = copies[c]->write(share, copy_rows_per_transaction);
        } catch (const std::exception&) {
          inserted[c] = 0;  // reported below as rows missing
        }
      });
  }
  const double seconds = seconds_between(start, bench_clock::now());
  std::uint64_t total = 0;
  for (auto n : inserted)
    total += n;
  const std::string label = "COPY baseline on " + std::to_string(connections) + " connection(s)";
  if (total != rows)
    problems.push_back(label + ": the merges inserted " + std::to_string(total) + " of " + std::to_string(rows) +
                       " rows");
  check_executions(db.url(), static_cast<std::int64_t>(rows), label, problems);
  return seconds > 0 ? static_cast<double>(rows) / seconds : 0;
}

double run_seed(server& srv, unsigned connections, milliseconds length, std::vector<std::string>& problems) {
  scratch_database db{srv};
  seed_baseline seed{db.url(), connections};
  const round_result r = run_round(connections, length, [&seed](unsigned t, const std::atomic<bool>& stop) {
    return seed.run(t, stop);
  });
  const std::string label = "seed baseline on " + std::to_string(connections) + " connection(s)";
  if (r.failures != 0)
    problems.push_back(label + ": " + std::to_string(r.failures) + " transactions failed");
  const auto n = static_cast<std::int64_t>(r.ops);
  check_executions(db.url(), n, label, problems);
  const auto summarized =
      scalar(db.url(), "SELECT coalesce(sum(total_executions), 0) FROM agent_performance_summary");
  if (summarized != n)
    problems.push_back(label + ": the summaries count " + std::to_string(summarized) + " executions for " +
                       std::to_string(n) + " committed");
  return r.ops_per_s();
}

// A diagnostic between the two: the engine's own writer (db::batch_writer,
// what the persistence actor calls) fed directly, with batches shaped as the
// pipeline shapes them at the default batch_size: the started and the
// completed record of batch_size / 2 executions (the writer keeps the
// completed one). Only write() is timed; the batches are built before it.
// The gap to COPY is then the writer's own SQL and checks, and the gap from
// here to the end-to-end figure is the pipeline (facade, aggregator, actor,
// producers sharing the CPUs with the server, the flush tail).
double run_writer_alone(server& srv, std::uint64_t rows, std::size_t batch_size, std::vector<std::string>& problems) {
  scratch_database db{srv};
  auto writer = db::batch_writer::connect(db.url());
  if (!writer)
    throw std::runtime_error{"batch_writer::connect: " + writer.error().message};
  const std::uint64_t per_write = std::max<std::size_t>(1, batch_size / 2);
  std::uint32_t agent = 0;
  double seconds = 0;
  std::int64_t written = 0;
  db::batch b;
  for (std::uint64_t done = 0; done < rows;) {
    const std::uint64_t n = std::min(per_write, rows - done);
    b.clear();
    for (std::uint64_t i = 0; i < n; ++i) {
      execution completed = ingest::completed_row(agent, ingest::now_ns());
      agent = agent + 1 == ingest::agent_count ? 0 : agent + 1;
      execution started = completed;
      started.status = execution_status::running;
      started.completed_at = 0;
      started.duration_ms = started.prompt_tokens = started.completion_tokens = started.total_tokens = 0;
      started.cost_micro_usd = 0;
      b.executions.push_back(std::move(started));
      b.executions.push_back(std::move(completed));
    }
    const auto start = bench_clock::now();
    auto report = writer->write(b);
    seconds += seconds_between(start, bench_clock::now());
    if (!report)
      throw std::runtime_error{"batch_writer::write: " + report.error().message};
    written += report->executions;
    done += n;
  }
  if (written != static_cast<std::int64_t>(rows))
    problems.push_back("batch_writer alone: " + std::to_string(written) + " rows written for " +
                       std::to_string(rows));
  check_executions(db.url(), static_cast<std::int64_t>(rows), "batch_writer alone", problems);
  return seconds > 0 ? static_cast<double>(rows) / seconds : 0;
}

// ---- CPU used by others -------------------------------------------------------------------

// The machine may be shared (other sessions compile and run tests on it), so
// each timed part says how much of the CPUs other processes took meanwhile:
// the busy time of /proc/stat minus this process minus our own server (the
// postmaster, its live children, and its exited children through its
// cutime/cstime). Steal (other guests of the hypervisor) is counted apart.
struct cpu_reading {
  bench_clock::time_point at{};
  double busy = 0, steal = 0, ours = 0, server = 0;  // CPU seconds
};

struct cpu_share {
  double others = 0;  // of all CPUs, 0..1
  double steal = 0;
};

// Fields of /proc/PID/stat after the command name: [0] is field 3 (state).
std::vector<std::uint64_t> stat_fields(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  std::getline(in, line);
  std::vector<std::uint64_t> out;
  const auto close = line.rfind(')');
  if (close == std::string::npos)
    return out;
  std::size_t i = close + 2;
  out.push_back(0);  // the state letter
  i = line.find(' ', i);
  while (i != std::string::npos && i < line.size()) {
    const auto next = line.find(' ', i + 1);
    out.push_back(std::strtoull(line.c_str() + i + 1, nullptr, 10));
    i = next;
  }
  return out;
}

class cpu_meter {
 public:
  /// `postmaster_pid_file`: data/postmaster.pid of our own cluster; empty
  /// when the server is not ours (its CPU then counts as others').
  explicit cpu_meter(std::string postmaster_pid_file) : pid_file_(std::move(postmaster_pid_file)) {
    std::ifstream stat{"/proc/stat"};
    for (std::string line; std::getline(stat, line);)
      if (line.size() > 3 && line.rfind("cpu", 0) == 0 && std::isdigit(static_cast<unsigned char>(line[3])))
        ++cpus_;
    cpus_ = std::max(cpus_, 1u);
  }

  [[nodiscard]] bool server_known() const { return !pid_file_.empty(); }

  [[nodiscard]] cpu_reading read() const {
    cpu_reading r;
    r.at = bench_clock::now();
    std::ifstream stat{"/proc/stat"};
    std::string cpu;
    std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    r.busy = seconds(user + nice + system + irq + softirq);
    r.steal = seconds(steal);
    if (const auto self = stat_fields("/proc/self/stat"); self.size() > 12)
      r.ours = seconds(self[11] + self[12]);
    r.server = server_seconds();
    return r;
  }

  [[nodiscard]] cpu_share between(const cpu_reading& a, const cpu_reading& b) const {
    const double capacity = std::chrono::duration<double>(b.at - a.at).count() * cpus_;
    if (capacity <= 0)
      return {};
    const double others = (b.busy - a.busy) - (b.ours - a.ours) - (b.server - a.server);
    return {std::clamp(others / capacity, 0.0, 1.0), std::clamp((b.steal - a.steal) / capacity, 0.0, 1.0)};
  }

 private:
  [[nodiscard]] double seconds(std::uint64_t ticks) const {
    return static_cast<double>(ticks) / static_cast<double>(ticks_per_s_);
  }

  [[nodiscard]] double server_seconds() const {
    if (pid_file_.empty())
      return 0;
    std::ifstream in{pid_file_};
    std::uint64_t postmaster = 0;
    if (!(in >> postmaster) || postmaster == 0)
      return 0;
    std::uint64_t ticks = 0;
    if (const auto f = stat_fields("/proc/" + std::to_string(postmaster) + "/stat"); f.size() > 14)
      ticks += f[11] + f[12] + f[13] + f[14];
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator{"/proc", ec}) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0])))
        continue;
      const auto f = stat_fields(entry.path().string() + "/stat");
      if (f.size() > 14 && f[1] == postmaster)
        ticks += f[11] + f[12] + f[13] + f[14];
    }
    return seconds(ticks);
  }

  std::string pid_file_;
  unsigned cpus_ = 0;
  long ticks_per_s_ = std::max(1L, ::sysconf(_SC_CLK_TCK));
};

// ---- results -----------------------------------------------------------------------------

struct sweep_point {
  std::size_t batch_size;
  milliseconds flush_interval;
  std::vector<double> rows_per_s;
  std::vector<double> rows_per_batch;
  summary rate;
};

struct latency_point {
  milliseconds flush_interval;
  summary visible_ms;          // complete_execution returned .. row completed in the database
  double transactions_per_s = 0;
};

struct outage_result {
  bool ran = false;
  std::string skipped;
  double seconds = 0;           // server down: kill .. restart command returned
  double kill_ms = 0, restart_ms = 0;
  double drain_seconds = 0;     // restart returned .. backlog 0
  std::size_t rss_idle = 0;     // the registry with its agents, before any load
  std::size_t rss_before = 0;   // last sample before the kill
  std::size_t rss_peak_down = 0;  // while the server was down
  std::size_t rss_peak = 0;     // kill .. backlog 0 (the figure reported)
  double rss_peak_at_s = 0;     // after the kill
  std::int64_t backlog_before = 0;  // last sample before the kill
  std::int64_t backlog_at_peak = 0;
  std::int64_t backlog_max = 0;
  std::size_t rss_first_half = 0, rss_second_half = 0;  // peaks of the two halves of the outage
  bool bounded = false;
  std::uint64_t started_before = 0, started_during = 0, started = 0, completed = 0;
  std::int64_t rows = 0, rows_completed = 0;
  std::int64_t retries = 0;
  std::string last_error;
  std::size_t samples = 0;
};

// One variant of the comparison: its rate per round and its ratios to the
// baselines measured in the same round.
struct variant_series {
  std::vector<double> rate, vs_copy, vs_seed1, vs_seed2;
  summary s_rate, s_copy, s_seed1, s_seed2;
  void finish() {
    s_rate = summarize(rate);
    s_copy = summarize(vs_copy);
    s_seed1 = summarize(vs_seed1);
    s_seed2 = summarize(vs_seed2);
  }
};

struct results {
  variant_series agentreg;       // at the defaults
  // Other batch sizes paired with the baselines (see measure_comparison).
  struct candidate {
    std::size_t batch_size = 0;
    variant_series series;
  };
  std::vector<candidate> candidates;
  std::size_t recommended_batch = 0;
  variant_series writer;         // diagnostic: batch_writer alone
  variant_series one_writer;     // the defaults but writer_connections 1
  std::vector<double> writers_gain;  // per round: defaults / one_writer
  summary s_writers_gain;
  std::vector<double> copy, seed1, seed2;
  summary s_copy, s_seed1, s_seed2;
  // The server's ceiling: raw COPY on 2 connections at once, and its ratio
  // to the seed on 2 connections (per round).
  std::vector<double> copy2, copy2_vs_seed2;
  summary s_copy2, s_copy2_vs_seed2;
  std::vector<double> produce_share;  // producers' share of the agentreg window
  std::vector<double> rows_per_batch;
  std::vector<double> destructor_ms;
  std::vector<cpu_share> round_cpu;
  cpu_share comparison_cpu, sweep_cpu;
  bool server_cpu_known = false;
  std::vector<sweep_point> sweep;
  std::vector<std::pair<std::size_t, double>> sweep_by_batch;  // median over its flush intervals
  std::size_t fastest_batch = 0;  // the single fastest point
  milliseconds fastest_flush{0};
  std::vector<latency_point> latency;
  outage_result outage;
  std::vector<std::string> problems;
};

// ---- part 5: choosing the defaults --------------------------------------------------------
//
// Runs before the comparison, so that the comparison can pair the best batch
// size with the baselines round by round.

void measure_sweep(const plan& p, server& srv, const cpu_meter& cpu, results& out) {
  std::printf("sweep at full load: %llu pairs from 2 threads per run, %d run(s) per setting (order reversed\n"
              "every other round); batch_size counts records (a start and a completion are two); the clock\n"
              "includes the tail, when the last partial batch waits up to one flush_interval\n",
              static_cast<unsigned long long>(p.sweep_rows), p.sweep_rounds);
  std::fflush(stdout);
  const auto cpu_start = cpu.read();
  for (auto batch : sweep_batch_sizes)
    for (auto flush : sweep_flush_intervals)
      out.sweep.push_back({batch, flush, {}, {}, {}});
  for (int round = 0; round < p.sweep_rounds; ++round) {
    std::vector<std::size_t> order(out.sweep.size());
    for (std::size_t i = 0; i < order.size(); ++i)
      order[i] = round % 2 == 0 ? i : order.size() - 1 - i;
    for (auto i : order) {
      auto& s = out.sweep[i];
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
  for (auto batch : sweep_batch_sizes) {
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

// ---- part 1-4: the comparison -------------------------------------------------------------

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
// there is at least 90 % of the default's. The sweep is short and runs once
// or twice per point, so it only rules out what is clearly slower; the
// paired rounds below decide among the rest.
std::vector<std::size_t> candidate_batches(const results& out, std::size_t default_batch) {
  double default_rate = 0;
  for (const auto& [batch, rate] : out.sweep_by_batch)
    if (batch == default_batch)
      default_rate = rate;
  std::vector<std::size_t> chosen;
  for (const auto& [batch, rate] : out.sweep_by_batch)
    if (batch != default_batch && rate >= 0.9 * default_rate)
      chosen.push_back(batch);
  return chosen;
}

void measure_comparison(const plan& p, server& srv, const cpu_meter& cpu, results& out) {
  const config defaults;
  for (auto batch : candidate_batches(out, defaults.batch_size))
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

// At light load batches never fill, so the flush interval alone decides how
// long a completion waits before it is in the database, and how many
// transactions per second the database sees. A paced producer keeps the
// engine busy; a probe completes an execution now and then and polls its row
// by primary key every millisecond.
void measure_latency(const plan& p, server& srv, results& out) {
  const config defaults;
  std::printf("light load: %u pairs/s from one paced thread, %d probes per flush interval (batch_size %zu):\n"
              "time from complete_execution() returning until its row reads completed in the database\n",
              p.light_pairs_per_s, p.latency_probes, defaults.batch_size);
  std::printf("  %10s %10s  %-22s %10s\n", "flush ms", "median ms", "[min .. max]", "tx/s");
  std::fflush(stdout);
  for (auto flush : sweep_flush_intervals) {
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

// ---- part 6: the outage ----------------------------------------------------------------------

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

void measure_outage(const plan& p, server& srv, support::scratch_cluster& cluster, results& out) {
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

// ---- JSON -------------------------------------------------------------------------------------

boost::json::object to_json(const cpu_share& c) {
  return {{"others", rounded(c.others, 3)}, {"steal", rounded(c.steal, 3)}};
}

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
      cluster.emplace(support::durability::durable);
      admin_url = cluster->url();
      std::printf("server: own scratch cluster (default durability) in %s, started in %.1f s\n",
                  cluster->dir().c_str(),
                  seconds_between(t, bench_clock::now()));
    }
    server srv{admin_url};
    server_description = srv.description();
    std::printf("server: %s at %s\n\n", server_description.c_str(), printable(admin_url).c_str());
    std::fflush(stdout);
    const cpu_meter cpu{cluster ? cluster->dir() + "/data/postmaster.pid" : std::string{}};
    r.server_cpu_known = cpu.server_known();

    // The outage first: its VmRSS figures should hold the engine under the
    // outage, not what the heap keeps from earlier parts.
    if (cluster)
      measure_outage(p, srv, *cluster, r);
    else {
      r.outage.skipped = "--url given: the suite kills only a server it started itself";
      std::printf("outage: skipped (%s)\n\n", r.outage.skipped.c_str());
    }
    measure_sweep(p, srv, cpu, r);
    measure_comparison(p, srv, cpu, r);
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
}  // namespace agentreg::bench
