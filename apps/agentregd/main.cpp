// agentregd: the registry over HTTP/JSON (docs/api.md).

#include <sys/stat.h>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <string_view>

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agentreg/registry.hpp"
#include "core/fault_injection.hpp"
#include "apps/agentregd/demo.hpp"
#include "apps/agentregd/options.hpp"
#include "server/api.hpp"
#include "server/dashboard.hpp"
#include "server/metrics.hpp"
#include "server/router.hpp"
#include "server/server.hpp"
#include "server/watch.hpp"

using namespace agentreg;

namespace {

std::string trim(std::string s) {
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  return s;
}

// 32 bytes from the operating system's random source, as hex.
std::string new_token() {
  std::random_device rd;  // /dev/urandom on Linux
  static constexpr char hex[] = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 8; ++i) {
    const auto r = rd();
    for (int b = 0; b < 8; ++b)
      t.push_back(hex[(r >> (4 * b)) & 15]);
  }
  return t;
}

// The token in `path`; when the file does not exist, a new token is written
// there, readable by its owner only, and printed. An existing file that
// others may read is refused: its token may already be known to them, so
// quietly tightening the mode would not make it secret again.
std::string token_from(const std::string& path, bool create) {
  std::ifstream in{path};
  if (in) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
      throw std::runtime_error("cannot stat the token file " + path);
    if ((st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      throw std::runtime_error("the token file " + path + " has mode " + mode +
                               ": others may read it; make it 0600 (chmod 600 " + path + ") or use a new token");
    }
    std::string t((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    t = trim(t);
    if (t.empty())
      throw std::runtime_error("the token file " + path + " is empty");
    return t;
  }
  if (!create)
    throw std::runtime_error("cannot read the token file " + path);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot create the token file " + path);
  const auto t = new_token();
  const std::string line = t + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok)
    throw std::runtime_error("cannot write the token file " + path);
  std::cout << "agentregd: generated a token in " << path << " (mode 0600): " << t << std::endl;
  return t;
}

// Each connection takes a descriptor, and the soft limit is often 1024: it
// goes up to the hard limit, which only the administrator sets. What still
// does not fit lowers max_connections (server::start says so).
void raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
    return;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0)
    std::cerr << "agentregd: warning: cannot raise the open-file limit to " << limit.rlim_max << std::endl;
}

// Every route the server answers, in one table, so that 404/405 and
// /openapi.json know them all: the API, /metrics, /v1/watch, the dashboard.
void add_routes(http::router& table, registry& reg, const http::api_options& api, http::watch_hub& hub,
                const http::metrics_sources& metrics) {
  http::add_api_routes(table, reg, api);
  http::add_metrics_route(table, reg, metrics);
  http::add_watch_routes(table, reg, hub);
  http::add_dashboard_routes(table);
}

// Test-only faults (core/fault_injection.hpp), from AGENTREG_TEST_LATE_STATS
// = "COUNT:MS": the next COUNT persistence stats answers come MS late, which
// holds the engine call of a /v1/stats or /metrics that long
// (tests/http/test_outage.py). Deliberately not an option in --help.
std::shared_ptr<core::fault_injection> test_faults() {
  const char* v = std::getenv("AGENTREG_TEST_LATE_STATS");
  if (!v)
    return nullptr;
  const std::string_view text{v};
  const auto colon = text.find(':');
  int count = 0;
  long ms = 0;
  const auto parse = [](std::string_view part, auto& out) {
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc{} && end == part.data() + part.size() && out > 0;
  };
  if (colon == std::string_view::npos || !parse(text.substr(0, colon), count) || !parse(text.substr(colon + 1), ms))
    throw std::runtime_error("AGENTREG_TEST_LATE_STATS must be COUNT:MS (two positive integers), got \"" +
                             std::string{text} + "\"");
  auto faults = std::make_shared<core::fault_injection>();
  faults->late_stats = count;
  faults->late_stats_delay = std::chrono::milliseconds{ms};
  return faults;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = daemon::parse(argc, argv);
  if (parsed.help) {
    std::cout << daemon::help_text();
    return 0;
  }
  if (!parsed.errors.empty()) {
    for (const auto& e : parsed.errors)
      std::cerr << "agentregd: error: " << e << "\n";
    std::cerr << "agentregd: see --help\n";
    return 2;
  }
  auto& s = parsed.values;
  // SIGINT and SIGTERM are taken by sigwait in main() only: blocked before
  // any thread starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  raise_open_file_limit();

  http::server_counters counters;
  const http::engine_gate engine_calls{counters, s.max_engine_calls};
  http::http_metrics requests;
  std::optional<registry> reg;
  std::optional<http::watch_hub> hub;
  std::optional<daemon::demo_fleet> demo;
  http::router table;  // outlives the server, which reads it
  std::optional<http::server> srv;
  try {
    if (!s.token_file.empty())
      s.server.token = token_from(s.token_file, true);
    if (!s.read_token_file.empty())
      s.server.read_token = token_from(s.read_token_file, false);
    // Without the full token /v1 is open to everyone: a read-only token
    // would suggest otherwise.
    if (!s.server.read_token.empty() && s.server.token.empty())
      throw std::runtime_error("a read-only token (--read-token, --read-token-file) needs a token "
                               "(--token, --token-file or AGENTREG_TOKEN): without one /v1 is open to everyone");
    s.server.counters = &counters;
    s.api.counters = &counters;
    s.server.engine_calls = &engine_calls;
    s.api.engine_calls = &engine_calls;
    s.server.observer = [&requests](const http::completed_request& r) { requests.observe(r); };
    if (s.demo) {
      // A fleet that visibly moves: agents silent for 20 s go offline (and
      // come back with their next heartbeat), swept every 2 s.
      s.engine.stale_timeout = std::chrono::seconds{20};
      s.engine.heartbeat_interval = std::chrono::seconds{2};
      s.engine.start_grace = std::chrono::seconds{5};
    }
    s.engine.faults = test_faults();
    reg.emplace(s.engine);
    hub.emplace(*reg, s.watch);
    add_routes(table, *reg, s.api, *hub, {&counters, &requests, &hub->counters(), AGENTREG_VERSION, s.metrics_per_agent});
    srv.emplace(table, s.server);
    srv->start();
    std::cout << "agentregd: listening on " << (srv->tls() ? "https://" : "http://") << s.server.address << ":"
              << srv->port() << " (" << s.server.io_threads << " I/O threads, "
              << (s.engine.database_url ? "PostgreSQL" : "memory only") << ", "
              << (s.server.token.empty() ? "no auth" : "bearer token") << ")" << std::endl;
    if (s.demo) {
      demo.emplace(*reg, s.demo_agents);
      const std::string base = std::string{srv->tls() ? "https://" : "http://"} + s.server.address + ":" +
                               std::to_string(srv->port());
      std::cout << "agentregd: demo fleet of " << s.demo_agents << " agents running" << std::endl;
      std::cout << "agentregd: dashboard: " << base << "/" << std::endl;
      if (!s.server.token.empty())
        std::cout << "agentregd: token: " << s.server.token << std::endl;
    }
    int sig = 0;
    if (s.demo && s.demo_seconds.count() > 0) {
      const timespec limit{static_cast<time_t>(s.demo_seconds.count()), 0};
      sig = sigtimedwait(&stop_signals, nullptr, &limit);
    } else {
      sigwait(&stop_signals, &sig);
    }
    // Refusing first, then the line: a client that reads it may rely on
    // every later request being answered 503 shutting_down.
    srv->begin_stop();
    std::cout << "agentregd: "
              << (sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "--demo-seconds passed")
              << ": stopping (no new connections, requests in flight finish)" << std::endl;
    demo.reset();
    // Watchers first: long polls are answered and streams closed, so the
    // server's stop does not wait for them.
    hub->stop();
    srv->stop(s.shutdown_grace);
    // The registry's destructor runs every pending completion and flushes
    // everything to the database; the server (its io_contexts) goes after.
    // The hub before it: its subscription is the registry's.
    hub.reset();
    reg.reset();
    std::cout << "agentregd: stopped after " << counters.requests.load() << " requests" << std::endl;
    srv.reset();
  } catch (const std::exception& e) {
    std::cerr << "agentregd: error: " << e.what() << std::endl;
    demo.reset();
    if (hub)
      hub->stop();
    if (srv)
      srv->stop(std::chrono::milliseconds{0});
    hub.reset();
    reg.reset();
    return 1;
  }
  return 0;
}
