#include "bench/http/bare_server.hpp"

#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace agentreg::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Every id a benchmark script reads from an answer, so the request mix it
// sends the bare server is the one it sends agentregd.
const std::string answer_body = R"({"lease_id":"bare","execution_id":"bare","agent_id":"bare"})";

class session : public std::enable_shared_from_this<session> {
 public:
  explicit session(tcp::socket socket) : stream_(std::move(socket)) {}

  void start() { read(); }

 private:
  void read() {
    request_ = {};
    http::async_read(stream_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec)
        self->answer();
    });
  }

  // The statuses agentregd answers (docs/api.md): 201 for an acquire or a
  // start, 204 for a release, 200 otherwise; the scripts tell the answers
  // apart by them.
  void answer() {
    response_ = {};
    const auto target = request_.target();
    const bool created =
        request_.method() == http::verb::post && (target == "/v1/leases" || target == "/v1/executions");
    const bool no_content = request_.method() == http::verb::delete_;
    response_.result(created ? http::status::created : no_content ? http::status::no_content : http::status::ok);
    response_.version(request_.version());
    response_.keep_alive(request_.keep_alive());
    if (!no_content) {
      response_.set(http::field::content_type, "application/json");
      response_.body() = answer_body;
    }
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec && self->response_.keep_alive())
        self->read();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

struct bare_server::impl {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;

  void accept(tcp::acceptor& a) {
    a.async_accept([this, &a](beast::error_code ec, tcp::socket socket) {
      if (ec)
        return;  // closed: the server stops
      socket.set_option(tcp::no_delay{true});
      std::make_shared<session>(std::move(socket))->start();
      accept(a);
    });
  }
};

bare_server::bare_server(unsigned threads) : impl_(std::make_unique<impl>()) {
  // One io_context and one acceptor per thread on the same port
  // (SO_REUSEPORT): the kernel spreads connections, no lock is shared.
  for (unsigned t = 0; t < std::max(1u, threads); ++t) {
    auto io = std::make_unique<asio::io_context>(1);
    auto a = std::make_unique<tcp::acceptor>(*io);
    const tcp::endpoint at{asio::ip::make_address("127.0.0.1"), impl_->port};
    a->open(at.protocol());
    a->set_option(asio::socket_base::reuse_address{true});
    a->set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>{true});
    a->bind(at);
    a->listen();
    impl_->port = a->local_endpoint().port();
    impl_->accept(*a);
    impl_->contexts.push_back(std::move(io));
    impl_->acceptors.push_back(std::move(a));
  }
  for (auto& io : impl_->contexts)
    impl_->threads.emplace_back([ctx = io.get()] { ctx->run(); });
}

bare_server::~bare_server() {
  for (auto& io : impl_->contexts)
    io->stop();
  for (auto& t : impl_->threads)
    t.join();
}

std::uint16_t bare_server::port() const {
  return impl_->port;
}

}  // namespace agentreg::bench
