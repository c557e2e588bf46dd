/* test_cprun.c - cprun from the outside: every option, every exit status and the --json record,
 * by running the built cprun (next to this test) on the helper child. The same tests run natively
 * and under Wine; the few that need POSIX signals or permission bits say so when they skip. */
#include "cptest.h"

#include <limits.h>
#ifndef _WIN32
#include <signal.h>
#endif

/* ---------------------------------------------------------------------------------------------
 * A strict little JSON reader: enough to check the record's shape and read its fields.
 * ------------------------------------------------------------------------------------------ */

typedef enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_OBJ } jtype;

typedef struct jmember jmember;
typedef struct jval {
  jtype t;
  bool b;
  long long n;
  char *s; /* J_STR: decoded UTF-8, NUL-terminated (may hold NULs: see slen) */
  size_t slen;
  jmember *m; /* J_OBJ */
  size_t nm;
} jval;

struct jmember {
  char *key;
  jval v;
};

static void jfree(jval *v) {
  free(v->s);
  for (size_t i = 0; i < v->nm; i++) {
    free(v->m[i].key);
    jfree(&v->m[i].v);
  }
  free(v->m);
  memset(v, 0, sizeof *v);
}

static void jput_utf8(char **out, size_t *len, unsigned long cp) {
  char *d = *out + *len;
  if (cp < 0x80) {
    d[0] = (char)cp;
    *len += 1;
  } else if (cp < 0x800) {
    d[0] = (char)(0xC0 | (cp >> 6));
    d[1] = (char)(0x80 | (cp & 0x3F));
    *len += 2;
  } else if (cp < 0x10000) {
    d[0] = (char)(0xE0 | (cp >> 12));
    d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[2] = (char)(0x80 | (cp & 0x3F));
    *len += 3;
  } else {
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    *len += 4;
  }
}

static bool jhex4(const char *p, const char *end, unsigned long *v) {
  if (end - p < 4) return false;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    const char *digit = c ? strchr("0123456789abcdef", c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c) : NULL;
    if (!digit) return false;
    int d = (int)(digit - "0123456789abcdef");
    *v = *v * 16 + (unsigned long)d;
  }
  return true;
}

static bool jstring(const char **pp, const char *end, char **out, size_t *outlen) {
  const char *p = *pp;
  if (p >= end || *p != '"') return false;
  p++;
  char *buf = malloc((size_t)(end - p) + 1); /* decoding never makes the text longer */
  size_t len = 0;
  if (!buf) return false;
  while (p < end && *p != '"') {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20) goto fail; /* raw control characters are not JSON */
    if (c != '\\') {
      buf[len++] = (char)c;
      p++;
      continue;
    }
    if (++p >= end) goto fail;
    char e = *p++;
    static const char simple_from[] = "\"\\/bfnrt", simple_to[] = "\"\\/\b\f\n\r\t";
    const char *simple = e ? strchr(simple_from, e) : NULL;
    if (simple) {
      buf[len++] = simple_to[simple - simple_from];
      continue;
    }
    if (e != 'u') goto fail;
    unsigned long cp, lo;
    if (!jhex4(p, end, &cp)) goto fail;
    p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !jhex4(p + 2, end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
        goto fail;
      p += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      goto fail;
    }
    jput_utf8(&buf, &len, cp);
  }
  if (p >= end) goto fail;
  buf[len] = '\0';
  *out = buf;
  *outlen = len;
  *pp = p + 1;
  return true;
fail:
  free(buf);
  return false;
}

static bool jvalue(const char **pp, const char *end, jval *v);

static bool jobject(const char **pp, const char *end, jval *v) {
  const char *p = *pp + 1; /* past '{' */
  v->t = J_OBJ;
  if (p < end && *p == '}') {
    *pp = p + 1;
    return true;
  }
  for (;;) {
    jmember mem = {0};
    size_t klen;
    if (!jstring(&p, end, &mem.key, &klen)) return false;
    if (p >= end || *p != ':') {
      free(mem.key);
      return false;
    }
    p++;
    if (!jvalue(&p, end, &mem.v)) {
      free(mem.key);
      return false;
    }
    jmember *grown = realloc(v->m, (v->nm + 1) * sizeof *grown);
    if (!grown) {
      free(mem.key);
      jfree(&mem.v);
      return false;
    }
    v->m = grown;
    v->m[v->nm++] = mem;
    if (p < end && *p == ',') {
      p++;
      continue;
    }
    if (p < end && *p == '}') {
      *pp = p + 1;
      return true;
    }
    return false;
  }
}

/* No whitespace is accepted anywhere: cprun writes the record without any. */
static bool jvalue(const char **pp, const char *end, jval *v) {
  const char *p = *pp;
  memset(v, 0, sizeof *v);
  if (p >= end) return false;
  if (*p == '{') return jobject(pp, end, v);
  if (*p == '"') {
    v->t = J_STR;
    return jstring(pp, end, &v->s, &v->slen);
  }
  static const struct {
    const char *word;
    jtype t;
    bool b;
  } words[] = {{"null", J_NULL, false}, {"true", J_BOOL, true}, {"false", J_BOOL, false}};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(words[i].word);
    if ((size_t)(end - p) >= n && memcmp(p, words[i].word, n) == 0) {
      v->t = words[i].t;
      v->b = words[i].b;
      *pp = p + n;
      return true;
    }
  }
  const char *q = p;
  if (q < end && *q == '-') q++;
  if (q >= end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end && q[1] >= '0' && q[1] <= '9'))
    return false;
  long long n = 0;
  for (; q < end && *q >= '0' && *q <= '9'; q++) n = n * 10 + (*q - '0');
  v->t = J_NUM;
  v->n = *p == '-' ? -n : n;
  *pp = q;
  return true;
}

static const jval *jget(const jval *obj, const char *key) {
  for (size_t i = 0; obj && obj->t == J_OBJ && i < obj->nm; i++)
    if (strcmp(obj->m[i].key, key) == 0) return &obj->m[i].v;
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Running cprun
 * ------------------------------------------------------------------------------------------ */

static int setup(void **state) {
  cptest_setenv("CPRUN_TEST_INHERITED", "from-the-test");
  return cptest_tmpdir_setup(state);
}

#define MAX_ARGS 32

/* cprun's arguments: the NULL-terminated list `args`, where the word "HELPER" stands for the
 * helper child's path. */
static void expand_args(const char *const *args, const char **out) {
  size_t n = 0;
  for (; args[n]; n++) {
    assert_true(n + 1 < MAX_ARGS);
    out[n] = strcmp(args[n], "HELPER") == 0 ? cptest_helper() : args[n];
  }
  out[n] = NULL;
}

/* Runs cprun with args (see expand_args) and the given stdin bytes (NULL: stdin at end of file at
 * once). Asserts cprun ran and exited normally; returns its exit status. */
static int run_cprun_in(const char *const *args, const void *input, size_t input_len, cp_result *res) {
  const char *argv[MAX_ARGS];
  expand_args(args, argv);
  cp_options o = {
      .max_buffer = CP_MAX_BUFFER_UNLIMITED, .timeout_ms = 60000, .input = input, .input_len = input_len};
  int rc = cp_spawn_sync(cptest_bin("cprun"), argv, &o, res);
  cptest_assert_rc(rc, res, CP_OK);
  assert_int_equal(res->signal, 0);
  assert_true(res->status >= 0);
  return (int)res->status;
}

static int run_cprun(const char *const *args, cp_result *res) { return run_cprun_in(args, NULL, 0, res); }

/* Whether stderr has a line of cprun's own ("cprun: ..."). Not necessarily the first: in a
 * sanitizer build, a failed exec in the library's vfork-style child can make AddressSanitizer print a
 * warning of its own on the stderr they share. */
static bool has_cprun_message(const char *err) {
  for (const char *p = err; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, "cprun: ", 7) == 0) return true;
  return false;
}

/* Asserts a usage error: status 125, one line "cprun: ..." on stderr, nothing on stdout. */
static void assert_usage_error(const char *const *args) {
  cp_result r;
  int st = run_cprun(args, &r);
  if (st != 125 || r.out.len != 0)
    print_message("args[0]=%s stdout=%s stderr=%s\n", args[0], r.out.data, r.err.data);
  assert_int_equal(st, 125);
  assert_int_equal(r.out.len, 0);
  assert_true(strncmp(r.err.data, "cprun: ", 7) == 0);
  const char *nl = strchr(r.err.data, '\n');
  assert_non_null(nl);
  assert_ptr_equal(nl, r.err.data + r.err.len - 1); /* exactly one line */
  cp_result_free(&r);
}

/* A --json run: the exit status, the raw record, and the parsed record. Checks that stdout is one
 * object with exactly the documented keys, in order, of the documented types, on one line. */
typedef struct json_run {
  int status;
  cp_result res;
  jval rec;
} json_run;

static void run_json_in(const char *const *args, const void *input, size_t input_len, json_run *jr) {
  jr->status = run_cprun_in(args, input, input_len, &jr->res);
  const char *text = jr->res.out.data, *end = text + jr->res.out.len;
  if (!(end > text && end[-1] == '\n'))
    print_message("not one line: [%s] stderr [%s]\n", text, jr->res.err.data);
  assert_true(end > text && end[-1] == '\n');
  const char *p = text;
  assert_true(*p == '{');
  bool parsed = jvalue(&p, end - 1, &jr->rec);
  if (!parsed || p != end - 1) print_message("bad JSON: %s\n", text);
  assert_true(parsed);
  assert_ptr_equal(p, end - 1);
  static const char *const keys[] = {"pid",    "status", "signal",           "timed_out",       "error",
                                     "stdout", "stderr", "stdout_truncated", "stderr_truncated"};
  assert_int_equal(jr->rec.nm, 9);
  for (size_t i = 0; i < 9; i++) assert_string_equal(jr->rec.m[i].key, keys[i]);
  assert_int_equal(jget(&jr->rec, "pid")->t, J_NUM);
  jtype st = jget(&jr->rec, "status")->t, sg = jget(&jr->rec, "signal")->t, er = jget(&jr->rec, "error")->t;
  assert_true(st == J_NUM || st == J_NULL);
  assert_true(sg == J_STR || sg == J_NULL);
  assert_true(er == J_OBJ || er == J_NULL);
  assert_int_equal(jget(&jr->rec, "timed_out")->t, J_BOOL);
  assert_int_equal(jget(&jr->rec, "stdout")->t, J_STR);
  assert_int_equal(jget(&jr->rec, "stderr")->t, J_STR);
  assert_int_equal(jget(&jr->rec, "stdout_truncated")->t, J_BOOL);
  assert_int_equal(jget(&jr->rec, "stderr_truncated")->t, J_BOOL);
  if (er == J_OBJ) {
    const jval *e = jget(&jr->rec, "error");
    static const char *const ekeys[] = {"code", "syscall", "path", "message"};
    assert_int_equal(e->nm, 4);
    for (size_t i = 0; i < 4; i++) assert_string_equal(e->m[i].key, ekeys[i]);
    assert_int_equal(jget(e, "code")->t, J_STR);
    assert_true(jget(e, "path")->t == J_STR || jget(e, "path")->t == J_NULL);
  }
}

static void run_json(const char *const *args, json_run *jr) { run_json_in(args, NULL, 0, jr); }

static void json_run_free(json_run *jr) {
  cp_result_free(&jr->res);
  jfree(&jr->rec);
}

static const char *jstr(const json_run *jr, const char *key) {
  const jval *v = jget(&jr->rec, key);
  return v && v->t == J_STR ? v->s : NULL;
}

static bool jbool(const json_run *jr, const char *key) { return jget(&jr->rec, key)->b; }

static bool jnull(const json_run *jr, const char *key) { return jget(&jr->rec, key)->t == J_NULL; }

static const char *jerror_field(const json_run *jr, const char *key) {
  const jval *v = jget(jget(&jr->rec, "error"), key);
  return v && v->t == J_STR ? v->s : NULL;
}

/* Whether the raw record has the member "key":<raw> exactly (raw as cprun must write it). */
static bool record_has_raw(const json_run *jr, const char *key, const char *raw) {
  size_t n = strlen(key) + strlen(raw) + 4;
  char *needle = malloc(n);
  assert_non_null(needle);
  snprintf(needle, n, "\"%s\":%s", key, raw);
  bool found = strstr(jr->res.out.data, needle) != NULL;
  if (!found) print_message("expected %s in %s\n", needle, jr->res.out.data);
  free(needle);
  return found;
}

/* Strips the "\r" cmd.exe puts before each "\n" (a no-op for POSIX output). */
static void strip_cr(char *s) {
  char *d = s;
  for (const char *p = s; *p; p++)
    if (*p != '\r') *d++ = *p;
  *d = '\0';
}

static char *tmpfile_with(const char *name, const void *data, size_t len, int mode) {
  char *path = cptest_join(cptest_tmpdir, name);
  assert_non_null(path);
  assert_int_equal(cptest_write_file(path, data, len, mode), 0);
  return path;
}

/* ---------------------------------------------------------------------------------------------
 * Exit statuses
 * ------------------------------------------------------------------------------------------ */

static void exit_status_is_the_childs(void **state) {
  (void)state;
  static const char *const codes[] = {"0", "1", "42", "123", "200", "255"};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *args[] = {"--", "HELPER", "exit", codes[i], NULL};
    cp_result r;
    assert_int_equal(run_cprun(args, &r), atoi(codes[i]));
    assert_int_equal(r.out.len, 0);
    assert_int_equal(r.err.len, 0); /* cprun itself says nothing about an ordinary exit */
    cp_result_free(&r);
  }
}

static void exit_status_is_128_plus_signal_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: Windows children do not die of signals");
#else
  static const struct {
    const char *sig;
    int num;
    const char *name;
  } cases[] = {{"TERM", SIGTERM, "SIGTERM"}, {"KILL", SIGKILL, "SIGKILL"}, {"USR1", SIGUSR1, "SIGUSR1"}};
  for (size_t i = 0; i < 3; i++) {
    const char *plain[] = {"--", "HELPER", "signal", cases[i].sig, NULL};
    cp_result r;
    assert_int_equal(run_cprun(plain, &r), 128 + cases[i].num);
    assert_int_equal(r.err.len, 0);
    cp_result_free(&r);

    const char *args[] = {"--json", "--", "HELPER", "signal", cases[i].sig, NULL};
    json_run jr;
    run_json(args, &jr);
    assert_int_equal(jr.status, 128 + cases[i].num);
    assert_true(jnull(&jr, "status"));
    assert_string_equal(jstr(&jr, "signal"), cases[i].name);
    assert_true(jnull(&jr, "error"));
    assert_false(jbool(&jr, "timed_out"));
    json_run_free(&jr);
  }
#endif
}

/* A signal this platform has no name for (a real-time one): the record gives its number. */
static void signal_without_a_name_is_its_number_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: Windows children do not die of signals");
#elif !defined(SIGRTMIN)
  CPTEST_SKIP("no real-time signals here (macOS, older BSDs): every signal has a name");
#else
  int sig = SIGRTMIN + 6;
  assert_null(cp_signal_name(sig));
  char num[16];
  snprintf(num, sizeof num, "%d", sig);
  const char *args[] = {"--json", "--", "HELPER", "signal", num, NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 128 + sig);
  assert_true(jnull(&jr, "status"));
  assert_string_equal(jstr(&jr, "signal"), num);
  assert_true(jnull(&jr, "error"));
  json_run_free(&jr);
#endif
}

static void timeout_exits_124(void **state) {
  (void)state;
  uint64_t t0 = cptest_now_ms();
  const char *args[] = {"--timeout", "0.3", "--", "HELPER", "sleep", "20000", NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 124);
  assert_true(cptest_now_ms() - t0 < 15000); /* killed, not slept out */
  assert_int_equal(r.err.len, 0);            /* like timeout(1): the status says it */
  cp_result_free(&r);
}

static void timeout_json_record_says_timed_out(void **state) {
  (void)state;
  const char *args[] = {"--json", "--timeout", "0.5", "--", "HELPER", "out-sleep", "5", "20000", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 124);
  assert_true(jbool(&jr, "timed_out"));
  assert_true(jnull(&jr, "status"));
  assert_false(jnull(&jr, "signal"));
#ifndef _WIN32
  assert_string_equal(jstr(&jr, "signal"), "SIGTERM");
#endif
  assert_string_equal(jerror_field(&jr, "code"), "ETIMEDOUT");
  assert_string_equal(jstr(&jr, "stdout"), "abcde"); /* what it wrote before the kill is kept */
  assert_true(jget(&jr.rec, "pid")->n > 0);
  json_run_free(&jr);
}

static void timeout_zero_means_none(void **state) {
  (void)state;
  const char *args[] = {"--timeout", "0", "--", "HELPER", "out-sleep", "3", "300", NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 0);
  assert_true(cptest_buf_eq(&r.out, "abc"));
  cp_result_free(&r);
}

static void timeout_accepts_decimal_forms(void **state) {
  (void)state;
  static const char *const forms[] = {"30", "2.5", ".5", "0.25", "10.000", "1.0001", "007"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    const char *args[] = {"--timeout", forms[i], "--", "HELPER", "exit", "3", NULL};
    cp_result r;
    assert_int_equal(run_cprun(args, &r), 3);
    cp_result_free(&r);
  }
  const char *eq[] = {"--timeout=30", "--", "HELPER", "exit", "4", NULL};
  cp_result r;
  assert_int_equal(run_cprun(eq, &r), 4);
  cp_result_free(&r);
}

static void missing_program_exits_127(void **state) {
  (void)state;
  const char *args[] = {"--", "cprun-no-such-program-xyz", "arg", NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 127);
  assert_int_equal(r.out.len, 0);
  assert_true(has_cprun_message(r.err.data));
  assert_non_null(strstr(r.err.data, "ENOENT"));
  assert_non_null(strstr(r.err.data, "cprun-no-such-program-xyz"));
  cp_result_free(&r);
}

static void missing_program_json_error(void **state) {
  (void)state;
  const char *args[] = {"--json", "--", "cprun-no-such-program-xyz", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 127);
  assert_int_equal(jget(&jr.rec, "pid")->n, 0);
  assert_true(jnull(&jr, "status"));
  assert_true(jnull(&jr, "signal"));
  assert_string_equal(jerror_field(&jr, "code"), "ENOENT");
  assert_string_equal(jerror_field(&jr, "path"), "cprun-no-such-program-xyz");
  assert_non_null(jerror_field(&jr, "syscall"));
  assert_non_null(jerror_field(&jr, "message"));
  assert_string_equal(jstr(&jr, "stdout"), "");
  assert_int_equal(jr.res.err.len, 0); /* with --json, the record alone reports it */
  json_run_free(&jr);
}

static void missing_program_path_exits_127(void **state) {
  (void)state;
  char *path = cptest_join(cptest_tmpdir, "no-such-program" CPTEST_EXE);
  const char *args[] = {"--", path, NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 127);
  cp_result_free(&r);
  free(path);
}

static void not_executable_exits_126(void **state) {
  (void)state;
#ifdef _WIN32
  /* A text file named .exe: found, but not a program (ERROR_BAD_EXE_FORMAT). */
  char *path = tmpfile_with("not-a-program.exe", "just text\r\n", 11, 0644);
#else
  char *path = tmpfile_with("not-executable.sh", "#!/bin/sh\necho hi\n", 18, 0644);
#endif
  const char *args[] = {"--json", "--", path, NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 126);
  const char *code = jerror_field(&jr, "code");
  assert_true(strcmp(code, "EACCES") == 0 || strcmp(code, "ENOEXEC") == 0);
  assert_int_equal(jget(&jr.rec, "pid")->n, 0);
  json_run_free(&jr);
  free(path);
}

static void unknown_format_exits_126_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: permission bits (covered on Windows by not_executable_exits_126)");
#else
  /* Executable, but neither a known binary format nor a #! script: ENOEXEC. */
  static const char junk[] = "\x01\x02\x03\x04 not a program\n";
  char *path = tmpfile_with("junk-format", junk, sizeof junk - 1, 0755);
  const char *args[] = {"--", path, NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 126);
  assert_true(has_cprun_message(r.err.data));
  cp_result_free(&r);
  free(path);
#endif
}

static void directory_as_program_exits_126_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: a directory named as the program is EACCES from execve");
#else
  const char *args[] = {"--", cptest_tmpdir, NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 126);
  cp_result_free(&r);
#endif
}

static void missing_cwd_exits_125_not_127(void **state) {
  (void)state;
  char *dir = cptest_join(cptest_tmpdir, "no-such-dir");
  const char *args[] = {"--json", "--cwd", dir, "--", "HELPER", "cwd", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 125);
  assert_string_equal(jerror_field(&jr, "code"), "ENOENT");
  assert_string_equal(jerror_field(&jr, "syscall"), "chdir");
  json_run_free(&jr);

  const char *plain[] = {"--cwd", dir, "--", "HELPER", "cwd", NULL};
  cp_result r;
  assert_int_equal(run_cprun(plain, &r), 125);
  assert_true(has_cprun_message(r.err.data));
  cp_result_free(&r);
  free(dir);
}

/* ---------------------------------------------------------------------------------------------
 * Usage errors: 125 and one line on stderr, and the child is never run
 * ------------------------------------------------------------------------------------------ */

static void no_command_is_a_usage_error(void **state) {
  (void)state;
  const char *none[] = {NULL};
  assert_usage_error(none);
  const char *only_opts[] = {"--json", "--timeout", "5", NULL};
  assert_usage_error(only_opts);
  const char *dashdash[] = {"--json", "--", NULL};
  assert_usage_error(dashdash);
}

static void unknown_option_is_a_usage_error(void **state) {
  (void)state;
  const char *long_opt[] = {"--no-such-option", "--", "HELPER", "out", "5", NULL};
  assert_usage_error(long_opt);
  const char *short_opt[] = {"-x", "--", "HELPER", "out", "5", NULL};
  assert_usage_error(short_opt);
}

static void missing_option_value_is_a_usage_error(void **state) {
  (void)state;
  static const char *const opts[] = {"--cwd",        "--env",   "--timeout", "--kill-signal",
                                     "--max-buffer", "--input", "--shell"};
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
    const char *args[] = {opts[i], NULL};
    assert_usage_error(args);
  }
  const char *flag_with_value[] = {"--json=yes", "--", "HELPER", "out", "5", NULL};
  assert_usage_error(flag_with_value);
}

static void bad_timeout_is_a_usage_error(void **state) {
  (void)state;
  static const char *const bad[] = {"",      "abc", "-1", "+1",  "1e3",
                                    "1.2.3", " 1",  "1 ", "inf", "nan",
                                    "0x10",  "1.",  ".",  "5s",  "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *args[] = {"--timeout", bad[i], "--", "HELPER", "out", "5", NULL};
    assert_usage_error(args);
  }
}

static void bad_kill_signal_is_a_usage_error(void **state) {
  (void)state;
  static const char *const bad[] = {"", "NOPE", "SIGNOPE", "0", "-9", "99999", "9x", "TERM "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *args[] = {"--kill-signal", bad[i], "--", "HELPER", "out", "5", NULL};
    assert_usage_error(args);
  }
}

static void bad_max_buffer_is_a_usage_error(void **state) {
  (void)state;
  static const char *const bad[] = {
      "", "0", "0K", "-5", "1.5", "10X", "10KB", "K", "unlimitedx", " 10", "99999999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *args[] = {"--json", "--max-buffer", bad[i], "--", "HELPER", "out", "5", NULL};
    assert_usage_error(args);
  }
}

static void bad_env_entry_is_a_usage_error(void **state) {
  (void)state;
  static const char *const bad[] = {"NOEQUALS", "=value", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *args[] = {"--env", bad[i], "--", "HELPER", "out", "5", NULL};
    assert_usage_error(args);
  }
}

static void shell_and_program_together_is_a_usage_error(void **state) {
  (void)state;
  const char *args[] = {"--shell", "exit 3", "--", "HELPER", "out", "5", NULL};
  assert_usage_error(args);
}

static void unreadable_input_exits_125(void **state) {
  (void)state;
  char *path = cptest_join(cptest_tmpdir, "no-such-input");
  const char *args[] = {"--input", path, "--", "HELPER", "out", "5", NULL};
  assert_usage_error(args);
  free(path);
}

static void empty_input_name_is_a_usage_error(void **state) {
  (void)state;
  const char *args[] = {"--input", "", "--", "HELPER", "out", "5", NULL};
  assert_usage_error(args);
}

/* --input naming a directory: it opens, but reading it fails; cprun says so and runs nothing. */
static void input_directory_exits_125(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: a directory does not open as a file on Windows");
#else
  const char *args[] = {"--input", cptest_tmpdir, "--", "HELPER", "out", "5", NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 125);
  assert_int_equal(r.out.len, 0);
  assert_true(has_cprun_message(r.err.data));
  assert_non_null(strstr(r.err.data, "--input"));
  cp_result_free(&r);
#endif
}

static void help_exits_0(void **state) {
  (void)state;
  static const char *const forms[] = {"--help", "-h"};
  for (size_t i = 0; i < 2; i++) {
    const char *args[] = {forms[i], NULL};
    cp_result r;
    assert_int_equal(run_cprun(args, &r), 0);
    assert_true(strncmp(r.out.data, "Usage: cprun", 12) == 0);
    assert_non_null(strstr(r.out.data, "--kill-signal"));
    assert_non_null(strstr(r.out.data, "124"));
    assert_int_equal(r.err.len, 0);
    cp_result_free(&r);
  }
  /* --help wins over what follows, and nothing is run. */
  const char *args[] = {"--help", "--", "HELPER", "exit", "9", NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 0);
  cp_result_free(&r);
}

static void version_exits_0(void **state) {
  (void)state;
  const char *args[] = {"--version", NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 0);
  char expect[128];
  snprintf(expect, sizeof expect, "cprun %s (childproc %s)\n", CHILDPROC_VERSION_STRING, cp_version());
  assert_string_equal(r.out.data, expect);
  assert_int_equal(r.err.len, 0);
  cp_result_free(&r);
}

/* ---------------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------------ */

static void program_without_dashdash(void **state) {
  (void)state;
  const char *args[] = {"HELPER", "exit", "6", NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 6);
  cp_result_free(&r);
}

static void arguments_after_program_are_the_childs(void **state) {
  (void)state;
  /* --json after PROGRAM is an argument of the child, not an option of cprun. */
  const char *args[] = {"--", "HELPER", "argv", "--json", "--help", NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 0);
  /* hex of "argv", "--json", "--help", one per line */
  assert_string_equal(r.out.data, "61726776\n2d2d6a736f6e\n2d2d68656c70\n");
  cp_result_free(&r);
}

static void plain_mode_passes_output_through(void **state) {
  (void)state;
  const char *out_args[] = {"--", "HELPER", "out", "100000", NULL};
  cp_result r;
  assert_int_equal(run_cprun(out_args, &r), 0);
  assert_int_equal(r.out.len, 100000);
  assert_true(cptest_is_pattern(r.out.data, r.out.len));
  assert_int_equal(r.err.len, 0);
  cp_result_free(&r);

  const char *err_args[] = {"--", "HELPER", "err", "70000", NULL};
  assert_int_equal(run_cprun(err_args, &r), 0);
  assert_int_equal(r.err.len, 70000);
  assert_true(cptest_is_pattern(r.err.data, r.err.len));
  assert_int_equal(r.out.len, 0);
  cp_result_free(&r);
}

static void plain_mode_ignores_max_buffer(void **state) {
  (void)state;
  const char *args[] = {"--max-buffer", "10", "--", "HELPER", "out", "5000", NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 0);
  assert_int_equal(r.out.len, 5000);
  cp_result_free(&r);
}

static void json_captures_stdout_and_stderr(void **state) {
  (void)state;
  const char *args[] = {"--json", "--", "HELPER", "both", "10000", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  assert_int_equal(jget(&jr.rec, "status")->n, 0);
  assert_true(jget(&jr.rec, "pid")->n > 0);
  assert_true(jnull(&jr, "signal"));
  assert_true(jnull(&jr, "error"));
  assert_false(jbool(&jr, "timed_out"));
  assert_int_equal(jget(&jr.rec, "stdout")->slen, 10000);
  assert_true(cptest_is_pattern(jstr(&jr, "stdout"), 10000));
  assert_int_equal(jget(&jr.rec, "stderr")->slen, 10000);
  assert_true(cptest_is_pattern(jstr(&jr, "stderr"), 10000));
  assert_false(jbool(&jr, "stdout_truncated"));
  assert_false(jbool(&jr, "stderr_truncated"));
  assert_int_equal(jr.res.err.len, 0);
  json_run_free(&jr);
}

static void json_status_is_the_childs(void **state) {
  (void)state;
  const char *args[] = {"--json", "--", "HELPER", "exit", "77", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 77);
  assert_true(record_has_raw(&jr, "status", "77"));
  assert_true(record_has_raw(&jr, "error", "null"));
  json_run_free(&jr);
}

/* Control characters, quotes and backslashes, as the record must write them. The bytes go in with
 * --input and come back through the helper's "cat", so every byte reaches the child on Windows too. */
static void json_escapes_controls_quotes_backslashes(void **state) {
  (void)state;
  static const char data[] = "q\"b\\s/\x01\x1f\x7f\ttab\nnl\r\x1a\x00nul end";
  char *path = tmpfile_with("escapes.bin", data, sizeof data - 1, 0644);
  const char *args[] = {"--json", "--input", path, "--", "HELPER", "cat", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  assert_true(record_has_raw(
      &jr, "stdout", "\"q\\\"b\\\\s/\\u0001\\u001f\\u007f\\u0009tab\\u000anl\\u000d\\u001a\\u0000nul end\""));
  assert_int_equal(jget(&jr.rec, "stdout")->slen, sizeof data - 1);
  assert_memory_equal(jstr(&jr, "stdout"), data, sizeof data - 1);
  json_run_free(&jr);
  free(path);
}

static void json_invalid_utf8_is_fffd_per_byte(void **state) {
  (void)state;
  static const char data[] = "a\xff"             /* never valid */
                             "b\xc3x"            /* a 2-byte lead without its continuation */
                             "c\xe2\x82"         /* a 3-byte sequence cut short: two bytes */
                             "d\xc0\xaf"         /* overlong '/' */
                             "e\xed\xa0\x80"     /* a UTF-16 surrogate */
                             "f\xf4\x90\x80\x80" /* above U+10FFFF */
                             "g\x80"             /* a lone continuation byte */
                             "h\xe2";            /* cut short at the very end */
  char *path = tmpfile_with("invalid.bin", data, sizeof data - 1, 0644);
  const char *args[] = {"--json", "--input", path, "--", "HELPER", "cat", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  assert_true(record_has_raw(&jr, "stdout",
                             "\"a\\ufffdb\\ufffdxc\\ufffd\\ufffdd\\ufffd\\ufffde\\ufffd\\ufffd\\ufffd"
                             "f\\ufffd\\ufffd\\ufffd\\ufffdg\\ufffdh\\ufffd\""));
  json_run_free(&jr);
  free(path);
}

static void json_valid_utf8_passes_through(void **state) {
  (void)state;
  /* 2-, 3- and 4-byte sequences and the edges of the valid ranges, unescaped. */
  static const char data[] = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac "
                             "\xc2\x80 \xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbd";
  char *path = tmpfile_with("utf8.bin", data, sizeof data - 1, 0644);
  const char *args[] = {"--json", "--input", path, "--", "HELPER", "cat", NULL};
  json_run jr;
  run_json(args, &jr);
  char raw[sizeof data + 2];
  snprintf(raw, sizeof raw, "\"%s\"", data);
  assert_true(record_has_raw(&jr, "stdout", raw));
  json_run_free(&jr);
  free(path);
}

static void json_stderr_is_escaped_too(void **state) {
  (void)state;
#ifdef _WIN32
  /* The redirection right after the closing quote: no space for echo to keep, and not first on the
   * line (Wine's cmd.exe refuses a command that starts with a redirection). */
  const char *command = "echo a\"b\\c\">&2";
  const char *expect = "\"a\\\"b\\\\c\\\"\\u000d\\u000a\"";
#else
  const char *command = "printf 'a\"b\\\\c\\n' >&2";
  const char *expect = "\"a\\\"b\\\\c\\u000a\"";
#endif
  const char *args[] = {"--json", "--shell", command, NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  assert_true(record_has_raw(&jr, "stderr", expect));
  json_run_free(&jr);
}

static void input_file_feeds_stdin(void **state) {
  (void)state;
  /* Binary: CR LF, Ctrl-Z (end of file to a text-mode reader on Windows), NUL, high bytes. */
  char data[3000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 7 + 3);
  memcpy(data, "\r\n\x1a\x00\xff", 5);
  char *path = tmpfile_with("input.bin", data, sizeof data, 0644);
  const char *args[] = {"--input", path, "--", "HELPER", "cat", NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 0);
  assert_int_equal(r.out.len, sizeof data);
  assert_memory_equal(r.out.data, data, sizeof data);
  cp_result_free(&r);
  free(path);
}

static void input_empty_file_gives_end_of_file(void **state) {
  (void)state;
  char *path = tmpfile_with("empty.bin", "", 0, 0644);
  const char *args[] = {"--json", "--input", path, "--", "HELPER", "cat", NULL};
  json_run jr;
  /* cprun's own stdin holds bytes: the child must not see them. */
  run_json_in(args, "not for the child", 17, &jr);
  assert_int_equal(jr.status, 0);
  assert_string_equal(jstr(&jr, "stdout"), "");
  json_run_free(&jr);
  free(path);
}

static void input_dash_reads_cprun_stdin(void **state) {
  (void)state;
  size_t n = 200000; /* more than a pipe holds: cprun must read it all before the child runs */
  char *data = malloc(n);
  assert_non_null(data);
  for (size_t i = 0; i < n; i++) data[i] = (char)(i % 251);
  data[0] = '\r';
  data[1] = '\n';
  data[2] = '\x1a';
  const char *args[] = {"--input", "-", "--", "HELPER", "cat", NULL};
  cp_result r;
  assert_int_equal(run_cprun_in(args, data, n, &r), 0);
  assert_int_equal(r.out.len, n);
  assert_memory_equal(r.out.data, data, n);
  cp_result_free(&r);
  free(data);
}

static void stdin_is_inherited_without_input(void **state) {
  (void)state;
  const char *args[] = {"--json", "--", "HELPER", "cat", NULL};
  json_run jr;
  run_json_in(args, "from cprun's stdin\n", 19, &jr);
  assert_int_equal(jr.status, 0);
  assert_string_equal(jstr(&jr, "stdout"), "from cprun's stdin\n");
  json_run_free(&jr);
}

static void env_adds_a_variable(void **state) {
  (void)state;
  const char *args[] = {"--json",           "--env", "CPRUN_TEST_ADDED=hello world", "--", "HELPER", "env",
                        "CPRUN_TEST_ADDED", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  assert_string_equal(jstr(&jr, "stdout"), "hello world");
  json_run_free(&jr);
}

static void env_overrides_an_inherited_variable(void **state) {
  (void)state;
  const char *args[] = {
      "--json", "--env", "CPRUN_TEST_INHERITED=overridden", "--", "HELPER", "env", "CPRUN_TEST_INHERITED",
      NULL};
  json_run jr;
  run_json(args, &jr);
  assert_string_equal(jstr(&jr, "stdout"), "overridden");
  json_run_free(&jr);
}

static void env_is_inherited_by_default(void **state) {
  (void)state;
  const char *args[] = {"--json", "--", "HELPER", "env", "CPRUN_TEST_INHERITED", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_string_equal(jstr(&jr, "stdout"), "from-the-test");
  json_run_free(&jr);
}

static void env_is_repeatable_and_keeps_the_rest(void **state) {
  (void)state;
  const char *args[] = {"--json", "--env", "CPRUN_A=1", "--env=CPRUN_B=x=y", "--", "HELPER", "envall", NULL};
  json_run jr;
  run_json(args, &jr);
  const char *out = jstr(&jr, "stdout");
  assert_non_null(strstr(out, "CPRUN_A=1\n"));
  assert_non_null(strstr(out, "CPRUN_B=x=y\n")); /* split at the first '=' */
  assert_non_null(strstr(out, "CPRUN_TEST_INHERITED=from-the-test\n"));
  json_run_free(&jr);
}

static void env_value_unicode_passes_through(void **state) {
  (void)state;
  const char *args[] = {"--json",  "--env",  "CPRUN_U=h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80",
                        "--",      "HELPER", "env",
                        "CPRUN_U", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  assert_true(record_has_raw(&jr, "stdout", "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\""));
  json_run_free(&jr);
}

static void clear_env_gives_only_the_env_entries(void **state) {
  (void)state;
  const char *args[] = {"--json", "--clear-env", "--env", "ONLY_THIS=1", "--", "HELPER", "envall", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  const char *out = jstr(&jr, "stdout");
#ifdef _WIN32
  /* Windows keeps SYSTEMROOT and friends, and Wine adds its own variables to every child. */
  assert_non_null(strstr(out, "ONLY_THIS=1\n"));
  assert_null(strstr(out, "CPRUN_TEST_INHERITED"));
#else
  assert_string_equal(out, "ONLY_THIS=1\n");
#endif
  json_run_free(&jr);

  const char *empty[] = {"--json", "--clear-env", "--", "HELPER", "envall", NULL};
  run_json(empty, &jr);
  assert_int_equal(jr.status, 0);
#ifdef _WIN32
  assert_null(strstr(jstr(&jr, "stdout"), "CPRUN_TEST_INHERITED"));
#else
  assert_string_equal(jstr(&jr, "stdout"), "");
#endif
  json_run_free(&jr);
}

static void cwd_sets_the_working_directory(void **state) {
  (void)state;
  const char *args[] = {"--json", "--cwd", cptest_tmpdir, "--", "HELPER", "cwd", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  assert_string_equal(jstr(&jr, "stdout"), cptest_tmpdir);
  json_run_free(&jr);

  const char *eq_form[] = {"--cwd=", NULL}; /* empty: refused */
  assert_usage_error(eq_form);
}

static void shell_runs_a_command_line(void **state) {
  (void)state;
  /* "&&" is the shell's (sh and cmd.exe alike): no program sees it as an argument. */
  const char *args[] = {"--json", "--shell", "echo one&& echo two", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  char *out = jget(&jr.rec, "stdout")->s;
  strip_cr(out);
  assert_string_equal(out, "one\ntwo\n");
  json_run_free(&jr);

  const char *status[] = {"--shell", "exit 7", NULL};
  cp_result r;
  assert_int_equal(run_cprun(status, &r), 7); /* a status, not an error: no message */
  assert_int_equal(r.err.len, 0);
  cp_result_free(&r);
}

static void shell_sees_env_and_cwd(void **state) {
  (void)state;
#ifdef _WIN32
  const char *command = "echo %CPRUN_SH%";
#else
  const char *command = "echo $CPRUN_SH";
#endif
  const char *args[] = {"--json", "--env", "CPRUN_SH=shell-var", "--cwd", cptest_tmpdir, "--shell", command, NULL};
  json_run jr;
  run_json(args, &jr);
  char *out = jget(&jr.rec, "stdout")->s;
  strip_cr(out);
  assert_string_equal(out, "shell-var\n");
  json_run_free(&jr);
}

static void shell_runs_the_helper(void **state) {
  (void)state;
  size_t n = strlen(cptest_helper()) + 32;
  char *command = malloc(n);
  assert_non_null(command);
  snprintf(command, n, "\"%s\" exit 9", cptest_helper());
  const char *args[] = {"--shell", command, NULL};
  cp_result r;
  assert_int_equal(run_cprun(args, &r), 9);
  cp_result_free(&r);
  free(command);
}

static void max_buffer_truncates_stdout(void **state) {
  (void)state;
  const char *args[] = {"--json", "--max-buffer", "100", "--", "HELPER", "out", "100000", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 128 + CP_SIGTERM); /* killed for the limit, whatever the race */
  assert_int_equal(jget(&jr.rec, "stdout")->slen, 100);
  assert_true(cptest_is_pattern(jstr(&jr, "stdout"), 100));
  assert_true(jbool(&jr, "stdout_truncated"));
  assert_false(jbool(&jr, "stderr_truncated"));
  assert_false(jbool(&jr, "timed_out"));
  assert_string_equal(jerror_field(&jr, "code"), "ENOBUFS");
  json_run_free(&jr);
}

/* --max-buffer's K, M and G suffixes are powers of 1024, either case. */
static void max_buffer_size_suffixes(void **state) {
  (void)state;
  static const struct {
    const char *size, *out;
    size_t kept;
    bool truncated;
  } cases[] = {{"1k", "3000", 1024, true},   {"2K", "3000", 2048, true},  {"1m", "3000", 3000, false},
               {"1M", "3000", 3000, false},  {"1g", "10", 10, false},     {"1G", "10", 10, false}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *args[] = {"--json", "--max-buffer", cases[i].size, "--", "HELPER", "out", cases[i].out, NULL};
    json_run jr;
    run_json(args, &jr);
    assert_int_equal(jget(&jr.rec, "stdout")->slen, cases[i].kept);
    assert_int_equal(jbool(&jr, "stdout_truncated"), cases[i].truncated);
    if (!cases[i].truncated) assert_int_equal(jr.status, 0);
    json_run_free(&jr);
  }
}

static void max_buffer_truncates_stderr(void **state) {
  (void)state;
  const char *args[] = {"--json", "--max-buffer", "64", "--", "HELPER", "err", "100000", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 128 + CP_SIGTERM);
  assert_int_equal(jget(&jr.rec, "stderr")->slen, 64);
  assert_true(jbool(&jr, "stderr_truncated"));
  assert_false(jbool(&jr, "stdout_truncated"));
  assert_string_equal(jerror_field(&jr, "code"), "ENOBUFS");
  json_run_free(&jr);
}

static void max_buffer_exact_fit_is_not_truncated(void **state) {
  (void)state;
  const char *args[] = {"--json", "--max-buffer", "1K", "--", "HELPER", "out", "1024", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  assert_int_equal(jget(&jr.rec, "stdout")->slen, 1024);
  assert_false(jbool(&jr, "stdout_truncated"));
  assert_true(jnull(&jr, "error"));
  json_run_free(&jr);
}

static void max_buffer_suffix_is_binary(void **state) {
  (void)state;
  const char *args[] = {"--json", "--max-buffer=2k", "--", "HELPER", "out", "5000", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jget(&jr.rec, "stdout")->slen, 2048);
  assert_true(jbool(&jr, "stdout_truncated"));
  json_run_free(&jr);
}

static void max_buffer_default_is_1mib(void **state) {
  (void)state;
  const char *args[] = {"--json", "--", "HELPER", "out", "1100000", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jget(&jr.rec, "stdout")->slen, 1024 * 1024);
  assert_true(jbool(&jr, "stdout_truncated"));
  assert_int_equal(jr.status, 128 + CP_SIGTERM);
  json_run_free(&jr);
}

static void max_buffer_unlimited_keeps_everything(void **state) {
  (void)state;
  const char *args[] = {"--json", "--max-buffer", "unlimited", "--", "HELPER", "out", "3000000", NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 0);
  assert_int_equal(jget(&jr.rec, "stdout")->slen, 3000000);
  assert_true(cptest_is_pattern(jstr(&jr, "stdout"), 3000000));
  assert_false(jbool(&jr, "stdout_truncated"));
  json_run_free(&jr);
}

static void max_buffer_kill_uses_the_kill_signal(void **state) {
  (void)state;
  const char *args[] = {"--json", "--max-buffer", "10",  "--kill-signal", "KILL",
                        "--",     "HELPER",       "out", "100000",        NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 128 + CP_SIGKILL);
  assert_true(jbool(&jr, "stdout_truncated"));
  json_run_free(&jr);
}

static void kill_signal_accepts_names_and_numbers(void **state) {
  (void)state;
  static const char *const forms[] = {"TERM", "SIGTERM", "sigterm", "15", "KILL", "9", "INT", "SIGHUP"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    const char *args[] = {"--kill-signal", forms[i], "--", "HELPER", "exit", "5", NULL};
    cp_result r;
    assert_int_equal(run_cprun(args, &r), 5);
    cp_result_free(&r);
  }
}

static void kill_signal_ends_a_child_that_ignores_sigterm_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: a Windows child cannot ignore being terminated");
#else
  const char *args[] = {"--json", "--timeout", "0.5",         "--kill-signal", "KILL",
                        "--",     "HELPER",    "ignore-term", "20000",         NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 124);
  assert_true(jbool(&jr, "timed_out"));
  assert_string_equal(jstr(&jr, "signal"), "SIGKILL");
  json_run_free(&jr);
#endif
}

static void timeout_kill_signal_is_reported_posix(void **state) {
  (void)state;
#ifdef _WIN32
  CPTEST_SKIP("POSIX only: signal names of a terminated Windows child are the library's choice");
#else
  const char *args[] = {"--json", "--timeout", "0.2",   "--kill-signal", "2",
                        "--",     "HELPER",    "sleep", "20000",         NULL};
  json_run jr;
  run_json(args, &jr);
  assert_int_equal(jr.status, 124);
  assert_string_equal(jstr(&jr, "signal"), "SIGINT");
  json_run_free(&jr);
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(exit_status_is_the_childs),
      cmocka_unit_test(exit_status_is_128_plus_signal_posix),
      cmocka_unit_test(signal_without_a_name_is_its_number_posix),
      cmocka_unit_test(timeout_exits_124),
      cmocka_unit_test(timeout_json_record_says_timed_out),
      cmocka_unit_test(timeout_zero_means_none),
      cmocka_unit_test(timeout_accepts_decimal_forms),
      cmocka_unit_test(missing_program_exits_127),
      cmocka_unit_test(missing_program_json_error),
      cmocka_unit_test(missing_program_path_exits_127),
      cmocka_unit_test(not_executable_exits_126),
      cmocka_unit_test(unknown_format_exits_126_posix),
      cmocka_unit_test(directory_as_program_exits_126_posix),
      cmocka_unit_test(missing_cwd_exits_125_not_127),
      cmocka_unit_test(no_command_is_a_usage_error),
      cmocka_unit_test(unknown_option_is_a_usage_error),
      cmocka_unit_test(missing_option_value_is_a_usage_error),
      cmocka_unit_test(bad_timeout_is_a_usage_error),
      cmocka_unit_test(bad_kill_signal_is_a_usage_error),
      cmocka_unit_test(bad_max_buffer_is_a_usage_error),
      cmocka_unit_test(bad_env_entry_is_a_usage_error),
      cmocka_unit_test(shell_and_program_together_is_a_usage_error),
      cmocka_unit_test(unreadable_input_exits_125),
      cmocka_unit_test(empty_input_name_is_a_usage_error),
      cmocka_unit_test(input_directory_exits_125),
      cmocka_unit_test(help_exits_0),
      cmocka_unit_test(version_exits_0),
      cmocka_unit_test(program_without_dashdash),
      cmocka_unit_test(arguments_after_program_are_the_childs),
      cmocka_unit_test(plain_mode_passes_output_through),
      cmocka_unit_test(plain_mode_ignores_max_buffer),
      cmocka_unit_test(json_captures_stdout_and_stderr),
      cmocka_unit_test(json_status_is_the_childs),
      cmocka_unit_test(json_escapes_controls_quotes_backslashes),
      cmocka_unit_test(json_invalid_utf8_is_fffd_per_byte),
      cmocka_unit_test(json_valid_utf8_passes_through),
      cmocka_unit_test(json_stderr_is_escaped_too),
      cmocka_unit_test(input_file_feeds_stdin),
      cmocka_unit_test(input_empty_file_gives_end_of_file),
      cmocka_unit_test(input_dash_reads_cprun_stdin),
      cmocka_unit_test(stdin_is_inherited_without_input),
      cmocka_unit_test(env_adds_a_variable),
      cmocka_unit_test(env_overrides_an_inherited_variable),
      cmocka_unit_test(env_is_inherited_by_default),
      cmocka_unit_test(env_is_repeatable_and_keeps_the_rest),
      cmocka_unit_test(env_value_unicode_passes_through),
      cmocka_unit_test(clear_env_gives_only_the_env_entries),
      cmocka_unit_test(cwd_sets_the_working_directory),
      cmocka_unit_test(shell_runs_a_command_line),
      cmocka_unit_test(shell_sees_env_and_cwd),
      cmocka_unit_test(shell_runs_the_helper),
      cmocka_unit_test(max_buffer_truncates_stdout),
      cmocka_unit_test(max_buffer_size_suffixes),
      cmocka_unit_test(max_buffer_truncates_stderr),
      cmocka_unit_test(max_buffer_exact_fit_is_not_truncated),
      cmocka_unit_test(max_buffer_suffix_is_binary),
      cmocka_unit_test(max_buffer_default_is_1mib),
      cmocka_unit_test(max_buffer_unlimited_keeps_everything),
      cmocka_unit_test(max_buffer_kill_uses_the_kill_signal),
      cmocka_unit_test(kill_signal_accepts_names_and_numbers),
      cmocka_unit_test(kill_signal_ends_a_child_that_ignores_sigterm_posix),
      cmocka_unit_test(timeout_kill_signal_is_reported_posix),
  };
  return cmocka_run_group_tests(tests, setup, cptest_tmpdir_teardown);
}
