// Work routes: executions, tool usage, performance.

#include "core/uuid.hpp"
#include "server/api.hpp"
#include "server/api_common.hpp"
#include "server/encode.hpp"
#include "server/requests.hpp"

namespace agentreg::http {

namespace {

// The hot calls never wait for room in the write-behind backlog here: a full
// backlog is a 503 with Retry-After, not a blocked I/O thread.
constexpr auto never_wait = when_backlog_full::refuse;

// An execution id in a path: one that is not a UUID names no execution, so
// it is a 404 like any unknown id (as a malformed lease id is), not a 422.
const std::string& execution_param(const std::string& text) {
  if (!core::parse_uuid(text))
    throw decode_error("unknown_execution", "no execution has the id \"" + text + "\" (ids are UUIDs)");
  return text;
}

}  // namespace

void add_work_routes(router& table, registry& reg, const api_options& options) {
  const auto depth = options.max_json_depth;
  table.add({method::post, "/v1/executions", scope::write,
             [&reg, depth](const request& req, responder respond) {
               auto r = decode_body<start_request>(req, depth);
               auto id = reg.start_execution(r.agent_id, std::move(r.task), never_wait);
               respond(answer(id, [&](const std::string& x) {
                 boost::json::object body;
                 body["execution_id"] = x;
                 body["agent_id"] = r.agent_id;
                 body["status"] = "running";
                 return body;
               }, 201));
             },
             "Start an execution on an agent", {201, 404, 409, 422, 503}, true});
  table.add({method::post, "/v1/executions/{execution_id}/complete", scope::write,
             [&reg, depth](const request& req, responder respond) {
               const auto& id = execution_param(req.params[0]);
               if (req.body.empty())
                 throw decode_error("invalid_request", "status is required");
               auto r = decode_body<complete_request>(req, depth);
               auto e = reg.complete_execution(id, r.status, r.metrics, never_wait);
               respond(answer(e, [](const core::execution& x) { return to_json(x); }));
             },
             "Complete a running execution with its tokens, cost and score", {200, 404, 409, 422, 503}, true});
  table.add({method::get, "/v1/executions/{execution_id}", scope::read,
             [&reg](const request& req, responder respond) {
               respond(answer(reg.get_execution(execution_param(req.params[0])),
                              [](const core::execution& x) { return to_json(x); }));
             },
             "A running execution", {200, 404, 409}, false});

  table.add({method::post, "/v1/agents/{agent_id}/tools", scope::write,
             [&reg, depth](const request& req, responder respond) {
               if (req.body.empty())
                 throw decode_error("invalid_request", "tool_name is required");
               auto r = decode_body<tool_request>(req, depth);
               auto t = reg.record_tool_usage(req.params[0], r.tool_name, r.call, never_wait);
               respond(answer(t, [](const core::tool_usage& x) { return to_json(x); }));
             },
             "Record tool calls of an agent", {200, 404, 409, 422, 503}, true});
  table.add({method::get, "/v1/agents/{agent_id}/tools", scope::read,
             [&reg](const request& req, responder respond) {
               respond(answer(reg.get_tool_usage(req.params[0]), [](const std::vector<core::tool_usage>& list) {
                 boost::json::array tools;
                 for (const auto& t : list)
                   tools.emplace_back(to_json(t));
                 boost::json::object body;
                 body["tools"] = std::move(tools);
                 return body;
               }));
             },
             "Every tool the agent used, by name", {200, 404}, false});

  table.add({method::get, "/v1/agents/{agent_id}/performance", scope::read,
             [&reg](const request& req, responder respond) {
               reg.get_performance_async(req.params[0], [respond = std::move(respond)](expected<core::performance> p) {
                 respond(answer(p, [](const core::performance& x) { return to_json(x); }));
               });
             },
             "The agent's performance summary", {200, 404}, false});
  table.add({method::get, "/v1/performance", scope::read,
             [&reg](const request& req, responder respond) {
               query_reader q{req, {"by"}};
               const auto* by = q.get("by");
               if (!by)
                 throw decode_error("invalid_request", "by is required (agent, agent_type, model, task_type, workflow)");
               auto dimension = core::parse_group_by(*by);
               if (!dimension)
                 throw decode_error("invalid_request",
                                    "unknown by \"" + *by + "\" (agent, agent_type, model, task_type, workflow)");
               const auto revision = reg.revision();  // before: see list_agents
               reg.get_performance_by_async(
                   *dimension, [respond = std::move(respond), d = *dimension,
                                revision](expected<std::vector<core::performance>> p) {
                     auto r = answer(p, [d](const std::vector<core::performance>& list) {
                       boost::json::array summaries;
                       for (const auto& x : list)
                         summaries.emplace_back(to_json(x));
                       boost::json::object body;
                       body["by"] = core::to_string(d);
                       body["summaries"] = std::move(summaries);
                       return body;
                     });
                     if (p)
                       r.headers.emplace_back("X-Agentreg-Revision", std::to_string(revision));
                     respond(std::move(r));
                   });
             },
             "Every summary of one dimension", {200}, false});
}

}  // namespace agentreg::http
