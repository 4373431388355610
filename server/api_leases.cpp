// Lease routes: acquire, renew, release. Leases taken over HTTP always
// carry a TTL, so a client that dies leaks no slot.

#include "server/api.hpp"
#include "server/api_common.hpp"
#include "server/encode.hpp"
#include "server/requests.hpp"

namespace agentreg::http {

namespace {

core::lease parse_lease_param(const std::string& text) {
  auto l = core::parse_lease(text);
  if (!l)
    throw decode_error("unknown_lease", "no lease has the id \"" + text + "\"");
  return *l;
}

// A lease as clients hold it: its opaque text, agent, type and expiry.
boost::json::object lease_json(const core::lease& l, const std::string& agent_type) {
  boost::json::object o;
  o["lease_id"] = core::to_string(l);
  o["agent_id"] = l.agent_id;
  o["agent_type"] = agent_type;
  o["expires_at"] = time_json(l.expires_at);
  return o;
}

}  // namespace

void add_lease_routes(router& table, registry& reg, const api_options& options) {
  const auto depth = options.max_json_depth;
  const auto default_ttl = options.lease_ttl;
  table.add({method::post, "/v1/leases", scope::write,
             [&reg, depth, default_ttl](const request& req, responder respond) {
               auto r = decode_body<lease_request>(req, depth);
               const std::chrono::milliseconds ttl = r.ttl_ms ? std::chrono::milliseconds{*r.ttl_ms} : default_ttl;
               auto l = reg.acquire(r.agent_type, {.ttl = ttl});
               respond(answer(l, [&](const core::lease& x) { return lease_json(x, r.agent_type); }, 201));
             },
             "Acquire: pick the least-loaded agent of a type and reserve a slot (always with a TTL)",
             {201, 404, 409, 422}, true});
  table.add({method::post, "/v1/leases/{lease_id}/renew", scope::write,
             [&reg, depth, default_ttl](const request& req, responder respond) {
               const auto held = parse_lease_param(req.params[0]);
               auto r = decode_body<renew_request>(req, depth);
               const std::chrono::milliseconds ttl = r.ttl_ms ? std::chrono::milliseconds{*r.ttl_ms} : default_ttl;
               auto renewed = reg.renew(held, ttl);
               respond(answer(renewed, [&](const core::lease& x) {
                 auto a = reg.get_agent(x.agent_id);
                 return lease_json(x, a ? a->agent_type : std::string{});
               }));
             },
             "Renew a lease: its expiry becomes now + ttl_ms", {200, 404, 409, 422}, true});
  table.add({method::del, "/v1/leases/{lease_id}", scope::write,
             [&reg](const request& req, responder respond) {
               auto done = reg.release(parse_lease_param(req.params[0]));
               respond(done ? no_content() : error_response(done.error()));
             },
             "Release a lease", {204, 404, 409}, false});

}

}  // namespace agentreg::http
