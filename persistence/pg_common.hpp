#pragma once
// Internal to persistence/: included by its .cpp files only, never by a
// public header, because it includes libpqxx (heavy, and nobody outside this
// folder may depend on it).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <pqxx/connection>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace agentreg::db::detail {

/// A failure caught from libpqxx, as a value.
struct failure {
  core::error error;
  bool broken = false;  ///< the connection is unusable: reconnect
  /// The database refused the data itself (SQLSTATE class 22, data
  /// exception, or 23, integrity constraint violation): the same rows fail
  /// the same way on any connection, so retrying them cannot help.
  bool data = false;
};

/// Describes the exception being handled; call it inside a `catch` block.
/// `doing` says what failed ("write batch"). `c` (may be null) is asked
/// whether it is still open, because libpqxx reports some losses (a server
/// killed mid-statement) as a plain sql_error. Connection errors
/// (pqxx::broken_connection, an unknown commit outcome, SQLSTATE class 08)
/// are `broken`; data errors are `data`; anything else (a statement timeout,
/// a serialization failure, a full disk) is neither: worth retrying later.
failure current_failure(std::string_view doing, const pqxx::connection_base* c) noexcept;

/// `url` (URI or keyword=value form) with the engine's connection defaults
/// added where it sets none: connect_timeout=10 (libpq otherwise waits for
/// an unreachable host as long as TCP does: minutes),
/// application_name=agentreg (the engine's connections, one per writer, are
/// then told apart in pg_stat_activity), and TCP keepalives
/// (keepalives=1, keepalives_idle=10, keepalives_interval=5,
/// keepalives_count=3) with tcp_user_timeout=30000 (ms), so that a network
/// partition breaks the connection within about 30 s instead of hanging it.
std::string with_connection_defaults(const std::string& url);

/// A new connection to `url` (with_connection_defaults),
/// with automatic reconnection switched off: a silent reconnect would lose
/// the session's staging tables and hide an outage the caller must see.
/// Throws what pqxx::connection throws.
std::unique_ptr<pqxx::connection> open_connection(const std::string& url);

/// Nanoseconds (the engine's timestamps) to microseconds (timestamptz's
/// precision), rounding down; 0 ("never") becomes NULL.
inline std::optional<std::int64_t> to_micros(core::timestamp ns) {
  if (ns == 0)
    return std::nullopt;
  return ns / 1000 - (ns % 1000 < 0 ? 1 : 0);
}

/// Microseconds back to nanoseconds.
inline core::timestamp from_micros(std::int64_t us) { return us * 1000; }

/// SQL turning a bigint microsecond expression into a timestamptz, exactly.
/// (Nanoseconds as double seconds, to_timestamp(ns / 1e9), lands on the
/// wrong microsecond: a nanosecond count above 2^53 is already rounded as a
/// double, and to_timestamp rounds to the nearest microsecond where the
/// engine truncates. Microseconds times an interval stay exact: 1.7e15 is
/// exact in the double the interval product uses, and an interval holding
/// only microseconds has no day or month part, so time zones play no role.)
inline std::string sql_timestamp(std::string_view micros) {
  return "(timestamptz 'epoch' + (" + std::string{micros} + ") * interval '1 microsecond')";
}

/// SQL turning a timestamptz expression into bigint microseconds (NULL: 0).
/// extract() returns numeric since PostgreSQL 14: exact.
inline std::string sql_micros(std::string_view ts) {
  return "coalesce((extract(epoch from " + std::string{ts} + ") * 1000000)::bigint, 0)";
}

/// Registers the registry run `run_id` (a UUID) in agentreg_runs, once, and
/// answers its ordinal: runs are numbered in the order they first reached
/// the database (a later run has a larger ordinal). Throws what libpqxx
/// throws, and std::runtime_error past 2^23 runs (the ordinal must leave 40
/// bits for the drain in a counting point, see count_point).
std::int64_t register_run(pqxx::connection_base& c, const std::string& run_id);

/// The counting point of aggregator drain `drain` of run `ordinal`
/// (ordinal << 40 | drain): points order runs first, then drains. NULL when
/// either is 0 (no run: a writer used alone; no drain: a running record).
inline std::optional<std::int64_t> count_point(std::int64_t ordinal, std::uint64_t drain) {
  if (ordinal <= 0 || drain == 0)
    return std::nullopt;
  return ordinal << 40 | static_cast<std::int64_t>(drain & ((std::uint64_t{1} << 40) - 1));
}

/// Key of the transaction-scoped advisory lock that serialises migrations:
/// "agentreg" in ASCII.
constexpr std::int64_t migration_lock_key = 0x6167656e74726567;

}  // namespace agentreg::db::detail
