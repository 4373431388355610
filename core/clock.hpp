#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace agentreg::core {

/// Nanoseconds since the Unix epoch, on the wall clock: every timestamp the
/// engine reports or stores (registered_at, last_heartbeat, started_at...).
/// The wall clock can step (NTP, an operator, a VM resumed), so two of them
/// are never subtracted to measure time.
using timestamp = std::int64_t;

/// Nanoseconds on a monotonic clock from an arbitrary origin: what every
/// duration, TTL, timeout and staleness is measured on. It never steps back
/// or jumps, and means nothing outside the process that read it.
using monotonic_time = std::int64_t;

constexpr std::int64_t ns_per_ms = 1'000'000;
constexpr std::int64_t ns_per_s = 1'000'000'000;

/// The one clock the engine reads: the wall clock for timestamps, the
/// monotonic clock for intervals. Thread-safe.
class clock {
 public:
  virtual ~clock() = default;
  /// Now, in nanoseconds since the Unix epoch (wall clock).
  [[nodiscard]] virtual timestamp now() const = 0;
  /// Now, on the monotonic clock.
  [[nodiscard]] virtual monotonic_time monotonic() const = 0;
};

/// The machine's clocks: std::chrono::system_clock and steady_clock.
class system_clock final : public clock {
 public:
  [[nodiscard]] timestamp now() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  [[nodiscard]] monotonic_time monotonic() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

/// Simulated time for tests: both clocks move only when told. Thread-safe.
class manual_clock final : public clock {
 public:
  explicit manual_clock(timestamp start = 1'700'000'000 * ns_per_s) : wall_(start) {}
  [[nodiscard]] timestamp now() const override { return wall_.load(std::memory_order_acquire); }
  [[nodiscard]] monotonic_time monotonic() const override { return mono_.load(std::memory_order_acquire); }
  /// Time passes: both clocks move by `d`.
  void advance(std::chrono::nanoseconds d) {
    mono_.fetch_add(d.count(), std::memory_order_acq_rel);
    wall_.fetch_add(d.count(), std::memory_order_acq_rel);
  }
  /// The wall clock is set by `d` (an NTP step, either way); no time passes.
  void step_wall(std::chrono::nanoseconds d) { wall_.fetch_add(d.count(), std::memory_order_acq_rel); }

 private:
  std::atomic<timestamp> wall_;
  // An origin of its own, far from the wall clock's, so that a reading of
  // one used as the other shows in tests.
  std::atomic<monotonic_time> mono_{1'000 * ns_per_s};
};

}  // namespace agentreg::core
