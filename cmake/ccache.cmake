# Use ccache when it is installed: a rebuild after a small change then takes
# seconds. Paths under the source tree are hashed relative to it and the
# working directory not at all, so a fresh clone elsewhere on the same machine
# (CI's, a worktree) reuses what another clone compiled. The price: the debug
# info of an object taken from the cache names the directory it was first
# compiled in (same relative paths, another root).
# Only when agentreg is the top-level project and no launcher was chosen: a
# user's add_subdirectory(agentreg) keeps its own (sccache, another ccache
# setup).
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM AND PROJECT_IS_TOP_LEVEL AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      env "CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}" CCACHE_NOHASHDIR=true ${CCACHE_PROGRAM})
endif()
