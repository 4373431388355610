# -DAGENTREG_SANITIZE=address,undefined  or  -DAGENTREG_SANITIZE=thread
if(AGENTREG_SANITIZE)
  message(STATUS "agentreg: building with -fsanitize=${AGENTREG_SANITIZE}")
  # No -g here: the build type chooses the debug info (RelWithDebInfo: -g1,
  # see AGENTREG_LINE_TABLES_ONLY; line tables give the file:line of every
  # report frame).
  add_compile_options(-fsanitize=${AGENTREG_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${AGENTREG_SANITIZE})
  if(AGENTREG_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
