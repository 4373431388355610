#pragma once

#include <cstdint>

namespace agentreg::index {

/// Which stripe the calling thread is on. The index cuts its hot shared
/// state (lease free-lists, pick cursors, pick regions) into `count`
/// stripes, a cache line each, so that threads do not write the same line.
///
/// The first `count` threads alive at once each *own* a stripe: no other
/// thread uses it while its owner lives, so state an index keeps per owned
/// stripe (the lease caches) is touched by one thread only and needs no
/// atomic read-modify-write. Further threads *share* stripes, round-robin,
/// and use only what the index keeps for any thread.
///
/// A thread gives its stripe back when it exits. The next thread to own it
/// takes over what the last owner left there: the give-back is a release
/// and the claim an acquire of the same word, so the old owner's writes
/// happen before the new owner's reads.
struct stripe {
  static constexpr std::uint32_t count = 16;

  std::uint32_t id;  ///< 0..count-1
  bool owned;        ///< held by this thread alone

  /// The calling thread's stripe, claimed on its first call (a free one
  /// if any, else a shared one). After the thread has begun to exit and
  /// given its stripe back, later calls from its remaining thread_local
  /// destructors answer the same id, shared.
  static stripe of_this_thread() {
    if (const std::uint32_t s = this_thread_; s != 0)
      return {s & id_mask, (s & owned_bit) != 0};
    return claim();
  }

  /// Stripes owned by live threads now (a moment's count, for tests).
  static std::uint32_t owned_count();

 private:
  static constexpr std::uint32_t id_mask = count - 1;
  static constexpr std::uint32_t owned_bit = 1u << 8;
  static constexpr std::uint32_t claimed_bit = 1u << 9;

  static stripe claim();
  friend struct stripe_giver;

  // 0 until the thread's first call, then claimed_bit | owned_bit? | id.
  // Trivially destructible on purpose: it stays readable while the
  // thread's other thread_local objects are destroyed, and one of them may
  // still release a lease.
  static constinit thread_local std::uint32_t this_thread_;
};

}  // namespace agentreg::index
