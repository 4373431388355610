#pragma once
// agentregd's settings: one table of options, each a flag, an AGENTREG_*
// environment variable and a config file key, documented by --help.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agentreg/registry.hpp"
#include "server/api.hpp"
#include "server/server.hpp"
#include "server/watch.hpp"

namespace agentreg::daemon {

/// Everything agentregd runs with.
struct settings {
  config engine;
  http::server_options server;
  http::api_options api;
  http::watch_options watch;
  std::string token_file;       ///< read, or created with a new token on first run
  std::string read_token_file;  ///< read only
  std::chrono::milliseconds shutdown_grace{10'000};
  /// Engine calls in flight at most (http::engine_gate; 0: no cap). Room
  /// for a hundred full heartbeat batches, or every connection's request
  /// ten times over; each call in flight holds its request (a few hundred
  /// bytes to the body limit) until the engine answers.
  std::size_t max_engine_calls = 100'000;
  /// A simulated fleet in the server (apps/agentregd/demo.hpp).
  bool demo = false;
  std::size_t demo_agents = 300;
  /// Agents /metrics exports one by one (at most; 0: none).
  std::size_t metrics_per_agent = 0;
  /// With demo: stop after this long; 0: run until a signal.
  std::chrono::seconds demo_seconds{0};
};

/// The outcome of reading the command line, the environment and the config file.
struct parsed {
  settings values;
  bool help = false;
  std::vector<std::string> errors;  ///< one sentence each; non-empty: do not start
};

/// Reads, lowest precedence first: defaults, the config file (--config or
/// AGENTREG_CONFIG), AGENTREG_* variables, flags.
parsed parse(int argc, char** argv);

/// The --help text: every option with its variable, default and meaning.
std::string help_text();

}  // namespace agentreg::daemon
