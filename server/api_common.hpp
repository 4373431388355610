#pragma once
// Helpers the route handlers share. Included by server/api_*.cpp only.

#include <string>
#include <utility>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_to.hpp>

#include "server/errors.hpp"
#include "server/http.hpp"
#include "server/json.hpp"

namespace agentreg::http {

/// A JSON answer.
inline response json_response(unsigned status, const boost::json::value& body) {
  response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

/// 204 No Content.
inline response no_content() {
  response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

/// The body decoded into T (a request struct with a tag_invoke); an empty
/// body is `{}`, for routes whose fields are all optional. Throws decode_error.
template <class T>
T decode_body(const request& req, std::size_t max_depth) {
  if (req.body.empty())
    return boost::json::value_to<T>(boost::json::value(boost::json::object{}));
  return boost::json::value_to<T>(parse_strict(req.body, max_depth));
}

/// Answers an expected<T>: the encoded value with `status`, or its error.
template <class T, class Encode>
response answer(const core::expected<T>& r, Encode&& encode, unsigned status = 200) {
  if (!r)
    return error_response(r.error());
  return json_response(status, encode(*r));
}

/// The query parameters, each known name at most once; throws decode_error
/// (invalid_request) for an unknown or repeated one.
class query_reader {
 public:
  query_reader(const request& req, std::initializer_list<std::string_view> known) {
    for (const auto& [name, value] : req.query) {
      if (std::find(known.begin(), known.end(), name) == known.end())
        throw decode_error("invalid_request", "unknown query parameter " + name);
      for (const auto& [seen, unused] : values_)
        if (seen == name)
          throw decode_error("invalid_request", "query parameter " + name + " given twice");
      values_.emplace_back(name, value);
    }
  }
  [[nodiscard]] const std::string* get(std::string_view name) const {
    for (const auto& [n, v] : values_)
      if (n == name)
        return &v;
    return nullptr;
  }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

}  // namespace agentreg::http
