// Operation routes: /health, /ready, /v1/stats, /openapi.json.

#include "server/api.hpp"
#include "server/api_common.hpp"
#include "server/encode.hpp"

namespace agentreg::http {

void add_operation_routes(router& table, registry& reg, const api_options& options) {
  table.add({method::get, "/health", scope::open,
             [](const request&, responder respond) {
               boost::json::object body;
               body["status"] = "ok";
               respond(json_response(200, body));
             },
             "Liveness", {200}, false});
  table.add({method::get, "/ready", scope::open,
             [&reg](const request&, responder respond) {
               reg.stats_async([respond = std::move(respond)](expected<core::engine_stats> s) {
                 if (!s)
                   return respond(error_response(s.error()));
                 // Writers connect with their first write: until one fails,
                 // the database counts as reachable.
                 if (s->persistence_enabled && !s->persistence_connected && s->persistence_retries > 0)
                   return respond(error_response(
                       "not_ready", "the database is unreachable (" + s->persistence_last_error +
                                        "); the registry serves from memory and retries"));
                 boost::json::object body;
                 body["ready"] = true;
                 body["persistence"] = s->persistence_enabled ? "connected" : "memory_only";
                 respond(json_response(200, body));
               });
             },
             "Readiness: recovery done, persistence connected or memory-only", {200, 503}, false});
  const auto* counters = options.counters;
  table.add({method::get, "/v1/stats", scope::read,
             [&reg, counters](const request&, responder respond) {
               reg.stats_async([respond = std::move(respond), counters](expected<core::engine_stats> s) {
                 if (!s)
                   return respond(error_response(s.error()));
                 auto body = to_json(*s);
                 if (counters) {
                   boost::json::object server;
                   server["connections"] = counters->connections.load(std::memory_order_relaxed);
                   server["connections_total"] = counters->connections_total.load(std::memory_order_relaxed);
                   server["refused_connections"] = counters->refused_connections.load(std::memory_order_relaxed);
                   server["engine_timeouts"] = counters->engine_timeouts.load(std::memory_order_relaxed);
                   server["requests"] = counters->requests.load(std::memory_order_relaxed);
                   body["server"] = std::move(server);
                 }
                 respond(json_response(200, body));
               });
             },
             "Counters of the engine, persistence and server", {200}, false});
  table.add({method::get, "/openapi.json", scope::open,
             [&table](const request&, responder respond) {
               response r;
               r.body = openapi_document(table);
               respond(std::move(r));
             },
             "This document", {200}, false});
}

void add_api_routes(router& table, registry& reg, const api_options& options) {
  add_operation_routes(table, reg, options);
  add_agent_routes(table, reg, options);
  add_lease_routes(table, reg, options);
  add_work_routes(table, reg, options);
}

}  // namespace agentreg::http
