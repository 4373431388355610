#include "actors/directory.hpp"

#include <algorithm>
#include <utility>

namespace agentreg::actors {

core::agent snapshot(const agent_record& rec, const index::priority_index& idx) {
  if (const auto binding = rec.binding())
    return snapshot(rec, *binding, idx);
  core::agent a;
  a.agent_id = rec.agent_id;
  a.registered_at = rec.registered_at;
  a.last_heartbeat = rec.last_heartbeat.load(std::memory_order_acquire);
  a.status = core::agent_status::offline;
  return a;
}

core::agent snapshot(const agent_record& rec, const agent_binding& binding, const index::priority_index& idx) {
  core::agent a;
  static_cast<core::agent_spec&>(a) = binding.spec();
  a.agent_id = rec.agent_id;
  a.registered_at = rec.registered_at;
  a.last_heartbeat = rec.last_heartbeat.load(std::memory_order_acquire);
  a.status = core::agent_status::offline;
  if (auto v = idx.view(binding.ref)) {
    a.current_load = v->load();
    a.status = static_cast<core::agent_status>(v->status);
  }
  return a;
}

std::optional<std::string> agent_id_at(const directory& agents, const index::priority_index& idx,
                                       index::agent_ref ref) {
  if (const auto label = idx.label(ref))
    return std::string{label->view()};
  const auto view = idx.view(ref);
  if (!view)
    return std::nullopt;
  const auto rec = agents.find_serial(view->tag);
  if (!rec)
    return std::nullopt;
  return rec->agent_id;
}

directory::shard<directory::id_map>& directory::id_shard(std::string_view id) const {
  return by_id_[core::string_hash{}(id) % shard_count];
}

std::shared_ptr<agent_record> directory::find(std::string_view agent_id) const {
  auto& s = id_shard(agent_id);
  std::shared_lock guard{s.mutex};
  auto it = s.map.find(agent_id);
  return it == s.map.end() ? nullptr : *it;
}

std::shared_ptr<agent_record> directory::find_serial(std::uint64_t serial) const {
  auto& s = by_serial_[serial % shard_count];
  std::shared_lock guard{s.mutex};
  auto it = s.map.find(serial);
  return it == s.map.end() ? nullptr : *it;
}

std::pair<std::shared_ptr<agent_record>, bool> directory::insert(std::shared_ptr<agent_record> rec) {
  auto& s = id_shard(rec->agent_id);
  {
    std::unique_lock guard{s.mutex};
    auto [it, inserted] = s.map.insert(rec);
    if (!inserted)
      return {*it, false};
  }
  // Visible by id first: a pick that finds the serial before this line
  // retries (the index entry exists before the record is published at all).
  auto& t = by_serial_[rec->serial % shard_count];
  {
    std::unique_lock guard{t.mutex};
    t.map.insert(rec);
  }
  size_.fetch_add(1, std::memory_order_relaxed);
  return {std::move(rec), true};
}

bool directory::erase(const agent_record& rec) {
  auto& s = id_shard(rec.agent_id);
  {
    std::unique_lock guard{s.mutex};
    auto it = s.map.find(rec.agent_id);
    if (it == s.map.end() || it->get() != &rec)
      return false;
    s.map.erase(it);
  }
  auto& t = by_serial_[rec.serial % shard_count];
  {
    std::unique_lock guard{t.mutex};
    t.map.erase(rec.serial);
  }
  size_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

std::vector<std::shared_ptr<agent_record>> directory::take_all() {
  // One shard locked at a time (ThreadSanitizer tracks at most 64 locks
  // held by one thread). Each shard's set is taken whole, and its records
  // moved out of it beside their serials, each read once: the set is
  // local by then, and nothing hashes the moved-from entries (a set's
  // element is const to keep its hash right; the slot is no const object).
  std::vector<std::pair<std::uint64_t, std::shared_ptr<agent_record>>> taken;
  taken.reserve(size());
  std::uint64_t low = ~std::uint64_t{0}, high = 0;
  for (auto& s : by_serial_) {
    serial_map local;
    {
      std::unique_lock guard{s.mutex};
      local = std::exchange(s.map, {});
    }
    for (const auto& entry : local) {
      const std::uint64_t serial = entry->serial;
      low = std::min(low, serial);
      high = std::max(high, serial);
      taken.emplace_back(serial, std::move(const_cast<std::shared_ptr<agent_record>&>(entry)));
    }
  }
  for (auto& s : by_id_) {
    std::unique_lock guard{s.mutex};
    s.map = {};
  }
  size_.store(0, std::memory_order_relaxed);
  const std::uint64_t n = taken.size();
  std::vector<std::shared_ptr<agent_record>> out;
  if (n > 0 && high - low < 2 * n) {
    // Serials are handed out in order and never reused: the usual
    // directory holds most of a range, and each record goes to its place
    // in it (no sort), the holes squeezed out after.
    out.resize(high - low + 1);
    for (auto& [serial, rec] : taken)
      out[serial - low] = std::move(rec);
    std::erase(out, nullptr);
  } else {
    std::sort(taken.begin(), taken.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out.reserve(n);
    for (auto& entry : taken)
      out.push_back(std::move(entry.second));
  }
  return out;
}

}  // namespace agentreg::actors
