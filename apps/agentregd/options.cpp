#include "apps/agentregd/options.hpp"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace agentreg::daemon {

namespace {

using setter = std::function<std::optional<std::string>(settings&, const std::string&)>;

struct option {
  std::string name;  ///< flag without "--", config key; the variable is AGENTREG_ + upper snake
  std::string value_name;
  std::string help;
  setter set;
  bool is_switch = false;  ///< given alone (--demo), without a value
};

std::string env_name(const std::string& name) {
  std::string out = "AGENTREG_";
  for (char c : name)
    out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

std::optional<long long> to_integer(const std::string& v) {
  try {
    std::size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (used == v.size())
      return n;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::optional<double> to_number(const std::string& v) {
  try {
    std::size_t used = 0;
    const double d = std::stod(v, &used);
    if (used == v.size())
      return d;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

template <class T>
setter integer(T settings::*group, auto member, long long min, long long max) {
  return [=](settings& s, const std::string& v) -> std::optional<std::string> {
    auto n = to_integer(v);
    if (!n || *n < min || *n > max)
      return "must be an integer within " + std::to_string(min) + ".." + std::to_string(max);
    using field = std::remove_reference_t<decltype((s.*group).*member)>;
    (s.*group).*member = static_cast<field>(*n);
    return std::nullopt;
  };
}

template <class T, class Duration>
setter duration(T settings::*group, Duration T::*member, long long min, long long max) {
  return [=](settings& s, const std::string& v) -> std::optional<std::string> {
    auto n = to_integer(v);
    if (!n || *n < min || *n > max)
      return "must be an integer within " + std::to_string(min) + ".." + std::to_string(max);
    (s.*group).*member = Duration{*n};
    return std::nullopt;
  };
}

setter seconds(std::chrono::nanoseconds config::*member, long long min) {
  return [=](settings& s, const std::string& v) -> std::optional<std::string> {
    auto n = to_integer(v);
    if (!n || *n < min || *n > 365LL * 24 * 3600)
      return "must be a whole number of seconds, at least " + std::to_string(min);
    s.engine.*member = std::chrono::seconds{*n};
    return std::nullopt;
  };
}

setter text(auto apply) {
  return [=](settings& s, const std::string& v) -> std::optional<std::string> {
    apply(s, v);
    return std::nullopt;
  };
}

const std::vector<option>& options() {
  static const std::vector<option> table{
      {"config", "FILE", "read settings from FILE: one `name = value` per line, names as the flags, # comments",
       text([](settings&, const std::string&) {})},
      {"listen", "ADDRESS", "address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)",
       text([](settings& s, const std::string& v) { s.server.address = v; })},
      {"port", "N", "TCP port (default 8080; 0: any free port, printed at start)",
       integer(&settings::server, &http::server_options::port, 0, 65535)},
      {"io-threads", "N", "I/O threads, each with its own io_context and acceptor (default 2)",
       integer(&settings::server, &http::server_options::io_threads, 1, 256)},
      {"database-url", "URL", "PostgreSQL URL; without it the registry runs in memory only",
       text([](settings& s, const std::string& v) {
         if (v.empty())
           s.engine.database_url.reset();
         else
           s.engine.database_url = v;
       })},
      {"token-file", "FILE",
       "bearer token for /v1, read from FILE; when FILE does not exist, a new random token is written to it "
       "(mode 0600) and printed",
       text([](settings& s, const std::string& v) { s.token_file = v; })},
      {"token", "TOKEN", "the bearer token itself (prefer AGENTREG_TOKEN or --token-file: flags show in ps)",
       text([](settings& s, const std::string& v) { s.server.token = v; })},
      {"read-token-file", "FILE", "a read-only token (GET routes only), read from FILE",
       text([](settings& s, const std::string& v) { s.read_token_file = v; })},
      {"read-token", "TOKEN", "the read-only token itself",
       text([](settings& s, const std::string& v) { s.server.read_token = v; })},
      {"tls-cert", "FILE", "PEM certificate chain: serve HTTPS (needs --tls-key)",
       text([](settings& s, const std::string& v) { s.server.tls_cert_file = v; })},
      {"tls-key", "FILE", "PEM private key of --tls-cert",
       text([](settings& s, const std::string& v) { s.server.tls_key_file = v; })},
      {"max-header-bytes", "N", "request line and headers at most (default 16384; then 431)",
       integer(&settings::server, &http::server_options::max_header_bytes, 1024, 1 << 20)},
      {"max-body-bytes", "N", "request body at most (default 65536; then 413)",
       integer(&settings::server, &http::server_options::max_body_bytes, 1024, 64 << 20)},
      {"max-json-depth", "N", "JSON nesting at most (default 32; then 400)",
       integer(&settings::api, &http::api_options::max_json_depth, 2, 1000)},
      {"max-connections", "N", "open connections at most (default 10000; then 503 and close)",
       integer(&settings::server, &http::server_options::max_connections, 1, 10'000'000)},
      {"max-requests-per-second", "N", "requests per second per connection (default 10000; 0: no limit; then 429)",
       [](settings& s, const std::string& v) -> std::optional<std::string> {
         auto d = to_number(v);
         if (!d || *d < 0 || *d > 1e9)
           return "must be a number >= 0";
         s.server.max_requests_per_second = *d;
         return std::nullopt;
       }},
      {"max-engine-calls", "N",
       "engine calls in flight at most (default 100000; 0: no cap; then 503 overloaded with Retry-After); a "
       "heartbeat batch counts one a item, so a batch larger than N is always refused",
       [](settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = to_integer(v);
         if (!n || *n < 0 || *n > 1'000'000'000)
           return "must be an integer within 0..1000000000";
         s.max_engine_calls = static_cast<std::size_t>(*n);
         return std::nullopt;
       }},
      {"header-timeout-ms", "MS", "first byte to end of headers at most (default 10000; slow clients are closed)",
       duration(&settings::server, &http::server_options::header_timeout, 10, 3'600'000)},
      {"body-timeout-ms", "MS", "body read, and each answer's write, at most (default 30000)",
       duration(&settings::server, &http::server_options::body_timeout, 10, 3'600'000)},
      {"idle-timeout-ms", "MS", "idle keep-alive connection kept at most (default 60000)",
       duration(&settings::server, &http::server_options::idle_timeout, 10, 24 * 3'600'000)},
      {"request-timeout-ms", "MS",
       "a request the engine has not answered this long after it was read is answered 504 engine_timeout "
       "and its connection closed (default 30000; long polls end at their own wait)",
       duration(&settings::server, &http::server_options::request_timeout, 10, 3'600'000)},
      {"slow-request-ms", "MS", "requests slower than this are logged, one line a second at most (default 1000)",
       duration(&settings::server, &http::server_options::slow_request, 1, 3'600'000)},
      {"lease-ttl-ms", "MS", "TTL of a lease acquired or renewed without ttl_ms (default 300000)",
       duration(&settings::api, &http::api_options::lease_ttl, 1, 24 * 3'600'000)},
      {"shutdown-grace-ms", "MS", "on SIGTERM, how long requests in flight may take to finish (default 10000)",
       [](settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = to_integer(v);
         if (!n || *n < 0 || *n > 3'600'000)
           return "must be an integer within 0..3600000";
         s.shutdown_grace = std::chrono::milliseconds{*n};
         return std::nullopt;
       }},
      {"stale-timeout-s", "S", "an agent silent this long goes offline (default 300)",
       seconds(&config::stale_timeout, 1)},
      {"heartbeat-interval-s", "S", "how often the stale sweep runs (default 5)",
       seconds(&config::heartbeat_interval, 1)},
      {"performance-update-interval-s", "S", "how often summaries are written to the database (default 60)",
       seconds(&config::performance_update_interval, 1)},
      {"execution-timeout-s", "S", "a running execution older than this becomes timeout (default 1800)",
       seconds(&config::execution_timeout, 1)},
      {"scheduler-threads", "N", "CAF scheduler threads (default 2)",
       integer(&settings::engine, &config::scheduler_threads, 1, 256)},
      {"batch-size", "N", "records per database flush (default 5000)",
       integer(&settings::engine, &config::batch_size, 1, 10'000'000)},
      {"flush-interval-ms", "MS", "a flush at the latest this long after a record arrives (default 50)",
       duration(&settings::engine, &config::flush_interval, 1, 3'600'000)},
      {"writer-connections", "N", "database connections writing at once (default 2)",
       integer(&settings::engine, &config::writer_connections, 1, 64)},
      {"buffer-limit", "N", "records waiting for the database at most (default 200000; then 503)",
       integer(&settings::engine, &config::buffer_limit, 1, 100'000'000)},
      {"on-full", "POLICY",
       "when the write-behind buffer is full, calls that may wait: block (wait for room) or refuse (503); "
       "the HTTP routes never wait (default block)",
       [](settings& s, const std::string& v) -> std::optional<std::string> {
         if (v == "block")
           s.engine.on_full = core::backlog_policy::block;
         else if (v == "refuse")
           s.engine.on_full = core::backlog_policy::refuse;
         else
           return "must be block or refuse";
         return std::nullopt;
       }},
      {"max-agent-metadata-bytes", "N", "an agent's metadata and agent card at most (default 65536; then 422)",
       integer(&settings::engine, &config::max_agent_metadata_bytes, 256, 64 << 20)},
      {"max-tools-per-agent", "N", "distinct tool names per agent (default 1000; then 409 limit_reached)",
       integer(&settings::engine, &config::max_tools_per_agent, 1, 10'000'000)},
      {"max-summary-keys", "N",
       "distinct task types, and distinct workflows, executions may name (default 10000; then 409 limit_reached)",
       integer(&settings::engine, &config::max_summary_keys, 1, 10'000'000)},
      {"change-log-capacity", "N", "changes kept for watchers of the change stream (default 16384)",
       integer(&settings::engine, &config::change_log_capacity, 1, 100'000'000)},
      {"price-table", "FILE", "JSON price table (default: the one built in)",
       text([](settings& s, const std::string& v) { s.engine.price_table_path = v; })},
      {"metrics-max-series", "N", "label sets each /metrics family keeps; later ones count as \"other\" (default 200)",
       integer(&settings::engine, &config::metrics_max_series, 1, 100'000)},
      {"metrics-per-agent", "N",
       "export agentreg_agent_executions_total and agentreg_agent_load_slots for at most N agents, the first by id "
       "(default 0: none)",
       [](settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = to_integer(v);
         if (!n || *n < 0 || *n > 100'000)
           return "must be an integer within 0..100000";
         s.metrics_per_agent = static_cast<std::size_t>(*n);
         return std::nullopt;
       }},
      {"watch-buffer-bytes", "N",
       "an SSE watcher with more than N bytes unwritten is sent \"compacted\" and disconnected (default 1048576)",
       integer(&settings::watch, &http::watch_options::max_buffered_bytes, 1024, 1LL << 32)},
      {"demo", "", "run a simulated fleet in the server (docs/demo: a few hundred agents heartbeating, "
                   "acquiring, running executions with tool calls; some fail, a few go stale)",
       [](settings& s, const std::string& v) -> std::optional<std::string> {
         if (v != "true" && v != "false" && v != "1" && v != "0")
           return "must be true or false";
         s.demo = v == "true" || v == "1";
         return std::nullopt;
       },
       true},
      {"demo-agents", "N", "agents of the simulated fleet (default 300)",
       [](settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = to_integer(v);
         if (!n || *n < 1 || *n > 100'000)
           return "must be an integer within 1..100000";
         s.demo_agents = static_cast<std::size_t>(*n);
         return std::nullopt;
       }},
      {"demo-seconds", "S", "with --demo: stop by itself after S seconds (default 0: run until SIGINT/SIGTERM)",
       [](settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = to_integer(v);
         if (!n || *n < 0 || *n > 365LL * 24 * 3600)
           return "must be a whole number of seconds";
         s.demo_seconds = std::chrono::seconds{*n};
         return std::nullopt;
       }},
  };
  return table;
}

void apply(parsed& out, const option& o, const std::string& value, const std::string& source) {
  if (auto err = o.set(out.values, value))
    out.errors.push_back(source + ": " + *err);
}

const option* find(const std::string& name) {
  for (const auto& o : options())
    if (o.name == name)
      return &o;
  return nullptr;
}

}  // namespace

std::string help_text() {
  std::ostringstream out;
  out << "agentregd: the agentreg registry over HTTP/JSON (docs/api.md)\n\n"
         "usage: agentregd [--name value | --name=value]...\n\n"
         "Each option is also an environment variable (AGENTREG_ and the name in upper case, '-' as '_')\n"
         "and a config file key. Precedence: flags, then variables, then the config file, then defaults.\n"
         "SIGINT/SIGTERM: stop accepting, finish requests in flight, flush to the database, exit 0.\n\n";
  for (const auto& o : options())
    out << "  --" << o.name << (o.value_name.empty() ? "" : " ") << o.value_name << "  (" << env_name(o.name)
        << ")\n      " << o.help << "\n";
  out << "  --help\n      this text\n";
  return out.str();
}

parsed parse(int argc, char** argv) {
  parsed out;
  // Flags first into a list, so that --config is known before anything applies.
  std::vector<std::pair<std::string, std::string>> flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      out.errors.push_back("unexpected argument " + arg);
      continue;
    }
    arg.erase(0, 2);
    std::string value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.erase(eq);
    } else if (const auto* o = find(arg); o && o->is_switch) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      out.errors.push_back("--" + arg + " needs a value");
      continue;
    }
    if (!find(arg)) {
      out.errors.push_back("unknown option --" + arg + " (see --help)");
      continue;
    }
    flags.emplace_back(arg, value);
  }
  std::string config_file;
  if (const char* e = std::getenv("AGENTREG_CONFIG"))
    config_file = e;
  for (const auto& [name, value] : flags)
    if (name == "config")
      config_file = value;
  if (!config_file.empty()) {
    std::ifstream in{config_file};
    if (!in)
      out.errors.push_back("cannot read the config file " + config_file);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (const auto hash = line.find('#'); hash != std::string::npos)
        line.erase(hash);
      const auto eq = line.find('=');
      auto trim = [](std::string s) {
        s.erase(0, s.find_first_not_of(" \t\r"));
        s.erase(s.find_last_not_of(" \t\r") + 1);
        return s;
      };
      if (trim(line).empty())
        continue;
      const std::string where = config_file + ":" + std::to_string(n);
      if (eq == std::string::npos) {
        out.errors.push_back(where + ": expected name = value");
        continue;
      }
      const auto name = trim(line.substr(0, eq));
      const auto* o = find(name);
      if (!o || name == "config") {
        out.errors.push_back(where + ": unknown setting " + name);
        continue;
      }
      apply(out, *o, trim(line.substr(eq + 1)), where);
    }
  }
  for (const auto& o : options())
    if (const char* e = std::getenv(env_name(o.name).c_str()); e && o.name != "config")
      apply(out, o, e, env_name(o.name));
  for (const auto& [name, value] : flags)
    apply(out, *find(name), value, "--" + name);
  return out;
}

}  // namespace agentreg::daemon
