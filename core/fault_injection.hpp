#pragma once
// Faults a test makes happen inside the engine, through
// registry_config::faults. Never set outside tests: it is a seam for tests
// of failure paths that nothing else can reach, not an API.

#include <atomic>
#include <chrono>

namespace agentreg::core {

struct fault_injection {
  /// Persistence writers to kill: a writer that receives records while this
  /// is above zero takes one and stops, holding what it has not committed,
  /// as if it had crashed (every database failure is a value a writer
  /// retries, so nothing else makes one die).
  std::atomic<int> writer_deaths{0};

  /// Persistence stats answers to make late: while this is above zero, the
  /// persistence router answers one stats request `late_stats_delay` after
  /// it was asked (without blocking, so the rest of the engine goes on).
  /// Every stats() and metrics() call asks it, so this is how a test makes
  /// an engine call that stays unanswered for a while; agentregd sets it
  /// from AGENTREG_TEST_LATE_STATS (apps/agentregd/main.cpp).
  std::atomic<int> late_stats{0};
  std::chrono::milliseconds late_stats_delay{0};  ///< set before the registry is created

  /// Takes one fault from `count` if there is one left.
  static bool take(std::atomic<int>& count) {
    // relaxed: a count of faults to make, it orders nothing else.
    int left = count.load(std::memory_order_relaxed);
    while (left > 0)
      if (count.compare_exchange_weak(left, left - 1, std::memory_order_relaxed))
        return true;
    return false;
  }
};

}  // namespace agentreg::core
