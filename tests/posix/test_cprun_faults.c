/* test_cprun_faults.c - cprun when its own environment is hostile (issue 14): started with stdin,
 * stdout or stderr closed, its child gets the null device in that slot (docs/security.md), never a
 * descriptor of cprun's or of the library; a --json record written into a pipe whose reader is gone
 * is exit 125 with a message, not death by SIGPIPE (141, which reads as the child's own SIGPIPE). */
#include "cptest.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

/* Runs `cprun -- find /proc/self/fd/<slot> -fprintf FILE '%l'` with cprun's fd <slot> closed (by
 * the shell that starts it): find writes what it has in that slot into a file, without touching its
 * own standard streams. */
static void closed_slot_is_the_null_device(int slot) {
  char *file = cptest_join(cptest_tmpdir, "slot");
  char cmd[8192];
  const char *redir = slot == 0 ? "<&-" : slot == 1 ? ">&-" : "2>&-";
  snprintf(cmd, sizeof cmd, "'%s' -- find /proc/self/fd/%d -maxdepth 0 -fprintf '%s' '%%l' %s",
           cptest_bin("cprun"), slot, file, redir);
  remove(file);
  cp_result res;
  int rc = cp_exec_sync(cmd, NULL, &res);
  char *got = cptest_read_file(file, NULL);
  print_message("fd %d closed: exit %lld, the child had \"%s\" there\n", slot, (long long)res.status,
                got ? got : "(nothing)");
  cptest_assert_rc(rc, &res, 0);
  assert_non_null(got);
  assert_string_equal(got, "/dev/null");
  free(got);
  free(file);
  cp_result_free(&res);
}

static void cprun_with_stdin_closed_gives_the_child_the_null_device(void **state) {
  (void)state;
  closed_slot_is_the_null_device(0);
}

static void cprun_with_stdout_closed_gives_the_child_the_null_device(void **state) {
  (void)state;
  closed_slot_is_the_null_device(1);
}

static void cprun_with_stderr_closed_gives_the_child_the_null_device(void **state) {
  (void)state;
  closed_slot_is_the_null_device(2);
}

/* The shell of the issue: `cprun -- echo hi >&-` used to exit 1 ("write error: Bad file
 * descriptor"): echo wrote into a library pipe sitting in slot 1. */
static void cprun_echo_with_stdout_closed_exits_0(void **state) {
  (void)state;
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' -- echo hi >&-", cptest_bin("cprun"));
  cp_result res;
  int rc = cp_exec_sync(cmd, NULL, &res);
  cptest_assert_rc(rc, &res, 0);
  assert_string_equal(res.err.data, "");
  cp_result_free(&res);
}

static void cprun_json_into_a_closed_pipe_exits_125_with_a_message(void **state) {
  (void)state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  close(p[0]); /* the reader is gone before cprun writes its record */
  cp_options o = {.stdio = {{CP_STDIO_INHERIT, 0}, {CP_STDIO_FD, p[1]}, {CP_STDIO_PIPE, 0}}};
  const char *args[] = {"--json", "--", cptest_helper(), "out", "10", NULL};
  cp_result res;
  int rc = cp_spawn_sync(cptest_bin("cprun"), args, &o, &res);
  close(p[1]);
  print_message("exit %lld signal %d, stderr: %s\n", (long long)res.status, res.signal, res.err.data);
  cptest_assert_rc(rc, &res, 0);
  assert_int_equal(res.signal, 0);
  assert_int_equal(res.status, 125);
  assert_non_null(strstr(res.err.data, "cprun: writing the JSON record"));
  cp_result_free(&res);
}

int main(void) {
  signal(SIGPIPE, SIG_DFL); /* as a shell would start cprun */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cprun_with_stdin_closed_gives_the_child_the_null_device),
      cmocka_unit_test(cprun_with_stdout_closed_gives_the_child_the_null_device),
      cmocka_unit_test(cprun_with_stderr_closed_gives_the_child_the_null_device),
      cmocka_unit_test(cprun_echo_with_stdout_closed_exits_0),
      cmocka_unit_test(cprun_json_into_a_closed_pipe_exits_125_with_a_message),
  };
  return cmocka_run_group_tests(tests, cptest_tmpdir_setup, cptest_tmpdir_teardown);
}
