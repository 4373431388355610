#!/usr/bin/env bash
# The install test (ctest install.find_package): installs the build tree
# into a temporary prefix, builds tests/install/consumer against it with
# find_package(agentreg), and runs it.
#   consumer_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
# Only the facade's headers are installed: no CAF, libpqxx or engine internals.
test -f "$tmp/prefix/include/agentreg/agentreg/registry.hpp"
if [ -e "$tmp/prefix/include/agentreg/actors" ] || [ -e "$tmp/prefix/include/agentreg/persistence" ]; then
  echo "engine internals were installed as headers" >&2
  exit 1
fi
cmake -S "$src/tests/install/consumer" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build" -j2
"$tmp/build/consumer"
