#include "daemon.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

namespace agentreg::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

std::string agentregd_path() { return AGENTREGD_PATH; }

daemon_process::daemon_process(std::vector<std::string> args) {
  int fds[2];
  if (::pipe(fds) != 0)
    throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    static std::string path = agentregd_path();
    argv.push_back(path.data());
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  out_fd_ = fds[0];
  // Read its stdout until the line with the port (or it exits: then the
  // test fails with what it printed).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  const std::string marker = "listening on ";
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0)
      continue;
    char buf[4096];
    const auto n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0)
      break;
    output_.append(buf, static_cast<std::size_t>(n));
    const auto at = output_.find(marker);
    if (at == std::string::npos)
      continue;
    const auto eol = output_.find(' ', at + marker.size());
    if (eol == std::string::npos)
      continue;
    const auto url = output_.substr(at + marker.size(), eol - at - marker.size());
    port_ = static_cast<unsigned short>(std::stoi(url.substr(url.rfind(':') + 1)));
    return;
  }
  throw std::runtime_error("agentregd did not start; it printed: " + output_);
}

bool daemon_process::alive() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

int daemon_process::terminate() {
  if (pid_ <= 0)
    return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  pid_t done = 0;
  while ((done = ::waitpid(pid_, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
    // Drain stdout meanwhile (its stop lines), which also paces the loop.
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buf[4096];
      const auto n = ::read(out_fd_, buf, sizeof buf);
      if (n > 0)
        output_.append(buf, static_cast<std::size_t>(n));
    }
  }
  if (done == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(out_fd_, buf, sizeof buf)) > 0)
    output_.append(buf, static_cast<std::size_t>(n));
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

daemon_process::~daemon_process() {
  terminate();
  if (out_fd_ >= 0)
    ::close(out_fd_);
}

boost::json::value reply::json() const { return boost::json::parse(body); }

std::string reply::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string reply::error() const {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("error"))
    return "";
  return std::string{v.as_object().at("error").as_string()};
}

struct client::impl {
  unsigned short port;
  std::string token;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

client::client(unsigned short port, std::string token) : impl_(new impl{port, std::move(token), {}, {}, {}}) {}
client::~client() { delete impl_; }

reply client::send(const std::string& method, const std::string& target, const std::string& body,
                   const std::map<std::string, std::string>& headers) {
  auto& s = *impl_;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!s.stream) {
      s.stream.emplace(s.ioc);
      s.stream->connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), s.port});
      s.buffer.clear();
    }
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!s.token.empty())
      req.set(bhttp::field::authorization, "Bearer " + s.token);
    if (!body.empty())
      req.set(bhttp::field::content_type, "application/json");
    for (const auto& [k, v] : headers)
      req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    s.stream->expires_after(std::chrono::seconds{30});
    bhttp::write(*s.stream, req, ec);
    bhttp::response<bhttp::string_body> res;
    if (!ec)
      bhttp::read(*s.stream, s.buffer, res, ec);
    if (ec) {  // the server closed a kept-alive connection: once more on a new one
      s.stream.reset();
      continue;
    }
    reply r;
    r.status = res.result_int();
    for (const auto& f : res) {
      std::string name{f.name_string()};
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string{f.value()};
    }
    r.body = res.body();
    if (!res.keep_alive())
      s.stream.reset();
    return r;
  }
  throw std::runtime_error("no answer to " + method + " " + target);
}

std::string raw_exchange(unsigned short port, const std::string& bytes, bool finish) {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  stream.connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), port});
  beast::error_code ec;
  stream.expires_after(std::chrono::seconds{5});
  net::write(stream, net::buffer(bytes), ec);
  if (finish)
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::string out;
  char buf[4096];
  for (;;) {
    stream.expires_after(std::chrono::seconds{5});
    const auto n = stream.read_some(net::buffer(buf), ec);
    out.append(buf, n);
    if (ec)
      break;
  }
  return out;
}

}  // namespace agentreg::test
