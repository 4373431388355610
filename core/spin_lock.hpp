#pragma once

#include <atomic>
#include <thread>

namespace agentreg::core {

/// A lock of one byte for critical sections of a few instructions (a copy
/// of a pointer), where std::mutex's 40 bytes would be most of what it
/// guards: agent_record holds one per agent. A waiter spins, and yields the
/// CPU between rounds of spinning so that a holder that was preempted gets
/// to run. Not fair, not recursive. Meets the standard Lockable
/// requirements (std::lock_guard, std::unique_lock).
class spin_lock {
 public:
  void lock() noexcept {
    // acquire: pairs with unlock()'s release store.
    while (locked_.exchange(true, std::memory_order_acquire)) {
      for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
        if (spins < 64) {
          relax();
        } else {
          std::this_thread::yield();
          spins = 0;
        }
      }
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  static void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
  std::atomic<bool> locked_{false};
};

}  // namespace agentreg::core
