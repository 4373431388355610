// The server's parts without a network: route table, OpenAPI document,
// error table, strict JSON, decoders.

#include <boost/test/unit_test.hpp>

#include <set>

#include <boost/json/parse.hpp>

#include "agentreg/registry.hpp"
#include "server/api.hpp"
#include "server/errors.hpp"
#include "server/json.hpp"
#include "server/requests.hpp"
#include "server/router.hpp"

using namespace agentreg;
using namespace agentreg::http;

namespace {

struct api_fixture {
  registry reg{make_config()};
  router table;
  api_fixture() { add_api_routes(table, reg, api_options{}); }
  static config make_config() {
    config c;
    c.auto_sweep = false;
    return c;
  }
};

// Every route of the issue, written out by hand: the table and the OpenAPI
// document are both checked against it (not against each other, since the
// document is generated from the table).
std::vector<std::pair<method, std::string>> issue_routes() {
  return {
      {method::post, "/v1/agents"}, {method::get, "/v1/agents"}, {method::get, "/v1/agents/{agent_id}"},
      {method::del, "/v1/agents/{agent_id}"}, {method::post, "/v1/agents/{agent_id}/heartbeat"},
      {method::post, "/v1/heartbeats"}, {method::put, "/v1/agents/{agent_id}/status"},
      {method::put, "/v1/agents/{agent_id}/load"}, {method::get, "/v1/agents/least-loaded"},
      {method::post, "/v1/leases"}, {method::post, "/v1/leases/{lease_id}/renew"}, {method::del, "/v1/leases/{lease_id}"},
      {method::post, "/v1/executions"}, {method::post, "/v1/executions/{execution_id}/complete"},
      {method::get, "/v1/executions/{execution_id}"}, {method::post, "/v1/agents/{agent_id}/tools"},
      {method::get, "/v1/agents/{agent_id}/tools"}, {method::get, "/v1/agents/{agent_id}/performance"},
      {method::get, "/v1/performance"}, {method::get, "/health"}, {method::get, "/ready"},
      {method::get, "/v1/stats"}, {method::get, "/v1/agents/{agent_id}/agent-card.json"},
      {method::get, "/openapi.json"}};
}

std::string lower_method(method m) {
  std::string s = to_string(m);
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const decode_error& e) {
    return e.code;
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server_unit)

BOOST_AUTO_TEST_CASE(the_root_route_matches_the_root_only) {
  // "/" has one empty segment, which is not a {parameter}: it must not
  // catch every one-segment path (the dashboard at / once answered /nope).
  router table;
  table.add({method::get, "/", scope::open, [](const request&, responder) {}, "root", {200}, false});
  table.add({method::get, "/{name}/x", scope::open, [](const request&, responder) {}, "param", {200}, false});
  BOOST_TEST(table.find(method::get, "/").found != nullptr);
  BOOST_TEST(table.find(method::get, "/nope").found == nullptr);
  BOOST_TEST(table.find(method::get, "/nope").allowed.empty());
  const auto m = table.find(method::get, "/a/x");
  BOOST_REQUIRE(m.found != nullptr);
  BOOST_TEST(m.params.at(0) == "a");
}

BOOST_FIXTURE_TEST_CASE(the_openapi_document_lists_every_route_of_the_issue, api_fixture) {
  const auto lower = [](method m) {
    std::string s = to_string(m);
    for (auto& c : s)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::set<std::pair<std::string, std::string>> expected, from_document;
  for (const auto& [m, p] : issue_routes())
    BOOST_TEST(expected.emplace(lower(m), p).second);
  const auto doc = boost::json::parse(openapi_document(table));
  for (const auto& [path, item] : doc.at("paths").as_object())
    for (const auto& [verb, op] : item.as_object()) {
      BOOST_TEST(op.as_object().contains("responses"));
      from_document.emplace(std::string{verb}, std::string{path});
    }
  BOOST_TEST((from_document == expected));
}

// The document says more than the paths: each route with a body has a
// typed request schema, each success a typed response schema, and every
// error code it lists is one of the error table's, under its status.
BOOST_FIXTURE_TEST_CASE(the_openapi_document_types_every_body_and_lists_only_known_errors, api_fixture) {
  const auto doc = boost::json::parse(openapi_document(table));
  const auto& schemas = doc.at("components").at("schemas").as_object();
  std::set<std::string> known;
  for (const auto& e : error_table())
    known.emplace(e.code);
  // A $ref resolved, and the schema it names says what type it is.
  const auto typed = [&](const boost::json::value& schema) {
    const auto& ref = schema.at("$ref").as_string();
    const std::string prefix = "#/components/schemas/";
    BOOST_REQUIRE(ref.starts_with(prefix));
    const auto* named = schemas.if_contains(std::string_view{ref}.substr(prefix.size()));
    BOOST_REQUIRE_MESSAGE(named != nullptr, ref);
    return named->as_object().contains("type");
  };
  for (const auto& r : table.routes()) {
    const auto& op = doc.at("paths").at(r.pattern).at(lower_method(r.verb)).as_object();
    const std::string name = std::string{to_string(r.verb)} + " " + r.pattern;
    if (r.has_body) {
      const auto* body = op.if_contains("requestBody");
      BOOST_TEST_REQUIRE(body != nullptr, name << " has a body and no requestBody");
      BOOST_TEST(typed(body->at("content").at("application/json").at("schema")), name);
    }
    const auto& responses = op.at("responses").as_object();
    std::set<unsigned> documented;
    for (const auto& [status, response] : responses) {
      const unsigned s = std::stoul(std::string{status});
      documented.insert(s);
      const auto* content = response.as_object().if_contains("content");
      if (s == 204 || s == 304) {
        BOOST_TEST(content == nullptr, name << " " << s);
        continue;
      }
      BOOST_TEST_REQUIRE(content != nullptr, name << " " << s << " has no body schema");
      const auto& schema = content->at("application/json").at("schema");
      if (s < 400) {
        BOOST_TEST(typed(schema), name << " " << s);
        continue;
      }
      BOOST_TEST(schema.at("allOf").at(0).at("$ref").as_string() == "#/components/schemas/Error");
      const auto& codes = schema.at("properties").at("error").at("enum").as_array();
      BOOST_TEST(!codes.empty(), name << " " << s);
      for (const auto& code : codes) {
        const std::string c{code.as_string()};
        BOOST_TEST(known.contains(c), name << ": " << c << " is not in the error table");
        BOOST_TEST(status_of(c) == s, name << ": " << c << " listed under " << s);
      }
    }
    // Every status the route says it answers is documented.
    for (unsigned s : r.statuses)
      BOOST_TEST(documented.contains(s), name << " answers " << s << " undocumented");
  }
  // The Error schema's codes are the table's.
  std::set<std::string> in_schema;
  for (const auto& c : schemas.at("Error").at("properties").at("error").at("enum").as_array())
    in_schema.emplace(c.as_string());
  BOOST_TEST((in_schema == known));
}

BOOST_FIXTURE_TEST_CASE(every_route_of_the_issue_is_in_the_table, api_fixture) {
  const auto expected = issue_routes();
  for (const auto& [m, p] : expected) {
    bool found = false;
    for (const auto& r : table.routes())
      found = found || (r.verb == m && r.pattern == p);
    BOOST_TEST(found, to_string(m) << " " << p);
  }
  BOOST_TEST(table.routes().size() == expected.size());
}

BOOST_FIXTURE_TEST_CASE(router_prefers_literals_and_lists_allowed_methods, api_fixture) {
  auto least = table.find(method::get, "/v1/agents/least-loaded");
  BOOST_REQUIRE(least.found);
  BOOST_TEST(least.found->pattern == "/v1/agents/least-loaded");
  auto agent = table.find(method::get, "/v1/agents/team%2Fplanner-1");
  BOOST_REQUIRE(agent.found);
  BOOST_TEST(agent.found->pattern == "/v1/agents/{agent_id}");
  BOOST_TEST(agent.params.at(0) == "team/planner-1");
  auto wrong = table.find(method::put, "/v1/agents/a1");
  BOOST_TEST(!wrong.found);
  std::set<method> allowed(wrong.allowed.begin(), wrong.allowed.end());
  BOOST_TEST((allowed == std::set<method>{method::get, method::del}));
  BOOST_TEST(!table.find(method::get, "/v1/nothing").found);
  BOOST_TEST(table.find(method::get, "/v1/nothing").allowed.empty());
  BOOST_TEST(!table.find(method::get, "/v1/agents/").found);  // an empty id is no id
  BOOST_TEST(table.find(method::get, "/v1/agents/%zz").bad_encoding);
}

BOOST_AUTO_TEST_CASE(every_engine_error_has_its_status_and_only_internal_is_500) {
  // Every code up to the first value to_string does not name: a code added to
  // core::errc is checked here without changing this test.
  for (int e = 1; std::string_view{core::to_string(static_cast<core::errc>(e))} != "unknown"; ++e) {
    const auto code = static_cast<core::errc>(e);
    const auto status = status_of(core::to_string(code));
    if (code == core::errc::internal)
      BOOST_TEST(status == 500u);
    else
      BOOST_TEST(((status >= 400 && status < 500) || status == 503), core::to_string(code) << " -> " << status);
  }
  BOOST_TEST(status_of("persistence_backlog") == 503u);
  auto r = error_response("persistence_backlog", "full");
  BOOST_TEST(r.status == 503u);
  bool retry_after = false;
  for (const auto& [k, v] : r.headers)
    retry_after = retry_after || (k == "Retry-After" && v == "1");
  BOOST_TEST(retry_after);
  const auto body = boost::json::parse(r.body);
  BOOST_TEST(body.at("error").as_string() == "persistence_backlog");
  BOOST_TEST(body.at("message").as_string() == "full");
}

BOOST_AUTO_TEST_CASE(strict_json_refuses_what_rfc_8259_refuses_and_duplicate_keys) {
  for (const std::string bad : {"{", "{\"a\":1,}", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}",
                                "{\"a\":1e400}", "{\"a\":-1e400}", "{\"a\":[{\"b\":47e75807}]}",
                                "{\"a\":1} x", "// c\n{}", "{'a':1}", "\xff", "{\"a\":\"\xc3\x28\"}", ""})
    BOOST_TEST(error_of([&] { parse_strict(bad, 32); }) == "malformed_json", bad);
  BOOST_TEST(error_of([] { parse_strict(R"({"a":1,"b":{"c":1,"c":2}})", 32); }) == "invalid_request");
  BOOST_TEST(error_of([] { parse_strict(std::string(100'000, '[') + std::string(100'000, ']'), 32); }) ==
             "malformed_json");
  BOOST_TEST(error_of([] { parse_strict(std::string(32, '[') + std::string(32, ']'), 32); }).empty());
  auto v = parse_strict(R"({"a":[1,2,{"b":"x"}],"c":null})", 32);
  BOOST_TEST(v.at("a").as_array().size() == 3u);
}

BOOST_AUTO_TEST_CASE(decoders_refuse_unknown_fields_wrong_types_and_values_out_of_range) {
  auto decode = [](const std::string& text, auto tag) {
    using T = typename decltype(tag)::type;
    return boost::json::value_to<T>(parse_strict(text, 32));
  };
  using reg_t = std::type_identity<register_request>;
  using hb_t = std::type_identity<heartbeat_request>;
  using done_t = std::type_identity<complete_request>;
  auto ok = decode(R"({"agent_id":"a","agent_type":"t","max_capacity":3,"metadata":{"k":"v"},"skills":["s"]})",
                   reg_t{});
  BOOST_TEST(ok.spec.max_capacity == 3);
  BOOST_TEST(ok.spec.metadata.at("k") == "v");
  BOOST_TEST(error_of([&] { decode(R"({"agent_id":"a","agent_type":"t","colour":"red"})", reg_t{}); }) ==
             "invalid_request");
  BOOST_TEST(error_of([&] { decode(R"({"agent_id":1,"agent_type":"t"})", reg_t{}); }) == "invalid_request");
  BOOST_TEST(error_of([&] { decode(R"({"agent_type":"t"})", reg_t{}); }) == "invalid_request");
  BOOST_TEST(error_of([&] { decode(R"({"agent_id":"a","agent_type":"t","max_capacity":2.5})", reg_t{}); }) ==
             "invalid_request");
  BOOST_TEST(error_of([&] { decode(R"({"current_load":99999999999999999999})", hb_t{}); }) == "invalid_request");
  BOOST_TEST(error_of([&] { decode(R"({"current_load":"3"})", hb_t{}); }) == "invalid_request");
  BOOST_TEST(!decode(R"({"current_load":null})", hb_t{}).current_load);
  BOOST_TEST(error_of([&] { decode(R"({"status":"running"})", done_t{}); }) == "invalid_status");
  BOOST_TEST(error_of([&] { decode(R"([1,2])", done_t{}); }) == "invalid_request");
}

BOOST_AUTO_TEST_CASE(agent_cards_v1_and_v03_give_skills_and_bad_cards_name_the_field) {
  const auto v1 = parse_strict(R"({"name":"R","description":"d","version":"1.0.0",
    "supportedInterfaces":[{"url":"https://r.example/a2a","protocolBinding":"JSONRPC","protocolVersion":"1.0"}],
    "capabilities":{},"defaultInputModes":["text/plain"],"defaultOutputModes":["text/plain"],
    "skills":[{"id":"code-review","name":"CR","description":"d","tags":["python","review"]},
              {"id":"lint","name":"L","description":"d","tags":["python"]}],"x-extension":1})", 32);
  BOOST_TEST((card_skills(v1.as_object()) == std::vector<std::string>{"code-review", "python", "review", "lint"}));
  const auto v03 = parse_strict(R"({"name":"R","description":"d","version":"1","url":"https://r.example",
    "protocolVersion":"0.3.0","capabilities":{},"defaultInputModes":[],"defaultOutputModes":[],"skills":[]})", 32);
  BOOST_TEST(card_skills(v03.as_object()).empty());
  auto missing = v1.as_object();
  missing.erase("version");
  try {
    card_skills(missing);
    BOOST_FAIL("a card without version was accepted");
  } catch (const decode_error& e) {
    BOOST_TEST(e.code == "invalid_argument");
    BOOST_TEST(std::string{e.what()}.find("agent_card.version") != std::string::npos);
  }
  auto bad_skill = v1.as_object();
  bad_skill["skills"].as_array()[1].as_object().erase("tags");
  BOOST_TEST(error_of([&] { card_skills(bad_skill); }) == "invalid_argument");
  auto no_interface = v1.as_object();
  no_interface.erase("supportedInterfaces");
  BOOST_TEST(error_of([&] { card_skills(no_interface); }) == "invalid_argument");
}

BOOST_AUTO_TEST_SUITE_END()
