#!/usr/bin/env bash
# ci/test-sanitizers.sh [build-dir] - the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (LeakSanitizer included), with every report a failure; with the allocation and the syscall
# fault-injection sweeps (tests/fault: test_fault_alloc, test_fault_sys).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-$CP_ROOT/build-ci/asan}
ensure_native_deps
log "sanitizer build ($dir)"
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
native_build "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" -DCHILDPROC_TEST_CONSUMERS=OFF \
  -DCHILDPROC_TEST_SYSCALL_FAULTS=ON
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
run_ctest_cell "$dir" || rc=$?
# The closing lines of the fault-injection (allocation and syscall) and limits suites (issue 14):
# injection points swept per scenario, and what each spawn shape gave at each limit.
grep -hE '^(fault sweep|nofile |nproc |after lifting)' "$dir/Testing/Temporary/LastTest.log" || true
exit $rc
