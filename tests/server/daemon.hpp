#pragma once
// A real agentregd for the HTTP tests: started as a child process on a free
// loopback port, and an HTTP/1.1 client (Beast, keep-alive) to talk to it.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

namespace agentreg::test {

/// agentregd running as a child process. The constructor waits (event-based,
/// reading its stdout) until it prints the port it listens on.
class daemon_process {
 public:
  explicit daemon_process(std::vector<std::string> args);
  /// SIGTERM, then waits for it (SIGKILL after 60 s).
  ~daemon_process();
  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  [[nodiscard]] unsigned short port() const { return port_; }
  /// Sends SIGTERM and answers the exit status (-1: killed by a signal).
  int terminate();
  /// Still running?
  [[nodiscard]] bool alive() const;
  /// What it printed on stdout so far (read by the constructor and terminate()).
  [[nodiscard]] const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  unsigned short port_ = 0;
  std::string output_;
};

/// One HTTP answer.
struct reply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  ///< names in lower case
  std::string body;
  [[nodiscard]] boost::json::value json() const;
  [[nodiscard]] std::string header(const std::string& lower_name) const;
  /// The "error" code of an error body ("" if none).
  [[nodiscard]] std::string error() const;
};

/// A keep-alive HTTP/1.1 client (reconnects when the server closed).
class client {
 public:
  explicit client(unsigned short port, std::string token = "");
  ~client();
  reply get(const std::string& target) { return send("GET", target, ""); }
  reply del(const std::string& target) { return send("DELETE", target, ""); }
  reply post(const std::string& target, const std::string& body) { return send("POST", target, body); }
  reply put(const std::string& target, const std::string& body) { return send("PUT", target, body); }
  reply send(const std::string& method, const std::string& target, const std::string& body,
             const std::map<std::string, std::string>& headers = {});

 private:
  struct impl;
  impl* impl_;
};

/// Writes `bytes` on a new connection, half-closes it when `finish`, and
/// reads until the server closes or 5 s pass: the raw answer ("" if none).
std::string raw_exchange(unsigned short port, const std::string& bytes, bool finish = true);

/// The path of the agentregd binary.
std::string agentregd_path();

}  // namespace agentreg::test
