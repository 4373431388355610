#include "actors/directory.hpp"

#include <functional>
#include <vector>

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
  static_cast<core::agent_spec&>(a) = binding.spec;
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

namespace {

std::atomic<std::uint64_t> next_directory{1};

// One thread's memo of agent ids by serial (directory::agent_id_of), for
// the last few directories it looked up: memos of directories that are
// gone are replaced in turn (they hold strings only, nothing of the
// engine), so a thread keeps at most `memos` of them.
struct id_memos {
  static constexpr std::size_t memos = 4;
  static constexpr std::size_t entries = 1024;  // a memo's slots, by serial % entries
  struct entry {
    std::uint64_t serial = 0;  // 0: empty (serials start at 1)
    std::string agent_id;
  };
  struct memo {
    std::uint64_t directory = 0;
    std::vector<entry> slots;
  };
  std::array<memo, memos> by_directory;
  std::size_t next = 0;  // the memo replaced next

  std::vector<entry>& of(std::uint64_t directory) {
    for (auto& m : by_directory)
      if (m.directory == directory)
        return m.slots;
    auto& m = by_directory[next];
    next = (next + 1) % memos;
    m.directory = directory;
    m.slots.assign(entries, entry{});
    return m.slots;
  }
};

thread_local id_memos memos;

}  // namespace

// relaxed: only uniqueness matters.
directory::directory() : instance_(next_directory.fetch_add(1, std::memory_order_relaxed)) {}

std::optional<std::string> directory::agent_id_of(std::uint64_t serial) const {
  auto& e = memos.of(instance_)[serial % id_memos::entries];
  if (e.serial != serial) {
    const auto rec = find_serial(serial);
    if (!rec)
      return std::nullopt;
    e.agent_id = rec->agent_id;
    e.serial = serial;
  }
  return e.agent_id;
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

}  // namespace agentreg::actors
