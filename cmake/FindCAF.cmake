# Finds Debian's libcaf-dev (CAF 0.17.x), which ships no CMake config.
# Provides CAF::core and CAF::io, and CAF_VERSION (e.g. 1706).
# CAF_ROOT points at another build first (scripts/caf-tsan's, for TSan).
if(CAF_ROOT)
  # Found afresh at every configure, so that a tree configured before
  # CAF_ROOT was given does not keep the system's CAF from its cache.
  unset(CAF_INCLUDE_DIR CACHE)
  unset(CAF_CORE_LIBRARY CACHE)
  find_path(CAF_INCLUDE_DIR caf/all.hpp PATHS ${CAF_ROOT}/include NO_DEFAULT_PATH)
  find_library(CAF_CORE_LIBRARY caf_core PATHS ${CAF_ROOT}/lib NO_DEFAULT_PATH)
endif()
find_path(CAF_INCLUDE_DIR caf/all.hpp)
find_library(CAF_CORE_LIBRARY caf_core)
find_library(CAF_IO_LIBRARY caf_io)
if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX REPLACE "^#define CAF_VERSION ([0-9]+).*" "\\1" CAF_VERSION_NUMBER "${_caf_version_line}")
  math(EXPR _caf_major "${CAF_VERSION_NUMBER} / 10000")
  math(EXPR _caf_minor "(${CAF_VERSION_NUMBER} / 100) % 100")
  math(EXPR _caf_patch "${CAF_VERSION_NUMBER} % 100")
  set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_CORE_LIBRARY CAF_IO_LIBRARY CAF_INCLUDE_DIR
  VERSION_VAR CAF_VERSION)
if(CAF_FOUND AND NOT TARGET CAF::core)
  add_library(CAF::core SHARED IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}")
  target_link_libraries(CAF::core INTERFACE Threads::Threads)
  add_library(CAF::io SHARED IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}")
  target_link_libraries(CAF::io INTERFACE CAF::core)
endif()
mark_as_advanced(CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY)
