#pragma once
// A Redis connection through hiredis (Debian's libhiredis-dev), blocking,
// with pipelining: several commands written in one go, their replies read
// after. The Redis baseline of agentreg-bench pick. The header hides hiredis.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace agentreg::bench {

/// One reply, flattened to what the benchmark reads.
struct redis_reply {
  enum class kind { nil, integer, string, status, array, error } type = kind::nil;
  std::int64_t integer = 0;
  std::string text;  ///< string, status or error text
  std::vector<redis_reply> elements;
};

/// Not thread-safe: one per client thread.
class redis_client {
 public:
  /// Connects to host:port; throws std::runtime_error when it cannot.
  redis_client(const std::string& host, std::uint16_t port);
  ~redis_client();
  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;

  /// Sends one command (arguments binary-safe) and waits for its reply.
  /// Throws on a transport error; an error reply is returned as kind::error.
  redis_reply command(const std::vector<std::string>& args);
  /// Queues a command without waiting (pipelining); nothing is sent until
  /// the next reply is read.
  void append(const std::vector<std::string>& args);
  /// Reads the reply of the oldest queued command (flushing the queue first).
  redis_reply reply();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace agentreg::bench
