#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace agentreg::db {

/// One schema change. Versions start at 1 and increase by one; a version,
/// once released, is never edited (a fix is a new migration).
struct migration {
  int version = 0;
  std::string_view name;
  std::string_view sql;  ///< one or more statements, run in one transaction
};

/// What `migrate` found and did.
struct migration_report {
  int from_version = 0;       ///< schema version before (0: empty database)
  int to_version = 0;         ///< schema version after
  std::vector<int> applied;   ///< versions applied by this call, in order
};

/// The schema this build writes and reads, oldest first.
std::span<const migration> schema_migrations();

/// The version the last of `schema_migrations()` brings the database to.
int latest_schema_version();

/// Brings the database at `url` to `latest_schema_version()`.
///
/// Each pending migration runs once, in its own transaction, with its
/// version recorded in `schema_version` in that same transaction; a failing
/// migration leaves the database at the version before it. Concurrent calls
/// (several engines starting at once) are safe: a transaction-scoped advisory
/// lock serialises them and the later ones find nothing to do. Repeating the
/// call is harmless.
/// Thread-safe: each call opens (and closes) its own connection; it blocks.
/// Errors: internal (connection or SQL failure, a database newer than this
/// build, a list that is not numbered 1, 2, 3...).
core::expected<migration_report> migrate(const std::string& url);

/// As above, with a given list (tests use it to check failure handling).
core::expected<migration_report> migrate(const std::string& url, std::span<const migration> list);

}  // namespace agentreg::db
