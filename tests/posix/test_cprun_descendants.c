/* test_cprun_descendants.c - cprun --json ends its run, with a record, whatever the child's
 * descendants do with its stdout and stderr (issue 13): after a --timeout, after a --max-buffer kill,
 * after a forwarded SIGTERM (the child having exited already), and nested; a second signal makes
 * cprun exit at once. POSIX: the children are shell scripts and the signals are POSIX's. */
#include "cptest.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static bool ends_within(long pid, int ms) { return cptest_pid_ends_within(pid, ms); }

/* Kills every pid listed (decimal, separated by spaces) in s: the sleepers a script left behind. */
static void kill_listed(const char *s) {
  for (char *end; *s; s = end) {
    long pid = strtol(s, &end, 10);
    if (end == s) {
      end++;
      continue;
    }
    if (pid > 1) kill((pid_t)pid, SIGKILL);
  }
}

/* Runs cprun with args, returning its exit status, the time it took and its stdout (the record). */
static int64_t run_cprun(const char *const *args, cp_result *r, uint64_t *took) {
  cp_options o = {.timeout_ms = 30000,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}}};
  uint64_t t0 = cptest_now_ms();
  cptest_assert_rc(cp_spawn_sync(cptest_bin("cprun"), args, &o, r), r, CP_OK);
  *took = cptest_now_ms() - t0;
  return r->status;
}

static void timeout_ends_the_run_while_a_descendant_holds_stdout(void **state) {
  (void)state;
  const char *args[] = {
      "--json", "--timeout", "0.3", "--shell", "(sleep 20; echo late) & echo parent $!; exec sleep 20", NULL};
  cp_result r;
  uint64_t took;
  assert_int_equal(run_cprun(args, &r, &took), 124);
  assert_true(took < 1300);
  assert_non_null(strstr(r.out.data, "\"timed_out\":true"));
  assert_non_null(strstr(r.out.data, "\"stdout\":\"parent "));
  assert_null(strstr(r.out.data, "late"));
  kill_listed(strstr(r.out.data, "parent ") + 7);
  cp_result_free(&r);
}

/* The child exits at once; its background process keeps stdout and stderr: the timeout ends it,
 * the record keeps the child's real status. */
static void timeout_bounds_the_run_when_the_child_exited_in_time(void **state) {
  (void)state;
  const char *args[] = {"--json", "--timeout", "0.3", "--", "sh", "-c", "sleep 20 & echo bg $!", NULL};
  cp_result r;
  uint64_t took;
  assert_int_equal(run_cprun(args, &r, &took), 124);
  assert_true(took < 1300);
  assert_non_null(strstr(r.out.data, "\"status\":0,\"signal\":null,\"timed_out\":true"));
  kill_listed(strstr(r.out.data, "bg ") + 3);
  cp_result_free(&r);
}

static void max_buffer_kill_ends_the_run_while_a_descendant_writes(void **state) {
  (void)state;
  const char *args[] = {"--json", "--max-buffer", "1000", "--shell", "yes & wait", NULL};
  cp_result r;
  uint64_t took;
  assert_int_equal(run_cprun(args, &r, &took), 128 + SIGTERM);
  assert_true(took < 1000);
  assert_non_null(strstr(r.out.data, "\"code\":\"ENOBUFS\""));
  assert_non_null(strstr(r.out.data, "\"signal\":\"SIGTERM\""));
  assert_non_null(strstr(r.out.data, "\"stdout_truncated\":true"));
  cp_result_free(&r); /* yes dies of SIGPIPE on the closed pipe */
}

static void max_buffer_on_stderr_ends_the_run_while_a_descendant_writes(void **state) {
  (void)state;
  const char *args[] = {"--json", "--max-buffer", "1000", "--shell", "yes >&2 & wait", NULL};
  cp_result r;
  uint64_t took;
  assert_int_equal(run_cprun(args, &r, &took), 128 + SIGTERM);
  assert_true(took < 1000);
  assert_non_null(strstr(r.out.data, "\"stderr_truncated\":true"));
  cp_result_free(&r);
}

/* cprun --timeout 1 -- cprun -- sh -c '... & ...': the outer timeout's SIGTERM reaches the inner
 * cprun, whose child has exited; it writes its record and exits, so the outer run ends too. */
static void nested_cprun_ends_at_the_outer_timeout(void **state) {
  (void)state;
  const char *args[] = {"--json", "--timeout", "0.5", "--", cptest_bin("cprun"),
                        "--json", "--",        "sh",  "-c", "sleep 20 & echo bg $!",
                        NULL};
  cp_result r;
  uint64_t took;
  assert_int_equal(run_cprun(args, &r, &took), 124);
  assert_true(took < 1500);
  assert_non_null(strstr(r.out.data, "\"timed_out\":true"));
  /* the inner record, JSON-escaped inside the outer one, with the inner child's status 0 */
  assert_non_null(strstr(r.out.data, "{\\\"pid\\\":"));
  assert_non_null(strstr(r.out.data, "\\\"status\\\":0"));
  const char *bg = strstr(r.out.data, "bg ");
  if (bg) kill_listed(bg + 3);
  cp_result_free(&r);
}

/* cprun on a loop, so the test can signal it while it runs. */
typedef cptest_cprun cprun_run;
#define start_cprun cptest_cprun_start

static void finish_cprun(cprun_run *r) {
  assert_int_equal(cp_loop_run(r->loop, CP_RUN_DEFAULT), 0);
  assert_true(r->closed);
  cp_child_free(r->child);
  assert_int_equal(cp_loop_free(r->loop), 0);
}

/* Waits (bounded) for the script to write "<its pid> <background pid>" into path. */
static bool read_pids(const char *path, long *sh, long *bg) {
  for (uint64_t t0 = cptest_now_ms(); cptest_now_ms() - t0 < 5000;) {
    char *s = cptest_read_file(path, NULL);
    bool ok = s && sscanf(s, "%ld %ld", sh, bg) == 2 && strchr(s, '\n');
    free(s);
    if (ok) return true;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return false;
}

static void sigterm_ends_the_run_when_the_child_exited_and_a_descendant_holds_stdout(void **state) {
  (void)state;
  char *file = cptest_join(cptest_tmpdir, "pids1");
  char script[512];
  snprintf(script, sizeof script, "sleep 20 & echo hi; echo $$ $! > '%s.tmp'; mv '%s.tmp' '%s'", file, file,
           file);
  const char *args[] = {"--json", "--", "sh", "-c", script, NULL};
  cprun_run r;
  start_cprun(&r, args);
  long sh = 0, bg = 0;
  assert_true(read_pids(file, &sh, &bg));
  assert_true(ends_within(sh, 5000)); /* the child is gone; only its background process remains */
  uint64_t t0 = cptest_now_ms();
  assert_int_equal(kill((pid_t)cp_child_pid(r.child), SIGTERM), 0);
  finish_cprun(&r);
  assert_true(cptest_now_ms() - t0 < 1000);
  assert_int_equal(r.status, 0); /* the child's own status: it had exited with 0 */
  assert_non_null(strstr(r.out, "\"status\":0"));
  assert_non_null(strstr(r.out, "\"stdout\":\"hi\\u000a\""));
  kill((pid_t)bg, SIGKILL);
  free(file);
}

/* The child is alive when the signal comes: it dies of the forwarded SIGTERM, and the run ends then,
 * although its background process still holds stdout. */
static void sigterm_ends_the_run_when_the_child_dies_of_it_and_a_descendant_holds_stdout(void **state) {
  (void)state;
  char *file = cptest_join(cptest_tmpdir, "pids3");
  char script[512];
  snprintf(script, sizeof script, "sleep 20 & echo $$ $! > '%s.tmp'; mv '%s.tmp' '%s'; exec sleep 20", file,
           file, file);
  const char *args[] = {"--json", "--", "sh", "-c", script, NULL};
  cprun_run r;
  start_cprun(&r, args);
  long sh = 0, bg = 0;
  assert_true(read_pids(file, &sh, &bg));
  uint64_t t0 = cptest_now_ms();
  assert_int_equal(kill((pid_t)cp_child_pid(r.child), SIGTERM), 0);
  finish_cprun(&r);
  assert_true(cptest_now_ms() - t0 < 1000);
  assert_int_equal(r.status, 128 + SIGTERM);
  assert_non_null(strstr(r.out, "\"signal\":\"SIGTERM\""));
  kill((pid_t)bg, SIGKILL);
  free(file);
}

/* The child ignores SIGTERM: the first one is forwarded, the second makes cprun exit at once. */
static void second_sigterm_makes_cprun_exit_at_once(void **state) {
  (void)state;
  char *file = cptest_join(cptest_tmpdir, "pids2");
  char script[512];
  snprintf(script, sizeof script, "trap '' TERM; sleep 20 & echo $$ $! > '%s.tmp'; mv '%s.tmp' '%s'; wait",
           file, file, file);
  const char *args[] = {"--json", "--", "sh", "-c", script, NULL};
  cprun_run r;
  start_cprun(&r, args);
  long sh = 0, bg = 0;
  assert_true(read_pids(file, &sh, &bg));
  uint64_t t0 = cptest_now_ms();
  pid_t cprun = (pid_t)cp_child_pid(r.child);
  /* Signals sent while one is still pending merge into one: repeat until cprun has taken two. */
  while (!r.closed && cptest_now_ms() - t0 < 3000) {
    kill(cprun, SIGTERM);
    cp_loop_run(r.loop, CP_RUN_NOWAIT);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  finish_cprun(&r);
  assert_true(cptest_now_ms() - t0 < 1000);
  assert_int_equal(r.status, 128 + SIGTERM);
  assert_int_equal(r.len, 0);         /* no record: it left at once */
  assert_true(ends_within(sh, 2000)); /* the child dies with cprun (kill_on_parent_exit) */
  kill((pid_t)bg, SIGKILL);
  free(file);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(timeout_ends_the_run_while_a_descendant_holds_stdout),
      cmocka_unit_test(timeout_bounds_the_run_when_the_child_exited_in_time),
      cmocka_unit_test(max_buffer_kill_ends_the_run_while_a_descendant_writes),
      cmocka_unit_test(max_buffer_on_stderr_ends_the_run_while_a_descendant_writes),
      cmocka_unit_test(nested_cprun_ends_at_the_outer_timeout),
      cmocka_unit_test(sigterm_ends_the_run_when_the_child_exited_and_a_descendant_holds_stdout),
      cmocka_unit_test(sigterm_ends_the_run_when_the_child_dies_of_it_and_a_descendant_holds_stdout),
      cmocka_unit_test(second_sigterm_makes_cprun_exit_at_once),
  };
  return cmocka_run_group_tests(tests, cptest_tmpdir_setup, cptest_tmpdir_teardown);
}
