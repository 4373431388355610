#include "persistence/pg_common.hpp"

#include <exception>

#include <stdexcept>

#include <pqxx/except>
#include <pqxx/transaction>

namespace agentreg::db::detail {

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

}  // namespace

failure current_failure(std::string_view doing, const pqxx::connection_base* c) noexcept {
  failure f;
  f.error.code = core::errc::internal;
  try {
    std::string what;
    try {
      throw;
    } catch (const pqxx::broken_connection& e) {
      f.broken = true;
      what = std::string{"connection lost: "} + e.what();
    } catch (const pqxx::in_doubt_error& e) {
      // The commit was sent but its answer never came: it may or may not have
      // happened. Only a new connection can tell; the caller rewrites the
      // batch, which the idempotent merges make safe.
      f.broken = true;
      what = std::string{"commit outcome unknown: "} + e.what();
    } catch (const pqxx::sql_error& e) {
      const std::string state = e.sqlstate();
      what = state.empty() ? std::string{e.what()} : "SQLSTATE " + state + ": " + e.what();
      const std::string_view cls = std::string_view{state}.substr(0, 2);
      f.broken = cls == "08";
      f.data = cls == "22" || cls == "23";
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown exception";
    }
    if (c != nullptr && !c->is_open()) {
      f.broken = true;
      f.data = false;  // on a lost connection nothing says the data was at fault
    }
    f.error.message = "database: " + std::string{doing} + ": " + trimmed(std::move(what));
  } catch (...) {
    // Building the message itself failed (out of memory): keep the essentials.
    f.error.message.clear();
  }
  return f;
}

std::string with_connection_defaults(const std::string& url) {
  const bool uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  std::string out = url;
  // Whether the string sets `key` itself: "key=" at the start of a parameter.
  const auto sets = [&](std::string_view key) {
    const std::string needle = std::string{key} + '=';
    for (auto at = out.find(needle); at != std::string::npos; at = out.find(needle, at + 1))
      if (at == 0 || out[at - 1] == '?' || out[at - 1] == '&' || out[at - 1] == ' ')
        return true;
    return false;
  };
  auto add = [&](std::string_view key, std::string_view value) {
    if (sets(key))
      return;
    if (uri)
      out += out.find('?') == std::string::npos ? '?' : '&';
    else if (!out.empty())
      out += ' ';
    out.append(key).append("=").append(value);
  };
  add("connect_timeout", "10");
  add("application_name", "agentreg");
  // A peer that vanished (a partition, a host that died without closing
  // its sockets) must show up as a broken connection in bounded time, not
  // after TCP's default ~2 hours (idle) or ~15 minutes (unacknowledged
  // data): keepalives probe an idle connection after 10 s, every 5 s, 3
  // times; tcp_user_timeout drops one whose sent data stays unacknowledged
  // for 30 s.
  add("keepalives", "1");
  add("keepalives_idle", "10");
  add("keepalives_interval", "5");
  add("keepalives_count", "3");
  add("tcp_user_timeout", "30000");
  return out;
}

std::int64_t register_run(pqxx::connection_base& c, const std::string& run_id) {
  pqxx::work tx{c};
  tx.exec_params0("INSERT INTO agentreg_runs (run_id) VALUES ($1) ON CONFLICT (run_id) DO NOTHING", run_id);
  const auto ordinal = tx.exec_params1("SELECT ordinal FROM agentreg_runs WHERE run_id = $1", run_id)[0].as<std::int64_t>();
  tx.commit();
  if (ordinal >= (std::int64_t{1} << 23))
    throw std::runtime_error{"agentreg_runs: more than 2^23 registry runs"};
  return ordinal;
}

std::unique_ptr<pqxx::connection> open_connection(const std::string& url) {
  auto c = std::make_unique<pqxx::connection>(with_connection_defaults(url));
  // Deprecated in 6.4 because 7.x dropped reconnection altogether; until
  // then it is the only way to switch it off.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  return c;
}

}  // namespace agentreg::db::detail
