#!/usr/bin/env bash
# ci/test-tsan.sh [build-dir] - ThreadSanitizer (clang) on the threaded tests: 8 threads spawning on
# their own loops, the loop and the channel suites. Under TSan children start with fork() (TSan
# cannot follow a CLONE_VM child), so the per-thread count is smaller than in the native cell.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-$CP_ROOT/build-ci/tsan}
ensure_native_deps
ensure_packages clang libclang-rt-14-dev
log "ThreadSanitizer build ($dir)"
CC=clang native_build "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCHILDPROC_TEST_CONSUMERS=OFF \
  -DCHILDPROC_BUILD_EXAMPLES=OFF -DCHILDPROC_BUILD_TOOLS=OFF
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
export CP_THREAD_SPAWNS=${CP_THREAD_SPAWNS:-100}
run_ctest_cell "$dir" -R '^(test_threads|test_loop|test_channel)$'
