#pragma once
// The ceiling of HTTP in agentreg-bench http: a Beast server that answers
// every request at once with a fixed JSON body and keeps the connection
// alive. Whatever agentregd costs above it is the engine and the server's
// own work (routing, decoding, validation), not HTTP itself.

#include <cstdint>
#include <memory>

namespace agentreg::bench {

class bare_server {
 public:
  /// Listens on 127.0.0.1 on a free port, served by `threads` threads, each
  /// with an io_context of its own. Throws when it cannot listen.
  explicit bare_server(unsigned threads = 1);
  /// Stops accepting, closes every connection, joins the threads.
  ~bare_server();
  bare_server(const bare_server&) = delete;
  bare_server& operator=(const bare_server&) = delete;

  [[nodiscard]] std::uint16_t port() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace agentreg::bench
