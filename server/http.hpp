#pragma once
// The server's own vocabulary, free of Beast and Boost.JSON: requests and
// responses as the route handlers see them, routes, scopes. The connection
// code (session.cpp) translates between these and Beast's messages.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agentreg::http {

/// The methods the API uses.
enum class method : std::uint8_t { get, post, put, del };
const char* to_string(method m);

/// Who may call a route: anyone, the read-only token or the full token,
/// the full token only.
enum class scope : std::uint8_t { open, read, write };

/// A request as a handler sees it: decoded path parameters and query, the
/// whole body. It stays valid until the handler's responder has been called.
struct request {
  method verb = method::get;
  std::string path;                                        ///< percent-decoded segments joined by '/'
  std::vector<std::string> params;                         ///< the pattern's {parameters}, in order
  std::vector<std::pair<std::string, std::string>> query;  ///< decoded, in order
  std::string body;
  std::string if_none_match;  ///< the If-None-Match header, if any
  std::string last_event_id;  ///< the Last-Event-ID header (an SSE client resuming), if any
};

/// The writing end of a streamed answer (Server-Sent Events), held by the
/// route's code once the header is out. Thread-safe: any thread may send;
/// the bytes are written on the connection's own thread, in order.
class stream_writer {
 public:
  virtual ~stream_writer() = default;
  /// Queues `chunk`. False when the connection is closed; a chunk queued
  /// then is dropped.
  virtual bool send(std::shared_ptr<const std::string> chunk) = 0;
  /// Bytes queued and not yet written (a slow client's backlog).
  [[nodiscard]] virtual std::size_t buffered() const = 0;
  /// Closes the connection once what is queued is written.
  virtual void finish() = 0;
  /// Calls `f` once, on the connection's thread, when the connection
  /// closes (client gone, finish(), write error, server stopping); at once
  /// if it has closed already.
  virtual void on_close(std::function<void()> f) = 0;
};

/// A streamed answer's start: called once the header is written, with the
/// writer of the body.
using stream_start = std::function<void(std::shared_ptr<stream_writer>)>;

/// A response. `body` is JSON unless `content_type` says otherwise; 204 and
/// 304 are sent without a body.
struct response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  /// Set: a streamed answer (`body` unused). The header goes out without a
  /// length and with Connection: close; the body is what `stream` sends.
  stream_start stream;
};

/// Hands a handler's response to its connection. Call exactly once, from
/// any thread: the response is posted to the connection's executor.
using responder = std::function<void(response)>;

/// A route's code: answers through `respond`, at once or later (from an
/// engine thread), never waiting for the engine on the calling I/O thread.
using handler = std::function<void(const request&, responder respond)>;

/// One row of the route table: method, path pattern (literal segments and
/// {parameters}), required scope, handler, and what the OpenAPI document
/// says about it.
struct route {
  method verb = method::get;
  std::string pattern;  ///< e.g. "/v1/agents/{agent_id}/heartbeat"
  scope needs = scope::write;
  handler handle;
  std::string summary;               ///< one line for the OpenAPI document
  std::vector<unsigned> statuses;    ///< the statuses it answers besides the common ones
  bool has_body = false;             ///< takes a JSON request body
  /// Answers within a bound of its own, not the engine's (a long poll ends
  /// at the wait its client asked for): server_options::request_timeout
  /// does not apply to it.
  bool own_deadline = false;
};

/// What the server counts, for /v1/stats (and later /metrics). Thread-safe.
struct server_counters {
  std::atomic<std::int64_t> connections{0};       ///< open now
  std::atomic<std::int64_t> connections_total{0};
  std::atomic<std::int64_t> requests{0};
  std::atomic<std::int64_t> refused_connections{0};  ///< over max_connections
  std::atomic<std::int64_t> engine_timeouts{0};      ///< requests answered 504 engine_timeout
};

/// One answered request, for a per-request observer (metrics, slow-request
/// logging): the route's pattern (or "" when no route matched).
struct completed_request {
  method verb = method::get;
  std::string_view pattern;
  unsigned status = 0;
  std::chrono::nanoseconds duration{0};
};

}  // namespace agentreg::http
