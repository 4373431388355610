#include "bench/clients/http_client.hpp"

#include <charconv>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace agentreg::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct http_client::impl {
  std::string host;
  std::string port;
  asio::io_context io;
  tcp::resolver::results_type endpoints;
  tcp::socket socket{io};
  boost::beast::flat_buffer buffer;
  bool connected = false;
  std::string authorization;
  // Pipelining: requests serialized but not yet written, how many written
  // requests wait for their answer, and the answers read for them.
  std::string queued;
  unsigned queued_count = 0;
  unsigned outstanding = 0;
  std::vector<http_response> pipelined_answers;

  void connect() {
    boost::system::error_code ignored;
    socket.close(ignored);
    socket = tcp::socket{io};
    asio::connect(socket, endpoints);
    // Small requests and answers: without TCP_NODELAY, Nagle plus delayed
    // ACKs add up to 40 ms to a request that follows an unanswered write.
    socket.set_option(tcp::no_delay{true});
    buffer.clear();
    connected = true;
  }

  http::request<http::string_body> request(http::verb verb, const std::string& target, const std::string* body) const {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host);
    req.keep_alive(true);
    if (!authorization.empty())
      req.set(http::field::authorization, authorization);
    if (body != nullptr) {
      req.set(http::field::content_type, "application/json");
      req.body() = *body;
      req.prepare_payload();
    }
    return req;
  }

  http_response read_one() {
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    if (!res.keep_alive())
      connected = false;
    return {res.result_int(), std::move(res.body())};
  }

  void queue(const http::request<http::string_body>& req) {
    std::ostringstream text;
    text << req;
    queued += text.str();
    ++queued_count;
  }

  // Writes the queued requests, then reads every outstanding answer.
  void flush_pipelined() {
    try {
      if (!connected)
        throw std::runtime_error{"the connection closed with pipelined requests outstanding"};
      asio::write(socket, asio::buffer(queued));
      outstanding += queued_count;
      queued.clear();
      queued_count = 0;
      for (; outstanding > 0; --outstanding)
        pipelined_answers.push_back(read_one());
    } catch (const boost::system::system_error& e) {
      connected = false;
      throw std::runtime_error{"http " + host + ":" + port + " (pipelined): " + e.what()};
    }
  }

  http_response exchange(http::verb verb, const std::string& target, const std::string* body) {
    auto req = request(verb, target, body);
    if (queued_count > 0) {
      // The request goes out behind the queued ones, in one write; their
      // answers come first.
      queue(req);
      --queued_count;  // this one's answer is read below, not kept
      flush_pipelined();
      try {
        return read_one();
      } catch (const boost::system::system_error& e) {
        connected = false;
        throw std::runtime_error{"http " + host + ":" + port + target + " (pipelined): " + e.what()};
      }
    }
    // A keep-alive connection the server closed shows up as an error on
    // the write or the read: reconnect once and send again (every request
    // of the benchmarks is safe to repeat or is checked after the round).
    for (int attempt = 0;; ++attempt) {
      try {
        if (!connected)
          connect();
        http::write(socket, req);
        return read_one();
      } catch (const boost::system::system_error& e) {
        connected = false;
        if (attempt == 1)
          throw std::runtime_error{"http " + host + ":" + port + target + ": " + e.what()};
      }
    }
  }
};

http_client::http_client(std::string host, std::uint16_t port) : impl_(std::make_unique<impl>()) {
  impl_->host = std::move(host);
  impl_->port = std::to_string(port);
  try {
    tcp::resolver resolver{impl_->io};
    impl_->endpoints = resolver.resolve(impl_->host, impl_->port);
    impl_->connect();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error{"http connect " + impl_->host + ":" + impl_->port + ": " + e.what()};
  }
}

http_client::~http_client() = default;

http_response http_client::post(const std::string& target, const std::string& body) {
  return impl_->exchange(http::verb::post, target, &body);
}

http_response http_client::get(const std::string& target) {
  return impl_->exchange(http::verb::get, target, nullptr);
}

http_response http_client::put(const std::string& target, const std::string& body) {
  return impl_->exchange(http::verb::put, target, &body);
}

http_response http_client::del(const std::string& target) {
  return impl_->exchange(http::verb::delete_, target, nullptr);
}

void http_client::del_pipelined(const std::string& target) {
  impl_->queue(impl_->request(http::verb::delete_, target, nullptr));
}

void http_client::finish_pipelined() {
  if (impl_->queued_count > 0)
    impl_->flush_pipelined();
}

std::vector<http_response> http_client::take_pipelined() {
  return std::exchange(impl_->pipelined_answers, {});
}

void http_client::set_bearer_token(std::string token) {
  impl_->authorization = token.empty() ? std::string{} : "Bearer " + token;
}

void split_host_port(const std::string& url, std::string& host, std::uint16_t& port) {
  std::string rest = url;
  if (const auto scheme = rest.find("://"); scheme != std::string::npos)
    rest = rest.substr(scheme + 3);
  if (const auto slash = rest.find('/'); slash != std::string::npos)
    rest = rest.substr(0, slash);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon + 1 == rest.size())
    throw std::invalid_argument{"no port in '" + url + "'"};
  unsigned value = 0;
  const char* first = rest.data() + colon + 1;
  const char* last = rest.data() + rest.size();
  const auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || end != last || value == 0 || value > 65535)
    throw std::invalid_argument{"bad port in '" + url + "'"};
  host = rest.substr(0, colon);
  port = static_cast<std::uint16_t>(value);
}

}  // namespace agentreg::bench
