#pragma once

#include <atomic>
#include <cstddef>
#include <thread>

#include "agentreg/registry.hpp"

namespace agentreg::daemon {

/// The simulated fleet of `agentregd --demo`: agents of five types and
/// models registered through the facade, heartbeating every few seconds,
/// taking work by acquire (so capacity and load move), running executions
/// with realistic durations (log-normal, 0.1 s to 30 s) and token counts,
/// recording tool calls, and completing them: most succeed, some fail
/// (researchers often, so the low-success alert has something to show),
/// a few time out. Now and then an agent goes silent for a while (the
/// sweep takes it offline; its next heartbeat revives it) or is paused.
/// One thread of its own; it stops when destroyed.
class demo_fleet {
 public:
  demo_fleet(registry& reg, std::size_t agents);
  ~demo_fleet();
  demo_fleet(const demo_fleet&) = delete;
  demo_fleet& operator=(const demo_fleet&) = delete;

 private:
  void run();

  registry& reg_;
  const std::size_t agents_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace agentreg::daemon
