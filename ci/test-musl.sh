#!/usr/bin/env bash
# ci/test-musl.sh [build-dir] - the whole suite built against musl libc (Debian's musl-gcc) and run
# natively: the library must not lean on glibc. cmocka is built from Debian's source package with the
# same compiler (ci/lib.sh). Ends with ctest's summary line.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dir=${1:-$CP_ROOT/build-ci/musl}
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
ensure_native_deps
ensure_packages musl-tools xz-utils
toolchain=$CP_ROOT/cmake/musl-gcc.cmake
deps=$dir/deps
if [ -d "$CP_ROOT/build-win/deps/src" ] && [ ! -d "$deps/src" ]; then
  mkdir -p "$deps" && cp -r "$CP_ROOT/build-win/deps/src" "$deps/src"
fi
cross_build_cmocka "$toolchain" "$deps/cmocka-musl" "$deps"
log "musl build ($dir)"
native_build "$dir" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_FIND_ROOT_PATH="$deps/cmocka-musl" \
  -DCMAKE_BUILD_TYPE=Debug -DCHILDPROC_TEST_CONSUMERS=OFF
file "$dir/bin/cp-testchild" | grep -q 'statically linked\|interpreter /lib/ld-musl' ||
  echo "note: cp-testchild is $(file -b "$dir/bin/cp-testchild")"
run_ctest_cell "$dir"
