/* test_env_large.c - a large environment is merged in linear time (issue 14: 20,000 / 40,000
 * --env entries took 2 s / 10 s, quadratic), with the same meaning as before: later entries win
 * over earlier ones and over the parent's. POSIX: 100,000 variables fit in Linux's exec limit. */
#include "cptest.h"

#define N_ENTRIES 100000

static void env_of_100k_entries_merges_fast_later_entries_win(void **state) {
  (void)state;
  cptest_setenv("CP14_PARENT", "parent");
  char *names = malloc((size_t)N_ENTRIES * 24);
  const char **env = calloc(N_ENTRIES + 3, sizeof *env);
  assert_non_null(names);
  assert_non_null(env);
  /* Short entries: 100,000 of them stay within the kernel's limit for one execve (2 MiB here). The
   * last 10 redefine the first 10. */
  for (int i = 0; i < N_ENTRIES; i++) {
    if (i < N_ENTRIES - 10)
      snprintf(names + (size_t)i * 24, 24, "Q%05x=a", (unsigned)i);
    else
      snprintf(names + (size_t)i * 24, 24, "Q%05x=b%d", (unsigned)(i - (N_ENTRIES - 10)),
               i - (N_ENTRIES - 10));
    env[i] = names + (size_t)i * 24;
  }
  env[N_ENTRIES] = "CP14_PARENT=override";
  cp_options o = {.env = env, .env_mode = CP_ENV_EXTEND};
  uint64_t t0 = cptest_now_ms();
  const char *a1[] = {"env", "Q00003", NULL};
  cp_result res;
  int rc = cptest_run(a1, &o, &res);
  uint64_t ms = cptest_now_ms() - t0;
  print_message("spawn with %d added variables: %llu ms\n", N_ENTRIES, (unsigned long long)ms);
  cptest_assert_rc(rc, &res, 0);
  assert_string_equal(res.out.data, "b3"); /* the later definition won */
  cp_result_free(&res);
  assert_true(ms < 5000); /* quadratic merging took minutes here */
  const char *a2[] = {"env", "CP14_PARENT", NULL};
  cptest_assert_rc(cptest_run(a2, &o, &res), &res, 0);
  assert_string_equal(res.out.data, "override");
  cp_result_free(&res);
  const char *a3[] = {"env", "Q0000b", NULL};
  cptest_assert_rc(cptest_run(a3, &o, &res), &res, 0);
  assert_string_equal(res.out.data, "a");
  cp_result_free(&res);
  cptest_setenv("CP14_PARENT", NULL);
  free(env);
  free(names);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(env_of_100k_entries_merges_fast_later_entries_win),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
