#pragma once
// A scratch PostgreSQL cluster for the tests and benchmarks, driven through
// scripts/pg: a fresh mkdtemp directory, `scripts/pg start DIR [--throwaway]`,
// and at the end `scripts/pg stop DIR` and the directory removed.

#include <string>

namespace agentreg::support {

/// Output of a shell command, trailing newlines removed; throws
/// std::runtime_error when it cannot run or exits non-zero.
std::string run_command(const std::string& command);

/// How the server writes: `throwaway` (fsync and full_page_writes off: fast,
/// for tests) or `durable` (PostgreSQL's defaults, every commit flushed to
/// disk: what a production server does, for benchmarks).
enum class durability { throwaway, durable };

class scratch_cluster {
 public:
  /// Starts a new cluster (initdb + start; a few seconds). Also starts a
  /// watchdog process that stops the server and removes the directory once
  /// this process is gone, for the deaths that skip the destructor (SIGKILL,
  /// Ctrl-C, abort). Throws when the cluster cannot start.
  explicit scratch_cluster(durability d = durability::throwaway);
  /// Stops the server (kill -9 if a clean stop fails) and removes the directory.
  ~scratch_cluster();
  scratch_cluster(const scratch_cluster&) = delete;
  scratch_cluster& operator=(const scratch_cluster&) = delete;

  /// URL of the `postgres` database.
  [[nodiscard]] const std::string& url() const { return url_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }

  /// kill -9 of the postmaster and its children (scripts/pg kill).
  void kill();
  /// Starts the server again in the same directory (crash recovery runs);
  /// scripts/pg reuses the port when it is free. Answers the URL, which
  /// differs from url() only if the port was taken meanwhile.
  std::string restart();

 private:
  std::string start_command() const;

  durability durability_;
  std::string dir_;
  std::string url_;
};

}  // namespace agentreg::support
