# Use ccache when it is installed: a rebuild after a small change then takes
# seconds. Paths under the source tree are hashed relative to it and the
# working directory not at all, so a fresh clone elsewhere on the same machine
# (CI's, a worktree) reuses what another clone compiled. The price: the debug
# info of an object taken from the cache names the directory it was first
# compiled in (same relative paths, another root).
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      env "CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}" CCACHE_NOHASHDIR=true ${CCACHE_PROGRAM})
endif()
