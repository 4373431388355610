// Hostile input, slow clients, TLS and a clean stop, against a real
// agentregd with a real PostgreSQL.

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/serialize.hpp>

#include "daemon.hpp"
#include "support/scratch_cluster.hpp"
#include "test_cluster.hpp"

using namespace agentreg;
using agentreg::test::client;
using agentreg::test::daemon_process;
using agentreg::test::raw_exchange;
using agentreg::test::reply;

namespace {

const std::string token = "hostile-test-token";

unsigned status_of_raw(const std::string& raw) {
  if (raw.rfind("HTTP/1.1 ", 0) != 0)
    return 0;
  return static_cast<unsigned>(std::stoi(raw.substr(9, 3)));
}

// Everything a client can read about the state, to compare before and after.
std::string state(client& c) {
  auto agents = c.get("/v1/agents?limit=1000").json();
  auto stats = c.get("/v1/stats").json().as_object();
  std::string s = boost::json::serialize(agents);
  for (const char* k : {"agents", "online", "leases_held", "running_executions", "completed_executions", "tool_calls"})
    s += std::string{k} + "=" + boost::json::serialize(stats.at(k));
  return s;
}

std::string request_text(const std::string& method, const std::string& target, const std::string& body,
                         const std::string& extra_headers = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra_headers + "\r\n" + body;
}

}  // namespace

// Writes to a connection the server closed must fail, not kill the test.
struct ignore_sigpipe {
  ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }
};
BOOST_TEST_GLOBAL_FIXTURE(ignore_sigpipe);

BOOST_AUTO_TEST_SUITE(server_hostile)

// Each bad request gets its 4xx, the server stays up, and what a client can
// read is unchanged (the agent, the counters).
BOOST_AUTO_TEST_CASE(hostile_bodies_get_their_4xx_and_change_nothing) {
  test::fresh_database db;
  // A body limit large enough for the 100 000-deep document to reach the parser.
  daemon_process d{{"--port", "0", "--database-url", db.url, "--token", token, "--max-body-bytes", "300000"}};
  client c{d.port(), token};
  BOOST_REQUIRE_EQUAL(c.post("/v1/agents", R"({"agent_id":"a1","agent_type":"planner","max_capacity":4})").status,
                      200u);
  const auto before = state(c);
  struct bad {
    std::string target, body;
    unsigned status;
    std::string code;
  };
  const std::vector<bad> cases{
      {"/v1/agents", "{\"agent_id\":\"a1\",\"agent_type\":\"planner\",\"max_capacity\":", 400, "malformed_json"},
      {"/v1/agents", "{not json}", 400, "malformed_json"},
      {"/v1/agents", R"({"agent_id":"a1","agent_type":"planner","max_capacity":NaN})", 400, "malformed_json"},
      {"/v1/agents", R"({"agent_id":"a1","agent_type":"planner","temperature":Infinity})", 400, "malformed_json"},
      {"/v1/agents", R"({"agent_id":"a1","agent_type":"planner","temperature":1e999})", 400, "malformed_json"},
      {"/v1/agents", R"({"agent_id":"a1","agent_type":"planner","max_capacity":99999999999999999999999})", 400,
       "invalid_request"},
      {"/v1/agents", R"({"agent_id":"a1","agent_type":"planner","max_capacity":1e3})", 400, "invalid_request"},
      {"/v1/agents", R"({"agent_id":"a1","agent_type":"planner","max_capacity":"4"})", 400, "invalid_request"},
      {"/v1/agents", R"({"agent_id":"a1","agent_type":7})", 400, "invalid_request"},
      {"/v1/agents", R"({"agent_id":"a1","agent_type":"planner","max_capacity":1,"max_capacity":9})", 400,
       "invalid_request"},
      {"/v1/agents", R"({"agent_id":"a1","agent_type":"planner","shoe_size":44})", 400, "invalid_request"},
      {"/v1/agents", "{\"agent_id\":\"a1\",\"agent_type\":\"pl\xff\xfe\"}", 400, "malformed_json"},
      {"/v1/agents", "{\"agent_id\":\"a1\",\"agent_type\":\"\xc3\x28\"}", 400, "malformed_json"},
      {"/v1/agents", std::string(100'000, '[') + std::string(100'000, ']'), 400, "malformed_json"},
      {"/v1/agents", "[]", 400, "invalid_request"},
      {"/v1/agents", "null", 400, "invalid_request"},
      {"/v1/agents/a1/heartbeat", R"({"current_load":1e400})", 400, "malformed_json"},
      {"/v1/agents/a1/heartbeat", R"({"current_load":-9223372036854775809})", 400, "invalid_request"},
      {"/v1/agents/a1/heartbeat", R"({"current_load":9223372036854775807})", 422, "load_out_of_range"},
      {"/v1/agents/a1/heartbeat", R"({"current_load":2,"extra":true})", 400, "invalid_request"},
      {"/v1/heartbeats", R"({"heartbeats":[{"agent_id":"a1","current_load":2},{"agent_id":5}]})", 400,
       "invalid_request"},
      {"/v1/executions", R"({"agent_id":"a1","task_type":{"a":1}})", 400, "invalid_request"},
  };
  for (const auto& b : cases) {
    auto r = c.post(b.target, b.body);
    BOOST_TEST(r.status == b.status, b.body.substr(0, 80) << " -> " << r.status << " " << r.body.substr(0, 200));
    BOOST_TEST(r.error() == b.code, b.body.substr(0, 80) << " -> " << r.body.substr(0, 200));
  }
  // Not JSON at all, by its content type.
  auto wrong_type = c.send("POST", "/v1/agents", R"({"agent_id":"a2","agent_type":"planner"})",
                           {{"Content-Type", "text/plain"}});
  BOOST_TEST(wrong_type.status == 415u);
  BOOST_TEST(wrong_type.error() == "unsupported_media_type");
  BOOST_TEST(state(c) == before);
  BOOST_TEST(c.get("/v1/agents/a1").json().at("current_load").as_int64() == 0);
  BOOST_TEST(d.alive());
}

BOOST_AUTO_TEST_CASE(oversized_and_truncated_requests_are_refused_and_the_server_stays_up) {
  test::fresh_database db;
  daemon_process d{{"--port", "0", "--database-url", db.url, "--token", token}};
  client c{d.port(), token};
  BOOST_REQUIRE_EQUAL(c.post("/v1/agents", R"({"agent_id":"a1","agent_type":"planner"})").status, 200u);
  const auto before = state(c);
  // A body over the default 64 KiB: 413, announced by Content-Length.
  const std::string big = R"({"agent_id":"a2","agent_type":"planner","model_name":")" + std::string(70'000, 'x') + "\"}";
  const auto too_big = raw_exchange(d.port(), request_text("POST", "/v1/agents", big));
  BOOST_TEST(status_of_raw(too_big) == 413u, too_big.substr(0, 200));
  BOOST_TEST(too_big.find("body_too_large") != std::string::npos);
  // Headers over 16 KiB: 431.
  const auto long_header = raw_exchange(
      d.port(), request_text("GET", "/v1/agents", "", "X-Filler: " + std::string(20'000, 'y') + "\r\n"));
  BOOST_TEST(status_of_raw(long_header) == 431u, long_header.substr(0, 200));
  // Truncated: the body ends early and the client half-closes; no request is
  // handled (a start would add a running execution).
  const std::string start = R"({"agent_id":"a1","task_type":"planning"})";
  auto truncated = request_text("POST", "/v1/executions", start);
  truncated.resize(truncated.size() - 10);
  raw_exchange(d.port(), truncated);
  // A request line that is not HTTP.
  const auto garbage = raw_exchange(d.port(), "HELLO THERE\r\n\r\n");
  BOOST_TEST(status_of_raw(garbage) == 400u, garbage.substr(0, 200));
  // Chunked bodies are read whole and checked like any other.
  const auto chunked = raw_exchange(
      d.port(), "POST /v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                    "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n");
  BOOST_TEST(status_of_raw(chunked) == 400u, chunked.substr(0, 200));
  BOOST_TEST(d.alive());
  BOOST_TEST(state(c) == before);
  BOOST_TEST(c.get("/health").status == 200u);
  // A client that sends Expect: 100-continue is told to go on, then answered.
  const auto asked = raw_exchange(d.port(), request_text("POST", "/v1/agents/a1/heartbeat", R"({"current_load":1})",
                                                         "Expect: 100-continue\r\n"));
  BOOST_TEST(asked.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", 0) == 0u, asked.substr(0, 200));
  BOOST_TEST(c.get("/v1/agents/a1").json().at("current_load").as_int64() == 1);
}

// A client that sends its headers one byte at a time, too slowly, is closed
// once the header timeout passes; a well-behaved client meanwhile is served.
// Only the header timeout can close it: the idle and body timeouts are ten
// minutes, the header limit is 1 MiB and the trickle stays far below it, and
// the close comes without an answer (a 431 would bring one).
BOOST_AUTO_TEST_CASE(a_slowloris_connection_is_closed_within_the_header_timeout) {
  constexpr std::size_t max_header = 1 << 20;
  daemon_process d{{"--port", "0", "--header-timeout-ms", "800", "--idle-timeout-ms", "600000", "--body-timeout-ms",
                    "600000", "--max-header-bytes", std::to_string(max_header),
                    // The other client's requests come back to back: no rate limit may refuse them.
                    "--max-requests-per-second", "0"}};
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::socket slow{ioc};
  slow.connect({net::ip::make_address("127.0.0.1"), d.port()});
  const auto began = std::chrono::steady_clock::now();
  const std::string line = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  boost::system::error_code ec;
  bool closed = false;
  std::size_t sent = 0, answered = 0;
  client fast{d.port()};
  slow.non_blocking(true);
  // One byte per round trip of another client (a trickle that never ends
  // the headers), until the server closes the slow connection.
  for (std::size_t i = 0; !closed && std::chrono::steady_clock::now() - began < std::chrono::seconds{60}; ++i) {
    sent += net::write(slow, net::buffer(i < line.size() ? line.substr(i, 1) : std::string{"a"}), ec);
    closed = ec && ec != net::error::would_block;
    BOOST_TEST_REQUIRE(fast.get("/health").status == 200u);  // others are served meanwhile
    char b;
    answered += slow.read_some(net::buffer(&b, 1), ec);  // a closed connection reads end-of-file
    closed = closed || (ec && ec != net::error::would_block);
  }
  const auto took = std::chrono::steady_clock::now() - began;
  BOOST_TEST_MESSAGE("slowloris closed after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                               << " ms, " << sent << " bytes");
  BOOST_TEST(closed);
  BOOST_TEST(answered == 0u);         // closed without an answer: not a 431
  BOOST_TEST(sent < max_header / 4);  // far from the header limit
  BOOST_TEST(took >= std::chrono::milliseconds{800});  // not before the header timeout
  BOOST_TEST(fast.get("/health").status == 200u);
}

BOOST_AUTO_TEST_CASE(tls_serves_https_with_the_certificate_given) {
  const auto dir = std::filesystem::temp_directory_path() / ("agentreg-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  support::run_command("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                       "-addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert + " 2>&1");
  {
    daemon_process d{{"--port", "0", "--tls-cert", cert, "--tls-key", key, "--token", token}};
    BOOST_TEST(d.output().find("https://") != std::string::npos);
    namespace net = boost::asio;
    namespace beast = boost::beast;
    namespace bhttp = boost::beast::http;
    net::io_context ioc;
    net::ssl::context ctx{net::ssl::context::tls_client};
    ctx.load_verify_file(cert);  // the test's own certificate is the only CA trusted
    ctx.set_verify_mode(net::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream{ioc, ctx};
    beast::get_lowest_layer(stream).connect({net::ip::make_address("127.0.0.1"), d.port()});
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds{30});
    stream.handshake(net::ssl::stream_base::client);
    for (const char* target : {"/health", "/v1/stats"}) {
      bhttp::request<bhttp::string_body> req{bhttp::verb::get, target, 11};
      req.set(bhttp::field::host, "127.0.0.1");
      req.set(bhttp::field::authorization, "Bearer " + token);
      bhttp::write(stream, req);
      beast::flat_buffer buffer;
      bhttp::response<bhttp::string_body> res;
      bhttp::read(stream, buffer, res);
      BOOST_TEST(res.result_int() == 200u, target << ": " << res.body());
    }
    // Plain HTTP on the TLS port gets no HTTP answer.
    BOOST_TEST(status_of_raw(raw_exchange(d.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")) == 0u);
    BOOST_TEST(d.alive());
  }
  std::filesystem::remove_all(dir);
}

// SIGTERM: requests answered before it are all in PostgreSQL once agentregd
// has exited with status 0 (the flush interval is long, so only the stop's
// flush can have written the last of them).
BOOST_AUTO_TEST_CASE(sigterm_flushes_everything_to_postgresql_and_exits_0) {
  test::fresh_database db;
  constexpr int executions = 200;
  daemon_process d{{"--port", "0", "--database-url", db.url, "--flush-interval-ms", "600000", "--batch-size",
                    "1000000", "--performance-update-interval-s", "3600"}};
  client c{d.port()};
  BOOST_REQUIRE_EQUAL(c.post("/v1/agents", R"({"agent_id":"a1","agent_type":"planner","model_name":"gpt-4o-mini"})")
                          .status,
                      200u);
  for (int i = 0; i < executions; ++i) {
    auto s = c.post("/v1/executions", R"({"agent_id":"a1","task_type":"t"})");
    BOOST_REQUIRE_EQUAL(s.status, 201u);
    const std::string id{s.json().at("execution_id").as_string()};
    BOOST_REQUIRE_EQUAL(
        c.post("/v1/executions/" + id + "/complete", R"({"status":"success","prompt_tokens":10,"completion_tokens":5})")
            .status,
        200u);
  }
  BOOST_REQUIRE_EQUAL(c.post("/v1/agents/a1/tools", R"({"tool_name":"search","success_count":3})").status, 200u);
  BOOST_TEST(db.count("agent_executions") < executions);  // nothing forced a flush yet
  BOOST_TEST(d.terminate() == 0, d.output());
  BOOST_TEST(d.output().find("stopped") != std::string::npos, d.output());
  BOOST_TEST(db.count("agent_executions") == executions);
  BOOST_TEST(db.scalar("SELECT count(*) FROM agent_executions WHERE status = 'success' AND total_tokens = 15") ==
             std::to_string(executions));
  BOOST_TEST(db.scalar("SELECT total_executions FROM agent_performance_summary WHERE dimension = 'agent' AND key = 'a1'") ==
             std::to_string(executions));
  BOOST_TEST(db.scalar("SELECT invocation_count FROM agent_tool_usage WHERE agent_id = 'a1'") == "3");
  BOOST_TEST(db.scalar("SELECT agent_type FROM agent_instances WHERE agent_id = 'a1'") == "planner");
}

BOOST_AUTO_TEST_SUITE_END()
