// agentreg-bench <suite> [--json] [--quick] [--url URL] [--redis HOST:PORT] [--etcd URL] [--agentregd URL] [--threads LIST]
//
// One program, one sub-command per suite. Each suite lives in its own source
// file and adds itself to the table with register_suite(), so adding a suite
// touches only bench/CMakeLists.txt and the new file.

#include <cstdio>
#include <string>
#include <string_view>

#include "bench/suite.hpp"

namespace {

void usage(std::FILE* out) {
  std::fprintf(out, "usage: agentreg-bench <suite> [--json] [--quick] [--url URL] [--redis HOST:PORT] [--etcd URL] [--agentregd URL] [--threads LIST]\n\nsuites:\n");
  for (const auto& s : agentreg::bench::suites())
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(s.name.size()), s.name.data(),
                 static_cast<int>(s.summary.size()), s.summary.data());
  std::fprintf(out,
               "\noptions:\n"
               "  --json   end the output with one line holding one JSON object\n"
               "  --quick  fewer, shorter rounds (smoke tests)\n"
               "  --url U  PostgreSQL to use (suites that need one; default: start a scratch cluster)\n"
               "  --redis HOST:PORT  Redis for the baselines that use it (default: skip them)\n"
               "  --etcd URL         etcd client URL for the baselines that use it (default: skip them)\n"
               "  --agentregd URL    a running agentregd for the HTTP variants (default: skip them)\n"
               "  --threads LIST     thread counts of a scaling curve, e.g. 1,2,4 (index; default 1,2)\n");
}

// The options that take a value, as "--name VALUE" or "--name=VALUE".
struct value_option {
  std::string_view name;
  std::string agentreg::bench::options::*field;
};
constexpr value_option value_options[] = {{"--url", &agentreg::bench::options::url},
                                          {"--redis", &agentreg::bench::options::redis},
                                          {"--etcd", &agentreg::bench::options::etcd},
                                          {"--agentregd", &agentreg::bench::options::agentregd}};

struct parsed_value {
  std::string agentreg::bench::options::*field = nullptr;
  std::string text;
  explicit operator bool() const { return field != nullptr; }
};

// Reads argv[i] (and argv[i + 1] for the spaced form, advancing i).
parsed_value string_option(std::string_view arg, int argc, char** argv, int& i) {
  for (const auto& o : value_options) {
    if (arg == o.name && i + 1 < argc)
      return {o.field, argv[++i]};
    if (arg.size() > o.name.size() && arg.substr(0, o.name.size()) == o.name && arg[o.name.size()] == '=')
      return {o.field, std::string{arg.substr(o.name.size() + 1)}};
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  agentreg::bench::options opts;
  std::string_view name;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg{argv[i]};
    if (arg == "--json") {
      opts.json = true;
    } else if (arg == "--quick") {
      opts.quick = true;
    } else if (arg == "--threads" || arg.substr(0, 10) == "--threads=") {
      const std::string_view text = arg.size() > 9 ? arg.substr(10) : (i + 1 < argc ? argv[++i] : "");
      opts.threads = agentreg::bench::parse_thread_list(text);
      if (opts.threads.empty()) {
        std::fprintf(stderr, "agentreg-bench: --threads takes a list of counts 1..256 such as 1,2,4, got '%.*s'\n",
                     static_cast<int>(text.size()), text.data());
        return 2;
      }
    } else if (const auto value = string_option(arg, argc, argv, i)) {
      opts.*(value.field) = value.text;
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    } else if (!arg.empty() && arg.front() != '-' && name.empty()) {
      name = arg;
    } else {
      std::fprintf(stderr, "agentreg-bench: unexpected argument '%s'\n\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (name.empty()) {
    usage(stderr);
    return 2;
  }
  for (const auto& s : agentreg::bench::suites())
    if (s.name == name)
      return s.run(opts);
  std::fprintf(stderr, "agentreg-bench: no suite named '%.*s'\n\n", static_cast<int>(name.size()),
               name.data());
  usage(stderr);
  return 2;
}
