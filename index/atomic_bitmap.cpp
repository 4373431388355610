#include "index/atomic_bitmap.hpp"

#include <algorithm>
#include <bit>

namespace agentreg::index {

namespace {

constexpr std::uint32_t words_per_block = atomic_bitmap::block_bits / 64;

constexpr std::uint64_t bit(std::uint32_t i) { return std::uint64_t{1} << (i & 63); }

// All bits at positions >= i within a word.
constexpr std::uint64_t from_bit(std::uint32_t i) { return ~std::uint64_t{0} << (i & 63); }

}  // namespace

atomic_bitmap::atomic_bitmap(std::uint32_t bits)
    : blocks_(std::max<std::uint32_t>(1, (bits + block_bits - 1) / block_bits)),
      top_words_((blocks_ + 63) / 64),
      leaves_(new std::atomic<word*>[blocks_]),
      mid_(new word[blocks_]),
      top_(new word[top_words_]) {
  for (std::uint32_t b = 0; b < blocks_; ++b) {
    leaves_[b].store(nullptr, std::memory_order_relaxed);
    mid_[b].store(0, std::memory_order_relaxed);
  }
  for (std::uint32_t t = 0; t < top_words_; ++t)
    top_[t].store(0, std::memory_order_relaxed);
}

atomic_bitmap::~atomic_bitmap() {
  for (std::uint32_t b = 0; b < blocks_; ++b)
    delete[] leaves_[b].load(std::memory_order_relaxed);
}

atomic_bitmap::word* atomic_bitmap::block_or_create(std::uint32_t b) {
  if (auto* p = block(b))
    return p;
  auto* fresh = new word[words_per_block];
  for (std::uint32_t w = 0; w < words_per_block; ++w)
    fresh[w].store(0, std::memory_order_relaxed);
  word* expected = nullptr;
  // release: publishes the zeroed words; pairs with the acquire in block().
  // acquire on failure: we then read the winner's block.
  if (leaves_[b].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
    return fresh;
  delete[] fresh;
  return expected;
}

void atomic_bitmap::raise_summaries(std::uint32_t b, std::uint32_t w) {
  // seq_cst: the load-then-skip below is one half of the Dekker pattern whose
  // other half is clear()'s "drop summary, then re-read the level below".
  if ((mid_[b].load(std::memory_order_seq_cst) & bit(w)) == 0)
    mid_[b].fetch_or(bit(w), std::memory_order_seq_cst);
  if ((top_[b / 64].load(std::memory_order_seq_cst) & bit(b)) == 0)
    top_[b / 64].fetch_or(bit(b), std::memory_order_seq_cst);
}

void atomic_bitmap::set_slow(std::uint32_t i) {
  const std::uint32_t b = i / block_bits, w = (i / 64) % words_per_block;
  word* leaf = block_or_create(b);
  // A bit already set is not written again, so that setting a bit that is
  // set (the common case of the index's hints) leaves the line shared
  // between CPUs. seq_cst on the load as on the RMW: either orders the leaf
  // before the summary loads in raise_summaries (pairs with the
  // drop-then-re-read of scan_block and scan_top). If another set() put the
  // bit and has not raised the summaries yet, the loads below see a dropped
  // summary and raise it: a drop that left the bit unreachable came after a
  // re-read that saw the word empty, hence before that set's RMW, hence
  // before our load of the leaf.
  if ((leaf[w].load(std::memory_order_seq_cst) & bit(i)) == 0)
    leaf[w].fetch_or(bit(i), std::memory_order_seq_cst);
  raise_summaries(b, w);
}

void atomic_bitmap::clear(std::uint32_t i) {
  word* leaf = block(i / block_bits);
  if (leaf == nullptr)
    return;
  // Only the bit: summaries are left set and dropped lazily by the first
  // reader that finds them stale (scan_block, scan_top). Clearing them here
  // would write two more shared words on every clear that empties a word,
  // and a set soon after would write them back.
  leaf[(i / 64) % words_per_block].fetch_and(~bit(i), std::memory_order_seq_cst);
}

bool atomic_bitmap::test(std::uint32_t i) const {
  const word* leaf = block(i / block_bits);
  // acquire: pairs with nothing in particular; callers re-validate what the
  // bit stands for against the owning atomic.
  return leaf != nullptr &&
         (leaf[(i / 64) % words_per_block].load(std::memory_order_acquire) & bit(i)) != 0;
}

std::uint32_t atomic_bitmap::scan_block(std::uint32_t b, std::uint64_t word_mask) const {
  word* leaf = block(b);
  if (leaf == nullptr)
    return none;
  // seq_cst loads keep find_* consistent with the seq_cst writers: a reader
  // that misses a bit here is ordered before the set that raised it.
  std::uint64_t words = mid_[b].load(std::memory_order_seq_cst) & word_mask;
  while (words != 0) {
    const auto w = static_cast<std::uint32_t>(std::countr_zero(words));
    std::uint64_t bits = leaf[w].load(std::memory_order_seq_cst);
    if (bits == 0) {
      // A stale summary bit: drop it, then re-read the word. A set() that
      // raced us either sees the bit dropped (and raises it again) or wrote
      // the word before our re-read (and we see its bit).
      mid_[b].fetch_and(~bit(w), std::memory_order_seq_cst);
      bits = leaf[w].load(std::memory_order_seq_cst);
      if (bits != 0)
        const_cast<atomic_bitmap*>(this)->raise_summaries(b, w);
    }
    if (bits != 0)
      return b * block_bits + w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
    words &= words - 1;
  }
  return none;
}

std::uint32_t atomic_bitmap::scan_top(std::uint32_t first_block) const {
  for (std::uint32_t t = first_block / 64; t < top_words_; ++t) {
    std::uint64_t blocks = top_[t].load(std::memory_order_seq_cst);
    if (t == first_block / 64)
      blocks &= from_bit(first_block);
    while (blocks != 0) {
      const std::uint32_t b = t * 64 + static_cast<std::uint32_t>(std::countr_zero(blocks));
      if (const auto hit = scan_block(b, ~std::uint64_t{0}); hit != none)
        return hit;
      // The block looked empty: drop its top bit unless a word is (again)
      // summarized in it, with the same clear-then-re-read as above.
      if (mid_[b].load(std::memory_order_seq_cst) == 0) {
        top_[t].fetch_and(~bit(b), std::memory_order_seq_cst);
        if (mid_[b].load(std::memory_order_seq_cst) != 0) {
          top_[t].fetch_or(bit(b), std::memory_order_seq_cst);
          if (const auto hit = scan_block(b, ~std::uint64_t{0}); hit != none)
            return hit;
        }
      }
      blocks &= blocks - 1;
    }
  }
  return none;
}

std::uint32_t atomic_bitmap::find_next_slow(std::uint32_t start) const {
  if (start >= size())
    return none;
  const std::uint32_t b = start / block_bits, w = (start / 64) % words_per_block;
  if (const word* leaf = block(b)) {
    if (std::uint64_t bits = leaf[w].load(std::memory_order_seq_cst) & from_bit(start))
      return b * block_bits + w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
    if (w + 1 < words_per_block)
      if (const auto hit = scan_block(b, from_bit(w + 1)); hit != none)
        return hit;
  }
  if (b + 1 < blocks_)
    return scan_top(b + 1);
  return none;
}

std::uint32_t atomic_bitmap::find_from(std::uint32_t start) const {
  if (const auto hit = find_next(start); hit != none)
    return hit;
  return find_first();
}

std::size_t atomic_bitmap::memory_bytes() const {
  std::size_t bytes = sizeof(*this) + blocks_ * (sizeof(std::atomic<word*>) + sizeof(word)) +
                      top_words_ * sizeof(word);
  for (std::uint32_t b = 0; b < blocks_; ++b)
    if (block(b) != nullptr)
      bytes += words_per_block * sizeof(word);
  return bytes;
}

}  // namespace agentreg::index
