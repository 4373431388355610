# -DAGENTREG_SANITIZE=address,undefined  or  -DAGENTREG_SANITIZE=thread
if(AGENTREG_SANITIZE)
  message(STATUS "agentreg: building with -fsanitize=${AGENTREG_SANITIZE}")
  add_compile_options(-fsanitize=${AGENTREG_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${AGENTREG_SANITIZE})
  if(AGENTREG_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
