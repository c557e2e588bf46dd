# The registry port: builds a pinned source archive. REF and SHA512 change together
# (tests/consumers/source-archive.sh --pin; docs/packaging.md, "Releasing"), and the packaging test
# checks that SHA512 is the hash of `git archive` of REF.
vcpkg_from_github(
    OUT_SOURCE_PATH SOURCE_PATH
    REPO childproc/childproc
    REF 0000000000000000000000000000000000000000
    SHA512 0
    HEAD_REF main
)

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
