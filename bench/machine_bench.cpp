// agentreg-bench machine: what the other suites ran on, measured once per
// run by scripts/bench: CPU model and count, memory, kernel, compiler, the
// versions of the libraries this binary was built against, the cost of a
// clock read, and the CPU 0 -> 1 -> 0 cache-line round trip (median of 5),
// which every contended figure scales with and which differs between
// machines of one kind.

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/version.hpp>
#include <caf/config.hpp>
#include <hiredis/hiredis.h>
#include <pqxx/version.hxx>

#include "bench/suite.hpp"

namespace agentreg::bench {
namespace {

std::uint64_t memory_bytes() {
  std::ifstream meminfo{"/proc/meminfo"};
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemTotal:", 0) == 0)
      return std::stoull(line.substr(9)) * 1024;  // "MemTotal:   24683548 kB"
  return 0;
}

int run_machine_suite(const options& opts) {
  const machine_info m = describe_machine();
  std::vector<double> trips;
  for (int i = 0; i < 5; ++i)
    trips.push_back(cache_line_round_trip_ns());
  const summary trip = summarize(trips);
  const std::uint64_t memory = memory_bytes();
  const std::string caf = std::to_string(CAF_VERSION / 10000) + "." + std::to_string(CAF_VERSION / 100 % 100) + "." +
                          std::to_string(CAF_VERSION % 100);
  const std::string boost = std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
                            "." + std::to_string(BOOST_VERSION % 100);
  const std::string hiredis = std::to_string(HIREDIS_MAJOR) + "." + std::to_string(HIREDIS_MINOR) + "." +
                              std::to_string(HIREDIS_PATCH);
  print_machine(m);
  std::printf("memory: %.1f GB\n", static_cast<double>(memory) / 1e9);
  std::printf("cache line CPU 0 -> 1 -> 0: %.0f ns median [%.0f .. %.0f] over %zu runs\n", trip.median, trip.min,
              trip.max, trip.rounds);
  std::printf("clock read pair: %llu ns\n", static_cast<unsigned long long>(timer_overhead_ns()));
  std::printf("libraries: CAF %s, Boost %s, libpqxx %s, hiredis %s\n", caf.c_str(), boost.c_str(), PQXX_VERSION,
              hiredis.c_str());
  std::fflush(stdout);
  if (opts.json) {
    auto j = boost::json::object{{"suite", "machine"},
                                 {"ok", true},
                                 {"machine", to_json(m)},
                                 {"memory_bytes", memory},
                                 {"cache_line_round_trip_ns", to_json(trip, 0)},
                                 {"timer_overhead_ns", timer_overhead_ns()},
                                 {"libraries", boost::json::object{{"caf", caf},
                                                                   {"boost", boost},
                                                                   {"libpqxx", PQXX_VERSION},
                                                                   {"hiredis", hiredis}}}};
    emit_json_line(j);
  }
  return 0;
}

[[maybe_unused]] const bool registered = register_suite(
    {"machine", "the machine: CPU, memory, kernel, library versions, cache-line round trip", &run_machine_suite});

}  // namespace
}  // namespace agentreg::bench
