#pragma once
// agentregd as a child process of the benchmark: started on a free loopback
// port (--port 0, read from its start line), memory only, stopped with
// SIGTERM. For `agentreg-bench http` run without --agentregd.

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace agentreg::bench {

class agentregd_process {
 public:
  /// Starts `binary` with `args` after `--port 0` and waits (at most 60 s)
  /// for its start line. Throws std::runtime_error when it does not start.
  agentregd_process(const std::string& binary, const std::vector<std::string>& args);
  /// SIGTERM, then waits for it to exit.
  ~agentregd_process();
  agentregd_process(const agentregd_process&) = delete;
  agentregd_process& operator=(const agentregd_process&) = delete;

  /// "http://127.0.0.1:PORT".
  [[nodiscard]] const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string url_;
  std::thread drain_;
};

}  // namespace agentreg::bench
