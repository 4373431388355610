#include <memory>
#include <stdexcept>

#include <pqxx/pqxx>

#include "bench/pick/variants.hpp"

namespace agentreg::bench::pick {

namespace {

// The pick in one statement, so one round trip and one transaction: the
// subquery finds the lowest-ratio row with a free slot that no other
// transaction has locked (SKIP LOCKED: concurrent pickers take different
// rows instead of queueing on the same one), locks it, and the UPDATE takes
// the slot. The index on (agent_type, load/capacity) serves the ORDER BY.
const char* const pick_sql =
    "UPDATE pick_agents SET load = load + 1 WHERE id = ("
    "SELECT id FROM pick_agents WHERE agent_type = $1 AND load < capacity "
    "ORDER BY load::float8 / capacity LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id";
const char* const release_sql = "UPDATE pick_agents SET load = load - 1 WHERE id = $1 AND load > 0";

class postgresql_client final : public client {
 public:
  postgresql_client(const std::string& url, bool synchronous_commit) : c_(url) {
    if (!synchronous_commit) {
      pqxx::nontransaction tx{c_};
      tx.exec("SET synchronous_commit = off");
    }
    c_.prepare("pick", pick_sql);
    c_.prepare("release", release_sql);
  }

  std::optional<std::uint32_t> acquire() override {
    pqxx::nontransaction tx{c_};  // autocommit: the statement is the transaction
    const auto r = tx.exec_prepared("pick", agent_type);
    if (r.empty())
      return std::nullopt;
    return index_of(r[0][0].as<std::string>());
  }

  void release(std::uint32_t agent) override {
    pqxx::nontransaction tx{c_};
    const auto r = tx.exec_prepared("release", agent_id(agent));
    if (r.affected_rows() != 1)
      throw std::runtime_error{"postgresql release refused for " + agent_id(agent)};
  }

 private:
  pqxx::connection c_;
};

class postgresql_variant final : public variant {
 public:
  postgresql_variant(pg_server& server, bool synchronous_commit)
      : db_(server), version_(server.version()), synchronous_commit_(synchronous_commit) {
    query(db_.url(),
          "CREATE TABLE pick_agents (id text PRIMARY KEY, agent_type text NOT NULL, load int NOT NULL, "
          "capacity int NOT NULL, CHECK (load >= 0 AND load <= capacity)); "
          "CREATE INDEX pick_agents_by_ratio ON pick_agents (agent_type, (load::float8 / capacity))");
    reset();
  }

  [[nodiscard]] std::string key() const override {
    return synchronous_commit_ ? "postgresql" : "postgresql_async_commit";
  }
  [[nodiscard]] std::string description() const override {
    return synchronous_commit_ ? "PostgreSQL: SKIP LOCKED pick + release, synchronous_commit on"
                               : "PostgreSQL: the same, synchronous_commit off";
  }
  std::unique_ptr<client> connect() override {
    return std::make_unique<postgresql_client>(db_.url(), synchronous_commit_);
  }

  [[nodiscard]] std::string server_version() override { return version_; }

  std::int64_t total_load() override { return scalar(db_.url(), "SELECT coalesce(sum(load), 0) FROM pick_agents"); }

  void reset() override {
    pqxx::connection c{db_.url()};
    pqxx::work tx{c};
    tx.exec("TRUNCATE pick_agents");
    pqxx::stream_to s{tx, "pick_agents", std::vector<std::string>{"id", "agent_type", "load", "capacity"}};
    for (std::uint32_t i = 0; i < agent_count; ++i)
      s << std::make_tuple(agent_id(i), std::string{agent_type}, static_cast<int>(preload_of(i)),
                           static_cast<int>(capacity_of(i)));
    s.complete();
    tx.commit();
    query(db_.url(), "VACUUM ANALYZE pick_agents");
  }

 private:
  scratch_database db_;
  std::string version_;
  bool synchronous_commit_;
};

}  // namespace

std::unique_ptr<variant> make_postgresql_variant(pg_server& server, bool synchronous_commit) {
  return std::make_unique<postgresql_variant>(server, synchronous_commit);
}

}  // namespace agentreg::bench::pick
