#include "actors/summary_keys.hpp"

#include <bit>

#include "core/string_hash.hpp"

namespace agentreg::actors {

namespace {
std::size_t slots_for(std::size_t limit) { return std::bit_ceil(std::max<std::size_t>(2 * limit, 16)); }
}  // namespace

summary_keys::summary_keys(std::size_t limit)
    : limit_(limit), mask_(slots_for(limit) - 1), slots_(std::make_unique<std::atomic<const std::string*>[]>(mask_ + 1)) {}

summary_keys::probed summary_keys::probe(std::string_view key, std::size_t hash, std::memory_order order) const {
  for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const std::string* k = slots_[i].load(order);
    if (k == nullptr || *k == key)
      return {i, k != nullptr};
  }
}

bool summary_keys::contains(std::string_view key) const {
  // acquire: pairs with the release store in admit(), so a key seen is a
  // key whose characters are seen.
  return probe(key, core::string_hash{}(key), std::memory_order_acquire).found;
}

bool summary_keys::admits(std::string_view key) const {
  return contains(key) || size_.load(std::memory_order_relaxed) < limit_;
}

bool summary_keys::admit(std::string_view key) {
  const std::size_t hash = core::string_hash{}(key);
  if (probe(key, hash, std::memory_order_acquire).found)  // pairs with the release store below
    return true;
  std::lock_guard guard{insert_mutex_};
  // relaxed: slots change only under this mutex, which we hold.
  const auto at = probe(key, hash, std::memory_order_relaxed);
  if (at.found)  // another thread added it meanwhile
    return true;
  if (size_.load(std::memory_order_relaxed) >= limit_)
    return false;
  const std::string* stored = &keys_.emplace_back(key);
  slots_[at.slot].store(stored, std::memory_order_release);  // pairs with the acquire loads in probe()
  size_.fetch_add(1, std::memory_order_relaxed);  // relaxed: a count; the limit is checked under the mutex
  return true;
}

}  // namespace agentreg::actors
