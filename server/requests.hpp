#pragma once
// What each route's body decodes into: facade argument structs, decoded and
// validated with Boost.JSON value_to (a tag_invoke per type) before any
// engine call, so a bad request never reaches the engine half-done. Every
// decoder throws decode_error. Included by server/ .cpp files only.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value_to.hpp>

#include "core/heartbeat.hpp"
#include "core/types.hpp"
#include "server/json.hpp"

namespace agentreg::http {

/// POST /v1/agents. The agent card, when given, is validated and its skill
/// ids and tags joined to spec.skills; spec.agent_card holds its JSON text.
struct register_request {
  core::agent_spec spec;
};

/// POST /v1/agents/{id}/heartbeat (an empty body is no load).
struct heartbeat_request {
  std::optional<std::int64_t> current_load;
};

/// One item of POST /v1/heartbeats: what registry::heartbeat_many takes.
using core::heartbeat_item;

/// POST /v1/heartbeats: at most max_batch items.
struct heartbeat_batch {
  static constexpr std::size_t max_batch = 1000;
  std::vector<heartbeat_item> heartbeats;
};

/// PUT /v1/agents/{id}/status.
struct status_request {
  core::agent_status status = core::agent_status::online;
};

/// PUT /v1/agents/{id}/load.
struct load_request {
  std::int64_t current_load = 0;
};

/// POST /v1/leases and POST /v1/leases/{id}/renew (agent_type empty there).
struct lease_request {
  std::string agent_type;
  std::optional<std::int64_t> ttl_ms;  ///< 1 .. max_ttl_ms
  static constexpr std::int64_t max_ttl_ms = 24LL * 3600 * 1000;
};
struct renew_request {
  std::optional<std::int64_t> ttl_ms;
};

/// POST /v1/executions.
struct start_request {
  std::string agent_id;
  core::execution_request task;
};

/// POST /v1/executions/{id}/complete.
struct complete_request {
  core::execution_status status = core::execution_status::success;
  core::execution_metrics metrics;
};

/// POST /v1/agents/{id}/tools.
struct tool_request {
  std::string tool_name;
  core::tool_call call;
};

register_request tag_invoke(boost::json::value_to_tag<register_request>, const boost::json::value& v);
heartbeat_request tag_invoke(boost::json::value_to_tag<heartbeat_request>, const boost::json::value& v);
heartbeat_batch tag_invoke(boost::json::value_to_tag<heartbeat_batch>, const boost::json::value& v);
status_request tag_invoke(boost::json::value_to_tag<status_request>, const boost::json::value& v);
load_request tag_invoke(boost::json::value_to_tag<load_request>, const boost::json::value& v);
lease_request tag_invoke(boost::json::value_to_tag<lease_request>, const boost::json::value& v);
renew_request tag_invoke(boost::json::value_to_tag<renew_request>, const boost::json::value& v);
start_request tag_invoke(boost::json::value_to_tag<start_request>, const boost::json::value& v);
complete_request tag_invoke(boost::json::value_to_tag<complete_request>, const boost::json::value& v);
tool_request tag_invoke(boost::json::value_to_tag<tool_request>, const boost::json::value& v);

/// Checks an A2A Agent Card (v1.0, or v0.3 tolerated) and answers the skills
/// it names (every skill id and tag, in order, without repeats). Throws
/// decode_error (invalid_argument) naming the first missing or mistyped field.
std::vector<std::string> card_skills(const boost::json::object& card);

}  // namespace agentreg::http
