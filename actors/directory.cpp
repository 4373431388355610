#include "actors/directory.hpp"

#include <algorithm>
#include <iterator>

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
  return it == s.map.end() ? nullptr : it->second;
}

std::shared_ptr<agent_record> directory::find_serial(std::uint64_t serial) const {
  auto& s = by_serial_[serial % shard_count];
  std::shared_lock guard{s.mutex};
  auto it = s.map.find(serial);
  return it == s.map.end() ? nullptr : it->second;
}

std::pair<std::shared_ptr<agent_record>, bool> directory::insert(std::shared_ptr<agent_record> rec) {
  auto& s = id_shard(rec->agent_id);
  {
    std::unique_lock guard{s.mutex};
    auto [it, inserted] = s.map.try_emplace(rec->agent_id, rec);
    if (!inserted)
      return {it->second, false};
  }
  // Visible by id first: a pick that finds the serial before this line
  // retries (the index entry exists before the record is published at all).
  auto& t = by_serial_[rec->serial % shard_count];
  {
    std::unique_lock guard{t.mutex};
    t.map.emplace(rec->serial, rec);
  }
  size_.fetch_add(1, std::memory_order_relaxed);
  return {std::move(rec), true};
}

bool directory::erase(const agent_record& rec) {
  auto& s = id_shard(rec.agent_id);
  {
    std::unique_lock guard{s.mutex};
    auto it = s.map.find(rec.agent_id);
    if (it == s.map.end() || it->second.get() != &rec)
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
  // held by one thread). The range first, then the records: a record
  // inserted between the two passes, which a teardown does not do, is
  // still answered, after the others.
  std::uint64_t low = ~std::uint64_t{0}, high = 0;
  std::size_t n = 0;
  for (const auto& s : by_serial_) {
    std::shared_lock guard{s.mutex};
    for (const auto& [serial, rec] : s.map) {
      low = std::min(low, serial);
      high = std::max(high, serial);
      ++n;
    }
  }
  std::vector<std::shared_ptr<agent_record>> out;
  if (n > 0 && high - low < 2 * std::uint64_t{n}) {
    // Serials are handed out in order and never reused: the usual
    // directory holds most of a range, and each record goes to its place
    // in it (no sort), the holes squeezed out after.
    out.resize(high - low + 1);
    std::vector<std::shared_ptr<agent_record>> late;
    for (auto& s : by_serial_) {
      std::unique_lock guard{s.mutex};
      for (auto& [serial, rec] : s.map)
        (serial >= low && serial - low < out.size() ? out[serial - low] : late.emplace_back()) = std::move(rec);
      s.map = {};
    }
    std::erase(out, nullptr);
    std::move(late.begin(), late.end(), std::back_inserter(out));
  } else {
    std::vector<std::pair<std::uint64_t, std::shared_ptr<agent_record>>> by_serial;
    by_serial.reserve(n);
    for (auto& s : by_serial_) {
      std::unique_lock guard{s.mutex};
      for (auto& [serial, rec] : s.map)
        by_serial.emplace_back(serial, std::move(rec));
      s.map = {};
    }
    std::sort(by_serial.begin(), by_serial.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out.reserve(by_serial.size());
    for (auto& entry : by_serial)
      out.push_back(std::move(entry.second));
  }
  for (auto& s : by_id_) {
    std::unique_lock guard{s.mutex};
    s.map = {};
  }
  size_.store(0, std::memory_order_relaxed);
  return out;
}

}  // namespace agentreg::actors
