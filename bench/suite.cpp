#include "bench/suite.hpp"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include <boost/json/serialize.hpp>

namespace agentreg::bench {

namespace {

// A function-local static, so suites registering from static initializers in
// other translation units never see it unconstructed.
std::vector<suite>& table() {
  static std::vector<suite> suites;
  return suites;
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t");
  const auto last = s.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string{} : s.substr(first, last - first + 1);
}

}  // namespace

bool register_suite(const suite& s) {
  auto& t = table();
  t.push_back(s);
  std::sort(t.begin(), t.end(), [](const suite& a, const suite& b) { return a.name < b.name; });
  return true;
}

const std::vector<suite>& suites() {
  return table();
}

std::vector<unsigned> parse_thread_list(std::string_view text) {
  std::vector<unsigned> counts;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    unsigned n = 0;
    if (item.empty() || item.size() > 3)
      return {};
    for (const char c : item) {
      if (c < '0' || c > '9')
        return {};
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (n < 1 || n > 256)
      return {};
    counts.push_back(n);
    if (comma == std::string_view::npos)
      break;
    text.remove_prefix(comma + 1);
    if (text.empty())
      return {};  // a trailing comma
  }
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  return counts;
}

std::uint64_t timer_overhead_ns() {
  std::vector<double> deltas(1001);
  for (auto& d : deltas) {
    const auto a = bench_clock::now();
    const auto b = bench_clock::now();
    d = static_cast<double>(nanoseconds_between(a, b));
  }
  return static_cast<std::uint64_t>(summarize(std::move(deltas)).median);
}

unsigned allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0)
    return std::max(1u, std::thread::hardware_concurrency());
  return static_cast<unsigned>(CPU_COUNT(&set));
}

bool pin_to_cpu(unsigned n) {
  // The mask of a fresh thread is the process's (threads of ours pin only
  // themselves), so the n-th allowed CPU is the same for every caller.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
    return false;
  const int count = CPU_COUNT(&allowed);
  if (count == 0)
    return false;
  int wanted = static_cast<int>(n % static_cast<unsigned>(count));
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed) || wanted-- != 0)
      continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
  }
  return false;
}

double cache_line_round_trip_ns() {
  constexpr int hand_offs = 20000;
  constexpr int untimed = 200;  // lets the echo thread start and settle
  // A spinner yields only after this many empty polls: a real round trip is
  // under a microsecond, but if pinning failed and both threads share one
  // CPU, spinning alone would wait a whole time slice per hand-off.
  constexpr int polls_before_yield = 1 << 14;
  alignas(64) std::atomic<int> flag{0};
  const auto wait_for = [&flag](int value) {
    int polls = 0;
    // acquire: pairs with the other thread's release store of `value`.
    while (flag.load(std::memory_order_acquire) != value)
      if (++polls % polls_before_yield == 0)
        std::this_thread::yield();
  };
  if (allowed_cpus() < 2)
    return 0;
  std::thread echo{[&] {
    pin_to_cpu(1);
    for (int i = 0; i < untimed + hand_offs; ++i) {
      wait_for(1);
      // release: pairs with the acquire load in the pinger's wait_for(0).
      flag.store(0, std::memory_order_release);
    }
  }};
  bench_clock::time_point start, end;
  std::thread ping{[&] {
    pin_to_cpu(0);
    for (int i = 0; i < untimed + hand_offs; ++i) {
      if (i == untimed)
        start = bench_clock::now();
      // release: pairs with the acquire load in the echo's wait_for(1).
      flag.store(1, std::memory_order_release);
      wait_for(0);
    }
    end = bench_clock::now();
  }};
  ping.join();
  echo.join();
  return static_cast<double>(nanoseconds_between(start, end)) / hand_offs;
}

summary summarize(std::vector<double> values) {
  summary s;
  s.rounds = values.size();
  if (values.empty())
    return s;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  s.median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.min = values.front();
  s.max = values.back();
  return s;
}

std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double p) {
  if (sorted.empty())
    return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::size_t heap_bytes() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

machine_info describe_machine() {
  machine_info m;
  std::ifstream cpuinfo{"/proc/cpuinfo"};
  for (std::string line; std::getline(cpuinfo, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    const std::string key = trim(line.substr(0, colon));
    if (key == "model name" && m.cpu_model.empty())
      m.cpu_model = trim(line.substr(colon + 1));
    else if (key == "flags" && line.find(" hypervisor") != std::string::npos)
      m.hypervisor = true;
  }
  if (m.cpu_model.empty())
    m.cpu_model = "unknown";

  m.cpus = allowed_cpus();

  struct utsname u{};
  if (uname(&u) == 0)
    m.kernel = std::string{u.sysname} + " " + u.release + " " + u.machine;
  else
    m.kernel = "unknown";

#if defined(__clang__)
  m.compiler = "clang++ " __clang_version__;
#elif defined(__GNUC__)
  m.compiler = "g++ " __VERSION__;
#else
  m.compiler = "unknown";
#endif
  return m;
}

void print_machine(const machine_info& m) {
  std::printf("machine: %s | %u cpus | %s | %s%s\n", m.cpu_model.c_str(), m.cpus, m.kernel.c_str(),
              m.compiler.c_str(), m.hypervisor ? " | virtual machine" : "");
}

boost::json::object to_json(const machine_info& m) {
  return {{"cpu_model", m.cpu_model},
          {"cpus", m.cpus},
          {"kernel", m.kernel},
          {"compiler", m.compiler},
          {"hypervisor", m.hypervisor}};
}

double rounded(double x, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(x * scale) / scale;
}

std::int64_t whole(double x) {
  return std::llround(x);
}

boost::json::object to_json(const summary& s, int digits) {
  if (digits <= 0)
    return {{"median", whole(s.median)}, {"min", whole(s.min)}, {"max", whole(s.max)}, {"rounds", s.rounds}};
  return {{"median", rounded(s.median, digits)},
          {"min", rounded(s.min, digits)},
          {"max", rounded(s.max, digits)},
          {"rounds", s.rounds}};
}

void emit_json_line(const boost::json::object& o) {
  std::fflush(stdout);
  const std::string line = boost::json::serialize(o);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void report_progress(std::string_view suite, double fraction, const std::string& what) {
  char line[512];
  const int n = std::snprintf(line, sizeof line, "progress: %.*s %.3f %s\n", static_cast<int>(suite.size()),
                              suite.data(), std::clamp(fraction, 0.0, 1.0), what.c_str());
  if (n > 0)
    std::fwrite(line, 1, std::min(static_cast<std::size_t>(n), sizeof line - 1), stderr);
}

std::size_t resident_bytes() {
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoull(line.substr(6)) * 1024;  // "VmRSS:   123456 kB"
  return 0;
}

void add_problems(boost::json::object& o, const std::vector<std::string>& problems) {
  if (problems.empty())
    return;
  boost::json::array list;
  for (const auto& problem : problems)
    list.emplace_back(problem);
  o["problems"] = std::move(list);
}

}  // namespace agentreg::bench
