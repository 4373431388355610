#include "actors/agent_binding.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <string_view>
#include <utility>

namespace agentreg::actors {

namespace {

bool has_extras(const core::agent_spec& spec) {
  return !spec.metadata.empty() || !spec.agent_card.empty() || !spec.skills.empty();
}

std::size_t hash_of(const core::agent_spec& spec) {
  std::size_t h = 0;
  auto mix = [&h](std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
  mix(std::hash<std::string_view>{}(spec.agent_type));
  mix(std::hash<std::string_view>{}(spec.llm_provider));
  mix(std::hash<std::string_view>{}(spec.model_name));
  mix(std::bit_cast<std::uint64_t>(spec.temperature));
  mix(static_cast<std::size_t>(spec.max_tokens));
  mix(static_cast<std::size_t>(spec.max_capacity));
  return h;
}

// Bit for bit: a profile answers back exactly the spec it was made from.
bool same(const agent_profile& p, const core::agent_spec& spec) {
  return p.agent_type == spec.agent_type && p.llm_provider == spec.llm_provider &&
         p.model_name == spec.model_name &&
         std::bit_cast<std::uint64_t>(p.temperature) == std::bit_cast<std::uint64_t>(spec.temperature) &&
         p.max_tokens == spec.max_tokens && p.max_capacity == spec.max_capacity;
}

}  // namespace

const std::vector<std::string>& agent_profile::skills() const {
  static const std::vector<std::string> none;
  return extras ? extras->skills : none;
}

namespace {

agent_profile profile_of(core::agent_spec&& spec) {
  agent_profile p{std::move(spec.agent_type), std::move(spec.llm_provider), std::move(spec.model_name),
                  spec.temperature, spec.max_tokens, spec.max_capacity, nullptr};
  if (has_extras(spec))
    p.extras = std::make_unique<const agent_extras>(
        agent_extras{std::move(spec.metadata), std::move(spec.agent_card), std::move(spec.skills)});
  return p;
}

// The same by copy, of the profile's fields only (not the id).
agent_profile profile_of(const core::agent_spec& spec) {
  agent_profile p{spec.agent_type, spec.llm_provider, spec.model_name,
                  spec.temperature, spec.max_tokens, spec.max_capacity, nullptr};
  if (has_extras(spec))
    p.extras = std::make_unique<const agent_extras>(agent_extras{spec.metadata, spec.agent_card, spec.skills});
  return p;
}

// Every field of the spec but its id is in the profile, and in hash_of()
// and same() (the extras in has_extras()): a field added to agent_spec
// changes its size and stops the build here until it is.
static_assert(sizeof(core::agent_spec) == 5 * sizeof(std::string) + 3 * 8 + sizeof(std::map<std::string, std::string>) +
                                              sizeof(std::vector<std::string>),
              "agent_spec changed: update agent_profile, profile_of, hash_of, same and has_extras");

}  // namespace

template <class Spec>
std::shared_ptr<const agent_profile> profile_pool::intern_spec(Spec&& spec) {
  if (has_extras(spec))
    return std::make_shared<const agent_profile>(profile_of(std::forward<Spec>(spec)));
  const std::size_t h = hash_of(spec);
  std::lock_guard guard{mutex_};
  auto [first, last] = by_hash_.equal_range(h);
  for (auto it = first; it != last; ++it)
    if (auto p = it->second.lock(); p && same(*p, spec))
      return p;
  if (by_hash_.size() >= prune_at_) {
    std::erase_if(by_hash_, [](const auto& entry) { return entry.second.expired(); });
    prune_at_ = std::max<std::size_t>(64, 2 * by_hash_.size());
  }
  // Its own allocation, not make_shared's one with the control block: the
  // pool's weak pointer then keeps only the control block of a profile
  // gone, until the next prune.
  auto p = std::shared_ptr<const agent_profile>(new agent_profile{profile_of(std::forward<Spec>(spec))});
  by_hash_.emplace(h, p);
  return p;
}

std::shared_ptr<const agent_profile> profile_pool::intern(const core::agent_spec& spec) { return intern_spec(spec); }

std::shared_ptr<const agent_profile> profile_pool::intern(core::agent_spec&& spec) {
  return intern_spec(std::move(spec));
}

std::size_t profile_pool::size() const {
  std::lock_guard guard{mutex_};
  return by_hash_.size();
}

core::agent_spec agent_binding::spec() const {
  core::agent_spec s;
  s.agent_id = agent_id;
  s.agent_type = profile->agent_type;
  s.llm_provider = profile->llm_provider;
  s.model_name = profile->model_name;
  s.temperature = profile->temperature;
  s.max_tokens = profile->max_tokens;
  s.max_capacity = profile->max_capacity;
  if (profile->extras) {
    s.metadata = profile->extras->metadata;
    s.agent_card = profile->extras->agent_card;
    s.skills = profile->extras->skills;
  }
  return s;
}

std::shared_ptr<const agent_binding> bind(profile_pool& pool, const core::agent_spec& spec, index::agent_ref handle) {
  return std::make_shared<const agent_binding>(spec.agent_id, pool.intern(spec), handle);
}

std::shared_ptr<const agent_binding> bind(profile_pool& pool, core::agent_spec&& spec, index::agent_ref handle) {
  auto id = std::move(spec.agent_id);
  return std::make_shared<const agent_binding>(std::move(id), pool.intern(std::move(spec)), handle);
}

}  // namespace agentreg::actors
