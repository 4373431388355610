// The connections: Beast over Asio, one io_context per I/O thread, plain TCP
// or TLS. This file is the only one that includes Beast and Asio.

#include "server/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <dirent.h>
#include <sys/resource.h>

#include "server/errors.hpp"
#include "server/json.hpp"

namespace agentreg::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

using sha256_digest = std::array<unsigned char, 32>;

sha256_digest sha256(std::string_view s) {
  sha256_digest d{};
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

// Tokens are compared as SHA-256 digests with CRYPTO_memcmp: the time taken
// depends neither on where the first differing byte is nor on the length.
bool same_token(const sha256_digest& expected, std::string_view given) {
  const auto d = sha256(given);
  return CRYPTO_memcmp(d.data(), expected.data(), d.size()) == 0;
}

std::optional<method> method_of(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get: return method::get;
    case bhttp::verb::post: return method::post;
    case bhttp::verb::put: return method::put;
    case bhttp::verb::delete_: return method::del;
    default: return std::nullopt;
  }
}

bool is_json(std::string_view content_type) {
  const auto semi = content_type.find(';');
  auto type = content_type.substr(0, semi);
  while (!type.empty() && type.back() == ' ')
    type.remove_suffix(1);
  return beast::iequals(type, "application/json");
}

}  // namespace

// ---- the server's shared state ------------------------------------------------

class session_base;

/// The state of one I/O thread: its io_context, its acceptor and its open
/// sessions (touched on that thread only).
struct io_thread {
  // In this order, so that destroying the io_context (which destroys the
  // sessions still queued in it) finds `sessions` alive.
  std::unordered_set<session_base*> sessions;
  std::thread thread;
  net::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;
  /// Waits before accepting again after accept failed (out of descriptors).
  std::optional<net::steady_timer> accept_pause;
  bool accept_failing = false;  ///< accept failed last time (logged once per episode)
};

struct server_state {
  server_state(const router& r, server_options o) : routes(r), options(std::move(o)) {
    counters = options.counters ? options.counters : &own_counters;
    if (!options.token.empty())
      token = sha256(options.token);
    if (!options.read_token.empty())
      read_token = sha256(options.read_token);
    if (options.io_threads == 0)
      throw std::runtime_error("io_threads must be at least 1");
    if (options.tls_cert_file.empty() != options.tls_key_file.empty())
      throw std::runtime_error("TLS needs both --tls-cert and --tls-key");
    if (!options.tls_cert_file.empty()) {
      ssl.emplace(net::ssl::context::tls_server);
      ssl->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
      boost::system::error_code ec;
      ssl->use_certificate_chain_file(options.tls_cert_file, ec);
      if (ec)
        throw std::runtime_error("cannot load the TLS certificate " + options.tls_cert_file + ": " + ec.message());
      ssl->use_private_key_file(options.tls_key_file, net::ssl::context::pem, ec);
      if (ec)
        throw std::runtime_error("cannot load the TLS key " + options.tls_key_file + ": " + ec.message());
    }
    for (std::size_t i = 0; i < options.io_threads; ++i)
      threads.push_back(std::make_unique<io_thread>());
  }

  /// The pause after a failed accept.
  static constexpr std::chrono::milliseconds accept_retry{100};

  void accept(io_thread& t);
  /// Lowers max_connections to what the open-file limit leaves room for.
  void fit_connections_to_file_limit();
  void session_closed(io_thread& t, session_base* s);
  void log_slow(const completed_request& done, std::string_view target);

  const router& routes;
  server_options options;
  server_counters own_counters;
  server_counters* counters = nullptr;
  std::optional<sha256_digest> token, read_token;
  std::optional<net::ssl::context> ssl;
  std::uint16_t bound_port = 0;
  std::atomic<bool> stopping{false};
  bool started = false, stopped = false;
  std::mutex closed_mutex;
  std::condition_variable all_closed;
  std::atomic<std::int64_t> last_slow_log{0};
  // Last, so that they are destroyed first: sessions still queued in an
  // io_context refer to the members above.
  std::vector<std::unique_ptr<io_thread>> threads;
};

// ---- sessions -----------------------------------------------------------------

class session_base {
 public:
  virtual ~session_base() = default;
  /// On the session's thread, when the server stops: an idle connection
  /// closes now, a busy one after its answer.
  virtual void on_stop() = 0;
};

template <class Stream>
class session final : public session_base, public std::enable_shared_from_this<session<Stream>> {
 public:
  session(server_state& srv, io_thread& t, Stream stream)
      : srv_(srv), thread_(t), stream_(std::move(stream)), tokens_(srv.options.max_requests_per_second) {
    srv_.counters->connections.fetch_add(1, std::memory_order_relaxed);  // relaxed: a gauge for display
    srv_.counters->connections_total.fetch_add(1, std::memory_order_relaxed);
    thread_.sessions.insert(this);
  }
  ~session() override { srv_.session_closed(thread_, this); }

  void start() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(srv_.options.header_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec)
                                  return self->close();
                                self->wait_for_request();
                              });
    } else {
      wait_for_request();
    }
  }

  void on_stop() override {
    if (idle_ || streaming_)  // a stream never ends by itself
      close();
  }

 private:
  // Between requests: any byte within the idle timeout, then the whole
  // header within the header timeout (a slowloris client that trickles
  // bytes is closed when the header timeout passes). What the buffer holds
  // already (a pipelined request) is parsed in place, without a read; the
  // answers queued for earlier requests go out before any read that has to
  // wait for the client (see write).
  void wait_for_request() {
    if (srv_.stopping.load(std::memory_order_acquire))
      return flush_then([](session& s) { s.close(); });
    parser_.emplace();
    head_request_ = false;
    parser_->header_limit(static_cast<std::uint32_t>(srv_.options.max_header_bytes));
    parser_->body_limit(srv_.options.max_body_bytes);
    if (buffer_.size() > 0)  // a pipelined request is already here
      return read_header();
    if (!wire_.empty())
      return flush_then([](session& s) { s.wait_for_request(); });
    idle_ = true;
    beast::get_lowest_layer(stream_).expires_after(srv_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(read_slack),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->idle_ = false;
                              if (ec)
                                return self->close();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  // Feeds the parser what the buffer holds, up to the end of the header
  // (`header_only`) or of the message: what Beast's read does before it
  // reads, without its completion being posted. False when the parser
  // needs more bytes than are here.
  bool parse_buffered(bool header_only, beast::error_code& ec) {
    const auto done = [&] { return header_only ? parser_->is_header_done() : parser_->is_done(); };
    while (!done() && buffer_.size() > 0) {
      const auto used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        return false;
      }
      if (ec)
        return false;
    }
    return done();
  }

  void read_header() {
    beast::error_code parse_ec;
    if (parse_buffered(true, parse_ec)) {
      received_ = clock_type::now();
      return route_request();
    }
    if (parse_ec)
      return refuse_unreadable(parse_ec);
    if (!wire_.empty())
      return flush_then([](session& s) { s.read_header(); });
    beast::get_lowest_layer(stream_).expires_after(srv_.options.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec)
                                 return self->refuse_unreadable(ec);
                               self->received_ = clock_type::now();
                               self->route_request();
                             });
  }

  void read_body() {
    // A client that asks first (curl does, for bodies over 1 KiB) is told to
    // go on; route, auth, Content-Type and limits were checked on the header.
    if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      parser_->get().erase(bhttp::field::expect);
      wire_ += "HTTP/1.1 100 Continue\r\n\r\n";
      return flush_then([](session& s) { s.read_body(); });
    }
    beast::error_code parse_ec;
    if (parse_buffered(false, parse_ec))
      return dispatch();
    if (parse_ec)
      return refuse_unreadable(parse_ec);
    if (!wire_.empty())
      return flush_then([](session& s) { s.read_body(); });
    beast::get_lowest_layer(stream_).expires_after(srv_.options.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec)
        return self->refuse_unreadable(ec);
      self->dispatch();
    });
  }

  // A request that cannot be read whole: answered when an answer can help
  // (limits, malformed HTTP), then the connection closes; a timeout or a
  // vanished client just closes.
  void refuse_unreadable(beast::error_code ec) {
    close_after_ = true;
    if (ec == bhttp::error::header_limit)
      return write(error_response("headers_too_large", "the request line and headers exceed " +
                                                          std::to_string(srv_.options.max_header_bytes) + " bytes"),
                   "", {});
    // The buffer's cap (see buffer_cap): before the end of the headers it is
    // an endless header section, after it an endless chunk line or trailer.
    if (ec == bhttp::error::buffer_overflow && !parser_->is_header_done())
      return write(error_response("headers_too_large", "the request line and headers exceed " +
                                                          std::to_string(srv_.options.max_header_bytes) + " bytes"),
                   "", {});
    if (ec == bhttp::error::body_limit || ec == bhttp::error::buffer_overflow)
      return write(error_response("body_too_large",
                                  "the body exceeds " + std::to_string(srv_.options.max_body_bytes) + " bytes"),
                   "", {});
    // Beast's parse errors (bad request line, header, chunk...) get a 400;
    // a client that closed mid-request, or a timeout, gets nothing.
    const bool parse_error = ec.category() == beast::error_code{bhttp::error::bad_target}.category() &&
                             ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
    if (parse_error)
      return write(error_response("invalid_request", "malformed HTTP request: " + ec.message()), "", {});
    close();
  }

  static constexpr std::size_t read_slack = 4096;

  // The session's reference held by a responder, which engine threads copy
  // and drop wherever they finish. The session must be destroyed on its own
  // I/O thread (its destructor erases it from that thread's `sessions`,
  // which accept fills concurrently), so the last copy hands the release
  // to the session's executor: dropped at once when it is already on that
  // thread, posted there otherwise. After the io_context has stopped, a
  // posted release is destroyed with it.
  struct engine_ref {
    std::shared_ptr<session> self;
    explicit engine_ref(std::shared_ptr<session> s) : self(std::move(s)) {}
    engine_ref(const engine_ref&) = delete;
    engine_ref& operator=(const engine_ref&) = delete;
    ~engine_ref() {
      auto executor = self->stream_.get_executor();
      net::dispatch(executor, [last = std::move(self)] {});  // on its thread already: dropped here
    }
  };

  bool take_token() {
    const double rate = srv_.options.max_requests_per_second;
    if (rate <= 0)
      return true;
    const auto now = clock_type::now();
    tokens_ = std::min(rate, tokens_ + rate * std::chrono::duration<double>(now - refilled_).count());
    refilled_ = now;
    if (tokens_ < 1)
      return false;
    tokens_ -= 1;
    return true;
  }

  // Once the header is read, before any of the body: rate, route, method,
  // token and Content-Type are checked here, so a client without a token
  // cannot make the server read (or ask for, with 100-continue) a body.
  // A refusal with the body still unread closes the connection afterwards.
  void route_request() {
    srv_.counters->requests.fetch_add(1, std::memory_order_relaxed);
    auto& msg = parser_->get();
    head_request_ = msg.method() == bhttp::verb::head;
    close_after_ = !msg.keep_alive() || !parser_->is_done();
    const auto target = msg.target();
    const auto q = target.find('?');
    const std::string_view raw_path{target.data(), q == beast::string_view::npos ? target.size() : q};
    target_.assign(target.data(), target.size());
    // A request whose header arrives once the server is stopping (its
    // connection was not idle, so stop left it open) is not started.
    if (srv_.stopping.load(std::memory_order_acquire)) {
      close_after_ = true;
      return write(error_response("shutting_down", "the server is stopping: retry on another instance or later"),
                   "", {});
    }
    if (!take_token())
      return write(error_response("rate_limited", "more than " +
                                                      std::to_string(static_cast<long long>(
                                                          srv_.options.max_requests_per_second)) +
                                                      " requests per second on this connection"),
                   "", {});
    // With a token, a client without a valid one learns nothing of /v1:
    // 401 comes before 404 and 405 (authorize below still tells 403).
    if (srv_.token && (raw_path == "/v1" || raw_path.starts_with("/v1/")) && presented(msg) == token_kind::none)
      return write(unauthorized(msg), "", {});
    const auto verb = method_of(msg.method());
    auto found = srv_.routes.find(verb.value_or(method::get), raw_path);
    if (!verb && found.found) {  // a method we never serve, on a path that exists
      found.allowed.push_back(found.found->verb);
      found.found = nullptr;
    }
    if (found.bad_encoding)
      return write(error_response("invalid_request", "malformed percent-escape in the path"), "", {});
    if (!found.found && found.allowed.empty())
      return write(error_response("not_found", "no route " + std::string{raw_path}), "", {});
    if (!found.found) {
      std::string allow;
      for (auto m : found.allowed)
        allow += (allow.empty() ? "" : ", ") + std::string{to_string(m)};
      auto r = error_response("method_not_allowed", std::string{raw_path} + " allows " + allow);
      r.headers.emplace_back("Allow", allow);
      return write(std::move(r), "", {});
    }
    const route& rt = *found.found;
    if (auto denied = authorize(rt, msg))
      return write(std::move(*denied), rt.pattern, rt.verb);
    // A body is announced by a non-zero Content-Length or by chunking.
    const bool announced = msg.chunked() || parser_->content_length().value_or(0) > 0;
    if (announced) {
      if (!rt.has_body)
        return write(error_response("invalid_request", rt.pattern + " takes no body"), rt.pattern, rt.verb);
      const auto ct = msg[bhttp::field::content_type];
      if (!is_json({ct.data(), ct.size()}))
        return write(error_response("unsupported_media_type", "the body must be application/json"), rt.pattern,
                     rt.verb);
    }
    req_.verb = rt.verb;
    req_.path.assign(raw_path.data(), raw_path.size());
    req_.params = std::move(found.params);
    req_.query.clear();
    if (q != beast::string_view::npos) {
      auto parsed = parse_query({target.data() + q + 1, target.size() - q - 1});
      if (!parsed)
        return write(error_response("invalid_request", "malformed percent-escape in the query"), rt.pattern,
                     rt.verb);
      req_.query = std::move(*parsed);
    }
    route_ = &rt;
    close_after_ = !msg.keep_alive();
    if (parser_->is_done())
      return dispatch();
    read_body();
  }

  // The whole request is read and was accepted by route_request.
  void dispatch() {
    auto& msg = parser_->get();
    const route& rt = *route_;
    req_.body = std::move(msg.body());
    const auto inm = msg[bhttp::field::if_none_match];
    req_.if_none_match.assign(inm.data(), inm.size());
    const auto lei = msg["Last-Event-ID"];
    req_.last_event_id.assign(lei.data(), lei.size());
    // The responder may run on an engine thread: the answer is then posted
    // back to this connection's executor, where everything else of it runs
    // (on this thread it is written at once, see below). The
    // engine may also keep copies of the responder (and so the session)
    // after the answer was written: the reference they share is released on
    // the executor too (see engine_ref).
    std::shared_ptr<engine_slots> slots;
    if (rt.engine == engine_use::one && srv_.options.engine_calls) {
      slots = srv_.options.engine_calls->take(1);
      if (!slots)
        return write(overloaded_response(*srv_.options.engine_calls, 1), rt.pattern, rt.verb);
    }
    const auto seq = ++dispatched_;
    awaiting_ = true;
    // A handler that answers before it returns (most routes: the index and
    // the directory are read in place) answers on this thread, at once; one
    // that answers from an engine thread has its answer posted here.
    responder respond = [ref = std::make_shared<const engine_ref>(this->shared_from_this()), seq](response r) {
      net::dispatch(ref->self->stream_.get_executor(),
                    [self = ref->self, seq, r = std::move(r)]() mutable { self->answer(seq, std::move(r)); });
    };
    if (slots)
      respond = freeing(std::move(slots), std::move(respond));
    in_handler_ = true;
    try {
      rt.handle(req_, std::move(respond));
    } catch (const decode_error& e) {
      answer(seq, error_response(e.code, e.what()));
    } catch (const std::exception& e) {
      std::clog << "agentregd: error: " << to_string(rt.verb) << " " << rt.pattern << " threw: " << e.what() << "\n";
      answer(seq, error_response("internal", "the server failed to handle the request"));
    }
    in_handler_ = false;
    if (next_due_) {  // answered and queued (see write): the next request, once the handler is gone
      next_due_ = false;
      return next_request();
    }
    // The answer comes later (from the engine, or a long poll's end): the
    // ones queued before it go out now rather than wait for it.
    if (awaiting_ && seq == dispatched_ && !wire_.empty())
      flush_early();
    // Only a request still unanswered needs its deadline: the timer costs
    // a timerfd update and a cancelled wait, per request.
    if (awaiting_ && seq == dispatched_ && !rt.own_deadline) {
      deadline_.expires_after(srv_.options.request_timeout);
      deadline_.async_wait([self = this->shared_from_this(), seq](beast::error_code ec) {
        if (!ec)
          self->deadline_passed(seq);
      });
    }
  }

  // The handler's answer to request `seq`, on the session's thread; dropped
  // when the deadline answered that request already.
  void answer(std::uint64_t seq, response r) {
    if (seq != dispatched_ || !awaiting_)
      return;
    awaiting_ = false;
    deadline_.cancel();
    write(std::move(r), route_->pattern, route_->verb);
  }

  // The engine did not answer request `seq` in time (a part of it is stuck:
  // a writer waiting on a frozen database, say). The connection closes
  // after the 504: the request's answer may still come, and a client that
  // retried on the same connection must not take it for its new request's.
  void deadline_passed(std::uint64_t seq) {
    if (seq != dispatched_ || !awaiting_)
      return;
    awaiting_ = false;
    close_after_ = true;
    srv_.counters->engine_timeouts.fetch_add(1, std::memory_order_relaxed);  // relaxed: a counter for display
    write(error_response("engine_timeout", "the engine did not answer within " +
                                               std::to_string(srv_.options.request_timeout.count()) +
                                               " ms (--request-timeout-ms); the request may still take effect"),
          route_->pattern, route_->verb);
  }

  enum class token_kind : std::uint8_t { none, read, full };

  // The token the request presents (none: missing, malformed or wrong).
  token_kind presented(const bhttp::request<bhttp::string_body>& msg) const {
    const auto given = bearer_of(msg);
    if (!given)
      return token_kind::none;
    if (same_token(*srv_.token, *given))
      return token_kind::full;
    if (srv_.read_token && same_token(*srv_.read_token, *given))
      return token_kind::read;
    return token_kind::none;
  }

  static std::optional<std::string_view> bearer_of(const bhttp::request<bhttp::string_body>& msg) {
    const auto h = msg[bhttp::field::authorization];
    const std::string_view header{h.data(), h.size()};
    constexpr std::string_view bearer = "Bearer ";
    if (header.size() <= bearer.size() || !beast::iequals(header.substr(0, bearer.size()), bearer))
      return std::nullopt;
    return header.substr(bearer.size());
  }

  static response unauthorized(const bhttp::request<bhttp::string_body>& msg) {
    if (!bearer_of(msg))
      return error_response("unauthorized", "this route needs Authorization: Bearer <token>");
    return error_response("unauthorized", "the token is not valid");
  }

  std::optional<response> authorize(const route& rt, const bhttp::request<bhttp::string_body>& msg) {
    if (rt.needs == scope::open || !srv_.token)
      return std::nullopt;
    switch (presented(msg)) {
      case token_kind::full: return std::nullopt;
      case token_kind::read:
        if (rt.needs == scope::read)
          return std::nullopt;
        return error_response("forbidden", "the read-only token cannot change state");
      case token_kind::none: break;
    }
    return unauthorized(msg);
  }

  // Answers go out as text of our own (status line, headers, body), so
  // that the answers to pipelined requests can share one write: while the
  // buffer holds the next request already, an answer is queued in `wire_`
  // and the next request is served; the queue is written when no request
  // is left to parse, before any read that waits for the client (see
  // wait_for_request), or when it holds `max_queued_answers` answers or
  // `max_queued_bytes`. Redis answers a pipeline the same way.
  static constexpr unsigned max_queued_answers = 16;
  static constexpr std::size_t max_queued_bytes = 64 * 1024;

  void write(response r, std::string_view pattern, std::optional<method> verb) {
    if (flushing_early_) {  // written when that write is done, behind it (one write at a time)
      held_.emplace(held_answer{std::move(r), pattern, verb});
      return;
    }
    if (r.stream)
      return start_stream(std::move(r), pattern, verb);
    const bool keep = !close_after_ && !srv_.stopping.load(std::memory_order_acquire);
    append_answer(r, keep);
    completed_request done;
    done.verb = verb.value_or(method::get);
    done.pattern = pattern;
    done.status = r.status;
    done.duration = clock_type::now() - received_;
    if (srv_.options.observer)
      srv_.options.observer(done);
    srv_.log_slow(done, target_);
    ++queued_answers_;
    if (keep && buffer_.size() > 0 && queued_answers_ < max_queued_answers && wire_.size() < max_queued_bytes) {
      // A handler answering in place is still on the stack, holding req_:
      // dispatch() goes on once it returned.
      if (in_handler_)
        next_due_ = true;
      else
        next_request();
      return;
    }
    flush_then([keep](session& s) {
      // The request stays as it is on a connection that closes: after a
      // 504 the engine may still be reading it (see request).
      if (!keep)
        return s.close();
      s.next_request();
    });
  }

  void next_request() {
    req_ = request{};
    wait_for_request();
  }

  // Writes the queued answers, then `next` (which is not called when the
  // write fails: the connection closes).
  template <class F>
  void flush_then(F next) {
    if (wire_.empty())
      return next(*this);
    beast::get_lowest_layer(stream_).expires_after(srv_.options.body_timeout);
    net::async_write(stream_, net::buffer(wire_), [self = this->shared_from_this(), next](beast::error_code ec, std::size_t) {
      self->wire_.clear();
      self->queued_answers_ = 0;
      if (ec)
        return self->close();
      next(*self);
    });
  }

  // Writes the queued answers while a request waits for its own answer,
  // which write() holds meanwhile (held_) and gives back once it is done.
  void flush_early() {
    flushing_early_ = true;
    flush_then([](session& s) {
      s.flushing_early_ = false;
      beast::get_lowest_layer(s.stream_).expires_never();  // the request's deadline runs meanwhile
      if (auto held = std::exchange(s.held_, std::nullopt))
        s.write(std::move(held->r), held->pattern, held->verb);
    });
  }

  // The answer as HTTP/1.1 text, at the end of `wire_`. Content-Length
  // always, but on 1xx, 204 and 304, which carry no body; Connection: close
  // when the connection closes after it.
  void append_answer(const response& r, bool keep) {
    const bool bodiless = r.status < 200 || r.status == 204 || r.status == 304;
    const auto reason = bhttp::obsolete_reason(bhttp::int_to_status(r.status));
    wire_ += "HTTP/1.1 ";
    wire_ += std::to_string(r.status);
    wire_ += ' ';
    wire_.append(reason.data(), reason.size());
    wire_ += "\r\nServer: agentregd\r\n";
    if (!r.content_type.empty() && !bodiless) {
      wire_ += "Content-Type: ";
      wire_ += r.content_type;
      wire_ += "\r\n";
    }
    for (const auto& [k, v] : r.headers) {
      wire_ += k;
      wire_ += ": ";
      wire_ += v;
      wire_ += "\r\n";
    }
    if (!keep)
      wire_ += "Connection: close\r\n";
    if (!bodiless) {
      wire_ += "Content-Length: ";
      wire_ += std::to_string(r.body.size());
      wire_ += "\r\n\r\n";
      if (!head_request_)  // the answer to HEAD is its header (RFC 9110 9.3.2)
        wire_ += r.body;
    } else {
      wire_ += "\r\n";
    }
  }

  // ---- a streamed answer (Server-Sent Events) ----
  // The header goes out at once, without a length and with Connection:
  // close, so the body is everything sent until the stream ends and the
  // connection is not reused. No timeout applies while streaming (a watcher
  // may wait long between events); the route's code bounds what a slow
  // client may leave queued (stream_writer::buffered) and finishes it.
  // Meanwhile a read is kept pending, so a client that leaves is noticed.

  // What the writer and the session share; the writer holds the session
  // weakly, so a route that keeps its writer keeps no closed connection.
  struct stream_state {
    std::atomic<std::size_t> buffered{0};
    std::atomic<bool> closed{false};
    std::mutex mutex;             // on_closed
    std::function<void()> on_closed;
  };

  class writer final : public stream_writer {
   public:
    writer(std::weak_ptr<session> s, std::shared_ptr<stream_state> st, net::any_io_executor ex)
        : session_(std::move(s)), state_(std::move(st)), executor_(std::move(ex)) {}
    bool send(std::shared_ptr<const std::string> chunk) override {
      if (state_->closed.load(std::memory_order_acquire))  // pairs with the release in close_stream
        return false;
      state_->buffered.fetch_add(chunk->size(), std::memory_order_relaxed);  // relaxed: a byte count
      net::post(executor_, [s = session_, chunk = std::move(chunk)]() mutable {
        if (auto self = s.lock())
          self->queue_chunk(std::move(chunk));
      });
      return true;
    }
    [[nodiscard]] std::size_t buffered() const override { return state_->buffered.load(std::memory_order_relaxed); }
    void finish() override {
      net::post(executor_, [s = session_] {
        if (auto self = s.lock())
          self->finish_stream();
      });
    }
    void on_close(std::function<void()> f) override {
      std::unique_lock lock{state_->mutex};
      if (state_->closed.load(std::memory_order_acquire)) {
        lock.unlock();
        net::post(executor_, std::move(f));
        return;
      }
      state_->on_closed = std::move(f);
    }

   private:
    std::weak_ptr<session> session_;
    std::shared_ptr<stream_state> state_;
    net::any_io_executor executor_;
  };

  void start_stream(response r, std::string_view pattern, std::optional<method> verb) {
    const auto reason = bhttp::obsolete_reason(bhttp::int_to_status(r.status));
    std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(reason.data(), reason.size()) +
                       "\r\nServer: agentregd\r\nContent-Type: " + r.content_type +
                       "\r\nCache-Control: no-cache\r\nConnection: close\r\n";
    for (const auto& [k, v] : r.headers)
      head += k + ": " + v + "\r\n";
    head += "\r\n";
    // Answers to requests pipelined before this one go first.
    head.insert(0, std::exchange(wire_, {}));
    queued_answers_ = 0;
    streaming_ = true;
    stream_state_ = std::make_shared<stream_state>();
    beast::get_lowest_layer(stream_).expires_never();
    completed_request done;
    done.verb = verb.value_or(method::get);
    done.pattern = pattern;
    done.status = r.status;
    done.duration = clock_type::now() - received_;
    if (srv_.options.observer)
      srv_.options.observer(done);
    auto start = std::move(r.stream);
    queue_chunk(std::make_shared<const std::string>(std::move(head)), false);
    watch_for_close();
    start(std::make_shared<writer>(this->weak_from_this(), stream_state_, stream_.get_executor()));
  }

  void queue_chunk(std::shared_ptr<const std::string> chunk, bool counted = true) {
    if (!counted)
      stream_state_->buffered.fetch_add(chunk->size(), std::memory_order_relaxed);
    if (stream_closed_)
      return;
    out_.push_back(std::move(chunk));
    if (!writing_)
      write_next();
  }

  void write_next() {
    if (out_.empty()) {
      writing_ = false;
      if (finishing_)
        close_stream();
      return;
    }
    writing_ = true;
    net::async_write(stream_, net::buffer(*out_.front()),
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->stream_state_->buffered.fetch_sub(self->out_.front()->size(), std::memory_order_relaxed);
                       self->out_.pop_front();
                       if (self->stream_closed_) {  // closed while this write was out: drop the rest
                         self->writing_ = false;
                         self->out_.clear();
                         return;
                       }
                       if (ec)
                         return self->close_stream();
                       self->write_next();
                     });
  }

  void finish_stream() {
    finishing_ = true;
    if (!writing_)
      close_stream();
  }

  // A read kept pending: whatever the client sends is ignored; its end
  // (or an error) closes the stream.
  void watch_for_close() {
    stream_.async_read_some(net::buffer(sink_), [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec)
        return self->close_stream();
      self->watch_for_close();
    });
  }

  void close_stream() {
    if (stream_closed_)
      return;
    stream_closed_ = true;
    if (!writing_)  // else the write's handler drops them: it still reads the first
      out_.clear();
    std::function<void()> f;
    {
      std::lock_guard lock{stream_state_->mutex};
      stream_state_->closed.store(true, std::memory_order_release);  // pairs with the acquire in send
      f = std::move(stream_state_->on_closed);
    }
    close();
    if (f)
      f();
  }

  void close() {
    if (streaming_ && !stream_closed_)
      return close_stream();
    deadline_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
  }

  server_state& srv_;
  io_thread& thread_;
  Stream stream_;
  // The deadline of the request being answered (server_options::request_timeout).
  net::steady_timer deadline_{stream_.get_executor()};
  std::uint64_t dispatched_ = 0;  ///< requests handed to a handler on this connection
  bool awaiting_ = false;         ///< the last of them is not answered yet
  // Capped: Beast's parser bounds the header section and the chunk data,
  // but not a chunk-extension line or the trailers, which would otherwise
  // grow the buffer for the whole body timeout. Room for a full header
  // section and a full body, plus one read's slack.
  beast::flat_buffer buffer_{srv_.options.max_header_bytes + srv_.options.max_body_bytes + read_slack};
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string wire_;               ///< answers not yet written (see write)
  unsigned queued_answers_ = 0;    ///< how many answers wire_ holds
  bool in_handler_ = false;        ///< dispatch() is calling a route's handler
  bool next_due_ = false;          ///< an answer given in the handler was queued
  bool flushing_early_ = false;    ///< flush_early's write is out
  bool head_request_ = false;      ///< the request being answered is a HEAD
  struct held_answer {
    response r;
    std::string_view pattern;
    std::optional<method> verb;
  };
  std::optional<held_answer> held_;  ///< an answer given while flush_early wrote
  request req_;
  const route* route_ = nullptr;
  std::string target_;
  clock_type::time_point received_ = clock_type::now();
  double tokens_;
  clock_type::time_point refilled_ = clock_type::now();
  bool idle_ = false;
  bool close_after_ = false;
  // Streaming (on the session's thread).
  bool streaming_ = false, stream_closed_ = false, writing_ = false, finishing_ = false;
  std::shared_ptr<stream_state> stream_state_;
  std::deque<std::shared_ptr<const std::string>> out_;
  std::array<char, 256> sink_{};
};

// ---- accepting --------------------------------------------------------------------

void server_state::accept(io_thread& t) {
  t.acceptor->async_accept(t.ioc, [this, &t](beast::error_code ec, tcp::socket socket) {
    if (ec) {  // the acceptor was closed (stop) or the process is out of descriptors
      if (stopping.load(std::memory_order_acquire))
        return;
      // Accepting again at once would fail again at once (the connection
      // stays queued in the kernel): pause, and say so once, not per try.
      if (!t.accept_failing)
        std::clog << "agentregd: error: cannot accept connections: " << ec.message() << " (retrying every "
                  << accept_retry.count() << " ms)" << std::endl;
      t.accept_failing = true;
      t.accept_pause->expires_after(accept_retry);
      t.accept_pause->async_wait([this, &t](beast::error_code wait_ec) {
        if (!wait_ec && !stopping.load(std::memory_order_acquire))
          accept(t);
      });
      return;
    }
    if (t.accept_failing) {
      std::clog << "agentregd: accepting connections again" << std::endl;
      t.accept_failing = false;
    }
    socket.set_option(tcp::no_delay(true), ec);
    const auto open = counters->connections.load(std::memory_order_relaxed);
    if (open >= static_cast<std::int64_t>(options.max_connections)) {
      counters->refused_connections.fetch_add(1, std::memory_order_relaxed);
      // Plain HTTP gets a short 503; a TLS client is just closed (no
      // handshake is spent on a connection that is refused).
      if (!ssl) {
        auto r = error_response("too_many_connections", "the server holds its maximum of " +
                                                            std::to_string(options.max_connections) + " connections");
        auto text = std::make_shared<std::string>("HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                                                  "application/json; charset=utf-8\r\nRetry-After: 1\r\n"
                                                  "Connection: close\r\nContent-Length: " +
                                                  std::to_string(r.body.size()) + "\r\n\r\n" + r.body);
        auto s = std::make_shared<tcp::socket>(std::move(socket));
        net::async_write(*s, net::buffer(*text), [s, text](beast::error_code, std::size_t) {
          beast::error_code ignored;
          s->shutdown(tcp::socket::shutdown_both, ignored);
          s->close(ignored);
        });
      }
      return accept(t);
    }
    if (ssl)
      std::make_shared<session<beast::ssl_stream<beast::tcp_stream>>>(
          *this, t, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *ssl))
          ->start();
    else
      std::make_shared<session<beast::tcp_stream>>(*this, t, beast::tcp_stream(std::move(socket)))->start();
    accept(t);
  });
}

void server_state::fit_connections_to_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return;
  // Descriptors open now (the engine's, the acceptors') plus a reserve for
  // what the engine opens later (database connections, files) and for one
  // refused connection per I/O thread, which is accepted to be told 503.
  std::size_t open_now = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d))
      ++open_now;
    ::closedir(d);
  }
  const std::size_t reserve = open_now + 64 + options.io_threads;
  const std::size_t fits = limit.rlim_cur > reserve ? limit.rlim_cur - reserve : 1;
  if (options.max_connections <= fits)
    return;
  std::clog << "agentregd: max_connections lowered from " << options.max_connections << " to " << fits
            << ": the open-file limit (ulimit -n) is " << limit.rlim_cur << std::endl;
  options.max_connections = fits;
}

void server_state::session_closed(io_thread& t, session_base* s) {
  t.sessions.erase(s);
  std::lock_guard lock{closed_mutex};
  counters->connections.fetch_sub(1, std::memory_order_relaxed);
  all_closed.notify_all();
}

void server_state::log_slow(const completed_request& done, std::string_view target) {
  if (done.duration < options.slow_request)
    return;
  // One line a second at most: a slow database under load must not turn
  // the log into the bottleneck.
  const auto now = clock_type::now().time_since_epoch().count();
  auto last = last_slow_log.load(std::memory_order_relaxed);
  if (now - last < 1'000'000'000 || !last_slow_log.compare_exchange_strong(last, now, std::memory_order_relaxed))
    return;
  std::clog << "agentregd: slow request: " << to_string(done.verb) << " " << target << " -> " << done.status
            << " in " << std::chrono::duration_cast<std::chrono::milliseconds>(done.duration).count() << " ms\n";
}

// ---- server -----------------------------------------------------------------------

server::server(const router& routes, server_options options)
    : impl_(std::make_unique<server_state>(routes, std::move(options))) {}

server::~server() { stop(std::chrono::milliseconds{0}); }

void server::start() {
  auto& s = *impl_;
  if (s.started)
    throw std::runtime_error("the server was started before");
  beast::error_code ec;
  const auto address = net::ip::make_address(s.options.address, ec);
  if (ec)
    throw std::runtime_error("bad listen address " + s.options.address + ": " + ec.message());
  std::uint16_t port = s.options.port;
  for (auto& t : s.threads) {
    // Every thread its own acceptor on the same port (SO_REUSEPORT): the
    // kernel spreads connections, and no connection changes threads.
    tcp::acceptor a{t->ioc};
    const tcp::endpoint ep{address, port};
    a.open(ep.protocol(), ec);
    if (!ec)
      a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec)
      a.set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
    if (!ec)
      a.bind(ep, ec);
    if (!ec)
      a.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("cannot listen on " + s.options.address + ":" + std::to_string(port) + ": " +
                               ec.message());
    port = a.local_endpoint().port();  // the others join the port the first got
    t->acceptor.emplace(std::move(a));
    t->accept_pause.emplace(t->ioc);
  }
  s.bound_port = port;
  s.fit_connections_to_file_limit();
  s.started = true;
  for (auto& t : s.threads) {
    s.accept(*t);
    t->thread = std::thread{[&ioc = t->ioc] { ioc.run(); }};
  }
}

std::uint16_t server::port() const { return impl_->bound_port; }

const server_counters& server::counters() const { return *impl_->counters; }

bool server::tls() const { return impl_->ssl.has_value(); }

void server::begin_stop() {
  // release: pairs with the sessions' and acceptors' acquire loads.
  impl_->stopping.store(true, std::memory_order_release);
}

void server::stop(std::chrono::milliseconds grace) {
  auto& s = *impl_;
  if (!s.started || s.stopped)
    return;
  s.stopped = true;
  begin_stop();
  for (auto& t : s.threads)
    net::post(t->ioc, [&t = *t] {
      beast::error_code ignored;
      t.acceptor->close(ignored);
      t.accept_pause->cancel();
      auto sessions = t.sessions;  // on_stop may close (and so erase) sessions
      for (auto* session : sessions)
        session->on_stop();
    });
  {
    std::unique_lock lock{s.closed_mutex};
    s.all_closed.wait_for(lock, grace, [&] { return s.counters->connections.load(std::memory_order_relaxed) == 0; });
  }
  for (auto& t : s.threads)
    t->ioc.stop();
  for (auto& t : s.threads)
    if (t->thread.joinable())
      t->thread.join();
}

}  // namespace agentreg::http
