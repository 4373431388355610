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

__attribute__((tls_model("initial-exec"))) constinit thread_local std::uint32_t stripe::this_thread_ = 0;

// Gives the thread's owned stripe back when the thread exits. Made by the
// claim, so it is destroyed before every thread_local object made earlier
// in the thread: those then find the stripe shared (see this_thread_).
struct stripe_giver {
  ~stripe_giver() {
    const std::uint32_t s = stripe::this_thread_;
    stripe::this_thread_ = (s & stripe::id_mask) | stripe::exited_bit;
    if ((s & stripe::owned_bit) == 0)
      return;
    // release: what this thread wrote in state kept for its stripe happens
    // before the reads of the stripe's next owner (its acquire claim).
    owners.fetch_and(~(1u << (s & stripe::id_mask)), std::memory_order_release);
  }
};

stripe stripe::claim() {
  const std::uint32_t s = this_thread_;
  if ((s & exited_bit) != 0)
    return {s & id_mask, false};
  // relaxed: a first look; the CAS below is what orders.
  std::uint32_t held = owners.load(std::memory_order_relaxed);
  if ((s & shared_bit) != 0 && held == all_stripes)
    return {s & id_mask, false};  // a sharer, and still no stripe free
  static thread_local stripe_giver giver;  // made once, at the thread's first claim
  while (held != all_stripes) {
    const auto id = static_cast<std::uint32_t>(std::countr_zero(~held & all_stripes));
    // acquire: pairs with the give-back of the stripe's last owner.
    if (owners.compare_exchange_weak(held, held | (1u << id), std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      this_thread_ = owned_bit | id;
      return {id, true};
    }
  }
  if ((s & shared_bit) != 0)
    return {s & id_mask, false};
  // relaxed: only spreads threads over stripes.
  const std::uint32_t id = next_shared.fetch_add(1, std::memory_order_relaxed) & id_mask;
  this_thread_ = shared_bit | id;
  return {id, false};
}

std::uint32_t stripe::owned_count() {
  return static_cast<std::uint32_t>(std::popcount(owners.load(std::memory_order_acquire)));
}

}  // namespace agentreg::index
