// agentreg-bench-report DIR: turns what scripts/bench collected in DIR/raw/
// (one JSON object per suite, the last line of its output, and
// versions.json with the servers' versions) into
//   DIR/results.json  {"generated_at", "quick", "machine", "servers", "suites": {name: object}}
//   DIR/results.md    the tables
//   DIR/*.png         the plots, drawn by gnuplot from DIR/plots/*.dat and *.gp
// A suite missing from raw/ is left out; without gnuplot the plots are
// skipped with a note. Exit code 1 if a file cannot be read or written, or
// a suite's object says "ok": false.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// ---- reading --------------------------------------------------------------------------

json::value read_json(const fs::path& p) {
  std::ifstream in{p};
  std::stringstream s;
  s << in.rdbuf();
  return json::parse(s.str());
}

const json::value* at(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* key : path) {
    if (!cur->is_object())
      return nullptr;
    cur = cur->as_object().if_contains(key);
    if (cur == nullptr)
      return nullptr;
  }
  return cur;
}

double num(const json::value* v) {
  if (v == nullptr)
    return std::nan("");
  if (v->is_double())
    return v->as_double();
  if (v->is_int64())
    return static_cast<double>(v->as_int64());
  if (v->is_uint64())
    return static_cast<double>(v->as_uint64());
  return std::nan("");
}

double num(const json::value& v, std::initializer_list<const char*> path) {
  return num(at(v, path));
}

std::string str(const json::value& v, std::initializer_list<const char*> path) {
  const auto* p = at(v, path);
  if (p == nullptr)
    return "";
  if (p->is_string())
    return std::string{p->as_string()};
  return json::serialize(*p);
}

// ---- formatting ------------------------------------------------------------------------

// 12 345 678 (thin grouping as the READMEs write figures), or "-" for NaN.
std::string grouped(double x) {
  if (std::isnan(x))
    return "-";
  const long long v = std::llround(x);
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ' ';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string fixed(double x, int digits) {
  if (std::isnan(x))
    return "-";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, x);
  return b;
}

std::string ratio(double x) {
  if (std::isnan(x))
    return "-";
  // Appended, not "x" + string: GCC 12 at -O3 warns falsely (-Wrestrict) on
  // that operator+.
  std::string out{"x"};
  out += x >= 100 ? grouped(x) : fixed(x, x >= 10 ? 1 : 2);
  return out;
}

// "median [min .. max]" of a summary object.
std::string spread(const json::value* s, bool as_ratio = false) {
  if (s == nullptr)
    return "-";
  const double m = num(*s, {"median"}), lo = num(*s, {"min"}), hi = num(*s, {"max"});
  if (as_ratio)
    return ratio(m) + " [" + ratio(lo) + " .. " + ratio(hi) + "]";
  return grouped(m) + " [" + grouped(lo) + " .. " + grouped(hi) + "]";
}

std::string scalar_text(const json::value& v) {
  if (v.is_string())
    return std::string{v.as_string()};
  if (v.is_bool())
    return v.as_bool() ? "yes" : "no";
  if (v.is_double())
    return fixed(v.as_double(), std::abs(v.as_double()) >= 100 ? 0 : 3);
  if (v.is_int64() || v.is_uint64())
    return grouped(num(&v));
  if (v.is_null())
    return "-";
  return json::serialize(v);
}

std::string agent_count_name(double n) {
  if (n >= 1e6)
    return grouped(n / 1e6) + " M";
  if (n >= 1e3)
    return grouped(n / 1e3) + " k";
  return grouped(n);
}

// ---- the sections ---------------------------------------------------------------------------

void machine_section(std::ostream& md, const json::value& results) {
  const auto& m = results.at("machine");
  const auto& s = results.at("servers");
  md << "## Machine\n\n| | |\n|---|---|\n";
  md << "| CPU | " << str(m, {"machine", "cpu_model"}) << ", " << str(m, {"machine", "cpus"}) << " CPUs"
     << (at(m, {"machine", "hypervisor"}) && at(m, {"machine", "hypervisor"})->as_bool() ? ", virtual machine" : "")
     << " |\n";
  md << "| memory | " << fixed(num(m, {"memory_bytes"}) / 1e9, 1) << " GB |\n";
  md << "| kernel | " << str(m, {"machine", "kernel"}) << " |\n";
  md << "| compiler | " << str(m, {"machine", "compiler"}) << ", " << str(s, {"build_type"}) << " |\n";
  md << "| cache line CPU 0 -> 1 -> 0 | " << spread(at(m, {"cache_line_round_trip_ns"})) << " ns |\n";
  md << "| libraries | CAF " << str(m, {"libraries", "caf"}) << ", Boost " << str(m, {"libraries", "boost"})
     << ", libpqxx " << str(m, {"libraries", "libpqxx"}) << ", hiredis " << str(m, {"libraries", "hiredis"}) << " |\n";
  md << "| servers | PostgreSQL " << str(s, {"postgresql"}) << ", Redis " << str(s, {"redis"}) << ", etcd "
     << str(s, {"etcd"}) << ", wrk " << str(s, {"wrk"}) << " |\n\n";
}

void pick_section(std::ostream& md, const json::value& pick) {
  md << "## Pick and reserve\n\n"
     << "Acquire + release of the least-loaded of " << str(pick, {"agents"})
     << " agents of one type (every agent one slot from full), " << str(pick, {"rounds"})
     << " alternating rounds per thread count. `agentreg x`: agentreg's rate over the variant's, per round pair.\n\n"
     << "| variant | threads | pairs/s median [min .. max] | agentreg x | overbookings | lost updates |\n"
     << "|---|---|---|---|---|---|\n";
  for (const auto& v : pick.at("variants").as_array())
    for (const auto& [threads, c] : v.at("threads").as_object())
      md << "| " << str(v, {"description"}) << " | " << std::string{threads} << " | " << spread(at(c, {"pairs_per_s"}))
         << " | " << (at(c, {"agentreg_ratio"}) ? spread(at(c, {"agentreg_ratio"}), true) : std::string{"-"}) << " | "
         << grouped(num(c, {"overbookings"})) << " | " << grouped(num(c, {"lost_updates"})) << " |\n";
  if (const auto* t = at(pick, {"targets_2t"}); t && !t->as_object().empty()) {
    md << "\nTargets at 2 threads (agentreg / baseline):";
    for (const auto& [k, v] : t->as_object())
      md << " " << std::string{k} << " " << ratio(num(v, {"measured"})) << " (>= " << grouped(num(v, {"min"})) << ": "
         << (v.at("met").as_bool() ? "met" : "not met") << ");";
    md << "\n";
  }
  if (const auto* sk = at(pick, {"skipped"}); sk && !sk->as_object().empty()) {
    md << "\nSkipped:";
    for (const auto& [k, v] : sk->as_object())
      md << " " << std::string{k} << " (" << scalar_text(v) << ")";
    md << "\n";
  }
  md << "\n![pick and reserve](pick.png)\n\n";
}

void race_section(std::ostream& md, const json::value& race) {
  md << "## The seed's race\n\n" << str(race, {"clients"}) << " clients reserve every one of " << str(race, {"agents"})
     << " x " << str(race, {"capacity"}) << " slots, " << str(race, {"rounds"}) << " rounds.\n\n"
     << "| way | reservations/s | reservations | overbookings | lost updates | rounds with either |\n"
     << "|---|---|---|---|---|---|\n";
  for (const auto& [key, name] : std::vector<std::pair<const char*, const char*>>{
           {"seed", "get_least_loaded_agent + update_load(load + 1)"}, {"acquire", "acquire()"}}) {
    const auto& s = race.at(key);
    md << "| " << name << " | " << spread(at(s, {"reservations_per_s"})) << " | " << grouped(num(s, {"reservations"}))
       << " | " << grouped(num(s, {"overbookings"})) << " | " << grouped(num(s, {"lost_updates"})) << " | "
       << grouped(std::max(num(s, {"rounds_with_overbooking"}), num(s, {"rounds_with_lost_updates"}))) << " |\n";
  }
  md << "\n";
}

void scale_section(std::ostream& md, const json::value& scale) {
  md << "## Scale\n\nOne type, " << str(scale, {"capacity"}) << " slots per agent; PostgreSQL: "
     << str(scale, {"server"}) << ".\n\n"
     << "| agents | register/s | bytes/agent | acquire p50 / p99 ns | mutex+set p50 / p99 ns | heartbeats/s "
        "blocking / async | sweep ms | /metrics scrape ms | recovery s |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& p : scale.at("points").as_array())
    md << "| " << agent_count_name(num(p, {"agents"})) << " | " << grouped(num(p, {"register_per_s"})) << " | "
       << grouped(num(p, {"bytes_per_agent"})) << " | " << grouped(num(p, {"acquire_p50_ns", "median"})) << " / "
       << grouped(num(p, {"acquire_p99_ns", "median"})) << " | " << grouped(num(p, {"mutex_set_p50_ns", "median"}))
       << " / " << grouped(num(p, {"mutex_set_p99_ns", "median"})) << " | " << grouped(num(p, {"heartbeat_per_s"}))
       << " / " << grouped(num(p, {"heartbeat_async_per_s"})) << " | " << fixed(num(p, {"sweep_ms", "median"}), 2)
       << " | " << fixed(num(p, {"metrics_scrape_ms", "median"}), 2) << " | " << fixed(num(p, {"recovery_s"}), 2)
       << " |\n";
  md << "\nacquire p99 at the largest size / the smallest: " << ratio(num(scale, {"acquire_p99_ratio_largest_vs_smallest"}))
     << " (target <= 2).\n\n![acquire latency](scale_acquire.png) ![rates](scale_rates.png)\n"
     << "![memory](scale_memory.png) ![sweep, scrape and recovery](scale_times.png)\n\n";
}

void http_section(std::ostream& md, const json::value& http) {
  md << "## HTTP\n\nwrk -t" << str(http, {"wrk_threads"}) << " -c" << str(http, {"connections"}) << ", " << str(http, {"seconds_per_run"})
     << " s per run, " << str(http, {"rounds"}) << " alternating rounds; `bare` is a Beast server answering at once.\n\n"
     << "| mix | server | requests/s median [min .. max] | p99 ms | / bare |\n|---|---|---|---|---|\n";
  for (const auto& [mix, by_server] : http.at("mixes").as_object())
    for (const auto& [server, c] : by_server.as_object())
      md << "| " << std::string{mix} << " | " << std::string{server} << " | " << spread(at(c, {"requests_per_s"}))
         << " | " << fixed(num(c, {"p99_ms", "median"}), 2) << " | "
         << (at(c, {"vs_bare"}) ? spread(at(c, {"vs_bare"}), true) : std::string{"-"}) << " |\n";
  if (const auto* sk = at(http, {"skipped"}))
    md << "\nSkipped: " << scalar_text(*sk) << "\n";
  md << "\n";
}

void soak_section(std::ostream& md, const json::value& soak) {
  md << "## Soak\n\n" << str(soak, {"seconds"}) << " s over HTTP: " << str(soak, {"workers"})
     << " workers (acquire, start, tool call, complete, heartbeat, release) over " << str(soak, {"agents"})
     << " agents, batch heartbeats, queries and a watcher; agentregd SIGKILLed at "
     << fixed(num(soak, {"agentregd_killed_at_s"}), 0) << " s and ready again after "
     << fixed(num(soak, {"agentregd_restart_s"}), 2) << " s; PostgreSQL killed from "
     << fixed(num(soak, {"postgresql_down_from_s"}), 0) << " s to " << fixed(num(soak, {"postgresql_back_at_s"}), 0)
     << " s. PostgreSQL: " << str(soak, {"server"}) << ".\n\n| figure | value |\n|---|---|\n"
     << "| executions acknowledged | " << grouped(num(soak, {"executions_acknowledged"})) << " |\n"
     << "| executions/s, per second | " << spread(at(soak, {"executions_per_s"})) << " |\n"
     << "| overbookings | " << grouped(num(soak, {"overbookings"})) << " |\n"
     << "| restarted agentregd: completed executions acknowledged / in PostgreSQL | "
     << grouped(num(soak, {"restarted_acknowledged"})) << " / " << grouped(num(soak, {"restarted_stored"})) << " |\n"
     << "| restarted agentregd: tool calls acknowledged / in PostgreSQL | "
     << grouped(num(soak, {"restarted_tool_calls_acknowledged"})) << " / "
     << grouped(num(soak, {"restarted_tool_calls_stored"})) << " |\n"
     << "| SIGKILLed agentregd: acknowledged / in PostgreSQL (lost: acknowledged before their commit) | "
     << grouped(num(soak, {"killed_acknowledged"})) << " / " << grouped(num(soak, {"killed_stored"})) << " ("
     << grouped(num(soak, {"killed_lost_write_behind"})) << ") |\n"
     << "| summary rows differing from SQL over the rows (agent / type / model) | "
     << grouped(num(soak, {"summary_mismatches", "agent"})) << " / "
     << grouped(num(soak, {"summary_mismatches", "agent_type"})) << " / "
     << grouped(num(soak, {"summary_mismatches", "model"})) << " |\n"
     << "| 503 persistence_backlog answers (PostgreSQL down, buffer full) | " << grouped(num(soak, {"refused_backlog"}))
     << " |\n"
     << "| watcher: changes / compactions | " << grouped(num(soak, {"watch_changes"})) << " / "
     << grouped(num(soak, {"watch_compactions"})) << " |\n"
     << "| agentregd VmRSS at 50-60 % / last 10 % / peak | " << fixed(num(soak, {"rss_reference_bytes"}) / 1e6, 1)
     << " / " << fixed(num(soak, {"rss_end_bytes"}) / 1e6, 1) << " / " << fixed(num(soak, {"rss_peak_bytes"}) / 1e6, 1)
     << " MB (growth " << fixed(num(soak, {"rss_growth"}) * 100, 1) << " %, target <= 5 %) |\n"
     << "\n![soak](soak.png)\n\n";
}

// The suites that print their headline figures as top-level fields (index,
// engine, ingest): those fields, as they are.
void headline_section(std::ostream& md, const std::string& name, const json::value& suite) {
  md << "## " << name << "\n\n| figure | value |\n|---|---|\n";
  for (const auto& [k, v] : suite.as_object()) {
    if (k == "suite" || k == "machine" || k == "quick" || v.is_object() || v.is_array())
      continue;
    md << "| `" << std::string{k} << "` | " << scalar_text(v) << " |\n";
  }
  md << "\n";
}

// ---- plots -------------------------------------------------------------------------------------

struct plotter {
  fs::path dir;
  bool available = false;
  std::vector<std::string> problems;

  void draw(const std::string& name, const std::string& data, const std::string& script) {
    const fs::path plots = dir / "plots";
    fs::create_directories(plots);
    std::ofstream{plots / (name + ".dat")} << data;
    std::ofstream{plots / (name + ".gp")} << "set terminal pngcairo size 900,540 font 'sans,10'\n"
                                          << "set output '" << (dir / (name + ".png")).string() << "'\n"
                                          << "set termoption noenhanced\nset grid\nset key outside right top\n"
                                          << "data = '" << (plots / (name + ".dat")).string() << "'\n"
                                          << script;
    if (!available)
      return;
    const std::string command = "gnuplot '" + (plots / (name + ".gp")).string() + "'";
    if (std::system(command.c_str()) != 0)
      problems.push_back("gnuplot failed on " + name + ".gp");
  }
};

void pick_plot(plotter& p, const json::value& pick) {
  std::ostringstream data;
  for (const auto& v : pick.at("variants").as_array()) {
    data << '"' << str(v, {"key"}) << '"';
    for (const char* t : {"1", "2"}) {
      const double x = num(v, {"threads", t, "pairs_per_s", "median"});
      data << ' ' << (std::isnan(x) ? 0 : x);
    }
    data << '\n';
  }
  p.draw("pick", data.str(),
         "set title 'Pick + reserve + release, least-loaded of 1 000 agents'\n"
         "set ylabel 'pairs/s (log)'\nset logscale y\nset style data histograms\n"
         "set style histogram clustered gap 1\nset style fill solid 0.8 border -1\nset xtics rotate by -25\n"
         "plot data using 2:xtic(1) title '1 thread', '' using 3 title '2 threads'\n");
}

void scale_plots(plotter& p, const json::value& scale) {
  std::ostringstream data;
  data << "agents register_per_s bytes_per_agent p50 p99 base_p50 base_p99 hb hb_async sweep_ms recovery_s "
          "scrape_ms\n";
  for (const auto& pt : scale.at("points").as_array())
    data << num(pt, {"agents"}) << ' ' << num(pt, {"register_per_s"}) << ' ' << num(pt, {"bytes_per_agent"}) << ' '
         << num(pt, {"acquire_p50_ns", "median"}) << ' ' << num(pt, {"acquire_p99_ns", "median"}) << ' '
         << num(pt, {"mutex_set_p50_ns", "median"}) << ' ' << num(pt, {"mutex_set_p99_ns", "median"}) << ' '
         << num(pt, {"heartbeat_per_s"}) << ' ' << num(pt, {"heartbeat_async_per_s"}) << ' '
         << num(pt, {"sweep_ms", "median"}) << ' ' << num(pt, {"recovery_s"}) << ' '
         << num(pt, {"metrics_scrape_ms", "median"}) << '\n';
  const std::string common = "set logscale x\nset xlabel 'agents (log)'\nset key autotitle columnhead\n";
  p.draw("scale_acquire", data.str(),
         common + "set title 'acquire latency vs agents'\nset ylabel 'ns (log)'\nset logscale y\n"
                  "plot data using 1:4 with linespoints title 'agentreg p50', '' using 1:5 with linespoints title "
                  "'agentreg p99', '' using 1:6 with linespoints title 'mutex+set p50', '' using 1:7 with linespoints "
                  "title 'mutex+set p99'\n");
  p.draw("scale_rates", data.str(),
         common + "set title 'rates vs agents'\nset ylabel 'per second (log)'\nset logscale y\n"
                  "plot data using 1:2 with linespoints title 'register', '' using 1:8 with linespoints title "
                  "'heartbeat (blocking)', '' using 1:9 with linespoints title 'heartbeat (async)'\n");
  p.draw("scale_memory", data.str(),
         common + "set title 'resident bytes per agent'\nset ylabel 'bytes'\nset yrange [0:*]\n"
                  "plot data using 1:3 with linespoints title 'whole engine'\n");
  p.draw("scale_times", data.str(),
         common + "set title 'stale sweep, /metrics scrape and recovery vs agents'\nset logscale y\nset ylabel 'ms (log)'\n"
                  "plot data using 1:10 with linespoints title 'sweep ms', '' using 1:($11*1000) with linespoints "
                  "title 'recovery from PostgreSQL, ms', '' using 1:12 with linespoints title '/metrics scrape ms'\n");
}

void soak_plot(plotter& p, const json::value& soak) {
  std::ostringstream data;
  data << "at_s process executions_per_s requests_per_s rss_mb\n";
  for (const auto& row : soak.at("timeline").as_array()) {
    const auto& r = row.as_array();
    data << num(&r[0]) << ' ' << num(&r[1]) << ' ' << num(&r[2]) << ' ' << num(&r[3]) << ' ' << num(&r[4]) / 1e6
         << '\n';
  }
  p.draw("soak", data.str(),
         "set title 'soak over HTTP: throughput and agentregd memory'\nset xlabel 'seconds'\n"
         "set ylabel 'per second'\nset y2label 'VmRSS MB'\nset ytics nomirror\nset y2tics\nset yrange [0:*]\n"
         "set y2range [0:*]\nset key autotitle columnhead\n"
         "plot data using 1:3 with lines title 'executions/s', '' using 1:4 with lines title 'requests/s', "
         "'' using 1:5 axes x1y2 with lines lw 2 title 'agentregd VmRSS (MB)'\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: agentreg-bench-report DIR (with DIR/raw/*.json from scripts/bench)\n");
    return 2;
  }
  const fs::path dir{argv[1]};
  std::vector<std::string> problems;
  json::object results;
  {
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    results["generated_at"] = stamp;
  }
  json::object suites;
  bool quick = false;
  try {
    results["servers"] = read_json(dir / "raw" / "versions.json");
    for (const auto& entry : fs::directory_iterator{dir / "raw"}) {
      const std::string name = entry.path().stem().string();
      if (entry.path().extension() != ".json" || name == "versions")
        continue;
      auto v = read_json(entry.path());
      if (const auto* ok = at(v, {"ok"}); ok && ok->is_bool() && !ok->as_bool())
        problems.push_back("suite " + name + " reported failures");
      if (const auto* q = at(v, {"quick"}); q && q->is_bool() && q->as_bool())
        quick = true;
      suites[name] = std::move(v);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agentreg-bench-report: %s\n", e.what());
    return 1;
  }
  results["quick"] = quick;
  results["machine"] = suites.contains("machine") ? suites["machine"] : json::value(nullptr);
  results["suites"] = suites;
  const json::value all = results;

  std::ofstream{dir / "results.json"} << json::serialize(all) << "\n";

  std::ostringstream md;
  md << "# agentreg benchmark results\n\n"
     << (quick ? "A **quick** run (short rounds: a smoke test, not figures to quote). " : "A full run. ")
     << "Generated " << str(all, {"generated_at"}) << " by `scripts/bench`" << (quick ? " --quick" : "")
     << "; every baseline ran in the same run, on the same machine.\n\n";
  if (!results["machine"].is_null())
    machine_section(md, all);
  plotter plot{dir, std::system("command -v gnuplot >/dev/null 2>&1") == 0, {}};
  if (const auto* pick = at(all, {"suites", "pick"})) {
    pick_section(md, *pick);
    pick_plot(plot, *pick);
  }
  if (const auto* race = at(all, {"suites", "race"}))
    race_section(md, *race);
  if (const auto* http = at(all, {"suites", "http"}))
    http_section(md, *http);
  for (const auto& [key, name] : std::vector<std::pair<const char*, const char*>>{
           {"ingest", "Execution ingest into PostgreSQL"}, {"index", "The lock-free index"}, {"engine", "The engine"}})
    if (const auto* s = at(all, {"suites", key}))
      headline_section(md, name, *s);
  if (const auto* scale = at(all, {"suites", "scale"})) {
    scale_section(md, *scale);
    scale_plots(plot, *scale);
  }
  if (const auto* soak = at(all, {"suites", "soak"}); soak && at(*soak, {"timeline"})) {
    soak_section(md, *soak);
    soak_plot(plot, *soak);
  }
  if (!plot.available)
    md << "(gnuplot was not found: no plots; install gnuplot-nox)\n";
  for (const auto& p : plot.problems)
    problems.push_back(p);
  for (const auto& p : problems)
    md << "\n**Problem:** " << p << "\n";
  std::ofstream{dir / "results.md"} << md.str();
  for (const auto& p : problems)
    std::fprintf(stderr, "agentreg-bench-report: %s\n", p.c_str());
  return problems.empty() ? 0 : 1;
}
