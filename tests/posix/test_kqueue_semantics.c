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
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static const struct timespec zero = {0, 0};
static const struct timespec ten_s = {10, 0};

/* Each case's kqueue and pipe (the fixture): made by setup, closed by teardown unless the case closed
 * an end itself (end_close). */
typedef struct kq_case {
  int kq;
  int fds[2];
} kq_case;

static int case_setup(void **state) {
  kq_case *t = calloc(1, sizeof *t);
  if (!t) return -1;
  t->kq = kqueue();
  if (t->kq < 0 || pipe(t->fds) < 0) return -1;
  *state = t;
  return 0;
}

static int case_teardown(void **state) {
  kq_case *t = *state;
  for (int i = 0; i < 2; i++)
    if (t->fds[i] >= 0) close(t->fds[i]);
  close(t->kq);
  free(t);
  return 0;
}

static void end_close(kq_case *t, int i) {
  close(t->fds[i]);
  t->fds[i] = -1;
}

/* One change, no event list: must succeed. */
static void change(int kq, uintptr_t ident, int16_t filter, uint16_t flags, uint32_t fflags, void *udata) {
  struct kevent ch;
  EV_SET(&ch, ident, filter, flags, fflags, 0, udata);
  assert_int_equal(kevent(kq, &ch, 1, NULL, 0, NULL), 0);
}

/* Nothing pending now. */
static void expect_nothing(int kq) {
  struct kevent out;
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &zero), 0);
}

/* The next event (waiting up to 10 s). */
static struct kevent next_event(int kq) {
  struct kevent out;
  assert_int_equal(kevent(kq, NULL, 0, &out, 1, &ten_s), 1);
  return out;
}

static pid_t child_exiting_with(int code) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(code);
  return pid;
}

/* A child that exits with `code` once it reads a byte from g[0] (g[1] is ours: send_go), so a watch
 * can be in place before it exits. */
static pid_t child_exiting_on_go(int g[2], int code) {
  assert_int_equal(pipe(g), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char b;
    close(g[1]);
    _exit(read(g[0], &b, 1) == 1 ? code : 1);
  }
  close(g[0]);
  return pid;
}

static void send_go(int g[2]) {
  assert_int_equal(write(g[1], "g", 1), 1);
  close(g[1]);
}

static void reap(pid_t pid) {
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
}

/* A failed change with room in the event list comes back as EV_ERROR with data = errno (and kevent
 * returns at once); without room kevent fails with that errno. */
static void failed_change_is_reported_as_ev_error_or_errno(void **state) {
  kq_case *t = *state;
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)t->fds[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
  assert_int_equal(kevent(t->kq, &ch, 1, &out, 1, &ten_s), 1);
  assert_true(out.flags & EV_ERROR);
  assert_int_equal(out.data, ENOENT);
  assert_int_equal(out.ident, (uintptr_t)t->fds[0]);
  assert_int_equal(out.filter, EVFILT_READ);
  errno = 0;
  assert_int_equal(kevent(t->kq, &ch, 1, NULL, 0, NULL), -1);
  assert_int_equal(errno, ENOENT);
}

static void receipt_reports_success_as_data_zero(void **state) {
  kq_case *t = *state;
  struct kevent ch[2], out[2];
  EV_SET(&ch[0], (uintptr_t)t->fds[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
  EV_SET(&ch[1], (uintptr_t)t->fds[1], EVFILT_READ, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
  assert_int_equal(write(t->fds[1], "x", 1), 1); /* pending, but a receipt does not wait for events */
  assert_int_equal(kevent(t->kq, ch, 2, out, 2, &ten_s), 2);
  assert_true(out[0].flags & EV_ERROR);
  assert_int_equal(out[0].data, 0);
  assert_true(out[1].flags & EV_ERROR);
  assert_int_equal(out[1].data, ENOENT);
}

/* Level-triggered: reported on every call while data is there; EV_EOF once the writer is gone. */
static void read_filter_is_level_triggered_with_eof(void **state) {
  kq_case *t = *state;
  int tag;
  change(t->kq, (uintptr_t)t->fds[0], EVFILT_READ, EV_ADD, 0, &tag);
  expect_nothing(t->kq);
  assert_int_equal(write(t->fds[1], "abc", 3), 3);
  for (int i = 0; i < 2; i++) {
    struct kevent out = next_event(t->kq);
    assert_int_equal(out.filter, EVFILT_READ);
    assert_ptr_equal(out.udata, &tag);
    assert_int_equal(out.data, 3);
    assert_false(out.flags & EV_EOF);
  }
  end_close(t, 1);
  assert_true(next_event(t->kq).flags & EV_EOF);
}

static void write_filter_reports_eof_when_the_reader_is_gone(void **state) {
  kq_case *t = *state;
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)t->fds[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL);
  assert_int_equal(kevent(t->kq, &ch, 1, &out, 1, &ten_s), 1);
  assert_int_equal(out.filter, EVFILT_WRITE);
  assert_false(out.flags & EV_EOF);
  end_close(t, 0);
  assert_true(next_event(t->kq).flags & EV_EOF);
}

static void disabled_events_are_kept_but_not_reported(void **state) {
  kq_case *t = *state;
  uintptr_t rd = (uintptr_t)t->fds[0];
  assert_int_equal(write(t->fds[1], "x", 1), 1);
  change(t->kq, rd, EVFILT_READ, EV_ADD | EV_DISABLE, 0, NULL);
  expect_nothing(t->kq);
  change(t->kq, rd, EVFILT_READ, EV_ENABLE, 0, NULL);
  next_event(t->kq);
  change(t->kq, rd, EVFILT_READ, EV_DISABLE, 0, NULL);
  expect_nothing(t->kq);
}

static void oneshot_is_reported_once_then_gone(void **state) {
  kq_case *t = *state;
  assert_int_equal(write(t->fds[1], "x", 1), 1);
  change(t->kq, (uintptr_t)t->fds[0], EVFILT_READ, EV_ADD | EV_ONESHOT, 0, NULL);
  next_event(t->kq);
  expect_nothing(t->kq);
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)t->fds[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
  assert_int_equal(kevent(t->kq, &ch, 1, &out, 1, &zero), 1);
  assert_int_equal(out.data, ENOENT);
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
  kq_case *t = *state;
  int tag, g[2];
  pid_t pid = child_exiting_on_go(g, 7);
  change(t->kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, exit_fflags(), &tag);
  expect_nothing(t->kq);
  send_go(g);
  struct pollfd p = {t->kq, POLLIN, 0};
  assert_int_equal(poll(&p, 1, 10000), 1);
  struct kevent out = next_event(t->kq);
  assert_int_equal(out.filter, EVFILT_PROC);
  assert_int_equal(out.ident, (uintptr_t)pid);
  assert_ptr_equal(out.udata, &tag);
  assert_true(out.fflags & NOTE_EXIT);
  assert_true(out.flags & EV_EOF);
  int kernel_status = (int)out.data; /* a variable: Apple's W* macros take its address */
  assert_true(WIFEXITED(kernel_status));
  assert_int_equal(WEXITSTATUS(kernel_status), 7);
  expect_nothing(t->kq); /* reported once: the watch is gone */
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid); /* left for its parent to reap */
  assert_int_equal(WEXITSTATUS(st), 7);
}

/* A child that has exited already (a zombie): macOS refuses the watch with ESRCH, FreeBSD reports the
 * exit at once. The library copes with both (posix_watch_exit); the emulation does what macOS does. */
static void proc_watch_on_an_exited_child_is_esrch_or_immediate(void **state) {
  kq_case *t = *state;
  pid_t pid = child_exiting_with(3);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0); /* exited, not reaped */
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, exit_fflags(), 0, NULL);
  int n = kevent(t->kq, &ch, 1, &out, 1, &zero);
  if (n == 1 && (out.flags & EV_ERROR) && out.data != 0) {
    assert_int_equal(out.data, ESRCH);
  } else {
    if (n == 0) n = kevent(t->kq, NULL, 0, &out, 1, &ten_s);
    assert_int_equal(n, 1);
    assert_int_equal(out.filter, EVFILT_PROC);
    assert_true(out.fflags & NOTE_EXIT);
  }
  reap(pid);
}

static void proc_watch_on_no_such_process_is_esrch(void **state) {
  kq_case *t = *state;
  pid_t pid = child_exiting_with(0);
  reap(pid); /* gone: nothing has this pid now (the pid is not reused this fast) */
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL);
  assert_int_equal(kevent(t->kq, &ch, 1, &out, 1, &zero), 1);
  assert_true(out.flags & EV_ERROR);
  assert_int_equal(out.data, ESRCH);
}

/* Deleted before the exit: nothing is reported for it afterwards. */
static void deleted_proc_watch_reports_nothing(void **state) {
  kq_case *t = *state;
  int g[2];
  pid_t pid = child_exiting_on_go(g, 0);
  change(t->kq, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, exit_fflags(), NULL);
  change(t->kq, (uintptr_t)pid, EVFILT_PROC, EV_DELETE, 0, NULL);
  send_go(g);
  reap(pid);
  expect_nothing(t->kq);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* write_filter_reports_eof...: no write happens, but be safe */
#define KQ_CASE(f) cmocka_unit_test_setup_teardown(f, case_setup, case_teardown)
  const struct CMUnitTest tests[] = {
      KQ_CASE(failed_change_is_reported_as_ev_error_or_errno),
      KQ_CASE(receipt_reports_success_as_data_zero),
      KQ_CASE(read_filter_is_level_triggered_with_eof),
      KQ_CASE(write_filter_reports_eof_when_the_reader_is_gone),
      KQ_CASE(disabled_events_are_kept_but_not_reported),
      KQ_CASE(oneshot_is_reported_once_then_gone),
      KQ_CASE(proc_exit_is_reported_once_with_its_status),
      KQ_CASE(proc_watch_on_an_exited_child_is_esrch_or_immediate),
      KQ_CASE(proc_watch_on_no_such_process_is_esrch),
      KQ_CASE(deleted_proc_watch_reports_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
