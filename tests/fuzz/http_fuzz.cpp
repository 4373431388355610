// libFuzzer target over what agentregd does with untrusted bytes before the
// engine sees them: Beast's request parser with the server's limits, the
// route matcher, percent-decoding of paths and queries, and the strict JSON
// parser with every route's body decoder (server/json.cpp, requests.cpp,
// router.cpp, compiled in with -fsanitize=fuzzer,address).
//
// Input: the first byte picks what the rest is. Even: a raw HTTP request,
// parsed as the server parses it; when it parses, its target is matched and
// decoded and its body goes to the decoder the byte names. Odd: a body,
// straight to that decoder. A decoder may refuse only with decode_error;
// any other exception escapes and libFuzzer reports it, as it reports
// memory errors and leaks.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_to.hpp>

#include "server/json.hpp"
#include "server/requests.hpp"
#include "server/router.hpp"

namespace {

using namespace agentreg::http;
namespace bhttp = boost::beast::http;

// The server's defaults (server_options, api_options).
constexpr std::size_t max_header_bytes = 16 * 1024;
constexpr std::size_t max_body_bytes = 64 * 1024;
constexpr std::size_t max_json_depth = 32;

template <class T>
void decode_as(const boost::json::value& v) {
  (void)boost::json::value_to<T>(v);
}

void decode(std::uint8_t which, std::string_view body) {
  boost::json::value v;
  try {
    v = parse_strict(body, max_json_depth);
  } catch (const decode_error&) {
    return;
  }
  // What parses must print as JSON that parses again (so nothing the parser
  // let through, such as invalid UTF-8, reaches an answer or the database).
  // Not necessarily to the same value: integers beyond 64 bits become
  // doubles, which Boost.JSON's default parsing may round differently.
  try {
    (void)parse_strict(boost::json::serialize(v), max_json_depth);
  } catch (const decode_error&) {
    __builtin_trap();
  }
  try {
    switch (which % 10) {
      case 0: decode_as<register_request>(v); break;
      case 1: decode_as<heartbeat_request>(v); break;
      case 2: decode_as<heartbeat_batch>(v); break;
      case 3: decode_as<status_request>(v); break;
      case 4: decode_as<load_request>(v); break;
      case 5: decode_as<lease_request>(v); break;
      case 6: decode_as<renew_request>(v); break;
      case 7: decode_as<start_request>(v); break;
      case 8: decode_as<complete_request>(v); break;
      default: decode_as<tool_request>(v); break;
    }
  } catch (const decode_error&) {
  }
}

// The API's path patterns (docs/api.md), so that matching runs over a table
// of the real shape; the handlers are never called here.
const router& routes() {
  static const router table = [] {
    router r;
    const auto add = [&r](method m, const char* pattern) {
      route x;
      x.verb = m;
      x.pattern = pattern;
      x.handle = [](const request&, responder) {};
      r.add(std::move(x));
    };
    add(method::post, "/v1/agents");
    add(method::get, "/v1/agents");
    add(method::get, "/v1/agents/least-loaded");
    add(method::get, "/v1/agents/{agent_id}");
    add(method::del, "/v1/agents/{agent_id}");
    add(method::post, "/v1/agents/{agent_id}/heartbeat");
    add(method::post, "/v1/heartbeats");
    add(method::put, "/v1/agents/{agent_id}/status");
    add(method::put, "/v1/agents/{agent_id}/load");
    add(method::get, "/v1/agents/{agent_id}/agent-card.json");
    add(method::post, "/v1/leases");
    add(method::post, "/v1/leases/{lease_id}/renew");
    add(method::del, "/v1/leases/{lease_id}");
    add(method::post, "/v1/executions");
    add(method::post, "/v1/executions/{execution_id}/complete");
    add(method::get, "/v1/executions/{execution_id}");
    add(method::post, "/v1/agents/{agent_id}/tools");
    add(method::get, "/v1/agents/{agent_id}/tools");
    add(method::get, "/v1/agents/{agent_id}/performance");
    add(method::get, "/v1/performance");
    add(method::get, "/health");
    add(method::get, "/ready");
    add(method::get, "/v1/stats");
    add(method::get, "/openapi.json");
    return r;
  }();
  return table;
}

void parse_request(std::uint8_t which, std::string_view bytes) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(max_header_bytes));
  parser.body_limit(max_body_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    const auto n = parser.put(boost::asio::const_buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == bhttp::error::need_more)
      break;
    if (ec)
      return;
    if (n == 0)
      break;
    used += n;
  }
  if (!parser.is_done())
    return;
  const auto& req = parser.get();
  const std::string_view target{req.target().data(), req.target().size()};
  const auto q = target.find('?');
  const auto path = target.substr(0, q);
  if (q != std::string_view::npos)
    (void)parse_query(target.substr(q + 1));
  (void)percent_decode(path, false);
  for (const auto m : {method::get, method::post, method::put, method::del})
    (void)routes().find(m, path);
  decode(which, req.body());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  const std::string_view rest{reinterpret_cast<const char*>(data + 1), size - 1};
  if (data[0] % 2 == 0)
    parse_request(static_cast<std::uint8_t>(data[0] / 2), rest);
  else
    decode(static_cast<std::uint8_t>(data[0] / 2), rest);
  return 0;
}
