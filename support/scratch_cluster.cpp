#include "support/scratch_cluster.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace agentreg::support {

namespace {

// Found through the source tree (a compile definition of support/CMakeLists.txt),
// so the binary runs from any build directory.
const std::string pg_script = std::string{AGENTREG_SOURCE_DIR} + "/scripts/pg";

// `s` made safe to put between single quotes in sh: each ' becomes '"'"'.
std::string escape_single_quotes(const std::string& s) {
  std::string out;
  for (char c : s)
    out += c == '\'' ? std::string{"'\"'\"'"} : std::string(1, c);
  return out;
}

}  // namespace

std::string run_command(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr)
    throw std::runtime_error{"cannot run: " + command};
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
    out.append(buf, n);
  const int status = ::pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error{"command failed (status " + std::to_string(status) + "): " + command + "\n" + out};
  while (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

scratch_cluster::scratch_cluster(durability d) : durability_(d) {
  char tmpl[] = "/tmp/agentreg-pg.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    throw std::runtime_error{"mkdtemp failed"};
  dir_ = tmpl;
  // The watchdog first: a death during the (slow) initdb must not leave a
  // server behind either. It waits until this process is gone (or a zombie),
  // then stops the cluster, and removes the directory. After a normal exit
  // the destructor has done both and its turn changes nothing. Its
  // descriptors go to /dev/null so it never holds our output pipe open.
  const std::string pid = std::to_string(::getpid());
  const std::string watchdog = "while [ -d /proc/" + pid + " ] && [ \"$(sed 's/.*) //' /proc/" + pid +
                               "/stat 2>/dev/null | cut -c1)\" != Z ]; do sleep 1; done; " + pg_script + " stop " +
                               dir_ + " || " + pg_script + " kill " + dir_ + "; rm -rf " + dir_;
  if (std::system(("setsid sh -c '" + escape_single_quotes(watchdog) + "' </dev/null >/dev/null 2>&1 &").c_str()) !=
      0)
    std::fprintf(stderr, "scratch_cluster: could not start the cleanup watchdog for %s\n", dir_.c_str());
  try {
    url_ = run_command(start_command());
  } catch (...) {
    try {
      run_command(pg_script + " kill " + dir_ + " 2>/dev/null");
    } catch (...) {
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

scratch_cluster::~scratch_cluster() {
  try {
    run_command(pg_script + " stop " + dir_);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scratch_cluster: %s\n", e.what());
    try {
      run_command(pg_script + " kill " + dir_);  // never leave a server behind
    } catch (...) {
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void scratch_cluster::kill() { run_command(pg_script + " kill " + dir_); }

std::string scratch_cluster::start_command() const {
  return pg_script + " start " + dir_ + (durability_ == durability::throwaway ? " --throwaway" : "");
}

std::string scratch_cluster::restart() { return run_command(start_command()); }

}  // namespace agentreg::support
