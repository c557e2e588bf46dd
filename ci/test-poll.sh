#!/usr/bin/env bash
# ci/test-poll.sh [build-dir] - the suite with the portable poll() backend and the SIGCHLD exit path
# forced (what macOS, the BSDs and old Linux kernels use), so both are exercised on Linux too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-$CP_ROOT/build-ci/poll}
ensure_native_deps
log "poll() backend build ($dir)"
native_build "$dir" -DCMAKE_BUILD_TYPE=Debug -DCHILDPROC_FORCE_POLL=ON -DCHILDPROC_FORCE_SIGCHLD=ON -DCHILDPROC_TEST_CONSUMERS=OFF
run_ctest_cell "$dir"
