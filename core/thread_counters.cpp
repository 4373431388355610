#include "core/thread_counters.hpp"

namespace agentreg::core {

namespace {

// The block the calling thread used last, and the instance it belongs to:
// a thread counts for one registry almost always, so one entry suffices.
struct cached_block {
  std::uint64_t instance = 0;
  void* block = nullptr;
};
thread_local cached_block last_used;

std::uint64_t next_instance() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);  // relaxed: only uniqueness matters
}

}  // namespace

thread_counters::thread_counters(std::size_t keys) : keys_(keys), instance_(next_instance()) {}

thread_counters::~thread_counters() = default;

thread_counters::block::~block() {
  for (auto& g : groups)
    delete g.load(std::memory_order_relaxed);  // no thread counts any more
}

std::atomic<std::uint64_t>& thread_counters::block::cell(std::size_t key) {
  auto& slot = groups[key / group_size];
  // relaxed: this thread is the only one that stores the pointer.
  group* g = slot.load(std::memory_order_relaxed);
  if (g == nullptr) {
    g = new group{};
    slot.store(g, std::memory_order_release);  // pairs with the acquire in total()
  }
  return (*g)[key % group_size];
}

thread_counters::block& thread_counters::mine() {
  if (last_used.instance == instance_)
    return *static_cast<block*>(last_used.block);
  return adopt();
}

thread_counters::block& thread_counters::adopt() {
  std::lock_guard guard{mutex_};
  auto& b = by_thread_[std::this_thread::get_id()];
  if (b == nullptr) {
    blocks_.push_back(std::make_unique<block>((keys_ + group_size - 1) / group_size));
    b = blocks_.back().get();
  }
  last_used = {instance_, b};
  return *b;
}

std::uint64_t thread_counters::total(std::size_t key) const {
  std::lock_guard guard{mutex_};
  std::uint64_t sum = 0;
  for (const auto& b : blocks_) {
    const group* g = b->groups[key / group_size].load(std::memory_order_acquire);  // pairs with cell()
    if (g != nullptr)
      sum += (*g)[key % group_size].load(std::memory_order_relaxed);  // see add()
  }
  return sum;
}

}  // namespace agentreg::core
