#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/types.hpp"
#include "index/priority_index.hpp"

namespace agentreg::actors {

/// The parts of a spec most agents leave empty, kept apart so that a
/// profile without them pays one null pointer for the three.
struct agent_extras {
  std::map<std::string, std::string> metadata;
  std::string agent_card;
  std::vector<std::string> skills;
};

/// A spec less its id: what the agents of a fleet have in common.
/// Immutable, so agents registered with equal specs share one
/// (profile_pool); an agent whose spec changes gets another.
struct agent_profile {
  std::string agent_type;
  std::string llm_provider;
  std::string model_name;
  double temperature = 0.7;
  std::int64_t max_tokens = 0;
  std::int64_t max_capacity = 1;
  std::unique_ptr<const agent_extras> extras;  ///< null: metadata, card and skills all empty

  /// Its skills (empty when it has none).
  [[nodiscard]] const std::vector<std::string>& skills() const;
};

/// The profiles in use, by value: intern() answers the one already in use
/// for an equal spec. A million agents of a few specs keep a few profiles:
/// with the spec in every agent's binding, that took 192 bytes an agent,
/// this binding 80 (with make_shared's control block; heaptrack,
/// agentreg-bench engine). Specs with
/// metadata, an agent card or skills are not shared (those tend to be the
/// agent's own, and comparing them costs more than it saves). A profile
/// goes with its last agent; the pool forgets it at its next prune, which
/// runs when the pool has doubled since the last one (so the pool stays
/// within twice the profiles in use, plus 64). Thread-safe.
class profile_pool {
 public:
  /// The profile of `spec`: one in use if equal, else a new one made from
  /// `spec`'s fields (copied from an lvalue, moved from an rvalue; never
  /// its id). A spec with extras always gets a new one.
  std::shared_ptr<const agent_profile> intern(const core::agent_spec& spec);
  std::shared_ptr<const agent_profile> intern(core::agent_spec&& spec);

  /// Profiles tracked: those in use, and those gone since the last prune.
  [[nodiscard]] std::size_t size() const;

 private:
  template <class Spec>
  std::shared_ptr<const agent_profile> intern_spec(Spec&& spec);

  mutable std::mutex mutex_;
  std::unordered_multimap<std::size_t, std::weak_ptr<const agent_profile>> by_hash_;
  std::size_t prune_at_ = 64;
};

/// An agent's id, profile and handle in the index: replaced as a whole,
/// never modified, so readers on any thread see a consistent set.
struct agent_binding {
  agent_binding(std::string id, std::shared_ptr<const agent_profile> p, index::agent_ref handle)
      : agent_id(std::move(id)), profile(std::move(p)), ref(handle) {}

  std::string agent_id;
  std::shared_ptr<const agent_profile> profile;  ///< never null
  index::agent_ref ref;

  /// The spec this binding was made from.
  [[nodiscard]] core::agent_spec spec() const;
};

/// A binding of `spec` with its profile from `pool`. Registering an agent
/// of a spec in use copies its id and nothing else; an rvalue spec is moved
/// from (its id and, for a new profile, its fields).
std::shared_ptr<const agent_binding> bind(profile_pool& pool, const core::agent_spec& spec, index::agent_ref handle);
std::shared_ptr<const agent_binding> bind(profile_pool& pool, core::agent_spec&& spec, index::agent_ref handle);

}  // namespace agentreg::actors
