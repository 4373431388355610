#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

namespace agentreg::bench {

/// The design the priority index must beat: the obvious locked one, a
/// `std::set` of agents ordered by (load/capacity, id) behind one mutex.
/// Acquire takes the first entry if it has a free slot and moves it to its
/// new place (load + 1); release moves it back (load - 1).
///
/// Re-positioning uses extract/insert of the same node rather than
/// erase/emplace: the tree work is identical, but no allocation happens on
/// the measured path, so the baseline is measured at its best.
///
/// Thread-safe: every operation holds the one mutex.
class mutex_set_baseline {
 public:
  /// Adds an agent with `capacity` (>= 1) slots, all free; returns its id.
  std::uint32_t insert(std::uint32_t capacity) {
    std::lock_guard guard{mutex_};
    const auto id = static_cast<std::uint32_t>(load_.size());
    load_.push_back(0);
    capacity_.push_back(capacity);
    // Hint at the end: a new agent (load 0, highest id) lands there whenever
    // no agent is loaded, which makes building a large set linear.
    by_ratio_.emplace_hint(by_ratio_.end(), entry{0, capacity, id});
    return id;
  }

  /// Picks the agent with the smallest load/capacity (lowest id on ties) and
  /// takes one of its slots; nullopt when every agent is full.
  std::optional<std::uint32_t> acquire() {
    std::lock_guard guard{mutex_};
    // Ordered by ratio, so if the first agent is full (ratio 1) all are.
    if (by_ratio_.empty() || by_ratio_.begin()->load >= by_ratio_.begin()->capacity)
      return std::nullopt;
    auto node = by_ratio_.extract(by_ratio_.begin());
    const std::uint32_t id = node.value().id;
    node.value().load = ++load_[id];
    by_ratio_.insert(std::move(node));
    return id;
  }

  /// Frees one slot of `agent`; false if it holds none (or no such agent).
  bool release(std::uint32_t agent) {
    std::lock_guard guard{mutex_};
    if (agent >= load_.size() || load_[agent] == 0)
      return false;
    auto node = by_ratio_.extract(entry{load_[agent], capacity_[agent], agent});
    node.value().load = --load_[agent];
    by_ratio_.insert(std::move(node));
    return true;
  }

  /// Current load of `agent`. Thread-safe.
  [[nodiscard]] std::uint32_t load(std::uint32_t agent) const {
    std::lock_guard guard{mutex_};
    return load_.at(agent);
  }

 private:
  struct entry {
    std::uint32_t load;
    std::uint32_t capacity;
    std::uint32_t id;
  };

  // Exact ratio order by cross-multiplication (no floating point, no ties
  // between distinct ratios), then id.
  struct by_ratio {
    bool operator()(const entry& a, const entry& b) const {
      const std::uint64_t lhs = std::uint64_t{a.load} * b.capacity;
      const std::uint64_t rhs = std::uint64_t{b.load} * a.capacity;
      return lhs != rhs ? lhs < rhs : a.id < b.id;
    }
  };

  mutable std::mutex mutex_;
  std::set<entry, by_ratio> by_ratio_;
  std::vector<std::uint32_t> load_;  // by id: rebuilds an agent's key for release
  std::vector<std::uint32_t> capacity_;
};

}  // namespace agentreg::bench
