// agentreg-demo: registers a fleet, runs tasks through
// acquire -> start -> complete -> record tools -> release from several
// threads, then prints the seed's "list online agents" view and the
// performance summaries per type and model, with costs from the price table.
//
// Usage: agentreg-demo [--agents N] [--tasks N] [--threads N]

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <optional>
#include <thread>
#include <vector>

#include "agentreg/registry.hpp"

namespace {

struct fleet_type {
  const char* type;
  const char* provider;
  const char* model;
  int capacity;
};

constexpr fleet_type fleet[] = {
    {"planner", "claude", "claude-3-5-sonnet-20241022", 10},
    {"executor", "openai", "gpt-4o-mini-2024-07-18", 20},
    {"researcher", "gemini", "gemini-1.5-pro-002", 8},
    {"coder", "claude", "claude-3-opus-20240229", 4},
};
constexpr const char* tools[] = {"code_search", "file_edit", "bash", "web_fetch"};

// The demo's tasks take microseconds; a clock that runs 1000x fast makes
// their durations read like the milliseconds of real LLM calls.
class dilated_clock final : public agentreg::core::clock {
 public:
  agentreg::core::timestamp now() const override {
    return wall_start_ + (real_.monotonic() - mono_start_) * 1000;
  }
  agentreg::core::monotonic_time monotonic() const override {
    return mono_start_ + (real_.monotonic() - mono_start_) * 1000;
  }

 private:
  agentreg::core::system_clock real_;
  agentreg::core::timestamp wall_start_ = real_.now();
  agentreg::core::monotonic_time mono_start_ = real_.monotonic();
};

long arg(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return std::strtol(argv[i + 1], nullptr, 10);
  return fallback;
}

void print_summaries(const char* title, const agentreg::expected<std::vector<agentreg::performance>>& rows) {
  std::printf("\n%s\n%-30s %9s %8s %10s %10s %12s %12s %12s\n", title, "key", "runs", "success", "p50 ms",
              "p99 ms", "tokens", "cost USD", "USD/run");
  if (!rows)
    return;
  for (const auto& p : *rows)
    std::printf("%-30s %9lld %7.1f%% %10.1f %10.1f %12lld %12.4f %12.6f\n", p.key.c_str(),
                static_cast<long long>(p.total_executions), 100 * p.success_rate, p.p50_duration_ms,
                p.p99_duration_ms, static_cast<long long>(p.total_tokens_used), p.total_cost_usd,
                p.avg_cost_per_execution);
}

}  // namespace

int main(int argc, char** argv) {
  const long agents = arg(argc, argv, "--agents", 1000);
  const long tasks = arg(argc, argv, "--tasks", 100000);
  const long threads = arg(argc, argv, "--threads", 4);
  if (agents < 1 || tasks < 0 || threads < 1) {
    std::fprintf(stderr, "usage: agentreg-demo [--agents N>=1] [--tasks N>=0] [--threads N>=1]\n");
    return 2;
  }

  agentreg::config cfg;
  cfg.time_source = std::make_shared<dilated_clock>();
  cfg.auto_sweep = false;  // simulated time runs 1000x fast: no stale sweeps in the demo
  if (const char* url = std::getenv("AGENTREG_DATABASE_URL"); url && *url)
    cfg.database_url = url;
  std::optional<agentreg::registry> reg_storage{std::in_place, cfg};
  agentreg::registry& reg = *reg_storage;
  std::printf("agentreg demo: simulated time (1 us of real time counts as 1 ms)\n");
  const auto began = std::chrono::steady_clock::now();
  for (long i = 0; i < agents; ++i) {
    const auto& f = fleet[i % 4];
    agentreg::agent_spec s;
    s.agent_id = std::string{"agent_"} + f.type + "_" + std::to_string(i / 4 + 1);
    s.agent_type = f.type;
    s.llm_provider = f.provider;
    s.model_name = f.model;
    s.max_capacity = f.capacity;
    s.metadata = {{"zone", i % 2 ? "eu-west" : "us-east"}};
    if (auto a = reg.register_agent(s); !a) {
      std::fprintf(stderr, "register failed: %s\n", a.error().message.c_str());
      return 1;
    }
  }
  std::printf("registered %ld agents of 4 types\n", agents);

  std::atomic<long> next{0}, done{0}, failed{0}, no_capacity{0};
  std::vector<std::thread> workers;
  for (long t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      std::mt19937_64 rng{static_cast<std::uint64_t>(t) * 7919 + 1};
      for (long i; (i = next.fetch_add(1)) < tasks;) {
        const auto& f = fleet[static_cast<std::size_t>(i) % 4];
        auto lease = reg.acquire(f.type, {.ttl = std::chrono::minutes{5}});
        if (!lease) {
          ++no_capacity;
          continue;
        }
        auto id = reg.start_execution(lease->agent_id, {.task_type = i % 3 ? "analysis" : "code_generation",
                                                        .workflow_slug = "demo",
                                                        .run_id = "run-" + std::to_string(i / 100)});
        agentreg::execution_metrics m;
        m.prompt_tokens = static_cast<std::int64_t>(500 + rng() % 4000);
        m.completion_tokens = static_cast<std::int64_t>(100 + rng() % 1500);
        m.cached_tokens = *m.prompt_tokens / 4;
        m.success_score = static_cast<double>(rng() % 101) / 100;
        const bool ok = rng() % 20 != 0;
        if (!ok) {
          m.error_message = "model refused";
          m.retry_count = 1;
        }
        if (id && !reg.complete_execution(*id, ok ? "success" : "failed", m))
          ++failed;
        reg.record_tool_usage(lease->agent_id, tools[rng() % 4],
                              {.execution_id = id ? *id : "", .success_count = 1,
                               .duration_ms = static_cast<double>(5 + rng() % 500)});
        reg.release(*lease);
        const long n = ++done;
        if (n % 10000 == 0)
          std::printf("\rprogress: %ld / %ld tasks", n, tasks), std::fflush(stdout);
      }
    });
  for (auto& w : workers)
    w.join();
  reg.sync();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf("\rprogress: %ld / %ld tasks done in %.2f s (%ld waited for capacity, %ld failed)\n", done.load(),
              tasks, secs, no_capacity.load(), failed.load());

  const auto online = reg.list_online_agents();
  std::printf("\nonline agents: %zu (first 12)\n", online.size());
  for (std::size_t i = 0; i < online.size() && i < 12; ++i)
    std::printf("%s: %lld/%lld (%s)\n", online[i].agent_id.c_str(), static_cast<long long>(online[i].current_load),
                static_cast<long long>(online[i].max_capacity), online[i].agent_type.c_str());

  print_summaries("performance by agent type", reg.get_performance_by(agentreg::group_by::agent_type));
  print_summaries("performance by model", reg.get_performance_by(agentreg::group_by::model));
  if (!online.empty())
    if (auto usage = reg.get_tool_usage(online.front().agent_id)) {
      std::printf("\ntool usage of %s\n", online.front().agent_id.c_str());
      for (const auto& u : *usage)
        std::printf("  %-12s calls %5lld  ok %5lld  avg %6.1f ms  p95 %6.1f ms\n", u.tool_name.c_str(),
                    static_cast<long long>(u.invocation_count), static_cast<long long>(u.success_count),
                    u.avg_duration_ms, u.p95_duration_ms);
    }
  const auto before = reg.stats();
  reg_storage.reset();  // stops the registry: everything is flushed to the database
  if (cfg.database_url)
    std::printf("\npersistence: %lld rows in %lld batches written before shutdown, the rest (%lld records) "
                "at shutdown; %lld retries\n",
                static_cast<long long>(before.persistence_rows), static_cast<long long>(before.persistence_batches),
                static_cast<long long>(before.persistence_backlog),
                static_cast<long long>(before.persistence_retries));
  return 0;
}
