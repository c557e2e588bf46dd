# The registry port: builds a pinned source archive. REF and SHA512 change together
# (tests/consumers/source-archive.sh --pin; docs/packaging.md, "Releasing"), and the packaging test
# checks that SHA512 is the hash of `git archive` of REF.
vcpkg_from_github(
    OUT_SOURCE_PATH SOURCE_PATH
    REPO childproc/childproc
    REF a6f477fc1aa6cab16ab3c47ab803e3fb7e7f655c
    SHA512 2cf07d0116b883e9e141543ff4ff648537978bd6d07d6ed3eb49a485de2470df475a89923950b75471b892f1dea054ba9b3f41da0ea90c31860f8d76fd11440f
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
