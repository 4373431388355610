# install() rules: `cmake --install build --prefix P` puts the facade's
# headers under P/include/agentreg, the static libraries under P/lib, and a
# package config under P/lib/cmake/agentreg, so that a user's project does
#   find_package(agentreg 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE agentreg::agentreg)
# The facade links the engine's libraries privately, but they are static, so
# every one is installed and exported (as $<LINK_ONLY:...> dependencies);
# the config finds what they link: CAF (with our FindCAF), Boost.JSON,
# libpqxx (pkg-config) and Threads.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_agentreg_targets agentreg agentreg_core agentreg_index agentreg_messages agentreg_actors agentreg_persistence)
foreach(target IN LISTS _agentreg_targets)
  string(REGEX REPLACE "^agentreg_" "" export_name ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
endforeach()

set(AGENTREG_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/agentreg)
install(TARGETS ${_agentreg_targets} EXPORT agentreg_targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/agentreg)
# The facade's header and the core headers it includes (the closure: a
# consumer test compiles against the installed tree, so a missing one fails).
install(FILES agentreg/registry.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/agentreg/agentreg)
install(FILES core/change_log.hpp core/clock.hpp core/config.hpp core/error.hpp core/heartbeat.hpp core/metrics.hpp core/types.hpp
              core/uuid.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/agentreg/core)
install(EXPORT agentreg_targets NAMESPACE agentreg:: DESTINATION ${AGENTREG_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/agentregConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/agentregConfig.cmake
                              INSTALL_DESTINATION ${AGENTREG_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/agentregConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/agentregConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/agentregConfigVersion.cmake
              cmake/FindCAF.cmake
        DESTINATION ${AGENTREG_INSTALL_CMAKEDIR})
