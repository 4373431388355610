#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "index/priority_index.hpp"

namespace agentreg::actors {

/// The parts of a spec most agents leave empty, kept apart from the binding
/// so that an agent without them pays one null pointer for the three.
struct agent_extras {
  std::map<std::string, std::string> metadata;
  std::string agent_card;
  std::vector<std::string> skills;
};

/// An agent's spec and its handle in the index: replaced as a whole, never
/// modified, so readers on any thread see a consistent pair. The spec is
/// kept field by field, its rarely set parts behind one pointer: as a whole
/// core::agent_spec it took 288 bytes an agent (heaptrack, 1 M agents),
/// this 192 when they are empty.
struct agent_binding {
  agent_binding(core::agent_spec spec, index::agent_ref handle);

  std::string agent_id;
  std::string agent_type;
  std::string llm_provider;
  std::string model_name;
  double temperature = 0.7;
  std::int64_t max_tokens = 0;
  std::int64_t max_capacity = 1;
  std::unique_ptr<const agent_extras> extras;  ///< null: metadata, card and skills all empty
  index::agent_ref ref;

  /// The spec this binding was made from.
  [[nodiscard]] core::agent_spec spec() const;
  /// Its skills (empty when it has none).
  [[nodiscard]] const std::vector<std::string>& skills() const;
};

}  // namespace agentreg::actors
