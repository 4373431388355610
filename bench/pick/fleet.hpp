#pragma once
// The workload of agentreg-bench pick, shared by every variant so that each
// one stores and picks among the same fleet: 1 000 agents of one type,
// capacities 1..8 (125 of each), every agent loaded to capacity - 1 before
// the rounds: a busy fleet where each agent has exactly one free slot. The
// least-loaded agents are then the 125 of capacity 1 (ratio 0), every pick
// takes an agent's last free slot, and two clients granted the same slot
// show up at once in the holder count (an overbooking).
//
// A variant is one way of storing the fleet (agentreg, a locked std::set,
// Redis, PostgreSQL, etcd); a client is one thread's connection to it.

#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agentreg::bench::pick {

inline constexpr std::uint32_t agent_count = 1000;
inline constexpr const char* agent_type = "worker";

inline std::uint32_t capacity_of(std::uint32_t i) { return i % 8 + 1; }
/// The load every agent carries before the rounds (and after each, once
/// every client released what it took).
inline std::uint32_t preload_of(std::uint32_t i) { return capacity_of(i) - 1; }

inline std::int64_t total_preload() {
  std::int64_t sum = 0;
  for (std::uint32_t i = 0; i < agent_count; ++i)
    sum += preload_of(i);
  return sum;
}

/// Zero-padded, so every store sorts ids as numbers.
inline std::string agent_id(std::uint32_t i) {
  char id[16];
  std::snprintf(id, sizeof id, "w-%04u", i);
  return id;
}

/// The index of an id made by agent_id(); nullopt for anything else.
inline std::optional<std::uint32_t> index_of(std::string_view id) {
  if (id.size() < 3 || id.substr(0, 2) != "w-")
    return std::nullopt;
  std::uint32_t i = 0;
  const auto [end, ec] = std::from_chars(id.data() + 2, id.data() + id.size(), i);
  if (ec != std::errc{} || end != id.data() + id.size() || i >= agent_count)
    return std::nullopt;
  return i;
}

/// One thread's connection to a variant. Used by one thread at a time.
class client {
 public:
  virtual ~client() = default;
  /// Picks the least-loaded agent with a free slot and takes the slot, in
  /// one atomic step as far as the store guarantees; nullopt when none is
  /// free or the call failed.
  virtual std::optional<std::uint32_t> acquire() = 0;
  /// Gives back the slot taken on `agent` by this client's last acquire.
  /// A client may send it later, with its next request (pipelining).
  virtual void release(std::uint32_t agent) = 0;
  /// Sends whatever release is still pending. Called once after the loop.
  virtual void finish() {}
  /// Store-specific counters of this client (retries after a conflict).
  [[nodiscard]] virtual std::uint64_t conflicts() const { return 0; }
};

/// One way of storing the fleet.
class variant {
 public:
  virtual ~variant() = default;
  /// Key in the JSON and the tables: "agentreg", "mutex_set", "redis_lua"...
  [[nodiscard]] virtual std::string key() const = 0;
  /// What it is, for the printed table.
  [[nodiscard]] virtual std::string description() const = 0;
  /// A new client (its own connection). Throws when it cannot connect.
  virtual std::unique_ptr<client> connect() = 0;
  /// The sum of every agent's load as the store holds it now; equal to
  /// total_preload() after a round in which nothing was lost.
  virtual std::int64_t total_load() = 0;
  /// Puts the fleet back at its preload (after a round that lost updates).
  virtual void reset() = 0;
  /// True for a store over the network: longer rounds, stop checked after
  /// every pair.
  [[nodiscard]] virtual bool remote() const { return true; }
  /// The version of the server behind it ("" for an in-process variant).
  [[nodiscard]] virtual std::string server_version() { return {}; }
};

/// Holders of each agent's slots, counted on the side by the clients
/// themselves: incremented once an acquire answered, decremented before a
/// release is sent. A count above capacity is an overbooking.
class holder_count {
 public:
  holder_count() : held_(agent_count) { reset(); }

  void reset() {
    for (std::uint32_t i = 0; i < agent_count; ++i)
      held_[i].store(static_cast<std::int32_t>(preload_of(i)), std::memory_order_relaxed);
  }

  /// Counts a grant on `agent`; true if it overbooked it. Thread-safe.
  bool take(std::uint32_t agent) {
    // relaxed: a counter only; one variable's modifications are totally
    // ordered, so the count each grant sees is exact.
    return held_[agent].fetch_add(1, std::memory_order_relaxed) + 1 > static_cast<std::int32_t>(capacity_of(agent));
  }

  /// Counts a release on `agent`. Thread-safe.
  void give(std::uint32_t agent) {
    // relaxed: as in take().
    held_[agent].fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  std::vector<std::atomic<std::int32_t>> held_;
};

}  // namespace agentreg::bench::pick
