#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "persistence/batch.hpp"

namespace agentreg::db {

/// Writes batches of records to PostgreSQL, each batch in one transaction.
///
/// Executions, tool calls and every snapshot kind go by COPY into per-session
/// staging tables, then one `INSERT ... SELECT ... ON CONFLICT` per kind
/// merges them into the real tables:
/// - an execution is keyed by its UUID; a completed record replaces a running
///   row, while a running record never overwrites a completed one and a
///   completed row is never replaced (so a replayed batch changes nothing and
///   a late "started" record cannot undo a completion);
/// - a tool call is keyed by its own UUID and inserted once;
/// - agents, tool usage and performance summaries are absolute values
///   (never increments), so writing a batch again leaves the same rows.
/// A batch that failed can therefore simply be written again, even when the
/// failure hid a commit that did happen.
///
/// Owns one connection. Not thread-safe: one owner (the persistence actor,
/// which runs detached because every call blocks on I/O).
class batch_writer {
 public:
  /// How long one statement of a write may run before the server cancels
  /// it. A healthy write of two batches takes well under a second; a
  /// statement that hangs (a lock held elsewhere, a server stuck on I/O)
  /// then fails as an error value instead of stalling its writer for good.
  static constexpr std::chrono::milliseconds default_statement_timeout{60'000};

  /// Connects to `url` (a libpq URL or key=value string; see
  /// detail::with_connection_defaults for the TCP timeouts added) and
  /// prepares the session's staging tables, with `statement_timeout` set
  /// for the session. The schema must be at `latest_schema_version()`: run
  /// `migrate` first.
  /// Errors: internal (cannot connect, or the schema is not current).
  /// `run_id` (a UUID; empty: none) names the registry run whose records
  /// this writer stores: with it, each completed row and tool call stores
  /// its counting point, and each summary and tool usage row the point it
  /// counts through (see detail::count_point and the loader).
  static core::expected<batch_writer> connect(const std::string& url,
                                              std::chrono::milliseconds statement_timeout = default_statement_timeout,
                                              const std::string& run_id = {});

  batch_writer(batch_writer&&) noexcept;
  batch_writer& operator=(batch_writer&&) noexcept;
  ~batch_writer();

  /// Writes `b` in one transaction: everything or nothing. Text PostgreSQL
  /// cannot store (ill-formed UTF-8, NUL bytes) is stored with each bad
  /// sequence as U+FFFD (detail::sanitized_text) rather than refusing the
  /// batch; the engine refuses such text at its calls, so only a direct
  /// caller of the writer sends any.
  ///
  /// Errors: invalid_argument (an execution or tool call id, or a tool call's
  /// execution id, is not a UUID; nothing was sent), internal (the database
  /// failed or refused the batch; nothing was committed, unless the
  /// connection broke during the commit itself, in which case writing the
  /// batch again is the way to find out, and is safe). After an error check
  /// `broken()`.
  core::expected<write_report> write(const batch& b);

  /// True once the connection is lost (server down, network, a commit whose
  /// outcome is unknown). Every later `write` fails at once: connect a new
  /// writer (with backoff) and write the batch again. False after an error
  /// the database reported on a working connection (bad data, a constraint):
  /// retrying the same batch on this connection would fail the same way.
  [[nodiscard]] bool broken() const;

  /// True when the last `write` failed because of the records themselves:
  /// the database refused their data (SQLSTATE class 22 or 23: a
  /// constraint, a value out of range) or an id was not a UUID. The same
  /// records fail again on any connection; smaller parts of the batch may
  /// not (see persistence_writer, which splits such a batch to isolate the
  /// records at fault).
  [[nodiscard]] bool data_error() const;

  /// Keeps every record of `b` (normally one) in `agentreg_dead_letters`:
  /// its kind, the record as JSON, `error` and the time, in one
  /// transaction. Answers how many were kept. Errors: internal (the
  /// database failed; check broken()).
  core::expected<std::int64_t> write_dead_letters(const batch& b, const std::string& error);

 private:
  struct impl;
  explicit batch_writer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace agentreg::db
