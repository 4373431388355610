#include "actors/execution_table.hpp"

#include "index/stripe.hpp"

namespace agentreg::actors {

core::execution running_execution::to_execution(const core::uuid& id, const std::string& price_version) && {
  core::execution e;
  e.id = core::to_string(id);
  e.agent_id = agent->agent_id;
  e.agent_type = agent->profile->agent_type;
  e.llm_provider = agent->profile->llm_provider;
  e.model_name = agent->profile->model_name;
  e.task_type = std::move(task_type);
  e.workflow_slug = std::move(workflow_slug);
  e.run_id = std::move(run_id);
  e.started_at = started_at;
  e.price_version = price_version;
  return e;
}

core::uuid execution_table::make_id() {
  static_assert(shard_count % index::stripe::count == 0);
  constexpr std::uint64_t per_stripe = shard_count / index::stripe::count;
  thread_local std::uint64_t turn = 0;  // spreads a thread's executions over its shards
  core::uuid u = core::make_uuid();
  const std::uint64_t shard = index::stripe::of_this_thread().id * per_stripe + turn++ % per_stripe;
  u.lo = (u.lo & ~std::uint64_t{shard_count - 1}) | shard;  // the variant bits are the top two
  return u;
}

void execution_table::insert(const core::uuid& id, running_execution e) {
  auto& s = shard_of(id);
  std::lock_guard guard{s.mutex};
  s.running.emplace(id, std::move(e));
}

core::expected<running_execution> execution_table::take(const core::uuid& id) {
  auto& s = shard_of(id);
  decltype(shard::running)::node_type node;
  {
    std::lock_guard guard{s.mutex};
    node = s.running.extract(id);
    if (!node.empty()) {
      s.remember(id);
    } else if (s.was_completed(id)) {
      return core::error{core::errc::already_completed, "execution " + core::to_string(id) + " is already completed"};
    } else {
      return core::error{core::errc::unknown_execution, "no running execution " + core::to_string(id)};
    }
  }
  // The node is freed here, outside the lock.
  return std::move(node.mapped());
}

core::expected<running_execution> execution_table::find(const core::uuid& id) const {
  const auto& s = shard_of(id);
  std::lock_guard guard{s.mutex};
  if (auto it = s.running.find(id); it != s.running.end())
    return it->second;
  if (s.was_completed(id))
    return core::error{core::errc::already_completed, "execution " + core::to_string(id) + " is already completed"};
  return core::error{core::errc::unknown_execution, "no running execution " + core::to_string(id)};
}

std::vector<std::pair<core::uuid, running_execution>> execution_table::take_started_before(core::monotonic_time cutoff) {
  std::vector<std::pair<core::uuid, running_execution>> out;
  for (auto& s : shards_) {
    std::lock_guard guard{s.mutex};
    for (auto it = s.running.begin(); it != s.running.end();) {
      if (it->second.started_mono < cutoff) {
        s.remember(it->first);
        out.emplace_back(it->first, std::move(it->second));
        it = s.running.erase(it);
      } else {
        ++it;
      }
    }
  }
  return out;
}

std::size_t execution_table::running_in(std::size_t shard) const {
  const auto& s = shards_.at(shard);
  std::lock_guard guard{s.mutex};
  return s.running.size();
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
