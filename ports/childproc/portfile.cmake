# The registry port: builds a pinned source archive. REF and SHA512 change together
# (tests/consumers/source-archive.sh --pin; docs/packaging.md, "Releasing"), and the packaging test
# checks that SHA512 is the hash of `git archive` of REF.
vcpkg_from_github(
    OUT_SOURCE_PATH SOURCE_PATH
    REPO childproc/childproc
    REF 2c8be0471c8d378bb5714b9b8aa90316f6d3ca75
    SHA512 4996e0f9225eaa8e6f2b45b4fa4309cf324bc8730e15ae2f2910b685773c43ac7704f4122cc9f59bc5404e3cf982bac3804b7bb80d765265a7776d55bab2bde0
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
