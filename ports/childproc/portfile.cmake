# vcpkg overlay port: `vcpkg install childproc --overlay-ports=<repo>/ports`.
# Builds from this source tree (the port sits inside it); a registry port would use
# vcpkg_from_github() with a release tag instead of the SOURCE_PATH below.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DCHILDPROC_BUILD_TESTS=OFF
    -DCHILDPROC_BUILD_EXAMPLES=OFF
    -DCHILDPROC_BUILD_TOOLS=OFF
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME childproc CONFIG_PATH lib/cmake/childproc)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
