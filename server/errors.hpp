#pragma once
// The one error table: every error code the API answers, its HTTP status,
// and the body every error has: {"error": code, "message": text}.

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "server/http.hpp"

namespace agentreg::http {

/// The HTTP status of an error code (an engine errc name or one of the
/// server's own: malformed_json, invalid_request, unauthorized...); 500 for
/// a code the table does not know.
unsigned status_of(std::string_view code);

/// The response for an error code and a sentence; 503s carry Retry-After,
/// 401 carries WWW-Authenticate.
response error_response(std::string_view code, std::string message);

/// The response for an engine error.
response error_response(const core::error& e);

/// 503 overloaded for a request of `calls` engine calls that `gate` refused.
response overloaded_response(const engine_gate& gate, std::size_t calls);

/// Every code of the table, with its status (for the OpenAPI document and tests).
struct error_entry {
  std::string_view code;
  unsigned status;
};
const std::vector<error_entry>& error_table();

}  // namespace agentreg::http
