# -DAGENTREG_SANITIZE=address,undefined  or  -DAGENTREG_SANITIZE=thread
if(AGENTREG_SANITIZE)
  message(STATUS "agentreg: building with -fsanitize=${AGENTREG_SANITIZE}")
  # No -g here: the build type chooses the debug info (RelWithDebInfo: -g;
  # scripts/test's ASan tree: -O1 -g1, line tables only, enough for the
  # file:line of every report frame at a fraction of the compile cost).
  add_compile_options(-fsanitize=${AGENTREG_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${AGENTREG_SANITIZE})
  if(AGENTREG_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
