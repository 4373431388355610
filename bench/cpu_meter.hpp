#pragma once
// CPU used by other processes while a part of a suite runs.
//
// The machine may be shared (other sessions compile and run tests on it), so
// each timed part can say how much of the CPUs other processes took
// meanwhile: the busy time of /proc/stat minus this process minus our own
// PostgreSQL server (the postmaster, its live children, and its exited
// children through its cutime/cstime). Steal (other guests of the
// hypervisor) is counted apart.

#include <string>

#include <boost/json/object.hpp>

#include "bench/suite.hpp"

namespace agentreg::bench {

/// CPU seconds used so far, at one moment.
struct cpu_reading {
  bench_clock::time_point at{};
  double busy = 0, steal = 0, ours = 0, server = 0;
};

/// Shares of all CPUs over an interval, 0..1.
struct cpu_share {
  double others = 0;
  double steal = 0;
};

boost::json::object to_json(const cpu_share& c);

/// Reads /proc. Not thread-safe (one owner).
class cpu_meter {
 public:
  /// `postmaster_pid_file`: data/postmaster.pid of our own cluster; empty
  /// when the server is not ours (its CPU then counts as others').
  explicit cpu_meter(std::string postmaster_pid_file);

  [[nodiscard]] bool server_known() const { return !pid_file_.empty(); }
  [[nodiscard]] cpu_reading read() const;
  [[nodiscard]] cpu_share between(const cpu_reading& a, const cpu_reading& b) const;

 private:
  [[nodiscard]] double seconds(std::uint64_t ticks) const;
  [[nodiscard]] double server_seconds() const;

  std::string pid_file_;
  unsigned cpus_ = 0;
  long ticks_per_s_;
};

}  // namespace agentreg::bench
