#include <boost/test/unit_test.hpp>

#include "core/uuid.hpp"
#include "persistence/loader.hpp"
#include "persistence/migrations.hpp"
#include "writer_fixture.hpp"

using namespace agentreg;
using namespace agentreg::test;

namespace {

db::batch executions_batch(const std::string& agent_id, int n) {
  db::batch b;
  b.agents.push_back({sample_agent(agent_id)});
  for (int i = 0; i < n; ++i)
    b.executions.push_back(completed(sample_running(agent_id, i)));
  return b;
}

// Restarts the cluster when a test leaves it down, so that a failed
// assertion in the middle of an outage cannot break the suites after it.
struct outage_fixture : writer_fixture {
  ~outage_fixture() {
    try {
      test_cluster::get().restart();
    } catch (...) {
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(persistence_outage)

BOOST_FIXTURE_TEST_CASE(a_killed_server_gives_an_error_value_with_the_broken_flag_and_a_new_writer_works_after_restart,
                        outage_fixture) {
  const auto before = executions_batch("agent_outage", 3);
  BOOST_TEST(write(before).executions == 3);
  BOOST_TEST(!writer.broken());

  test_cluster::get().kill();

  const auto during = executions_batch("agent_outage", 4);
  auto failed = writer.write(during);
  BOOST_TEST_REQUIRE(!failed);
  BOOST_TEST_MESSAGE("write during the outage: " << failed.error().message);
  BOOST_TEST((failed.code() == core::errc::internal));
  BOOST_TEST(failed.error().message.find("database: write batch") != std::string::npos, failed.error().message);
  BOOST_TEST(writer.broken());
  // Every later write fails at once, without touching the dead connection.
  auto again = writer.write(during);
  BOOST_TEST_REQUIRE(!again);
  BOOST_TEST(again.error().message.find("connect a new writer") != std::string::npos, again.error().message);
  // Connecting while the server is down is an error value too.
  BOOST_TEST(!db::batch_writer::connect(url));
  BOOST_TEST(!db::loader::connect(url));
  BOOST_TEST(!db::migrate(url));

  test_cluster::get().restart();

  auto fresh = db::batch_writer::connect(url);
  BOOST_TEST_REQUIRE(bool(fresh), (fresh ? "" : fresh.error().message));
  auto retried = fresh->write(during);
  BOOST_TEST_REQUIRE(bool(retried), (retried ? "" : retried.error().message));
  BOOST_TEST(retried->executions == 4);
  // The batch that failed was not half-written, and nothing is doubled.
  BOOST_TEST(count("agent_executions") == 7);
  BOOST_TEST(scalar("SELECT sum(total_tokens) FROM agent_executions") == std::to_string(7 * 2300));
  BOOST_TEST(scalar("SELECT sum(cost_micro_usd) FROM agent_executions") == std::to_string(7 * 12'345));
}

BOOST_FIXTURE_TEST_CASE(a_batch_whose_commit_outcome_was_lost_can_be_replayed_on_a_new_connection_after_a_crash,
                        outage_fixture) {
  // The commit happened, then the server died before the engine heard of
  // it: the engine must treat the batch as unwritten and send it again.
  const auto b = executions_batch("agent_in_doubt", 5);
  BOOST_TEST(write(b).executions == 5);
  const auto before = fingerprint();
  test_cluster::get().kill();
  test_cluster::get().restart();

  auto fresh = db::batch_writer::connect(url);
  BOOST_TEST_REQUIRE(bool(fresh), (fresh ? "" : fresh.error().message));
  auto replay = fresh->write(b);
  BOOST_TEST_REQUIRE(bool(replay), (replay ? "" : replay.error().message));
  BOOST_TEST(replay->executions == 0);
  BOOST_TEST(fingerprint() == before);
}

BOOST_AUTO_TEST_SUITE_END()
