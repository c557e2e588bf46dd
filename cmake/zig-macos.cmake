# Cross-compile for macOS with `zig cc` (zig 0.11 ships the macOS SDK headers and links Mach-O).
# Nothing built this way can run here: the macOS compile cell (ci/test-macos-compile.sh) only builds.
# Used through the two per-architecture files beside this one, which set CP_ZIG_ARCH first.
# The zig executable comes from -DCP_ZIG=<path> or $ZIG (ci/lib.sh's ensure_zig installs it).
set(CMAKE_SYSTEM_NAME Darwin)
set(CMAKE_SYSTEM_PROCESSOR ${CP_ZIG_ARCH})
if(NOT CP_ZIG)
  set(CP_ZIG "$ENV{ZIG}")
endif()
if(NOT CP_ZIG OR NOT EXISTS "${CP_ZIG}")
  message(FATAL_ERROR "zig-macos: set -DCP_ZIG=/path/to/zig or ZIG in the environment")
endif()
# CMake passes the toolchain's variables on to try_compile projects only when told to.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CP_ZIG CP_ZIG_ARCH)
# zig cc takes the target as an option; CMake wants one program per tool: small wrapper scripts.
set(_cp_zig_bin "${CMAKE_BINARY_DIR}/zig-wrappers-${CP_ZIG_ARCH}")
file(MAKE_DIRECTORY "${_cp_zig_bin}")
file(WRITE "${_cp_zig_bin}/cc" "#!/bin/sh\nexec \"${CP_ZIG}\" cc -target ${CP_ZIG_ARCH}-macos \"$@\"\n")
file(WRITE "${_cp_zig_bin}/ar" "#!/bin/sh\nexec \"${CP_ZIG}\" ar \"$@\"\n")
file(WRITE "${_cp_zig_bin}/ranlib" "#!/bin/sh\nexec \"${CP_ZIG}\" ranlib \"$@\"\n")
file(CHMOD "${_cp_zig_bin}/cc" "${_cp_zig_bin}/ar" "${_cp_zig_bin}/ranlib"
     PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CMAKE_C_COMPILER "${_cp_zig_bin}/cc")
set(CMAKE_AR "${_cp_zig_bin}/ar" CACHE FILEPATH "" FORCE)
set(CMAKE_RANLIB "${_cp_zig_bin}/ranlib" CACHE FILEPATH "" FORCE)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
