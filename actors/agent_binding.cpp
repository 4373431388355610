#include "actors/agent_binding.hpp"

#include <utility>

namespace agentreg::actors {

agent_binding::agent_binding(core::agent_spec spec, index::agent_ref handle)
    : agent_id(std::move(spec.agent_id)),
      agent_type(std::move(spec.agent_type)),
      llm_provider(std::move(spec.llm_provider)),
      model_name(std::move(spec.model_name)),
      temperature(spec.temperature),
      max_tokens(spec.max_tokens),
      max_capacity(spec.max_capacity),
      ref(handle) {
  if (!spec.metadata.empty() || !spec.agent_card.empty() || !spec.skills.empty())
    extras = std::make_unique<const agent_extras>(
        agent_extras{std::move(spec.metadata), std::move(spec.agent_card), std::move(spec.skills)});
}

core::agent_spec agent_binding::spec() const {
  core::agent_spec s;
  s.agent_id = agent_id;
  s.agent_type = agent_type;
  s.llm_provider = llm_provider;
  s.model_name = model_name;
  s.temperature = temperature;
  s.max_tokens = max_tokens;
  s.max_capacity = max_capacity;
  if (extras) {
    s.metadata = extras->metadata;
    s.agent_card = extras->agent_card;
    s.skills = extras->skills;
  }
  return s;
}

const std::vector<std::string>& agent_binding::skills() const {
  static const std::vector<std::string> none;
  return extras ? extras->skills : none;
}

}  // namespace agentreg::actors
