#pragma once
// agentregd as a child process of the benchmark: started on a loopback port
// (by default a free one: --port 0, read from its start line), stopped with
// SIGTERM, or killed with SIGKILL. For `agentreg-bench http` run without
// --agentregd (memory only) and for the soak (on a database, killed once).

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace agentreg::bench {

class agentregd_process {
 public:
  /// Starts `binary` with `args` after `--port PORT` (0: any free port) and
  /// waits (at most 60 s; recovery from a database comes before the start
  /// line) for its start line. Throws std::runtime_error when it does not
  /// start.
  agentregd_process(const std::string& binary, const std::vector<std::string>& args, std::uint16_t port = 0);
  /// SIGTERM, then waits for it to exit (unless kill() ended it already).
  ~agentregd_process();
  agentregd_process(const agentregd_process&) = delete;
  agentregd_process& operator=(const agentregd_process&) = delete;

  /// "http://127.0.0.1:PORT".
  [[nodiscard]] const std::string& url() const { return url_; }
  /// The port it listens on.
  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] pid_t pid() const { return pid_; }

  /// SIGKILL, then waits for it to be gone: nothing it held in memory survives.
  void kill();
  /// SIGTERM, then waits; answers its exit status (as waitpid reports it).
  /// The destructor then does nothing more.
  int stop();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int out_ = -1;
  std::string url_;
  std::thread drain_;
};

}  // namespace agentreg::bench
