#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/object.hpp>

namespace agentreg::bench {

// ---- the suite table ----------------------------------------------------------

/// Command-line switches every suite understands.
struct options {
  bool json = false;   ///< end the output with one line holding one JSON object
  bool quick = false;  ///< fewer, shorter rounds (smoke tests); same measurements
  /// --url URL: a PostgreSQL server to use instead of one the suite starts
  /// itself (only suites that need a database read it). Empty: not given.
  std::string url;
  /// --redis HOST:PORT: a Redis server the baselines may use (flushing
  /// only their own keys). Empty: those baselines are skipped.
  std::string redis;
  /// --etcd URL: an etcd client URL (http://HOST:PORT) for the baselines
  /// (they write only under /agentreg-bench/). Empty: skipped.
  std::string etcd;
  /// --agentregd URL: a running agentregd for the HTTP variants. Empty: skipped.
  std::string agentregd;
  /// --threads LIST: the thread counts of the suites that measure a scaling
  /// curve (index), comma-separated, each 1..256, e.g. "1,2,4,8". Empty: the
  /// suite's own default.
  std::vector<unsigned> threads;
};

/// Parses a --threads list ("1,2,4"): ascending or not, duplicates dropped,
/// sorted; each count 1..256. Empty when the text is not such a list.
std::vector<unsigned> parse_thread_list(std::string_view text);

/// One sub-command of agentreg-bench: its name, a one-line summary, and its
/// entry point, which returns the process exit code.
struct suite {
  std::string_view name;
  std::string_view summary;
  int (*run)(const options&);
};

/// Adds a suite to the table main() dispatches on. Returns true, so a suite's
/// source file registers itself from a namespace-scope initializer.
/// Called during static initialization only.
bool register_suite(const suite& s);

/// Every registered suite, sorted by name.
const std::vector<suite>& suites();

// ---- timing -------------------------------------------------------------------

using bench_clock = std::chrono::steady_clock;

/// Nanoseconds between two time points of bench_clock.
inline std::uint64_t nanoseconds_between(bench_clock::time_point from, bench_clock::time_point to) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
}

/// Seconds between two time points of bench_clock.
inline double seconds_between(bench_clock::time_point from, bench_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

/// The cost of reading bench_clock twice back to back (median of many tries),
/// i.e. the floor under every latency sample a suite takes.
std::uint64_t timer_overhead_ns();

/// Nanoseconds for one cache line to go from CPU 0 to CPU 1 and back (two
/// threads, pinned as run_round pins them, handing a flag to each other; mean
/// over many hand-offs). Every contended figure scales with it, and on a
/// virtual machine the host can change it, so suites report it beside them.
/// 0 on a single CPU.
double cache_line_round_trip_ns();

/// CPUs this process may run on.
unsigned allowed_cpus();

/// Pins the calling thread to the `n`-th CPU (modulo their count) this
/// process may run on. Returns false if the kernel refused.
bool pin_to_cpu(unsigned n);

/// What one thread did during a round.
struct thread_tally {
  std::uint64_t ops = 0;
  std::uint64_t failures = 0;
};

/// One timed round over all its threads.
struct round_result {
  double seconds = 0;
  std::uint64_t ops = 0;
  std::uint64_t failures = 0;
  [[nodiscard]] double ops_per_s() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
};

/// Runs `body(thread_index, stop)` on `threads` fresh threads for about
/// `length`; `body` loops until it sees `stop` and returns its thread_tally.
///
/// The timed window opens only once every thread exists (they wait on a flag)
/// so thread creation is not measured, and closes when the last thread has
/// joined, so work done after `stop` still counts against the time. The
/// calling thread sleeps meanwhile and takes no CPU from the workers.
///
/// When there are no more threads than CPUs, worker t is pinned to CPU t: on
/// the 2-vCPU VM this was built on, unpinned fresh threads often stayed on
/// their parent's CPU for much of a round, so a "2-thread" figure was partly
/// a 1-CPU figure (a two-thread cache-line round trip read 55 ns pinned and
/// 190-860 ns unpinned, run to run).
///
/// `allow_pinning` false leaves every worker to the scheduler: for clients
/// that mostly wait on a server over the network, a pinned thread waits for
/// its one CPU after every answer, which on a busy machine costs more than
/// any cache it keeps warm.
template <class Body>
round_result run_round(unsigned threads, std::chrono::nanoseconds length, Body&& body, bool allow_pinning = true) {
  const bool pin = allow_pinning && threads <= allowed_cpus();
  std::atomic<unsigned> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::vector<thread_tally> tallies(threads);
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (unsigned t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      if (pin)
        pin_to_cpu(t);
      // relaxed: only counts arrivals; nothing is published through it.
      ready.fetch_add(1, std::memory_order_relaxed);
      // acquire: pairs with the release store of `go` below. Yielding, since
      // on a 2-CPU machine two spinning workers could delay the starter.
      while (!go.load(std::memory_order_acquire))
        std::this_thread::yield();
      tallies[t] = body(t, stop);
    });
  // relaxed: arrival count only; thread start already synchronizes state.
  while (ready.load(std::memory_order_relaxed) < threads)
    std::this_thread::yield();
  const auto start = bench_clock::now();
  // release: pairs with the workers' acquire loads of `go`.
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(length);
  // relaxed: a plain stop request; join() orders the tallies afterwards.
  stop.store(true, std::memory_order_relaxed);
  for (auto& w : workers)
    w.join();
  const auto end = bench_clock::now();
  round_result r;
  r.seconds = std::chrono::duration<double>(end - start).count();
  for (const auto& t : tallies) {
    r.ops += t.ops;
    r.failures += t.failures;
  }
  return r;
}

// The subject and the baseline run in alternating rounds, and which one goes
// first flips every round, so drift in the machine (frequency, neighbours on
// the host) hits both alike. The ratio is taken per adjacent pair of rounds.
struct paired_throughput {
  std::vector<double> subject_ops, baseline_ops, ratio;
  std::uint64_t failures = 0;
};

template <class RunSubject, class RunBaseline>
paired_throughput alternate(int rounds, RunSubject&& run_subject, RunBaseline&& run_baseline) {
  paired_throughput p;
  for (int r = 0; r < rounds; ++r) {
    round_result a, b;
    if (r % 2 == 0) {
      a = run_subject();
      b = run_baseline();
    } else {
      b = run_baseline();
      a = run_subject();
    }
    p.subject_ops.push_back(a.ops_per_s());
    p.baseline_ops.push_back(b.ops_per_s());
    p.ratio.push_back(b.ops_per_s() > 0 ? a.ops_per_s() / b.ops_per_s() : 0);
    p.failures += a.failures + b.failures;
  }
  return p;
}

// ---- statistics -----------------------------------------------------------------

/// Median and spread of one figure measured once per round.
struct summary {
  double median = 0;
  double min = 0;
  double max = 0;
  std::size_t rounds = 0;
};

/// Median (mean of the middle two for an even count), min and max.
summary summarize(std::vector<double> values);

/// Nearest-rank percentile, `p` in (0, 1], of samples sorted ascending.
std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double p);

/// Bytes the C heap holds for the program right now (glibc mallinfo2: arena
/// plus mmap'd blocks). A difference of two readings is what a data
/// structure really cost, allocator overhead included.
std::size_t heap_bytes();

// ---- the machine ------------------------------------------------------------------

/// What a result was measured on.
struct machine_info {
  std::string cpu_model;  ///< "model name" of /proc/cpuinfo
  unsigned cpus = 0;      ///< CPUs this process may run on (what nproc prints)
  std::string kernel;     ///< uname: sysname release machine
  std::string compiler;   ///< the compiler that built this binary
  bool hypervisor = false;  ///< the CPU flags say we run in a virtual machine
};

machine_info describe_machine();

/// One line: "machine: <cpu> | <n> cpus | <kernel> | <compiler>[ | virtual machine]".
void print_machine(const machine_info& m);

// ---- JSON -------------------------------------------------------------------------

boost::json::object to_json(const machine_info& m);

/// {"median", "min", "max", "rounds"}, each figure rounded to `digits`
/// decimals; with `digits` 0 the figures are JSON integers.
boost::json::object to_json(const summary& s, int digits = 1);

/// `x` rounded to `digits` decimals, so the JSON line stays readable.
double rounded(double x, int digits);

/// `x` rounded to an integer. Boost.JSON writes every double in exponent
/// form (7.69E6), so counts and nanoseconds go out as integers.
std::int64_t whole(double x);

/// VmRSS of /proc/self/status in bytes (0 if unreadable): everything the
/// process holds resident, CAF's actor memory and thread stacks included,
/// which heap statistics would miss.
std::size_t resident_bytes();

/// Adds `problems` (what failed a suite's checks) to its JSON, if any.
void add_problems(boost::json::object& o, const std::vector<std::string>& problems);

/// Writes one progress line on stderr: "progress: SUITE FRACTION WHAT",
/// FRACTION in [0, 1] being the share of the suite done before WHAT starts.
/// scripts/bench reads these to show where a run is and how long it has
/// left; run alone, they show the same on a terminal. Thread-safe (one
/// write per line).
void report_progress(std::string_view suite, double fraction, const std::string& what);

/// Prints `o` as one line on stdout and flushes. Suites call this last, so the
/// JSON object is the last line of their output.
void emit_json_line(const boost::json::object& o);

}  // namespace agentreg::bench
