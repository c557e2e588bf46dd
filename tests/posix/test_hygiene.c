/* test_hygiene.c - POSIX: what a child inherits and what the parent keeps. No descriptor of the
 * library's reaches a child (also while other children run and other threads spawn), the parent's
 * fd count and child count come back to where they were after many runs (failed ones too), SIGPIPE
 * never kills the parent, and the child starts with an empty signal mask and default dispositions
 * whatever the parent's are. */
#include "cptest.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static int setup(void **state) {
  (void)state;
  cptest_cloexec_inherited_fds();
  return 0;
}

static void assert_only_stdio_fds(const cp_options *o) {
  const char *args[] = {"fds", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_true(cptest_buf_eq(&r.out, "0\n1\n2\n"));
  cp_result_free(&r);
}

static void hygiene_child_sees_only_fds_0_1_2(void **state) {
  (void)state;
  assert_only_stdio_fds(NULL);
}

static void hygiene_child_sees_only_fds_0_1_2_with_ignore_and_inherit(void **state) {
  (void)state;
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_INHERIT, 0}}};
  assert_only_stdio_fds(&o);
}

/* A slot inherited from a parent that has no such stream gets the null device, even when a pipe
 * the same call creates for a lower slot takes the closed number (stdout closed: the stdin pipe's
 * end becomes fd 1, and must not be mistaken for the parent's stdout). */
static void hygiene_inherited_closed_stdout_is_the_null_device(void **state) {
  (void)state;
  const char *args[] = {"-c", "read line; echo out || exit 3; echo \"got $line\" >&2", NULL};
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_INHERIT, 0}, {CP_STDIO_PIPE, 0}},
                  .input = "x\n",
                  .input_len = 2};
  fflush(stdout);
  int saved = fcntl(1, F_DUPFD_CLOEXEC, 3);
  assert_true(saved >= 0);
  close(1);
  cp_result r;
  int rc = cp_spawn_sync("sh", args, &o, &r);
  dup2(saved, 1);
  close(saved);
  cptest_assert_rc(rc, &r, CP_OK);
  assert_int_equal(r.status, 0); /* "echo out" wrote to the null device, not to a pipe's read end */
  assert_true(cptest_buf_eq(&r.err, "got x\n"));
  cp_result_free(&r);
}

/* With 0..2 all closed: the inherited slots are the null device, the pipe works, and the library
 * has filled 0..2 with the null device for good (so that no descriptor of its own, nor of anyone's,
 * can take those numbers while another thread's child inherits them: docs/security.md). */
static void hygiene_all_stdio_closed_become_the_null_device(void **state) {
  (void)state;
  const char *args[] = {"-c", "cat; echo done", NULL};
  cp_options o = {.stdio = {{CP_STDIO_INHERIT, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_INHERIT, 0}}};
  fflush(stdout);
  fflush(stderr);
  int saved[3];
  for (int i = 0; i < 3; i++) {
    saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
    assert_true(saved[i] >= 0);
  }
  for (int i = 0; i < 3; i++) close(i);
  cp_result r;
  int rc = cp_spawn_sync("sh", args, &o, &r);
  bool null_dev[3];
  struct stat dn;
  assert_int_equal(stat("/dev/null", &dn), 0);
  for (int i = 0; i < 3; i++) {
    struct stat st;
    null_dev[i] = fstat(i, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == dn.st_rdev;
  }
  for (int i = 0; i < 3; i++) {
    dup2(saved[i], i);
    close(saved[i]);
  }
  cptest_assert_rc(rc, &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_true(cptest_buf_eq(&r.out, "done\n"));
  for (int i = 0; i < 3; i++) assert_true(null_dev[i]);
  cp_result_free(&r);
}

/* A given fd is dup2()ed to its slot; the original number must not also reach the child. */
static void hygiene_stdio_fd_arrives_only_in_its_slot(void **state) {
  (void)state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
  cp_options o = {.stdio = {{CP_STDIO_FD, p[0]}, {CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}}};
  close(p[1]);
  assert_only_stdio_fds(&o);
  close(p[0]);
}

static void hygiene_child_sees_no_fd_of_another_running_child(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), CP_OK);
  cp_child *other;
  const char *sleep_args[] = {"sleep", "30000", NULL};
  cp_child_events ev = {0};
  assert_int_equal(cp_spawn(loop, cptest_helper(), sleep_args, NULL, &ev, NULL, &other), CP_OK);
  assert_only_stdio_fds(NULL);
  assert_int_equal(cp_child_kill(other, CP_SIGKILL), CP_OK);
  while (cp_loop_run(loop, CP_RUN_DEFAULT) > 0) {
  }
  cp_child_free(other);
  assert_int_equal(cp_loop_free(loop), CP_OK);
}

enum { THREADS = 4, SPAWNS_PER_THREAD = 50 };

static void *spawn_fds_many(void *arg) {
  int *bad = arg;
  const char *args[] = {"fds", NULL};
  for (int i = 0; i < SPAWNS_PER_THREAD; i++) {
    cp_result r;
    int rc = cptest_run(args, NULL, &r);
    if (rc != CP_OK || r.status != 0 || r.out.len != 6 || memcmp(r.out.data, "0\n1\n2\n", 6) != 0) {
      fprintf(stderr, "thread spawn %d: rc %d, status %lld, fds \"%.*s\"\n", i, rc, (long long)r.status,
              (int)r.out.len, r.out.data ? r.out.data : "");
      (*bad)++;
    }
    cp_result_free(&r);
  }
  return NULL;
}

/* Only fds that are close-on-exec from birth survive this: a pipe made by one thread while another
 * forks would otherwise show up in the other's child. */
static void hygiene_concurrent_spawns_leak_nothing_into_each_other(void **state) {
  (void)state;
  pthread_t t[THREADS];
  int bad[THREADS] = {0};
  for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&t[i], NULL, spawn_fds_many, &bad[i]), 0);
  int total = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    total += bad[i];
  }
  assert_int_equal(total, 0);
}

/* One run of each kind, successful or not. */
static void run_one_of_each(const char *missing_dir) {
  cp_result r;
  const char *exit0[] = {"exit", "0", NULL};
  const char *out[] = {"both", "5000", NULL};
  const char *sleep_long[] = {"sleep", "30000", NULL};
  const char *flood[] = {"out", "67108864", NULL};

  cptest_assert_rc(cptest_run(out, NULL, &r), &r, CP_OK);
  cp_result_free(&r);
  cptest_assert_rc(cp_spawn_sync("cptest-no-such-program", exit0, NULL, &r), &r, CP_ENOENT);
  cp_result_free(&r);
  cp_options bad_cwd = {.cwd = missing_dir};
  cptest_assert_rc(cptest_run(exit0, &bad_cwd, &r), &r, CP_ENOENT);
  cp_result_free(&r);
  cp_options small = {.max_buffer = 100};
  cptest_assert_rc(cptest_run(flood, &small, &r), &r, CP_ENOBUFS);
  cp_result_free(&r);
  cp_options bad_fd = {.stdio = {{CP_STDIO_FD, 1000}, {CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}}};
  cptest_assert_rc(cptest_run(exit0, &bad_fd, &r), &r, CP_EBADF);
  cp_result_free(&r);
  cp_options input = {.input = "abc", .input_len = 3};
  cptest_assert_rc(cp_exec_sync("cat >/dev/null; exit 1", &input, &r), &r, CP_ECHILDFAILED);
  cp_result_free(&r);
  cp_options quick = {.timeout_ms = 1};
  cptest_assert_rc(cptest_run(sleep_long, &quick, &r), &r, CP_ETIMEDOUT);
  cp_result_free(&r);
}

static void hygiene_fd_count_unchanged_after_many_runs(void **state) {
  (void)state;
  char *dir = cptest_mkdtemp();
  assert_non_null(dir);
  char *missing = cptest_join(dir, "missing");
  run_one_of_each(missing); /* lazily made process-wide state (if any) is not a leak */
  int before = cptest_open_fds();
  assert_true(before >= 3);
  for (int i = 0; i < 30; i++) run_one_of_each(missing); /* 210 runs */
  assert_int_equal(cptest_open_fds(), before);
  assert_true(cptest_no_children());
  free(missing);
  cptest_rmtree(dir);
  free(dir);
}

static void hygiene_no_zombie_after_timeouts_and_kills(void **state) {
  (void)state;
  const char *sleep_long[] = {"sleep", "30000", NULL};
  const char *sig[] = {"signal", "KILL", NULL};
  for (int i = 0; i < 5; i++) {
    cp_result r;
    cp_options o = {.timeout_ms = 20, .kill_signal = i % 2 ? CP_SIGKILL : CP_SIGTERM};
    cptest_assert_rc(cptest_run(sleep_long, &o, &r), &r, CP_ETIMEDOUT);
    cp_result_free(&r);
    cptest_assert_rc(cptest_run(sig, NULL, &r), &r, CP_OK);
    cp_result_free(&r);
  }
  assert_true(cptest_no_children());
}

/* The parent's SIGPIPE is at its default (terminate): writing the input to a child that already
 * exited must surface as nothing worse than a short write. */
static void hygiene_sigpipe_from_a_closed_stdin_never_kills_the_parent(void **state) {
  (void)state;
  struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
  sigemptyset(&dfl.sa_mask);
  assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);
  size_t n = 16u << 20;
  char *input = calloc(n, 1);
  assert_non_null(input);
  const char *args[] = {"exit", "0", NULL};
  cp_options o = {.input = input, .input_len = n};
  for (int i = 0; i < 5; i++) {
    cp_result r;
    cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
    assert_int_equal(r.status, 0);
    cp_result_free(&r);
  }
  free(input);
  struct sigaction now;
  sigaction(SIGPIPE, NULL, &now);
  assert_true(now.sa_handler == SIG_DFL);
  sigaction(SIGPIPE, &old, NULL);
}

static void hygiene_child_gets_an_empty_mask_and_default_dispositions(void **state) {
  (void)state;
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGCHLD);
  assert_int_equal(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
  static const int ignored[] = {SIGTERM, SIGHUP, SIGPIPE, SIGUSR2, SIGQUIT};
  struct sigaction ign = {.sa_handler = SIG_IGN}, old[5];
  sigemptyset(&ign.sa_mask);
  for (int i = 0; i < 5; i++) assert_int_equal(sigaction(ignored[i], &ign, &old[i]), 0);

  const char *args[] = {"sigstate", NULL};
  cp_result r;
  int rc = cptest_run(args, NULL, &r);

  for (int i = 0; i < 5; i++) sigaction(ignored[i], &old[i], NULL);
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  cptest_assert_rc(rc, &r, CP_OK);
  assert_true(cptest_buf_eq(&r.out, "blocked:\nignored:\n"));
  cp_result_free(&r);
}

/* The library changes nothing of the parent's signal state behind its back. */
static void hygiene_parent_signal_state_is_left_alone(void **state) {
  (void)state;
  static const int watched[] = {SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP};
  struct sigaction before[5], after[5];
  sigset_t mask_before, mask_after;
  pthread_sigmask(SIG_BLOCK, NULL, &mask_before);
  for (int i = 0; i < 5; i++) sigaction(watched[i], NULL, &before[i]);
  const char *args[] = {"both", "1000", NULL};
  const char *sleep_long[] = {"sleep", "30000", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  cp_result_free(&r);
  cp_options quick = {.timeout_ms = 10};
  cptest_assert_rc(cptest_run(sleep_long, &quick, &r), &r, CP_ETIMEDOUT);
  cp_result_free(&r);
  pthread_sigmask(SIG_BLOCK, NULL, &mask_after);
  for (int s = 1; s < NSIG; s++) {
    if (sigismember(&mask_before, s) != sigismember(&mask_after, s))
      fail_msg("signal %d's mask bit changed", s);
  }
  for (int i = 0; i < 5; i++) {
    sigaction(watched[i], NULL, &after[i]);
    if (before[i].sa_handler != after[i].sa_handler) fail_msg("disposition of signal %d changed", watched[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hygiene_child_sees_only_fds_0_1_2),
      cmocka_unit_test(hygiene_child_sees_only_fds_0_1_2_with_ignore_and_inherit),
      cmocka_unit_test(hygiene_stdio_fd_arrives_only_in_its_slot),
      cmocka_unit_test(hygiene_inherited_closed_stdout_is_the_null_device),
      cmocka_unit_test(hygiene_all_stdio_closed_become_the_null_device),
      cmocka_unit_test(hygiene_child_sees_no_fd_of_another_running_child),
      cmocka_unit_test(hygiene_concurrent_spawns_leak_nothing_into_each_other),
      cmocka_unit_test(hygiene_fd_count_unchanged_after_many_runs),
      cmocka_unit_test(hygiene_no_zombie_after_timeouts_and_kills),
      cmocka_unit_test(hygiene_sigpipe_from_a_closed_stdin_never_kills_the_parent),
      cmocka_unit_test(hygiene_child_gets_an_empty_mask_and_default_dispositions),
      cmocka_unit_test(hygiene_parent_signal_state_is_left_alone),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
