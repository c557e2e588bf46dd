#!/usr/bin/env bash
# ci/test-kqueue-emul.sh [build-dir] - the whole suite on the kqueue poller (src/posix/loop_kqueue.c: descriptors
# by EVFILT_READ/WRITE, child exits by EVFILT_PROC/NOTE_EXIT, cp_loop_fd() the kqueue descriptor) with the
# rest of the portable POSIX backend, built on Linux against tests/support/kqueue_emul - an emulation of
# that kqueue subset on epoll and pidfds (-DCHILDPROC_KQUEUE_EMULATION=ON). Linux has no kqueue and
# Debian no libkqueue package: real kqueue runs only in the GitHub macOS and FreeBSD jobs. Then checks
# with `nm -u` that libchildproc.a references kqueue and kevent and none of the Linux-only calls (the
# emulation is a library of its own beside it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-$CP_ROOT/build-ci/kqueue-emul}
ensure_native_deps
log "kqueue poller on the emulation ($dir)"
native_build "$dir" -DCMAKE_BUILD_TYPE=Debug -DCHILDPROC_PORTABLE_POSIX=ON -DCHILDPROC_KQUEUE_EMULATION=ON \
  -DCHILDPROC_TEST_CONSUMERS=OFF

log "nm -u: libchildproc.a uses kqueue and kevent, and no Linux-only symbol"
undefined=$(nm -u "$dir/libchildproc.a" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
forbidden='^(clone|clone3|pidfd_[a-z_]+|epoll_[a-z_0-9]+|prctl|pipe2|ppoll|sigtimedwait|close_range|syscall)$'
found=$(grep -E "$forbidden" <<<"$undefined" || true)
if [ -n "$found" ]; then
  echo "the kqueue build references symbols it must not:" >&2
  echo "$found" >&2
  exit 1
fi
for sym in kqueue kevent; do
  if ! grep -qx "$sym" <<<"$undefined"; then
    echo "libchildproc.a does not reference $sym: the kqueue poller was not built" >&2
    exit 1
  fi
done
echo "nm check: kqueue and kevent referenced; none of clone, pidfd_*, epoll_*, prctl, pipe2, ppoll, sigtimedwait, close_range, syscall"

run_ctest_cell "$dir"
