/* test_kqueue_semantics.c - the kqueue behaviour src/posix/loop_kqueue.c relies on, checked on the kqueue
 * this build uses: the real one on macOS and the BSDs (the GitHub jobs), the emulation in
 * tests/support/kqueue_emul on Linux (ci/test-kqueue-emul.sh). The same cases on both keep the
 * emulation honest. Built only where the poller is kqueue (tests/CMakeLists.txt). */
#include "cptest.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static const struct timespec zero = {0, 0};
static const struct timespec ten_s = {10, 0};

static int new_kq(void) {
  int kq = kqueue();
  assert_true(kq >= 0);
  return kq;
}

static pid_t child_exiting_with(int code) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(code);
  return pid;
}

static void reap(pid_t pid) {
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
}

/* A failed change with room in the event list comes back as EV_ERROR with data = errno (and kevent
 * returns at once); without room kevent fails with that errno. */
static void failed_change_is_reported_as_ev_error_or_errno(void **state) {
  (void)state;
  int kq = new_kq();
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)fds[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
  assert_int_equal(kevent(kq, &ch, 1, &out, 1, &ten_s), 1);
  assert_true(out.flags & EV_ERROR);
  assert_int_equal(out.data, ENOENT);
  assert_int_equal(out.ident, (uintptr_t)fds[0]);
  assert_int_equal(out.filter, EVFILT_READ);
  errno = 0;
  assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), -1);
  assert_int_equal(errno, ENOENT);
  close(fds[0]);
  close(fds[1]);
  close(kq);
}

static void receipt_reports_success_as_data_zero(void **state) {
  (void)state;
  int kq = new_kq();
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  struct kevent ch[2], out[2];
  EV_SET(&ch[0], (uintptr_t)fds[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
  EV_SET(&ch[1], (uintptr_t)fds[1], EVFILT_READ, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
  assert_int_equal(write(fds[1], "x", 1), 1); /* pending, but a receipt does not wait for events */
  assert_int_equal(kevent(kq, ch, 2, out, 2, &ten_s), 2);
  assert_true(out[0].flags & EV_ERROR);
  assert_int_equal(out[0].data, 0);
  assert_true(out[1].flags & EV_ERROR);
  assert_int_equal(out[1].data, ENOENT);
  close(fds[0]);
  close(fds[1]);
  close(kq);
}

/* Level-triggered: reported on every call while data is there; EV_EOF once the writer is gone. */
static void read_filter_is_level_triggered_with_eof(void **state) {
  (void)state;
  int kq = new_kq();
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  int tag;
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)fds[0], EVFILT_READ, EV_ADD, 0, 0, &tag);
  assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &zero), 0);
  assert_int_equal(write(fds[1], "abc", 3), 3);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(kevent(kq, NULL, 0, &out, 1, &ten_s), 1);
    assert_int_equal(out.filter, EVFILT_READ);
    assert_ptr_equal(out.udata, &tag);
    assert_int_equal(out.data, 3);
    assert_false(out.flags & EV_EOF);
  }
  close(fds[1]);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &ten_s), 1);
  assert_true(out.flags & EV_EOF);
  close(fds[0]);
  close(kq);
}

static void write_filter_reports_eof_when_the_reader_is_gone(void **state) {
  (void)state;
  int kq = new_kq();
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)fds[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL);
  assert_int_equal(kevent(kq, &ch, 1, &out, 1, &ten_s), 1);
  assert_int_equal(out.filter, EVFILT_WRITE);
  assert_false(out.flags & EV_EOF);
  close(fds[0]);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &ten_s), 1);
  assert_true(out.flags & EV_EOF);
  close(fds[1]);
  close(kq);
}

static void disabled_events_are_kept_but_not_reported(void **state) {
  (void)state;
  int kq = new_kq();
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(write(fds[1], "x", 1), 1);
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)fds[0], EVFILT_READ, EV_ADD | EV_DISABLE, 0, 0, NULL);
  assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &zero), 0);
  EV_SET(&ch, (uintptr_t)fds[0], EVFILT_READ, EV_ENABLE, 0, 0, NULL);
  assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &ten_s), 1);
  EV_SET(&ch, (uintptr_t)fds[0], EVFILT_READ, EV_DISABLE, 0, 0, NULL);
  assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &zero), 0);
  close(fds[0]);
  close(fds[1]);
  close(kq);
}

static void oneshot_is_reported_once_then_gone(void **state) {
  (void)state;
  int kq = new_kq();
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(write(fds[1], "x", 1), 1);
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)fds[0], EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, NULL);
  assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &ten_s), 1);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &zero), 0);
  EV_SET(&ch, (uintptr_t)fds[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
  assert_int_equal(kevent(kq, &ch, 1, &out, 1, &zero), 1);
  assert_int_equal(out.data, ENOENT);
  close(fds[0]);
  close(fds[1]);
  close(kq);
}

static unsigned exit_fflags(void) {
#ifdef NOTE_EXITSTATUS
  return NOTE_EXIT | NOTE_EXITSTATUS;
#else
  return NOTE_EXIT;
#endif
}

/* NOTE_EXIT: once, with the wait()-style status in data, and the kqueue descriptor polls readable
 * first; the child is left for its parent to reap. */
static void proc_exit_is_reported_once_with_its_status(void **state) {
  (void)state;
  int kq = new_kq();
  int tag;
  /* The child waits for a byte, so the watch is in place before it exits. */
  int go[2];
  assert_int_equal(pipe(go), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char b;
    close(go[1]);
    _exit(read(go[0], &b, 1) == 1 ? 7 : 1);
  }
  close(go[0]);
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, exit_fflags(), 0, &tag);
  assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &zero), 0);
  assert_int_equal(write(go[1], "g", 1), 1);
  close(go[1]);
  struct pollfd p = {kq, POLLIN, 0};
  assert_int_equal(poll(&p, 1, 10000), 1);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &ten_s), 1);
  assert_int_equal(out.filter, EVFILT_PROC);
  assert_int_equal(out.ident, (uintptr_t)pid);
  assert_ptr_equal(out.udata, &tag);
  assert_true(out.fflags & NOTE_EXIT);
  assert_true(out.flags & EV_EOF);
  int kernel_status = (int)out.data; /* a variable: Apple's W* macros take its address */
  assert_true(WIFEXITED(kernel_status));
  assert_int_equal(WEXITSTATUS(kernel_status), 7);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &zero), 0); /* reported once: the watch is gone */
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid); /* left for its parent to reap */
  assert_int_equal(WEXITSTATUS(st), 7);
  close(kq);
}

/* A child that has exited already (a zombie): macOS refuses the watch with ESRCH, FreeBSD reports the
 * exit at once. The library copes with both (posix_watch_exit); the emulation does what macOS does. */
static void proc_watch_on_an_exited_child_is_esrch_or_immediate(void **state) {
  (void)state;
  int kq = new_kq();
  pid_t pid = child_exiting_with(3);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0); /* exited, not reaped */
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, exit_fflags(), 0, NULL);
  int n = kevent(kq, &ch, 1, &out, 1, &zero);
  if (n == 1 && (out.flags & EV_ERROR) && out.data != 0) {
    assert_int_equal(out.data, ESRCH);
  } else {
    if (n == 0) n = kevent(kq, NULL, 0, &out, 1, &ten_s);
    assert_int_equal(n, 1);
    assert_int_equal(out.filter, EVFILT_PROC);
    assert_true(out.fflags & NOTE_EXIT);
  }
  reap(pid);
  close(kq);
}

static void proc_watch_on_no_such_process_is_esrch(void **state) {
  (void)state;
  int kq = new_kq();
  pid_t pid = child_exiting_with(0);
  reap(pid); /* gone: nothing has this pid now (the pid is not reused this fast) */
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL);
  assert_int_equal(kevent(kq, &ch, 1, &out, 1, &zero), 1);
  assert_true(out.flags & EV_ERROR);
  assert_int_equal(out.data, ESRCH);
  close(kq);
}

/* Deleted before the exit: nothing is reported for it afterwards. */
static void deleted_proc_watch_reports_nothing(void **state) {
  (void)state;
  int kq = new_kq();
  int go[2];
  assert_int_equal(pipe(go), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char b;
    close(go[1]);
    _exit(read(go[0], &b, 1) == 1 ? 0 : 1);
  }
  close(go[0]);
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, exit_fflags(), 0, NULL);
  assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
  EV_SET(&ch, (uintptr_t)pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL);
  assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
  assert_int_equal(write(go[1], "g", 1), 1);
  close(go[1]);
  reap(pid);
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &zero), 0);
  close(kq);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* write_filter_reports_eof...: no write happens, but be safe */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(failed_change_is_reported_as_ev_error_or_errno),
      cmocka_unit_test(receipt_reports_success_as_data_zero),
      cmocka_unit_test(read_filter_is_level_triggered_with_eof),
      cmocka_unit_test(write_filter_reports_eof_when_the_reader_is_gone),
      cmocka_unit_test(disabled_events_are_kept_but_not_reported),
      cmocka_unit_test(oneshot_is_reported_once_then_gone),
      cmocka_unit_test(proc_exit_is_reported_once_with_its_status),
      cmocka_unit_test(proc_watch_on_an_exited_child_is_esrch_or_immediate),
      cmocka_unit_test(proc_watch_on_no_such_process_is_esrch),
      cmocka_unit_test(deleted_proc_watch_reports_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
