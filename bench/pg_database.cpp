#include "bench/pg_database.hpp"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <utility>

#include "persistence/migrations.hpp"

namespace agentreg::bench {

std::string with_database(const std::string& url, const std::string& name) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos)
    return url + " dbname=" + name;
  const auto path = url.find('/', scheme + 3);
  const auto query = url.find('?', scheme + 3);
  if (path == std::string::npos || (query != std::string::npos && query < path)) {
    const auto at = query == std::string::npos ? url.size() : query;
    return url.substr(0, at) + "/" + name + url.substr(at);
  }
  return url.substr(0, path + 1) + name + (query == std::string::npos ? "" : url.substr(query));
}

std::string printable(const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos)
    return url.find("password") == std::string::npos ? url : "(key=value string with a password)";
  const auto colon = url.find(':', scheme + 3);
  if (colon != std::string::npos && colon < at)
    return url.substr(0, colon) + ":***" + url.substr(at);
  return url;
}

pqxx::result query(const std::string& url, const std::string& sql) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  return tx.exec(sql);
}

std::int64_t scalar(const std::string& url, const std::string& sql) {
  const auto r = query(url, sql);
  return r.at(0).at(0).is_null() ? 0 : r[0][0].as<std::int64_t>();
}

pg_server::pg_server(std::string admin_url) : admin_url_(std::move(admin_url)) {
  const auto r = query(admin_url_,
                       "SELECT current_setting('server_version'), current_setting('fsync'), "
                       "current_setting('synchronous_commit'), current_setting('shared_buffers')");
  version_ = r[0][0].as<std::string>();
  description_ = "PostgreSQL " + version_ + ", fsync " + r[0][1].as<std::string>() + ", synchronous_commit " +
                 r[0][2].as<std::string>() + ", shared_buffers " + r[0][3].as<std::string>();
}

// CREATE DATABASE cannot run in a transaction: nontransaction.
std::string pg_server::create_database() {
  const std::string name = "agentreg_bench_" + std::to_string(::getpid()) + "_" + std::to_string(++created_);
  query(admin_url_, "CREATE DATABASE " + name);
  return name;
}

// WITH (FORCE) ends sessions a registry or baseline may not have closed yet.
void pg_server::drop_database(const std::string& name) noexcept {
  try {
    query(admin_url_, "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench: could not drop database %s: %s\n", name.c_str(), e.what());
  }
}

void pg_server::checkpoint() {
  if (!checkpoint_allowed_)
    return;
  try {
    query(admin_url_, "CHECKPOINT");
  } catch (const std::exception& e) {
    checkpoint_allowed_ = false;
    std::printf("note: CHECKPOINT refused (%s); variants run without it\n", e.what());
  }
}

scratch_database::scratch_database(pg_server& s) : server_(s), name_(s.create_database()) {
  url_ = with_database(s.admin_url(), name_);
  auto m = db::migrate(url_);
  if (!m) {
    server_.drop_database(name_);
    throw std::runtime_error{"migrate " + name_ + ": " + m.error().message};
  }
  server_.checkpoint();
}

scratch_database::~scratch_database() {
  server_.drop_database(name_);
}

}  // namespace agentreg::bench
