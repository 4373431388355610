#include "bench/http/agentregd_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <stdexcept>

extern char** environ;

namespace agentreg::bench {

agentregd_process::agentregd_process(const std::string& binary, const std::vector<std::string>& args,
                                     std::uint16_t port) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  std::vector<std::string> all{binary, "--port", std::to_string(port)};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = ::posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    throw std::runtime_error("cannot start " + binary);
  }
  out_ = out[0];
  // Its start line names the port it bound.
  const std::regex listening{R"(listening on (https?://[^:\s]+:\d+))"};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  std::string seen;
  for (;;) {
    std::smatch m;
    if (std::regex_search(seen, m, listening)) {
      url_ = m[1];
      break;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    pollfd p{out_, POLLIN, 0};
    char buf[4096];
    const auto n = left > 0 && ::poll(&p, 1, static_cast<int>(left)) > 0 ? ::read(out_, buf, sizeof buf) : -1;
    if (n <= 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      ::close(out_);
      throw std::runtime_error("agentregd did not start: " + seen);
    }
    seen.append(buf, static_cast<std::size_t>(n));
  }
  // Its later output is read and dropped, so that it never blocks on a full pipe.
  drain_ = std::thread{[fd = out_] {
    char buf[4096];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
  }};
}

std::uint16_t agentregd_process::port() const {
  return static_cast<std::uint16_t>(std::stoul(url_.substr(url_.rfind(':') + 1)));
}

void agentregd_process::kill() {
  if (reaped_)
    return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  reaped_ = true;
}

int agentregd_process::stop() {
  if (reaped_)
    return 0;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
  return status;
}

agentregd_process::~agentregd_process() {
  stop();
  drain_.join();
  ::close(out_);
}

}  // namespace agentreg::bench
