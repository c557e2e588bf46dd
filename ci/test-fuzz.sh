#!/usr/bin/env bash
# ci/test-fuzz.sh [build-dir] [seconds] - the libFuzzer targets (clang), each for a bounded time
# (default 20 s) under ASan+UBSan. For a long run: build-ci/fuzz/bin/fuzz_channel -max_total_time=3600
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-$CP_ROOT/build-ci/fuzz}
seconds=${2:-20}
ensure_native_deps
ensure_packages clang libclang-rt-14-dev
log "fuzz build ($dir)"
CC=clang native_build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHILDPROC_BUILD_TESTS=OFF \
  -DCHILDPROC_BUILD_EXAMPLES=OFF -DCHILDPROC_BUILD_TOOLS=OFF -DCHILDPROC_BUILD_FUZZ=ON \
  -DCHILDPROC_FUZZ_SECONDS="$seconds" -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined"
set +e
ctest --test-dir "$dir" --output-on-failure --timeout 600 -L fuzz
rc=$?
set -e
log "fuzz executions"
awk '/^[0-9]+\/[0-9]+ Testing: /{name=$3} /stat::number_of_executed_units/{print name ": " $2 " executions"}' \
  "$dir/Testing/Temporary/LastTest.log"
exit $rc
