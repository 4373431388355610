#pragma once
// A blocking HTTP/1.1 client on one keep-alive connection (Boost.Beast), as
// a client library with connection reuse would use it: the etcd JSON
// gateway's baseline and, once agentregd exists, the HTTP variants. The
// header hides Asio and Beast; the connection is reopened once when the
// server closed it between requests.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace agentreg::bench {

/// What a request answered.
struct http_response {
  unsigned status = 0;
  std::string body;
};

/// One connection. Not thread-safe: one per client thread.
class http_client {
 public:
  /// Connects to host:port (numeric or a name). Throws std::runtime_error
  /// when it cannot.
  http_client(std::string host, std::uint16_t port);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// POST `body` as application/json to `target`; throws on a transport
  /// error (after one reconnect), answers any HTTP status.
  http_response post(const std::string& target, const std::string& body);
  /// GET `target`; the same.
  http_response get(const std::string& target);
  /// PUT `body` as application/json; the same.
  http_response put(const std::string& target, const std::string& body);
  /// DELETE `target` (no body); the same.
  http_response del(const std::string& target);
  /// HTTP/1.1 pipelining: queues DELETE `target` without waiting for its
  /// answer. It goes out in the same write as the next request (or
  /// finish_pipelined()), whose call reads the queued answers first, in
  /// order, and keeps them for take_pipelined(). No reconnect while one is
  /// outstanding: a transport error then throws.
  void del_pipelined(const std::string& target);
  /// Sends what is queued and reads every outstanding answer.
  void finish_pipelined();
  /// The answers to pipelined requests read so far, oldest first; clears them.
  std::vector<http_response> take_pipelined();
  /// Adds `Authorization: Bearer TOKEN` to every later request (empty: none).
  void set_bearer_token(std::string token);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Splits "http://host:port[/...]" or "host:port" into host and port;
/// throws std::invalid_argument when there is no port.
void split_host_port(const std::string& url, std::string& host, std::uint16_t& port);

}  // namespace agentreg::bench
