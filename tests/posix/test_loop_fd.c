/* test_loop_fd.c - cp_loop_fd() and cp_loop_timeout() for a program with its own event loop, on the poller
 * this build chose: the descriptor polls readable when a child exits and when a pipe has data (epoll:
 * the epoll fd with the pidfd in it; kqueue: the kqueue fd, exits by EVFILT_PROC/NOTE_EXIT; poll():
 * none, by design), and the timeout is 0 while work is pending that the descriptor does not show. */
#include "cptest.h"

#include <childproc.h>

#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>


static bool readable_within(cp_os_handle fd, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

#if defined(CHILDPROC_TEST_POLLER_POLL)
#define SKIP_WITHOUT_LOOP_FD() CPTEST_SKIP("the poll() backend has no loop descriptor (cp_loop_fd is CP_INVALID_HANDLE)")
#else
#define SKIP_WITHOUT_LOOP_FD() (void)0
#endif

static void loop_fd_is_the_pollers_descriptor(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_os_handle fd = cp_loop_fd(loop);
#if defined(CHILDPROC_TEST_POLLER_POLL)
  assert_true(fd == CP_INVALID_HANDLE);
#else
  assert_true(fd != CP_INVALID_HANDLE);
  assert_false(readable_within(fd, 0)); /* nothing to do yet */
#endif
  assert_true(cp_loop_fd(NULL) == CP_INVALID_HANDLE);
  assert_int_equal(cp_loop_free(loop), 0);
}

/* The exit alone (no pipe to the child) makes the descriptor readable, before the loop runs. */
static void loop_fd_becomes_readable_when_a_child_exits(void **state) {
  (void)state;
  SKIP_WITHOUT_LOOP_FD();
  cp_loop *loop;
  cp_child *c;
  cptest_seen s = {0};
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  const char *args[] = {"exit", "7", NULL};
  assert_int_equal(cp_spawn(loop, cptest_helper(), args, &o, &cptest_seen_events, &s, &c), 0);
  cp_os_handle fd = cp_loop_fd(loop);
  /* As a program's own loop waits: on the descriptor, for at most cp_loop_timeout() (0 when the exit
   * is already known: a child that exited before its exit watch was registered is reaped on the next
   * turn without the kernel's event). */
  int t = cp_loop_timeout(loop);
  assert_true(t == 0 || readable_within(fd, 20000));
  uint64_t turns = 0;
  while (!s.closed && turns++ < 1000) {
    assert_true(cp_loop_run(loop, CP_RUN_NOWAIT) >= 0);
    if (!s.closed) readable_within(fd, 1000);
  }
  assert_true(s.exited);
  assert_int_equal(s.status, 7);
  assert_int_equal(s.signal, 0);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
  assert_true(cptest_no_children());
}

static void loop_fd_becomes_readable_when_a_pipe_has_data(void **state) {
  (void)state;
  SKIP_WITHOUT_LOOP_FD();
  cp_loop *loop;
  cp_child *c;
  cptest_seen s = {0};
  assert_int_equal(cp_loop_new(&loop), 0);
  /* Writes its bytes, then sleeps: the data alone must wake the program's own loop. */
  const char *args[] = {"out-sleep", "5", "30000", NULL};
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_IGNORE, 0}}};
  assert_int_equal(cp_spawn(loop, cptest_helper(), args, &o, &cptest_seen_events, &s, &c), 0);
  cp_os_handle fd = cp_loop_fd(loop);
  for (int i = 0; i < 1000 && s.out_bytes < 5; i++) {
    assert_true(readable_within(fd, 20000));
    assert_true(cp_loop_run(loop, CP_RUN_NOWAIT) >= 0);
  }
  assert_int_equal(s.out_bytes, 5);
  assert_false(s.exited);
  assert_int_equal(cp_child_kill(c, CP_SIGKILL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(s.closed);
  assert_int_equal(s.signal, CP_SIGKILL);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void on_written(cp_child *c, int status, void *ud) {
  (void)c;
  *(int *)ud = status;
}

/* A write that went through at once is completed on the next turn without the poller (nothing for
 * the descriptor to report): cp_loop_timeout() must then say 0, or a program waiting on cp_loop_fd()
 * would sleep through it. */
static void completed_write_makes_the_loop_timeout_zero(void **state) {
  (void)state;
  cp_loop *loop;
  cp_child *c;
  cptest_seen s = {0};
  int written = 1;
  assert_int_equal(cp_loop_new(&loop), 0);
  const char *args[] = {"noread-sleep", "30000", NULL};
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  assert_int_equal(cp_spawn(loop, cptest_helper(), args, &o, &cptest_seen_events, &s, &c), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_NOWAIT), 1); /* started; nothing else to do */
  assert_int_equal(cp_child_write(c, "hello", 5, on_written, &written), 0);
  assert_int_equal(written, 1); /* never from inside the call */
  assert_int_equal(cp_loop_timeout(loop), 0);
  assert_true(cp_loop_run(loop, CP_RUN_NOWAIT) >= 0);
  assert_int_equal(written, 0);
  assert_int_equal(cp_child_kill(c, CP_SIGKILL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(loop_fd_is_the_pollers_descriptor),
      cmocka_unit_test(loop_fd_becomes_readable_when_a_child_exits),
      cmocka_unit_test(loop_fd_becomes_readable_when_a_pipe_has_data),
      cmocka_unit_test(completed_write_makes_the_loop_timeout_zero),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
