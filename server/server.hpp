#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/http.hpp"
#include "server/router.hpp"

namespace agentreg::http {

/// Everything the HTTP front end is configured with; every field has a default.
struct server_options {
  std::string address = "127.0.0.1";  ///< never all interfaces unless asked
  std::uint16_t port = 8080;          ///< 0: a free port (see server::port())
  std::size_t io_threads = 2;         ///< one io_context and acceptor each (SO_REUSEPORT)
  std::string token;                  ///< empty: no auth on /v1
  std::string read_token;             ///< empty: none; else accepted on read-scope routes
  std::string tls_cert_file;          ///< with tls_key_file: HTTPS only
  std::string tls_key_file;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_connections = 10'000;       ///< then 503 and close
  double max_requests_per_second = 10'000;    ///< per connection (burst as large); 0: no limit
  std::chrono::milliseconds header_timeout{10'000};  ///< first byte to end of headers (slowloris)
  std::chrono::milliseconds body_timeout{30'000};    ///< end of headers to end of body, and each write
  std::chrono::milliseconds idle_timeout{60'000};    ///< between requests on a keep-alive connection
  std::chrono::milliseconds slow_request{1000};      ///< logged, at most one line a second
  /// Whole request read to answer ready: past it, 504 engine_timeout and the
  /// connection closes (the engine may still apply the request). Longer
  /// than any engine call takes unless a part of it is stuck.
  std::chrono::milliseconds request_timeout{30'000};
  /// Counters to update (the ones /v1/stats shows); null: the server's own.
  server_counters* counters = nullptr;
  /// The cap on engine calls in flight, for routes of engine_use::one (it
  /// counts in its own counters); null: no cap.
  const engine_gate* engine_calls = nullptr;
  /// Called on the I/O thread after each answered request (metrics hook).
  std::function<void(const completed_request&)> observer;
};

struct server_state;

/// The HTTP/1.1 front end: keep-alive connections on `io_threads` threads,
/// each with its own io_context. Requests are dispatched through one route
/// table; handlers answer through a responder, and the answer is written on
/// the connection's own thread. No I/O thread waits for the engine.
///
/// Order of shutdown: stop(), then destroy whatever can still complete a
/// request (the registry: its destructor runs every pending completion),
/// then the server. Not thread-safe: one owner starts and stops it.
class server {
 public:
  /// Checks the options and loads the TLS files; throws std::runtime_error.
  server(const router& routes, server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts the I/O threads; throws std::runtime_error when it cannot bind.
  void start();
  /// The bound port (after start()).
  [[nodiscard]] std::uint16_t port() const;
  /// From its return on, a request arriving on an open connection is
  /// answered 503 shutting_down and a new connection is not served; what
  /// is in flight (streams included) goes on. Returns at once; any thread.
  void begin_stop();
  /// begin_stop(), then stops accepting, closes idle connections and
  /// streams, lets requests in flight finish (up to `grace`), closes the
  /// rest and joins the I/O threads.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds{10});
  [[nodiscard]] const server_counters& counters() const;
  [[nodiscard]] bool tls() const;

 private:
  std::unique_ptr<server_state> impl_;
};

}  // namespace agentreg::http
