#!/usr/bin/env bash
# ci/test-macos-compile.sh [build-dir] - macOS, compiled here: the library, cprun, the examples and every
# test executable, for aarch64 and x86_64, with zig 0.11's `zig cc` and the macOS SDK headers it ships
# (cmake/zig-*-macos.cmake), warnings as errors; cmocka cross-built from Debian's source as the Windows
# cell does. Then checks that what was built is Mach-O for the right architecture and that the feature
# checks chose the kqueue poller (src/posix/loop_kqueue.c is in the library). Nothing can run
# here: the tests run on macOS only in the GitHub workflow. Ends with a line in ctest's summary form
# (one "test" per architecture: it built everything and every output checked out).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build=${1:-$CP_ROOT/build-ci/macos}
case $build in /*) ;; *) build=$PWD/$build ;; esac
mkdir -p "$build"
ensure_packages cmake ninja-build xz-utils file
ZIG=$(ensure_zig "$CP_ROOT/build-ci/zig")
export ZIG
deps=$build/deps
# The cmocka source package the Windows cell fetched, when there is one (saves an apt round trip).
if [ -d "$CP_ROOT/build-win/deps/src" ] && [ ! -d "$deps/src" ]; then
  mkdir -p "$deps" && cp -r "$CP_ROOT/build-win/deps/src" "$deps/src"
fi

passed=0
failed=0
for arch in aarch64 x86_64; do
  toolchain=$CP_ROOT/cmake/zig-$arch-macos.cmake
  prefix=$deps/cmocka-$arch
  out=$build/$arch
  log "macOS $arch: cmocka"
  cross_build_cmocka "$toolchain" "$prefix" "$deps"
  log "macOS $arch: childproc, cprun, examples, tests (-Werror)"
  if cmake -S "$CP_ROOT" -B "$out" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DCMAKE_FIND_ROOT_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug -DCHILDPROC_WERROR=ON \
    -DCHILDPROC_TEST_CONSUMERS=OFF -Wno-dev >/dev/null && cmake --build "$out" -j "$CP_JOBS"; then
    want=$([ "$arch" = aarch64 ] && echo arm64 || echo x86_64)
    bad=0 n=0
    while IFS= read -r f; do
      n=$((n + 1))
      if ! file -b "$f" | grep -q "Mach-O 64-bit.* $want"; then
        echo "not a $want Mach-O executable: $f ($(file -b "$f"))"
        bad=$((bad + 1))
      fi
    done < <(find "$out/bin" -maxdepth 1 -type f -perm -u+x)
    lib=$(find "$out" -maxdepth 1 -name 'libchildproc*' -type f | head -n 1)
    poller=none
    if [ -n "$lib" ] && "$ZIG" ar t "$lib" | grep -qx 'loop_kqueue.c.o'; then poller=kqueue; fi
    echo "macOS $arch: $n executables checked ($want), library ${lib##*/}, poller $poller"
    if [ "$poller" != kqueue ]; then echo "macOS $arch: the feature checks did not choose the kqueue poller"; fi
    if [ "$bad" -eq 0 ] && [ "$n" -gt 0 ] && [ -n "$lib" ] && [ "$poller" = kqueue ]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
    fi
  else
    echo "macOS $arch: build failed"
    failed=$((failed + 1))
  fi
done
total=$((passed + failed))
echo "$((total ? passed * 100 / total : 0))% tests passed, $failed tests failed out of $total"
[ "$failed" -eq 0 ]
