/* test_hygiene_stress.c - 10,000 spawns of every kind (sync, failed, timed out, max_buffer kills,
 * async with stdin, channel round trips, shell exec failures, bad cwd), after which the parent has
 * exactly the descriptors it had before and no child process left (no zombie). CP_STRESS_SPAWNS
 * overrides the count. */
#include <childproc.h>

#include "cptest.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static const cp_worker_def workers[] = {{"echo", cptest_worker_echo, NULL}};

typedef struct async_state {
  int replies;
  bool closed;
} async_state;

static void on_msg(cp_child *c, const char *m, size_t n, void *ud) {
  (void)m, (void)n;
  ((async_state *)ud)->replies++;
  cp_channel_disconnect(cp_child_channel(c));
}
static void on_close(cp_child *c, int64_t st, int sig, void *ud) {
  (void)c, (void)st, (void)sig;
  ((async_state *)ud)->closed = true;
}

static void one_spawn(int kind) {
  cp_result r;
  switch (kind) {
  case 0: assert_int_equal(cp_spawn_sync("true", NULL, NULL, &r), 0); break;
  case 1: assert_int_equal(cp_spawn_sync("childproc-no-such-program", NULL, NULL, &r), CP_ENOENT); break;
  case 2: {
    const char *a[] = {"10", NULL};
    cp_options o = {.timeout_ms = 1};
    assert_int_equal(cp_spawn_sync("sleep", a, &o, &r), CP_ETIMEDOUT);
    break;
  }
  case 3: {
    cp_options o = {.max_buffer = 10};
    assert_int_equal(cp_spawn_sync("yes", NULL, &o, &r), CP_ENOBUFS);
    break;
  }
  case 4: {
    cp_options o = {.input = "abc", .input_len = 3};
    assert_int_equal(cp_spawn_sync("cat", NULL, &o, &r), 0);
    assert_string_equal(r.out.data, "abc");
    break;
  }
  case 5: {
    cp_loop *loop;
    assert_int_equal(cp_loop_new(&loop), 0);
    async_state s = {0, false};
    cp_child_events ev = {.on_message = on_msg, .on_close = on_close};
    cp_options o = {.silent = true};
    cp_child *c;
    assert_int_equal(cp_fork_worker(loop, "echo", NULL, &o, &ev, &s, &c), 0);
    assert_int_equal(cp_channel_send(cp_child_channel(c), "1", 1, NULL, NULL), 0);
    assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
    assert_true(s.closed);
    assert_int_equal(s.replies, 1);
    cp_child_free(c);
    assert_int_equal(cp_loop_free(loop), 0);
    return;
  }
  case 6: assert_int_equal(cp_exec_sync("exit 3", NULL, &r), CP_ECHILDFAILED); break;
  default: {
    cp_options o = {.cwd = "/childproc/no/such/dir"};
    assert_int_equal(cp_spawn_sync("true", NULL, &o, &r), CP_ENOENT);
    break;
  }
  }
  cp_result_free(&r);
}

static void spawns_of_every_kind_leave_no_fd_and_no_child(void **state) {
  (void)state;
  int total = 10000;
  const char *env = getenv("CP_STRESS_SPAWNS");
  if (env && atoi(env) > 0) total = atoi(env);
  int fds_before = cptest_open_fds();
  for (int i = 0; i < total; i++) one_spawn(i % 8);
  assert_int_equal(cptest_open_fds(), fds_before);
  errno = 0;
  assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no child at all, zombie or alive */
  assert_int_equal(errno, ECHILD);
  printf("hygiene: %d spawns of 8 kinds; fds %d before and after; no child left\n", total, fds_before);
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, 1, &status)) return status;
  const struct CMUnitTest tests[] = {cmocka_unit_test(spawns_of_every_kind_leave_no_fd_and_no_child)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
