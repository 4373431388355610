#pragma once
// The engine's values as the API's JSON objects (docs/api.md, "Objects").
// Included by server/ .cpp files only.

#include <string>

#include <boost/json/value.hpp>

#include "core/types.hpp"

namespace agentreg::http {

/// RFC 3339 UTC with microseconds ("2026-12-01T19:41:47.123456Z"); null for 0.
boost::json::value time_json(core::timestamp t);

boost::json::object to_json(const core::agent& a);
boost::json::object to_json(const core::execution& e);
boost::json::object to_json(const core::tool_usage& t);
boost::json::object to_json(const core::performance& p);
boost::json::object to_json(const core::sweep_report& r);
boost::json::object to_json(const core::engine_stats& s);

}  // namespace agentreg::http
