// The seed's scenario through an installed agentreg: exit code 0 when the
// totals come out right.
#include <cstdio>

#include "agentreg/registry.hpp"

int main() {
  agentreg::registry reg{agentreg::config{}};
  auto agent = reg.register_agent({.agent_id = "consumer-1", .agent_type = "planner", .llm_provider = "openai",
                                   .model_name = "gpt-4o"});
  if (!agent) {
    std::fprintf(stderr, "register_agent: %s\n", agent.error().message.c_str());
    return 1;
  }
  auto id = reg.start_execution("consumer-1", {.task_type = "plan"});
  if (!id)
    return 2;
  agentreg::execution_metrics m;
  m.prompt_tokens = 100;
  m.completion_tokens = 50;
  m.estimated_cost_usd = 0.01;
  if (!reg.complete_execution(*id, agentreg::execution_status::success, m))
    return 3;
  auto p = reg.get_performance("consumer-1");
  if (!p || p->total_tokens_used != 150 || p->total_executions != 1 || p->total_cost_micro_usd != 10000)
    return 4;
  std::printf("consumer: ok (%lld tokens, %.2f USD)\n", static_cast<long long>(p->total_tokens_used),
              p->total_cost_usd);
  return 0;
}
