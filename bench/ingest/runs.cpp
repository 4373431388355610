#include "bench/ingest/runs.hpp"

#include <algorithm>
#include <atomic>
#include <latch>
#include <memory>
#include <stdexcept>
#include <thread>

#include "bench/ingest/copy_baseline.hpp"
#include "bench/ingest/seed_baseline.hpp"
#include "bench/ingest/workload.hpp"
#include "persistence/batch_writer.hpp"

namespace agentreg::bench::ingest {

// ---- checks --------------------------------------------------------------------------

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
                       std::size_t writer_connections) {
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

// The end-to-end measure (its exact window: bench/ingest_bench.cpp, part 1).
ingest_result run_agentreg(pg_server& srv, std::uint64_t rows, std::size_t batch_size, milliseconds flush_interval,
                           const std::string& label, std::vector<std::string>& problems,
                           std::size_t writer_connections) {
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
double run_copy(pg_server& srv, std::uint64_t rows, std::vector<std::string>& problems, unsigned connections) {
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

double run_seed(pg_server& srv, unsigned connections, milliseconds length, std::vector<std::string>& problems) {
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
double run_writer_alone(pg_server& srv, std::uint64_t rows, std::size_t batch_size, std::vector<std::string>& problems) {
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

}  // namespace agentreg::bench::ingest
