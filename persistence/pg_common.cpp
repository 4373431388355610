#include "persistence/pg_common.hpp"

#include <exception>

#include <pqxx/except>

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
      what = e.sqlstate().empty() ? std::string{e.what()} : "SQLSTATE " + e.sqlstate() + ": " + e.what();
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown exception";
    }
    if (c != nullptr && !c->is_open())
      f.broken = true;
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
  auto add = [&](std::string_view key, std::string_view value) {
    if (out.find(key) != std::string::npos)
      return;
    if (uri)
      out += out.find('?') == std::string::npos ? '?' : '&';
    else if (!out.empty())
      out += ' ';
    out.append(key).append("=").append(value);
  };
  add("connect_timeout", "10");
  add("application_name", "agentreg");
  return out;
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
