#pragma once
// The PostgreSQL server a suite measures against, and fresh databases on it
// (created at the current schema, dropped afterwards). Used by the suites
// that write to PostgreSQL (ingest, pick, scale); only bench/ includes
// libpqxx outside persistence/.

#include <cstdint>
#include <string>

#include <pqxx/pqxx>

namespace agentreg::bench {

/// `url` with its database replaced by `name`. Handles URLs
/// (postgresql://user@host:port/db?params) and key=value strings (where
/// libpq lets a later dbname override an earlier one).
std::string with_database(const std::string& url, const std::string& name);

/// The URL without a password, for printing.
std::string printable(const std::string& url);

/// One query on a connection of its own (outside every timed window).
/// Throws what libpqxx throws.
pqxx::result query(const std::string& url, const std::string& sql);

/// The first column of the first row as an integer (0 for NULL).
std::int64_t scalar(const std::string& url, const std::string& sql);

/// The server the variants run on, reached through its admin URL.
class pg_server {
 public:
  /// Reads the server's version and durability settings. Throws when the
  /// server cannot be reached.
  explicit pg_server(std::string admin_url);

  [[nodiscard]] const std::string& admin_url() const { return admin_url_; }
  /// "PostgreSQL 15.x, fsync on, synchronous_commit on, shared_buffers 128MB".
  [[nodiscard]] const std::string& description() const { return description_; }
  /// server_version alone ("15.14 (Debian 15.14-0+deb12u1)").
  [[nodiscard]] const std::string& version() const { return version_; }

  /// Creates a database with a name of this process's own; answers the name.
  std::string create_database();
  /// Drops it, ending the sessions still on it; a failure is printed, not thrown.
  void drop_database(const std::string& name) noexcept;
  /// Writes every dirty page now, so that the next variant starts clean
  /// instead of paying for the checkpoint its predecessor made due. Needs
  /// superuser (or pg_checkpoint): on a server given by --url it may be
  /// refused, which is said once and then ignored.
  void checkpoint();

 private:
  std::string admin_url_;
  std::string description_;
  std::string version_;
  int created_ = 0;
  bool checkpoint_allowed_ = true;
};

/// A fresh database at the current schema (db::migrate), dropped when this
/// goes away; the constructor ends with a CHECKPOINT.
class scratch_database {
 public:
  /// Throws when the database cannot be created or migrated.
  explicit scratch_database(pg_server& s);
  ~scratch_database();
  scratch_database(const scratch_database&) = delete;
  scratch_database& operator=(const scratch_database&) = delete;

  [[nodiscard]] const std::string& url() const { return url_; }

 private:
  pg_server& server_;
  std::string name_;
  std::string url_;
};

}  // namespace agentreg::bench
