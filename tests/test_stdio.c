/* test_stdio.c - the child's standard streams in the sync forms: pipes (captured output, options.input),
 * inherit, ignore (the null device) and a given fd/handle; large transfers and the cases that would
 * deadlock a naive implementation (both output pipes full while the child waits on stdin, a child that
 * never reads its input). */
#include "cptest.h"

#define MIB ((size_t)1024 * 1024)

static char *pattern_bytes(size_t n) {
  char *p = malloc(n ? n : 1);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) p[i] = cptest_pattern_byte(i);
  return p;
}

static void stdio_stdout_and_stderr_captured_separately(void **state) {
  (void)state;
  const char *args[] = {"both", "10000", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, 10000);
  assert_int_equal(r.err.len, 10000);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  assert_true(cptest_is_pattern(r.err.data, r.err.len));
  assert_int_equal(r.out.data[r.out.len], '\0');
  assert_int_equal(r.err.data[r.err.len], '\0');
  cp_result_free(&r);
}

static void stdio_input_is_written_to_stdin(void **state) {
  (void)state;
  static const char input[] = "hello\0world\n\xff\x01";
  const char *args[] = {"cat", NULL};
  cp_options o = {.input = input, .input_len = sizeof input - 1};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, sizeof input - 1);
  assert_memory_equal(r.out.data, input, sizeof input - 1);
  assert_int_equal(r.out.data[r.out.len], '\0');
  cp_result_free(&r);
}

static void stdio_no_input_gives_the_child_eof(void **state) {
  (void)state;
  const char *args[] = {"cat", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, 0);
  cp_result_free(&r);
}

static void stdio_large_input_round_trip(void **state) {
  (void)state;
  size_t n = 8 * MIB;
  char *input = pattern_bytes(n);
  const char *args[] = {"cat", NULL};
  cp_options o = {.input = input, .input_len = n, .max_buffer = CP_MAX_BUFFER_UNLIMITED};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, n);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  cp_result_free(&r);
  free(input);
}

/* The child fills its stdout and stderr pipes before it reads a byte of stdin, while the parent has
 * 1 MiB to write to that stdin: only a parent that waits on all three at once gets through. */
static void stdio_both_pipes_full_while_child_waits_on_stdin(void **state) {
  (void)state;
  size_t n = MIB;
  char *input = pattern_bytes(n);
  const char *args[] = {"fill-cat", "1048576", NULL};
  cp_options o = {.input = input, .input_len = n, .max_buffer = CP_MAX_BUFFER_UNLIMITED, .timeout_ms = 60000};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_false(r.timed_out);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.err.len, n);
  assert_true(cptest_is_pattern(r.err.data, r.err.len));
  assert_int_equal(r.out.len, 2 * n);
  assert_true(cptest_is_pattern(r.out.data, n));
  assert_memory_equal(r.out.data + n, input, n);
  cp_result_free(&r);
  free(input);
}

static void stdio_64mib_of_output_with_unlimited_max_buffer(void **state) {
  (void)state;
  size_t n = 64 * MIB;
  char arg[32];
  snprintf(arg, sizeof arg, "%lu", (unsigned long)n);
  const char *args[] = {"out", arg, NULL};
  cp_options o = {.max_buffer = CP_MAX_BUFFER_UNLIMITED};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_false(r.out_truncated);
  assert_int_equal(r.out.len, n);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  cp_result_free(&r);
}

/* Input bigger than any pipe buffer, to a child that never reads it and exits later: not an error
 * (the parent's write fails with EPIPE, which is swallowed). */
static void stdio_input_never_read_by_the_child(void **state) {
  (void)state;
  size_t n = 16 * MIB;
  char *input = pattern_bytes(n);
  const char *args[] = {"noread-sleep", "100", NULL};
  cp_options o = {.input = input, .input_len = n};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.signal, 0);
  cp_result_free(&r);
  free(input);
}

static void stdio_input_to_a_child_that_exits_at_once(void **state) {
  (void)state;
  size_t n = 16 * MIB;
  char *input = pattern_bytes(n);
  const char *args[] = {"exit", "7", NULL};
  cp_options o = {.input = input, .input_len = n};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 7);
  cp_result_free(&r);
  free(input);
}

static void stdio_ignore_stdin_reads_eof(void **state) {
  (void)state;
  const char *args[] = {"cat", NULL};
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}}};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, 0);
  cp_result_free(&r);
}

/* The null device accepts writes: the helper exits 4 when a write fails, 0 here. */
static void stdio_ignore_stdout_accepts_writes(void **state) {
  (void)state;
  const char *args[] = {"out", "200000", NULL};
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}}};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, 0);
  assert_non_null(r.out.data);
  cp_result_free(&r);
}

static void stdio_ignore_stderr_accepts_writes(void **state) {
  (void)state;
  const char *args[] = {"both", "200000", NULL};
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_IGNORE, 0}}};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, 200000);
  assert_int_equal(r.err.len, 0);
  cp_result_free(&r);
}

static void stdio_fd_stdout_to_a_file(void **state) {
  (void)state;
  char *path = cptest_join(cptest_tmpdir, "stdout.txt");
  cp_os_handle h = cptest_open_handle(path, true);
  assert_true(h != CP_INVALID_HANDLE);
  const char *args[] = {"out", "5000", NULL};
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_FD, h}, {CP_STDIO_PIPE, 0}}};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, 0);
  cp_result_free(&r);
  /* The parent's descriptor stays open and usable. */
  const char *args2[] = {"out", "100", NULL};
  cptest_assert_rc(cptest_run(args2, &o, &r), &r, CP_OK);
  cp_result_free(&r);
  cptest_close_handle(h);
  size_t len;
  char *data = cptest_read_file(path, &len);
  assert_non_null(data);
  assert_int_equal(len, 5100);
  assert_true(cptest_is_pattern(data, 5000));
  assert_true(cptest_is_pattern(data + 5000, 100));
  free(data);
  free(path);
}

static void stdio_fd_stdin_from_a_file(void **state) {
  (void)state;
  char *path = cptest_join(cptest_tmpdir, "stdin.txt");
  static const char content[] = "line one\nline two\n\0binary";
  assert_int_equal(cptest_write_file(path, content, sizeof content - 1, 0644), 0);
  cp_os_handle h = cptest_open_handle(path, false);
  assert_true(h != CP_INVALID_HANDLE);
  const char *args[] = {"cat", NULL};
  cp_options o = {.stdio = {{CP_STDIO_FD, h}, {CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}}};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, sizeof content - 1);
  assert_memory_equal(r.out.data, content, sizeof content - 1);
  cp_result_free(&r);
  cptest_close_handle(h);
  free(path);
}

/* One descriptor for both streams, as "> f 2>&1" would: the chunks land in the order written. */
static void stdio_fd_same_file_for_stdout_and_stderr(void **state) {
  (void)state;
  char *path = cptest_join(cptest_tmpdir, "both.txt");
  cp_os_handle h = cptest_open_handle(path, true);
  assert_true(h != CP_INVALID_HANDLE);
  const char *args[] = {"both", "10000", NULL};
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_FD, h}, {CP_STDIO_FD, h}}};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  cp_result_free(&r);
  cptest_close_handle(h);
  size_t len;
  char *data = cptest_read_file(path, &len);
  assert_non_null(data);
  assert_int_equal(len, 20000);
  /* 4096-byte chunks alternate: stdout's first, then stderr's, each continuing its own pattern. */
  assert_true(cptest_is_pattern(data, 4096));
  assert_true(cptest_is_pattern(data + 4096, 4096));
  free(data);
  free(path);
}

/* Slot fd (1 or 2) inherited: the child's 3000 bytes land in our own stream (redirected to a file
 * for the test) and nothing is captured. */
static void check_inherited(int fd, const char *file, const char *mode) {
  char *path = cptest_join(cptest_tmpdir, file);
  int token = cptest_redirect_std(fd, path);
  assert_true(token >= 0);
  const char *args[] = {mode, "3000", NULL};
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}}};
  o.stdio[fd].kind = CP_STDIO_INHERIT;
  cp_result r;
  int rc = cptest_run(args, &o, &r);
  cptest_restore_std(fd, token);
  cptest_assert_rc(rc, &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(fd == 1 ? r.out.len : r.err.len, 0);
  cp_result_free(&r);
  size_t len;
  char *data = cptest_read_file(path, &len);
  assert_non_null(data);
  assert_int_equal(len, 3000);
  assert_true(cptest_is_pattern(data, len));
  free(data);
  free(path);
}

static void stdio_inherit_stdout(void **state) {
  (void)state;
  check_inherited(1, "inherited-out.txt", "out");
}

static void stdio_inherit_stderr(void **state) {
  (void)state;
  check_inherited(2, "inherited-err.txt", "err");
}

static void stdio_output_is_binary_safe(void **state) {
  (void)state;
  char input[256];
  for (int i = 0; i < 256; i++) input[i] = (char)i;
  const char *args[] = {"cat", NULL};
  cp_options o = {.input = input, .input_len = sizeof input};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.out.len, sizeof input);
  assert_memory_equal(r.out.data, input, sizeof input);
  cp_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stdio_stdout_and_stderr_captured_separately),
      cmocka_unit_test(stdio_input_is_written_to_stdin),
      cmocka_unit_test(stdio_no_input_gives_the_child_eof),
      cmocka_unit_test(stdio_large_input_round_trip),
      cmocka_unit_test(stdio_both_pipes_full_while_child_waits_on_stdin),
      cmocka_unit_test(stdio_64mib_of_output_with_unlimited_max_buffer),
      cmocka_unit_test(stdio_input_never_read_by_the_child),
      cmocka_unit_test(stdio_input_to_a_child_that_exits_at_once),
      cmocka_unit_test(stdio_ignore_stdin_reads_eof),
      cmocka_unit_test(stdio_ignore_stdout_accepts_writes),
      cmocka_unit_test(stdio_ignore_stderr_accepts_writes),
      cmocka_unit_test(stdio_fd_stdout_to_a_file),
      cmocka_unit_test(stdio_fd_stdin_from_a_file),
      cmocka_unit_test(stdio_fd_same_file_for_stdout_and_stderr),
      cmocka_unit_test(stdio_inherit_stdout),
      cmocka_unit_test(stdio_inherit_stderr),
      cmocka_unit_test(stdio_output_is_binary_safe),
  };
  return cmocka_run_group_tests(tests, cptest_tmpdir_setup, cptest_tmpdir_teardown);
}
