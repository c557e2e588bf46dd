#!/usr/bin/env bash
# ci/test-native.sh [build-dir] - the native Debug build, -std=c11 -pedantic -Werror, and its ctest run
# (library, cprun, examples, tests, consumer and packaging checks).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-$CP_ROOT/build-ci/native}
ensure_native_deps
log "native build ($dir)"
native_build "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-pedantic # -std=c11 comes from the project
run_ctest_cell "$dir"
