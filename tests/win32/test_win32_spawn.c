/* test_win32_spawn.c - Windows only: the program search with PATHEXT, environment names that differ
 * only in case, exit codes beyond 8 bits, kills reported as Node reports them on Windows, and the
 * options Windows refuses. */
#include <cptest.h>

#include <windows.h>

static char *dir;

static int setup(void **state) {
  (void)state;
  dir = cptest_mkdtemp();
  return dir ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  cptest_rmtree(dir);
  free(dir);
  return 0;
}

/* A fresh directory under the test dir holding `files` (name, content; content NULL = a copy of
 * the helper). */
static char *make_dir(const char *name, const char *const files[][2], size_t n) {
  char *d = cptest_join(dir, name);
  assert_int_equal(cptest_mkdir(d), 0);
  for (size_t i = 0; i < n; i++) {
    char *p = cptest_join(d, files[i][0]);
    if (files[i][1])
      assert_int_equal(cptest_write_file(p, files[i][1], strlen(files[i][1]), 0755), 0);
    else
      assert_int_equal(cptest_copy_file(cptest_helper(), p), 0);
    free(p);
  }
  return d;
}

static char *path_var(const char *name, const char *value) {
  char *s = malloc(strlen(name) + strlen(value) + 2);
  assert_non_null(s);
  sprintf(s, "%s=%s", name, value);
  return s;
}

/* "tool" is found as tool.cmd through PATHEXT when nothing else matches. */
static void pathext_finds_a_cmd_script(void **state) {
  (void)state;
  static const char *const files[][2] = {{"tool.cmd", "@echo off\r\necho from-cmd\r\nexit /b 7\r\n"}};
  char *d = make_dir("pe1", files, 1);
  char *pv = path_var("PATH", d);
  const char *env[] = {pv, NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("tool", NULL, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 7);
  assert_true(cptest_buf_eq(&r.out, "from-cmd\r\n"));
  cp_result_free(&r);
  free(pv);
  free(d);
}

/* PATHEXT's order decides: .EXE before .BAT by default; the child's PATHEXT is the one used. */
static void pathext_order_and_the_childs_pathext(void **state) {
  (void)state;
  static const char *const files[][2] = {{"tool.exe", NULL}, {"tool.bat", "@echo off\r\nexit /b 9\r\n"}};
  char *d = make_dir("pe2", files, 2);
  char *pv = path_var("PATH", d);
  const char *env[] = {pv, "PATHEXT=.COM;.EXE;.BAT;.CMD", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  const char *args[] = {"exit", "3", NULL};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("tool", args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 3); /* the .exe */
  cp_result_free(&r);
  const char *env2[] = {pv, "PATHEXT=.BAT;.EXE", NULL};
  o.env = env2;
  cptest_assert_rc(cp_spawn_sync("tool", args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 9); /* the .bat */
  cp_result_free(&r);
  free(pv);
  free(d);
}

/* Extensions CreateProcessW cannot run (.js, .vbs...) are not picked from PATHEXT: ENOENT. */
static void pathext_skips_what_createprocess_cannot_run(void **state) {
  (void)state;
  static const char *const files[][2] = {{"only.js", "WScript.Echo(1)\r\n"}};
  char *d = make_dir("pe3", files, 1);
  char *pv = path_var("PATH", d);
  const char *env[] = {pv, "PATHEXT=.JS;.EXE", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("only", NULL, &o, &r), &r, CP_ENOENT);
  assert_string_equal(r.error.syscall, "spawn");
  assert_string_equal(r.error.path, "only");
  cp_result_free(&r);
  free(pv);
  free(d);
}

/* A relative program with a directory part is resolved against options.cwd. */
static void relative_program_with_a_directory_is_resolved_against_cwd(void **state) {
  (void)state;
  static const char *const files[][2] = {{"helper.exe", NULL}};
  char *d = make_dir("rel", files, 1);
  cp_options o = {.cwd = dir};
  const char *args[] = {"exit", "5", NULL};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("rel\\helper", args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 5);
  cp_result_free(&r);
  cptest_assert_rc(cp_spawn_sync(".\\rel/helper.exe", args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 5);
  cp_result_free(&r);
  free(d);
}

/* Extending with "path=..." replaces PATH (names are case-insensitive): the search uses it and the
 * child has one PATH variable with that value. */
static void env_lowercase_path_overrides_PATH(void **state) {
  (void)state;
  static const char *const files[][2] = {{"onlyhere.exe", NULL}};
  char *d = make_dir("envp", files, 1);
  char *pv = path_var("path", d);
  const char *env[] = {pv, NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  const char *args[] = {"envall", NULL};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("onlyhere", args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  int paths = 0;
  for (const char *p = r.out.data; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len >= 5 && _strnicmp(p, "path=", 5) == 0) {
      paths++;
      assert_int_equal(len - 5, strlen(d));
      assert_memory_equal(p + 5, d, len - 5);
    }
    p = nl ? nl + 1 : NULL;
  }
  assert_int_equal(paths, 1);
  cp_result_free(&r);
  free(pv);
  free(d);
}

/* A parent variable and an extension that differ only in case are one variable: the extension wins. */
static void env_extend_is_case_insensitive(void **state) {
  (void)state;
  cptest_setenv("CPTEST_CaseVar", "parent");
  const char *env[] = {"cptest_casevar=child", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  const char *args[] = {"env", "CPTEST_CASEVAR", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_true(cptest_buf_eq(&r.out, "child"));
  cp_result_free(&r);
  const char *all[] = {"envall", NULL};
  cptest_assert_rc(cptest_run(all, &o, &r), &r, CP_OK);
  int n = 0;
  for (const char *p = r.out.data; (p = strstr(p, "\n")) != NULL; p++)
    if (_strnicmp(p + 1, "cptest_casevar=", 15) == 0) n++;
  if (_strnicmp(r.out.data, "cptest_casevar=", 15) == 0) n++;
  assert_int_equal(n, 1);
  cp_result_free(&r);
  cptest_setenv("CPTEST_CaseVar", NULL);
}

/* Windows exit codes are 32 bits: 300 stays 300, and an NTSTATUS such as 0xC0000005 (what a crash
 * leaves) comes back as the unsigned value, as Node reports it. */
static void exit_codes_above_255_and_ntstatus_codes(void **state) {
  (void)state;
  const char *a300[] = {"exit", "300", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(a300, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 300);
  assert_int_equal(r.signal, 0);
  cp_result_free(&r);
  const char *crash[] = {"exit", "-1073741819", NULL}; /* (int)0xC0000005 */
  cptest_assert_rc(cptest_run(crash, NULL, &r), &r, CP_OK);
  assert_true(r.status == (int64_t)0xC0000005u);
  cp_result_free(&r);
}

typedef struct kill_state {
  int64_t status;
  int signal;
  bool exited;
} kill_state;

static void on_exit_rec(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c;
  kill_state *k = ud;
  k->status = status;
  k->signal = sig;
  k->exited = true;
}

static void kill_and_expect(int signum) {
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  kill_state k = {0};
  cp_child_events ev = {.on_exit = on_exit_rec};
  const char *args[] = {"sleep", "20000", NULL};
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, CP_INVALID_HANDLE},
                            {CP_STDIO_IGNORE, CP_INVALID_HANDLE},
                            {CP_STDIO_IGNORE, CP_INVALID_HANDLE}}};
  cp_child *c;
  assert_int_equal(cp_spawn(loop, cptest_helper(), args, &o, &ev, &k, &c), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_NOWAIT) >= 0, 1);
  assert_int_equal(cp_child_kill(c, 0), 0);          /* alive */
  assert_int_equal(cp_child_kill(c, 10), CP_EINVAL); /* no such signal on Windows */
  assert_int_equal(cp_child_kill(c, signum), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(k.exited);
  assert_int_equal(k.status, -1);
  assert_int_equal(k.signal, signum);
  assert_true(cp_child_killed(c));
  /* gone: never "succeeds" on a dead process (Wine's TerminateProcess would) */
  assert_int_equal(cp_child_kill(c, signum), CP_ESRCH);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void kill_sigterm_is_reported_as_sigterm(void **state) {
  (void)state;
  kill_and_expect(CP_SIGTERM);
}

static void kill_sigkill_is_reported_as_sigkill(void **state) {
  (void)state;
  kill_and_expect(CP_SIGKILL);
}

/* A sync timeout kills with SIGTERM and says so. */
static void timeout_reports_sigterm(void **state) {
  (void)state;
  const char *args[] = {"sleep", "20000", NULL};
  cp_options o = {.timeout_ms = 300};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_ETIMEDOUT);
  assert_true(r.timed_out);
  assert_int_equal(r.status, -1);
  assert_int_equal(r.signal, CP_SIGTERM);
  assert_string_equal(cp_signal_name(r.signal), "SIGTERM");
  cp_result_free(&r);
}

typedef struct tree_state {
  char out[64];
  size_t len;
  int64_t status;
  int signal;
  bool exited;
} tree_state;

static void tree_on_stdout(cp_child *c, const char *data, size_t len, void *ud) {
  (void)c;
  tree_state *t = ud;
  if (len && t->len + len < sizeof t->out) {
    memcpy(t->out + t->len, data, len);
    t->len += len;
    t->out[t->len] = '\0';
  }
}

static void tree_on_exit(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c;
  tree_state *t = ud;
  t->status = status;
  t->signal = sig;
  t->exited = true;
}

/* kill_tree puts the child in its own job: a tree kill ends the grandchild too, the child's exit
 * says SIGTERM, and once nobody is left the tree kill is ESRCH. */
static void kill_tree_reaches_the_grandchild(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  const char *args[] = {"spawn-sleeper", "20000", "20000", NULL};
  cp_options o = {.kill_tree = true,
                  .stdio = {{CP_STDIO_IGNORE, CP_INVALID_HANDLE},
                            {CP_STDIO_PIPE, CP_INVALID_HANDLE},
                            {CP_STDIO_IGNORE, CP_INVALID_HANDLE}}};
  tree_state t = {0};
  cp_child_events ev = {.on_stdout = tree_on_stdout, .on_exit = tree_on_exit};
  cp_child *c;
  assert_int_equal(cp_spawn(loop, cptest_helper(), args, &o, &ev, &t, &c), 0);
  uint64_t until = cptest_now_ms() + 10000;
  while (!strchr(t.out, '\n') && cptest_now_ms() < until) cp_loop_run(loop, CP_RUN_ONCE);
  assert_non_null(strchr(t.out, '\n'));
  int64_t grandchild = strtoll(t.out, NULL, 10);
  assert_true(grandchild > 0);
  assert_false(cptest_process_gone(grandchild, 0));
  assert_int_equal(cp_child_kill_tree(c, CP_SIGTERM), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(t.exited);
  assert_int_equal(t.status, -1);
  assert_int_equal(t.signal, CP_SIGTERM);
  bool gone = cptest_process_gone(grandchild, 5000);
  if (!gone) cptest_kill_pid(grandchild);
  assert_true(gone);
  assert_int_equal(cp_child_kill_tree(c, CP_SIGTERM), CP_ESRCH); /* nobody left */
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

/* uid/gid have no meaning on Windows: refused, with a message, nothing started. */
static void uid_and_gid_are_enotsup(void **state) {
  (void)state;
  const char *args[] = {"exit", "0", NULL};
  cp_options o = {.set_uid = true, .uid = 1000};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_ENOTSUP);
  assert_int_equal(r.pid, 0);
  assert_non_null(strstr(r.error.message, "uid"));
  cp_result_free(&r);
  cp_options g = {.set_gid = true, .gid = 1000};
  cptest_assert_rc(cptest_run(args, &g, &r), &r, CP_ENOTSUP);
  assert_non_null(strstr(r.error.message, "gid"));
  cp_result_free(&r);
}

/* windows_verbatim_arguments: the arguments go on the command line as they are. */
static void verbatim_arguments_are_not_quoted(void **state) {
  (void)state;
  const char *args[] = {"argv", "a b", "\"c d\"", NULL};
  cp_options o = {.windows_verbatim_arguments = true};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  const char *shown[] = {"argv", "a", "b", "c d", NULL};
  char *expect = cptest_hex_lines(shown);
  assert_true(cptest_buf_eq(&r.out, expect));
  free(expect);
  cp_result_free(&r);
}

/* windows_hide: the child is told SW_HIDE (and gets no console window); without it, SW_SHOWDEFAULT. */
static void windows_hide_starts_the_child_hidden(void **state) {
  (void)state;
  const char *args[] = {"show", NULL};
  cp_options o = {.windows_hide = true};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  char want[32];
  snprintf(want, sizeof want, "1 %u\n", (unsigned)SW_HIDE);
  assert_true(cptest_buf_eq(&r.out, want));
  cp_result_free(&r);
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  snprintf(want, sizeof want, "1 %u\n", (unsigned)SW_SHOWDEFAULT);
  assert_true(cptest_buf_eq(&r.out, want));
  cp_result_free(&r);
}

/* An inherited environment is the parent's block as it is: a value that is not valid UTF-16 (an
 * unpaired surrogate) arrives intact, not as U+FFFD (the helper prints it as WTF-8). */
static void inherited_environment_keeps_unpaired_surrogates(void **state) {
  (void)state;
  const wchar_t value[] = {L'a', 0xD800, L'b', 0};
  assert_true(SetEnvironmentVariableW(L"CPTEST_LONE", value));
  const char *args[] = {"env", "CPTEST_LONE", NULL};
  cp_result r;
  int rc = cptest_run(args, NULL, &r);
  SetEnvironmentVariableW(L"CPTEST_LONE", NULL);
  cptest_assert_rc(rc, &r, CP_OK);
  assert_true(cptest_buf_eq(&r.out, "a\xED\xA0\x80" "b"));
  cp_result_free(&r);
}

/* A kill_on_parent_exit or tree child is in its job from its first instruction (no suspended
 * moment outside it when the system takes PROC_THREAD_ATTRIBUTE_JOB_LIST). */
static void job_child_is_in_a_job_and_running(void **state) {
  (void)state;
  cp_loop *loop;
  cp_child *c;
  assert_int_equal(cp_loop_new(&loop), 0);
  const char *args[] = {"sleep", "10000", NULL};
  cp_options o = {.kill_on_parent_exit = true, .kill_tree = true,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  assert_int_equal(cp_spawn(loop, cptest_helper(), args, &o, NULL, NULL, &c), 0);
  cp_loop_run(loop, CP_RUN_NOWAIT);
  HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)cp_child_pid(c));
  assert_non_null(h);
  BOOL in = FALSE;
  assert_true(IsProcessInJob(h, NULL, &in));
  CloseHandle(h);
  assert_true(in);
  assert_int_equal(cp_child_kill_tree(c, CP_SIGKILL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(cp_child_killed(c));
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

/* A text file named .exe is not a program: ENOEXEC from CreateProcessW, with the path. */
static void text_file_named_exe_is_enoexec(void **state) {
  (void)state;
  static const char *const files[][2] = {{"fake.exe", "this is not a PE file\r\n"}};
  char *d = make_dir("fake", files, 1);
  char *p = cptest_join(d, "fake.exe");
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(p, NULL, NULL, &r), &r, CP_ENOEXEC);
  assert_string_equal(r.error.syscall, "CreateProcessW");
  assert_string_equal(r.error.path, p);
  cp_result_free(&r);
  free(p);
  free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pathext_finds_a_cmd_script),
      cmocka_unit_test(pathext_order_and_the_childs_pathext),
      cmocka_unit_test(pathext_skips_what_createprocess_cannot_run),
      cmocka_unit_test(relative_program_with_a_directory_is_resolved_against_cwd),
      cmocka_unit_test(env_lowercase_path_overrides_PATH),
      cmocka_unit_test(env_extend_is_case_insensitive),
      cmocka_unit_test(exit_codes_above_255_and_ntstatus_codes),
      cmocka_unit_test(kill_sigterm_is_reported_as_sigterm),
      cmocka_unit_test(kill_sigkill_is_reported_as_sigkill),
      cmocka_unit_test(timeout_reports_sigterm),
      cmocka_unit_test(kill_tree_reaches_the_grandchild),
      cmocka_unit_test(uid_and_gid_are_enotsup),
      cmocka_unit_test(verbatim_arguments_are_not_quoted),
      cmocka_unit_test(windows_hide_starts_the_child_hidden),
      cmocka_unit_test(text_file_named_exe_is_enoexec),
      cmocka_unit_test(inherited_environment_keeps_unpaired_surrogates),
      cmocka_unit_test(job_child_is_in_a_job_and_running),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
