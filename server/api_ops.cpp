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
             "Liveness", {200}, false, false, engine_use::none});
  // Ready: recovered, and not stopping (a request that arrives once the
  // server stops is answered 503 shutting_down before any route). Neither
  // asks an actor, so /ready answers even while a part of the engine is
  // stuck. A database lost after recovery does not make the instance
  // unready: it serves from memory and buffers the writes (503
  // persistence_backlog once the buffer is full), and taking every
  // instance out of rotation for it would turn a database outage into a
  // full one; /v1/stats and /metrics show the database's state.
  table.add({method::get, "/ready", scope::open,
             [&reg](const request&, responder respond) {
               if (!reg.recovered())
                 return respond(error_response(
                     "not_ready", "recovery from the database is not done: it is retried until the database "
                                  "answers; the registry serves from memory meanwhile"));
               boost::json::object body;
               body["ready"] = true;
               body["persistence"] = reg.configuration().database_url ? "postgresql" : "memory_only";
               respond(json_response(200, body));
             },
             "Readiness: recovery from the database done, not stopping", {200, 503}, false, false,
             engine_use::none});
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
                   server["engine_calls"] = counters->engine_calls.load(std::memory_order_relaxed);
                   server["overloaded"] = counters->overloaded.load(std::memory_order_relaxed);
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
             "This document", {200}, false, false, engine_use::none});
}

void add_api_routes(router& table, registry& reg, const api_options& options) {
  add_operation_routes(table, reg, options);
  add_agent_routes(table, reg, options);
  add_lease_routes(table, reg, options);
  add_work_routes(table, reg, options);
}

}  // namespace agentreg::http
