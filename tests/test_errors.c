/* test_errors.c - failures to start (ENOENT, EACCES, ENOTDIR, ENOEXEC, a bad cwd, E2BIG) with their
 * syscall, path and message; bad input of every kind giving CP_EINVAL/CP_EBADF/CP_ENOTSUP rather
 * than a crash; error and signal names; cp_result_free() on odd results. */
#include "cptest.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

/* What every failure to start has in common: the code in the result, no child, a message. */
static void assert_not_started(const cp_result *r, int code) {
  assert_int_equal(r->error.code, code);
  assert_int_equal(r->pid, 0);
  assert_int_equal(r->status, -1);
  assert_false(r->timed_out);
  assert_non_null(r->error.syscall);
  assert_true(r->error.message[0] != '\0');
  assert_non_null(strstr(r->error.message, cp_err_name(code)));
  assert_non_null(r->out.data);
  assert_non_null(r->err.data);
}

static const char *const exit0[] = {"exit", "0", NULL};

static void errors_enoent_program_not_on_path(void **state) {
  (void)state;
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("cptest-no-such-program", exit0, NULL, &r), &r, CP_ENOENT);
  assert_not_started(&r, CP_ENOENT);
  assert_string_equal(r.error.syscall, "spawn");
  assert_non_null(r.error.path);
  assert_string_equal(r.error.path, "cptest-no-such-program");
  assert_non_null(strstr(r.error.message, "cptest-no-such-program"));
  cp_result_free(&r);
}

static void errors_enoent_program_path_missing(void **state) {
  (void)state;
  char *prog = cptest_join(cptest_tmpdir, "missing" CPTEST_EXE);
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(prog, exit0, NULL, &r), &r, CP_ENOENT);
  assert_not_started(&r, CP_ENOENT);
  assert_non_null(r.error.path);
  assert_string_equal(r.error.path, prog);
  cp_result_free(&r);
  free(prog);
}

static void errors_exec_file_enoent_is_not_childfailed(void **state) {
  (void)state;
  cp_result r;
  cptest_assert_rc(cp_exec_file_sync("cptest-no-such-program", exit0, NULL, &r), &r, CP_ENOENT);
  assert_not_started(&r, CP_ENOENT);
  cp_result_free(&r);
}

static void errors_exec_with_a_missing_shell(void **state) {
  (void)state;
  char *shell = cptest_join(cptest_tmpdir, "no-such-shell" CPTEST_EXE);
  cp_options o = {.shell = shell};
  cp_result r;
  cptest_assert_rc(cp_exec_sync("echo hi", &o, &r), &r, CP_ENOENT);
  assert_not_started(&r, CP_ENOENT);
  cp_result_free(&r);
  free(shell);
}

static void errors_eacces_file_not_executable_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: Windows has no execute permission bit");
#else
  char *prog = cptest_join(cptest_tmpdir, "not-executable");
  assert_int_equal(cptest_write_file(prog, "#!/bin/sh\nexit 0\n", 17, 0644), 0);
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(prog, exit0, NULL, &r), &r, CP_EACCES);
  assert_not_started(&r, CP_EACCES);
  assert_string_equal(r.error.syscall, "execve");
  assert_string_equal(r.error.path, prog);
  cp_result_free(&r);
  free(prog);
#endif
}

static void errors_eacces_program_is_a_directory(void **state) {
  (void)state;
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(cptest_tmpdir, exit0, NULL, &r), &r, CP_EACCES);
  assert_not_started(&r, CP_EACCES);
  assert_non_null(r.error.path);
  assert_string_equal(r.error.path, cptest_tmpdir);
  cp_result_free(&r);
}

static void errors_enotdir_path_through_a_file_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: Windows reports a file used as a directory as a missing path (ENOENT)");
#else
  char *file = cptest_join(cptest_tmpdir, "plain-file");
  assert_int_equal(cptest_write_file(file, "x", 1, 0644), 0);
  char *prog = cptest_join(file, "prog");
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(prog, exit0, NULL, &r), &r, CP_ENOTDIR);
  assert_not_started(&r, CP_ENOTDIR);
  assert_string_equal(r.error.path, prog);
  cp_result_free(&r);
  free(prog);
  free(file);
#endif
}

/* Unlike execvp() and the shell, no fallback to /bin/sh for a file without "#!". */
static void errors_enoexec_script_without_shebang_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: a script without #! is a POSIX notion");
#else
  char *prog = cptest_join(cptest_tmpdir, "no-shebang");
  assert_int_equal(cptest_write_file(prog, "echo hi\n", 8, 0755), 0);
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(prog, exit0, NULL, &r), &r, CP_ENOEXEC);
  assert_not_started(&r, CP_ENOEXEC);
  assert_string_equal(r.error.syscall, "execve");
  assert_string_equal(r.error.path, prog);
  cp_result_free(&r);
  free(prog);
#endif
}

static void errors_cwd_missing(void **state) {
  (void)state;
  char *cwd = cptest_join(cptest_tmpdir, "no-such-dir");
  cp_options o = {.cwd = cwd};
  cp_result r;
  cptest_assert_rc(cptest_run(exit0, &o, &r), &r, CP_ENOENT);
  assert_not_started(&r, CP_ENOENT);
#ifndef _WIN32
  assert_string_equal(r.error.syscall, "chdir");
#endif
  assert_non_null(r.error.path);
  assert_string_equal(r.error.path, cwd);
  cp_result_free(&r);
  free(cwd);
}

static void errors_cwd_is_a_file_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: CreateProcessW reports a file as cwd as ERROR_DIRECTORY, with no errno twin");
#else
  char *file = cptest_join(cptest_tmpdir, "cwd-file");
  assert_int_equal(cptest_write_file(file, "x", 1, 0644), 0);
  cp_options o = {.cwd = file};
  cp_result r;
  cptest_assert_rc(cptest_run(exit0, &o, &r), &r, CP_ENOTDIR);
  assert_not_started(&r, CP_ENOTDIR);
  assert_string_equal(r.error.syscall, "chdir");
  assert_string_equal(r.error.path, file);
  cp_result_free(&r);
  free(file);
#endif
}

static void errors_e2big_argument_list_too_long(void **state) {
  (void)state;
#ifdef _WIN32
  /* Windows caps the command line at 32,767 characters (Wine does not: the library must check). */
  size_t each = 1000, count = 40;
#else
  size_t each = 100000, count = 400; /* 40 MB: over any ARG_MAX */
#endif
  char *big = malloc(each + 1);
  assert_non_null(big);
  memset(big, 'x', each);
  big[each] = '\0';
  const char **args = calloc(count + 1, sizeof *args);
  assert_non_null(args);
  for (size_t i = 0; i < count; i++) args[i] = big;
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_E2BIG);
  assert_not_started(&r, CP_E2BIG);
  cp_result_free(&r);
  free(args);
  free(big);
}

static void errors_e2big_environment_too_long_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: a Windows environment block has no ARG_MAX-style limit");
#else
  size_t each = 100000, count = 400;
  char **storage = calloc(count, sizeof *storage);
  const char **env = calloc(count + 1, sizeof *env);
  assert_non_null(storage);
  assert_non_null(env);
  for (size_t i = 0; i < count; i++) {
    storage[i] = malloc(each + 32);
    assert_non_null(storage[i]);
    int n = snprintf(storage[i], 32, "CPTEST_BIG_%lu=", (unsigned long)i);
    memset(storage[i] + n, 'v', each);
    storage[i][(size_t)n + each] = '\0';
    env[i] = storage[i];
  }
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  cp_result r;
  cptest_assert_rc(cptest_run(exit0, &o, &r), &r, CP_E2BIG);
  assert_not_started(&r, CP_E2BIG);
  cp_result_free(&r);
  for (size_t i = 0; i < count; i++) free(storage[i]);
  free(storage);
  free(env);
#endif
}

static void errors_null_file(void **state) {
  (void)state;
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(NULL, exit0, NULL, &r), &r, CP_EINVAL);
  assert_int_equal(r.error.code, CP_EINVAL);
  assert_int_equal(r.pid, 0);
  assert_non_null(r.out.data);
  cp_result_free(&r);
  cptest_assert_rc(cp_exec_file_sync(NULL, exit0, NULL, &r), &r, CP_EINVAL);
  cp_result_free(&r);
  cptest_assert_rc(cp_exec_sync(NULL, NULL, &r), &r, CP_EINVAL);
  cp_result_free(&r);
}

static void errors_empty_file(void **state) {
  (void)state;
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("", exit0, NULL, &r), &r, CP_EINVAL);
  assert_int_equal(r.error.code, CP_EINVAL);
  assert_int_equal(r.pid, 0);
  cp_result_free(&r);
  cptest_assert_rc(cp_exec_file_sync("", exit0, NULL, &r), &r, CP_EINVAL);
  cp_result_free(&r);
}

static void errors_null_result(void **state) {
  (void)state;
  assert_int_equal(cp_spawn_sync(cptest_helper(), exit0, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_exec_file_sync(cptest_helper(), exit0, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_exec_sync("exit 0", NULL, NULL), CP_EINVAL);
}

static void expect_einval(const cp_options *o, const char *word) {
  cp_result r;
  cptest_assert_rc(cptest_run(exit0, o, &r), &r, CP_EINVAL);
  assert_int_equal(r.error.code, CP_EINVAL);
  assert_int_equal(r.pid, 0);
  if (word && !strstr(r.error.message, word))
    fail_msg("message \"%s\" does not name \"%s\"", r.error.message, word);
  cp_result_free(&r);
}

static void errors_env_entry_without_equals(void **state) {
  (void)state;
  const char *env[] = {"CPTEST_OK=1", "NO_EQUALS_SIGN", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  expect_einval(&o, "env");
  o.env_mode = CP_ENV_REPLACE;
  expect_einval(&o, "env");
}

static void errors_env_entry_with_an_empty_name(void **state) {
  (void)state;
  const char *env[] = {"=value", NULL};
  cp_options o = {.env_mode = CP_ENV_REPLACE, .env = env};
  expect_einval(&o, "env");
}

static void errors_env_list_with_inherit_mode(void **state) {
  (void)state;
  const char *env[] = {"CPTEST_X=1", NULL};
  cp_options o = {.env_mode = CP_ENV_INHERIT, .env = env};
  expect_einval(&o, "env");
}

static void errors_env_mode_out_of_range(void **state) {
  (void)state;
  cp_options o = {.env_mode = (cp_env_mode)42};
  expect_einval(&o, "env");
}

static void errors_invalid_stdio_kind(void **state) {
  (void)state;
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {(cp_stdio_kind)99, 0}, {CP_STDIO_PIPE, 0}}};
  expect_einval(&o, "stdio");
}

static void errors_input_needs_a_stdin_pipe(void **state) {
  (void)state;
  cp_options o = {
      .input = "data", .input_len = 4, .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}}};
  expect_einval(&o, "input");
}

static void errors_stdio_fd_closed_is_ebadf(void **state) {
  (void)state;
  char *path = cptest_join(cptest_tmpdir, "closed-fd");
  cp_os_handle h = cptest_open_handle(path, true);
  assert_true(h != CP_INVALID_HANDLE);
  cptest_close_handle(h);
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_FD, h}, {CP_STDIO_PIPE, 0}}};
  cp_result r;
  cptest_assert_rc(cptest_run(exit0, &o, &r), &r, CP_EBADF);
  assert_int_equal(r.error.code, CP_EBADF);
  assert_int_equal(r.pid, 0);
  cp_result_free(&r);
  free(path);
}

static void errors_stdio_fd_never_opened_is_ebadf(void **state) {
  (void)state;
#ifdef _WIN32
  cp_os_handle h = (cp_os_handle)(intptr_t)0x7ffff0;
#else
  cp_os_handle h = 1000;
  (void)close(h);
#endif
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_FD, h}, {CP_STDIO_PIPE, 0}}};
  cp_result r;
  cptest_assert_rc(cptest_run(exit0, &o, &r), &r, CP_EBADF);
  assert_int_equal(r.pid, 0);
  assert_non_null(strstr(r.error.message, "EBADF"));
  cp_result_free(&r);
}

static void errors_stdio_fd_invalid_value_is_ebadf(void **state) {
  (void)state;
  cp_options o = {.stdio = {{CP_STDIO_FD, CP_INVALID_HANDLE}, {CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}}};
  cp_result r;
  cptest_assert_rc(cptest_run(exit0, &o, &r), &r, CP_EBADF);
  assert_int_equal(r.pid, 0);
  cp_result_free(&r);
}

static void errors_uid_gid_not_supported_on_windows(void **state) {
  (void)state;
#ifdef _WIN32
  cp_options o = {.set_uid = true, .uid = 1000};
  cp_result r;
  cptest_assert_rc(cptest_run(exit0, &o, &r), &r, CP_ENOTSUP);
  cp_result_free(&r);
  cp_options g = {.set_gid = true, .gid = 1000};
  cptest_assert_rc(cptest_run(exit0, &g, &r), &r, CP_ENOTSUP);
  assert_int_equal(r.pid, 0);
  cp_result_free(&r);
#else
  /* POSIX: setting our own ids is always allowed. */
  cp_options o = {.set_uid = true, .uid = (uint32_t)getuid(), .set_gid = true, .gid = (uint32_t)getgid()};
  cp_result r;
  cptest_assert_rc(cptest_run(exit0, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  cp_result_free(&r);
#endif
}

static void errors_setuid_without_privilege_is_eperm_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: no uid on Windows (CP_ENOTSUP, tested above)");
#else
  if (geteuid() == 0) CPTEST_SKIP("running as root: every setuid() is permitted");
  cp_options o = {.set_uid = true, .uid = 0};
  cp_result r;
  cptest_assert_rc(cptest_run(exit0, &o, &r), &r, CP_EPERM);
  assert_string_equal(r.error.syscall, "setuid");
  cp_result_free(&r);
#endif
}

static void errors_invalid_utf8_argument_bytes_pass_through_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: Windows arguments are UTF-16, invalid UTF-8 cannot reach a child unchanged");
#else
  const char *args[] = {"argv", "\xff\xfe", "a\x80z", "\xc3", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  char *expect = cptest_hex_lines(args);
  assert_true(cptest_buf_eq(&r.out, expect));
  free(expect);
  cp_result_free(&r);
#endif
}

/* ---- names and messages ---------------------------------------------------------------------- */

static void errors_every_code_has_a_name_and_a_message(void **state) {
  (void)state;
  static const struct {
    int code;
    const char *name;
  } codes[] = {{CP_EINVAL, "EINVAL"},
               {CP_ENOENT, "ENOENT"},
               {CP_EACCES, "EACCES"},
               {CP_ENOTDIR, "ENOTDIR"},
               {CP_ENOEXEC, "ENOEXEC"},
               {CP_ENOMEM, "ENOMEM"},
               {CP_E2BIG, "E2BIG"},
               {CP_EMFILE, "EMFILE"},
               {CP_EPERM, "EPERM"},
               {CP_ESRCH, "ESRCH"},
               {CP_ETIMEDOUT, "ETIMEDOUT"},
               {CP_ENOBUFS, "ENOBUFS"},
               {CP_EPIPE, "EPIPE"},
               {CP_EAGAIN, "EAGAIN"},
               {CP_ENOTSUP, "ENOTSUP"},
               {CP_EIO, "EIO"},
               {CP_ENAMETOOLONG, "ENAMETOOLONG"},
               {CP_ELOOP, "ELOOP"},
               {CP_EBADF, "EBADF"},
               {CP_ECANCELED, "ECANCELED"},
               {CP_EPROTO, "EPROTO"}};
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(cp_err_name(codes[i].code), codes[i].name);
    const char *msg = cp_strerror(codes[i].code);
    assert_non_null(msg);
    assert_true(msg[0] != '\0');
    assert_string_not_equal(msg, "unknown error");
    for (size_t j = 0; j < i; j++) assert_string_not_equal(msg, cp_strerror(codes[j].code));
  }
  /* The two without an errno twin still have a name and a sentence. */
  assert_non_null(cp_err_name(CP_ECHILDFAILED));
  assert_true(cp_err_name(CP_ECHILDFAILED)[0] != '\0');
  assert_string_not_equal(cp_strerror(CP_ECHILDFAILED), "unknown error");
  assert_non_null(cp_err_name(CP_EUNKNOWN));
  assert_non_null(cp_strerror(CP_EUNKNOWN));
  assert_non_null(cp_err_name(CP_OK));
  assert_non_null(cp_strerror(CP_OK));
}

/* The child functions given NULL, a bad fd or a bad signal: CP_EINVAL (or a neutral value), never a
 * crash; on a child whose stdout is closed, pausing or resuming it is CP_EPIPE. */
static void errors_child_functions_bad_arguments(void **state) {
  (void)state;
  assert_int_equal(cp_child_pid(NULL), 0);
  assert_false(cp_child_exited(NULL));
  assert_false(cp_child_killed(NULL));
  assert_false(cp_child_timed_out(NULL));
  assert_null(cp_child_channel(NULL));
  assert_int_equal(cp_child_write_queue_size(NULL), 0);
  assert_int_equal(cp_child_kill(NULL, CP_SIGTERM), CP_EINVAL);
  assert_int_equal(cp_child_kill_tree(NULL, CP_SIGTERM), CP_EINVAL);
  assert_int_equal(cp_child_terminate(NULL, CP_SIGTERM, 10), CP_EINVAL);
  assert_int_equal(cp_child_write(NULL, "x", 1, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_child_end(NULL), CP_EINVAL);
  assert_int_equal(cp_child_pause(NULL, 1), CP_EINVAL);
  assert_int_equal(cp_child_resume(NULL, 1), CP_EINVAL);
  assert_int_equal(cp_child_close_output(NULL, 1), CP_EINVAL);
  cp_child_ref(NULL);
  cp_child_unref(NULL);
  cp_child_free(NULL);

  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_child *c;
  const char *args[] = {"cat", NULL};
  assert_int_equal(cp_spawn(loop, cptest_helper(), args, NULL, NULL, NULL, &c), 0);
  assert_int_equal(cp_child_write(c, NULL, 1, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_child_write(c, NULL, 0, NULL, NULL), 0); /* nothing to write is fine */
  for (int fd = 0; fd < 4; fd += 3) {
    assert_int_equal(cp_child_pause(c, fd), CP_EINVAL);
    assert_int_equal(cp_child_resume(c, fd), CP_EINVAL);
    assert_int_equal(cp_child_close_output(c, fd), CP_EINVAL);
  }
  assert_int_equal(cp_child_kill(c, -1), CP_EINVAL);
  assert_int_equal(cp_child_terminate(c, 0, 10), CP_EINVAL);
  assert_int_equal(cp_child_terminate(c, -3, 10), CP_EINVAL);
  assert_int_equal(cp_child_close_output(c, 1), 0);
  assert_int_equal(cp_child_close_output(c, 1), CP_EPIPE);
  assert_int_equal(cp_child_pause(c, 1), CP_EPIPE);
  assert_int_equal(cp_child_resume(c, 1), CP_EPIPE);
  assert_int_equal(cp_child_end(c), 0);
  assert_int_equal(cp_child_end(c), 0); /* ending twice: still fine */
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(cp_child_exited(c));
  assert_int_equal(cp_child_kill(c, CP_SIGTERM), CP_ESRCH);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

/* Each invalid option alone: CP_EINVAL from the sync form, in res->error, naming the option, and no
 * child started. */
static void errors_each_invalid_option_is_named(void **state) {
  (void)state;
  static const char data[] = "x";
  static const struct {
    cp_options o;
    const char *names;
  } cases[] = {
      {{.kill_signal = -1}, "kill_signal"},
      {{.kill_signal = 100000}, "kill_signal"},
      {{.input = NULL, .input_len = 5}, "input"},
      {{.cwd = ""}, "cwd"},
      {{.argv0 = ""}, "argv0"},
      {{.kill_after_ms = -5}, "kill_after_ms"},
      {{.channel = CP_CHANNEL_JSON, .channel_fd = -2}, "channel_fd"},
      {{.channel = CP_CHANNEL_JSON, .channel_fd = 256}, "channel_fd"},
      {{.channel = CP_CHANNEL_JSON, .channel_fd = 1}, "channel_fd"}, /* 1 without stdio[1] = CHANNEL */
      {{.channel_fd = 5, .stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_CHANNEL, 0}, {CP_STDIO_PIPE, 0}}}, "channel_fd"},
      {{.input = data, .input_len = 1, .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}}},
       "stdio[0]"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cp_result r;
    int rc = cp_spawn_sync(cptest_helper(), exit0, &cases[i].o, &r);
    if (rc != CP_EINVAL || r.error.code != CP_EINVAL || !strstr(r.error.message, cases[i].names))
      fail_msg("case %d: rc %s, message \"%s\" (want EINVAL naming %s)", (int)i, cp_err_name(rc), r.error.message,
               cases[i].names);
    assert_int_equal(r.pid, 0);
    cp_result_free(&r);
  }
  cp_result r;
  cptest_assert_rc(cp_exec_sync("", NULL, &r), &r, CP_EINVAL);
  assert_non_null(strstr(r.error.message, "command is empty"));
  cp_result_free(&r);
}

static void errors_unknown_codes_never_give_null(void **state) {
  (void)state;
  static const int odd[] = {-24, -999, 1, 42, -2147483647 - 1, 2147483647};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    assert_non_null(cp_err_name(odd[i]));
    assert_string_equal(cp_strerror(odd[i]), "unknown error");
  }
}

static void signal_names_of_the_portable_signals(void **state) {
  (void)state;
  assert_string_equal(cp_signal_name(CP_SIGHUP), "SIGHUP");
  assert_string_equal(cp_signal_name(CP_SIGINT), "SIGINT");
  assert_string_equal(cp_signal_name(CP_SIGQUIT), "SIGQUIT");
  assert_string_equal(cp_signal_name(CP_SIGKILL), "SIGKILL");
  assert_string_equal(cp_signal_name(CP_SIGTERM), "SIGTERM");
  assert_null(cp_signal_name(0));
  assert_null(cp_signal_name(-1));
  assert_null(cp_signal_name(100000));
}

static void signal_from_name_accepts_every_spelling(void **state) {
  (void)state;
  assert_int_equal(cp_signal_from_name("SIGTERM"), CP_SIGTERM);
  assert_int_equal(cp_signal_from_name("TERM"), CP_SIGTERM);
  assert_int_equal(cp_signal_from_name("term"), CP_SIGTERM);
  assert_int_equal(cp_signal_from_name("sigterm"), CP_SIGTERM);
  assert_int_equal(cp_signal_from_name("15"), CP_SIGTERM);
  assert_int_equal(cp_signal_from_name("SIGKILL"), CP_SIGKILL);
  assert_int_equal(cp_signal_from_name("9"), CP_SIGKILL);
  assert_int_equal(cp_signal_from_name("hup"), CP_SIGHUP);
}

static void signal_from_name_rejects_garbage(void **state) {
  (void)state;
  static const char *const bad[] = {"",  "SIG", "SIGNOPE", "NOPE",  "-1",
                                    "0", "15x", "x15",     " TERM", "SIGTERM "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int got = cp_signal_from_name(bad[i]);
    if (got != CP_EINVAL) fail_msg("cp_signal_from_name(\"%s\") = %d, expected CP_EINVAL", bad[i], got);
  }
  assert_int_equal(cp_signal_from_name(NULL), CP_EINVAL);
}

static void signal_names_round_trip(void **state) {
  (void)state;
  int named = 0;
  for (int n = 1; n < 128; n++) {
    const char *name = cp_signal_name(n);
    if (!name) continue;
    named++;
    assert_int_equal(strncmp(name, "SIG", 3), 0);
    if (cp_signal_from_name(name) != n) fail_msg("%s -> %d, expected %d", name, cp_signal_from_name(name), n);
  }
  assert_true(named >= 5);
}

static void result_free_is_safe_twice_and_on_a_zeroed_result(void **state) {
  (void)state;
  cp_result zero;
  memset(&zero, 0, sizeof zero);
  cp_result_free(&zero);
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("cptest-no-such-program", exit0, NULL, &r), &r, CP_ENOENT);
  cp_result_free(&r);
  cp_result_free(&r);
  assert_null(r.out.data);
  assert_null(r.error.path);
  const char *args[] = {"out", "10", NULL};
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  cp_result_free(&r);
  cp_result_free(&r);
  cp_result_free(NULL);
}

static void version_matches_the_header(void **state) {
  (void)state;
  assert_string_equal(cp_version(), CHILDPROC_VERSION_STRING);
}

/* Issue 14: messages used to be cut at 255 bytes, so a long path hid the error's name and code. The
 * path is shortened (its end kept, after "..."), the step, name and text stay whole. */
static void long_path_error_message_keeps_name_and_code(void **state) {
  (void)state;
  char path[400];
  size_t n = (size_t)snprintf(path, sizeof path, "%s", CPTEST_SEP "no-such-dir-cp14");
  while (n < 340) n += (size_t)snprintf(path + n, sizeof path - n, CPTEST_SEP "sub%02zu", n % 97);
  snprintf(path + n, sizeof path - n, "%s", CPTEST_SEP "the-program");
  cp_result res;
  int rc = cp_spawn_sync(path, NULL, NULL, &res);
  print_message("%s\n", res.error.message);
  assert_int_equal(rc, CP_ENOENT);
  const char *tail = "ENOENT: no such file or directory";
  size_t len = strlen(res.error.message), tn = strlen(tail);
  assert_true(len >= tn);
  assert_string_equal(res.error.message + len - tn, tail);
  assert_non_null(strstr(res.error.message, "the-program ENOENT")); /* the path's end is kept */
  assert_non_null(strstr(res.error.message, "..."));
  assert_string_equal(res.error.path, path); /* the whole path stays in error.path */
  cp_result_free(&res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(errors_enoent_program_not_on_path),
      cmocka_unit_test(errors_enoent_program_path_missing),
      cmocka_unit_test(errors_exec_file_enoent_is_not_childfailed),
      cmocka_unit_test(errors_exec_with_a_missing_shell),
      cmocka_unit_test(errors_eacces_file_not_executable_posix),
      cmocka_unit_test(errors_eacces_program_is_a_directory),
      cmocka_unit_test(errors_enotdir_path_through_a_file_posix),
      cmocka_unit_test(errors_enoexec_script_without_shebang_posix),
      cmocka_unit_test(errors_cwd_missing),
      cmocka_unit_test(errors_cwd_is_a_file_posix),
      cmocka_unit_test(errors_e2big_argument_list_too_long),
      cmocka_unit_test(errors_e2big_environment_too_long_posix),
      cmocka_unit_test(errors_null_file),
      cmocka_unit_test(errors_empty_file),
      cmocka_unit_test(errors_null_result),
      cmocka_unit_test(errors_env_entry_without_equals),
      cmocka_unit_test(errors_env_entry_with_an_empty_name),
      cmocka_unit_test(errors_env_list_with_inherit_mode),
      cmocka_unit_test(errors_env_mode_out_of_range),
      cmocka_unit_test(errors_invalid_stdio_kind),
      cmocka_unit_test(errors_input_needs_a_stdin_pipe),
      cmocka_unit_test(errors_stdio_fd_closed_is_ebadf),
      cmocka_unit_test(errors_stdio_fd_never_opened_is_ebadf),
      cmocka_unit_test(errors_stdio_fd_invalid_value_is_ebadf),
      cmocka_unit_test(errors_uid_gid_not_supported_on_windows),
      cmocka_unit_test(errors_setuid_without_privilege_is_eperm_posix),
      cmocka_unit_test(errors_invalid_utf8_argument_bytes_pass_through_posix),
      cmocka_unit_test(errors_every_code_has_a_name_and_a_message),
      cmocka_unit_test(errors_unknown_codes_never_give_null),
      cmocka_unit_test(errors_each_invalid_option_is_named),
      cmocka_unit_test(errors_child_functions_bad_arguments),
      cmocka_unit_test(signal_names_of_the_portable_signals),
      cmocka_unit_test(signal_from_name_accepts_every_spelling),
      cmocka_unit_test(signal_from_name_rejects_garbage),
      cmocka_unit_test(signal_names_round_trip),
      cmocka_unit_test(result_free_is_safe_twice_and_on_a_zeroed_result),
      cmocka_unit_test(version_matches_the_header),
      cmocka_unit_test(long_path_error_message_keeps_name_and_code),
  };
  return cmocka_run_group_tests(tests, cptest_tmpdir_setup, cptest_tmpdir_teardown);
}
