/* test_lifetime.c - nothing left running (POSIX): kill_on_parent_exit for a child and a whole tree when
 * the parent is SIGKILLed, a child started from a thread that has since exited surviving while its
 * parent lives, and kill escalation (kill_after_ms, cp_child_terminate) ending a child that ignores
 * SIGTERM. Processes are watched through pidfds where there are (events, not sleeps). */
#include <childproc.h>

#include "cptest.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
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

/* ---- workers: the "parent" processes the test kills ---------------------------------------------- */

static long spawn_one(cp_loop *loop, const char *file, const char *const *args, bool tree) {
  cp_options o = {.kill_on_parent_exit = true, .kill_tree = tree,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_INHERIT, 0}, {CP_STDIO_INHERIT, 0}}};
  cp_child *c;
  if (cp_spawn(loop, file, args, &o, NULL, NULL, &c)) return -1;
  cp_loop_run(loop, CP_RUN_NOWAIT);
  return (long)cp_child_pid(c);
}

/* parent: a plain sleeping child, and a tree (sh with two sleeping grandchildren that print their
 * pids), both kill_on_parent_exit; prints "child <pid>" and waits to be killed. The tree's own line
 * "ready <a> <b>" arrives on the same stdout. */
static int worker_parent(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)ch, (void)argc, (void)argv, (void)ud;
  const char *sleep_args[] = {"100", NULL};
  const char *tree_args[] = {"-c", "sleep 100 & a=$!; sleep 100 & b=$!; echo ready $a $b; wait", NULL};
  long plain = spawn_one(loop, "sleep", sleep_args, false);
  long tree = spawn_one(loop, "sh", tree_args, true);
  printf("child %ld %ld\n", plain, tree);
  fflush(stdout);
  for (;;) pause();
  return 0;
}

static void *thread_spawn(void *arg) {
  cp_loop *loop;
  if (cp_loop_new(&loop)) return NULL;
  const char *args[] = {"100", NULL};
  *(long *)arg = spawn_one(loop, "sleep", args, false);
  return NULL; /* the thread ends; its loop is left alive on purpose: the child must outlive it */
}

/* threaded: starts a child from a thread that then exits, prints "child <pid>" after the join. */
static int worker_threaded(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)ch, (void)argc, (void)argv, (void)ud;
  long pid = -1;
  pthread_t t;
  if (pthread_create(&t, NULL, thread_spawn, &pid)) return 3;
  pthread_join(t, NULL);
  printf("child %ld\n", pid);
  fflush(stdout);
  for (;;) pause();
  return 0;
}

static const cp_worker_def workers[] = {{"parent", worker_parent, NULL}, {"threaded", worker_threaded, NULL}};

/* ---- helpers -------------------------------------------------------------------------------------- */

/* Whether process pid (not our child) ends within ms (by its pidfd where there is one). */
static bool ends_within(long pid, int ms) { return cptest_pid_ends_within(pid, ms); }

typedef struct run {
  char out[512];
  size_t len;
  int want_lines;
  cp_child *child;
} run;

static void on_out(cp_child *c, const char *d, size_t n, void *ud) {
  (void)c;
  run *r = ud;
  cptest_append(r->out, sizeof r->out, &r->len, d, n);
}

/* Starts a worker, runs the loop until it printed want_lines lines; returns its loop. */
static cp_loop *start_worker(const char *name, run *r) {
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_child_events ev = {.on_stdout = on_out};
  cp_options o = {.silent = true};
  assert_int_equal(cp_fork_worker(loop, name, NULL, &o, &ev, r, &r->child), 0);
  while (cptest_count_lines(r->out) < r->want_lines) assert_int_equal(cp_loop_run(loop, CP_RUN_ONCE), 1);
  return loop;
}

static void finish_worker(cp_loop *loop, run *r) {
  cp_child_kill(r->child, CP_SIGKILL);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  cp_child_free(r->child);
  assert_int_equal(cp_loop_free(loop), 0);
}

/* ---- tests ---------------------------------------------------------------------------------------- */

static void sigkilled_parent_takes_children_and_tree_with_it(void **state) {
  (void)state;
  run r = {.want_lines = 2};
  cp_loop *loop = start_worker("parent", &r);
  long plain, tree, a, b;
  const char *p = strstr(r.out, "child ");
  const char *q = strstr(r.out, "ready ");
  assert_non_null(p);
  assert_non_null(q);
  assert_int_equal(sscanf(p, "child %ld %ld", &plain, &tree), 2);
  assert_int_equal(sscanf(q, "ready %ld %ld", &a, &b), 2);
  long pids[4] = {plain, tree, a, b};
  for (int i = 0; i < 4; i++) assert_true(pids[i] > 0);
  assert_false(ends_within(pids[0], 0)); /* alive while their parent lives */
  assert_int_equal(cp_child_kill(r.child, CP_SIGKILL), 0);
  for (int i = 0; i < 4; i++) {
    assert_true(ends_within(pids[i], 1000)); /* within one second of the parent's SIGKILL */
  }
  finish_worker(loop, &r);
}

static void child_of_an_exited_thread_lives_as_long_as_the_parent(void **state) {
  (void)state;
  run r = {.want_lines = 1};
  cp_loop *loop = start_worker("threaded", &r);
  long pid;
  assert_int_equal(sscanf(r.out, "child %ld", &pid), 1);
  assert_true(pid > 0);
  /* The spawning thread has been joined; PDEATHSIG tied to it would have fired by now. */
  assert_false(ends_within(pid, 300));
  assert_int_equal(cp_child_kill(r.child, CP_SIGKILL), 0);
  assert_true(ends_within(pid, 1000));
  finish_worker(loop, &r);
}

static void timeout_escalates_to_sigkill_when_sigterm_is_ignored(void **state) {
  (void)state;
  const char *args[] = {"-c", "trap '' TERM; exec sleep 100", NULL};
  cp_options o = {.timeout_ms = 100, .kill_after_ms = 200};
  cp_result r;
  assert_int_equal(cp_spawn_sync("sh", args, &o, &r), CP_ETIMEDOUT);
  assert_true(r.timed_out);
  assert_int_equal(r.signal, CP_SIGKILL); /* what actually ended it */
  cp_result_free(&r);
}

static void terminate_sends_then_escalates(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  const char *stubborn[] = {"-c", "trap '' TERM; exec sleep 100", NULL};
  const char *polite[] = {"100", NULL};
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  cp_child *a, *b;
  assert_int_equal(cp_spawn(loop, "sh", stubborn, &o, NULL, NULL, &a), 0);
  assert_int_equal(cp_spawn(loop, "sleep", polite, &o, NULL, NULL, &b), 0);
  cp_loop_run(loop, CP_RUN_NOWAIT);
  assert_int_equal(cp_child_terminate(a, CP_SIGTERM, 150), 0);
  assert_int_equal(cp_child_terminate(b, CP_SIGTERM, 150), 0);
  assert_int_equal(cp_child_terminate(a, 0, 10), CP_EINVAL);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  cp_child_free(a);
  cp_child_free(b);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void negative_kill_after_is_einval(void **state) {
  (void)state;
  cp_options o = {.kill_after_ms = -1};
  cp_result r;
  assert_int_equal(cp_spawn_sync("true", NULL, &o, &r), CP_EINVAL);
  assert_non_null(strstr(r.error.message, "kill_after_ms"));
  cp_result_free(&r);
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, sizeof workers / sizeof workers[0], &status)) return status;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sigkilled_parent_takes_children_and_tree_with_it),
      cmocka_unit_test(child_of_an_exited_thread_lives_as_long_as_the_parent),
      cmocka_unit_test(timeout_escalates_to_sigkill_when_sigterm_is_ignored),
      cmocka_unit_test(terminate_sends_then_escalates),
      cmocka_unit_test(negative_kill_after_is_einval),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
