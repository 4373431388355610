// agentreg-bench <suite> [--json] [--quick] [--url URL]
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
  std::fprintf(out, "usage: agentreg-bench <suite> [--json] [--quick] [--url URL]\n\nsuites:\n");
  for (const auto& s : agentreg::bench::suites())
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(s.name.size()), s.name.data(),
                 static_cast<int>(s.summary.size()), s.summary.data());
  std::fprintf(out,
               "\noptions:\n"
               "  --json   end the output with one line holding one JSON object\n"
               "  --quick  fewer, shorter rounds (smoke tests)\n"
               "  --url U  PostgreSQL to use (suites that need one; default: start a scratch cluster)\n");
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
    } else if (arg == "--url" && i + 1 < argc) {
      opts.url = argv[++i];
    } else if (arg.rfind("--url=", 0) == 0) {
      opts.url = std::string{arg.substr(6)};
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
