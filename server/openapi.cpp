// GET /openapi.json: generated from the route table, so that it cannot
// list a route the server lacks or miss one it has. What the table does not
// hold (each route's body schemas and error codes) is in route_docs below,
// checked against the table and the error table by tests/server/unit_test.cpp.

#include <map>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "server/api.hpp"
#include "server/errors.hpp"

namespace agentreg::http {

namespace {

std::string lower(method m) {
  switch (m) {
    case method::get: return "get";
    case method::post: return "post";
    case method::put: return "put";
    case method::del: return "delete";
  }
  return "get";
}

// The bodies' schemas (components/schemas), written as the decoders in
// server/requests.cpp read them and the encoders in server/encode.cpp and
// server/api_*.cpp write them. Request schemas refuse unknown fields, as the
// decoders do.
constexpr std::string_view schemas_json = R"json({
  "Error": {"type": "object", "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
  "Timestamp": {"type": ["string", "null"], "format": "date-time"},
  "RegisterRequest": {"type": "object", "additionalProperties": false, "required": ["agent_id", "agent_type"],
    "properties": {"agent_id": {"type": "string"}, "agent_type": {"type": "string"},
      "llm_provider": {"type": "string"}, "model_name": {"type": "string"}, "temperature": {"type": "number"},
      "max_tokens": {"type": "integer"}, "max_capacity": {"type": "integer", "minimum": 1, "maximum": 4095},
      "metadata": {"type": "object"}, "skills": {"type": "array", "items": {"type": "string"}},
      "agent_card": {"type": "object", "description": "an A2A Agent Card (v1.0; v0.3 tolerated)"}}},
  "HeartbeatRequest": {"type": "object", "additionalProperties": false,
    "properties": {"current_load": {"type": "integer", "minimum": 0}}},
  "HeartbeatBatchRequest": {"type": "object", "additionalProperties": false, "required": ["heartbeats"],
    "properties": {"heartbeats": {"type": "array", "maxItems": 1000, "items": {"type": "object",
      "additionalProperties": false, "required": ["agent_id"],
      "properties": {"agent_id": {"type": "string"}, "current_load": {"type": "integer", "minimum": 0}}}}}},
  "StatusRequest": {"type": "object", "additionalProperties": false, "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["online", "offline", "paused"]}}},
  "LoadRequest": {"type": "object", "additionalProperties": false, "required": ["current_load"],
    "properties": {"current_load": {"type": "integer", "minimum": 0}}},
  "LeaseRequest": {"type": "object", "additionalProperties": false, "required": ["agent_type"],
    "properties": {"agent_type": {"type": "string"}, "ttl_ms": {"type": "integer", "minimum": 1}}},
  "RenewRequest": {"type": "object", "additionalProperties": false,
    "properties": {"ttl_ms": {"type": "integer", "minimum": 1}}},
  "StartRequest": {"type": "object", "additionalProperties": false, "required": ["agent_id"],
    "properties": {"agent_id": {"type": "string"}, "task_type": {"type": "string"},
      "workflow_slug": {"type": "string"}, "run_id": {"type": "string"}}},
  "CompleteRequest": {"type": "object", "additionalProperties": false, "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["success", "failed", "timeout"]},
      "prompt_tokens": {"type": "integer", "minimum": 0}, "completion_tokens": {"type": "integer", "minimum": 0},
      "cached_tokens": {"type": "integer", "minimum": 0}, "total_tokens": {"type": "integer", "minimum": 0},
      "estimated_cost_usd": {"type": "number", "minimum": 0}, "success_score": {"type": "number", "minimum": 0, "maximum": 1},
      "retry_count": {"type": "integer", "minimum": 0}, "error_message": {"type": "string"}}},
  "ToolRequest": {"type": "object", "additionalProperties": false, "required": ["tool_name"],
    "properties": {"tool_name": {"type": "string"}, "execution_id": {"type": "string"},
      "success_count": {"type": "integer", "minimum": 0}, "failure_count": {"type": "integer", "minimum": 0},
      "duration_ms": {"type": "number", "minimum": 0}}},
  "Agent": {"type": "object", "required": ["agent_id", "agent_type", "status", "current_load", "max_capacity"],
    "properties": {"agent_id": {"type": "string"}, "agent_type": {"type": "string"},
      "llm_provider": {"type": "string"}, "model_name": {"type": "string"}, "temperature": {"type": "number"},
      "max_tokens": {"type": "integer"}, "max_capacity": {"type": "integer"}, "metadata": {"type": "object"},
      "skills": {"type": "array", "items": {"type": "string"}}, "has_agent_card": {"type": "boolean"},
      "current_load": {"type": "integer"},
      "status": {"type": "string", "enum": ["online", "busy", "offline", "paused"]},
      "last_heartbeat": {"$ref": "#/components/schemas/Timestamp"},
      "registered_at": {"$ref": "#/components/schemas/Timestamp"}}},
  "AgentPage": {"type": "object", "required": ["agents", "next_cursor"],
    "properties": {"agents": {"type": "array", "items": {"$ref": "#/components/schemas/Agent"}},
      "next_cursor": {"type": ["string", "null"]}}},
  "LeastLoaded": {"type": "object", "required": ["agent"],
    "properties": {"agent": {"oneOf": [{"$ref": "#/components/schemas/Agent"}, {"type": "null"}]}}},
  "HeartbeatResults": {"type": "object", "required": ["results"],
    "properties": {"results": {"type": "array", "items": {"type": "object", "required": ["agent_id", "ok"],
      "properties": {"agent_id": {"type": "string"}, "ok": {"type": "boolean"}, "status": {"type": "string"},
        "current_load": {"type": "integer"}, "error": {"type": "string"}, "message": {"type": "string"}}}}}},
  "AgentCard": {"type": "object", "description": "the A2A Agent Card the agent registered, as stored"},
  "Lease": {"type": "object", "required": ["lease_id", "agent_id", "agent_type", "expires_at"],
    "properties": {"lease_id": {"type": "string"}, "agent_id": {"type": "string"},
      "agent_type": {"type": "string"}, "expires_at": {"$ref": "#/components/schemas/Timestamp"}}},
  "StartedExecution": {"type": "object", "required": ["execution_id", "agent_id", "status"],
    "properties": {"execution_id": {"type": "string", "format": "uuid"}, "agent_id": {"type": "string"},
      "status": {"type": "string", "enum": ["running"]}}},
  "Execution": {"type": "object", "required": ["execution_id", "agent_id", "status"],
    "properties": {"execution_id": {"type": "string", "format": "uuid"}, "agent_id": {"type": "string"},
      "agent_type": {"type": "string"}, "llm_provider": {"type": "string"}, "model_name": {"type": "string"},
      "task_type": {"type": "string"}, "workflow_slug": {"type": "string"}, "run_id": {"type": "string"},
      "status": {"type": "string", "enum": ["running", "success", "failed", "timeout"]},
      "started_at": {"$ref": "#/components/schemas/Timestamp"},
      "completed_at": {"$ref": "#/components/schemas/Timestamp"}, "duration_ms": {"type": "number"},
      "prompt_tokens": {"type": ["integer", "null"]}, "completion_tokens": {"type": ["integer", "null"]},
      "cached_tokens": {"type": ["integer", "null"]}, "total_tokens": {"type": ["integer", "null"]},
      "cost_micro_usd": {"type": ["integer", "null"]}, "estimated_cost_usd": {"type": ["number", "null"]},
      "cost_from_price_table": {"type": "boolean"}, "price_version": {"type": ["string", "integer", "null"]},
      "success_score": {"type": ["number", "null"]}, "retry_count": {"type": "integer"},
      "error_message": {"type": "string"}}},
  "ToolUsage": {"type": "object", "required": ["agent_id", "tool_name", "invocation_count"],
    "properties": {"agent_id": {"type": "string"}, "tool_name": {"type": "string"},
      "invocation_count": {"type": "integer"}, "success_count": {"type": "integer"},
      "failure_count": {"type": "integer"}, "avg_duration_ms": {"type": "number"},
      "p50_duration_ms": {"type": "number"}, "p95_duration_ms": {"type": "number"},
      "p99_duration_ms": {"type": "number"}, "last_used_at": {"$ref": "#/components/schemas/Timestamp"}}},
  "ToolList": {"type": "object", "required": ["tools"],
    "properties": {"tools": {"type": "array", "items": {"$ref": "#/components/schemas/ToolUsage"}}}},
  "Performance": {"type": "object", "required": ["dimension", "key", "total_executions"],
    "properties": {"dimension": {"type": "string"}, "key": {"type": "string"},
      "total_executions": {"type": "integer"}, "successful_executions": {"type": "integer"},
      "failed_executions": {"type": "integer"}, "timeout_executions": {"type": "integer"},
      "success_rate": {"type": "number"}, "avg_duration_ms": {"type": "number"},
      "p50_duration_ms": {"type": "number"}, "p95_duration_ms": {"type": "number"},
      "p99_duration_ms": {"type": "number"}, "total_tokens_used": {"type": "integer"},
      "total_cost_micro_usd": {"type": "integer"}, "total_cost_usd": {"type": "number"},
      "avg_cost_per_execution": {"type": "number"}, "total_retries": {"type": "integer"},
      "last_execution_at": {"$ref": "#/components/schemas/Timestamp"}}},
  "PerformanceList": {"type": "object", "required": ["by", "summaries"],
    "properties": {"by": {"type": "string", "enum": ["agent", "agent_type", "model", "task_type", "workflow"]},
      "summaries": {"type": "array", "items": {"$ref": "#/components/schemas/Performance"}}}},
  "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}},
  "Ready": {"type": "object", "required": ["ready", "persistence"],
    "properties": {"ready": {"type": "boolean"}, "persistence": {"type": "string", "enum": ["postgresql", "memory_only"]}}},
  "Stats": {"type": "object", "required": ["agents", "persistence"],
    "description": "the engine's counters; docs/api.md lists every field",
    "properties": {"agents": {"type": "integer"}, "online": {"type": "integer"}, "busy": {"type": "integer"},
      "offline": {"type": "integer"}, "paused": {"type": "integer"}, "leases_held": {"type": "integer"},
      "running_executions": {"type": "integer"}, "completed_executions": {"type": "integer"},
      "tool_calls": {"type": "integer"}, "degraded": {"type": "boolean"}, "last_sweep": {"type": "object"},
      "persistence": {"type": "object"}, "server": {"type": "object"}}},
  "OpenAPI": {"type": "object", "required": ["openapi", "paths"], "description": "this document"},
  "WatchPoll": {"type": "object", "description": "a long poll's answer (wait=): the changes after since; docs/api.md"}
})json";

// What one route's document holds beyond the route table.
struct route_doc {
  std::string_view request;  ///< components/schemas name of the body; "" for a route without one
  std::string_view response;  ///< of the success body; "" when it has none (204)
  std::string_view media = "application/json";  ///< of the success body
  std::vector<std::string_view> errors;  ///< the route's own error codes (route_errors adds the common ones)
};

const std::map<std::string, route_doc, std::less<>>& route_docs() {
  static const std::map<std::string, route_doc, std::less<>> docs{
      {"POST /v1/agents", {"RegisterRequest", "Agent", "application/json",
                           {"invalid_argument", "invalid_capacity", "capacity_below_load", "limit_reached"}}},
      {"GET /v1/agents", {"", "AgentPage", "application/json", {"invalid_argument", "invalid_status"}}},
      {"GET /v1/agents/least-loaded", {"", "LeastLoaded", "application/json", {"invalid_argument"}}},
      {"GET /v1/agents/{agent_id}", {"", "Agent", "application/json", {"unknown_agent"}}},
      {"DELETE /v1/agents/{agent_id}", {"", "", "application/json", {"unknown_agent"}}},
      {"POST /v1/agents/{agent_id}/heartbeat",
       {"HeartbeatRequest", "Agent", "application/json", {"unknown_agent", "load_out_of_range", "invalid_argument"}}},
      {"POST /v1/heartbeats", {"HeartbeatBatchRequest", "HeartbeatResults", "application/json", {}}},
      {"PUT /v1/agents/{agent_id}/status", {"StatusRequest", "Agent", "application/json", {"unknown_agent", "invalid_status"}}},
      {"PUT /v1/agents/{agent_id}/load", {"LoadRequest", "Agent", "application/json", {"unknown_agent", "load_out_of_range"}}},
      {"GET /v1/agents/{agent_id}/agent-card.json",
       {"", "AgentCard", "application/json", {"unknown_agent", "unknown_agent_card"}}},
      {"POST /v1/leases", {"LeaseRequest", "Lease", "application/json", {"invalid_argument", "unknown_type", "no_capacity"}}},
      {"POST /v1/leases/{lease_id}/renew",
       {"RenewRequest", "Lease", "application/json", {"unknown_lease", "lease_not_held", "invalid_argument"}}},
      {"DELETE /v1/leases/{lease_id}", {"", "", "application/json", {"unknown_lease", "lease_not_held"}}},
      {"POST /v1/executions",
       {"StartRequest", "StartedExecution", "application/json", {"unknown_agent", "invalid_argument", "limit_reached"}}},
      {"POST /v1/executions/{execution_id}/complete",
       {"CompleteRequest", "Execution", "application/json",
        {"unknown_execution", "already_completed", "invalid_status", "invalid_tokens", "invalid_cost", "invalid_score",
         "invalid_argument"}}},
      {"GET /v1/executions/{execution_id}",
       {"", "Execution", "application/json", {"unknown_execution", "already_completed", "invalid_argument"}}},
      {"POST /v1/agents/{agent_id}/tools",
       {"ToolRequest", "ToolUsage", "application/json", {"unknown_agent", "invalid_argument", "limit_reached"}}},
      {"GET /v1/agents/{agent_id}/tools", {"", "ToolList", "application/json", {"unknown_agent"}}},
      {"GET /v1/agents/{agent_id}/performance", {"", "Performance", "application/json", {"unknown_agent"}}},
      {"GET /v1/performance", {"", "PerformanceList", "application/json", {}}},
      {"GET /health", {"", "Health", "application/json", {}}},
      {"GET /ready", {"", "Ready", "application/json", {"not_ready"}}},
      {"GET /v1/stats", {"", "Stats", "application/json", {}}},
      {"GET /openapi.json", {"", "OpenAPI", "application/json", {}}},
      {"GET /metrics", {"", "", "text/plain; version=0.0.4", {}}},
      {"GET /v1/watch", {"", "WatchPoll", "application/json", {}}},
  };
  return docs;
}

const route_doc* doc_of(const route& r) {
  const auto& docs = route_docs();
  const auto it = docs.find(std::string{to_string(r.verb)} + " " + r.pattern);
  return it == docs.end() ? nullptr : &it->second;
}

boost::json::object ref(std::string_view schema) {
  return boost::json::object{{"$ref", "#/components/schemas/" + std::string{schema}}};
}

}  // namespace

std::vector<std::string_view> route_errors(const route& r) {
  std::vector<std::string_view> codes{"invalid_request", "rate_limited", "internal",
                                      "too_many_connections", "shutting_down", "headers_too_large"};
  if (r.has_body)
    codes.insert(codes.end(), {"malformed_json", "body_too_large", "unsupported_media_type"});
  if (r.needs != scope::open)
    codes.insert(codes.end(), {"unauthorized", "forbidden"});
  if (r.engine != engine_use::none)
    codes.push_back("overloaded");
  if (!r.own_deadline && r.engine != engine_use::none)
    codes.push_back("engine_timeout");
  // Writes go through the write-behind backlog.
  if (r.verb != method::get)
    codes.push_back("persistence_backlog");
  if (const auto* d = doc_of(r))
    codes.insert(codes.end(), d->errors.begin(), d->errors.end());
  return codes;
}

std::string openapi_document(const router& table) {
  boost::json::object doc;
  doc["openapi"] = "3.1.0";
  doc["info"] = boost::json::object{{"title", "agentregd"},
                                    {"version", "1"},
                                    {"description", "The agentreg registry over HTTP/JSON; see docs/api.md."}};
  boost::json::object paths;
  for (const auto& r : table.routes()) {
    const auto* d = doc_of(r);
    auto& item = paths[r.pattern];
    if (!item.is_object())
      item = boost::json::object{};
    boost::json::object op;
    op["summary"] = r.summary;
    op["operationId"] = lower(r.verb) + r.pattern;
    if (r.needs == scope::open)
      op["security"] = boost::json::array{};
    else
      op["security"] = boost::json::array{boost::json::object{{"bearer", boost::json::array{}}}};
    op["x-agentreg-scope"] = r.needs == scope::open ? "open" : r.needs == scope::read ? "read" : "write";
    boost::json::array params;
    std::size_t at = 0;
    while ((at = r.pattern.find('{', at)) != std::string::npos) {
      const auto end = r.pattern.find('}', at);
      params.emplace_back(boost::json::object{{"name", r.pattern.substr(at + 1, end - at - 1)},
                                              {"in", "path"},
                                              {"required", true},
                                              {"schema", boost::json::object{{"type", "string"}}}});
      at = end;
    }
    if (!params.empty())
      op["parameters"] = std::move(params);
    if (r.has_body && d && !d->request.empty())
      op["requestBody"] = boost::json::object{
          {"content", boost::json::object{{"application/json", boost::json::object{{"schema", ref(d->request)}}}}}};
    boost::json::object responses;
    for (unsigned s : r.statuses) {
      if (s >= 400)
        continue;
      boost::json::object ok;
      ok["description"] = s == 204 ? "No Content" : s == 304 ? "Not Modified" : s == 201 ? "Created" : "Success";
      if (s != 204 && s != 304) {
        // The dashboard's files are served as they are.
        const std::string media = d ? std::string{d->media} : std::string{"text/html"};
        boost::json::object body;
        if (d && !d->response.empty())
          body["schema"] = ref(d->response);
        else
          body["schema"] = boost::json::object{{"type", "string"}};
        ok["content"] = boost::json::object{{media, std::move(body)}};
      }
      responses[std::to_string(s)] = std::move(ok);
    }
    // Errors by status, each with the codes the route may answer.
    std::map<unsigned, boost::json::array> by_status;
    for (auto code : route_errors(r))
      by_status[status_of(code)].emplace_back(boost::json::string{code});
    for (auto& [status, codes] : by_status) {
      boost::json::object schema{{"allOf", boost::json::array{ref("Error")}},
                                 {"properties", {{"error", {{"enum", codes}}}}}};
      boost::json::object e;
      e["description"] = "Error (docs/api.md, error table)";
      e["content"] = boost::json::object{{"application/json", boost::json::object{{"schema", std::move(schema)}}}};
      if (status == 503 || status == 429)
        e["headers"] = boost::json::object{{"Retry-After", {{"schema", {{"type", "integer"}}}}}};
      responses[std::to_string(status)] = std::move(e);
    }
    op["responses"] = std::move(responses);
    item.as_object()[lower(r.verb)] = std::move(op);
  }
  doc["paths"] = std::move(paths);
  auto schemas = boost::json::parse(schemas_json).as_object();
  boost::json::array codes;
  for (const auto& e : error_table())
    codes.emplace_back(e.code);
  schemas["Error"].as_object()["properties"].as_object()["error"].as_object()["enum"] = std::move(codes);
  doc["components"] = boost::json::object{
      {"securitySchemes", boost::json::object{{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
      {"schemas", std::move(schemas)}};
  return boost::json::serialize(doc);
}

}  // namespace agentreg::http
