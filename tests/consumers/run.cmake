# run.cmake - one consumer check, run by ctest as `cmake -P`:
#   builds childproc from SOURCE_DIR (shared or static), installs it into a staging prefix, builds
#   the consumer project the chosen way, and runs it (through EMULATOR when cross-compiling).
# Variables: SOURCE_DIR WORK_DIR CONSUME(package|subdirectory|pkgconfig) SHARED(ON|OFF)
#            TOOLCHAIN_FILE (optional) FIND_ROOT (optional) EMULATOR (optional) GENERATOR
cmake_minimum_required(VERSION 3.25)

include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)

set(cross_args)
if(TOOLCHAIN_FILE)
  list(APPEND cross_args -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN_FILE})
endif()
if(FIND_ROOT)
  list(APPEND cross_args -DCMAKE_FIND_ROOT_PATH=${FIND_ROOT})
endif()
set(stage ${WORK_DIR}/stage)
file(REMOVE_RECURSE ${WORK_DIR})

if(NOT CONSUME MATCHES "^(subdirectory|fetchcontent)$")
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/lib -G ${GENERATOR} ${cross_args}
      -DBUILD_SHARED_LIBS=${SHARED} -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=${stage}
      -DCHILDPROC_BUILD_TESTS=OFF -DCHILDPROC_BUILD_EXAMPLES=OFF -DCHILDPROC_BUILD_TOOLS=OFF)
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/lib -j 2)
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/lib)
endif()

set(consumer_args -DCONSUME=${CONSUME} -DBUILD_SHARED_LIBS=${SHARED})
if(CONSUME STREQUAL "package")
  # With a toolchain the find root is where packages are looked for: put the stage there too.
  if(TOOLCHAIN_FILE)
    list(APPEND consumer_args "-DCMAKE_FIND_ROOT_PATH=${stage};${FIND_ROOT}")
  endif()
  list(APPEND consumer_args -DCMAKE_PREFIX_PATH=${stage})
elseif(CONSUME MATCHES "^(subdirectory|fetchcontent)$")
  list(APPEND consumer_args -DCHILDPROC_SOURCE_DIR=${SOURCE_DIR})
elseif(CONSUME STREQUAL "pkgconfig")
  if(TOOLCHAIN_FILE) # the toolchain re-roots -L directories under the find root: make the stage one
    list(APPEND consumer_args "-DCMAKE_FIND_ROOT_PATH=${stage};${FIND_ROOT}")
  endif()
  set(ENV{PKG_CONFIG_LIBDIR} ${stage}/lib/pkgconfig)
  set(ENV{PKG_CONFIG_PATH} "")
endif()
run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/consumer -B ${WORK_DIR}/consumer -G ${GENERATOR}
    ${cross_args} ${consumer_args} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer -j 2)

set(exe ${WORK_DIR}/consumer/consumer)
if(TOOLCHAIN_FILE)
  set(exe ${exe}.exe)
  if(SHARED) # the DLL must sit next to the program (or on PATH) on Windows
    file(GLOB_RECURSE dlls ${stage}/bin/*.dll ${WORK_DIR}/consumer/*.dll)
    file(COPY ${dlls} DESTINATION ${WORK_DIR}/consumer)
  endif()
endif()
run(${EMULATOR} ${exe})
message(STATUS "${CONSUME} shared=${SHARED}: ${last_output}")
if(NOT last_output MATCHES "consumer-ok")
  message(FATAL_ERROR "the consumer did not report consumer-ok")
endif()
