#include <stdexcept>

#include "agentreg/registry.hpp"
#include "bench/pick/variants.hpp"

namespace agentreg::bench::pick {

namespace {

class agentreg_client final : public client {
 public:
  explicit agentreg_client(registry& reg) : reg_(reg) {}

  std::optional<std::uint32_t> acquire() override {
    auto l = reg_.acquire(agent_type);
    if (!l)
      return std::nullopt;
    held_ = std::move(*l);
    return index_of(held_.agent_id);
  }

  void release(std::uint32_t) override { reg_.release(held_); }

 private:
  registry& reg_;
  lease held_;
};

class agentreg_variant final : public variant {
 public:
  agentreg_variant() : reg_(make_config()) {
    for (std::uint32_t i = 0; i < agent_count; ++i) {
      agent_spec s;
      s.agent_id = agent_id(i);
      s.agent_type = agent_type;
      s.llm_provider = "bench";
      s.model_name = "bench-model";
      s.max_capacity = capacity_of(i);
      if (auto a = reg_.register_agent(s); !a)
        throw std::runtime_error{"register_agent: " + a.error().message};
    }
    reset();
  }

  [[nodiscard]] std::string key() const override { return "agentreg"; }
  [[nodiscard]] std::string description() const override { return "agentreg in-process: acquire + release"; }
  [[nodiscard]] bool remote() const override { return false; }
  std::unique_ptr<client> connect() override { return std::make_unique<agentreg_client>(reg_); }

  std::int64_t total_load() override {
    std::int64_t sum = 0;
    for (const auto& a : reg_.list_agents())
      sum += a.current_load;
    return sum;
  }

  // The preload is the agents' reported load (update_load); leases come on
  // top of it, so a round that released every lease leaves it as it was.
  void reset() override {
    for (std::uint32_t i = 0; i < agent_count; ++i)
      if (auto a = reg_.update_load(agent_id(i), preload_of(i)); !a)
        throw std::runtime_error{"update_load: " + a.error().message};
  }

 private:
  static config make_config() {
    config cfg;
    cfg.auto_sweep = false;  // nothing but the measured calls runs in the engine
    return cfg;
  }

  registry reg_;
};

}  // namespace

std::unique_ptr<variant> make_agentreg_variant() {
  return std::make_unique<agentreg_variant>();
}

}  // namespace agentreg::bench::pick
