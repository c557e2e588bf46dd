# Cross-compile for aarch64 macOS with zig cc: see zig-macos.cmake.
set(CP_ZIG_ARCH aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/zig-macos.cmake)
