#pragma once

#include <cstdint>

namespace agentreg::index {

/// Which stripe the calling thread is on. The index cuts its hot shared
/// state (lease free-lists, pick cursors, pick regions) into `count`
/// stripes, a cache line each, so that threads do not write the same line.
///
/// A thread that calls while a stripe is free *owns* one (the index's
/// acquire and release call; so does code above the index that keeps
/// per-thread state by stripe, such as the engine's execution table): no
/// other thread uses it while its owner lives, so state an index keeps
/// per owned stripe (the lease caches) is touched by one thread only and
/// needs no atomic read-modify-write. A thread that finds every stripe owned *shares* one,
/// round-robin, uses only what the index keeps for any thread, and claims
/// a stripe at a later call once one is free.
///
/// A thread gives its stripe back when it exits. The next thread to own it
/// takes over what the last owner left there: the give-back is a release
/// and the claim an acquire of the same word, so the old owner's writes
/// happen before the new owner's reads.
///
/// Ownership is per process and per copy of this code: one copy of the
/// index library per process (two statically linked copies with hidden
/// symbols would each hand out the same stripes). In the child of a fork,
/// the stripes of the parent's other threads stay owned, and what their
/// caches hold stays unused; nothing is shared wrongly.
struct stripe {
  static constexpr std::uint32_t count = 16;

  std::uint32_t id;  ///< 0..count-1
  bool owned;        ///< held by this thread alone

  /// The calling thread's stripe: one it owns, else a shared one (then a
  /// stripe is claimed if one is free). Once the thread has begun to exit
  /// and given its stripe back, calls from its remaining thread_local
  /// destructors answer the same id, shared.
  static stripe of_this_thread() {
    if (const std::uint32_t s = this_thread_; (s & owned_bit) != 0)
      return {s & id_mask, true};
    return claim();
  }

  /// Stripes owned by live threads now (a moment's count, for tests).
  static std::uint32_t owned_count();

 private:
  static constexpr std::uint32_t id_mask = count - 1;
  static constexpr std::uint32_t owned_bit = 1u << 8;
  static constexpr std::uint32_t shared_bit = 1u << 9;
  static constexpr std::uint32_t exited_bit = 1u << 10;

  static stripe claim();
  friend struct stripe_giver;

  // 0 until the thread's first call, then id | owned_bit, shared_bit or
  // exited_bit. Trivially destructible on purpose: it stays readable while
  // the thread's other thread_local objects are destroyed, and one of them
  // may still release a lease. Initial-exec: read without a call to
  // __tls_get_addr in position-independent code (every acquire and release
  // reads it).
  __attribute__((tls_model("initial-exec"))) static constinit thread_local std::uint32_t this_thread_;
};

}  // namespace agentreg::index
