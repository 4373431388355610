#include "apps/agentregd/demo.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <queue>
#include <random>
#include <string>
#include <vector>

namespace agentreg::daemon {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct agent_kind {
  const char* type;
  const char* provider;
  const char* model;
  std::array<const char*, 3> skills;
  std::array<const char*, 3> tools;
  const char* task;
  double failure_rate;  // of executions
  double median_s;      // duration
  std::int64_t prompt;  // median prompt tokens
};

// Five kinds, with the prices' models (data/price_table.json) so cost comes
// from the price table.
constexpr std::array<agent_kind, 5> kinds{{
    {"planner", "anthropic", "claude-3-5-sonnet", {"planning", "python", "architecture"},
     {"read_file", "code_search", "web_search"}, "planning", 0.05, 2.5, 3000},
    {"coder", "openai", "gpt-4o", {"python", "typescript", "refactoring"},
     {"read_file", "write_file", "run_tests"}, "coding", 0.08, 6.0, 6000},
    {"reviewer", "openai", "gpt-4o-mini", {"code-review", "python", "security"},
     {"read_file", "code_search", "lint"}, "review", 0.04, 1.2, 4000},
    {"researcher", "anthropic", "claude-3-5-haiku", {"research", "summaries", "web"},
     {"web_search", "fetch_url", "sql_query"}, "research", 0.28, 4.0, 2000},
    {"summarizer", "google", "gemini-1.5-flash", {"summaries", "docs", "release-notes"},
     {"read_file", "web_search", "write_file"}, "summarize", 0.06, 0.8, 8000},
}};
constexpr std::array<const char*, 4> workflows{"code_analysis", "bug_fix", "docs_update", "release_notes"};

struct sim_agent {
  std::string id;
  const agent_kind* kind = nullptr;
  clock_type::time_point next_heartbeat;
  clock_type::time_point silent_until;  // going stale until then
};

struct running {
  clock_type::time_point due;
  lease held;
  std::string execution_id;
  const agent_kind* kind = nullptr;
  double seconds = 0;
  bool operator>(const running& o) const { return due > o.due; }
};

}  // namespace

demo_fleet::demo_fleet(registry& reg, std::size_t agents) : reg_(reg), agents_(agents) {
  thread_ = std::thread{[this] { run(); }};
}

demo_fleet::~demo_fleet() {
  stop_.store(true, std::memory_order_relaxed);  // relaxed: a stop request only
  thread_.join();
}

void demo_fleet::run() {
  std::mt19937_64 rng{std::random_device{}()};
  auto uniform = [&](double a, double b) { return std::uniform_real_distribution<double>{a, b}(rng); };
  auto chance = [&](double p) { return uniform(0, 1) < p; };
  std::vector<sim_agent> fleet;
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < agents_; ++i) {
    const auto& k = kinds[i % kinds.size()];
    agent_spec s;
    s.agent_id = std::string{k.type} + "-" + std::to_string(i / kinds.size() + 1);
    s.agent_type = k.type;
    s.llm_provider = k.provider;
    s.model_name = k.model;
    s.max_capacity = 2 + static_cast<std::int64_t>(i % 5);
    s.skills = {k.skills.begin(), k.skills.end()};
    s.metadata = {{"team", i % 2 ? "core" : "platform"}, {"region", i % 3 ? "eu-west" : "us-east"}};
    if (!reg_.register_agent(s))
      continue;
    fleet.push_back({s.agent_id, &k, start + milliseconds{static_cast<long>(uniform(0, 3000))}, start});
  }
  std::priority_queue<running, std::vector<running>, std::greater<>> in_flight;
  // About 40 executions a second in all: what a few hundred agents doing
  // seconds-long LLM calls look like.
  const double starts_per_tick = std::max(1.0, static_cast<double>(fleet.size()) / 300.0 * 2.0);
  double owed = 0;
  while (!stop_.load(std::memory_order_relaxed)) {  // relaxed: see ~demo_fleet
    const auto now = clock_type::now();
    // Heartbeats, every 2-4 s; 1 in 400 heartbeats starts a silence of
    // 20-90 s instead (the agent goes stale, then revives).
    for (auto& a : fleet) {
      if (now < a.next_heartbeat || now < a.silent_until)
        continue;
      a.next_heartbeat = now + milliseconds{static_cast<long>(uniform(2000, 4000))};
      if (chance(1.0 / 400)) {
        a.silent_until = now + milliseconds{static_cast<long>(uniform(20'000, 90'000))};
        continue;
      }
      (void)reg_.heartbeat(a.id);
    }
    // Now and then an operator pauses an agent, or resumes one.
    if (!fleet.empty() && chance(0.01)) {
      const auto& a = fleet[static_cast<std::size_t>(uniform(0, static_cast<double>(fleet.size())))];
      (void)reg_.update_status(a.id, chance(0.5) ? agent_status::paused : agent_status::online);
    }
    // New work: a lease on the least-loaded agent of a kind, an execution on it.
    for (owed += starts_per_tick; owed >= 1; owed -= 1) {
      const auto& k = kinds[static_cast<std::size_t>(uniform(0, static_cast<double>(kinds.size())))];
      auto l = reg_.acquire(k.type, {.ttl = std::chrono::minutes{2}});
      if (!l)
        continue;  // no capacity: counted by the registry, shown on the dashboard
      execution_request req;
      req.task_type = k.task;
      req.workflow_slug = workflows[static_cast<std::size_t>(uniform(0, workflows.size()))];
      auto id = reg_.start_execution(l->agent_id, req);
      if (!id) {
        (void)reg_.release(*l);
        continue;
      }
      const double seconds = std::clamp(k.median_s * std::exp(std::normal_distribution<double>{0, 0.7}(rng)), 0.1, 30.0);
      in_flight.push({now + milliseconds{static_cast<long>(seconds * 1000)}, *l, *id, &k, seconds});
    }
    // Completions that are due, with their tool calls.
    while (!in_flight.empty() && in_flight.top().due <= now) {
      auto r = in_flight.top();
      in_flight.pop();
      const auto& k = *r.kind;
      const bool failed = chance(k.failure_rate);
      const bool timed_out = !failed && chance(0.01);
      const int calls = static_cast<int>(uniform(0, 4));
      for (int c = 0; c < calls; ++c) {
        const bool ok = chance(failed ? 0.6 : 0.97);
        (void)reg_.record_tool_usage(r.held.agent_id, k.tools[static_cast<std::size_t>(uniform(0, 3))],
                                     {.execution_id = r.execution_id,
                                      .success_count = ok ? 1 : 0,
                                      .failure_count = ok ? 0 : 1,
                                      .duration_ms = uniform(20, 1500)});
      }
      execution_metrics m;
      m.prompt_tokens = static_cast<std::int64_t>(static_cast<double>(k.prompt) * uniform(0.3, 2.0));
      m.completion_tokens = static_cast<std::int64_t>(static_cast<double>(*m.prompt_tokens) * uniform(0.05, 0.5));
      m.cached_tokens = static_cast<std::int64_t>(static_cast<double>(*m.prompt_tokens) * uniform(0, 0.4));
      m.success_score = failed ? uniform(0, 0.4) : uniform(0.7, 1.0);
      m.retry_count = failed && chance(0.5) ? 1 : 0;
      if (failed)
        m.error_message = "model returned an invalid tool call";
      (void)reg_.complete_execution(
          r.execution_id, failed ? execution_status::failed : timed_out ? execution_status::timeout : execution_status::success,
          m);
      (void)reg_.release(r.held);
    }
    std::this_thread::sleep_for(milliseconds{50});
  }
  // Whatever still runs is completed, so that the totals add up.
  while (!in_flight.empty()) {
    auto r = in_flight.top();
    in_flight.pop();
    (void)reg_.complete_execution(r.execution_id, execution_status::success, {.prompt_tokens = 100, .completion_tokens = 20});
    (void)reg_.release(r.held);
  }
}

}  // namespace agentreg::daemon
