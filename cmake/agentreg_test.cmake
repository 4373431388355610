# agentreg_test_executable(name SOURCES ... LIBS ...)
#   One Boost.Test executable per tests/ folder, linked against the shared
#   Boost.Test library (a test file then compiles in seconds, not ~40 s).
# agentreg_test_suite(exe SUITE suite LABELS ... [TIMEOUT s])
#   Registers one Boost.Test suite of that executable with CTest as
#   "<exe>.<suite>", under the given labels (unit, stress, integration...).
function(agentreg_test_executable name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  target_link_libraries(${name} PRIVATE ${T_LIBS} Boost::unit_test_framework)
  agentreg_warnings(${name})
endfunction()

function(agentreg_test_suite exe)
  cmake_parse_arguments(T "" "SUITE;TIMEOUT" "LABELS;ENV" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_test(NAME ${exe}.${T_SUITE}
           COMMAND ${exe} --run_test=${T_SUITE} --log_level=test_suite --report_level=short)
  set_tests_properties(${exe}.${T_SUITE} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                       ENVIRONMENT "BOOST_TEST_COLOR_OUTPUT=no;${T_ENV}")
  if("tsan" IN_LIST T_LABELS)
    add_dependencies(agentreg_stress_tests ${exe})
  endif()
  if("asan" IN_LIST T_LABELS)
    add_dependencies(agentreg_asan_tests ${exe})
  endif()
endfunction()
