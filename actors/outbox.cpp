#include "actors/outbox.hpp"

namespace agentreg::actors {

std::size_t outbox::stripe() {
  static std::atomic<std::size_t> next{0};
  // relaxed: only spreads threads over lanes.
  thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % lanes;
  return mine;
}

msg::record_batch outbox::drain() {
  msg::record_batch all;
  for (auto& l : lanes_) {
    std::lock_guard guard{l.mutex};
    if (l.size == 0)
      continue;
    auto move_into = [](auto& to, auto& from) {
      to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
      from.clear();
    };
    move_into(all.started, l.records.started);
    move_into(all.completed, l.records.completed);
    move_into(all.tool_calls, l.records.tool_calls);
    l.size = 0;
  }
  return all;
}

}  // namespace agentreg::actors
