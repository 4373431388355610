#include "index/stripe.hpp"

#include <atomic>
#include <bit>

namespace agentreg::index {

namespace {

static_assert(std::has_single_bit(stripe::count) && stripe::count <= 32);
constexpr std::uint32_t all_stripes = stripe::count == 32 ? ~0u : (1u << stripe::count) - 1;

// Bit k: stripe k is owned by a live thread.
std::atomic<std::uint32_t> owners{0};

// Spreads the threads that find no free stripe over the stripes.
std::atomic<std::uint32_t> next_shared{0};

}  // namespace

constinit thread_local std::uint32_t stripe::this_thread_ = 0;

// Gives the thread's owned stripe back when the thread exits. Made by the
// claim, so it is destroyed before every thread_local object made earlier
// in the thread: those then find the stripe shared (see this_thread_).
struct stripe_giver {
  ~stripe_giver() {
    const std::uint32_t s = stripe::this_thread_;
    if ((s & stripe::owned_bit) == 0)
      return;
    stripe::this_thread_ = s & ~stripe::owned_bit;
    // release: what this thread wrote in state kept for its stripe happens
    // before the reads of the stripe's next owner (its acquire claim).
    owners.fetch_and(~(1u << (s & stripe::id_mask)), std::memory_order_release);
  }
};

stripe stripe::claim() {
  // acquire (on success): pairs with the give-back of the stripe's last owner.
  std::uint32_t held = owners.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint32_t free = ~held & all_stripes;
    if (free == 0)
      break;
    const auto id = static_cast<std::uint32_t>(std::countr_zero(free));
    if (owners.compare_exchange_weak(held, held | (1u << id), std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      static thread_local stripe_giver giver;
      this_thread_ = claimed_bit | owned_bit | id;
      return {id, true};
    }
  }
  // relaxed: only spreads threads over stripes.
  const std::uint32_t id = next_shared.fetch_add(1, std::memory_order_relaxed) & id_mask;
  this_thread_ = claimed_bit | id;
  return {id, false};
}

std::uint32_t stripe::owned_count() {
  return static_cast<std::uint32_t>(std::popcount(owners.load(std::memory_order_acquire)));
}

}  // namespace agentreg::index
