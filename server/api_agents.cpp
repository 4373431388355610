// Agent routes: register, list, get, unregister, heartbeats, status, load,
// least-loaded, agent card.

#include <algorithm>
#include <memory>
#include <mutex>

#include <openssl/evp.h>

#include "server/api.hpp"
#include "server/api_common.hpp"
#include "server/encode.hpp"
#include "server/requests.hpp"

namespace agentreg::http {

namespace {

constexpr char base64url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(base64url_chars[(acc >> bits) & 63]);
    }
  }
  if (bits > 0)
    out.push_back(base64url_chars[(acc << (6 - bits)) & 63]);
  return out;
}

std::optional<std::string> from_base64url(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::find(std::begin(base64url_chars), std::end(base64url_chars) - 1, c);
    if (p == std::end(base64url_chars) - 1)
      return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(p - base64url_chars);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// The ETag of an agent card: a strong validator from the card's SHA-256.
std::string etag_of(const std::string& card) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(card.data(), card.size(), digest, &n, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (unsigned i = 0; i < 16 && i < n; ++i) {
    tag.push_back(hex[digest[i] >> 4]);
    tag.push_back(hex[digest[i] & 15]);
  }
  tag.push_back('"');
  return tag;
}

bool etag_matches(std::string_view if_none_match, const std::string& etag) {
  if (if_none_match == "*")
    return true;
  while (!if_none_match.empty()) {  // a list: "a", W/"b"
    const auto comma = if_none_match.find(',');
    auto item = if_none_match.substr(0, comma);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (item.substr(0, 2) == "W/")
      item.remove_prefix(2);
    if (item == etag)
      return true;
    if (comma == std::string_view::npos)
      break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

completion<core::agent> agent_answer(responder respond) {
  return [respond = std::move(respond)](expected<core::agent> a) {
    respond(answer(a, [](const core::agent& x) { return to_json(x); }));
  };
}

constexpr std::size_t default_page = 100, max_page = 1000;

void list_agents(registry& reg, const request& req, const responder& respond) {
  query_reader q{req, {"agent_type", "status", "llm_provider", "model_name", "skill", "limit", "cursor"}};
  core::agent_filter filter;
  if (const auto* t = q.get("agent_type"))
    filter.agent_type = *t;
  if (const auto* s = q.get("status")) {
    filter.status = core::parse_agent_status(*s);
    if (!filter.status)
      throw decode_error("invalid_status", "unknown status \"" + *s + "\" (online, offline, paused, busy)");
  }
  if (const auto* p = q.get("llm_provider"))
    filter.llm_provider = *p;
  if (const auto* m = q.get("model_name"))
    filter.model_name = *m;
  std::size_t limit = default_page;
  if (const auto* l = q.get("limit")) {
    std::size_t used = 0;
    long long n = 0;
    try {
      n = std::stoll(*l, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != l->size() || used == 0 || n < 1 || n > static_cast<long long>(max_page))
      throw decode_error("invalid_request", "limit must be an integer within 1..1000");
    limit = static_cast<std::size_t>(n);
  }
  agent_page_request page_request{std::move(filter), {}, {}, limit};
  if (const auto* c = q.get("cursor")) {
    auto after = from_base64url(*c);
    if (!after || after->empty())
      throw decode_error("invalid_request", "cursor is not one this server handed out");
    page_request.after = std::move(*after);
  }
  if (const auto* skill = q.get("skill"))
    page_request.skill = *skill;
  // Read before listing: a client that then watches from it misses
  // nothing (a change made meanwhile may come twice; each carries the
  // agent's latest state).
  const auto revision = reg.revision();
  reg.list_agents_page_async(std::move(page_request), [respond, revision](expected<agent_page> page) {
    if (!page)
      return respond(error_response(page.error()));
    boost::json::array agents;
    for (const auto& a : page->agents)
      agents.emplace_back(to_json(a));
    boost::json::object body;
    body["agents"] = std::move(agents);
    body["next_cursor"] = page->more ? boost::json::value(base64url(page->agents.back().agent_id))
                                     : boost::json::value(nullptr);
    auto r = json_response(200, body);
    r.headers.emplace_back("X-Agentreg-Revision", std::to_string(revision));
    respond(std::move(r));
  });
}

// POST /v1/heartbeats: one registry::heartbeat_many call (every item's
// heartbeat is sent at once, each to its agent's actor); the answer goes out
// when the last item is in, results in the items' order.
void heartbeat_batch_route(registry& reg, heartbeat_batch batch, responder respond) {
  std::vector<std::string> ids;
  ids.reserve(batch.heartbeats.size());
  for (const auto& item : batch.heartbeats)
    ids.push_back(item.agent_id);
  reg.heartbeat_many(std::move(batch.heartbeats),
                     [ids = std::move(ids), respond = std::move(respond)](
                         expected<std::vector<expected<core::heartbeat_ack>>> acks) {
                       boost::json::array results;
                       results.reserve(acks->size());
                       for (std::size_t i = 0; i < acks->size(); ++i) {
                         const auto& a = (*acks)[i];
                         boost::json::object r;
                         r["agent_id"] = ids[i];
                         r["ok"] = bool(a);
                         if (a) {
                           r["status"] = core::to_string(a->status);
                           r["current_load"] = a->current_load;
                         } else {
                           r["error"] = core::to_string(a.error().code);
                           r["message"] = a.error().message;
                         }
                         results.emplace_back(std::move(r));
                       }
                       boost::json::object body;
                       body["results"] = std::move(results);
                       respond(json_response(200, body));
                     });
}

}  // namespace

void add_agent_routes(router& table, registry& reg, const api_options& options) {
  const auto depth = options.max_json_depth;
  table.add({method::post, "/v1/agents", scope::write,
             [&reg, depth](const request& req, responder respond) {
               auto r = decode_body<register_request>(req, depth);
               reg.register_agent_async(std::move(r.spec), agent_answer(std::move(respond)));
             },
             "Register an agent, or update a registered agent's spec", {200, 409, 422, 503}, true});
  table.add({method::get, "/v1/agents", scope::read,
             [&reg](const request& req, responder respond) { list_agents(reg, req, respond); },
             "List agents (filters, skill, cursor pagination)", {200, 422}, false});
  table.add({method::get, "/v1/agents/least-loaded", scope::read,
             [&reg](const request& req, responder respond) {
               query_reader q{req, {"agent_type"}};
               const auto* type = q.get("agent_type");
               if (!type)
                 throw decode_error("invalid_request", "agent_type is required");
               auto picked = reg.get_least_loaded_agent(*type);
               respond(answer(picked, [](const std::optional<core::agent>& a) {
                 boost::json::object body;
                 body["agent"] = a ? boost::json::value(to_json(*a)) : boost::json::value(nullptr);
                 return body;
               }));
             },
             "The least-loaded eligible agent of a type (reserves nothing)", {200, 422}, false});
  table.add({method::get, "/v1/agents/{agent_id}", scope::read,
             [&reg](const request& req, responder respond) {
               respond(answer(reg.get_agent(req.params[0]), [](const core::agent& a) { return to_json(a); }));
             },
             "One agent", {200, 404}, false});
  table.add({method::del, "/v1/agents/{agent_id}", scope::write,
             [&reg](const request& req, responder respond) {
               auto done = reg.unregister_agent(req.params[0]);
               respond(done ? no_content() : error_response(done.error()));
             },
             "Unregister an agent (its history stays)", {204, 404}, false});
  table.add({method::post, "/v1/agents/{agent_id}/heartbeat", scope::write,
             [&reg, depth](const request& req, responder respond) {
               auto r = decode_body<heartbeat_request>(req, depth);
               reg.heartbeat_async(req.params[0], r.current_load, agent_answer(std::move(respond)));
             },
             "Heartbeat, optionally with the agent's current load", {200, 404, 422}, true});
  table.add({method::post, "/v1/heartbeats", scope::write,
             [&reg, depth, gate = options.engine_calls](const request& req, responder respond) {
               if (req.body.empty())
                 throw decode_error("invalid_request", "a body with heartbeats is required");
               auto batch = decode_body<heartbeat_batch>(req, depth);
               // Each item is an engine call (a message to its agent's actor).
               if (gate) {
                 auto slots = gate->take(batch.heartbeats.size());
                 if (!slots)
                   return respond(overloaded_response(*gate, batch.heartbeats.size()));
                 respond = freeing(std::move(slots), std::move(respond));
               }
               heartbeat_batch_route(reg, std::move(batch), std::move(respond));
             },
             "Heartbeats of many agents in one request (at most 1000)", {200}, true, false, engine_use::per_item});
  table.add({method::put, "/v1/agents/{agent_id}/status", scope::write,
             [&reg, depth](const request& req, responder respond) {
               if (req.body.empty())
                 throw decode_error("invalid_request", "status is required");
               auto r = decode_body<status_request>(req, depth);
               reg.update_status_async(req.params[0], r.status, agent_answer(std::move(respond)));
             },
             "Set online, offline or paused", {200, 404, 422}, true});
  table.add({method::put, "/v1/agents/{agent_id}/load", scope::write,
             [&reg, depth](const request& req, responder respond) {
               if (req.body.empty())
                 throw decode_error("invalid_request", "current_load is required");
               auto r = decode_body<load_request>(req, depth);
               reg.update_load_async(req.params[0], r.current_load, agent_answer(std::move(respond)));
             },
             "Set the load the agent reports", {200, 404, 422}, true});
  table.add({method::get, "/v1/agents/{agent_id}/agent-card.json", scope::read,
             [&reg](const request& req, responder respond) {
               auto a = reg.get_agent(req.params[0]);
               if (!a)
                 return respond(error_response(a.error()));
               if (a->agent_card.empty())
                 return respond(error_response("unknown_agent_card", "agent " + a->agent_id + " registered no agent card"));
               const auto etag = etag_of(a->agent_card);
               response r;
               if (!req.if_none_match.empty() && etag_matches(req.if_none_match, etag)) {
                 r.status = 304;
                 r.content_type.clear();
               } else {
                 r.body = a->agent_card;
               }
               r.headers.emplace_back("ETag", etag);
               respond(std::move(r));
             },
             "The agent's A2A Agent Card, with an ETag (If-None-Match: 304)", {200, 304, 404}, false});
}

}  // namespace agentreg::http
