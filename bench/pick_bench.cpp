// agentreg-bench pick [--redis HOST:PORT] [--etcd URL] [--url URL]: pick
// and reserve the least-loaded agent among 1 000 of one type, then give
// the slot back, with what a user would pick instead of agentreg.
//
// Variants (bench/pick/, one file each), each on the same fleet
// (bench/pick/fleet.hpp: capacities 1..8, every agent at capacity - 1, so
// every pick takes an agent's last free slot):
//   agentreg                 registry::acquire + release, in-process
//   agentreg_http            the same over HTTP: POST /v1/leases, DELETE /v1/leases/{id}
//                            against a running agentregd (--agentregd URL)
//   mutex_set                std::mutex + std::set by load/capacity, in-process
//   redis_lua                Redis, one Lua script per pick and per release
//                            (EVALSHA), the release pipelined with the next pick
//   postgresql               PostgreSQL, SELECT ... ORDER BY load/capacity LIMIT 1
//                            FOR UPDATE SKIP LOCKED + UPDATE in one prepared
//                            statement per pick, one per release; synchronous_commit on
//   postgresql_async_commit  the same with synchronous_commit off
//   etcd_txn                 etcd v3 JSON gateway: a range sorted by value, a
//                            transaction on the key's mod revision, retried on conflict
// on 1 and 2 client threads (one connection each), in alternating rounds:
// the order of the variants is reversed every other round, and each
// variant's rate is divided by agentreg's of the same round (ratios per
// round pair, then median and spread). Redis and etcd run when given
// (scripts/bench starts both); PostgreSQL is --url or a cluster of the
// suite's own with the default durability (--quick: fsync off).
//
// Checks, every round: overbookings (a holder count kept on the side by
// the clients: more holders than capacity at any moment), lost updates
// (the store's total load after the round differs from the preload), and
// failures. Each must be 0 for agentreg; exit code 1 if not, or if a
// baseline overbooks or loses updates (they are all atomic designs).

#include <algorithm>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "bench/clients/http_client.hpp"
#include "bench/pg_database.hpp"
#include "bench/pick/variants.hpp"
#include "bench/suite.hpp"
#include "support/scratch_cluster.hpp"

namespace agentreg::bench::pick {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

struct plan {
  int rounds;
  milliseconds local_round;   // in-process variants
  milliseconds remote_round;  // over the network
};

plan make_plan(const options& o) {
  if (o.quick)
    return {2, 50ms, 100ms};
  // Even: as many rounds in each order. A second over the network is
  // thousands of pairs for every variant but etcd (a hundred or so); the
  // suite takes about 2 minutes of scripts/bench's 30.
  return {6, 500ms, 1000ms};
}

constexpr unsigned thread_counts[] = {1, 2};
// Pairs between two looks at the stop flag, in-process (a pair is ~100 ns).
constexpr unsigned local_batch = 64;

// Targets of the issue, at 2 threads: agentreg / baseline. Redis is held to
// it both ways a client calls it (each reply awaited, or the release
// pipelined with the next pick).
const std::map<std::string, double> targets_2t{
    {"redis_lua", 300}, {"redis_lua_pipelined", 300}, {"postgresql", 1000}, {"etcd_txn", 3000}};
// agentreg over HTTP against Redis over loopback: both a network hop, each
// pair compared with the Redis variant that makes the same round trips.
constexpr double http_vs_redis_target = 1.0;
const std::pair<const char*, const char*> http_vs_redis_pairs[] = {
    {"agentreg_http", "redis_lua"}, {"agentreg_http_pipelined", "redis_lua_pipelined"}};

struct cell {  // one variant at one thread count
  std::vector<double> rate, vs_agentreg;  // per round
  std::uint64_t pairs = 0, overbookings = 0, lost_updates = 0, failures = 0, conflicts = 0;
  std::vector<std::string> errors;
};

struct entry {
  std::unique_ptr<variant> v;
  std::map<unsigned, cell> by_threads;
};

// One timed round of `v` on `threads` clients; adds to `c`.
double run_one(variant& v, unsigned threads, const plan& p, cell& c) {
  holder_count holders;
  std::vector<std::unique_ptr<client>> clients;
  for (unsigned t = 0; t < threads; ++t)
    clients.push_back(v.connect());  // before the timed window
  std::atomic<std::uint64_t> overbooked{0};
  std::mutex errors_mutex;
  const bool remote = v.remote();
  const auto r = run_round(threads, remote ? p.remote_round : p.local_round,
                           [&](unsigned t, const std::atomic<bool>& stop) {
                             thread_tally tally;
                             client& cl = *clients[t];
                             const unsigned per_check = remote ? 1 : local_batch;
                             try {
                               // relaxed: a plain stop request (run_round).
                               while (!stop.load(std::memory_order_relaxed))
                                 for (unsigned k = 0; k < per_check; ++k) {
                                   const auto a = cl.acquire();
                                   if (!a) {
                                     ++tally.failures;
                                     continue;
                                   }
                                   if (holders.take(*a))
                                     overbooked.fetch_add(1, std::memory_order_relaxed);  // read after join
                                   holders.give(*a);
                                   cl.release(*a);
                                   ++tally.ops;
                                 }
                               cl.finish();
                             } catch (const std::exception& e) {
                               ++tally.failures;
                               std::lock_guard guard{errors_mutex};
                               c.errors.emplace_back(e.what());
                             }
                             return tally;
                           },
                           /*allow_pinning=*/!remote);
  c.pairs += r.ops;
  c.failures += r.failures;
  c.overbookings += overbooked.load();
  for (const auto& cl : clients)
    c.conflicts += cl->conflicts();
  clients.clear();
  const std::int64_t lost = total_preload() - v.total_load();
  if (lost != 0) {
    c.lost_updates += static_cast<std::uint64_t>(lost < 0 ? -lost : lost);
    v.reset();
  }
  c.rate.push_back(r.ops_per_s());
  return r.ops_per_s();
}

boost::json::object to_json(const cell& c) {
  boost::json::object o{{"pairs_per_s", to_json(summarize(c.rate), 0)},
                        {"pairs", c.pairs},
                        {"overbookings", c.overbookings},
                        {"lost_updates", c.lost_updates},
                        {"failures", c.failures},
                        {"conflicts", c.conflicts}};
  if (!c.vs_agentreg.empty())
    o["agentreg_ratio"] = to_json(summarize(c.vs_agentreg), 3);
  if (!c.errors.empty())
    o["first_error"] = c.errors.front();
  return o;
}

int run_pick_suite(const options& opts) {
  const plan p = make_plan(opts);
  const machine_info machine = describe_machine();
  const double round_trip_ns = cache_line_round_trip_ns();
  std::vector<std::string> problems;
  std::map<std::string, std::string> skipped, versions;

  std::printf("agentreg-bench pick (%s): pick + reserve the least-loaded of %u agents of one type, then release\n",
              opts.quick ? "quick" : "full", agent_count);
  print_machine(machine);
  std::printf("cache line CPU 0 -> 1 -> 0: %.0f ns\n", round_trip_ns);
  std::fflush(stdout);

  // Declared in this order so that they go in the reverse one: the
  // variants (the PostgreSQL ones drop their database) before the server.
  std::optional<support::scratch_cluster> cluster;
  std::optional<pg_server> pg;
  std::vector<entry> entries;
  try {
    entries.push_back({make_agentreg_variant(), {}});
    entries.push_back({make_mutex_set_variant(), {}});
    if (!opts.agentregd.empty()) {
      entries.push_back({make_agentreg_http_variant(opts.agentregd, false), {}});
      entries.push_back({make_agentreg_http_variant(opts.agentregd, true), {}});
    } else {
      skipped["agentreg_http"] = "no --agentregd given";
    }
    if (!opts.redis.empty()) {
      std::string host;
      std::uint16_t port = 0;
      split_host_port(opts.redis, host, port);
      entries.push_back({make_redis_variant(host, port, false), {}});
      entries.push_back({make_redis_variant(host, port, true), {}});
    } else {
      skipped["redis_lua"] = "no --redis given";
    }
    std::string admin_url = opts.url;
    if (admin_url.empty()) {
      // --quick is a smoke test: fsync off spares a shared disk; the figures are not quoted.
      cluster.emplace(opts.quick ? support::durability::throwaway : support::durability::durable);
      admin_url = cluster->url();
    }
    pg.emplace(admin_url);
    std::printf("postgresql: %s at %s\n", pg->description().c_str(), printable(admin_url).c_str());
    entries.push_back({make_postgresql_variant(*pg, true), {}});
    entries.push_back({make_postgresql_variant(*pg, false), {}});
    if (!opts.etcd.empty())
      entries.push_back({make_etcd_variant(opts.etcd), {}});
    else
      skipped["etcd_txn"] = "no --etcd given";
    for (auto& e : entries)
      if (auto version = e.v->server_version(); !version.empty())
        versions[e.v->key()] = version;
  } catch (const std::exception& e) {
    problems.push_back(std::string{"setup: "} + e.what());
  }
  for (const auto& [key, why] : skipped)
    std::printf("skipped: %s (%s)\n", key.c_str(), why.c_str());
  std::printf("rounds: %d per thread count, %lld ms in-process, %lld ms over the network; order reversed every\n"
              "other round\n\n",
              p.rounds, static_cast<long long>(p.local_round.count()),
              static_cast<long long>(p.remote_round.count()));
  std::fflush(stdout);

  const std::size_t steps = std::size(thread_counts) * static_cast<std::size_t>(p.rounds) * entries.size();
  std::size_t step = 0;
  if (problems.empty())
    for (unsigned threads : thread_counts)
      for (int round = 0; round < p.rounds; ++round) {
        std::vector<std::size_t> order(entries.size());
        for (std::size_t i = 0; i < order.size(); ++i)
          order[i] = round % 2 == 0 ? i : order.size() - 1 - i;
        std::map<std::string, double> rates;
        for (auto i : order) {
          auto& e = entries[i];
          report_progress("pick", static_cast<double>(step++) / static_cast<double>(steps),
                          e.v->key() + " " + std::to_string(threads) + "t round " + std::to_string(round + 1) +
                              "/" + std::to_string(p.rounds));
          rates[e.v->key()] = run_one(*e.v, threads, p, e.by_threads[threads]);
        }
        for (auto& e : entries)
          if (e.v->key() != "agentreg" && rates[e.v->key()] > 0)
            e.by_threads[threads].vs_agentreg.push_back(rates["agentreg"] / rates[e.v->key()]);
      }

  // The table.
  std::printf("%-26s %8s %14s  %-26s %12s %6s %6s %6s\n", "variant", "threads", "pairs/s", "[min .. max]",
              "agentreg x", "over", "lost", "fail");
  for (const auto& e : entries)
    for (const auto& [threads, c] : e.by_threads) {
      const auto s = summarize(c.rate);
      const auto ratio = summarize(c.vs_agentreg);
      char ratio_text[32] = "";
      if (!c.vs_agentreg.empty())
        std::snprintf(ratio_text, sizeof ratio_text, ratio.median < 10 ? "x%.2f" : "x%.0f", ratio.median);
      std::printf("%-26s %8u %14.0f  [%10.0f .. %10.0f] %12s %6llu %6llu %6llu\n", e.v->key().c_str(), threads,
                  s.median, s.min, s.max, ratio_text, static_cast<unsigned long long>(c.overbookings),
                  static_cast<unsigned long long>(c.lost_updates), static_cast<unsigned long long>(c.failures));
      if (c.overbookings != 0 || c.lost_updates != 0)
        problems.push_back(e.v->key() + " at " + std::to_string(threads) + " threads: " +
                           std::to_string(c.overbookings) + " overbookings, " + std::to_string(c.lost_updates) +
                           " lost updates");
      if (c.failures != 0)
        problems.push_back(e.v->key() + " at " + std::to_string(threads) + " threads: " +
                           std::to_string(c.failures) + " failed picks" +
                           (c.errors.empty() ? std::string{} : " (" + c.errors.front() + ")"));
      if (c.conflicts != 0)
        std::printf("%-26s %8s %llu retries after a conflict (%.2f per pair)\n", "", "",
                    static_cast<unsigned long long>(c.conflicts),
                    c.pairs > 0 ? static_cast<double>(c.conflicts) / static_cast<double>(c.pairs) : 0.0);
    }
  boost::json::object targets;
  for (const auto& e : entries) {
    const auto it = targets_2t.find(e.v->key());
    const auto c = e.by_threads.find(2);
    if (it == targets_2t.end() || c == e.by_threads.end())
      continue;
    const double ratio = summarize(c->second.vs_agentreg).median;
    std::printf("target: agentreg / %s at 2 threads x%.0f >= %.0f: %s\n", e.v->key().c_str(), ratio, it->second,
                ratio >= it->second ? "met" : "NOT met");
    targets[e.v->key()] = boost::json::object{{"min", it->second}, {"measured", rounded(ratio, 1)},
                                              {"met", ratio >= it->second}};
  }
  for (const auto& [http_key, redis_key] : http_vs_redis_pairs) {
    const entry* http = nullptr;
    const entry* redis = nullptr;
    for (const auto& e : entries) {
      if (e.v->key() == http_key)
        http = &e;
      if (e.v->key() == redis_key)
        redis = &e;
    }
    if (http != nullptr && redis != nullptr && http->by_threads.count(2) && redis->by_threads.count(2)) {
      // Per round: agentreg/redis over agentreg/http is http/redis.
      const auto& h = http->by_threads.at(2).vs_agentreg;
      const auto& r = redis->by_threads.at(2).vs_agentreg;
      std::vector<double> per_round;
      for (std::size_t i = 0; i < std::min(h.size(), r.size()); ++i)
        per_round.push_back(h[i] > 0 ? r[i] / h[i] : 0);
      const double ratio = summarize(per_round).median;
      std::printf("target: %s / %s at 2 threads x%.2f >= %.0f: %s\n", http_key, redis_key, ratio,
                  http_vs_redis_target, ratio >= http_vs_redis_target ? "met" : "NOT met");
      targets[std::string{http_key} + "_vs_" + redis_key] = boost::json::object{
          {"min", http_vs_redis_target}, {"measured", rounded(ratio, 2)}, {"met", ratio >= http_vs_redis_target}};
    }
  }
  for (const auto& problem : problems)
    std::printf("FAILED: %s\n", problem.c_str());
  std::fflush(stdout);

  if (opts.json) {
    boost::json::array variants;
    for (const auto& e : entries) {
      boost::json::object by_threads;
      for (const auto& [threads, c] : e.by_threads)
        by_threads[std::to_string(threads)] = to_json(c);
      variants.push_back(boost::json::object{{"key", e.v->key()},
                                             {"description", e.v->description()},
                                             {"threads", std::move(by_threads)}});
    }
    boost::json::object skipped_json, versions_json;
    for (const auto& [k, v] : skipped)
      skipped_json[k] = v;
    for (const auto& [k, v] : versions)
      versions_json[k] = v;
    boost::json::object j{{"suite", "pick"},
                          {"ok", problems.empty()},
                          {"quick", opts.quick},
                          {"machine", to_json(machine)},
                          {"cache_line_round_trip_ns", whole(round_trip_ns)},
                          {"agents", agent_count},
                          {"rounds", p.rounds},
                          {"round_ms", boost::json::object{{"in_process", p.local_round.count()},
                                                           {"network", p.remote_round.count()}}},
                          {"variants", std::move(variants)},
                          {"targets_2t", std::move(targets)},
                          {"skipped", std::move(skipped_json)},
                          {"server_versions", std::move(versions_json)}};
    add_problems(j, problems);
    emit_json_line(j);
  }
  return problems.empty() ? 0 : 1;
}

[[maybe_unused]] const bool registered = register_suite(
    {"pick", "pick + reserve the least-loaded agent: agentreg vs mutex+set, Redis Lua, PostgreSQL, etcd",
     &run_pick_suite});

}  // namespace
}  // namespace agentreg::bench::pick
