# The development overlay port: builds this source tree as it is (SOURCE_PATH is the checkout that
# holds the port). vcpkg's package ABI hash does not cover that tree, so install it with --editable
# (no binary cache for it) after `vcpkg remove childproc`; docs/packaging.md has the commands.
# Everything after SOURCE_PATH is the registry port's (ports/childproc/portfile.cmake).
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DCHILDPROC_BUILD_TESTS=OFF
        -DCHILDPROC_BUILD_EXAMPLES=OFF
        -DCHILDPROC_BUILD_TOOLS=OFF
)
vcpkg_cmake_install()
vcpkg_copy_pdbs()
vcpkg_cmake_config_fixup(CONFIG_PATH lib/cmake/childproc)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include")

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
