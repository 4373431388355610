#include "actors/outbox.hpp"

#include <string_view>
#include <unordered_set>
#include <utility>

namespace agentreg::actors {

outbox::lane& outbox::mine(std::array<lane, lanes>& all) {
  static std::atomic<std::size_t> next{0};
  // relaxed: only spreads threads over lanes.
  thread_local const std::size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % lanes;
  return all[stripe];
}

bool outbox::nudge(lane& l) {
  if (++l.size < batch_size || l.nudged)
    return false;
  l.nudged = true;
  return true;
}

bool outbox::put_started(const core::execution& e) {
  if (!keep_records_)
    return false;
  lane& l = mine(lanes_);
  std::lock_guard guard{l.mutex};
  l.records.started.push_back(e);
  return nudge(l);
}

bool outbox::put_completed(const core::execution& e) {
  lane& l = mine(lanes_);
  std::lock_guard guard{l.mutex};
  l.summaries.add(e);
  ++l.completed;
  if (!keep_records_)
    return false;
  l.records.completed.push_back(e);
  return nudge(l);
}

bool outbox::put_tool_call(const core::tool_call_record& r) {
  lane& l = mine(lanes_);
  std::lock_guard guard{l.mutex};
  ++l.tool_calls;
  if (!keep_records_)
    return false;
  l.records.tool_calls.push_back(r);
  return nudge(l);
}

outbox::contents outbox::drain(core::summary_set& into) {
  contents all;
  for (auto& l : lanes_) {
    core::summary_delta summaries;
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
      l.nudged = false;
      summaries = std::exchange(l.summaries, {});
      all.completed += std::exchange(l.completed, 0);
      all.tool_calls += std::exchange(l.tool_calls, 0);
    }
    // Folded outside the lock: the lane's caller goes on meanwhile.
    summaries.fold_into(into);
  }
  auto& started = all.records.started;
  if (!started.empty() && !all.records.completed.empty()) {
    std::unordered_set<std::string_view> done;
    done.reserve(all.records.completed.size());
    for (const auto& e : all.records.completed)
      done.insert(e.id);
    all.superseded = static_cast<std::int64_t>(
        std::erase_if(started, [&done](const core::execution& e) { return done.contains(e.id); }));
  }
  return all;
}

}  // namespace agentreg::actors
