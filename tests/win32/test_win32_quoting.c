/* test_win32_quoting.c - Windows only: argument quoting for the MSVCRT / CommandLineToArgvW rules.
 *
 * 10,000 generated argument vectors (quotes, backslash runs, trailing backslashes, spaces, tabs,
 * newlines, cmd metacharacters, UTF-8 up to non-BMP, empty strings) are quoted by the library's
 * win32_make_cmdline() and split again in-process, by a model of the C runtime's rules and by the
 * system's CommandLineToArgvW; a few hundred of them also go through real children (many vectors per
 * child: a spawn costs ~45 ms under Wine) whose C runtime prints the argv it parsed.
 *
 * Calls library internals (src/win32/win32.h): needs the static library, the default build. */
#include <cptest.h>
#include <crt_model.h>

#include "../../src/win32/win32.h"

#include <shellapi.h>

#define VECTORS       10000
#define CHILD_VECTORS 10000
#define PER_CHILD     100

/* ---- a deterministic generator ---- */

static uint64_t rng_state;

static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}

static const char *const pieces[] = {
    "a",
    "b",
    "Z",
    "0",
    " ",
    "  ",
    "\t",
    "\"",
    "\"\"",
    "\\",
    "\\\\",
    "\\\\\\",
    "\\\"",
    "\n",
    "\v",
    "&",
    "|",
    "<",
    ">",
    "^",
    "%",
    "%PATH%",
    "!",
    "'",
    "*",
    "?",
    "(",
    ")",
    "=",
    ";",
    ",",
    "/",
    "\xc3\xa9",                 /* é */
    "\xe6\x97\xa5\xe6\x9c\xac", /* 日本 */
    "\xf0\x9f\x8e\x89",         /* 🎉 non-BMP */
    "C:\\Program Files\\",
    "--flag=\"v w\"",
};
#define NPIECES (sizeof pieces / sizeof pieces[0])

#define MAX_ARGS 7

typedef struct vec {
  int n;
  char *args[MAX_ARGS];
} vec;

static char *gen_arg(void) {
  char buf[256];
  size_t len = 0;
  int parts = (int)(rnd() % 9); /* 0: the empty argument */
  for (int i = 0; i < parts; i++) {
    const char *p = pieces[rnd() % NPIECES];
    size_t l = strlen(p);
    if (len + l >= sizeof buf) break;
    memcpy(buf + len, p, l);
    len += l;
  }
  /* bias towards the hard cases: trailing backslashes */
  if (rnd() % 5 == 0 && len + 3 < sizeof buf) {
    size_t k = 1 + rnd() % 3;
    for (size_t i = 0; i < k; i++) buf[len++] = '\\';
  }
  buf[len] = '\0';
  char *s = malloc(len + 1);
  assert_non_null(s);
  memcpy(s, buf, len + 1);
  return s;
}

static void gen_vec(vec *v) {
  v->n = 1 + (int)(rnd() % MAX_ARGS);
  for (int i = 0; i < v->n; i++) v->args[i] = gen_arg();
}

static void free_vec(vec *v) {
  for (int i = 0; i < v->n; i++) free(v->args[i]);
}

/* ---- a model of the C runtime's splitting (Visual C++ 2008 and later, CommandLineToArgvW) ---- */

typedef struct split {
  int n;
  char *args[64];
} split;

static void split_free(split *s) {
  for (int i = 0; i < s->n; i++) free(s->args[i]);
}

static void model_split(const char *line, split *out) {
  char *args[65];
  size_t n = crt_model_split(line, args, 65);
  assert_true(n <= 64);
  out->n = 0;
  for (size_t i = 0; i < n; i++) {
    assert_non_null(args[i]);
    out->args[out->n++] = args[i];
  }
}

static void print_hex(const char *label, const char *s) {
  print_message("%s: [", label);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) print_message("%02x", *p);
  print_message("]\n");
}

static char *cmdline_for(const vec *v) {
  const char *argv[MAX_ARGS + 2];
  argv[0] = "prog.exe";
  for (int i = 0; i < v->n; i++) argv[i + 1] = v->args[i];
  argv[v->n + 1] = NULL;
  char *line = NULL;
  cp_error err = {0};
  assert_int_equal(win32_make_cmdline(argv, false, &line, &err), 0);
  return line;
}

/* Every generated vector, split by the model: the same arguments come back. */
static void quoting_round_trips_10000_vectors_through_the_crt_model(void **state) {
  (void)state;
  rng_state = 0x9E3779B97F4A7C15ull;
  int bad = 0;
  for (int k = 0; k < VECTORS; k++) {
    vec v;
    gen_vec(&v);
    char *line = cmdline_for(&v);
    split s;
    model_split(line, &s);
    bool ok = s.n == v.n;
    for (int i = 0; ok && i < v.n; i++) ok = strcmp(s.args[i], v.args[i]) == 0;
    if (!ok && bad++ < 5) {
      print_message("vector %d: %d args in, %d out\n", k, v.n, s.n);
      for (int i = 0; i < v.n; i++) print_hex("  in ", v.args[i]);
      print_hex("  line", line);
    }
    split_free(&s);
    free(line);
    free_vec(&v);
  }
  assert_int_equal(bad, 0);
}

/* The same vectors through the system's own parser (Wine's under Wine). */
static void quoting_round_trips_10000_vectors_through_CommandLineToArgvW(void **state) {
  (void)state;
  rng_state = 0x9E3779B97F4A7C15ull;
  int bad = 0;
  for (int k = 0; k < VECTORS; k++) {
    vec v;
    gen_vec(&v);
    char *line = cmdline_for(&v);
    wchar_t *w = win32_utf16(line, NULL);
    assert_non_null(w);
    int argc = 0;
    wchar_t **argv = CommandLineToArgvW(w, &argc);
    assert_non_null(argv);
    bool ok = argc == v.n + 1;
    for (int i = 0; ok && i < v.n; i++) {
      char *a = win32_utf8(argv[i + 1], -1);
      ok = a && strcmp(a, v.args[i]) == 0;
      free(a);
    }
    if (!ok && bad++ < 5) {
      print_message("vector %d: %d args in, %d out\n", k, v.n, argc - 1);
      for (int i = 0; i < v.n; i++) print_hex("  in ", v.args[i]);
      print_hex("  line", line);
    }
    LocalFree(argv);
    free(w);
    free(line);
    free_vec(&v);
  }
  assert_int_equal(bad, 0);
}

/* All 10,000 vectors through real children as well: PER_CHILD vectors' arguments in one command line,
 * printed back by the helper's C runtime. */
static void quoting_round_trips_through_real_children(void **state) {
  (void)state;
  rng_state = 0xD1B54A32D192ED03ull;
  int children = 0;
  for (int done = 0; done < CHILD_VECTORS; done += PER_CHILD) {
    const char *args[PER_CHILD * MAX_ARGS + 2];
    vec vs[PER_CHILD];
    int n = 0;
    args[n++] = "argv";
    for (int k = 0; k < PER_CHILD; k++) {
      gen_vec(&vs[k]);
      for (int i = 0; i < vs[k].n; i++) args[n++] = vs[k].args[i];
    }
    args[n] = NULL;
    cp_result r;
    cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
    assert_int_equal(r.status, 0);
    char *expect = cptest_hex_lines(args);
    if (!cptest_buf_eq(&r.out, expect)) {
      print_message("child %d: argv printed differs\nexpected:\n%s\ngot:\n%s\n", children, expect,
                    r.out.data);
      fail();
    }
    free(expect);
    cp_result_free(&r);
    for (int k = 0; k < PER_CHILD; k++) free_vec(&vs[k]);
    children++;
  }
  assert_int_equal(children, CHILD_VECTORS / PER_CHILD);
}

/* The hand-picked cases from research/win32-wine.md, each checked against the exact text. */
static void quoting_known_cases_give_the_expected_text(void **state) {
  (void)state;
  static const struct {
    const char *arg, *quoted;
  } cases[] = {
      {"", "\"\""},
      {"a", "a"},
      {"a b", "\"a b\""},
      {"a\tb", "\"a\tb\""},
      {"a\"b", "a\\\"b"},
      {"\"", "\\\""},
      {"a\\", "a\\"},
      {"a\\ b\\", "\"a\\ b\\\\\""},
      {"a\\\"b", "a\\\\\\\"b"},
      {"\\\\server\\share\\", "\\\\server\\share\\"},
      {"C:\\Program Files\\x\\", "\"C:\\Program Files\\x\\\\\""},
      {"%PATH%", "%PATH%"},
      {"a&b|c<d>e", "a&b|c<d>e"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cp__buf b = {0};
    assert_int_equal(win32_append_quoted(&b, cases[i].arg), 0);
    assert_int_equal(cp__buf_reserve(&b, 0), 0);
    assert_string_equal(b.data, cases[i].quoted);
    cp__buf_free(&b);
  }
}

/* The program name cannot hold a quote; an empty or spaced one is quoted; verbatim changes nothing. */
static void quoting_program_name_rules(void **state) {
  (void)state;
  char *line = NULL;
  cp_error err = {0};
  const char *bad[] = {"pro\"g", "x", NULL};
  assert_int_equal(win32_make_cmdline(bad, false, &line, &err), CP_EINVAL);
  assert_null(line);
  assert_non_null(strstr(err.message, "argv[0]"));
  cp__error_clear(&err);
  const char *spaced[] = {"C:\\My Programs\\p.exe", "a b", NULL};
  assert_int_equal(win32_make_cmdline(spaced, false, &line, &err), 0);
  assert_string_equal(line, "\"C:\\My Programs\\p.exe\" \"a b\"");
  free(line);
  const char *verb[] = {"cmd.exe", "/d", "/s", "/c", "\"echo \"a b\" & x\"", NULL};
  assert_int_equal(win32_make_cmdline(verb, true, &line, &err), 0);
  assert_string_equal(line, "cmd.exe /d /s /c \"echo \"a b\" & x\"");
  free(line);
}

/* CreateProcessW's limit is 32,767 characters with the NUL; Wine has none, so the library checks. */
static void quoting_command_line_over_32767_is_e2big(void **state) {
  (void)state;
  char *big = malloc(40000);
  assert_non_null(big);
  memset(big, 'x', 39999);
  big[39999] = '\0';
  const char *args[] = {"argv", big, NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_E2BIG);
  assert_int_equal(r.pid, 0);
  cp_result_free(&r);
  /* just under the limit runs */
  size_t room =
      32767 - 1 - strlen(cptest_helper()) - strlen(" argv ") - (strchr(cptest_helper(), ' ') ? 2 : 0);
  big[room] = '\0';
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  cp_result_free(&r);
  big[room] = 'x';
  big[room + 1] = '\0';
  cptest_assert_rc(cptest_run(args, NULL, &r), &r, CP_E2BIG);
  cp_result_free(&r);
  free(big);
}

/* The cmd.exe line for a batch file: exact text for a few arguments, and the refusals. */
static void bat_command_line_text_and_refusals(void **state) {
  (void)state;
  char *line = NULL;
  cp_error err = {0};
  const char *argv[] = {"ignored", "plain", "a b", "x\\", "q\"", "%OS%", "", NULL};
  assert_int_equal(
      win32_make_bat_cmdline("C:\\Windows\\system32\\cmd.exe", "C:\\d\\s.bat", argv, false, &line, &err), 0);
  assert_string_equal(line,
                      "C:\\Windows\\system32\\cmd.exe /d /e:ON /v:OFF /s /c \"\"C:\\d\\s.bat\" plain \"a b\" "
                      "\"x\\\\\" \"q\"\"\" \"%%cd:~,%OS%%cd:~,%\" \"\"\"");
  free(line);
  const char *quoted_script[] = {"x", NULL};
  assert_int_equal(win32_make_bat_cmdline("cmd.exe", "C:\\a\"b.bat", quoted_script, false, &line, &err),
                   CP_EINVAL);
  assert_null(line);
  assert_non_null(strstr(err.message, "double quote"));
  const char *lf[] = {"x", "ok", "bad\nline", NULL};
  assert_int_equal(win32_make_bat_cmdline("cmd.exe", "C:\\a.bat", lf, false, &line, &err), CP_EINVAL);
  assert_non_null(strstr(err.message, "argument 2"));
  cp__error_clear(&err);
  assert_true(win32_is_batch_file(L"C:\\x\\A.BaT"));
  assert_true(win32_is_batch_file(L"C:\\x\\a.cmd. . "));
  assert_false(win32_is_batch_file(L"C:\\x\\a.bat.exe"));
  assert_false(win32_is_batch_file(L"C:\\x\\bat"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(quoting_known_cases_give_the_expected_text),
      cmocka_unit_test(quoting_program_name_rules),
      cmocka_unit_test(bat_command_line_text_and_refusals),
      cmocka_unit_test(quoting_round_trips_10000_vectors_through_the_crt_model),
      cmocka_unit_test(quoting_round_trips_10000_vectors_through_CommandLineToArgvW),
      cmocka_unit_test(quoting_round_trips_through_real_children),
      cmocka_unit_test(quoting_command_line_over_32767_is_e2big),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
