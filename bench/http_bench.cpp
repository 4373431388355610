// agentreg-bench http [--agentregd URL]: wrk against agentregd and against a
// bare Beast server (bench/http/bare_server.hpp, in this process), for three
// request mixes, in alternating rounds:
//   heartbeat        POST /v1/agents/{id}/heartbeat over 1 000 agents
//   acquire+release  POST /v1/leases, then DELETE /v1/leases/{id} of an answer
//   start+complete   POST /v1/executions, then POST .../{id}/complete
// wrk runs with 2 threads and 64 connections, as the issue sets (wrk then
// takes a CPU of the two from the server: the same for both servers); its Lua scripts (written to a temporary directory) send
// the second request of a pair for an id the first one answered. The bare
// server answers the same statuses agentregd does with a body holding every
// id the scripts read, so both get the same mix. Figures: requests/s and
// the p99 latency wrk reports, per round; agentregd / bare per round pair.
// Without --agentregd the suite starts the agentregd built beside it
// (memory only, 2 I/O threads); it registers its agents in agentregd itself
// (ids h-0000..h-0999, type http-bench). Then, in process, heartbeat_async
// through the facade from 2 threads (bench/http/async_heartbeat.hpp). Exit
// code 1 if wrk fails or a response is not 2xx.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "bench/clients/http_client.hpp"
#include "bench/http/agentregd_process.hpp"
#include "bench/http/async_heartbeat.hpp"
#include "bench/http/bare_server.hpp"
#include "bench/suite.hpp"
#include "support/scratch_cluster.hpp"

namespace agentreg::bench {
namespace {

constexpr unsigned agents = 1000;
constexpr unsigned connections = 64;
constexpr unsigned wrk_threads = 2;
constexpr unsigned server_threads = 2;  // agentregd's default I/O threads, and the bare server's

struct mix {
  const char* key;
  const char* description;
  const char* script;  // wrk Lua
};

// Shared by the scripts: percent-encoding an id for a path, and the
// agent ids.
const char* const lua_common = R"lua(
local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
local n = 0
local function next_agent()
  n = n + 1
  return string.format("h-%04d", n % 1000)
end
local json = {["Content-Type"] = "application/json"}
)lua";

const mix mixes[] = {
    {"heartbeat", "POST /v1/agents/{id}/heartbeat", R"lua(
request = function()
  return wrk.format("POST", "/v1/agents/" .. next_agent() .. "/heartbeat", json, "{}")
end
)lua"},
    {"acquire_release", "POST /v1/leases + DELETE /v1/leases/{id}", R"lua(
local held = {}
request = function()
  local id = table.remove(held)
  if id then return wrk.format("DELETE", "/v1/leases/" .. encode(id)) end
  return wrk.format("POST", "/v1/leases", json, '{"agent_type":"http-bench","ttl_ms":60000}')
end
response = function(status, headers, body)
  if status == 201 then
    local id = body:match('"lease_id"%s*:%s*"([^"]+)"')
    if id then table.insert(held, id) end
  end
end
)lua"},
    {"start_complete", "POST /v1/executions + POST /v1/executions/{id}/complete", R"lua(
local running = {}
request = function()
  local id = table.remove(running)
  if id then
    return wrk.format("POST", "/v1/executions/" .. encode(id) .. "/complete", json,
      '{"status":"success","prompt_tokens":120,"completion_tokens":80,"estimated_cost_usd":0.0021}')
  end
  return wrk.format("POST", "/v1/executions", json, '{"agent_id":"' .. next_agent() .. '","task_type":"bench"}')
end
response = function(status, headers, body)
  if status == 201 then
    local id = body:match('"execution_id"%s*:%s*"([^"]+)"')
    if id then table.insert(running, id) end
  end
end
)lua"},
};

struct wrk_result {
  double requests_per_s = 0;
  double p99_ms = 0;
  std::uint64_t requests = 0, non_2xx = 0, socket_errors = 0;
};

double to_ms(double value, const std::string& unit) {
  if (unit == "us")
    return value / 1000;
  if (unit == "s")
    return value * 1000;
  if (unit == "m")
    return value * 60'000;
  return value;  // ms
}

wrk_result run_wrk(const std::string& url, const std::string& script, int seconds) {
  const std::string command = "wrk -t" + std::to_string(wrk_threads) + " -c" + std::to_string(connections) + " -d" + std::to_string(seconds) +
                              "s --latency -s '" + script + "' '" + url + "' 2>&1";
  const std::string out = support::run_command(command);
  wrk_result r;
  std::smatch m;
  if (std::regex_search(out, m, std::regex{R"(Requests/sec:\s+([0-9.]+))"}))
    r.requests_per_s = std::stod(m[1]);
  else
    throw std::runtime_error{"wrk printed no Requests/sec:\n" + out};
  if (std::regex_search(out, m, std::regex{R"(\n\s+99%\s+([0-9.]+)(us|ms|s|m))"}))
    r.p99_ms = to_ms(std::stod(m[1]), m[2]);
  if (std::regex_search(out, m, std::regex{R"((\d+) requests in)"}))
    r.requests = std::stoull(m[1]);
  if (std::regex_search(out, m, std::regex{R"(Non-2xx or 3xx responses: (\d+))"}))
    r.non_2xx = std::stoull(m[1]);
  if (std::regex_search(out, m, std::regex{R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"}))
    r.socket_errors = std::stoull(m[1]) + std::stoull(m[2]) + std::stoull(m[3]) + std::stoull(m[4]);
  return r;
}

void register_agents(const std::string& url) {
  std::string host;
  std::uint16_t port = 0;
  split_host_port(url, host, port);
  http_client c{host, port};
  for (unsigned i = 0; i < agents; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "h-%04u", i);
    const auto r = c.post("/v1/agents", boost::json::serialize(boost::json::object{
                                            {"agent_id", id}, {"agent_type", "http-bench"}, {"max_capacity", 64}}));
    if (r.status != 200)
      throw std::runtime_error{"agentregd register " + std::string{id} + ": HTTP " + std::to_string(r.status) + " " +
                               r.body};
  }
}

struct cell {
  std::vector<double> rate, p99_ms, vs_bare;
  std::uint64_t non_2xx = 0, socket_errors = 0;
};

int run_http_suite(const options& opts) {
  // Full: 3 mixes x 2 servers x 4 rounds x 3 s, about 90 s with the
  // in-process part, its share of scripts/bench's 30 minutes.
  const int rounds = opts.quick ? 1 : 4;
  const int seconds = opts.quick ? 1 : 3;
  const machine_info machine = describe_machine();
  std::vector<std::string> problems;
  std::map<std::string, std::map<std::string, cell>> cells;  // mix -> target -> cell
  std::printf("agentreg-bench http (%s): wrk -t%u -c%u, %d s per run, %d rounds\n", opts.quick ? "quick" : "full",
              wrk_threads, connections, seconds, rounds);
  print_machine(machine);
  std::fflush(stdout);
  std::string skipped;
  std::optional<agentregd_process> own_agentregd;
  std::optional<heartbeat_rates> in_process;
  double round_trip_ns = 0;
  try {
    support::run_command("command -v wrk");
    char dir_template[] = "/tmp/agentreg-http.XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    if (dir == nullptr)
      throw std::runtime_error{"mkdtemp failed"};
    const std::filesystem::path scripts{dir};
    struct remove_dir {
      std::filesystem::path p;
      ~remove_dir() {
        std::error_code ec;
        std::filesystem::remove_all(p, ec);
      }
    } cleanup{scripts};
    bare_server bare{server_threads};
    std::vector<std::pair<std::string, std::string>> targets{
        {"bare", "http://127.0.0.1:" + std::to_string(bare.port())}};
    std::string agentregd_url = opts.agentregd;
    if (agentregd_url.empty() && std::filesystem::exists(AGENTREG_AGENTREGD)) {
      own_agentregd.emplace(AGENTREG_AGENTREGD, std::vector<std::string>{
                                                    "--io-threads", std::to_string(server_threads),
                                                    "--max-requests-per-second", "0"});
      agentregd_url = own_agentregd->url();
      std::printf("agentregd: started %s at %s (memory only)\n", AGENTREG_AGENTREGD, agentregd_url.c_str());
    }
    if (!agentregd_url.empty()) {
      register_agents(agentregd_url);
      targets.emplace_back("agentregd", agentregd_url);
    } else {
      skipped = "no --agentregd given and no agentregd built: only the bare server's ceiling";
      std::printf("skipped: agentregd (%s)\n", skipped.c_str());
    }
    const std::size_t steps = std::size(mixes) * static_cast<std::size_t>(rounds) * targets.size();
    std::size_t step = 0;
    for (const auto& m : mixes) {
      const auto script = scripts / (std::string{m.key} + ".lua");
      std::ofstream{script} << lua_common << m.script;
      for (int round = 0; round < rounds; ++round) {
        std::map<std::string, double> rate;
        for (std::size_t k = 0; k < targets.size(); ++k) {
          const auto& [name, url] = targets[round % 2 == 0 ? k : targets.size() - 1 - k];
          report_progress("http", static_cast<double>(step++) / static_cast<double>(steps),
                          std::string{m.key} + " " + name + " round " + std::to_string(round + 1) + "/" +
                              std::to_string(rounds));
          const auto r = run_wrk(url, script.string(), seconds);
          auto& c = cells[m.key][name];
          c.rate.push_back(r.requests_per_s);
          c.p99_ms.push_back(r.p99_ms);
          c.non_2xx += r.non_2xx;
          c.socket_errors += r.socket_errors;
          rate[name] = r.requests_per_s;
        }
        if (rate.count("agentregd") && rate["bare"] > 0)
          cells[m.key]["agentregd"].vs_bare.push_back(rate["agentregd"] / rate["bare"]);
      }
    }
    own_agentregd.reset();  // its CPU back before the in-process part
    report_progress("http", 0.95, "in-process heartbeat_async");
    in_process = measure_heartbeats(opts.quick ? 1 : 3, std::chrono::seconds{seconds});
    // Beside the multi-thread figure, what moving a cache line between the
    // two CPUs costs on this machine now (see bench/machine_bench.cpp).
    round_trip_ns = cache_line_round_trip_ns();
    if (in_process->failures != 0)
      problems.push_back("in-process heartbeats: " + std::to_string(in_process->failures) + " failed");
  } catch (const std::exception& e) {
    problems.push_back(std::string{"aborted: "} + e.what());
  }
  std::printf("%-16s %-10s %12s  %-24s %10s %10s\n", "mix", "server", "requests/s", "[min .. max]", "p99 ms",
              "/ bare");
  for (const auto& [mix_key, by_target] : cells)
    for (const auto& [target, c] : by_target) {
      const auto s = summarize(c.rate);
      char ratio[24] = "";
      if (!c.vs_bare.empty())
        std::snprintf(ratio, sizeof ratio, "x%.2f", summarize(c.vs_bare).median);
      std::printf("%-16s %-10s %12.0f  [%9.0f .. %9.0f] %10.2f %10s\n", mix_key.c_str(), target.c_str(), s.median,
                  s.min, s.max, summarize(c.p99_ms).median, ratio);
      if (c.non_2xx != 0 || c.socket_errors != 0)
        problems.push_back(mix_key + " on " + target + ": " + std::to_string(c.non_2xx) + " non-2xx answers, " +
                           std::to_string(c.socket_errors) + " socket errors");
    }
  if (in_process)
    std::printf("in process, 2 threads: heartbeat_async %.0f/s [%.0f .. %.0f] (target >= 500 000), "
                "heartbeat_many %.0f/s [%.0f .. %.0f], blocking heartbeat %.0f/s (async x%.2f, many x%.2f)\n",
                in_process->async_per_s.median, in_process->async_per_s.min, in_process->async_per_s.max,
                in_process->batch_per_s.median, in_process->batch_per_s.min, in_process->batch_per_s.max,
                in_process->blocking_per_s.median,
                in_process->async_per_s.median / in_process->blocking_per_s.median,
                in_process->batch_per_s.median / in_process->blocking_per_s.median);
  if (in_process)
    std::printf("cache-line round trip between the 2 CPUs: %.0f ns\n", round_trip_ns);
  // The issue's figures, by name: a pair is two requests, so pairs/s is
  // half the mix's requests/s.
  boost::json::object figures;
  const auto median_of = [&](const char* mix_key, const char* target, auto member) -> std::optional<double> {
    const auto m = cells.find(mix_key);
    if (m == cells.end() || !m->second.count(target) || (m->second.at(target).*member).empty())
      return std::nullopt;
    return summarize(m->second.at(target).*member).median;
  };
  if (const auto v = median_of("heartbeat", "agentregd", &cell::rate))
    figures["heartbeat_rps"] = whole(*v);
  if (const auto v = median_of("heartbeat", "bare", &cell::rate))
    figures["bare_rps"] = whole(*v);
  if (const auto v = median_of("heartbeat", "agentregd", &cell::vs_bare)) {
    figures["heartbeat_ratio_vs_bare"] = rounded(*v, 3);
    std::printf("heartbeat, agentregd / bare server: x%.2f (target >= 0.70, floor 0.50)\n", *v);
  }
  if (const auto v = median_of("heartbeat", "agentregd", &cell::p99_ms))
    figures["heartbeat_p99_ms"] = rounded(*v, 2);
  if (const auto v = median_of("acquire_release", "agentregd", &cell::rate))
    figures["acquire_release_rps"] = whole(*v / 2);
  if (const auto v = median_of("start_complete", "agentregd", &cell::rate))
    figures["start_complete_rps"] = whole(*v / 2);
  if (const auto v = median_of("start_complete", "agentregd", &cell::p99_ms))
    figures["start_complete_p99_ms"] = rounded(*v, 2);
  if (in_process) {
    figures["async_heartbeat_per_s"] = whole(in_process->async_per_s.median);
    figures["async_heartbeat_batch_per_s"] = whole(in_process->batch_per_s.median);
    figures["cache_line_round_trip_ns"] = whole(round_trip_ns);
    figures["blocking_heartbeat_per_s"] = whole(in_process->blocking_per_s.median);
  }
  for (const auto& problem : problems)
    std::printf("FAILED: %s\n", problem.c_str());
  std::fflush(stdout);
  if (opts.json) {
    boost::json::object by_mix;
    for (const auto& [mix_key, by_target] : cells) {
      boost::json::object o;
      for (const auto& [target, c] : by_target) {
        boost::json::object t{{"requests_per_s", to_json(summarize(c.rate), 0)},
                              {"p99_ms", to_json(summarize(c.p99_ms), 2)},
                              {"non_2xx", c.non_2xx},
                              {"socket_errors", c.socket_errors}};
        if (!c.vs_bare.empty())
          t["vs_bare"] = to_json(summarize(c.vs_bare), 3);
        o[target] = std::move(t);
      }
      by_mix[mix_key] = std::move(o);
    }
    boost::json::object j{{"suite", "http"},     {"ok", problems.empty()}, {"quick", opts.quick},
                          {"machine", to_json(machine)}, {"rounds", rounds},   {"seconds_per_run", seconds},
                          {"connections", connections},  {"wrk_threads", wrk_threads},
                          {"mixes", std::move(by_mix)}};
    if (!skipped.empty())
      j["skipped"] = skipped;
    for (const auto& [key, value] : figures)
      j[key] = value;
    add_problems(j, problems);
    emit_json_line(j);
  }
  return problems.empty() ? 0 : 1;
}

[[maybe_unused]] const bool registered = register_suite(
    {"http", "wrk against agentregd and a bare Beast server: heartbeat, acquire+release, start+complete",
     &run_http_suite});

}  // namespace
}  // namespace agentreg::bench
