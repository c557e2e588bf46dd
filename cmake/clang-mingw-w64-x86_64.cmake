# Cross-compile for 64-bit Windows with clang and the mingw-w64 headers, libraries and GNU linker
# (the second compiler of the Windows build): the gcc toolchain file, with clang as the compiler.
include(${CMAKE_CURRENT_LIST_DIR}/mingw-w64-x86_64.cmake)
# Without a sysroot clang also searches the host's /usr/include and /usr/lib.
set(CMAKE_SYSROOT /usr/${TOOLCHAIN_PREFIX})
set(CMAKE_C_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET ${TOOLCHAIN_PREFIX})
set(CMAKE_AR ${TOOLCHAIN_PREFIX}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${TOOLCHAIN_PREFIX}-ranlib CACHE FILEPATH "")
# clang does not recognise Debian's gcc directory name ("12-win32"): point it at libgcc itself.
execute_process(COMMAND ${TOOLCHAIN_PREFIX}-gcc -print-libgcc-file-name
                OUTPUT_VARIABLE _cp_libgcc OUTPUT_STRIP_TRAILING_WHITESPACE)
get_filename_component(_cp_libgcc_dir "${_cp_libgcc}" DIRECTORY)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-L${_cp_libgcc_dir}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-L${_cp_libgcc_dir}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-L${_cp_libgcc_dir}")
