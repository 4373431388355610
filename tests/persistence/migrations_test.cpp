#include <boost/test/unit_test.hpp>

#include <thread>
#include <vector>

#include "persistence/batch_writer.hpp"
#include "persistence/migrations.hpp"
#include "test_cluster.hpp"

using namespace agentreg;
using agentreg::test::fresh_database;

BOOST_AUTO_TEST_SUITE(persistence_migrations)

BOOST_FIXTURE_TEST_CASE(migrations_create_the_schema_once_and_a_second_start_applies_nothing, fresh_database) {
  auto first = db::migrate(url);
  BOOST_TEST_REQUIRE(bool(first), (first ? "" : first.error().message));
  BOOST_TEST(first->from_version == 0);
  BOOST_TEST(first->to_version == db::latest_schema_version());
  BOOST_TEST(first->applied.size() == db::schema_migrations().size());
  for (const char* table : {"agent_instances", "agent_executions", "agent_tool_usage", "agent_tool_calls",
                            "agent_performance_summary"})
    BOOST_TEST(scalar(std::string{"SELECT to_regclass('"} + table + "') IS NOT NULL") == "t", table);
  const auto applied_at = scalar("SELECT string_agg(version || '@' || applied_at, ',') FROM schema_version");

  auto second = db::migrate(url);
  BOOST_TEST_REQUIRE(bool(second), (second ? "" : second.error().message));
  BOOST_TEST(second->from_version == db::latest_schema_version());
  BOOST_TEST(second->to_version == db::latest_schema_version());
  BOOST_TEST(second->applied.empty());
  BOOST_TEST(count("schema_version") == static_cast<std::int64_t>(db::schema_migrations().size()));
  BOOST_TEST(scalar("SELECT string_agg(version || '@' || applied_at, ',') FROM schema_version") == applied_at);
}

BOOST_FIXTURE_TEST_CASE(concurrent_starts_apply_each_migration_exactly_once, fresh_database) {
  constexpr int starts = 4;
  std::vector<core::expected<db::migration_report>> results(starts, core::error{});
  std::vector<std::thread> threads;
  for (int i = 0; i < starts; ++i)
    threads.emplace_back([&, i] { results[static_cast<std::size_t>(i)] = db::migrate(url); });
  for (auto& t : threads)
    t.join();
  std::size_t applied = 0;
  for (const auto& r : results) {
    BOOST_TEST_REQUIRE(bool(r), (r ? "" : r.error().message));
    BOOST_TEST(r->to_version == db::latest_schema_version());
    applied += r->applied.size();
  }
  BOOST_TEST(applied == db::schema_migrations().size());
  BOOST_TEST(count("schema_version") == static_cast<std::int64_t>(db::schema_migrations().size()));
}

BOOST_FIXTURE_TEST_CASE(a_failing_migration_is_rolled_back_and_leaves_the_version_before_it, fresh_database) {
  const db::migration good{1, "one table", "CREATE TABLE first_table (x int)"};
  const db::migration bad{2, "fails half way", "CREATE TABLE second_table (x int); SELECT 1 / 0"};
  const db::migration fixed{2, "fixed", "CREATE TABLE second_table (x int)"};

  const std::vector<db::migration> broken_list{good, bad};
  auto r = db::migrate(url, broken_list);
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST((r.code() == core::errc::internal));
  BOOST_TEST(r.error().message.find("migration 2 (fails half way)") != std::string::npos, r.error().message);
  BOOST_TEST(r.error().message.find("division by zero") != std::string::npos, r.error().message);
  BOOST_TEST(scalar("SELECT max(version) FROM schema_version") == "1");
  BOOST_TEST(scalar("SELECT to_regclass('second_table') IS NULL") == "t");

  const std::vector<db::migration> fixed_list{good, fixed};
  auto again = db::migrate(url, fixed_list);
  BOOST_TEST_REQUIRE(bool(again), (again ? "" : again.error().message));
  BOOST_TEST(again->from_version == 1);
  BOOST_TEST((again->applied == std::vector<int>{2}));
}

BOOST_FIXTURE_TEST_CASE(a_database_newer_than_this_build_is_refused, fresh_database) {
  BOOST_TEST_REQUIRE(bool(db::migrate(url)));
  query("INSERT INTO schema_version (version, name) VALUES (999, 'from the future')");
  auto r = db::migrate(url);
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST(r.error().message.find("newer than this build") != std::string::npos, r.error().message);
}

BOOST_AUTO_TEST_CASE(a_migration_list_with_gaps_is_refused_before_connecting) {
  const std::vector<db::migration> gap{{1, "a", "SELECT 1"}, {3, "c", "SELECT 1"}};
  auto r = db::migrate("postgresql://nobody@127.0.0.1:1/none", gap);
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST(r.error().message.find("numbered 1, 2, 3") != std::string::npos, r.error().message);
}

BOOST_FIXTURE_TEST_CASE(a_writer_refuses_a_database_without_the_current_schema, fresh_database) {
  auto w = db::batch_writer::connect(url);
  BOOST_TEST_REQUIRE(!w);
  BOOST_TEST(w.error().message.find("run migrate first") != std::string::npos, w.error().message);
}

BOOST_AUTO_TEST_CASE(connecting_to_no_server_is_an_error_value_not_an_exception) {
  const std::string nowhere = "postgresql://postgres@127.0.0.1:1/postgres";
  auto m = db::migrate(nowhere);
  BOOST_TEST_REQUIRE(!m);
  BOOST_TEST((m.code() == core::errc::internal));
  BOOST_TEST(m.error().message.find("database: connect") != std::string::npos, m.error().message);
  BOOST_TEST(!db::batch_writer::connect(nowhere));
}

BOOST_AUTO_TEST_SUITE_END()
