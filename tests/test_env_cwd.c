/* test_env_cwd.c - the child's environment (inherit, replace, extend; unicode, empty and '='-holding
 * values), its working directory, and how the program is found: against cwd when it has a
 * directory part, on the child's PATH when it has none. */
#include "cptest.h"

#ifdef _WIN32
#include <windows.h>
#define strncasecmp_ _strnicmp
#else
#include <strings.h>
#include <unistd.h>
#define strncasecmp_ strncasecmp
#endif

static int setup(void **state) {
  cptest_setenv("CPTEST_INHERITED", "yes");
  cptest_setenv("CPTEST_KEPT", "kept");
  return cptest_tmpdir_setup(state);
}

/* Runs "cp-testchild env NAME" with o; returns the value (a new string) or NULL if unset. */
static char *child_env(const char *name, const cp_options *o) {
  const char *args[] = {"env", name, NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, o, &r), &r, CP_OK);
  char *v = NULL;
  if (r.status == 0) {
    v = malloc(r.out.len + 1);
    assert_non_null(v);
    memcpy(v, r.out.data, r.out.len + 1);
  } else {
    assert_int_equal(r.status, 3);
  }
  cp_result_free(&r);
  return v;
}

static bool names_equal(const char *a, size_t alen, const char *b, size_t blen) {
#ifdef _WIN32
  return alen == blen && strncasecmp_(a, b, alen) == 0;
#else
  return alen == blen && memcmp(a, b, alen) == 0;
#endif
}

/* Counts the lines of an "envall" output whose name is `name`, and copies the last value. */
static int env_lines(const cp_buffer *out, const char *name, char *value, size_t cap) {
  int n = 0;
  const char *p = out->data, *end = out->data + out->len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    const char *eq = p < nl ? memchr(p + 1, '=', (size_t)(nl - p - 1)) : NULL;
    if (eq && names_equal(p, (size_t)(eq - p), name, strlen(name))) {
      n++;
      if (value) snprintf(value, cap, "%.*s", (int)(nl - eq - 1), eq + 1);
    }
    p = nl + 1;
  }
  return n;
}

static void env_inherited_by_default(void **state) {
  (void)state;
  char *v = child_env("CPTEST_INHERITED", NULL);
  assert_non_null(v);
  assert_string_equal(v, "yes");
  free(v);
}

static void env_inherit_reads_the_environment_at_call_time(void **state) {
  (void)state;
  cptest_setenv("CPTEST_CHANGING", "first");
  char *v = child_env("CPTEST_CHANGING", NULL);
  assert_non_null(v);
  assert_string_equal(v, "first");
  free(v);
  cptest_setenv("CPTEST_CHANGING", "second");
  v = child_env("CPTEST_CHANGING", NULL);
  assert_non_null(v);
  assert_string_equal(v, "second");
  free(v);
  cptest_setenv("CPTEST_CHANGING", NULL);
  v = child_env("CPTEST_CHANGING", NULL);
  assert_null(v);
}

static void env_unset_variable_is_absent(void **state) {
  (void)state;
  assert_null(child_env("CPTEST_NEVER_SET_ANYWHERE", NULL));
}

/* Windows keeps a few variables a process cannot run without; Wine adds its own to every child. */
static bool allowed_extra(const char *line, size_t len) {
#ifdef _WIN32
  /* What the library adds to a replaced environment when missing (libuv's list, what Node children
   * get), and the variables Wine adds to every process. */
  static const char *const keep[] = {"SYSTEMROOT=", "SYSTEMDRIVE=", "WINDIR=",    "HOMEDRIVE=",   "HOMEPATH=",
                                     "LOGONSERVER=", "PATH=",      "TEMP=",      "USERDOMAIN=", "USERNAME=",
                                     "USERPROFILE=", "WINE"};
  if (len > 0 && line[0] == '=') return true; /* the per-drive "=C:=C:\..." entries */
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
    if (len >= strlen(keep[i]) && strncasecmp_(line, keep[i], strlen(keep[i])) == 0) return true;
#else
  (void)line, (void)len;
#endif
  return false;
}

static void env_replace_gives_exactly_the_list(void **state) {
  (void)state;
  const char *env[] = {"CPTEST_A=1", "CPTEST_B=two words", NULL};
  const char *args[] = {"envall", NULL};
  cp_options o = {.env_mode = CP_ENV_REPLACE, .env = env};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  char v[64];
  assert_int_equal(env_lines(&r.out, "CPTEST_A", v, sizeof v), 1);
  assert_string_equal(v, "1");
  assert_int_equal(env_lines(&r.out, "CPTEST_B", v, sizeof v), 1);
  assert_string_equal(v, "two words");
  assert_int_equal(env_lines(&r.out, "CPTEST_INHERITED", NULL, 0), 0);
  int others = 0;
  const char *p = r.out.data, *end = r.out.data + r.out.len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    size_t len = (size_t)(nl - p);
    if (strncmp(p, "CPTEST_A=", 9) != 0 && strncmp(p, "CPTEST_B=", 9) != 0 && !allowed_extra(p, len)) {
      print_message("unexpected variable: %.*s\n", (int)len, p);
      others++;
    }
    p = nl + 1;
  }
  assert_int_equal(others, 0);
  cp_result_free(&r);
}

static void env_replace_with_an_empty_list(void **state) {
  (void)state;
  const char *env[] = {NULL};
  const char *args[] = {"envall", NULL};
  cp_options o = {.env_mode = CP_ENV_REPLACE, .env = env};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  const char *p = r.out.data, *end = r.out.data + r.out.len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    if (!allowed_extra(p, (size_t)(nl - p))) fail_msg("unexpected variable: %.*s", (int)(nl - p), p);
    p = nl + 1;
  }
  cp_result_free(&r);
}

static void env_extend_adds_and_overrides(void **state) {
  (void)state;
  const char *env[] = {"CPTEST_INHERITED=overridden", "CPTEST_NEW=new", NULL};
  const char *args[] = {"envall", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  char v[64];
  assert_int_equal(env_lines(&r.out, "CPTEST_INHERITED", v, sizeof v), 1);
  assert_string_equal(v, "overridden");
  assert_int_equal(env_lines(&r.out, "CPTEST_NEW", v, sizeof v), 1);
  assert_string_equal(v, "new");
  assert_int_equal(env_lines(&r.out, "CPTEST_KEPT", v, sizeof v), 1);
  assert_string_equal(v, "kept");
  cp_result_free(&r);
  /* The parent's own environment is untouched. */
  assert_string_equal(getenv("CPTEST_INHERITED"), "yes");
  assert_null(getenv("CPTEST_NEW"));
}

static void env_unicode_value(void **state) {
  (void)state;
  const char *env[] = {"CPTEST_UNICODE=\xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89 end", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  char *v = child_env("CPTEST_UNICODE", &o);
  assert_non_null(v);
  assert_string_equal(v, "\xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89 end");
  free(v);
}

static void env_unicode_name(void **state) {
  (void)state;
  const char *env[] = {"CPTEST_\xc3\x9c\xe6\x97\xa5=name", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  char *v = child_env("CPTEST_\xc3\x9c\xe6\x97\xa5", &o);
  assert_non_null(v);
  assert_string_equal(v, "name");
  free(v);
}

static void env_empty_value_is_set(void **state) {
  (void)state;
  const char *env[] = {"CPTEST_EMPTY=", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  char *v = child_env("CPTEST_EMPTY", &o);
  assert_non_null(v);
  assert_string_equal(v, "");
  free(v);
}

static void env_value_may_hold_equals_signs(void **state) {
  (void)state;
  const char *env[] = {"CPTEST_EQ=a=b==c", NULL};
  cp_options o = {.env_mode = CP_ENV_REPLACE, .env = env};
  char *v = child_env("CPTEST_EQ", &o);
  assert_non_null(v);
  assert_string_equal(v, "a=b==c");
  free(v);
}

/* Windows: names compare case-insensitively, so extending with another case overrides. POSIX: two
 * distinct variables. */
static void env_extend_name_case_follows_the_platform(void **state) {
  (void)state;
  const char *env[] = {"cptest_inherited=lower", NULL};
  const char *args[] = {"envall", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
#ifdef _WIN32
  char v[64];
  assert_int_equal(env_lines(&r.out, "CPTEST_INHERITED", v, sizeof v), 1);
  assert_string_equal(v, "lower");
#else
  char v[64];
  assert_int_equal(env_lines(&r.out, "cptest_inherited", v, sizeof v), 1);
  assert_string_equal(v, "lower");
  assert_int_equal(env_lines(&r.out, "CPTEST_INHERITED", v, sizeof v), 1);
  assert_string_equal(v, "yes");
#endif
  cp_result_free(&r);
}

static void env_many_variables(void **state) {
  (void)state;
  enum { N = 500 };
  static char storage[N][48];
  static const char *env[N + 1];
  for (int i = 0; i < N; i++) {
    snprintf(storage[i], sizeof storage[i], "CPTEST_MANY_%d=value %d", i, i * 7);
    env[i] = storage[i];
  }
  env[N] = NULL;
  const char *args[] = {"envall", NULL};
  cp_options o = {.env_mode = CP_ENV_REPLACE, .env = env};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  for (int i = 0; i < N; i++) {
    char name[32], v[48], expect[48];
    snprintf(name, sizeof name, "CPTEST_MANY_%d", i);
    snprintf(expect, sizeof expect, "value %d", i * 7);
    assert_int_equal(env_lines(&r.out, name, v, sizeof v), 1);
    assert_string_equal(v, expect);
  }
  cp_result_free(&r);
}

static bool same_path(const cp_buffer *b, const char *expect) {
#ifdef _WIN32
  /* GetCurrentDirectoryW may differ in case and separators from what was given. */
  size_t n = strlen(expect);
  bool eq = b->len == n;
  for (size_t i = 0; eq && i < n; i++) {
    char x = b->data[i] == '/' ? '\\' : b->data[i], y = expect[i] == '/' ? '\\' : expect[i];
    if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
    eq = x == y;
  }
  if (!eq) print_message("path \"%s\" != \"%s\"\n", b->data, expect);
  return eq;
#else
  return cptest_buf_eq(b, expect);
#endif
}

static void cwd_option_sets_the_child_directory(void **state) {
  (void)state;
  const char *args[] = {"cwd", NULL};
  cp_options o = {.cwd = cptest_tmpdir};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_true(same_path(&r.out, cptest_tmpdir));
  cp_result_free(&r);
}

static void cwd_unicode_directory(void **state) {
  (void)state;
  char *dir = cptest_join(cptest_tmpdir, "dir \xc3\xbc\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89");
  assert_int_equal(cptest_mkdir(dir), 0);
  const char *args[] = {"cwd", NULL};
  cp_options o = {.cwd = dir};
  cp_result r;
  cptest_assert_rc(cptest_run(args, &o, &r), &r, CP_OK);
  assert_true(same_path(&r.out, dir));
  cp_result_free(&r);
  free(dir);
}

static void cwd_null_is_the_parents(void **state) {
  (void)state;
  const char *args[] = {"cwd", NULL};
  cp_result r1, r2;
  cptest_assert_rc(cptest_run(args, NULL, &r1), &r1, CP_OK);
  cp_options o = {.cwd = NULL};
  cptest_assert_rc(cptest_run(args, &o, &r2), &r2, CP_OK);
  assert_true(r1.out.len > 0);
  assert_true(cptest_buf_eq(&r2.out, r1.out.data));
#ifndef _WIN32
  char here[4096];
  assert_non_null(getcwd(here, sizeof here));
  assert_true(cptest_buf_eq(&r1.out, here));
#endif
  cp_result_free(&r1);
  cp_result_free(&r2);
}

static void cwd_relative_program_with_dir_part_resolves_against_cwd(void **state) {
  (void)state;
  char *sub = cptest_join(cptest_tmpdir, "rel");
  assert_int_equal(cptest_mkdir(sub), 0);
  char *prog = cptest_join(sub, "cp-testchild" CPTEST_EXE);
  assert_int_equal(cptest_copy_file(cptest_helper(), prog), 0);
  const char *args[] = {"cwd", NULL};
  cp_options o = {.cwd = cptest_tmpdir};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("rel" CPTEST_SEP "cp-testchild" CPTEST_EXE, args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_true(same_path(&r.out, cptest_tmpdir));
  cp_result_free(&r);
  free(prog);
  free(sub);
}

/* Makes cptest_tmpdir/<dirname>/cptest-onpath, a copy of the helper under a name found nowhere else. */
static char *make_path_dir(const char *dirname) {
  char *dir = cptest_join(cptest_tmpdir, dirname);
  assert_int_equal(cptest_mkdir(dir), 0);
  char *prog = cptest_join(dir, "cptest-onpath" CPTEST_EXE);
  assert_int_equal(cptest_copy_file(cptest_helper(), prog), 0);
  free(prog);
  return dir;
}

static void path_search_uses_the_childs_path(void **state) {
  (void)state;
  char *dir = make_path_dir("pathdir");
  char *path_entry = malloc(strlen(dir) + 6);
  assert_non_null(path_entry);
  sprintf(path_entry, "PATH=%s", dir);
  const char *env[] = {path_entry, NULL};
  const char *args[] = {"env", "PATH", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("cptest-onpath", args, &o, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  assert_true(cptest_buf_eq(&r.out, dir));
  cp_result_free(&r);
  free(path_entry);
  free(dir);
}

static void path_search_ignores_the_parents_path_when_the_child_has_one(void **state) {
  (void)state;
  char *dir = make_path_dir("parentpath");
  const char *old = getenv("PATH");
  char *saved = old ? strcpy(malloc(strlen(old) + 1), old) : NULL;
  cptest_setenv("PATH", dir);
  const char *env[] = {"PATH=" CPTEST_SEP "cptest-nonexistent-dir", NULL};
  const char *args[] = {"exit", "0", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env};
  cp_result r;
  int rc = cp_spawn_sync("cptest-onpath", args, &o, &r);
  cptest_setenv("PATH", saved);
  cptest_assert_rc(rc, &r, CP_ENOENT);
  cp_result_free(&r);
  free(saved);
  free(dir);
}

static void path_search_program_missing_from_path(void **state) {
  (void)state;
  const char *args[] = {"exit", "0", NULL};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync("cptest-onpath-nowhere", args, NULL, &r), &r, CP_ENOENT);
  assert_int_equal(r.error.code, CP_ENOENT);
  cp_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(env_inherited_by_default),
      cmocka_unit_test(env_inherit_reads_the_environment_at_call_time),
      cmocka_unit_test(env_unset_variable_is_absent),
      cmocka_unit_test(env_replace_gives_exactly_the_list),
      cmocka_unit_test(env_replace_with_an_empty_list),
      cmocka_unit_test(env_extend_adds_and_overrides),
      cmocka_unit_test(env_unicode_value),
      cmocka_unit_test(env_unicode_name),
      cmocka_unit_test(env_empty_value_is_set),
      cmocka_unit_test(env_value_may_hold_equals_signs),
      cmocka_unit_test(env_extend_name_case_follows_the_platform),
      cmocka_unit_test(env_many_variables),
      cmocka_unit_test(cwd_option_sets_the_child_directory),
      cmocka_unit_test(cwd_unicode_directory),
      cmocka_unit_test(cwd_null_is_the_parents),
      cmocka_unit_test(cwd_relative_program_with_dir_part_resolves_against_cwd),
      cmocka_unit_test(path_search_uses_the_childs_path),
      cmocka_unit_test(path_search_ignores_the_parents_path_when_the_child_has_one),
      cmocka_unit_test(path_search_program_missing_from_path),
  };
  return cmocka_run_group_tests(tests, setup, cptest_tmpdir_teardown);
}
