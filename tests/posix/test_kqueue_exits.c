/* test_kqueue_exits.c - child exits on the kqueue poller (EVFILT_PROC / NOTE_EXIT): no SIGCHLD handler is
 * needed, and a child that exited before its exit watch was registered (macOS refuses to watch a
 * zombie: ESRCH) is still reaped, on the next turn, with its status. The kqueue emulation
 * (ci/test-kqueue-emul.sh) forces that order with CP_KQUEUE_EMUL_EXITED_BEFORE_ADD; on a real kqueue
 * it happens only by chance. Built only where the poller is kqueue (tests/CMakeLists.txt). */
#include "cptest.h"

#include <childproc.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>


static bool sigchld_disposition_is_default(void) {
  struct sigaction sa;
  sigaction(SIGCHLD, NULL, &sa);
  return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL;
}

/* kqueue: child exits come from EVFILT_PROC, so the library installs no SIGCHLD handler (the
 * SIGCHLD path is kept for programs that ignore SIGCHLD: see test_spawn_edges). */
static void kqueue_watches_exits_without_a_sigchld_handler(void **state) {
  (void)state;
#if defined(CHILDPROC_TEST_FORCE_SIGCHLD)
  CPTEST_SKIP("CHILDPROC_FORCE_SIGCHLD: this build watches exits with SIGCHLD by design");
#endif
  assert_true(sigchld_disposition_is_default());
  cp_result r;
  const char *args[] = {"exit", "3", NULL};
  assert_int_equal(cptest_run(args, NULL, &r), 0);
  assert_int_equal(r.status, 3);
  cp_result_free(&r);
  cp_loop *loop;
  cp_child *c;
  cptest_seen s = {0};
  assert_int_equal(cp_loop_new(&loop), 0);
  const char *args2[] = {"exit", "4", NULL};
  assert_int_equal(cp_spawn(loop, cptest_helper(), args2, NULL, &cptest_seen_events, &s, &c), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(s.status, 4);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
  assert_true(sigchld_disposition_is_default());
}

#if defined(CHILDPROC_TEST_KQUEUE_EMULATION)
#define SKIP_WITHOUT_EMULATION() (void)0
#else
#define SKIP_WITHOUT_EMULATION()                                                                             \
  CPTEST_SKIP("needs the kqueue emulation (ci/test-kqueue-emul.sh) to make a child exit before its watch")
#endif

static int exited_before_add_setup(void **state) {
  (void)state;
  cptest_setenv("CP_KQUEUE_EMUL_EXITED_BEFORE_ADD", "1");
  return 0;
}
static int exited_before_add_teardown(void **state) {
  (void)state;
  cptest_setenv("CP_KQUEUE_EMUL_EXITED_BEFORE_ADD", NULL);
  return 0;
}

/* The exit watch was refused (ESRCH: the child had exited already): the exit still arrives, from
 * the next turn, with its status, and no zombie is left. */
static void child_exited_before_its_watch_still_reports_its_status(void **state) {
  (void)state;
  SKIP_WITHOUT_EMULATION();
  cp_result r;
  const char *args[] = {"exit", "5", NULL};
  assert_int_equal(cptest_run(args, NULL, &r), 0);
  assert_int_equal(r.status, 5);
  cp_result_free(&r);
  cp_loop *loop;
  cp_child *c;
  cptest_seen s = {0};
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  const char *args2[] = {"exit", "6", NULL};
  assert_int_equal(cp_spawn(loop, cptest_helper(), args2, &o, &cptest_seen_events, &s, &c), 0);
  assert_false(s.exited); /* never from inside cp_spawn */
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(s.closed);
  assert_int_equal(s.status, 6);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
  assert_true(cptest_no_children());
}

/* The same for a tree's leader: only looked at, held as our zombie (its group id stays reserved)
 * until the child is freed. */
static void tree_leader_exited_before_its_watch_is_held_until_freed(void **state) {
  (void)state;
  SKIP_WITHOUT_EMULATION();
  cp_loop *loop;
  cp_child *c;
  cptest_seen s = {0};
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_options o = {.kill_tree = true,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  const char *args[] = {"exit", "9", NULL};
  assert_int_equal(cp_spawn(loop, cptest_helper(), args, &o, &cptest_seen_events, &s, &c), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(s.status, 9);
  assert_int_equal(s.leader_alive, 1);
  pid_t leader = (pid_t)cp_child_pid(c);
  assert_int_equal(kill(leader, 0), 0);
  cp_child_free(c);
  assert_int_equal(kill(leader, 0), -1);
  assert_int_equal(cp_loop_free(loop), 0);
  assert_true(cptest_no_children());
}

/* In a forked copy of this test (its SIGCHLD disposition is changed for good): the application
 * ignores SIGCHLD, so the library's SIGCHLD path takes over and reaps the application's children for
 * it; every later spawn stays on that path (on its list), so that reaping never takes a library child
 * from under a kqueue watch. Each child, a tree's leader among the application's own exiting children,
 * still reports its status. (The leader is not held there, and the application's children are reaped
 * when a loop runs: the SIGCHLD path's documented limits, docs/security.md.) */
static int ignored_sigchld_app(void) {
  signal(SIGCHLD, SIG_IGN);
  cp_result r;
  const char *args[] = {"exit", "0", NULL};
  if (cptest_run(args, NULL, &r) != 0) return 10;
  cp_result_free(&r);
  cp_loop *loop;
  if (cp_loop_new(&loop)) return 11;
  for (int i = 0; i < 20; i++) {
    cp_child *c;
    cptest_seen s = {0};
    cp_options o = {.kill_tree = true,
                    .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
    const char *a2[] = {"exit", "9", NULL};
    if (cp_spawn(loop, cptest_helper(), a2, &o, &cptest_seen_events, &s, &c)) return 12;
    pid_t own = fork(); /* the application's own child: its SIGCHLD wakes the reaping for it */
    if (own == 0) _exit(0);
    if (cp_loop_run(loop, CP_RUN_DEFAULT) != 0) return 13;
    cp_child_free(c);
    if (s.status != 9 || s.signal != 0) return 14;
  }
  return cp_loop_free(loop) == 0 ? 0 : 15;
}

static void exits_keep_their_status_after_the_application_ignored_sigchld(void **state) {
  (void)state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(ignored_sigchld_app());
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      /* first: nothing in this process has spawned yet */
      cmocka_unit_test(kqueue_watches_exits_without_a_sigchld_handler),
      cmocka_unit_test_setup_teardown(child_exited_before_its_watch_still_reports_its_status,
                                      exited_before_add_setup, exited_before_add_teardown),
      cmocka_unit_test_setup_teardown(tree_leader_exited_before_its_watch_is_held_until_freed,
                                      exited_before_add_setup, exited_before_add_teardown),
      cmocka_unit_test(exits_keep_their_status_after_the_application_ignored_sigchld),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
