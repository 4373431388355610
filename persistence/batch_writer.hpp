#pragma once

#include <memory>
#include <string>

#include "core/error.hpp"
#include "persistence/records.hpp"

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
  /// Connects to `url` (a libpq URL or key=value string) and prepares the
  /// session's staging tables. The schema must be at
  /// `latest_schema_version()`: run `migrate` first.
  /// Errors: internal (cannot connect, or the schema is not current).
  static core::expected<batch_writer> connect(const std::string& url);

  batch_writer(batch_writer&&) noexcept;
  batch_writer& operator=(batch_writer&&) noexcept;
  ~batch_writer();

  /// Writes `b` in one transaction: everything or nothing.
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

 private:
  struct impl;
  explicit batch_writer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace agentreg::db
