// agentreg-bench soak [--quick]: a mixed fleet over HTTP against agentregd on
// PostgreSQL for 10 minutes (30 s with --quick; scripts/bench runs it in
// full runs only), with agentregd killed (SIGKILL) and restarted once and
// PostgreSQL killed (kill -9) and restarted once:
//   workers    4 threads, one keep-alive connection each, in a loop: acquire
//              a lease of one of two types (200 agents, 4 slots each), start
//              an execution on the agent granted, record a tool call for it,
//              complete it (tokens, cost; one in ten failed), heartbeat the
//              agent, release the lease
//   heartbeats all 200 agents every second in one POST /v1/heartbeats
//   queries    every 100 ms: performance by type, a page of agents, stats
//   watcher    GET /v1/watch long polls, counting the changes
// The timeline: agentregd SIGKILLed at 20 % of the run and restarted at
// once on the same port and database (it recovers what was committed);
// PostgreSQL killed at 35 % and restarted after 20 s (3 s with --quick)
// while the engine buffers; the second half runs undisturbed, so that the
// resident memory of agentregd can be judged flat or not (the mean of its
// last 10 % against the mean over 50-60 % of the run; target <= +5 %).
// Sampled every second: completions/s, requests/s, agentregd's VmRSS.
//
// Checks, at the end (agentregd stopped with SIGTERM, which flushes):
//   - no overbooking: a holder count per agent on the side (incremented when
//     a lease is granted, decremented before its release is sent) never
//     exceeds the capacity. The counts are kept per agentregd process (the
//     leases of a killed one are gone with it); an answer is attributed to a
//     process only when the process number read before the request equals
//     the one read after it (the number is 0 while agentregd is down).
//   - every execution the restarted agentregd acknowledged as completed is
//     a completed row in PostgreSQL, and so is every tool call it
//     acknowledged; for the killed one the executions it acknowledged but
//     had not committed at the SIGKILL (its write-behind window) are counted
//     and reported: write-behind acknowledges before the commit.
//   - the totals per agent, type and model in agent_performance_summary
//     equal SQL aggregates over the completed rows (recovery folds in what
//     the killed process committed after its last summary).
// Exit code 1 if a check fails.

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bench/clients/http_client.hpp"
#include "bench/http/agentregd_process.hpp"
#include "bench/pg_database.hpp"
#include "bench/suite.hpp"
#include "support/scratch_cluster.hpp"

namespace agentreg::bench {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::uint32_t fleet = 200;
constexpr int capacity = 4;
constexpr unsigned worker_threads = 4;
constexpr const char* types[] = {"soak-planner", "soak-coder"};
constexpr const char* models[] = {"gpt-4o-mini", "claude-3-5-haiku"};
// Process numbers: 0 while agentregd is down, 1 the first, 2 the restarted one.
constexpr int processes = 3;

struct plan {
  std::chrono::seconds duration;
  std::chrono::seconds postgresql_down;
};

plan make_plan(const options& o) { return o.quick ? plan{30s, 3s} : plan{600s, 20s}; }

constexpr double agentregd_kill_at = 0.20, postgresql_kill_at = 0.35;
constexpr double rss_reference_from = 0.50, rss_reference_to = 0.60, rss_end_from = 0.90;

std::string agent_id(std::uint32_t i) {
  char id[16];
  std::snprintf(id, sizeof id, "soak-%03u", i);
  return id;
}

std::size_t vm_rss_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoull(line.substr(6)) * 1024;
  return 0;
}

struct sample {
  double at_s = 0;
  int process = 0;
  double completions_per_s = 0, requests_per_s = 0;
  std::size_t rss = 0;
};

struct shared_state {
  // The process answering now (0: down). acquire/release: a worker that
  // reads a number also sees the port stored before it.
  std::atomic<int> process{1};
  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> stop{false};
  // held[process][agent]: leases granted and not yet released, on the side.
  std::array<std::unique_ptr<std::atomic<int>[]>, processes> held;
  // All relaxed counters: read by the sampler for rates, and after join.
  std::atomic<std::uint64_t> requests{0}, completions{0}, overbookings{0}, no_capacity{0}, refused_backlog{0},
      transport_errors{0}, unexpected{0}, queries{0}, heartbeat_batches{0}, watch_changes{0}, watch_compacted{0};
  std::mutex mutex;  // guards what follows
  std::array<std::vector<std::string>, processes> acked;  // completed executions, by process
  std::array<std::uint64_t, processes> tool_calls_acked{};
  std::vector<std::string> unexpected_answers;  // the first few

  shared_state() {
    for (auto& h : held) {
      h = std::make_unique<std::atomic<int>[]>(fleet);
      for (std::uint32_t i = 0; i < fleet; ++i)
        h[i].store(0, std::memory_order_relaxed);
    }
  }
  void note_unexpected(const std::string& what, const http_response& r) {
    unexpected.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock{mutex};
    if (unexpected_answers.size() < 5)
      unexpected_answers.push_back(what + ": HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200));
  }
};

// One connection to whichever agentregd runs; on a transport error the
// caller drops it and makes a new one once a process is up again.
class connection {
 public:
  explicit connection(shared_state& s) : state_(s) {}
  http_client& get() {
    if (!client_)
      client_.emplace("127.0.0.1", state_.port.load(std::memory_order_acquire));
    return *client_;
  }
  void drop() { client_.reset(); }

 private:
  shared_state& state_;
  std::optional<http_client> client_;
};

// Runs `body(process)` until stop, with the process number read before it;
// a transport error (a killed server) drops the connection and retries
// after a pause while no process is up.
template <class Body>
void loop(shared_state& s, connection& c, Body&& body) {
  while (!s.stop.load(std::memory_order_relaxed)) {
    const int process = s.process.load(std::memory_order_acquire);
    if (process == 0) {
      c.drop();
      std::this_thread::sleep_for(20ms);  // agentregd is being restarted; the main thread says when it is up
      continue;
    }
    try {
      body(process);
    } catch (const std::exception&) {
      s.transport_errors.fetch_add(1, std::memory_order_relaxed);
      c.drop();
      std::this_thread::sleep_for(20ms);  // the server died under us: give the restart a moment
    }
  }
}

// Decrements a holder count when the lease is given back or its holder
// gives up on it (a transport error mid-cycle).
struct holder {
  std::atomic<int>* count = nullptr;
  void give_back() {
    if (count != nullptr)
      count->fetch_sub(1, std::memory_order_relaxed);
    count = nullptr;
  }
  ~holder() { give_back(); }
};

void worker(shared_state& s, unsigned t) {
  connection c{s};
  std::uint64_t rng = 0x9E3779B97F4A7C15ull * (t + 1);
  const auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  std::array<std::vector<std::string>, processes> acked;
  std::array<std::uint64_t, processes> tools{};
  loop(s, c, [&](int process) {
    auto& http = c.get();
    const auto same_process = [&] { return s.process.load(std::memory_order_acquire) == process; };
    const char* type = types[next() % 2];
    s.requests.fetch_add(1, std::memory_order_relaxed);
    auto r = http.post("/v1/leases", json::serialize(json::object{{"agent_type", type}, {"ttl_ms", 60000}}));
    if (r.status == 409) {
      s.no_capacity.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (r.status != 201) {
      if (same_process())
        s.note_unexpected("acquire", r);
      return;
    }
    const auto lease = json::parse(r.body).as_object();
    const std::string lease_id{lease.at("lease_id").as_string()};
    const std::string agent{lease.at("agent_id").as_string()};
    const auto a = static_cast<std::uint32_t>(std::stoul(agent.substr(5)));
    // Granted by another process than the one read before (a restart in
    // between): not attributable, so neither counted nor used.
    if (!same_process())
      return;
    holder h{&s.held[static_cast<std::size_t>(process)][a]};
    // relaxed: the count is the only shared datum; its own order suffices.
    if (h.count->fetch_add(1, std::memory_order_relaxed) + 1 > capacity)
      s.overbookings.fetch_add(1, std::memory_order_relaxed);
    s.requests.fetch_add(1, std::memory_order_relaxed);
    r = http.post("/v1/executions",
                  json::serialize(json::object{{"agent_id", agent},
                                               {"task_type", "task-" + std::to_string(next() % 4)},
                                               {"run_id", "process-" + std::to_string(process)}}));
    if (r.status == 201) {
      const std::string execution{json::parse(r.body).as_object().at("execution_id").as_string()};
      s.requests.fetch_add(1, std::memory_order_relaxed);
      r = http.post("/v1/agents/" + agent + "/tools",
                    json::serialize(json::object{{"tool_name", next() % 2 ? "code_search" : "run_tests"},
                                                 {"execution_id", execution},
                                                 {"success_count", 1},
                                                 {"duration_ms", static_cast<double>(5 + next() % 50)}}));
      if (r.status == 200 && same_process())
        ++tools[static_cast<std::size_t>(process)];
      else if (r.status == 503)
        s.refused_backlog.fetch_add(1, std::memory_order_relaxed);
      else if (r.status != 200 && same_process())
        s.note_unexpected("tool call", r);
      const bool failed = next() % 10 == 0;
      s.requests.fetch_add(1, std::memory_order_relaxed);
      r = http.post("/v1/executions/" + execution + "/complete",
                    json::serialize(json::object{{"status", failed ? "failed" : "success"},
                                                 {"prompt_tokens", 100 + next() % 900},
                                                 {"completion_tokens", 20 + next() % 300},
                                                 {"estimated_cost_usd", static_cast<double>(next() % 5000) / 1e6}}));
      if (r.status == 200 && same_process()) {
        acked[static_cast<std::size_t>(process)].push_back(execution);
        s.completions.fetch_add(1, std::memory_order_relaxed);
      } else if (r.status == 503) {
        s.refused_backlog.fetch_add(1, std::memory_order_relaxed);
      } else if (r.status != 200 && same_process()) {
        s.note_unexpected("complete", r);
      }
    } else if (r.status == 503) {
      s.refused_backlog.fetch_add(1, std::memory_order_relaxed);
    } else if (same_process()) {
      s.note_unexpected("start", r);
    }
    s.requests.fetch_add(1, std::memory_order_relaxed);
    r = http.post("/v1/agents/" + agent + "/heartbeat", "{}");
    if (r.status != 200 && same_process())
      s.note_unexpected("heartbeat", r);
    h.give_back();
    s.requests.fetch_add(1, std::memory_order_relaxed);
    r = http.del("/v1/leases/" + lease_id);
    if (r.status != 204 && same_process())
      s.note_unexpected("release", r);
  });
  std::lock_guard lock{s.mutex};
  for (int p = 0; p < processes; ++p) {
    auto& into = s.acked[static_cast<std::size_t>(p)];
    into.insert(into.end(), acked[static_cast<std::size_t>(p)].begin(), acked[static_cast<std::size_t>(p)].end());
    s.tool_calls_acked[static_cast<std::size_t>(p)] += tools[static_cast<std::size_t>(p)];
  }
}

void heartbeats(shared_state& s) {
  connection c{s};
  json::array items;
  for (std::uint32_t i = 0; i < fleet; ++i)
    items.push_back(json::object{{"agent_id", agent_id(i)}});
  const std::string body = json::serialize(json::object{{"heartbeats", items}});
  loop(s, c, [&](int process) {
    s.requests.fetch_add(1, std::memory_order_relaxed);
    const auto r = c.get().post("/v1/heartbeats", body);
    if (r.status == 200)
      s.heartbeat_batches.fetch_add(1, std::memory_order_relaxed);
    else if (s.process.load(std::memory_order_acquire) == process)
      s.note_unexpected("heartbeats", r);
    std::this_thread::sleep_for(1s);  // the fleet's heartbeat period
  });
}

void queries(shared_state& s) {
  connection c{s};
  loop(s, c, [&](int process) {
    for (const char* target : {"/v1/performance?by=agent_type", "/v1/agents?agent_type=soak-coder&limit=100",
                               "/v1/stats"}) {
      s.requests.fetch_add(1, std::memory_order_relaxed);
      const auto r = c.get().get(target);
      if (r.status == 200)
        s.queries.fetch_add(1, std::memory_order_relaxed);
      else if (s.process.load(std::memory_order_acquire) == process)
        s.note_unexpected(target, r);
    }
    std::this_thread::sleep_for(100ms);  // a dashboard's query rate
  });
}

void watcher(shared_state& s) {
  connection c{s};
  std::string since = "0";
  int seen_process = 0;
  loop(s, c, [&](int process) {
    if (process != seen_process) {
      since = "0";  // another process: its revisions are its own
      seen_process = process;
    }
    s.requests.fetch_add(1, std::memory_order_relaxed);
    const auto r = c.get().get("/v1/watch?since=" + since + "&wait=1s");
    if (r.status != 200) {
      if (s.process.load(std::memory_order_acquire) == process)
        s.note_unexpected("watch", r);
      return;
    }
    const auto o = json::parse(r.body).as_object();
    if (o.at("compacted").as_bool() && since != "0")
      s.watch_compacted.fetch_add(1, std::memory_order_relaxed);
    s.watch_changes.fetch_add(o.at("changes").as_array().size(), std::memory_order_relaxed);
    since = std::to_string(o.at("revision").to_number<std::uint64_t>());
  });
}

std::string sql_list(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids)
    out += (out.empty() ? "'" : ",'") + id + "'";
  return out;
}

// Rows of `ids` (completed executions) found completed in the database.
std::size_t stored_of(const std::string& url, const std::vector<std::string>& ids) {
  std::size_t found = 0;
  for (std::size_t i = 0; i < ids.size(); i += 5000) {
    const std::vector<std::string> part(ids.begin() + static_cast<std::ptrdiff_t>(i),
                                        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + 5000)));
    found += static_cast<std::size_t>(scalar(url, "SELECT count(*) FROM agent_executions WHERE status <> 'running' "
                                                  "AND id IN (" + sql_list(part) + ")"));
  }
  return found;
}

// Summary rows of `dimension` that differ from SQL over the completed rows
// grouped by `column` (a side missing reads as zeros: a summary row of an
// agent with no execution yet equals no rows).
std::int64_t summary_mismatches(const std::string& url, const char* dimension, const char* column) {
  return scalar(url, std::string{"WITH s AS (SELECT key, total_executions, total_tokens_used, total_cost_micro_usd "
                                 "FROM agent_performance_summary WHERE dimension = '"} +
                         dimension + "'), a AS (SELECT " + column +
                         " AS key, count(*) AS n, sum(total_tokens) AS tokens, sum(cost_micro_usd) AS cost "
                         "FROM agent_executions WHERE status <> 'running' GROUP BY " + column +
                         ") SELECT count(*) FROM s FULL JOIN a ON a.key = s.key WHERE "
                         "coalesce(s.total_executions, 0) <> coalesce(a.n, 0) OR "
                         "coalesce(s.total_tokens_used, 0) <> coalesce(a.tokens, 0) OR "
                         "coalesce(s.total_cost_micro_usd, 0) <> coalesce(a.cost, 0)");
}

// Whether PostgreSQL at `url` answers a query within `limit` (tried every
// 200 ms: a server in crash recovery refuses connections until it is done).
bool answers_within(const std::string& url, std::chrono::seconds limit) {
  const auto deadline = bench_clock::now() + limit;
  for (;;) {
    try {
      (void)scalar(url, "SELECT 1");
      return true;
    } catch (const std::exception&) {
      if (bench_clock::now() > deadline)
        return false;
      std::this_thread::sleep_for(200ms);
    }
  }
}

// agentregd on `port` again; on any free port if that one cannot be bound
// (the workers read the port again when they reconnect).
std::unique_ptr<agentregd_process> restart(const std::vector<std::string>& args, std::uint16_t port) {
  try {
    return std::make_unique<agentregd_process>(AGENTREG_AGENTREGD, args, port);
  } catch (const std::exception& e) {
    std::printf("agentregd did not start on port %u again (%s); on another port\n", static_cast<unsigned>(port),
                e.what());
    return std::make_unique<agentregd_process>(AGENTREG_AGENTREGD, args);
  }
}

// Until GET /ready answers ready (recovery from PostgreSQL done), at most
// 120 s. Polled every 20 ms: the figure is the recovery time itself.
void wait_ready(std::uint16_t port) {
  http_client c{"127.0.0.1", port};
  const auto deadline = bench_clock::now() + 120s;
  while (bench_clock::now() < deadline) {
    const auto r = c.get("/ready");
    if (r.status == 200 && json::parse(r.body).as_object().at("ready").as_bool())
      return;
    std::this_thread::sleep_for(20ms);
  }
  throw std::runtime_error{"the restarted agentregd was not ready within 120 s"};
}

double mean_rss(const std::vector<sample>& samples, double from_s, double to_s) {
  double sum = 0;
  int n = 0;
  for (const auto& x : samples)
    if (x.at_s >= from_s && x.at_s < to_s && x.rss > 0) {
      sum += static_cast<double>(x.rss);
      ++n;
    }
  return n > 0 ? sum / n : 0;
}

int run_soak_suite(const options& opts) {
  const plan p = make_plan(opts);
  const double total_s = static_cast<double>(p.duration.count());
  const machine_info machine = describe_machine();
  std::vector<std::string> problems;
  std::vector<sample> samples;
  shared_state s;
  std::string server_description;
  double agentregd_recovery_s = 0, postgresql_restart_s = 0;
  double killed_at_s = 0, postgresql_killed_at_s = 0, postgresql_back_at_s = 0;
  std::array<std::size_t, processes> stored{};
  std::int64_t tool_rows_2 = -1, mismatches_agent = -1, mismatches_type = -1, mismatches_model = -1;
  int exit_status = -1;
  std::printf("agentreg-bench soak (%s): %lld s, %u agents x %d slots, %u workers + heartbeats + queries + watcher "
              "over HTTP\n",
              opts.quick ? "quick" : "full", static_cast<long long>(p.duration.count()), fleet, capacity,
              worker_threads);
  print_machine(machine);
  std::fflush(stdout);
  if (std::string{AGENTREG_AGENTREGD}.empty()) {
    std::printf("FAILED: agentregd was not built\n");
    return 1;
  }
  try {
    // --quick is a smoke test: fsync off spares a shared disk.
    support::scratch_cluster cluster{opts.quick ? support::durability::throwaway : support::durability::durable};
    pg_server srv{cluster.url()};
    server_description = srv.description();
    std::printf("postgresql: %s\n", server_description.c_str());
    scratch_database db{srv};
    const std::vector<std::string> args{"--database-url", db.url(), "--io-threads", "2",
                                        "--max-requests-per-second", "0", "--performance-update-interval-s", "5"};
    auto agentregd = std::make_unique<agentregd_process>(AGENTREG_AGENTREGD, args);
    wait_ready(agentregd->port());
    s.port.store(agentregd->port(), std::memory_order_release);
    std::printf("agentregd: %s (pid %d) on its database\n", agentregd->url().c_str(), static_cast<int>(agentregd->pid()));
    {
      http_client admin{"127.0.0.1", agentregd->port()};
      for (std::uint32_t i = 0; i < fleet; ++i) {
        const auto r = admin.post("/v1/agents", json::serialize(json::object{{"agent_id", agent_id(i)},
                                                                             {"agent_type", types[i % 2]},
                                                                             {"llm_provider", "bench"},
                                                                             {"model_name", models[(i / 2) % 2]},
                                                                             {"max_capacity", capacity}}));
        if (r.status != 200)
          throw std::runtime_error{"register " + agent_id(i) + ": HTTP " + std::to_string(r.status) + " " + r.body};
      }
    }
    std::fflush(stdout);
    std::vector<std::jthread> threads;
    // Destroyed before `threads` (declared after it): the threads see stop
    // before they are joined, also when this scope is left by an exception.
    struct stopper {
      shared_state& s;
      ~stopper() { s.stop.store(true, std::memory_order_relaxed); }
    } stop_on_exit{s};
    for (unsigned t = 0; t < worker_threads; ++t)
      threads.emplace_back([&s, t] { worker(s, t); });
    threads.emplace_back([&s] { heartbeats(s); });
    threads.emplace_back([&s] { queries(s); });
    threads.emplace_back([&s] { watcher(s); });

    const auto start = bench_clock::now();
    bool killed = false, postgresql_killed = false;
    std::string restarted_url, restart_error;
    // Joined before the cluster goes (declared after it).
    std::thread restarter;
    struct joiner {
      std::thread& t;
      ~joiner() {
        if (t.joinable())
          t.join();
      }
    } join_restarter{restarter};
    std::uint64_t last_completions = 0, last_requests = 0;
    auto last = start;
    for (int second = 1;; ++second) {
      std::this_thread::sleep_until(start + std::chrono::seconds{second});  // the sampling period
      const auto now = bench_clock::now();
      const double at = seconds_between(start, now);
      const auto completions = s.completions.load(std::memory_order_relaxed);
      const auto requests = s.requests.load(std::memory_order_relaxed);
      const double dt = seconds_between(last, now);
      samples.push_back({at, s.process.load(), static_cast<double>(completions - last_completions) / dt,
                         static_cast<double>(requests - last_requests) / dt, vm_rss_of(agentregd->pid())});
      last_completions = completions;
      last_requests = requests;
      last = now;
      report_progress("soak", at / total_s,
                      std::to_string(static_cast<int>(at)) + " s, " + std::to_string(completions) + " executions");
      if (at >= total_s)
        break;
      if (!killed && at >= agentregd_kill_at * total_s) {
        killed = true;
        killed_at_s = at;
        const auto port = agentregd->port();
        s.process.store(0, std::memory_order_release);
        agentregd->kill();
        std::printf("%.0f s: agentregd SIGKILLed\n", at);
        const auto t = bench_clock::now();
        agentregd.reset();
        agentregd = restart(args, port);
        wait_ready(agentregd->port());
        agentregd_recovery_s = seconds_between(t, bench_clock::now());
        s.port.store(agentregd->port(), std::memory_order_release);
        s.process.store(2, std::memory_order_release);
        std::printf("%.0f s: agentregd restarted (pid %d) after %.2f s (recovery included)\n",
                    seconds_between(start, bench_clock::now()), static_cast<int>(agentregd->pid()),
                    agentregd_recovery_s);
      }
      if (!postgresql_killed && at >= postgresql_kill_at * total_s) {
        postgresql_killed = true;
        postgresql_killed_at_s = at;
        cluster.kill();
        std::printf("%.0f s: PostgreSQL killed (kill -9)\n", at);
      }
      if (postgresql_killed && !restarter.joinable() &&
          at >= postgresql_killed_at_s + static_cast<double>(p.postgresql_down.count()))
        // On a thread of its own: crash recovery takes seconds, and the
        // samples go on meanwhile.
        restarter = std::thread{[&] {
          const auto t = bench_clock::now();
          try {
            restarted_url = cluster.restart();
          } catch (const std::exception& e) {
            // pg_ctl gives up after 60 s, and crash recovery on a loaded
            // machine can take longer (72 s in the first full run): the
            // server is still coming up, so wait for it to answer.
            if (!answers_within(cluster.url(), 300s)) {
              restart_error = e.what();
              return;
            }
            restarted_url = cluster.url();
          }
          postgresql_restart_s = seconds_between(t, bench_clock::now());
          postgresql_back_at_s = seconds_between(start, bench_clock::now());
          std::printf("%.0f s: PostgreSQL restarted in %.2f s\n", postgresql_back_at_s, postgresql_restart_s);
          std::fflush(stdout);
        }};
      std::fflush(stdout);
    }
    if (restarter.joinable())
      restarter.join();
    if (!postgresql_killed || restarted_url.empty())
      throw std::runtime_error{"PostgreSQL was not killed and restarted: " + restart_error};
    if (restarted_url != cluster.url())
      throw std::runtime_error{"PostgreSQL came back on another port (" + printable(restarted_url) + ")"};
    s.stop.store(true, std::memory_order_relaxed);
    for (auto& t : threads)
      t.join();
    report_progress("soak", 0.99, "stopping agentregd, checking PostgreSQL");
    exit_status = agentregd->stop();
    if (exit_status != 0)
      problems.push_back("agentregd exited with status " + std::to_string(exit_status) + " on SIGTERM");
    for (int k = 1; k < processes; ++k)
      stored[static_cast<std::size_t>(k)] = stored_of(db.url(), s.acked[static_cast<std::size_t>(k)]);
    tool_rows_2 = scalar(db.url(), "SELECT count(*) FROM agent_tool_calls t JOIN agent_executions e ON e.id = "
                                   "t.execution_id WHERE e.run_id = 'process-2'");
    mismatches_agent = summary_mismatches(db.url(), "agent", "agent_id");
    mismatches_type = summary_mismatches(db.url(), "agent_type", "agent_type");
    mismatches_model = summary_mismatches(db.url(), "model", "model_name");
  } catch (const std::exception& e) {
    s.stop.store(true, std::memory_order_relaxed);
    problems.push_back(std::string{"aborted: "} + e.what());
  }

  const auto acked = [&](int k) { return s.acked[static_cast<std::size_t>(k)].size(); };
  const std::size_t lost_at_kill = acked(1) - std::min(acked(1), stored[1]);
  if (s.overbookings.load() != 0)
    problems.push_back(std::to_string(s.overbookings.load()) + " overbookings");
  if (stored[2] != acked(2))
    problems.push_back("the restarted agentregd acknowledged " + std::to_string(acked(2)) +
                       " completed executions; PostgreSQL holds " + std::to_string(stored[2]) + " of them");
  if (tool_rows_2 >= 0 && static_cast<std::uint64_t>(tool_rows_2) != s.tool_calls_acked[2])
    problems.push_back("the restarted agentregd acknowledged " + std::to_string(s.tool_calls_acked[2]) +
                       " tool calls; PostgreSQL holds " + std::to_string(tool_rows_2));
  if (mismatches_agent != 0 || mismatches_type != 0 || mismatches_model != 0)
    problems.push_back("summary totals differ from SQL over the rows: " + std::to_string(mismatches_agent) +
                       " agents, " + std::to_string(mismatches_type) + " types, " + std::to_string(mismatches_model) +
                       " models");
  if (s.unexpected.load() != 0)
    problems.push_back(std::to_string(s.unexpected.load()) + " unexpected answers" +
                       (s.unexpected_answers.empty() ? "" : " (first: " + s.unexpected_answers.front() + ")"));
  if (s.completions.load() == 0)
    problems.push_back("no execution completed");
  // Memory after warm-up, the second half being undisturbed.
  const double rss_reference = mean_rss(samples, rss_reference_from * total_s, rss_reference_to * total_s);
  const double rss_end = mean_rss(samples, rss_end_from * total_s, total_s + 1);
  const double rss_growth = rss_reference > 0 ? rss_end / rss_reference - 1 : 0;
  std::size_t rss_peak = 0;
  for (const auto& x : samples)
    rss_peak = std::max(rss_peak, x.rss);
  std::vector<double> rates;
  for (const auto& x : samples)
    rates.push_back(x.completions_per_s);
  const auto rate = summarize(rates);

  std::printf("executions: %llu completed and acknowledged (%.0f/s median [%.0f .. %.0f] per second), %llu requests, "
              "%llu no_capacity, %llu refused (backlog), %llu transport errors (the kills)\n",
              static_cast<unsigned long long>(s.completions.load()), rate.median, rate.min, rate.max,
              static_cast<unsigned long long>(s.requests.load()), static_cast<unsigned long long>(s.no_capacity.load()),
              static_cast<unsigned long long>(s.refused_backlog.load()),
              static_cast<unsigned long long>(s.transport_errors.load()));
  std::printf("first agentregd (SIGKILLed at %.0f s): %zu acknowledged, %zu in PostgreSQL, %zu lost (acknowledged, "
              "not yet committed: the write-behind window)\n",
              killed_at_s, acked(1), stored[1], lost_at_kill);
  std::printf("restarted agentregd (recovered in %.2f s; PostgreSQL down %.0f .. %.0f s): %zu acknowledged, %zu in "
              "PostgreSQL; tool calls %llu acknowledged, %lld stored\n",
              agentregd_recovery_s, postgresql_killed_at_s, postgresql_back_at_s, acked(2), stored[2],
              static_cast<unsigned long long>(s.tool_calls_acked[2]), static_cast<long long>(tool_rows_2));
  std::printf("summary totals vs SQL: %lld agents, %lld types, %lld models differ; overbookings %llu; watcher saw "
              "%llu changes (%llu compactions); %llu queries\n",
              static_cast<long long>(mismatches_agent), static_cast<long long>(mismatches_type),
              static_cast<long long>(mismatches_model), static_cast<unsigned long long>(s.overbookings.load()),
              static_cast<unsigned long long>(s.watch_changes.load()),
              static_cast<unsigned long long>(s.watch_compacted.load()),
              static_cast<unsigned long long>(s.queries.load()));
  std::printf("agentregd VmRSS: %.1f MB at %.0f-%.0f %%, %.1f MB over the last 10 %%: %+.1f %% (target <= +5 %%: %s); "
              "peak %.1f MB\n",
              rss_reference / 1e6, rss_reference_from * 100, rss_reference_to * 100, rss_end / 1e6, rss_growth * 100,
              rss_growth <= 0.05 ? "met" : "NOT met", static_cast<double>(rss_peak) / 1e6);
  for (const auto& problem : problems)
    std::printf("FAILED: %s\n", problem.c_str());
  std::fflush(stdout);
  if (opts.json) {
    json::array timeline;
    for (const auto& x : samples)
      timeline.push_back(json::array{rounded(x.at_s, 1), x.process, whole(x.completions_per_s),
                                     whole(x.requests_per_s), x.rss});
    json::object j{{"suite", "soak"},
                   {"ok", problems.empty()},
                   {"quick", opts.quick},
                   {"machine", to_json(machine)},
                   {"server", server_description},
                   {"seconds", p.duration.count()},
                   {"agents", fleet},
                   {"capacity", capacity},
                   {"workers", worker_threads},
                   {"executions_acknowledged", s.completions.load()},
                   {"executions_per_s", to_json(rate, 0)},
                   {"requests", s.requests.load()},
                   {"no_capacity", s.no_capacity.load()},
                   {"refused_backlog", s.refused_backlog.load()},
                   {"transport_errors", s.transport_errors.load()},
                   {"overbookings", s.overbookings.load()},
                   {"agentregd_killed_at_s", rounded(killed_at_s, 1)},
                   {"agentregd_restart_s", rounded(agentregd_recovery_s, 2)},
                   {"postgresql_down_from_s", rounded(postgresql_killed_at_s, 1)},
                   {"postgresql_back_at_s", rounded(postgresql_back_at_s, 1)},
                   {"killed_acknowledged", acked(1)},
                   {"killed_stored", stored[1]},
                   {"killed_lost_write_behind", lost_at_kill},
                   {"restarted_acknowledged", acked(2)},
                   {"restarted_stored", stored[2]},
                   {"restarted_tool_calls_acknowledged", s.tool_calls_acked[2]},
                   {"restarted_tool_calls_stored", tool_rows_2},
                   {"summary_mismatches", json::object{{"agent", mismatches_agent},
                                                       {"agent_type", mismatches_type},
                                                       {"model", mismatches_model}}},
                   {"watch_changes", s.watch_changes.load()},
                   {"watch_compactions", s.watch_compacted.load()},
                   {"queries", s.queries.load()},
                   {"rss_reference_bytes", whole(rss_reference)},
                   {"rss_end_bytes", whole(rss_end)},
                   {"rss_growth", rounded(rss_growth, 4)},
                   {"rss_flat", rss_growth <= 0.05},
                   {"rss_peak_bytes", rss_peak},
                   {"exit_status", exit_status},
                   {"timeline_columns", json::array{"at_s", "process", "executions_per_s", "requests_per_s",
                                                    "rss_bytes"}},
                   {"timeline", std::move(timeline)}};
    add_problems(j, problems);
    emit_json_line(j);
  }
  return problems.empty() ? 0 : 1;
}

[[maybe_unused]] const bool registered = register_suite(
    {"soak", "10 min mixed fleet over HTTP; agentregd SIGKILLed and PostgreSQL killed once; rows and totals checked",
     &run_soak_suite});

}  // namespace
}  // namespace agentreg::bench
