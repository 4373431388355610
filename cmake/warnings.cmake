# agentreg_warnings(target): the warning set every target of ours builds with.
# Third-party headers come in as SYSTEM includes, so these apply to our code only.
function(agentreg_warnings target)
  # -Wshadow=local is gcc's; clang (the fuzz tree) has no such option.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>
                                           -Wnon-virtual-dtor -Wno-missing-field-initializers)
endfunction()
