#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace agentreg::core {

/// Counters for the hot paths (acquire, release): `keys` counters, each kept
/// in one cell per thread. A thread adds to its own cells with a relaxed
/// load and store, no read-modify-write and no cache line that another
/// thread writes, so counting costs the hot path a few nanoseconds and
/// nothing more on a second core; total() sums the threads' cells.
///
/// Memory: per thread that ever counted, a table of 8 bytes per 64 keys plus
/// 512 bytes for each group of 64 keys it counted. Cells stay until the
/// counters are destroyed; a thread id reused by a later thread continues the
/// cells of the thread that had it (that thread has ended: its join, or
/// the end of a detached thread that lets the id be reused, orders its
/// writes before the new thread's).
///
/// Thread-safe.
class thread_counters {
 public:
  explicit thread_counters(std::size_t keys);
  ~thread_counters();
  thread_counters(const thread_counters&) = delete;
  thread_counters& operator=(const thread_counters&) = delete;

  /// Adds one to counter `key` (< keys). Thread-safe; the calling thread is
  /// the only writer of its cells.
  void add(std::size_t key) {
    auto& cell = mine().cell(key);
    // relaxed: only this thread writes the cell (no lost update without a
    // read-modify-write); readers want a count, ordering nothing.
    cell.store(cell.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  /// Counter `key` summed over every thread: each cell as it was at some
  /// moment during the call. Thread-safe.
  [[nodiscard]] std::uint64_t total(std::size_t key) const;

  [[nodiscard]] std::size_t keys() const { return keys_; }

 private:
  static constexpr std::size_t group_size = 64;
  using group = std::array<std::atomic<std::uint64_t>, group_size>;

  // One thread's cells, in groups allocated when first counted.
  struct block {
    explicit block(std::size_t groups) : groups(groups) {}
    ~block();
    std::atomic<std::uint64_t>& cell(std::size_t key);
    // Written by the owner thread only (release, when a group is
    // allocated), read by total() (acquire): pairs so total() sees the
    // group zeroed before it sees its pointer.
    std::vector<std::atomic<group*>> groups;
  };

  block& mine();
  block& adopt();

  const std::size_t keys_;
  // Unique among every thread_counters ever made in the process: the
  // threads' cached block pointers are keyed by it, not by address, which
  // a later instance may reuse.
  const std::uint64_t instance_;
  mutable std::mutex mutex_;  // blocks_ and by_thread_; taken once per thread, and by total()
  std::vector<std::unique_ptr<block>> blocks_;
  std::unordered_map<std::thread::id, block*> by_thread_;
};

}  // namespace agentreg::core
