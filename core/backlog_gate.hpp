#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "core/config.hpp"

namespace agentreg::core {

/// Bounds the records accepted for persistence but not yet committed. The
/// hot calls admit() before changing any state; the persistence actor
/// release()s what it committed. When the backlog is at its limit, admit()
/// blocks until there is room (backlog_policy::block) or answers false
/// (backlog_policy::refuse), so nothing is ever dropped silently.
/// Thread-safe; admit() is one relaxed fetch_add when below the limit.
class backlog_gate {
 public:
  backlog_gate(std::size_t limit, backlog_policy policy) : limit_(static_cast<std::int64_t>(limit)), policy_(policy) {}

  /// Takes room for `n` records; false only under the refuse policy when full,
  /// or when the gate is closed (shutting down).
  bool admit(std::int64_t n = 1) {
    // relaxed: the count is a budget, not a synchronization point.
    if (count_.fetch_add(n, std::memory_order_relaxed) + n <= limit_)
      return true;
    if (policy_ == backlog_policy::refuse || closed_.load(std::memory_order_acquire)) {
      count_.fetch_sub(n, std::memory_order_relaxed);
      refused_.fetch_add(n, std::memory_order_relaxed);
      return false;
    }
    // Blocking: give the room back and wait until a release makes some.
    count_.fetch_sub(n, std::memory_order_relaxed);
    blocked_.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock lock{mutex_};
    for (;;) {
      if (closed_.load(std::memory_order_acquire))
        return false;
      if (count_.fetch_add(n, std::memory_order_relaxed) + n <= limit_)
        return true;
      count_.fetch_sub(n, std::memory_order_relaxed);
      room_.wait(lock);
    }
  }

  /// Takes room for `n` records if there is some now; never blocks, whatever
  /// the policy (for callers that must not wait: an HTTP I/O thread).
  bool try_admit(std::int64_t n = 1) {
    // relaxed: as in admit().
    if (count_.fetch_add(n, std::memory_order_relaxed) + n <= limit_)
      return true;
    count_.fetch_sub(n, std::memory_order_relaxed);
    refused_.fetch_add(n, std::memory_order_relaxed);
    return false;
  }

  /// Takes room for `n` records unconditionally, never blocking or refusing:
  /// for records the engine itself produces (executions the sweep times
  /// out), which no caller could be asked to retry. They are still counted,
  /// so their release by the writer balances.
  void force(std::int64_t n) { count_.fetch_add(n, std::memory_order_relaxed); }

  /// Gives back room for `n` committed records.
  void release(std::int64_t n) {
    count_.fetch_sub(n, std::memory_order_relaxed);
    if (blocked_.load(std::memory_order_relaxed) > 0) {
      std::lock_guard guard{mutex_};
      room_.notify_all();
    }
  }

  /// Wakes every blocked caller with `false` from now on (shutdown).
  void close() {
    closed_.store(true, std::memory_order_release);
    std::lock_guard guard{mutex_};
    room_.notify_all();
  }

  [[nodiscard]] std::int64_t backlog() const { return count_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t limit() const { return limit_; }

 private:
  const std::int64_t limit_;
  const backlog_policy policy_;
  std::atomic<std::int64_t> count_{0};
  std::atomic<std::int64_t> refused_{0};
  std::atomic<std::int64_t> blocked_{0};  // callers that ever waited: a hint to notify
  std::atomic<bool> closed_{false};
  std::mutex mutex_;
  std::condition_variable room_;
};

}  // namespace agentreg::core
