#!/usr/bin/env bash
# ci/test-coverage.sh [build-root] - line and branch coverage of src/ and tools/ over the union of
# four runs of the whole suite, each built with gcc --coverage -fprofile-update=atomic (children and
# threads update the counters safely) and CP_COVERAGE (processes of ours that leave by _exit write
# their counters first): the native build (epoll, pidfd, clone); poll-sigchld (the poll() backend and
# the SIGCHLD exit path forced); portable (CHILDPROC_PORTABLE_POSIX: posix_spawn/fork+exec,
# spawn_portable.c); fork (CP_SPAWN_ALWAYS_FORK: every child started by fork(), the path
# ThreadSanitizer builds take). Every run includes the syscall fault-injection sweep
# (-DCHILDPROC_TEST_SYSCALL_FAULTS=ON, tests/fault/test_fault_sys.c). Prints a per-file table of
# lines and branches (gcovr's data of each run, their union by ci/coverage_table.py: a line or branch
# is counted once, covered if any run covered it), the uncovered lines and the totals; ends with one
# ctest-style summary line over the four runs. Targets (issue 14): lines >= 95%, branches >= 85%;
# they are reported, not enforced. Last measured (this script, 2 cores, 3 min 27 s): lines 96.9%
# (4384/4522), branches 85.6% (3376/3942) - the note printed at the end says what stays uncovered.
# Excluded from the count (LCOV_EXCL_LINE): only the _exit after __gcov_dump in posix.h and cprun.c.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
root=${1:-$CP_ROOT/build-ci/coverage}
ensure_native_deps
ensure_packages gcovr
flags="--coverage -fprofile-update=atomic -DCP_COVERAGE=1"
passed=0 failed=0 total=0 rc_all=0

run_variant() {
  local name=$1 dir=$root/$1 out rc line
  shift
  log "coverage build: $name ($dir)"
  native_build "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS=--coverage \
    -DCHILDPROC_TEST_CONSUMERS=OFF -DCHILDPROC_TEST_SYSCALL_FAULTS=ON "$@"
  find "$dir" -name '*.gcda' -delete
  out=$(mktemp)
  set +e
  run_ctest_cell "$dir" -j "$CP_JOBS" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || rc_all=1
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -n 1 || true)
  if [ -n "$line" ]; then
    local f t
    f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    t=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$((total + t))
    failed=$((failed + f))
  else
    rc_all=1
  fi
  rm -f "$out"
  (cd "$dir" && gcovr -r "$CP_ROOT" --object-directory "$dir" --filter "$CP_ROOT/src/" \
    --filter "$CP_ROOT/tools/" --exclude "$CP_ROOT/src/win32/" --gcov-ignore-parse-errors \
    --json -o "$root/$name.json" .)
}

mkdir -p "$root"
run_variant native
run_variant poll-sigchld -DCHILDPROC_FORCE_POLL=ON -DCHILDPROC_FORCE_SIGCHLD=ON
run_variant portable -DCHILDPROC_PORTABLE_POSIX=ON
run_variant fork -DCMAKE_C_FLAGS="$flags -DCP_SPAWN_ALWAYS_FORK=1"

log "coverage of src/ and tools/ (union of the native, poll/SIGCHLD, portable and fork runs)"
python3 "$CP_ROOT/ci/coverage_table.py" "$root/native.json" "$root/poll-sigchld.json" "$root/portable.json" "$root/fork.json"
cat <<'NOTE'
What stays uncovered (the lines above), and why: src/win32 is measured under Wine, not here. Failures
no test can provoke on one machine: a lower stdio slot closed by another thread inside
posix_reserve_stdio, /proc not mounted, pthread_atfork failing, the environment changing under
environ's copy, pidfd_open missing from the kernel (the probe remembers that for the process), a
stray errno (posix_error(0)). Two faults at once (the sweeps fail one call per run): both ends of a
pair failing to move above stdio, a poller failing 16 turns in a row in a sync call (sync.c gives up).
Child-side moves of descriptors numbered below 3 or on the channel's target that only collide with
numbers a user chooses (src/posix/child.c), and code after exec or _exit. Unreachable by
construction: spawn.h's pidfd stubs in the portable build, the CP_STDIO_CHANNEL arm of spawn.c
(shared code turns it into channel_fd). Rarer paths of the pool, channel and request layers
(cancelling a deferred call that is not first, a pool freed inside its own callbacks, partial
messages when memory runs out outside the swept scenarios), and cprun's read error after the start.
NOTE
passed=$((total - failed))
percent=$((total ? passed * 100 / total : 0))
[ "$failed" -gt 0 ] && [ "$percent" -gt 99 ] && percent=99
echo "${percent}% tests passed, ${failed} tests failed out of ${total}"
exit $rc_all
