#include "actors/outbox.hpp"

namespace agentreg::actors {

outbox::lane& outbox::mine(std::array<lane, lanes>& all) {
  static std::atomic<std::size_t> next{0};
  // relaxed: only spreads threads over lanes.
  thread_local const std::size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % lanes;
  return all[stripe];
}

std::optional<msg::record_batch> outbox::take_if_full(lane& l) {
  if (++l.size < batch_size)
    return std::nullopt;
  l.size = 0;
  return std::exchange(l.records, {});
}

std::optional<msg::record_batch> outbox::put_started(const core::execution& e) {
  if (!keep_records_)
    return std::nullopt;
  lane& l = mine(lanes_);
  std::lock_guard guard{l.mutex};
  l.records.started.push_back(e);
  return take_if_full(l);
}

std::optional<msg::record_batch> outbox::put_completed(const core::execution& e) {
  lane& l = mine(lanes_);
  std::lock_guard guard{l.mutex};
  l.summaries.add(e);
  ++l.completed;
  if (!keep_records_)
    return std::nullopt;
  l.records.completed.push_back(e);
  return take_if_full(l);
}

std::optional<msg::record_batch> outbox::put_tool_call(core::tool_call_record r) {
  lane& l = mine(lanes_);
  std::lock_guard guard{l.mutex};
  ++l.tool_calls;
  if (!keep_records_)
    return std::nullopt;
  l.records.tool_calls.push_back(std::move(r));
  return take_if_full(l);
}

outbox::contents outbox::drain(core::summary_set& into) {
  contents all;
  for (auto& l : lanes_) {
    core::summary_set summaries;
    {
      std::lock_guard guard{l.mutex};
      if (l.completed == 0 && l.tool_calls == 0 && l.size == 0)
        continue;
      auto move_into = [](auto& to, auto& from) {
        to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
        from.clear();
      };
      move_into(all.records.started, l.records.started);
      move_into(all.records.completed, l.records.completed);
      move_into(all.records.tool_calls, l.records.tool_calls);
      l.size = 0;
      summaries = std::exchange(l.summaries, {});
      all.completed += std::exchange(l.completed, 0);
      all.tool_calls += std::exchange(l.tool_calls, 0);
    }
    // Folded outside the lock: the lane's caller goes on meanwhile.
    into.merge(summaries);
  }
  return all;
}

}  // namespace agentreg::actors
