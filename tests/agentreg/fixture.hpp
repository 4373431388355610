#pragma once
// The fixture the registry's in-memory suites share (registry_unit,
// registry_lease, registry_async, registry_metrics): one registry on
// simulated time.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agentreg/registry.hpp"

namespace agentreg::test {

/// A registry in memory on a core::manual_clock that the test moves, with
/// no automatic sweep (a test calls registry::sweep()) and no start grace,
/// so that a stale agent goes offline at the first sweep.
struct registry_fixture {
  std::shared_ptr<core::manual_clock> clock = std::make_shared<core::manual_clock>();
  registry reg;

  /// `tune`, if given, changes the configuration before the registry is
  /// made (a suite's own limits).
  explicit registry_fixture(const std::function<void(config&)>& tune = {}) : reg{make_config(clock, tune)} {}

  /// Registers `id` (provider "claude"), failing the test if it is refused.
  agent add(const std::string& id, const std::string& type = "planner", std::int64_t capacity = 10,
            const std::string& model = "claude-3-5-sonnet-20241022") {
    agent_spec s;
    s.agent_id = id;
    s.agent_type = type;
    s.llm_provider = "claude";
    s.model_name = model;
    s.max_capacity = capacity;
    auto a = reg.register_agent(s);
    BOOST_REQUIRE_MESSAGE(bool(a), (a ? "" : a.error().message));
    return *a;
  }
  /// A planner `id` with `capacity` slots.
  agent add(const std::string& id, std::int64_t capacity) { return add(id, "planner", capacity); }

 private:
  static config make_config(const std::shared_ptr<core::manual_clock>& clock,
                            const std::function<void(config&)>& tune) {
    using namespace std::chrono_literals;
    config c;
    c.time_source = clock;
    c.auto_sweep = false;
    c.start_grace = 0ns;
    if (tune)
      tune(c);
    return c;
  }
};

}  // namespace agentreg::test
