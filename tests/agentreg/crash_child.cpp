// agentreg-crash-child URL: runs a registry on the database at URL under
// load (executions completed on two threads, tool calls) until it is
// killed. The registry_persistence suite starts it, kills it with SIGKILL
// while summaries lag the committed rows, and checks what a new registry
// recovers. Prints "running" once the agents are registered.

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "agentreg/registry.hpp"

using namespace agentreg;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s URL\n", argv[0]);
    return 2;
  }
  config c;
  c.database_url = argv[1];
  c.auto_sweep = false;
  c.flush_interval = 20ms;
  // Summaries every 300 ms, rows every 20 ms: a kill almost always lands
  // between two summaries, with rows committed that no summary counts.
  c.performance_update_interval = 300ms;
  registry reg{c};
  // Two types, three models, so that every dimension has several keys.
  const std::vector<std::pair<std::string, std::string>> agents = {
      {"planner", "gpt-4o-mini"}, {"planner", "claude-3-5-sonnet-20241022"}, {"coder", "gpt-4o"}};
  for (std::size_t i = 0; i < agents.size(); ++i) {
    agent_spec s{"crash_" + std::to_string(i), agents[i].first, "test", agents[i].second};
    s.max_capacity = 100;
    if (!reg.register_agent(s))
      return 1;
  }
  std::printf("running\n");
  std::fflush(stdout);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&reg, t] {
      for (std::int64_t i = 0;; ++i) {
        const std::string agent = "crash_" + std::to_string((i + t) % 3);
        auto id = reg.start_execution(agent, {.task_type = i % 2 ? "plan" : "code", .workflow_slug = "wf"});
        if (!id)
          continue;
        execution_metrics m;
        m.prompt_tokens = 10 + i % 13;
        m.completion_tokens = 3 + i % 5;
        reg.complete_execution(*id, i % 7 == 0 ? "failed" : "success", m);
        if (i % 3 == 0)
          reg.record_tool_usage(agent, i % 2 ? "bash" : "search", {.success_count = 1, .duration_ms = 2});
        if (i % 64 == 0)
          std::this_thread::sleep_for(1ms);  // leave the writers some CPU on 2 cores
      }
    });
  for (auto& t : threads)
    t.join();
}
