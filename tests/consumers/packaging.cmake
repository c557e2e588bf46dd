# packaging.cmake - what can be checked here of the packaging files that only GitHub's CI runs for
# real (vcpkg, conan, the workflow): every file parses, the workflow names only ci/ scripts that
# exist, and an install made the way the vcpkg port and the conan recipe make it has the package
# config, the version file and the pkg-config module where their helpers look.
# Variables: SOURCE_DIR WORK_DIR GENERATOR PYTHON
cmake_minimum_required(VERSION 3.25)

include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)

foreach(json vcpkg.json ports/childproc/vcpkg.json)
  file(READ ${SOURCE_DIR}/${json} text)
  string(JSON name GET "${text}" name)
  message(STATUS "${json}: name ${name}")
endforeach()
file(READ ${SOURCE_DIR}/ports/childproc/vcpkg.json port)
string(JSON port_version GET "${port}" version-semver)
file(READ ${SOURCE_DIR}/VERSION version)
string(STRIP "${version}" version)
if(NOT port_version STREQUAL version)
  message(FATAL_ERROR "ports/childproc/vcpkg.json has ${port_version}, VERSION has ${version}")
endif()

run(${CMAKE_COMMAND} --list-presets=all -S ${SOURCE_DIR})
# A preset configures (into a scratch directory, not the preset's own).
execute_process(COMMAND ${CMAKE_COMMAND} --preset release -B ${WORK_DIR}/preset -DCHILDPROC_TEST_CONSUMERS=OFF
                        -DCHILDPROC_BUILD_TESTS=OFF
                WORKING_DIRECTORY ${SOURCE_DIR} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --preset release failed:\n${out}")
endif()

# The version lives in VERSION; the header's copy must agree.
file(STRINGS ${SOURCE_DIR}/include/childproc.h header_version REGEX "define CHILDPROC_VERSION_STRING")
if(NOT header_version MATCHES "\"${version}\"")
  message(FATAL_ERROR "include/childproc.h says ${header_version}, VERSION says ${version}")
endif()
if(PYTHON)
  foreach(py conanfile.py test_package/conanfile.py)
    run(${PYTHON} -c "import ast, sys; ast.parse(open(sys.argv[1]).read())" ${SOURCE_DIR}/${py})
  endforeach()
endif()

file(READ ${SOURCE_DIR}/.github/workflows/ci.yml workflow)
string(REGEX MATCHALL "ci/[A-Za-z0-9_.-]+\\.sh" scripts "${workflow}")
string(REGEX MATCHALL "ci/test-\\$\\{\\{ matrix.cell \\}\\}\\.sh" templated "${workflow}")
if(templated)
  foreach(cell native sanitizers poll)
    list(APPEND scripts ci/test-${cell}.sh)
  endforeach()
endif()
list(REMOVE_DUPLICATES scripts)
foreach(s IN LISTS scripts)
  if(NOT EXISTS ${SOURCE_DIR}/${s})
    message(FATAL_ERROR "the workflow names ${s}, which does not exist")
  endif()
  message(STATUS "workflow script ${s}: present")
endforeach()

# The vcpkg port's and the conan recipe's configure: no tests, examples or tools; then install.
file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
    -DCHILDPROC_BUILD_TESTS=OFF -DCHILDPROC_BUILD_EXAMPLES=OFF -DCHILDPROC_BUILD_TOOLS=OFF
    -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/stage)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build -j 2)
run(${CMAKE_COMMAND} --install ${WORK_DIR}/build)
foreach(f include/childproc.h lib/cmake/childproc/childprocConfig.cmake
          lib/cmake/childproc/childprocConfigVersion.cmake lib/cmake/childproc/childprocTargets.cmake
          lib/pkgconfig/childproc.pc)
  if(NOT EXISTS ${WORK_DIR}/stage/${f})
    message(FATAL_ERROR "install is missing ${f}")
  endif()
endforeach()
message(STATUS "packaging files check out")
