#pragma once

#include <chrono>
#include <cstddef>

#include "agentreg/registry.hpp"
#include "server/http.hpp"
#include "server/router.hpp"

namespace agentreg::http {

/// What the API's handlers are configured with.
struct api_options {
  /// Deepest JSON nesting accepted in a body.
  std::size_t max_json_depth = 32;
  /// The TTL of a lease taken or renewed without ttl_ms.
  std::chrono::milliseconds lease_ttl = std::chrono::minutes{5};
  /// The server's counters, shown by /v1/stats (may be null).
  const server_counters* counters = nullptr;
  /// The cap on engine calls in flight, which POST /v1/heartbeats takes
  /// per item (engine_use::per_item); null: no cap.
  const engine_gate* engine_calls = nullptr;
};

/// Adds every route of docs/api.md (agents, leases, executions, tools,
/// performance, operations, /openapi.json) to `table`. The handlers use
/// `reg`, which must outlive the server. A later issue adds its own routes
/// (/metrics, /v1/watch...) to the same table the same way.
void add_api_routes(router& table, registry& reg, const api_options& options);

// The parts of add_api_routes, one per source file.
void add_agent_routes(router& table, registry& reg, const api_options& options);
void add_work_routes(router& table, registry& reg, const api_options& options);
void add_lease_routes(router& table, registry& reg, const api_options& options);
void add_operation_routes(router& table, registry& reg, const api_options& options);

/// The OpenAPI 3.1 document of every route in `table` (GET /openapi.json):
/// typed request and response bodies, and each status's error codes.
std::string openapi_document(const router& table);

/// The error codes `r` may answer, its own and those every such route can
/// (as the OpenAPI document lists them, by status).
std::vector<std::string_view> route_errors(const route& r);

}  // namespace agentreg::http
