#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http.hpp"

namespace agentreg::http {

/// The one route table. 404, 405 (with Allow) and the OpenAPI document all
/// come from it. Built before the server starts, read-only afterwards, so
/// any thread may match.
class router {
 public:
  /// Adds a route; a second route with the same method and pattern is a
  /// programming error (throws std::logic_error).
  void add(route r);

  /// The outcome of matching a request line.
  struct match {
    const route* found = nullptr;        ///< the route, with `params` filled
    std::vector<std::string> params;     ///< percent-decoded path parameters
    std::vector<method> allowed;         ///< the path's other methods (405 when not found)
    bool bad_encoding = false;           ///< a malformed percent-escape (400)
  };
  /// Matches a method and a raw path (without the query). When several
  /// patterns match, the one with the most literal segments wins (so
  /// /v1/agents/least-loaded is not agent "least-loaded").
  [[nodiscard]] match find(method m, std::string_view raw_path) const;

  [[nodiscard]] const std::vector<route>& routes() const { return routes_; }

 private:
  struct compiled {
    std::vector<std::string> segments;  ///< the literal, or "" for a {parameter}
    std::vector<bool> parameter;        ///< per segment: a {parameter} (the literal "" is the path "/")
    std::size_t literals = 0;
  };
  std::vector<route> routes_;
  std::vector<compiled> compiled_;
};

/// Percent-decodes `s` ('+' stays '+' in paths; in a query it is a space).
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

/// Splits a query string into decoded (name, value) pairs; nullopt on a malformed escape.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view q);

}  // namespace agentreg::http
