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
  /// Written as given, each once, after Server and Content-Type: never
  /// Content-Type, Content-Length or Connection, which the server writes.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Set: a streamed answer (`body` unused). The header goes out without a
  /// length and with Connection: close; the body is what `stream` sends.
  stream_start stream;
};

/// Hands a handler's response to its connection. Call exactly once, from
/// any thread: on the connection's own I/O thread the response is written
/// before the call returns (a streamed answer's start runs then too, so do
/// not hold a lock it takes); from another thread it is posted there.
using responder = std::function<void(response)>;

/// A route's code: answers through `respond`, at once or later (from an
/// engine thread), never waiting for the engine on the calling I/O thread.
using handler = std::function<void(const request&, responder respond)>;

/// How a route counts against the cap on engine calls in flight.
enum class engine_use : std::uint8_t {
  none,      ///< answers without asking the engine (liveness, documents, a long poll's wait)
  one,       ///< one engine call a request: the server takes its slot before the handler runs
  per_item,  ///< one a item: the handler takes the slots once it has read the items (a batch)
};

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
  /// How the route counts against the cap on engine calls in flight
  /// (engine_gate).
  engine_use engine = engine_use::one;
};

/// What the server counts, for /v1/stats (and later /metrics). Thread-safe.
struct server_counters {
  std::atomic<std::int64_t> connections{0};       ///< open now
  std::atomic<std::int64_t> connections_total{0};
  std::atomic<std::int64_t> requests{0};
  std::atomic<std::int64_t> refused_connections{0};  ///< over max_connections
  std::atomic<std::int64_t> engine_timeouts{0};      ///< requests answered 504 engine_timeout
  std::atomic<std::int64_t> engine_calls{0};         ///< engine calls in flight now (engine_gate)
  std::atomic<std::int64_t> overloaded{0};           ///< requests answered 503 overloaded (engine_gate)
};

/// Engine-call slots taken from an engine_gate: given back by free() (the
/// engine answered) or, at the latest, by the destructor. Thread-safe.
class engine_slots {
 public:
  engine_slots(std::atomic<std::int64_t>& in_flight, std::int64_t calls) : in_flight_{in_flight}, calls_{calls} {}
  engine_slots(const engine_slots&) = delete;
  engine_slots& operator=(const engine_slots&) = delete;
  ~engine_slots() { free(); }
  /// Gives the slots back; later calls do nothing.
  void free() {
    // relaxed: the flag only makes free() idempotent, the count orders nothing else.
    if (!freed_.exchange(true, std::memory_order_relaxed))
      in_flight_.fetch_sub(calls_, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t>& in_flight_;
  const std::int64_t calls_;
  std::atomic<bool> freed_{false};
};

/// The cap on engine calls in flight (agentregd's --max-engine-calls): a
/// request that would pass it is answered 503 overloaded before it reaches
/// the engine, so it changes nothing, and a slow engine (a writer waiting
/// on a frozen database, say) cannot gather an unbounded queue of requests
/// and their memory. A call holds its slots until the engine answered it,
/// which may be after its client was answered 504 engine_timeout.
/// Thread-safe: any thread takes slots.
class engine_gate {
 public:
  /// Counts in `counters` (engine_calls, overloaded), which must outlive
  /// the gate and every slot it gave. cap 0: no cap (still counted).
  engine_gate(server_counters& counters, std::size_t cap) : counters_{counters}, cap_{cap} {}

  /// `calls` slots, or null when they would pass the cap: a refusal,
  /// counted in `overloaded` (answer it with overloaded_response).
  [[nodiscard]] std::shared_ptr<engine_slots> take(std::size_t calls) const {
    const auto n = static_cast<std::int64_t>(calls);
    // relaxed: the count orders nothing else; the CAS alone keeps it within the cap.
    auto now = counters_.engine_calls.load(std::memory_order_relaxed);
    do {
      if (cap_ != 0 && now + n > static_cast<std::int64_t>(cap_)) {
        counters_.overloaded.fetch_add(1, std::memory_order_relaxed);  // relaxed: a counter for display
        return nullptr;
      }
    } while (!counters_.engine_calls.compare_exchange_weak(now, now + n, std::memory_order_relaxed));
    return std::make_shared<engine_slots>(counters_.engine_calls, n);
  }

  [[nodiscard]] std::size_t cap() const { return cap_; }

 private:
  server_counters& counters_;
  std::size_t cap_;
};

/// `respond`, freeing `slots` when it is called (the engine has answered:
/// copies of the responder the engine keeps longer hold no slot).
inline responder freeing(std::shared_ptr<engine_slots> slots, responder respond) {
  return [slots = std::move(slots), respond = std::move(respond)](response r) {
    slots->free();
    respond(std::move(r));
  };
}

/// One answered request, for a per-request observer (metrics, slow-request
/// logging): the route's pattern (or "" when no route matched).
struct completed_request {
  method verb = method::get;
  std::string_view pattern;
  unsigned status = 0;
  std::chrono::nanoseconds duration{0};
};

}  // namespace agentreg::http
