#include "server/errors.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace agentreg::http {

const std::vector<error_entry>& error_table() {
  static const std::vector<error_entry> table{
      {"malformed_json", 400},        {"invalid_request", 400},     {"unauthorized", 401},
      {"forbidden", 403},             {"not_found", 404},           {"unknown_agent", 404},
      {"unknown_type", 404},          {"unknown_execution", 404},   {"unknown_lease", 404},
      {"unknown_agent_card", 404},    {"method_not_allowed", 405},  {"already_completed", 409},
      {"no_capacity", 409},           {"lease_not_held", 409},      {"capacity_below_load", 409},
      // A bound on what the registry keeps (tools per agent, summary keys):
      // 409 with no_capacity, not 422, since the same request is valid while
      // the registry holds less.
      {"limit_reached", 409},
      {"body_too_large", 413},        {"unsupported_media_type", 415}, {"invalid_argument", 422},
      {"invalid_capacity", 422},      {"load_out_of_range", 422},   {"invalid_status", 422},
      {"invalid_tokens", 422},        {"invalid_cost", 422},        {"invalid_score", 422},
      {"rate_limited", 429},          {"headers_too_large", 431},   {"internal", 500},
      {"persistence_backlog", 503},   {"too_many_connections", 503}, {"shutting_down", 503},
      {"not_ready", 503},             {"overloaded", 503},          {"engine_timeout", 504},
  };
  return table;
}

unsigned status_of(std::string_view code) {
  for (const auto& e : error_table())
    if (e.code == code)
      return e.status;
  return 500;
}

response error_response(std::string_view code, std::string message) {
  response r;
  r.status = status_of(code);
  boost::json::object body;
  body["error"] = code;
  body["message"] = std::move(message);
  r.body = boost::json::serialize(body);
  // A client that retries after a second finds room again in most cases
  // (the writer drains a batch every flush_interval).
  if (r.status == 503 || r.status == 429)
    r.headers.emplace_back("Retry-After", "1");
  if (r.status == 401)
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

response overloaded_response(const engine_gate& gate, std::size_t calls) {
  std::string message = "the engine has " + std::to_string(gate.cap()) +
                        " calls in flight at most (--max-engine-calls) and ";
  // A batch larger than the whole cap never passes: say so, a retry would not help.
  if (calls > gate.cap())
    message += "this request needs " + std::to_string(calls) + " of them: send smaller batches";
  else
    message += "too few are free now; retry later";
  return error_response("overloaded", std::move(message));
}

response error_response(const core::error& e) { return error_response(core::to_string(e.code), e.message); }

}  // namespace agentreg::http
