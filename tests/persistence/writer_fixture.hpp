#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <stdexcept>

#include "persistence/batch_writer.hpp"
#include "test_cluster.hpp"

namespace agentreg::test {

inline db::batch_writer connect_writer(const std::string& url) {
  auto w = db::batch_writer::connect(url);
  if (!w)
    throw std::runtime_error{"connect writer: " + w.error().message};
  return std::move(*w);
}

/// A migrated database and a writer connected to it.
struct writer_fixture : migrated_database {
  db::batch_writer writer = connect_writer(url);

  /// Writes `b`, requiring success.
  db::write_report write(const db::batch& b) {
    auto r = writer.write(b);
    BOOST_TEST_REQUIRE(bool(r), (r ? std::string{} : r.error().message));
    return *r;
  }

  /// Everything the tables hold, as one digest per table plus the sums that
  /// matter: equal fingerprints mean equal contents.
  std::string fingerprint() {
    std::string out;
    for (const char* t : {"agent_instances", "agent_executions", "agent_tool_calls", "agent_tool_usage",
                          "agent_performance_summary"})
      out += std::string{t} + "=" +
             scalar(std::string{"SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM "} +
                    t + " x") +
             "\n";
    out += "tokens=" + scalar("SELECT coalesce(sum(total_tokens), 0) FROM agent_executions") + "\n";
    out += "cost=" + scalar("SELECT coalesce(sum(cost_micro_usd), 0) FROM agent_executions") + "\n";
    return out;
  }
};

/// "0.012345" for 12345 micro-dollars: how numeric(20,6) prints.
inline std::string usd_text(std::int64_t micro) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld.%06lld", static_cast<long long>(micro / 1'000'000),
                static_cast<long long>(micro % 1'000'000));
  return buf;
}

}  // namespace agentreg::test
