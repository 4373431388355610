#include "bench/cpu_meter.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

namespace agentreg::bench {

namespace {

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

}  // namespace

boost::json::object to_json(const cpu_share& c) {
  return {{"others", rounded(c.others, 3)}, {"steal", rounded(c.steal, 3)}};
}

cpu_meter::cpu_meter(std::string postmaster_pid_file)
    : pid_file_(std::move(postmaster_pid_file)), ticks_per_s_(std::max(1L, ::sysconf(_SC_CLK_TCK))) {
  std::ifstream stat{"/proc/stat"};
  for (std::string line; std::getline(stat, line);)
    if (line.size() > 3 && line.rfind("cpu", 0) == 0 && std::isdigit(static_cast<unsigned char>(line[3])))
      ++cpus_;
  cpus_ = std::max(cpus_, 1u);
}

cpu_reading cpu_meter::read() const {
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

cpu_share cpu_meter::between(const cpu_reading& a, const cpu_reading& b) const {
  const double capacity = std::chrono::duration<double>(b.at - a.at).count() * cpus_;
  if (capacity <= 0)
    return {};
  const double others = (b.busy - a.busy) - (b.ours - a.ours) - (b.server - a.server);
  return {std::clamp(others / capacity, 0.0, 1.0), std::clamp((b.steal - a.steal) / capacity, 0.0, 1.0)};
}

double cpu_meter::seconds(std::uint64_t ticks) const {
  return static_cast<double>(ticks) / static_cast<double>(ticks_per_s_);
}

double cpu_meter::server_seconds() const {
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

}  // namespace agentreg::bench
