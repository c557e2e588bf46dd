/* test_spawn_sync.c - cp_spawn_sync(): exit statuses, the result's fields, the argument vector
 * (round trips of any bytes, unicode, empty and many arguments), argv[0] and the pid. */
#include "cptest.h"

#ifdef _WIN32
/* ~45 ms a spawn under Wine: a handful of codes, the edges and some in between. */
static const int exit_codes[] = {0, 1, 2, 42, 127, 128, 200, 255};
#define EXIT_CODE_COUNT (sizeof exit_codes / sizeof exit_codes[0])
#else
#define EXIT_CODE_COUNT 256
#endif

static void spawn_exit_codes_0_to_255(void **state) {
  (void)state;
  for (size_t i = 0; i < EXIT_CODE_COUNT; i++) {
#ifdef _WIN32
    int code = exit_codes[i];
#else
    int code = (int)i;
#endif
    char arg[16];
    snprintf(arg, sizeof arg, "%d", code);
    const char *args[] = {"exit", arg, NULL};
    cp_result r;
    int rc = cptest_run(args, NULL, &r);
    cptest_assert_rc(rc, &r, CP_OK);
    assert_int_equal(r.status, code);
    assert_int_equal(r.signal, 0);
    assert_int_equal(r.error.code, CP_OK);
    cp_result_free(&r);
  }
}

static void spawn_result_fields_on_success(void **state) {
  (void)state;
  const char *args[] = {"exit", "0", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  assert_true(r.pid > 0);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.signal, 0);
  assert_false(r.timed_out);
  assert_false(r.out_truncated);
  assert_false(r.err_truncated);
  assert_int_equal(r.error.code, CP_OK);
  assert_null(r.error.syscall);
  assert_null(r.error.path);
  /* Empty captures are still valid, NUL-terminated strings. */
  assert_non_null(r.out.data);
  assert_non_null(r.err.data);
  assert_int_equal(r.out.len, 0);
  assert_int_equal(r.err.len, 0);
  assert_int_equal(r.out.data[0], '\0');
  cp_result_free(&r);
}

static void spawn_null_options_mean_defaults(void **state) {
  (void)state;
  const char *args[] = {"out", "10", NULL};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(cptest_helper(), args, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out.len, 10);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  cp_result_free(&r);
}

static void spawn_pid_is_the_child_pid(void **state) {
  (void)state;
  const char *args[] = {"pid", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  assert_true(r.pid > 0);
  assert_int_equal(strtoll(r.out.data, NULL, 10), r.pid);
  cp_result_free(&r);
}

static void check_args_round_trip(const char *const *args) {
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  char *expect = cptest_hex_lines(args);
  assert_true(cptest_buf_eq(&r.out, expect));
  free(expect);
  cp_result_free(&r);
}

static void spawn_args_round_trip_special_characters(void **state) {
  (void)state;
  /* Quotes, backslashes (before quotes and at the end: the MSVCRT rules), whitespace, and what a
   * shell would expand: none of it may be interpreted without a shell. */
  const char *args[] = {"argv",
                        "plain",
                        "two words",
                        " ",
                        "\t",
                        "tab\there",
                        "new\nline",
                        "a\"b",
                        "\"",
                        "\"\"",
                        "a\\",
                        "a\\\\",
                        "a\\\"b",
                        "\\\\server\\share\\",
                        "C:\\Program Files\\x\\",
                        "trailing ",
                        "*",
                        "?.txt",
                        "$HOME",
                        "`id`",
                        "$(id)",
                        "%PATH%",
                        "!bang!",
                        "^",
                        "a&b|c<d>e",
                        "'single'",
                        "{}[]()",
                        "=",
                        "--flag=\"quoted value\"",
                        ";",
                        "#",
                        "~",
                        NULL};
  check_args_round_trip(args);
}

static void spawn_args_round_trip_unicode(void **state) {
  (void)state;
  const char *args[] = {"argv",
                        "\xc3\xbc",                                         /* ü */
                        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",             /* 日本語 */
                        "\xf0\x9f\x8e\x89",                                 /* 🎉, outside the BMP */
                        "mixed \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80 end",     /* été 😀 */
                        "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", /* Привет */
                        NULL};
  check_args_round_trip(args);
}

static void spawn_empty_args_are_kept(void **state) {
  (void)state;
  const char *args[] = {"argv", "", "x", "", "", NULL};
  check_args_round_trip(args);
}

static void spawn_many_args(void **state) {
  (void)state;
#ifdef _WIN32
  enum { N = 300 }; /* keeps the command line under Windows' 32,767 characters */
#else
  enum { N = 5000 };
#endif
  static char storage[N][16];
  static const char *args[N + 2];
  args[0] = "argv";
  for (int i = 0; i < N; i++) {
    snprintf(storage[i], sizeof storage[i], i % 7 ? "%d" : "a %d\"", i);
    args[i + 1] = storage[i];
  }
  args[N + 1] = NULL;
  check_args_round_trip(args);
}

static void spawn_long_arg(void **state) {
  (void)state;
#ifdef _WIN32
  size_t n = 20000;
#else
  size_t n = 100000;
#endif
  char *big = malloc(n + 1);
  assert_non_null(big);
  for (size_t i = 0; i < n; i++) big[i] = cptest_pattern_byte(i);
  big[n] = '\0';
  const char *args[] = {"argv", big, NULL};
  check_args_round_trip(args);
  free(big);
}

/* No arguments at all: the helper sees only its argv[0] and says so with its usage status. */
static void spawn_null_args_list(void **state) {
  (void)state;
  cp_result r;
  cptest_assert_rc(cptest_run(NULL, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err.data, "usage"));
  cp_result_free(&r);
}

static void spawn_empty_args_list(void **state) {
  (void)state;
  const char *args[] = {NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err.data, "usage"));
  cp_result_free(&r);
}

static void spawn_argv0_defaults_to_file(void **state) {
  (void)state;
  const char *args[] = {"argv0", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  assert_true(cptest_buf_eq(&r.out, cptest_helper()));
  cp_result_free(&r);
}

static void spawn_argv0_option(void **state) {
  (void)state;
  const char *args[] = {"argv0", NULL};
  cp_options o = {.argv0 = "custom \xc3\xbc name"};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_true(cptest_buf_eq(&r.out, "custom \xc3\xbc name"));
  cp_result_free(&r);
}

static void spawn_argv0_does_not_shift_args(void **state) {
  (void)state;
  const char *args[] = {"argv", "first", "second", NULL};
  cp_options o = {.argv0 = "renamed"};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  char *expect = cptest_hex_lines(args);
  assert_true(cptest_buf_eq(&r.out, expect));
  free(expect);
  cp_result_free(&r);
}

static void spawn_sequential_runs_are_independent(void **state) {
  (void)state;
  for (int i = 0; i < 5; i++) {
    char n[16];
    snprintf(n, sizeof n, "%d", i * 1000);
    const char *args[] = {"out", n, NULL};
    cp_result r;
    cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
    assert_int_equal(r.out.len, (size_t)i * 1000);
    assert_true(cptest_is_pattern(r.out.data, r.out.len));
    cp_result_free(&r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(spawn_exit_codes_0_to_255),
      cmocka_unit_test(spawn_result_fields_on_success),
      cmocka_unit_test(spawn_null_options_mean_defaults),
      cmocka_unit_test(spawn_pid_is_the_child_pid),
      cmocka_unit_test(spawn_args_round_trip_special_characters),
      cmocka_unit_test(spawn_args_round_trip_unicode),
      cmocka_unit_test(spawn_empty_args_are_kept),
      cmocka_unit_test(spawn_many_args),
      cmocka_unit_test(spawn_long_arg),
      cmocka_unit_test(spawn_null_args_list),
      cmocka_unit_test(spawn_empty_args_list),
      cmocka_unit_test(spawn_argv0_defaults_to_file),
      cmocka_unit_test(spawn_argv0_option),
      cmocka_unit_test(spawn_argv0_does_not_shift_args),
      cmocka_unit_test(spawn_sequential_runs_are_independent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
