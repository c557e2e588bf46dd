#!/usr/bin/env bash
# ci/test.sh - every test of the project, one cell after another: native (-pedantic), ASan+UBSan (with
# the allocation and syscall fault-injection sweeps), the poll()/SIGCHLD backend, ThreadSanitizer, the
# fuzz targets, the Windows build under Wine, musl, coverage (native, poll/SIGCHLD, portable and
# always-fork runs again, instrumented, with the syscall sweep), the portable POSIX backend
# (posix_spawn/fork+exec, with its nm check), the same on the kqueue poller built against the
# test-only kqueue emulation, and macOS compiled with zig.
# Installs what is missing (Debian packages, and the CMocka source for the mingw build). Ends with one
# line in ctest's summary form, "P% tests passed, F tests failed out of N", over the ctest runs of all
# cells (and the bench smoke run), and exits non-zero if any cell failed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
start=$(date +%s)
CP_TOTAL_SKIPPED=0

run_cell() {
  local label=$1 script=$2 out rc
  shift 2
  log "cell: $label"
  out=$(mktemp)
  set +e
  bash "$CP_ROOT/ci/$script" "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  count_ctest "$label" "$out" "$rc"
  local skipped
  skipped=$(grep -E '^skipped test cases: [0-9]+' "$out" | tail -n 1 | grep -oE '[0-9]+$' || true)
  CP_TOTAL_SKIPPED=$((CP_TOTAL_SKIPPED + ${skipped:-0}))
  rm -f "$out"
}

cells=(native:test-native.sh sanitizers:test-sanitizers.sh poll-backend:test-poll.sh tsan:test-tsan.sh
  fuzz:test-fuzz.sh windows-wine:test-windows.sh musl:test-musl.sh coverage:test-coverage.sh
  portable-posix:test-portable.sh kqueue-emul:test-kqueue-emul.sh macos-compile:test-macos-compile.sh)
for cell in "${cells[@]}"; do
  run_cell "${cell%%:*}" "${cell#*:}"
done

# The benchmarks are not tests; a quick smoke run proves they still build and run (issue 5).
log "bench smoke: bench/run.sh --quick --no-big"
mkdir -p "$CP_ROOT/build-ci"
if bash "$CP_ROOT/bench/run.sh" --quick --no-big >"$CP_ROOT/build-ci/bench-smoke.log" 2>&1; then
  echo "bench smoke: ok (table in build-ci/bench-smoke.log)"
  CP_TOTAL_PASSED=$((CP_TOTAL_PASSED + 1))
else
  tail -n 30 "$CP_ROOT/build-ci/bench-smoke.log"
  CP_CELLS_FAILED+=("bench-smoke")
  CP_TOTAL_FAILED=$((CP_TOTAL_FAILED + 1))
fi

echo
echo "cells: ${cells[*]%%:*} bench-smoke ($(($(date +%s) - start)) s)"
if [ ${#CP_CELLS_FAILED[@]} -ne 0 ]; then
  echo "failed cells: ${CP_CELLS_FAILED[*]}"
fi
echo "skipped test cases (inside passing suites, each with its reason above): ${CP_TOTAL_SKIPPED}"
# The closing line, in ctest's own summary form, over every cell's ctest run (and the bench smoke).
total=$((CP_TOTAL_PASSED + CP_TOTAL_FAILED))
percent=$((total ? CP_TOTAL_PASSED * 100 / total : 0))
[ "$CP_TOTAL_FAILED" -gt 0 ] && [ "$percent" -gt 99 ] && percent=99
echo "${percent}% tests passed, ${CP_TOTAL_FAILED} tests failed out of ${total}"
[ ${#CP_CELLS_FAILED[@]} -eq 0 ]
