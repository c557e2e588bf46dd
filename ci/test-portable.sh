#!/usr/bin/env bash
# ci/test-portable.sh [build-dir] - the whole suite on the portable POSIX backend (CHILDPROC_PORTABLE_POSIX:
# posix_spawn / fork+exec, poll(), SIGCHLD, pipe+fcntl - the code paths macOS and the BSDs take), then a
# check with `nm -u` that the library references none of the Linux-only calls.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-$CP_ROOT/build-ci/portable}
ensure_native_deps
log "portable POSIX build ($dir)"
native_build "$dir" -DCMAKE_BUILD_TYPE=Debug -DCHILDPROC_PORTABLE_POSIX=ON -DCHILDPROC_TEST_CONSUMERS=OFF

log "nm -u: no Linux-only symbol in libchildproc.a"
forbidden='^(clone|clone3|pidfd_[a-z_]+|epoll_[a-z_0-9]+|prctl|pipe2|ppoll|sigtimedwait|close_range|syscall)(@.*)?$'
found=$(nm -u "$dir/libchildproc.a" | awk '{print $NF}' | grep -E "$forbidden" | sort -u || true)
if [ -n "$found" ]; then
  echo "portable build references Linux-only symbols:" >&2
  echo "$found" >&2
  exit 1
fi
echo "nm check: none of clone, pidfd_*, epoll_*, prctl, pipe2, ppoll, sigtimedwait, close_range, syscall referenced ($(nm -u "$dir/libchildproc.a" | awk '{print $NF}' | sort -u | wc -l) undefined symbols looked at)"

run_ctest_cell "$dir"
