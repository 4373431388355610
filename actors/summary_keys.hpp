#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace agentreg::actors {

/// The distinct keys one caller-named summary dimension holds (task types,
/// workflows): at most `limit`, so that a caller naming a new key per call
/// cannot grow the summaries without end. Insert-only, as the summaries are
/// (a key admitted once stays), which is what lets a known key be found
/// without a lock: no entry is ever freed while the set lives.
///
/// An open-addressing table of pointers, at least twice as large as the
/// limit (so probes stay short and an empty slot always ends one), over
/// strings kept in a deque (stable addresses). Thread-safe: admit() of a
/// known key is a hash, a few acquire loads and a compare; a new key takes
/// a mutex.
class summary_keys {
 public:
  explicit summary_keys(std::size_t limit);

  /// True if `key` is known, or new and added now; false if it is new and
  /// `limit` keys are known. Thread-safe.
  bool admit(std::string_view key);

  /// Whether `key` is known. Thread-safe, lock-free.
  [[nodiscard]] bool contains(std::string_view key) const;
  /// Whether admit(key) would answer true now: known, or room left.
  /// Thread-safe, lock-free.
  [[nodiscard]] bool admits(std::string_view key) const;

  /// Keys known. Thread-safe (a moment's count).
  [[nodiscard]] std::size_t size() const { return size_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t limit() const { return limit_; }

 private:
  struct probed {
    std::size_t slot;  // the slot holding the key, or the empty slot where its probe ended
    bool found;
  };
  probed probe(std::string_view key, std::size_t hash, std::memory_order order) const;

  const std::size_t limit_;
  const std::size_t mask_;  // slot count - 1 (a power of two)
  std::unique_ptr<std::atomic<const std::string*>[]> slots_;
  std::mutex insert_mutex_;     // inserts only: never taken for a known key
  std::deque<std::string> keys_;  // the strings the slots point to; under insert_mutex_
  std::atomic<std::size_t> size_{0};
};

}  // namespace agentreg::actors
