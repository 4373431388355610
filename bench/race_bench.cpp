// agentreg-bench race: the seed's selection race, shown, beside acquire().
//
// The seed's README tells a scheduler to call get_least_loaded_agent(type)
// and then update_load(agent, load + 1). Two schedulers doing this at once
// can read the same load, both reserve, and both write load + 1: one agent
// gets more tasks than it has slots (an overbooking), and one increment is
// gone (a lost update), so the registry believes a slot is free that is not.
// agentreg keeps both calls (they are the seed's API), and adds acquire(),
// which picks and reserves in one atomic step.
//
// Each round: a type of 16 agents with 4 slots each (64 slots), 4 client
// threads, each making its share of the 64 reservations (16), and none
// given back during the round:
//   seed:    get_least_loaded_agent, then update_load(id, load + 1); a
//            refused update (load_out_of_range: the agent was full) picks again
//   acquire: acquire(type); no_capacity ends the client's share early
// A holder count kept on the side by the clients gives the truth: at the
// end of the round, slots held beyond an agent's capacity are overbookings,
// and reservations the registry does not count (reservations made minus the
// sum of the agents' loads) are lost updates. Rounds alternate which goes
// first. Exit code 1 if acquire shows either (the seed's pattern is
// expected to).

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "agentreg/registry.hpp"
#include "bench/suite.hpp"

namespace agentreg::bench {
namespace {

constexpr std::uint32_t agents = 16;
constexpr std::uint32_t capacity = 4;
constexpr std::uint32_t slots = agents * capacity;
constexpr unsigned clients = 4;
constexpr std::uint32_t share = slots / clients;
constexpr const char* type = "planner";
// A seed client gives up after this many refused updates in a row (the
// registry keeps saying an agent is free while every update is refused).
constexpr int max_refusals = 1000;

std::string id_of(std::uint32_t i) {
  return "planner-" + std::to_string(i);
}

std::uint32_t index_of(const std::string& id) {
  return static_cast<std::uint32_t>(std::stoul(id.substr(8)));
}

struct round_tally {
  double seconds = 0;
  std::uint64_t reservations = 0;  // the clients believe they hold these
  std::uint64_t overbooked = 0;    // held beyond capacity, summed over agents
  std::int64_t lost_updates = 0;   // reservations - sum of loads
  std::uint64_t refused = 0;       // seed: update_load refused (agent full)
  [[nodiscard]] double per_s() const { return seconds > 0 ? static_cast<double>(reservations) / seconds : 0; }
};

class fleet {
 public:
  fleet() : reg_(make_config()), held_(agents) {
    for (std::uint32_t i = 0; i < agents; ++i) {
      agent_spec s;
      s.agent_id = id_of(i);
      s.agent_type = type;
      s.llm_provider = "bench";
      s.model_name = "bench-model";
      s.max_capacity = capacity;
      if (auto a = reg_.register_agent(s); !a)
        throw std::runtime_error{"register_agent: " + a.error().message};
    }
  }

  round_tally run(bool seed_way) {
    for (auto& h : held_)
      h.store(0, std::memory_order_relaxed);
    std::vector<std::vector<lease>> leases(clients);
    std::atomic<std::uint64_t> refused{0};
    std::atomic<unsigned> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::uint64_t> made(clients, 0);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < clients; ++t)
      threads.emplace_back([&, t] {
        ready.fetch_add(1, std::memory_order_relaxed);  // relaxed: a count of arrivals
        while (!go.load(std::memory_order_acquire))     // acquire: pairs with the release below
          std::this_thread::yield();
        int refusals = 0;
        while (made[t] < share && refusals < max_refusals) {
          if (seed_way) {
            auto a = reg_.get_least_loaded_agent(type);
            if (!a || !*a)
              break;
            const auto& agent = **a;
            if (!reg_.update_load(agent.agent_id, agent.current_load + 1)) {
              refused.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after join
              ++refusals;
              continue;
            }
            refusals = 0;
            held_[index_of(agent.agent_id)].fetch_add(1, std::memory_order_relaxed);  // read after join
          } else {
            auto l = reg_.acquire(type);
            if (!l)
              break;
            held_[index_of(l->agent_id)].fetch_add(1, std::memory_order_relaxed);  // read after join
            leases[t].push_back(std::move(*l));
          }
          ++made[t];
        }
      });
    while (ready.load(std::memory_order_relaxed) < clients)
      std::this_thread::yield();
    const auto start = bench_clock::now();
    go.store(true, std::memory_order_release);
    for (auto& th : threads)
      th.join();
    round_tally r;
    r.seconds = seconds_between(start, bench_clock::now());
    for (auto m : made)
      r.reservations += m;
    r.refused = refused.load();
    std::int64_t loads = 0;
    for (const auto& a : reg_.list_agents())
      loads += a.current_load;
    for (const auto& h : held_) {
      const auto n = h.load(std::memory_order_relaxed);
      if (n > static_cast<std::int64_t>(capacity))
        r.overbooked += static_cast<std::uint64_t>(n - capacity);
    }
    r.lost_updates = static_cast<std::int64_t>(r.reservations) - loads;
    // Back to empty for the next round.
    for (auto& per_client : leases)
      for (const auto& l : per_client)
        reg_.release(l);
    if (seed_way)
      for (std::uint32_t i = 0; i < agents; ++i)
        reg_.update_load(id_of(i), 0);
    return r;
  }

 private:
  static config make_config() {
    config cfg;
    cfg.auto_sweep = false;
    return cfg;
  }

  registry reg_;
  std::vector<std::atomic<std::int64_t>> held_;
};

struct series {
  std::vector<double> rate;
  std::uint64_t reservations = 0, overbooked = 0, refused = 0, rounds_with_overbooking = 0;
  std::int64_t lost_updates = 0;
  std::uint64_t rounds_with_lost_updates = 0;

  void add(const round_tally& r) {
    rate.push_back(r.per_s());
    reservations += r.reservations;
    overbooked += r.overbooked;
    refused += r.refused;
    lost_updates += r.lost_updates;
    rounds_with_overbooking += r.overbooked > 0 ? 1 : 0;
    rounds_with_lost_updates += r.lost_updates != 0 ? 1 : 0;
  }

  [[nodiscard]] boost::json::object json() const {
    return {{"reservations_per_s", to_json(summarize(rate), 0)},
            {"reservations", reservations},
            {"overbookings", overbooked},
            {"lost_updates", lost_updates},
            {"refused_updates", refused},
            {"rounds_with_overbooking", rounds_with_overbooking},
            {"rounds_with_lost_updates", rounds_with_lost_updates}};
  }
};

int run_race_suite(const options& opts) {
  const int rounds = opts.quick ? 6 : 40;
  const machine_info machine = describe_machine();
  std::printf("agentreg-bench race (%s): %u agents x %u slots, %u clients reserving %u each, %d rounds\n",
              opts.quick ? "quick" : "full", agents, capacity, clients, share, rounds);
  print_machine(machine);
  std::fflush(stdout);
  std::vector<std::string> problems;
  series seed, acquire;
  std::vector<double> ratio;
  try {
    fleet f;
    for (int round = 0; round < rounds; ++round) {
      report_progress("race", static_cast<double>(round) / rounds,
                      "round " + std::to_string(round + 1) + "/" + std::to_string(rounds));
      round_tally s, a;
      if (round % 2 == 0) {
        s = f.run(true);
        a = f.run(false);
      } else {
        a = f.run(false);
        s = f.run(true);
      }
      seed.add(s);
      acquire.add(a);
      ratio.push_back(s.per_s() > 0 ? a.per_s() / s.per_s() : 0);
    }
  } catch (const std::exception& e) {
    problems.push_back(std::string{"aborted: "} + e.what());
  }
  const auto print = [](const char* name, const series& s) {
    const auto r = summarize(s.rate);
    std::printf("  %-40s %10.0f [%8.0f .. %8.0f] %8llu %8llu (%llu rounds) %8lld (%llu rounds)\n", name, r.median,
                r.min, r.max, static_cast<unsigned long long>(s.reservations),
                static_cast<unsigned long long>(s.overbooked),
                static_cast<unsigned long long>(s.rounds_with_overbooking), static_cast<long long>(s.lost_updates),
                static_cast<unsigned long long>(s.rounds_with_lost_updates));
  };
  std::printf("  %-40s %10s %-20s %8s %8s %21s\n", "variant", "reserv./s", "[min .. max]", "made", "overbook",
              "lost updates");
  print("seed: get_least_loaded + update_load(+1)", seed);
  print("agentreg: acquire", acquire);
  const auto r = summarize(ratio);
  std::printf("  acquire / seed pattern, per round: x%.1f [x%.1f .. x%.1f]; seed updates refused (agent full): %llu\n",
              r.median, r.min, r.max, static_cast<unsigned long long>(seed.refused));
  if (acquire.overbooked != 0 || acquire.lost_updates != 0)
    problems.push_back("acquire: " + std::to_string(acquire.overbooked) + " overbookings, " +
                       std::to_string(acquire.lost_updates) + " lost updates");
  if (acquire.reservations != static_cast<std::uint64_t>(rounds) * slots)
    problems.push_back("acquire made " + std::to_string(acquire.reservations) + " reservations for " +
                       std::to_string(static_cast<std::uint64_t>(rounds) * slots) + " slots");
  for (const auto& problem : problems)
    std::printf("FAILED: %s\n", problem.c_str());
  std::fflush(stdout);
  if (opts.json) {
    boost::json::object j{{"suite", "race"},
                          {"ok", problems.empty()},
                          {"quick", opts.quick},
                          {"machine", to_json(machine)},
                          {"agents", agents},
                          {"capacity", capacity},
                          {"clients", clients},
                          {"rounds", rounds},
                          {"seed", seed.json()},
                          {"acquire", acquire.json()},
                          {"acquire_vs_seed_rate", to_json(r, 1)}};
    add_problems(j, problems);
    emit_json_line(j);
  }
  return problems.empty() ? 0 : 1;
}

[[maybe_unused]] const bool registered = register_suite(
    {"race", "the seed's get_least_loaded + update_load(+1) race from 4 clients, beside acquire",
     &run_race_suite});

}  // namespace
}  // namespace agentreg::bench
