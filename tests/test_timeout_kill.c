/* test_timeout_kill.c - options.timeout_ms and options.kill_signal in the sync forms, and how a
 * child's death by a signal is reported (POSIX). */
#include "cptest.h"

#include <inttypes.h>
#ifndef _WIN32
#include <signal.h>
#endif

static void timeout_kills_and_sets_timed_out(void **state) {
  (void)state;
  const char *args[] = {"sleep", "30000", NULL};
  cp_options o = {.timeout_ms = 200};
  cp_result r;
  uint64_t t0 = cptest_now_ms();
  int rc = cptest_run(args, &o, &r);
  uint64_t elapsed = cptest_now_ms() - t0;
  cptest_assert_rc(rc, &r, CP_ETIMEDOUT);
  assert_int_equal(r.error.code, CP_ETIMEDOUT);
  assert_true(r.timed_out);
  assert_true(r.pid > 0);
  assert_int_equal(r.status, -1);
  assert_int_equal(r.signal, CP_SIGTERM);
  assert_true(elapsed >= 190);
  assert_true(elapsed < 10000);
  cp_result_free(&r);
}

static void timeout_keeps_the_output_read_before_the_kill(void **state) {
  (void)state;
  const char *args[] = {"out-sleep", "5000", "30000", NULL};
  cp_options o = {.timeout_ms = 300};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_ETIMEDOUT);
  assert_true(r.timed_out);
  assert_int_equal(r.out.len, 5000);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  cp_result_free(&r);
}

static void timeout_kill_signal_is_honoured(void **state) {
  (void)state;
  const char *args[] = {"sleep", "30000", NULL};
  cp_options o = {.timeout_ms = 200, .kill_signal = CP_SIGKILL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_ETIMEDOUT);
  assert_true(r.timed_out);
  assert_int_equal(r.status, -1);
  assert_int_equal(r.signal, CP_SIGKILL);
  cp_result_free(&r);
}

static void timeout_sigkill_ends_a_child_that_ignores_sigterm(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: Windows has no SIGTERM to ignore (every kill signal terminates)");
#else
  const char *args[] = {"ignore-term", "30000", NULL};
  cp_options o = {.timeout_ms = 300, .kill_signal = CP_SIGKILL};
  cp_result r;
  uint64_t t0 = cptest_now_ms();
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_ETIMEDOUT);
  assert_true(cptest_now_ms() - t0 < 10000);
  assert_int_equal(r.signal, CP_SIGKILL);
  assert_true(cptest_buf_eq(&r.out, "ready\n"));
  cp_result_free(&r);
#endif
}

/* As in Node, a timeout sends kill_signal once: a child that ignores it runs to its own end, and the
 * result still says it timed out. */
static void timeout_sigterm_ignored_child_runs_to_its_end_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: Windows has no SIGTERM to ignore (every kill signal terminates)");
#else
  const char *args[] = {"ignore-term", "1500", NULL};
  cp_options o = {.timeout_ms = 500}; /* time enough for the child to start ignoring SIGTERM */
  cp_result r;
  uint64_t t0 = cptest_now_ms();
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_ETIMEDOUT);
  assert_true(cptest_now_ms() - t0 >= 1400);
  assert_true(cptest_buf_eq(&r.out, "ready\n"));
  assert_true(r.timed_out);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.signal, 0);
  cp_result_free(&r);
#endif
}

/* The child starts a grandchild that would outlive it; with kill_tree the timeout reaches both. */
static void timeout_with_kill_tree_kills_grandchildren(void **state) {
  (void)state;
  const char *args[] = {"spawn-sleeper", "30000", "30000", NULL};
  cp_options o = {.timeout_ms = 500, .kill_tree = true};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_ETIMEDOUT);
  int64_t grandchild = strtoll(r.out.data, NULL, 10);
  assert_true(grandchild > 0);
  bool gone = cptest_process_gone(grandchild, 5000);
  if (!gone) cptest_kill_pid(grandchild);
  assert_true(gone);
  cp_result_free(&r);
}

/* As in Node: without kill_tree only the child is killed. */
static void timeout_without_kill_tree_spares_grandchildren(void **state) {
  (void)state;
  const char *args[] = {"spawn-sleeper", "30000", "30000", NULL};
  cp_options o = {.timeout_ms = 500};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_ETIMEDOUT);
  int64_t grandchild = strtoll(r.out.data, NULL, 10);
  assert_true(grandchild > 0);
  bool gone = cptest_process_gone(grandchild, 0);
  cptest_kill_pid(grandchild);
  assert_false(gone);
  cp_result_free(&r);
}

static void timeout_zero_means_no_limit(void **state) {
  (void)state;
  const char *args[] = {"sleep", "300", NULL};
  cp_options o = {.timeout_ms = 0};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_false(r.timed_out);
  assert_int_equal(r.status, 0);
  cp_result_free(&r);
}

static void timeout_not_reached(void **state) {
  (void)state;
  const char *args[] = {"sleep", "50", NULL};
  cp_options o = {.timeout_ms = 20000};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_false(r.timed_out);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.signal, 0);
  cp_result_free(&r);
}

static void timeout_huge_does_not_overflow(void **state) {
  (void)state;
  const char *args[] = {"sleep", "50", NULL};
  cp_options o = {.timeout_ms = INT64_MAX};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_false(r.timed_out);
  assert_int_equal(r.status, 0);
  cp_result_free(&r);
}

static void timeout_negative_is_einval(void **state) {
  (void)state;
  const char *args[] = {"exit", "0", NULL};
  cp_options o = {.timeout_ms = -1};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_EINVAL);
  assert_int_equal(r.error.code, CP_EINVAL);
  assert_int_equal(r.pid, 0);
  assert_non_null(strstr(r.error.message, "timeout"));
  cp_result_free(&r);
}

/* Node rejects an unknown killSignal before starting anything (ERR_UNKNOWN_SIGNAL). */
static void kill_signal_negative_is_einval(void **state) {
  (void)state;
  const char *args[] = {"exit", "0", NULL};
  cp_options o = {.timeout_ms = 1000, .kill_signal = -3};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_EINVAL);
  assert_int_equal(r.pid, 0);
  cp_result_free(&r);
}

static void signal_death_is_reported_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: a Windows process cannot die of a signal it sends itself");
#else
  static const int sigs[] = {CP_SIGTERM, CP_SIGKILL, CP_SIGHUP, CP_SIGINT, SIGUSR1};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    char n[8];
    snprintf(n, sizeof n, "%d", sigs[i]);
    const char *args[] = {"signal", n, NULL};
    cp_result r;
    cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
    assert_int_equal(r.status, -1);
    assert_int_equal(r.signal, sigs[i]);
    assert_false(r.timed_out);
    assert_int_equal(r.error.code, CP_OK);
    cp_result_free(&r);
  }
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(timeout_kills_and_sets_timed_out),
      cmocka_unit_test(timeout_keeps_the_output_read_before_the_kill),
      cmocka_unit_test(timeout_kill_signal_is_honoured),
      cmocka_unit_test(timeout_sigkill_ends_a_child_that_ignores_sigterm),
      cmocka_unit_test(timeout_sigterm_ignored_child_runs_to_its_end_posix),
      cmocka_unit_test(timeout_with_kill_tree_kills_grandchildren),
      cmocka_unit_test(timeout_without_kill_tree_spares_grandchildren),
      cmocka_unit_test(timeout_zero_means_no_limit),
      cmocka_unit_test(timeout_not_reached),
      cmocka_unit_test(timeout_huge_does_not_overflow),
      cmocka_unit_test(timeout_negative_is_einval),
      cmocka_unit_test(kill_signal_negative_is_einval),
      cmocka_unit_test(signal_death_is_reported_posix),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
