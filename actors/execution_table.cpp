#include "actors/execution_table.hpp"

namespace agentreg::actors {

void execution_table::insert(const core::uuid& id, core::execution e) {
  auto& s = shard_of(id);
  std::lock_guard guard{s.mutex};
  s.running.emplace(id, std::move(e));
}

core::expected<core::execution> execution_table::take(const core::uuid& id) {
  auto& s = shard_of(id);
  std::lock_guard guard{s.mutex};
  auto it = s.running.find(id);
  if (it == s.running.end()) {
    if (s.was_completed(id))
      return core::error{core::errc::already_completed, "execution " + core::to_string(id) + " is already completed"};
    return core::error{core::errc::unknown_execution, "no running execution " + core::to_string(id)};
  }
  core::execution e = std::move(it->second);
  s.running.erase(it);
  s.remember(id);
  return e;
}

std::vector<core::execution> execution_table::take_started_before(core::timestamp cutoff) {
  std::vector<core::execution> out;
  for (auto& s : shards_) {
    std::lock_guard guard{s.mutex};
    for (auto it = s.running.begin(); it != s.running.end();) {
      if (it->second.started_at < cutoff) {
        s.remember(it->first);
        out.push_back(std::move(it->second));
        it = s.running.erase(it);
      } else {
        ++it;
      }
    }
  }
  return out;
}

std::vector<core::execution> execution_table::running() const {
  std::vector<core::execution> out;
  for (auto& s : shards_) {
    std::lock_guard guard{s.mutex};
    for (const auto& [id, e] : s.running)
      out.push_back(e);
  }
  return out;
}

std::size_t execution_table::size() const {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard guard{s.mutex};
    n += s.running.size();
  }
  return n;
}

}  // namespace agentreg::actors
