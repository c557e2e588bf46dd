/* test_maxbuffer.c - options.max_buffer: the limit per stream, what is kept, the truncated flags,
 * CP_ENOBUFS, the kill, the 1 MiB default and CP_MAX_BUFFER_UNLIMITED, up to 64 MiB. */
#include "cptest.h"

#define MIB ((size_t)1024 * 1024)

static void run_size(const char *mode, size_t n, const cp_options *o, cp_result *r, int expect) {
  char arg[32];
  snprintf(arg, sizeof arg, "%lu", (unsigned long)n);
  const char *args[] = {mode, arg, NULL};
  cptest_assert_rc(cptest_run(args, o, r), r, expect);
}

static void maxbuffer_stdout_over_the_limit(void **state) {
  (void)state;
  cp_options o = {.max_buffer = 1000};
  cp_result r;
  run_size("out", 2000, &o, &r, CP_ENOBUFS);
  assert_int_equal(r.error.code, CP_ENOBUFS);
  assert_true(r.out_truncated);
  assert_false(r.err_truncated);
  assert_int_equal(r.out.len, 1000);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  assert_int_equal(r.out.data[r.out.len], '\0');
  assert_false(r.timed_out);
  cp_result_free(&r);
}

static void maxbuffer_stderr_over_the_limit(void **state) {
  (void)state;
  cp_options o = {.max_buffer = 1000};
  cp_result r;
  run_size("err", 2000, &o, &r, CP_ENOBUFS);
  assert_true(r.err_truncated);
  assert_false(r.out_truncated);
  assert_int_equal(r.err.len, 1000);
  assert_true(cptest_is_pattern(r.err.data, r.err.len));
  cp_result_free(&r);
}

static void maxbuffer_exactly_at_the_limit_is_ok(void **state) {
  (void)state;
  cp_options o = {.max_buffer = 1000};
  cp_result r;
  run_size("out", 1000, &o, &r, CP_OK);
  assert_false(r.out_truncated);
  assert_int_equal(r.out.len, 1000);
  assert_int_equal(r.status, 0);
  cp_result_free(&r);
}

static void maxbuffer_counts_each_stream_separately(void **state) {
  (void)state;
  cp_options o = {.max_buffer = 1000};
  cp_result r;
  run_size("both", 800, &o, &r, CP_OK);
  assert_int_equal(r.out.len, 800);
  assert_int_equal(r.err.len, 800);
  assert_false(r.out_truncated);
  assert_false(r.err_truncated);
  cp_result_free(&r);
}

static void maxbuffer_default_is_1_mib(void **state) {
  (void)state;
  cp_result r;
  run_size("out", CP_MAX_BUFFER_DEFAULT, NULL, &r, CP_OK);
  assert_int_equal(r.out.len, CP_MAX_BUFFER_DEFAULT);
  cp_result_free(&r);
  run_size("out", CP_MAX_BUFFER_DEFAULT + 1, NULL, &r, CP_ENOBUFS);
  assert_true(r.out_truncated);
  assert_int_equal(r.out.len, CP_MAX_BUFFER_DEFAULT);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  cp_result_free(&r);
}

/* A child that cannot finish writing (64 MiB into a full pipe) is ended with kill_signal. */
static void maxbuffer_kills_a_child_still_writing(void **state) {
  (void)state;
  cp_options o = {.max_buffer = 1000};
  cp_result r;
  uint64_t t0 = cptest_now_ms();
  run_size("out", 64 * MIB, &o, &r, CP_ENOBUFS);
  assert_true(cptest_now_ms() - t0 < 10000);
  assert_int_equal(r.out.len, 1000);
  assert_int_equal(r.status, -1);
  assert_int_equal(r.signal, CP_SIGTERM);
  cp_result_free(&r);
}

static void maxbuffer_kill_signal_is_honoured(void **state) {
  (void)state;
  cp_options o = {.max_buffer = 1000, .kill_signal = CP_SIGKILL};
  cp_result r;
  run_size("err", 64 * MIB, &o, &r, CP_ENOBUFS);
  assert_int_equal(r.err.len, 1000);
  assert_int_equal(r.signal, CP_SIGKILL);
  cp_result_free(&r);
}

static void maxbuffer_unlimited_64_mib_on_both_streams(void **state) {
  (void)state;
  size_t n = 64 * MIB;
  cp_options o = {.max_buffer = CP_MAX_BUFFER_UNLIMITED};
  cp_result r;
  run_size("both", n, &o, &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, n);
  assert_int_equal(r.err.len, n);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  assert_true(cptest_is_pattern(r.err.data, r.err.len));
  cp_result_free(&r);
}

static void maxbuffer_64_mib_one_byte_over(void **state) {
  (void)state;
  size_t n = 64 * MIB;
  cp_options o = {.max_buffer = n - 1};
  cp_result r;
  run_size("out", n, &o, &r, CP_ENOBUFS);
  assert_true(r.out_truncated);
  assert_int_equal(r.out.len, n - 1);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  cp_result_free(&r);
}

static void maxbuffer_ignored_stream_is_not_counted(void **state) {
  (void)state;
  cp_options o = {.max_buffer = 1000, .stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}}};
  cp_result r;
  run_size("out", 5000, &o, &r, CP_OK);
  assert_int_equal(r.out.len, 0);
  assert_false(r.out_truncated);
  cp_result_free(&r);
}

/* exec reports the overflow, not CP_ECHILDFAILED, although the kill also ended the child. */
static void maxbuffer_in_exec_is_enobufs(void **state) {
  (void)state;
  size_t n = strlen(cptest_helper()) + 32;
  char *cmd = malloc(n);
  assert_non_null(cmd);
  snprintf(cmd, n, "\"%s\" out 2000", cptest_helper());
  cp_options o = {.max_buffer = 1000};
  cp_result r;
  cptest_assert_rc(cp_exec_sync(cmd, &o, &r), &r, CP_ENOBUFS);
  assert_true(r.out_truncated);
  assert_int_equal(r.out.len, 1000);
  cp_result_free(&r);
  free(cmd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(maxbuffer_stdout_over_the_limit),
      cmocka_unit_test(maxbuffer_stderr_over_the_limit),
      cmocka_unit_test(maxbuffer_exactly_at_the_limit_is_ok),
      cmocka_unit_test(maxbuffer_counts_each_stream_separately),
      cmocka_unit_test(maxbuffer_default_is_1_mib),
      cmocka_unit_test(maxbuffer_kills_a_child_still_writing),
      cmocka_unit_test(maxbuffer_kill_signal_is_honoured),
      cmocka_unit_test(maxbuffer_unlimited_64_mib_on_both_streams),
      cmocka_unit_test(maxbuffer_64_mib_one_byte_over),
      cmocka_unit_test(maxbuffer_ignored_stream_is_not_counted),
      cmocka_unit_test(maxbuffer_in_exec_is_enobufs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
