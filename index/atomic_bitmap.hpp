#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace agentreg::index {

/// A three-level lock-free bitmap over `bits` positions, with lazily
/// allocated leaf blocks of 4096 bits.
///
/// Thread-safe: `set`, `clear`, `test`, `find_first` and `find_from` may run
/// concurrently from any thread.
///
/// Level 0 holds the bits; a level-1 word per block says which level-0 words
/// of the block may be non-empty; level 2 says which blocks may be non-empty.
/// Summary bits are *hints that never miss*: `set` raises them bottom-up
/// after the leaf; `clear` touches only the leaf, and a reader that meets a
/// summary bit over an empty level drops it, then re-reads that level and
/// raises the bit again if a concurrent `set` slipped in (the Dekker
/// pattern, hence `seq_cst` on the summary operations). So a summary bit may
/// be stale-set until a reader passes, but every set leaf bit is always
/// reachable from the top. Clearing lazily keeps the shared summary words
/// out of the set/clear cycle of a word that keeps emptying and refilling. Memory: 1 bit per position plus ~1/64 of that for
/// summaries, in blocks allocated on first `set` and kept for the bitmap's
/// lifetime (no reclamation is needed on any path).
class atomic_bitmap {
 public:
  static constexpr std::uint32_t block_bits = 4096;

  /// What the finders answer when there is no set bit. A sentinel rather
  /// than a std::optional: GCC returns an optional<uint32_t> through the
  /// stack in two stores and reads it back in one load, a failed
  /// store-to-load forwarding that perf annotate put at two fifths of the
  /// index's pick() on every acquire.
  static constexpr std::uint32_t none = ~std::uint32_t{0};

  /// `bits` is rounded up to a multiple of 4096, and at least 4096 (the
  /// inline find_first reads the first summary word unconditionally).
  explicit atomic_bitmap(std::uint32_t bits);
  ~atomic_bitmap();
  atomic_bitmap(const atomic_bitmap&) = delete;
  atomic_bitmap& operator=(const atomic_bitmap&) = delete;

  /// Sets bit `i`. Thread-safe. Allocates its block on first use. Setting a
  /// bit that is set, with its summaries set, only reads: no line is written.
  /// That case (the index's hints, nearly every call) is inline here: the
  /// same seq_cst loads, in the same order, as set_slow() makes before it
  /// finds nothing to write.
  void set(std::uint32_t i) {
    const std::uint32_t b = i / block_bits, w = (i / 64) % (block_bits / 64);
    if (const word* leaf = block(b))
      if ((leaf[w].load(std::memory_order_seq_cst) & (std::uint64_t{1} << (i & 63))) != 0 &&
          (mid_[b].load(std::memory_order_seq_cst) & (std::uint64_t{1} << w)) != 0 &&
          (top_[b / 64].load(std::memory_order_seq_cst) & (std::uint64_t{1} << (b & 63))) != 0)
        return;
    set_slow(i);
  }

  /// Clears bit `i`; keeps the summaries exact at quiescence. Thread-safe.
  void clear(std::uint32_t i);

  /// True if bit `i` is set. Thread-safe.
  [[nodiscard]] bool test(std::uint32_t i) const;

  /// Lowest set bit, or `none`. Thread-safe; under concurrent writes the answer
  /// was set at some moment during the call. Inline when the first summary
  /// bits lead to a set bit: the loads scan_top() starts with, in its order.
  [[nodiscard]] std::uint32_t find_first() const {
    if (const std::uint64_t blocks = top_[0].load(std::memory_order_seq_cst)) {
      const auto b = static_cast<std::uint32_t>(std::countr_zero(blocks));
      if (const word* leaf = block(b))
        if (const std::uint64_t words = mid_[b].load(std::memory_order_seq_cst)) {
          const auto w = static_cast<std::uint32_t>(std::countr_zero(words));
          if (const std::uint64_t bits = leaf[w].load(std::memory_order_seq_cst))
            return b * block_bits + w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
        }
    }
    return scan_top(0);
  }

  /// First set bit at or after `start`, `none` if there is none up to the end.
  /// Thread-safe, same guarantee as `find_first`. Inline when the word of
  /// `start` holds the answer.
  [[nodiscard]] std::uint32_t find_next(std::uint32_t start) const {
    if (start < size())
      if (const word* leaf = block(start / block_bits))
        if (const std::uint64_t bits = leaf[(start / 64) % (block_bits / 64)].load(std::memory_order_seq_cst) &
                                       (~std::uint64_t{0} << (start & 63)))
          return (start & ~63u) + static_cast<std::uint32_t>(std::countr_zero(bits));
    return find_next_slow(start);
  }

  /// First set bit at or after `start`, wrapping around to the lowest;
  /// `none` if there is none. Thread-safe, same guarantee as `find_first`.
  [[nodiscard]] std::uint32_t find_from(std::uint32_t start) const;

  /// True when no bit is reachable from the summaries. Thread-safe.
  [[nodiscard]] bool empty() const { return find_first() == none; }

  /// Bytes held, including allocated blocks.
  [[nodiscard]] std::size_t memory_bytes() const;

  [[nodiscard]] std::uint32_t size() const { return blocks_ * block_bits; }

 private:
  using word = std::atomic<std::uint64_t>;

  word* block(std::uint32_t b) const {
    // acquire: pairs with the release CAS that published the block in
    // block_or_create, so its zeroed words are visible.
    return leaves_[b].load(std::memory_order_acquire);
  }
  void set_slow(std::uint32_t i);
  std::uint32_t find_next_slow(std::uint32_t start) const;
  word* block_or_create(std::uint32_t b);
  void raise_summaries(std::uint32_t b, std::uint32_t w);
  std::uint32_t scan_block(std::uint32_t b, std::uint64_t word_mask) const;
  std::uint32_t scan_top(std::uint32_t first_block) const;

  std::uint32_t blocks_;
  std::uint32_t top_words_;
  std::unique_ptr<std::atomic<word*>[]> leaves_;  // level 0, 64 words a block
  std::unique_ptr<word[]> mid_;                   // level 1, a word per block
  std::unique_ptr<word[]> top_;                   // level 2, a bit per block
};

}  // namespace agentreg::index
