#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "index/atomic_bitmap.hpp"

namespace agentreg::index {

/// What an operation of the index answers besides its value.
enum class errc : std::uint8_t {
  ok = 0,
  no_capacity,          ///< no eligible agent of the type has a free slot
  unknown_type,         ///< no pool for this agent type
  unknown_agent,        ///< the handle is stale (agent removed) or was never valid
  invalid_capacity,     ///< capacity outside 1..max_capacity
  capacity_below_load,  ///< the new capacity is below the agent's current load
  load_out_of_range,    ///< load below 0 or above capacity
  invalid_status,       ///< `busy` cannot be set: it is derived from the load
  lease_not_held,       ///< the lease was already released, reclaimed, or never issued
  too_many_agents,      ///< the pool is full (max_agents_per_type)
  too_many_types,       ///< the index is full (max_types(), given at construction)
  too_many_leases,      ///< the lease table is full (max_leases records, see there)
  agent_has_leases,     ///< move() of an agent that holds leases (they belong to its pool)
};

/// Human-readable name of an error code ("no_capacity", ...).
const char* to_string(errc e);

/// The status an agent shows. `busy` is never stored: an `online` agent
/// whose load equals its capacity shows as `busy`.
enum class agent_status : std::uint8_t { online = 0, offline = 1, paused = 2, busy = 3 };

const char* to_string(agent_status s);

/// A handle on one agent's slot. The generation makes a handle kept after
/// `remove` useless: the slot may be reused, the handle will not match it.
struct agent_ref {
  std::uint32_t pool = 0;
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  friend bool operator==(const agent_ref&, const agent_ref&) = default;
};

/// One reserved slot: which agent, the lease record that holds it, and the
/// caller's token that proves the holding. A lease is named by its record
/// and checked by its whole token: release and renew answer lease_not_held
/// unless the record is held under exactly this token.
struct lease {
  agent_ref agent;
  std::uint32_t record = 0;  ///< the lease record in the index's table
  std::uint64_t token = 0;   ///< given to acquire(); all 64 bits are compared
};

/// A consistent snapshot of one agent's slot (one atomic load).
struct agent_view {
  agent_ref ref;
  std::uint64_t tag = 0;       ///< the caller's own key, given at insert
  std::int64_t stamp = 0;      ///< the caller's own time stamp (set_stamp), e.g. a heartbeat
  std::uint32_t capacity = 0;
  std::uint32_t leased = 0;    ///< slots held by leases from acquire()
  std::uint32_t reported = 0;  ///< load set by set_load() (the agent's own report)
  agent_status status = agent_status::offline;
  [[nodiscard]] std::uint32_t load() const { return leased + reported; }
};

/// A short text the caller keeps with an agent (set_label; the engine keeps
/// the agent's id), copied out whole by label().
struct agent_label {
  static constexpr std::size_t max_size = 56;
  std::uint8_t size = 0;
  char bytes[max_size];
  [[nodiscard]] std::string_view view() const { return {bytes, size}; }
};

/// A value or an error code; `operator bool` is true on success.
template <class T>
struct result {
  errc error = errc::ok;
  T value{};
  explicit operator bool() const { return error == errc::ok; }
  const T& operator*() const { return value; }
  const T* operator->() const { return &value; }
};

/// The lock-free priority index: per agent type, which agent is the least
/// loaded, and a one-step "pick and reserve a slot" (`acquire`).
///
/// ## Structure, and why
///
/// Each agent's whole state (leased load, reported load, capacity, status,
/// generation) is one 64-bit word, so every change to an agent is a single
/// CAS: capacity can never be exceeded and load never goes below zero,
/// whatever the interleaving.
///
/// Selection is a *bucket queue over a hierarchical bitmap*, as O(1)
/// schedulers do: an eligible agent (online, load < capacity) sits in the
/// bucket of its rank `floor(load * 65536 / capacity)`; a 65 536-bit
/// bitmap of non-empty ranks finds the lowest rank in three `countr_zero`
/// steps; each bucket is a bitmap over slots, searched from a rotating
/// cursor so that ties spread round-robin. The rank is monotone in
/// load/capacity, and exact (distinct ratios get distinct ranks) for every
/// capacity up to 256; above that, ratios closer than 1/65536 count as a tie.
///
/// Bucket membership is a hint that never misses: after a CAS moves an agent
/// from rank a to rank b, the writer sets bit b (a read only, when it is set
/// already) and leaves bit a set. Readers validate a candidate against its
/// word before using it and drop the stale bits they meet (clear, re-read the
/// word, set again if the agent went back meanwhile). So an agent going back
/// and forth between two ranks, as acquire and release make it, writes no
/// bitmap word once both bits are set, and under contention a pick is an
/// agent that was least loaded at some moment during the call; at quiescence
/// it is the exact minimum.
///
/// Ties are broken within the calling thread's region of the type's slots
/// first (up to 16 regions of at least 64 slots, one per thread stripe:
/// index/stripe.hpp), from a cursor that rotates there, and only then
/// elsewhere: two threads picking among many tied agents then write
/// disjoint agent words and lease records, and no line moves between their
/// CPUs per pair.
///
/// A lease is a record in the index's lease table. A thread that owns its
/// stripe keeps the records it frees in a cache of its own (two chains of
/// up to 32) and trades whole chains with the other threads through one
/// shared stack, so a pair of acquire and release takes and gives a record
/// with no atomic read-modify-write: a pair is three (the agent word twice,
/// the record's state once). A thread's first call claims its stripe and
/// makes the thread_local that gives it back at thread exit, once.
///
/// ## Cost as agents grow
///
/// acquire/release/least_loaded: O(1): three levels of rank bitmap, three of
/// slot bitmap, one CAS on the agent word, a lease record from a cache; none
/// depends on the number of agents except through cache misses. Memory per
/// agent: a 32-byte slot, a 64-byte label once one is set in its chunk of
/// 4 096 slots, plus one bit per (used rank, slot) in 512-byte blocks
/// allocated on first use; ~4 KiB per used rank and ~12 KiB per type.
/// Nothing is reclaimed while the index lives, so no hazard pointers or
/// epochs are needed on any path.
///
/// ## Load accounting
///
/// `current_load = leased + reported`: `acquire`/`release` move `leased`;
/// `set_load(n)` sets `reported` (the agent's own report, the seed's
/// `update_load`). Both together never exceed capacity.
class priority_index {
 public:
  static constexpr std::uint32_t max_capacity = 4095;
  static constexpr std::uint32_t max_agents_per_type = 1u << 20;
  static constexpr std::uint32_t default_max_types = 4096;
  static constexpr std::uint32_t max_types_limit = 1u << 16;
  /// Lease records the table makes at most. Free records cached for owned
  /// stripes (up to 64 each, 1 024 in all, kept for the stripe's next owner
  /// when its owner exits) are not given to other threads, so
  /// too_many_leases can come with about that many fewer leases held.
  static constexpr std::uint32_t max_leases = 1u << 24;

  /// An empty index for at most `max_types` agent types (1..max_types_limit;
  /// std::invalid_argument otherwise). A type's pool is made by the first
  /// insert or move of the type that succeeds and lives as long as the
  /// index: a refused call makes no pool, but types that come and go use up
  /// the limit (then too_many_types). Memory: 8 B per type allowed, plus
  /// ~10 KiB per type made.
  explicit priority_index(std::uint32_t max_types = default_max_types);
  ~priority_index();
  priority_index(const priority_index&) = delete;
  priority_index& operator=(const priority_index&) = delete;

  /// The pool of an agent type, created on first use. Errors: too_many_types.
  /// Thread-safe; creating takes a mutex (types are few), finding an
  /// existing one does not.
  result<std::uint32_t> pool(std::string_view agent_type);

  /// The most agent types this index holds (given at construction).
  [[nodiscard]] std::uint32_t max_types() const { return max_types_; }

  /// The pool of an agent type if it exists. Thread-safe, lock-free.
  [[nodiscard]] std::optional<std::uint32_t> find_pool(std::string_view agent_type) const;

  /// Name of a pool. Thread-safe.
  [[nodiscard]] std::string_view pool_name(std::uint32_t pool) const;

  /// Adds an agent with `capacity` slots and the caller's `tag`.
  /// Errors: invalid_capacity, too_many_agents, unknown_type. Thread-safe.
  result<agent_ref> insert(std::uint32_t pool, std::uint32_t capacity, std::uint64_t tag,
                           agent_status status = agent_status::online);

  /// The same into the pool of `agent_type`, which is made only if the
  /// insert succeeds. Errors: invalid_capacity, invalid_status,
  /// too_many_types, too_many_agents. Thread-safe.
  result<agent_ref> insert(std::string_view agent_type, std::uint32_t capacity, std::uint64_t tag,
                           agent_status status = agent_status::online);

  /// Moves an agent to the pool of `agent_type` with `capacity`, keeping its
  /// tag, stamp, reported load and status (paused stays paused; its label
  /// does not stay: see set_label), in one step
  /// with respect to leases: the old slot is closed by a CAS that requires
  /// it to hold none, so no acquire can reserve it meanwhile. Answers the
  /// new handle; the old one stops working. To the agent's own type it is
  /// set_capacity, and the handle stays. Errors: unknown_agent,
  /// invalid_capacity, capacity_below_load (reported load above the new
  /// capacity), agent_has_leases, too_many_types, too_many_agents; then
  /// nothing changes and no pool is made. While it runs, calls on the old
  /// handle answer unknown_agent as after a remove. Thread-safe.
  result<agent_ref> move(agent_ref agent, std::string_view agent_type, std::uint32_t capacity);

  /// Removes an agent; its handle stops working and its leases are void at
  /// once: release and renew of one answer unknown_agent, leases_held
  /// counts none, and their records are freed by the next reclaim_expired
  /// (or by the release or renew that meets one). O(1): nothing is scanned.
  /// A lease record is tied to its agent by (pool, slot, generation), and a
  /// slot's generation has 25 bits, so a void record must be freed before
  /// its slot is reused 2^25 times (by the next reclaim_expired: sweeps are
  /// seconds apart, 2^25 registrations take minutes). Errors: unknown_agent.
  /// Thread-safe.
  errc remove(agent_ref agent);

  /// Changes capacity. Errors: unknown_agent, invalid_capacity,
  /// capacity_below_load. Thread-safe.
  errc set_capacity(agent_ref agent, std::uint32_t capacity);

  /// Sets online, offline or paused. Errors: unknown_agent, invalid_status
  /// (busy is derived). Thread-safe.
  errc set_status(agent_ref agent, agent_status status);

  /// Sets the agent's reported load `n` (leased slots stay).
  /// Errors: unknown_agent, load_out_of_range (n < 0 or leased + n > capacity).
  /// Thread-safe.
  errc set_load(agent_ref agent, std::int64_t n);

  /// The eligible agent with the smallest load/capacity; ties rotate.
  /// Errors: unknown_type, no_capacity. Thread-safe, lock-free; reserves nothing.
  result<agent_view> least_loaded(std::uint32_t pool) const;

  /// Picks as least_loaded and reserves one slot in the same CAS. A non-zero
  /// `expires_at` (any monotonic unit the caller also gives to
  /// reclaim_expired and renew) makes the lease reclaimable after that time.
  /// `token` is the caller's secret for this holding: only a release or renew
  /// that presents it acts on the lease. The index stays free of I/O, so it
  /// takes the token rather than drawing it; a caller that lets leases
  /// travel must give unpredictable tokens, distinct per acquire (the facade
  /// draws 64 bits from the operating system), since a repeated token lets
  /// the stale lease of an earlier holding act on a later one.
  /// Errors: unknown_type, no_capacity, too_many_leases. Thread-safe, lock-free.
  result<lease> acquire(std::uint32_t pool, std::int64_t expires_at, std::uint64_t token);

  /// Frees a lease's slot. Releasing twice, after the lease expired and was
  /// reclaimed, or with a token that is not the holding's, changes nothing
  /// and answers lease_not_held. If the agent was removed meanwhile the
  /// lease's record is freed and unknown_agent is answered. Thread-safe; lock-free, except
  /// that it waits out a renew of the same lease in progress (a few
  /// instructions).
  errc release(const lease& l);

  /// Moves a held lease's expiry to `expires_at` (0: never), if it has not
  /// expired at `now` (expires_at <= now, in the unit of acquire). A lease
  /// found expired is freed (as reclaim_expired would) and lease_not_held is
  /// answered; so is one released, reclaimed, or presented with a wrong
  /// token, and then nothing changes. A lease of a removed agent is freed and
  /// unknown_agent answered. Answers the lease as the index holds
  /// it (its agent from the record, not from `l`). A renew that answered ok
  /// is never undone by a reclaim_expired that read the old expiry.
  /// Thread-safe; waits out a concurrent renew of the same lease.
  result<lease> renew(const lease& l, std::int64_t now, std::int64_t expires_at);

  /// Frees every lease whose expires_at <= now, and every lease of a removed
  /// agent; returns how many. Thread-safe; O(leases ever held at once);
  /// skips a lease being renewed.
  std::size_t reclaim_expired(std::int64_t now);

  /// Sets the caller's stamp of an agent (the engine keeps the last
  /// heartbeat here, so the stale sweep scans slots, not records).
  /// Errors: unknown_agent. Thread-safe.
  errc set_stamp(agent_ref agent, std::int64_t stamp);

  /// Calls f(view) for every agent of a pool, slot by slot (a sequential scan:
  /// ~10 ns an agent). Thread-safe; agents changing meanwhile are seen in
  /// some state they had during the scan, each view whole (its tag and
  /// stamp are its own agent's); an agent that left its slot meanwhile may
  /// be skipped, as may one that came.
  void scan(std::uint32_t pool, const std::function<void(const agent_view&)>& f) const;

  /// Number of pools (agent types) ever created. Thread-safe.
  [[nodiscard]] std::uint32_t pool_count() const { return pool_count_.load(std::memory_order_acquire); }

  /// Snapshot of one agent. Errors: unknown_agent. Thread-safe.
  [[nodiscard]] result<agent_view> view(agent_ref agent) const;

  /// Keeps `label` with the agent until it is removed or moved to another
  /// type (an insert into the slot later starts with none; a move leaves
  /// the agent without one, also when it is refused after closing the old
  /// slot: the caller labels it again once it knows the agent is still its
  /// own). A label longer than agent_label::max_size is not kept: the agent
  /// then has none.
  /// Errors: unknown_agent. Thread-safe; waits out another set_label, or the
  /// insert that reuses the slot, writing the same label at once (64 bytes).
  errc set_label(agent_ref agent, std::string_view label);

  /// The agent's label, or nullopt when it has none, when the handle no
  /// longer names it, or when a set_label of it is under way: a caller
  /// that needs an answer then asks what it keeps itself (the engine, its
  /// directory). Never a torn copy, nor a label of another agent that
  /// reused the slot meanwhile. Lock-free, writes nothing shared: threads
  /// reading the labels of the same agents keep their copies of the lines.
  [[nodiscard]] std::optional<agent_label> label(agent_ref agent) const;

  /// Leases currently held (of agents still in the index). Thread-safe (a
  /// moment's count); O(lease records).
  [[nodiscard]] std::size_t leases_held() const;

  /// Bytes held by the index (pools, slots, bitmaps, lease table).
  [[nodiscard]] std::size_t memory_bytes() const;

 private:
  struct pool_state;
  struct lease_table;

  friend struct test_access;  // tests/index: a lease record's sequence near its wrap point; records made

  pool_state* pool_at(std::uint32_t pool) const;
  template <class Change>
  errc modify(agent_ref agent, Change&& change);
  result<agent_ref> place(std::uint32_t pool, std::uint32_t capacity, std::uint64_t tag, agent_status status,
                          std::uint32_t reported, std::int64_t stamp);
  std::optional<errc> free_if(std::uint32_t record, std::uint64_t held_state);
  errc retire(std::uint32_t record);
  [[nodiscard]] agent_ref record_agent(std::uint32_t record) const;
  [[nodiscard]] bool alive(agent_ref agent) const;
  void set_lease_sequence(std::uint32_t record, std::uint64_t sequence);
  [[nodiscard]] std::uint64_t lease_sequence(std::uint32_t record) const;
  [[nodiscard]] std::uint32_t lease_records() const;  // lease records ever made (the table's high-water mark)

  const std::uint32_t max_types_;
  const std::uint32_t name_table_size_;  // open addressing at load <= 1/2
  std::unique_ptr<std::atomic<pool_state*>[]> pools_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> names_;  // open addressing: pool id + 1
  std::atomic<std::uint32_t> pool_count_{0};
  std::mutex create_mutex_;  // pool creation only; never on acquire/release
  std::unique_ptr<lease_table> leases_;
};

}  // namespace agentreg::index
