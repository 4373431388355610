// GET /openapi.json: generated from the route table, so that it cannot
// list a route the server lacks or miss one it has.

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

// Statuses any route can answer, besides its own.
boost::json::object response_of(unsigned status) {
  boost::json::object r;
  if (status == 204 || status == 304) {
    r["description"] = status == 204 ? "No Content" : "Not Modified";
    return r;
  }
  r["description"] = status < 400 ? "Success" : "Error (docs/api.md, error table)";
  boost::json::object content, media;
  media["schema"] = boost::json::object{
      {"$ref", status < 400 ? "#/components/schemas/Any" : "#/components/schemas/Error"}};
  content["application/json"] = std::move(media);
  r["content"] = std::move(content);
  return r;
}

}  // namespace

std::string openapi_document(const router& table) {
  boost::json::object doc;
  doc["openapi"] = "3.1.0";
  doc["info"] = boost::json::object{{"title", "agentregd"},
                                    {"version", "1"},
                                    {"description", "The agentreg registry over HTTP/JSON; see docs/api.md."}};
  boost::json::object paths;
  for (const auto& r : table.routes()) {
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
    if (r.has_body)
      op["requestBody"] = boost::json::object{
          {"content",
           boost::json::object{{"application/json",
                                boost::json::object{{"schema", {{"$ref", "#/components/schemas/Any"}}}}}}}};
    boost::json::object responses;
    for (unsigned s : r.statuses)
      responses[std::to_string(s)] = response_of(s);
    for (unsigned s : {400u, 404u, 429u, 500u, 503u})
      if (!responses.contains(std::to_string(s)))
        responses[std::to_string(s)] = response_of(s);
    if (r.needs != scope::open) {
      responses["401"] = response_of(401);
      responses["403"] = response_of(403);
    }
    if (r.has_body) {
      responses["413"] = response_of(413);
      responses["415"] = response_of(415);
    }
    op["responses"] = std::move(responses);
    item.as_object()[lower(r.verb)] = std::move(op);
  }
  doc["paths"] = std::move(paths);
  boost::json::array codes;
  for (const auto& e : error_table())
    codes.emplace_back(e.code);
  doc["components"] = boost::json::object{
      {"securitySchemes", boost::json::object{{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
      {"schemas",
       boost::json::object{
           {"Any", boost::json::object{{"description", "See docs/api.md"}}},
           {"Error", boost::json::object{{"type", "object"},
                                          {"required", boost::json::array{"error", "message"}},
                                          {"properties", {{"error", {{"type", "string"}, {"enum", codes}}},
                                                          {"message", {{"type", "string"}}}}}}}}}};
  return boost::json::serialize(doc);
}

}  // namespace agentreg::http
