// Every route over real HTTP, against a real agentregd (a child process on
// a free loopback port) with a real PostgreSQL (the test cluster).

#include <boost/test/unit_test.hpp>

#include <set>

#include <boost/json/serialize.hpp>

#include "daemon.hpp"
#include "test_cluster.hpp"

using namespace agentreg;
using agentreg::test::client;
using agentreg::test::daemon_process;
using agentreg::test::reply;

namespace {

const std::string token = "s3cret-token";
const std::string read_token = "read-only-token";

std::vector<std::string> daemon_args(const std::string& db_url, std::vector<std::string> more = {}) {
  std::vector<std::string> a{"--port", "0", "--database-url", db_url, "--token", token, "--read-token",
                             read_token, "--flush-interval-ms", "20"};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

struct fixture {
  test::fresh_database db;
  daemon_process d{daemon_args(db.url)};
  client c{d.port(), token};

  reply register_agent(const std::string& id, const std::string& type = "planner", int capacity = 10,
                       const std::string& extra = "") {
    auto r = c.post("/v1/agents", R"({"agent_id":")" + id + R"(","agent_type":")" + type +
                                      R"(","llm_provider":"openai","model_name":"gpt-4o-mini","max_capacity":)" +
                                      std::to_string(capacity) + extra + "}");
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
    return r;
  }
  // Everything a client can read about the state: compared before and after
  // refused requests.
  std::string state() {
    auto agents = c.get("/v1/agents?limit=1000").json();
    for (auto& a : agents.at("agents").as_array())
      a.as_object().erase("last_heartbeat");  // only heartbeats change it, and they are checked apart
    auto stats = c.get("/v1/stats").json().as_object();
    std::string s = boost::json::serialize(agents);
    for (const char* k : {"agents", "online", "busy", "offline", "paused", "leases_held", "running_executions",
                          "completed_executions", "tool_calls"})
      s += std::string{k} + "=" + boost::json::serialize(stats.at(k));
    return s;
  }
};

const std::string card_v1 = R"({"name":"Reviewer","description":"Reviews diffs","version":"1.2.0",
  "supportedInterfaces":[{"url":"https://r.example/a2a","protocolBinding":"JSONRPC","protocolVersion":"1.0"}],
  "capabilities":{"streaming":true},"defaultInputModes":["text/plain"],"defaultOutputModes":["text/plain"],
  "skills":[{"id":"code-review","name":"Code review","description":"Reviews a diff","tags":["python","review"]}]})";

}  // namespace

BOOST_AUTO_TEST_SUITE(server_http)

BOOST_FIXTURE_TEST_CASE(health_ready_and_openapi_need_no_token_and_v1_does, fixture) {
  client anonymous{d.port()};
  BOOST_TEST(anonymous.get("/health").status == 200u);
  auto ready = anonymous.get("/ready");
  BOOST_TEST(ready.status == 200u, ready.body);
  BOOST_TEST(ready.json().at("persistence").as_string() == "postgresql");
  BOOST_TEST(anonymous.get("/openapi.json").json().at("openapi").as_string() == "3.1.0");
  auto denied = anonymous.get("/v1/agents");
  BOOST_TEST(denied.status == 401u);
  BOOST_TEST(denied.error() == "unauthorized");
  BOOST_TEST(denied.header("www-authenticate") == "Bearer");
  client wrong{d.port(), token + "x"};
  BOOST_TEST(wrong.get("/v1/stats").status == 401u);
  client reader{d.port(), read_token};
  BOOST_TEST(reader.get("/v1/stats").status == 200u);
  auto refused = reader.post("/v1/agents", R"({"agent_id":"a","agent_type":"t"})");
  BOOST_TEST(refused.status == 403u);
  BOOST_TEST(refused.error() == "forbidden");
  BOOST_TEST(c.get("/v1/agents/a").status == 404u);  // the read-only token changed nothing
}

BOOST_FIXTURE_TEST_CASE(agent_routes_answer_and_change_the_agent, fixture) {
  auto a = register_agent("planner-1", "planner", 4, R"(,"metadata":{"team":"core"},"skills":["plan"])").json();
  BOOST_TEST(a.at("status").as_string() == "online");
  BOOST_TEST(a.at("max_capacity").as_int64() == 4);
  BOOST_TEST(a.at("metadata").at("team").as_string() == "core");
  BOOST_TEST(a.at("has_agent_card").as_bool() == false);
  BOOST_TEST(a.at("last_heartbeat").is_string());

  auto got = c.get("/v1/agents/planner-1");
  BOOST_TEST(got.status == 200u);
  BOOST_TEST(got.json().at("model_name").as_string() == "gpt-4o-mini");

  auto hb = c.post("/v1/agents/planner-1/heartbeat", R"({"current_load":3})");
  BOOST_TEST(hb.status == 200u, hb.body);
  BOOST_TEST(hb.json().at("current_load").as_int64() == 3);
  BOOST_TEST(c.post("/v1/agents/planner-1/heartbeat", "").status == 200u);  // no body: no load change
  BOOST_TEST(c.get("/v1/agents/planner-1").json().at("current_load").as_int64() == 3);

  auto load = c.put("/v1/agents/planner-1/load", R"({"current_load":4})");
  BOOST_TEST(load.json().at("status").as_string() == "busy");
  auto paused = c.put("/v1/agents/planner-1/status", R"({"status":"paused"})");
  BOOST_TEST(paused.json().at("status").as_string() == "paused");
  BOOST_TEST(c.put("/v1/agents/planner-1/status", R"({"status":"online"})").status == 200u);
  BOOST_TEST(c.put("/v1/agents/planner-1/load", R"({"current_load":1})").status == 200u);

  // Re-registering updates the spec and keeps the load.
  auto again = register_agent("planner-1", "planner", 8).json();
  BOOST_TEST(again.at("max_capacity").as_int64() == 8);
  BOOST_TEST(again.at("current_load").as_int64() == 1);

  register_agent("planner-2", "planner", 8);
  auto least = c.get("/v1/agents/least-loaded?agent_type=planner").json();
  BOOST_TEST(least.at("agent").at("agent_id").as_string() == "planner-2");
  BOOST_TEST(c.get("/v1/agents/least-loaded?agent_type=nobody").json().at("agent").is_null());

  auto batch = c.post("/v1/heartbeats", R"({"heartbeats":[{"agent_id":"planner-2","current_load":2},{"agent_id":"gone"}]})");
  BOOST_TEST(batch.status == 200u, batch.body);
  const auto results = batch.json().at("results").as_array();
  BOOST_REQUIRE_EQUAL(results.size(), 2u);
  BOOST_TEST(results[0].at("ok").as_bool());
  BOOST_TEST(results[0].at("current_load").as_int64() == 2);
  BOOST_TEST(!results[1].at("ok").as_bool());
  BOOST_TEST(results[1].at("error").as_string() == "unknown_agent");

  BOOST_TEST(c.del("/v1/agents/planner-2").status == 204u);
  BOOST_TEST(c.get("/v1/agents/planner-2").error() == "unknown_agent");
  BOOST_TEST(c.del("/v1/agents/planner-2").status == 404u);
}

BOOST_FIXTURE_TEST_CASE(agent_errors_have_their_status_and_change_nothing, fixture) {
  register_agent("a1", "planner", 2);
  const auto before = state();
  struct expectation {
    reply r;
    unsigned status;
    std::string code;
  };
  std::vector<expectation> cases{
      {c.get("/v1/agents/nobody"), 404, "unknown_agent"},
      {c.post("/v1/agents/nobody/heartbeat", ""), 404, "unknown_agent"},
      {c.put("/v1/agents/nobody/status", R"({"status":"paused"})"), 404, "unknown_agent"},
      {c.put("/v1/agents/nobody/load", R"({"current_load":1})"), 404, "unknown_agent"},
      {c.post("/v1/agents/a1/heartbeat", R"({"current_load":3})"), 422, "load_out_of_range"},
      {c.put("/v1/agents/a1/load", R"({"current_load":-1})"), 422, "load_out_of_range"},
      {c.put("/v1/agents/a1/status", R"({"status":"busy"})"), 422, "invalid_status"},
      {c.put("/v1/agents/a1/status", R"({"status":"sleeping"})"), 422, "invalid_status"},
      {c.put("/v1/agents/a1/status", ""), 400, "invalid_request"},
      {c.post("/v1/agents", R"({"agent_id":"a1","agent_type":"planner","max_capacity":0})"), 422, "invalid_capacity"},
      {c.post("/v1/agents", R"({"agent_id":"","agent_type":"planner"})"), 422, "invalid_argument"},
      {c.post("/v1/agents", R"({"agent_id":"b","agent_type":"planner","agent_card":{"name":"x"}})"), 422,
       "invalid_argument"},
      {c.get("/v1/agents?status=sleeping"), 422, "invalid_status"},
      {c.get("/v1/agents?colour=red"), 400, "invalid_request"},
      {c.get("/v1/agents?limit=0"), 400, "invalid_request"},
      {c.get("/v1/agents?cursor=%%%"), 400, "invalid_request"},
      {c.get("/v1/agents/least-loaded"), 400, "invalid_request"},
      {c.get("/v1/agents/a1/agent-card.json"), 404, "unknown_agent_card"},
      {c.get("/v1/nothing"), 404, "not_found"},
      {c.send("PATCH", "/v1/agents/a1", ""), 405, "method_not_allowed"},
      {c.put("/v1/agents/a1", "{}"), 405, "method_not_allowed"},
  };
  for (const auto& e : cases) {
    BOOST_TEST(e.r.status == e.status, e.code << ": " << e.r.status << " " << e.r.body);
    BOOST_TEST(e.r.error() == e.code, e.r.body);
    BOOST_TEST(e.r.json().at("message").is_string());
  }
  std::set<std::string> allow;
  auto wrong_method = c.put("/v1/agents/a1", "{}");
  BOOST_TEST(wrong_method.header("allow").find("GET") != std::string::npos);
  BOOST_TEST(wrong_method.header("allow").find("DELETE") != std::string::npos);
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(agent_cards_are_served_with_an_etag_and_skills_filter_listings, fixture) {
  register_agent("reviewer-1", "reviewer", 2, ",\"agent_card\":" + card_v1);
  register_agent("planner-1", "planner", 2, R"(,"skills":["python"])");
  register_agent("planner-2", "planner", 2);
  auto card = c.get("/v1/agents/reviewer-1/agent-card.json");
  BOOST_TEST(card.status == 200u);
  BOOST_TEST(card.json().at("name").as_string() == "Reviewer");
  const auto etag = card.header("etag");
  BOOST_TEST(etag.size() > 2u);
  auto same = c.send("GET", "/v1/agents/reviewer-1/agent-card.json", "", {{"If-None-Match", etag}});
  BOOST_TEST(same.status == 304u);
  BOOST_TEST(same.body.empty());
  auto other = c.send("GET", "/v1/agents/reviewer-1/agent-card.json", "", {{"If-None-Match", "\"other\""}});
  BOOST_TEST(other.status == 200u);
  auto agent = c.get("/v1/agents/reviewer-1").json();
  BOOST_TEST(agent.at("has_agent_card").as_bool());
  std::set<std::string> skills;
  for (const auto& s : agent.at("skills").as_array())
    skills.emplace(s.as_string());
  BOOST_TEST((skills == std::set<std::string>{"code-review", "python", "review"}));
  auto python = c.get("/v1/agents?skill=python").json().at("agents").as_array();
  BOOST_REQUIRE_EQUAL(python.size(), 2u);
  BOOST_TEST(python[0].at("agent_id").as_string() == "planner-1");
  BOOST_TEST(python[1].at("agent_id").as_string() == "reviewer-1");
  BOOST_TEST(c.get("/v1/agents?skill=code-review").json().at("agents").as_array().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(listing_pages_through_every_agent_once_with_cursors, fixture) {
  for (int i = 0; i < 7; ++i)
    register_agent("agent-" + std::to_string(i), i % 2 ? "odd" : "even", 2);
  std::vector<std::string> seen;
  std::string target = "/v1/agents?limit=3";
  for (int page = 0; page < 10; ++page) {
    auto body = c.get(target).json();
    for (const auto& a : body.at("agents").as_array())
      seen.emplace_back(a.at("agent_id").as_string());
    if (body.at("next_cursor").is_null())
      break;
    target = "/v1/agents?limit=3&cursor=" + std::string{body.at("next_cursor").as_string()};
  }
  BOOST_TEST(seen.size() == 7u);
  BOOST_TEST(std::is_sorted(seen.begin(), seen.end()));
  BOOST_TEST(std::set<std::string>(seen.begin(), seen.end()).size() == 7u);
  BOOST_TEST(c.get("/v1/agents?agent_type=odd").json().at("agents").as_array().size() == 3u);
}

BOOST_FIXTURE_TEST_CASE(leases_acquire_renew_release_and_always_expire, fixture) {
  register_agent("solo", "scarce", 1);
  auto l = c.post("/v1/leases", R"({"agent_type":"scarce"})");
  BOOST_TEST(l.status == 201u, l.body);
  const auto lease = l.json();
  const std::string id{lease.at("lease_id").as_string()};
  BOOST_TEST(lease.at("agent_id").as_string() == "solo");
  BOOST_TEST(lease.at("expires_at").is_string());  // the default TTL
  BOOST_TEST(c.post("/v1/leases", R"({"agent_type":"scarce"})").error() == "no_capacity");
  auto renewed = c.post("/v1/leases/" + id + "/renew", R"({"ttl_ms":60000})");
  BOOST_TEST(renewed.status == 200u, renewed.body);
  BOOST_TEST(renewed.json().at("agent_id").as_string() == "solo");
  BOOST_TEST(c.del("/v1/leases/" + id).status == 204u);
  BOOST_TEST(c.del("/v1/leases/" + id).error() == "lease_not_held");
  BOOST_TEST(c.post("/v1/leases/" + id + "/renew", "").error() == "lease_not_held");
  BOOST_TEST(c.del("/v1/leases/not-a-lease").error() == "unknown_lease");
  BOOST_TEST(c.post("/v1/leases", R"({"agent_type":"nobody"})").error() == "unknown_type");
  BOOST_TEST(c.post("/v1/leases", R"({"agent_type":"scarce","ttl_ms":0})").error() == "invalid_argument");
  BOOST_TEST(c.post("/v1/leases", R"({"agent_type":"scarce","ttl_ms":86400001})").status == 422u);
  BOOST_TEST(c.get("/v1/stats").json().at("leases_held").as_int64() == 0);
}

BOOST_FIXTURE_TEST_CASE(executions_start_complete_and_are_read_back, fixture) {
  register_agent("a1");
  auto started = c.post("/v1/executions", R"({"agent_id":"a1","task_type":"planning","workflow_slug":"wf"})");
  BOOST_TEST(started.status == 201u, started.body);
  const std::string id{started.json().at("execution_id").as_string()};
  auto running = c.get("/v1/executions/" + id);
  BOOST_TEST(running.status == 200u);
  BOOST_TEST(running.json().at("status").as_string() == "running");
  BOOST_TEST(running.json().at("completed_at").is_null());
  auto done = c.post("/v1/executions/" + id + "/complete",
                     R"({"status":"success","prompt_tokens":1500,"completion_tokens":800,"success_score":0.9})");
  BOOST_TEST(done.status == 200u, done.body);
  BOOST_TEST(done.json().at("total_tokens").as_int64() == 2300);
  BOOST_TEST(done.json().at("cost_micro_usd").is_int64());
  BOOST_TEST(c.post("/v1/executions/" + id + "/complete", R"({"status":"success"})").error() == "already_completed");
  BOOST_TEST(c.get("/v1/executions/" + id).error() == "already_completed");
  const std::string unknown = "0b8f6c0e-4c39-4f53-9a55-3b0f2f8e1c2d";
  BOOST_TEST(c.get("/v1/executions/" + unknown).error() == "unknown_execution");
  BOOST_TEST(c.post("/v1/executions/" + unknown + "/complete", R"({"status":"failed"})").error() ==
             "unknown_execution");
  // An id that is not a UUID names no execution: 404, as a malformed lease id is.
  auto malformed = c.get("/v1/executions/not-a-uuid");
  BOOST_TEST(malformed.status == 404u, malformed.body);
  BOOST_TEST(malformed.error() == "unknown_execution");
  BOOST_TEST(c.post("/v1/executions/not-a-uuid/complete", R"({"status":"failed"})").error() == "unknown_execution");
  BOOST_TEST(c.post("/v1/executions", R"({"agent_id":"nobody"})").error() == "unknown_agent");
  auto second = c.post("/v1/executions", R"({"agent_id":"a1"})").json();
  const std::string id2{second.at("execution_id").as_string()};
  BOOST_TEST(c.post("/v1/executions/" + id2 + "/complete", R"({"status":"success","prompt_tokens":-5})").error() ==
             "invalid_tokens");
  BOOST_TEST(c.post("/v1/executions/" + id2 + "/complete", R"({"status":"success","success_score":2})").error() ==
             "invalid_score");
  BOOST_TEST(c.post("/v1/executions/" + id2 + "/complete", R"({"status":"success","estimated_cost_usd":-1})").error() ==
             "invalid_cost");
  BOOST_TEST(c.get("/v1/executions/" + id2).json().at("status").as_string() == "running");  // refusals changed nothing

  auto tool = c.post("/v1/agents/a1/tools", R"({"tool_name":"code_search","success_count":2,"duration_ms":250})");
  BOOST_TEST(tool.status == 200u, tool.body);
  BOOST_TEST(tool.json().at("invocation_count").as_int64() == 2);
  auto tools = c.get("/v1/agents/a1/tools").json().at("tools").as_array();
  BOOST_REQUIRE_EQUAL(tools.size(), 1u);
  BOOST_TEST(tools[0].at("tool_name").as_string() == "code_search");
  BOOST_TEST(c.post("/v1/agents/nobody/tools", R"({"tool_name":"x","failure_count":1})").error() == "unknown_agent");
  BOOST_TEST(c.post("/v1/agents/a1/tools", R"({"tool_name":"x"})").error() == "invalid_argument");  // no call counted
  BOOST_TEST(c.get("/v1/agents/nobody/tools").error() == "unknown_agent");

  auto perf = c.get("/v1/agents/a1/performance");
  BOOST_TEST(perf.status == 200u, perf.body);
  BOOST_TEST(perf.json().at("total_executions").as_int64() == 1);
  BOOST_TEST(perf.json().at("total_tokens_used").as_int64() == 2300);
  auto by_model = c.get("/v1/performance?by=model").json();
  BOOST_TEST(by_model.at("summaries").as_array().at(0).at("key").as_string() == "gpt-4o-mini");
  BOOST_TEST(c.get("/v1/performance?by=colour").error() == "invalid_request");
  BOOST_TEST(c.get("/v1/performance").error() == "invalid_request");
  BOOST_TEST(c.get("/v1/agents/nobody/performance").error() == "unknown_agent");
  auto stats = c.get("/v1/stats").json();
  BOOST_TEST(stats.at("completed_executions").as_int64() == 1);
  BOOST_TEST(stats.at("running_executions").as_int64() == 1);
  BOOST_TEST(stats.at("server").at("requests").as_int64() > 0);
}

BOOST_AUTO_TEST_SUITE_END()
