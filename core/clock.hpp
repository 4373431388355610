#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace agentreg::core {

/// Nanoseconds since the Unix epoch: every timestamp in the engine.
using timestamp = std::int64_t;

constexpr std::int64_t ns_per_ms = 1'000'000;
constexpr std::int64_t ns_per_s = 1'000'000'000;

/// The one clock the engine reads. Thread-safe.
class clock {
 public:
  virtual ~clock() = default;
  /// Now, in nanoseconds since the Unix epoch.
  [[nodiscard]] virtual timestamp now() const = 0;
};

/// Wall-clock time.
class system_clock final : public clock {
 public:
  [[nodiscard]] timestamp now() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

/// Simulated time for tests: it moves only when told. Thread-safe.
class manual_clock final : public clock {
 public:
  explicit manual_clock(timestamp start = 1'700'000'000 * ns_per_s) : now_(start) {}
  [[nodiscard]] timestamp now() const override { return now_.load(std::memory_order_acquire); }
  void advance(std::chrono::nanoseconds d) { now_.fetch_add(d.count(), std::memory_order_acq_rel); }
  void set(timestamp t) { now_.store(t, std::memory_order_release); }

 private:
  std::atomic<timestamp> now_;
};

}  // namespace agentreg::core
