# StaticHeader.cmake - the header a static build installs: include/childproc.h with CHILDPROC_STATIC
# defined ahead of the CP_API block, so users need no -DCHILDPROC_STATIC of their own.

# childproc_static_header(<source header> <output header>): writes the output at configure time
# (rewritten only when its text changes) and re-runs the configure step when the source changes.
function(childproc_static_header src out)
  file(READ "${src}" text)
  set(anchor "\n#if defined(_WIN32)\n#if defined(CHILDPROC_STATIC)\n")
  string(FIND "${text}" "${anchor}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${src}: the CP_API block (#if defined(_WIN32) / #if defined(CHILDPROC_STATIC)) "
                        "was not found; cmake/StaticHeader.cmake must learn where to define CHILDPROC_STATIC")
  endif()
  string(REPLACE "${anchor}"
    "\n/* Installed from a static build of childproc: its users need no -DCHILDPROC_STATIC. */\n#ifndef CHILDPROC_STATIC\n#define CHILDPROC_STATIC 1\n#endif\n#if defined(_WIN32)\n#if defined(CHILDPROC_STATIC)\n"
    text "${text}")
  file(WRITE "${out}.tmp" "${text}")
  configure_file("${out}.tmp" "${out}" COPYONLY) # keeps the timestamp when nothing changed
  file(REMOVE "${out}.tmp")
  set_property(DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${src}")
endfunction()
