/* test_handle_hygiene.c - spawns of every kind (sync, failed, timed out, max_buffer kills, shell
 * exec failures, channel round trips with a worker) leave the parent with exactly the descriptors /
 * handles it had before, and no child process. The portable twin of posix/test_hygiene_stress.c (which
 * does 10,000 on Linux): this one runs under Wine too, with fewer spawns (~45 ms each there). */
#include <childproc.h>

#include "cptest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifdef _WIN32
#define ROUNDS 10 /* x 6 kinds */
#else
#define ROUNDS 100
#endif

static const cp_worker_def workers[] = {{"echo", cptest_worker_echo, NULL}};

static void on_msg(cp_child *c, const char *m, size_t n, void *ud) {
  (void)m, (void)n;
  ++*(int *)ud;
  cp_channel_disconnect(cp_child_channel(c));
}

static void one_of_each(void) {
  cp_result r;
  const char *ok[] = {"exit", "0", NULL};
  assert_int_equal(cptest_run(ok, NULL, &r), 0);
  cp_result_free(&r);

  assert_int_equal(cp_spawn_sync("childproc-no-such-program", NULL, NULL, &r), CP_ENOENT);
  cp_result_free(&r);

  const char *slow[] = {"sleep", "10000", NULL};
  cp_options t = {.timeout_ms = 50};
  assert_int_equal(cptest_run(slow, &t, &r), CP_ETIMEDOUT);
  cp_result_free(&r);

  const char *loud[] = {"out", "1000000", NULL};
  cp_options m = {.max_buffer = 10};
  assert_int_equal(cptest_run(loud, &m, &r), CP_ENOBUFS);
  cp_result_free(&r);

  assert_int_equal(cp_exec_sync("exit 3", NULL, &r), CP_ECHILDFAILED);
  cp_result_free(&r);

  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  int replies = 0;
  cp_child_events ev = {.on_message = on_msg};
  cp_options o = {.silent = true};
  cp_child *c;
  assert_int_equal(cp_fork_worker(loop, "echo", NULL, &o, &ev, &replies, &c), 0);
  assert_int_equal(cp_channel_send(cp_child_channel(c), "1", 1, NULL, NULL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(replies, 1);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void every_kind_of_spawn_leaves_no_handle_and_no_child(void **state) {
  (void)state;
  one_of_each(); /* first use: lazily created process-wide things (threads, the CRT's) settle */
  int before = cptest_open_fds();
  assert_true(before > 0);
  for (int i = 0; i < ROUNDS; i++) one_of_each();
  int after = cptest_open_fds();
  printf("handle hygiene: %d spawns; open fds/handles %d before, %d after\n", ROUNDS * 6, before, after);
  assert_int_equal(after, before);
  assert_true(cptest_no_children());
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, 1, &status)) return status;
  const struct CMUnitTest tests[] = {cmocka_unit_test(every_kind_of_spawn_leaves_no_handle_and_no_child)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
