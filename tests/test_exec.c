/* test_exec.c - cp_exec_sync() (through the shell: pipes, redirections, variables), cp_exec_file_sync()
 * (no shell, so metacharacters are plain bytes), CP_ECHILDFAILED with the output kept, and
 * options.shell for the spawn form. */
#include "cptest.h"

#include <ctype.h>

/* The buffer without trailing whitespace (cmd.exe ends lines in "\r\n", echo may add a space). */
static bool trimmed_eq(const cp_buffer *b, const char *s) {
  size_t n = b->len;
  while (n > 0 && isspace((unsigned char)b->data[n - 1])) n--;
  if (n == strlen(s) && memcmp(b->data, s, n) == 0) return true;
  print_message("\"%.*s\" != \"%s\"\n", (int)b->len, b->data, s);
  return false;
}

/* A command line running the helper with `rest` after it: "<helper>" rest. */
static char *helper_cmd(const char *fmt, ...) {
  char rest[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rest, sizeof rest, fmt, ap);
  va_end(ap);
  size_t n = strlen(cptest_helper()) + strlen(rest) + 4;
  char *cmd = malloc(n);
  assert_non_null(cmd);
  snprintf(cmd, n, "\"%s\" %s", cptest_helper(), rest);
  return cmd;
}

static void exec_pipe_between_two_commands(void **state) {
  (void)state;
  char *cmd = helper_cmd("out 1000 | \"%s\" cat", cptest_helper());
  cp_result r;
  cptest_assert_rc(cp_exec_sync(cmd, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, 1000);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  cp_result_free(&r);
  free(cmd);
}

static void exec_redirection_to_a_file(void **state) {
  (void)state;
  char *file = cptest_join(cptest_tmpdir, "redirected.txt");
  char *cmd = helper_cmd("out 100 > \"%s\"", file);
  cp_result r;
  cptest_assert_rc(cp_exec_sync(cmd, NULL, &r), &r, CP_OK);
  assert_int_equal(r.out.len, 0);
  size_t len;
  char *data = cptest_read_file(file, &len);
  assert_non_null(data);
  assert_int_equal(len, 100);
  assert_true(cptest_is_pattern(data, len));
  free(data);
  cp_result_free(&r);
  free(cmd);
  free(file);
}

static void exec_stderr_redirected_to_stdout(void **state) {
  (void)state;
  char *cmd = helper_cmd("err 50 2>&1");
  cp_result r;
  cptest_assert_rc(cp_exec_sync(cmd, NULL, &r), &r, CP_OK);
  assert_int_equal(r.out.len, 50);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  assert_int_equal(r.err.len, 0);
  cp_result_free(&r);
  free(cmd);
}

static void exec_shell_builtin(void **state) {
  (void)state;
  cp_result r;
  cptest_assert_rc(cp_exec_sync("echo hello", NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_true(trimmed_eq(&r.out, "hello"));
  cp_result_free(&r);
}

static void exec_shell_expands_variables(void **state) {
  (void)state;
  const char *env[] = {"CPTEST_SHELLVAR=expanded", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  cp_result r;
#ifdef _WIN32
  const char *cmd = "echo %CPTEST_SHELLVAR%";
#else
  const char *cmd = "echo $CPTEST_SHELLVAR";
#endif
  cptest_assert_rc(cp_exec_sync(cmd, &o, &r), &r, CP_OK);
  assert_true(trimmed_eq(&r.out, "expanded"));
  cp_result_free(&r);
}

static void exec_exit_zero_is_ok(void **state) {
  (void)state;
  cp_result r;
  cptest_assert_rc(cp_exec_sync("exit 0", NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.error.code, CP_OK);
  cp_result_free(&r);
}

static void exec_nonzero_exit_fails_with_output_kept(void **state) {
  (void)state;
#ifdef _WIN32
  const char *cmd = "echo out& echo err 1>&2& exit 3";
#else
  const char *cmd = "echo out; echo err >&2; exit 3";
#endif
  cp_result r;
  cptest_assert_rc(cp_exec_sync(cmd, NULL, &r), &r, CP_ECHILDFAILED);
  assert_int_equal(r.error.code, CP_ECHILDFAILED);
  assert_int_equal(r.status, 3);
  assert_true(trimmed_eq(&r.out, "out"));
  assert_true(trimmed_eq(&r.err, "err"));
  assert_non_null(strstr(r.error.message, "Command failed"));
  cp_result_free(&r);
}

static void exec_unicode_command(void **state) {
  (void)state;
  char *cmd = helper_cmd("argv \"\xc3\xbc\xe6\x97\xa5\xe6\x9c\xac\"");
  cp_result r;
  cptest_assert_rc(cp_exec_sync(cmd, NULL, &r), &r, CP_OK);
  const char *args[] = {"argv", "\xc3\xbc\xe6\x97\xa5\xe6\x9c\xac", NULL};
  char *expect = cptest_hex_lines(args);
  assert_true(cptest_buf_eq(&r.out, expect));
  free(expect);
  cp_result_free(&r);
  free(cmd);
}

static void exec_with_an_explicit_shell_path(void **state) {
  (void)state;
#ifdef _WIN32
  const char *shell = getenv("ComSpec");
  if (!shell) shell = "cmd.exe";
#else
  const char *shell = "/bin/sh";
#endif
  cp_options o = {.shell = shell};
  cp_result r;
  cptest_assert_rc(cp_exec_sync("echo via-explicit-shell", &o, &r), &r, CP_OK);
  assert_true(trimmed_eq(&r.out, "via-explicit-shell"));
  cp_result_free(&r);
}

/* Node runs any shell other than cmd.exe as `shell -c command`; the helper as shell prints what it got. */
static void exec_custom_shell_gets_dash_c_and_the_command(void **state) {
  (void)state;
  cp_options o = {.shell = cptest_helper()};
  cp_result r;
  cptest_assert_rc(cp_exec_sync("some command | with > metacharacters", &o, &r), &r, CP_OK);
  assert_true(cptest_buf_eq(&r.out, "some command | with > metacharacters"));
  cp_result_free(&r);
}

static void exec_file_success(void **state) {
  (void)state;
  const char *args[] = {"both", "300", NULL};
  cp_result r;
  cptest_assert_rc(cp_exec_file_sync(cptest_helper(), args, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, 300);
  assert_int_equal(r.err.len, 300);
  cp_result_free(&r);
}

static void exec_file_nonzero_exit_fails_with_output_kept(void **state) {
  (void)state;
  const char *args[] = {"err", "20", NULL};
  cp_result r;
  cptest_assert_rc(cp_exec_file_sync(cptest_helper(), args, NULL, &r), &r, CP_OK);
  cp_result_free(&r);
  const char *args2[] = {"exit", "9", NULL};
  cptest_assert_rc(cp_exec_file_sync(cptest_helper(), args2, NULL, &r), &r, CP_ECHILDFAILED);
  assert_int_equal(r.status, 9);
  assert_int_equal(r.error.code, CP_ECHILDFAILED);
  assert_non_null(strstr(r.error.message, "Command failed"));
  cp_result_free(&r);
}

static void exec_file_killed_by_a_signal_fails(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: no signals on Windows (timeouts and kills are in test_timeout_kill)");
#else
  const char *args[] = {"signal", "TERM", NULL};
  cp_result r;
  cptest_assert_rc(cp_exec_file_sync(cptest_helper(), args, NULL, &r), &r, CP_ECHILDFAILED);
  assert_int_equal(r.status, -1);
  assert_int_equal(r.signal, CP_SIGTERM);
  cp_result_free(&r);
#endif
}

static void exec_file_is_immune_to_shell_metacharacters(void **state) {
  (void)state;
  const char *args[] = {"argv",
                        "; echo INJECTED",
                        "$(echo INJECTED)",
                        "`echo INJECTED`",
                        "| echo INJECTED",
                        "& echo INJECTED",
                        "&& echo INJECTED",
                        "> cptest-should-not-exist",
                        "%PATH%",
                        "$PATH",
                        "\" & echo INJECTED & \"",
                        "^& echo INJECTED",
                        "\\\" & echo INJECTED",
                        NULL};
  cp_result r;
  cptest_assert_rc(cp_exec_file_sync(cptest_helper(), args, NULL, &r), &r, CP_OK);
  char *expect = cptest_hex_lines(args);
  assert_true(cptest_buf_eq(&r.out, expect));
  assert_null(strstr(r.out.data, "INJECTED"));
  free(expect);
  cp_result_free(&r);
}

/* With options.shell, file and args are joined with spaces and no quoting, as in Node. */
static void spawn_with_default_shell_joins_file_and_args(void **state) {
  (void)state;
  const char *args[] = {"a", "b", NULL};
  cp_options o = {.shell = CP_SHELL_DEFAULT};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("echo", args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_true(trimmed_eq(&r.out, "a b"));
  cp_result_free(&r);
}

static void spawn_with_shell_interprets_metacharacters(void **state) {
  (void)state;
  size_t n = strlen(cptest_helper()) + 3;
  char *quoted = malloc(n);
  assert_non_null(quoted);
  snprintf(quoted, n, "\"%s\"", cptest_helper());
  const char *args[] = {"out", "10", "|", quoted, "cat", NULL};
  cp_options o = {.shell = CP_SHELL_DEFAULT};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(quoted, args, &o, &r), &r, CP_OK);
  assert_int_equal(r.out.len, 10);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  cp_result_free(&r);
  free(quoted);
}

/* The errors of a run that started carry the Node function it stands for as their syscall. */
typedef struct labelled {
  int rc;
  const char *syscall;
  bool called;
} labelled;

static void on_labelled(int rc, cp_result *res, void *ud) {
  labelled *l = ud;
  l->rc = rc;
  l->syscall = res->error.syscall; /* a static string */
  l->called = true;
}

static labelled run_async_labelled(bool shell, const char *const *args, const cp_options *o) {
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  labelled l = {0, NULL, false};
  char *cmd = NULL;
  if (shell) {
    cmd = helper_cmd("%s %s %s", args[0], args[1], args[2] ? args[2] : "");
    assert_int_equal(cp_exec(loop, cmd, o, on_labelled, &l), 0);
  } else {
    assert_int_equal(cp_exec_file(loop, cptest_helper(), args, o, on_labelled, &l), 0);
  }
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(cp_loop_free(loop), 0);
  free(cmd);
  assert_true(l.called);
  return l;
}

static void exec_errors_are_labelled_with_the_form(void **state) {
  (void)state;
  const char *fail[] = {"exit", "3", NULL};
  const char *slow[] = {"sleep", "20000", NULL};
  const char *loud[] = {"out", "5000", NULL};
  cp_options timeout = {.timeout_ms = 200}, small = {.max_buffer = 100};
  labelled l = run_async_labelled(false, fail, NULL);
  assert_int_equal(l.rc, CP_ECHILDFAILED);
  assert_string_equal(l.syscall, "execFile");
  l = run_async_labelled(true, fail, NULL);
  assert_int_equal(l.rc, CP_ECHILDFAILED);
  assert_string_equal(l.syscall, "exec");
  l = run_async_labelled(false, slow, &timeout);
  assert_int_equal(l.rc, CP_ETIMEDOUT);
  assert_string_equal(l.syscall, "execFile");
  l = run_async_labelled(true, loud, &small);
  assert_int_equal(l.rc, CP_ENOBUFS);
  assert_string_equal(l.syscall, "exec");

  cp_result r;
  cptest_assert_rc(cp_exec_file_sync(cptest_helper(), fail, NULL, &r), &r, CP_ECHILDFAILED);
  assert_string_equal(r.error.syscall, "execFileSync");
  cp_result_free(&r);
  char *cmd = helper_cmd("exit 3");
  cptest_assert_rc(cp_exec_sync(cmd, NULL, &r), &r, CP_ECHILDFAILED);
  assert_string_equal(r.error.syscall, "execSync");
  cp_result_free(&r);
  free(cmd);
  cptest_assert_rc(cp_exec_file_sync(cptest_helper(), slow, &timeout, &r), &r, CP_ETIMEDOUT);
  assert_string_equal(r.error.syscall, "spawnSync");
  cp_result_free(&r);
  cptest_assert_rc(cp_spawn_sync(cptest_helper(), loud, &small, &r), &r, CP_ENOBUFS);
  assert_string_equal(r.error.syscall, "spawnSync");
  cp_result_free(&r);
}

/* Node's child.kill(999) throws and emits nothing: an invalid signal is only returned. */
static int kill_errors_seen;
static void on_kill_error(cp_child *c, const cp_error *err, void *ud) {
  (void)c, (void)err, (void)ud;
  kill_errors_seen++;
}

static void kill_with_an_invalid_signal_is_only_returned(void **state) {
  (void)state;
  cp_loop *loop;
  cp_child *c;
  assert_int_equal(cp_loop_new(&loop), 0);
  const char *args[] = {"sleep", "20000", NULL};
  cp_child_events ev = {.on_error = on_kill_error};
  assert_int_equal(cp_spawn(loop, cptest_helper(), args, NULL, &ev, NULL, &c), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_NOWAIT), 1);
  assert_int_equal(cp_child_kill(c, 999), CP_EINVAL);
  assert_int_equal(cp_child_kill(c, -1), CP_EINVAL);
  assert_int_equal(cp_child_kill(c, CP_SIGKILL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(kill_errors_seen, 0);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(exec_pipe_between_two_commands),
      cmocka_unit_test(exec_redirection_to_a_file),
      cmocka_unit_test(exec_stderr_redirected_to_stdout),
      cmocka_unit_test(exec_shell_builtin),
      cmocka_unit_test(exec_shell_expands_variables),
      cmocka_unit_test(exec_exit_zero_is_ok),
      cmocka_unit_test(exec_nonzero_exit_fails_with_output_kept),
      cmocka_unit_test(exec_unicode_command),
      cmocka_unit_test(exec_with_an_explicit_shell_path),
      cmocka_unit_test(exec_custom_shell_gets_dash_c_and_the_command),
      cmocka_unit_test(exec_file_success),
      cmocka_unit_test(exec_file_nonzero_exit_fails_with_output_kept),
      cmocka_unit_test(exec_file_killed_by_a_signal_fails),
      cmocka_unit_test(exec_file_is_immune_to_shell_metacharacters),
      cmocka_unit_test(spawn_with_default_shell_joins_file_and_args),
      cmocka_unit_test(spawn_with_shell_interprets_metacharacters),
      cmocka_unit_test(exec_errors_are_labelled_with_the_form),
      cmocka_unit_test(kill_with_an_invalid_signal_is_only_returned),
  };
  return cmocka_run_group_tests(tests, cptest_tmpdir_setup, cptest_tmpdir_teardown);
}
