// Part 7: the same executions through agentregd (the binary built beside
// agentreg-bench, on a fresh database of the suite's server, its defaults:
// the same batch_size, flush_interval and writer_connections as the
// in-process runs). 4 client threads, one keep-alive connection each
// (HTTP clients wait on a round trip per call, so it takes more of them
// than the 2 in-process producers to keep the engine busy), each making its
// share of start + complete pairs (POST /v1/executions, POST
// .../complete with the workload's tokens and cost). Timed from the
// clients' release until GET /v1/stats reads a persistence backlog of 0
// (every record committed), as the in-process run stops at
// stats().persistence_backlog 0. Each round pairs it with the in-process
// run and raw COPY of the same rows, in alternating order.

#include <atomic>
#include <cstdio>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bench/clients/http_client.hpp"
#include "bench/http/agentregd_process.hpp"
#include "bench/ingest/parts.hpp"
#include "bench/pg_database.hpp"
#include "bench/ingest/runs.hpp"
#include "bench/ingest/workload.hpp"

namespace agentreg::bench::ingest {
namespace {

namespace json = boost::json;

constexpr unsigned http_clients = 4;

std::int64_t backlog_of(http_client& c) {
  const auto r = c.get("/v1/stats");
  if (r.status != 200)
    throw std::runtime_error{"GET /v1/stats: HTTP " + std::to_string(r.status)};
  return json::parse(r.body).as_object().at("persistence").as_object().at("backlog").to_number<std::int64_t>();
}

// Polls (every poll_interval, the measurement's resolution) until the
// backlog reads 0; false at `deadline`.
bool wait_for_http_backlog_zero(http_client& c, bench_clock::time_point deadline) {
  while (backlog_of(c) != 0) {
    if (bench_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(poll_interval);
  }
  return true;
}

double run_over_http(pg_server& srv, std::uint64_t rows, std::vector<std::string>& problems) {
  scratch_database db{srv};
  agentregd_process server{AGENTREG_AGENTREGD, {"--database-url", db.url(), "--max-requests-per-second", "0"}};
  http_client admin{"127.0.0.1", server.port()};
  for (std::uint32_t i = 0; i < agent_count; ++i) {
    const auto s = spec_of(i);
    const auto r = admin.post("/v1/agents", json::serialize(json::object{{"agent_id", s.agent_id},
                                                                         {"agent_type", s.agent_type},
                                                                         {"llm_provider", s.llm_provider},
                                                                         {"model_name", s.model_name},
                                                                         {"max_capacity", s.max_capacity}}));
    if (r.status != 200)
      throw std::runtime_error{"agentregd register " + s.agent_id + ": HTTP " + std::to_string(r.status)};
  }
  if (!wait_for_http_backlog_zero(admin, bench_clock::now() + drain_deadline))
    throw std::runtime_error{"agentregd: the agents' rows were not committed"};

  const std::string start_body = json::serialize(json::object{{"task_type", task_type}, {"workflow_slug", workflow_slug}});
  const std::string complete_body = json::serialize(json::object{{"status", "success"},
                                                                 {"prompt_tokens", prompt_tokens},
                                                                 {"completion_tokens", completion_tokens},
                                                                 {"estimated_cost_usd", cost_usd}});
  std::latch go{1};
  std::atomic<std::uint64_t> failures{0};
  std::vector<std::thread> clients;
  for (unsigned t = 0; t < http_clients; ++t)
    clients.emplace_back([&, t] {
      http_client c{"127.0.0.1", server.port()};
      const std::uint64_t pairs = rows / http_clients + (t < rows % http_clients ? 1 : 0);
      std::uint32_t agent = t * (agent_count / http_clients);
      go.wait();
      for (std::uint64_t i = 0; i < pairs; ++i) {
        // The agent's id goes first: the body is the workload's otherwise.
        const auto r = c.post("/v1/executions", "{\"agent_id\":\"" + agent_id(agent) + "\"," + start_body.substr(1));
        const auto ok =
            r.status == 201 &&
            c.post("/v1/executions/" +
                       std::string{json::parse(r.body).as_object().at("execution_id").as_string()} + "/complete",
                   complete_body)
                    .status == 200;
        if (!ok)
          failures.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after join
        agent = agent + 1 == agent_count ? 0 : agent + 1;
      }
    });
  const auto start = bench_clock::now();
  go.count_down();
  for (auto& c : clients)
    c.join();
  const bool drained = wait_for_http_backlog_zero(admin, bench_clock::now() + drain_deadline);
  const double seconds = seconds_between(start, bench_clock::now());
  if (failures.load() != 0)
    problems.push_back("over HTTP: " + std::to_string(failures.load()) + " start/complete calls failed");
  if (!drained)
    problems.push_back("over HTTP: the backlog did not drain");
  check_executions(db.url(), static_cast<std::int64_t>(rows), "over HTTP", problems);
  return seconds > 0 ? static_cast<double>(rows) / seconds : 0;
}

}  // namespace

void measure_over_http(const plan& p, pg_server& srv, results& out) {
  if (std::string{AGENTREG_AGENTREGD}.empty()) {
    out.http_skipped = "agentregd was not built";
    std::printf("over HTTP: skipped (%s)\n\n", out.http_skipped.c_str());
    return;
  }
  const config defaults;
  std::printf("over HTTP: %llu pairs from %u connections to agentregd, against in process and COPY, %d rounds\n",
              static_cast<unsigned long long>(p.http_rows), http_clients, p.http_rounds);
  for (int round = 0; round < p.http_rounds; ++round) {
    report_progress("ingest", 0.9 + 0.05 * round / p.http_rounds,
                    "over HTTP round " + std::to_string(round + 1) + "/" + std::to_string(p.http_rounds));
    double http = 0, in_process = 0, copy = 0;
    const auto run_http = [&] { http = run_over_http(srv, p.http_rows, out.problems); };
    const auto run_in_process = [&] {
      in_process = run_agentreg(srv, p.http_rows, defaults.batch_size, defaults.flush_interval, "in process (HTTP rounds)",
                                out.problems)
                       .rows_per_s();
    };
    const auto run_raw_copy = [&] { copy = run_copy(srv, p.http_rows, out.problems); };
    if (round % 2 == 0) {
      run_http();
      run_in_process();
      run_raw_copy();
    } else {
      run_raw_copy();
      run_in_process();
      run_http();
    }
    out.http.rate.push_back(http);
    out.http_vs_in_process.push_back(in_process > 0 ? http / in_process : 0);
    out.http.vs_copy.push_back(copy > 0 ? http / copy : 0);
    std::printf("  round %d: over HTTP %.0f rows/s, in process %.0f, COPY %.0f\n", round + 1, http, in_process, copy);
  }
  out.http.finish();
  out.s_http_vs_in_process = summarize(out.http_vs_in_process);
  std::printf("over HTTP: %.0f rows/s, x%.2f of in process, x%.2f of COPY\n\n", out.http.s_rate.median,
              out.s_http_vs_in_process.median, out.http.s_copy.median);
  std::fflush(stdout);
}

}  // namespace agentreg::bench::ingest
