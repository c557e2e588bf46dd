# Build for Linux with musl libc through Debian's musl-gcc wrapper (package musl-tools); the programs
# run natively. Used by ci/test-musl.sh; cmocka is built with it too (musl-gcc does not see the
# system's glibc-built libraries or headers).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER musl-gcc)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
