# Cross-compile for x86_64 macOS with zig cc: see zig-macos.cmake.
set(CP_ZIG_ARCH x86_64)
include(${CMAKE_CURRENT_LIST_DIR}/zig-macos.cmake)
