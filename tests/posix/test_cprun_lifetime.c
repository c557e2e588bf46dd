/* test_cprun_lifetime.c - cprun as a well-behaved runner (issue 10): --tree --timeout leaves no
 * descendant, SIGTERM sent to cprun reaches the child and cprun exits 143, kill -9 of cprun takes the
 * child and its tree with it, --kill-after escalates, --detach leaves the child running. Every
 * process a test starts is watched through a pidfd where there is one (events, not sleeps). */
#include <childproc.h>

#include "cptest.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static bool ends_within(long pid, int ms) { return cptest_pid_ends_within(pid, ms); }

/* cprun started on a loop, its stdout collected until a line "ready ..." arrives. */
typedef cptest_cprun cprun_run;

static void start_cprun(cprun_run *r, const char *const *args) {
  cptest_cprun_start(r, args);
  while (!strchr(r->out, '\n') && !r->closed) assert_true(cp_loop_run(r->loop, CP_RUN_ONCE) >= 0);
}

static void finish_cprun(cprun_run *r) {
  assert_int_equal(cp_loop_run(r->loop, CP_RUN_DEFAULT), 0);
  assert_true(r->closed);
  cp_child_free(r->child);
  assert_int_equal(cp_loop_free(r->loop), 0);
}

static const char tree_script[] = "sleep 100 & a=$!; sleep 100 & b=$!; echo ready $$ $a $b; wait";

static void tree_timeout_leaves_nothing(void **state) {
  (void)state;
  const char *args[] = {"--tree", "--timeout", "0.3", "--", "sh", "-c", tree_script, NULL};
  cprun_run r;
  start_cprun(&r, args);
  long sh, a, b;
  assert_int_equal(sscanf(r.out, "ready %ld %ld %ld", &sh, &a, &b), 3);
  finish_cprun(&r);
  assert_int_equal(r.status, 124);
  assert_true(ends_within(sh, 1000));
  assert_true(ends_within(a, 1000));
  assert_true(ends_within(b, 1000));
}

static void sigterm_to_cprun_reaches_the_child_and_exits_143(void **state) {
  (void)state;
  const char *args[] = {"--", "sh", "-c", "echo ready $$; exec sleep 100", NULL};
  cprun_run r;
  start_cprun(&r, args);
  long pid;
  assert_int_equal(sscanf(r.out, "ready %ld", &pid), 1);
  assert_int_equal(cp_child_kill(r.child, CP_SIGTERM), 0);
  finish_cprun(&r);
  assert_int_equal(r.status, 128 + CP_SIGTERM);
  assert_true(ends_within(pid, 1000));
}

static void sigint_to_cprun_is_forwarded_to_the_tree(void **state) {
  (void)state;
  const char *args[] = {"--tree", "--", "sh", "-c", tree_script, NULL};
  cprun_run r;
  start_cprun(&r, args);
  long sh, a, b;
  assert_int_equal(sscanf(r.out, "ready %ld %ld %ld", &sh, &a, &b), 3);
  assert_int_equal(cp_child_kill(r.child, CP_SIGINT), 0);
  finish_cprun(&r);
  assert_int_equal(r.status, 128 + CP_SIGINT);
  assert_true(ends_within(a, 1000));
  assert_true(ends_within(b, 1000));
}

static void kill_9_of_cprun_leaves_nothing(void **state) {
  (void)state;
  const char *args[] = {"--tree", "--", "sh", "-c", tree_script, NULL};
  cprun_run r;
  start_cprun(&r, args);
  long sh, a, b;
  assert_int_equal(sscanf(r.out, "ready %ld %ld %ld", &sh, &a, &b), 3);
  assert_int_equal(cp_child_kill(r.child, CP_SIGKILL), 0);
  assert_true(ends_within(sh, 1000));
  assert_true(ends_within(a, 1000));
  assert_true(ends_within(b, 1000));
  finish_cprun(&r);
}

static void kill_9_of_cprun_takes_a_plain_child_too(void **state) {
  (void)state;
  const char *args[] = {"--", "sh", "-c", "echo ready $$; exec sleep 100", NULL};
  cprun_run r;
  start_cprun(&r, args);
  long pid;
  assert_int_equal(sscanf(r.out, "ready %ld", &pid), 1);
  assert_int_equal(cp_child_kill(r.child, CP_SIGKILL), 0);
  assert_true(ends_within(pid, 1000));
  finish_cprun(&r);
}

static void kill_after_escalates_past_an_ignored_sigterm(void **state) {
  (void)state;
  const char *args[] = {"--json", "--timeout", "0.2", "--kill-after", "0.2", "--", "sh", "-c",
                        "trap '' TERM; exec sleep 100", NULL};
  cp_result r;
  assert_int_equal(cp_spawn_sync(cptest_bin("cprun"), args, NULL, &r), 0);
  assert_int_equal(r.status, 124);
  assert_non_null(strstr(r.out.data, "\"signal\":\"SIGKILL\""));
  assert_non_null(strstr(r.out.data, "\"timed_out\":true"));
  cp_result_free(&r);
}

static void detach_leaves_the_child_running(void **state) {
  (void)state;
  const char *args[] = {"--detach", "--", "sleep", "100", NULL};
  cp_result r;
  assert_int_equal(cp_spawn_sync(cptest_bin("cprun"), args, NULL, &r), 0);
  assert_int_equal(r.status, 0);
  long pid = strtol(r.out.data, NULL, 10);
  assert_true(pid > 0);
  assert_false(ends_within(pid, 200)); /* cprun is gone; the child is not */
  assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
  assert_true(ends_within(pid, 1000));
  cp_result_free(&r);
}

static void detach_refuses_options_that_need_waiting(void **state) {
  (void)state;
  const char *args[] = {"--detach", "--json", "--", "true", NULL};
  cp_result r;
  assert_int_equal(cp_spawn_sync(cptest_bin("cprun"), args, NULL, &r), 0);
  assert_int_equal(r.status, 125);
  assert_non_null(strstr(r.err.data, "cprun: --detach"));
  cp_result_free(&r);
  const char *bad[] = {"--kill-after", "soon", "--", "true", NULL};
  assert_int_equal(cp_spawn_sync(cptest_bin("cprun"), bad, NULL, &r), 0);
  assert_int_equal(r.status, 125);
  cp_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(tree_timeout_leaves_nothing),
      cmocka_unit_test(sigterm_to_cprun_reaches_the_child_and_exits_143),
      cmocka_unit_test(sigint_to_cprun_is_forwarded_to_the_tree),
      cmocka_unit_test(kill_9_of_cprun_leaves_nothing),
      cmocka_unit_test(kill_9_of_cprun_takes_a_plain_child_too),
      cmocka_unit_test(kill_after_escalates_past_an_ignored_sigterm),
      cmocka_unit_test(detach_leaves_the_child_running),
      cmocka_unit_test(detach_refuses_options_that_need_waiting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
