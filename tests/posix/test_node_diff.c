/* test_node_diff.c - the differential test against the real Node (issue 13): the same scenarios run
 * through Node's child_process (tests/node/node_diff.js) and through childproc, and the outcomes are
 * compared field by field.
 *
 *  - sync: every scenario through Node's spawnSync and cp_spawn_sync; those cprun can express also
 *    through `cprun --json`. Compared: status, signal, error code, stdout and stderr bytes.
 *  - async: spawn events, exec/execFile callbacks and fork channels, in a normalised text form.
 *
 * A scenario whose outcome differs must be on the accepted list below with the sentence of
 * docs/node-mapping.md that explains it (the test checks that the sentence is there and prints its
 * line); any other difference fails. The closing line counts identical scenarios and lists the
 * accepted differences. Skipped, with the reason, only when `node` is not on PATH. */
#include "cptest.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CPDIFF_SOURCE_DIR
#error "CPDIFF_SOURCE_DIR must name the source tree (for tests/node/node_diff.js and docs/)"
#endif

/* ---- the accepted differences, each with the docs/node-mapping.md sentence explaining it ---- */

typedef struct accepted {
  const char *scenario; /* "sync:NAME", "cprun:NAME" or "async:NAME" */
  const char *doc;      /* a phrase found on one line of docs/node-mapping.md */
} accepted;

static const accepted accepted_list[] = {
    {"sync:script-without-shebang", "A script without `#!` is refused with ENOEXEC"},
    {"cprun:script-without-shebang", "A script without `#!` is refused with ENOEXEC"},
    {"sync:max-buffer-stdout-over", "keeps exactly `max_buffer` bytes"},
    {"cprun:max-buffer-stdout-over", "keeps exactly `max_buffer` bytes"},
    {"sync:max-buffer-stderr-over", "keeps exactly `max_buffer` bytes"},
    {"cprun:max-buffer-stderr-over", "keeps exactly `max_buffer` bytes"},
    {"sync:max-buffer-one-over", "keeps exactly `max_buffer` bytes"},
    {"cprun:max-buffer-one-over", "keeps exactly `max_buffer` bytes"},
    {"sync:max-buffer-default-1mib", "keeps exactly `max_buffer` bytes"},
    {"cprun:max-buffer-default-1mib", "keeps exactly `max_buffer` bytes"},
    {"sync:grandchild-holds-stderr-max-buffer", "keeps exactly `max_buffer` bytes"},
    {"cprun:grandchild-holds-stderr-max-buffer", "keeps exactly `max_buffer` bytes"},
    {"sync:input-never-read", "Input the child never reads is not an error"},
    {"cprun:input-never-read", "Input the child never reads is not an error"},
    {"async:spawn-enoent", "`on_close` of a child that never started"},
    {"async:execfile-maxbuffer", "the signal of a `max_buffer` kill"},
    {"async:exec-exited-grandchild-timeout", "`cp_exec_file` report the timeout"},
    {"async:fork-c-send3-exit", "`on_exit` and `on_disconnect` of a child whose channel"},
    {"async:fork-node-send3-exit", "`on_exit` and `on_disconnect` of a child whose channel"},
};

static int doc_line_of(const char *phrase) {
  char *path = cptest_join(CPDIFF_SOURCE_DIR, "docs/node-mapping.md");
  char *text = cptest_read_file(path, NULL);
  free(path);
  if (!text) return 0;
  char *hit = strstr(text, phrase);
  int line = 0;
  if (hit) {
    line = 1;
    for (char *p = text; p < hit; p++) line += *p == '\n';
  }
  free(text);
  return line;
}

static const accepted *find_accepted(const char *kind, const char *name) {
  char key[128];
  snprintf(key, sizeof key, "%s:%s", kind, name);
  for (size_t i = 0; i < sizeof accepted_list / sizeof accepted_list[0]; i++)
    if (strcmp(accepted_list[i].scenario, key) == 0) return &accepted_list[i];
  return NULL;
}

/* ---- tallies and the closing line ---- */

static int n_identical, n_accepted, n_failed;
static char accepted_seen[8192];

/* Compares one outcome; returns true unless it is an unaccepted difference. */
static bool judge(const char *kind, const char *name, const char *node, const char *ours) {
  if (strcmp(node, ours) == 0) {
    n_identical++;
    return true;
  }
  const accepted *a = find_accepted(kind, name);
  int line = a ? doc_line_of(a->doc) : 0;
  if (a && line) {
    n_accepted++;
    char item[256];
    snprintf(item, sizeof item, "%s%s:%s (docs/node-mapping.md:%d)", accepted_seen[0] ? ", " : "", kind, name,
             line);
    strncat(accepted_seen, item, sizeof accepted_seen - strlen(accepted_seen) - 1);
    print_message("accepted %s:%s (docs/node-mapping.md:%d)\n  node: %.300s\n  ours: %.300s\n", kind, name,
                  line, node, ours);
    return true;
  }
  n_failed++;
  print_error("DIFFERENT %s:%s%s\n  node: %.600s\n  ours: %.600s\n", kind, name,
              a ? " (accepted, but its sentence is missing from docs/node-mapping.md)" : "", node, ours);
  return false;
}

/* ---- summaries of output bytes, as node_diff.js writes them ---- */

static uint32_t fnv1a32(const char *p, size_t n) {
  uint32_t h = 0x811c9dc5u;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 0x01000193u;
  }
  return h;
}

/* Appends the summary of buf to *s (grown with realloc). */
static void put_summary(char **s, size_t *len, const char *buf, size_t n) {
  size_t need = n <= 4096 ? 2 * n + 1 : 64;
  *s = realloc(*s, *len + need + 1);
  assert_non_null(*s);
  if (n <= 4096) {
    for (size_t i = 0; i < n; i++) snprintf(*s + *len + 2 * i, 3, "%02x", (unsigned char)buf[i]);
    *len += 2 * n;
  } else {
    *len += (size_t)snprintf(*s + *len, need, "L%zu:%08x", n, fnv1a32(buf, n));
  }
  (*s)[*len] = '\0';
}

static char *outcome_line(int64_t status, int signal, int code, const char *out, size_t out_len,
                          const char *err, size_t err_len) {
  char head[160];
  char st[32];
  if (status >= 0)
    snprintf(st, sizeof st, "%lld", (long long)status);
  else
    strcpy(st, "-");
  const char *sig = signal > 0 ? cp_signal_name(signal) : NULL;
  size_t len = (size_t)snprintf(head, sizeof head, "%s\t%s\t%s\t", st, sig ? sig : "-",
                                code ? cp_err_name(code) : "-");
  char *s = malloc(len + 1);
  assert_non_null(s);
  memcpy(s, head, len + 1);
  put_summary(&s, &len, out, out_len);
  s = realloc(s, len + 2);
  s[len++] = '\t';
  s[len] = '\0';
  put_summary(&s, &len, err, err_len);
  return s;
}

/* ---- the sync scenarios ---- */

enum { ENV_INHERIT, ENV_REPLACE, ENV_EXTEND };

/* File and argument tokens resolved at run time: "@helper", "@dir", "@noexec", "@noshebang",
 * "@file", "@big" (an argument longer than the kernel takes), "@tmp". */
typedef struct scen {
  const char *name;
  const char *file;
  const char *args[8];
  const char *cwd;
  int env_mode;
  const char *env[3];
  const char *input; /* bytes (text) */
  size_t input_gen;  /* or this many 'x' */
  int64_t timeout;
  int kill_signal;   /* 0: default */
  size_t max_buffer; /* 0: default (1 MiB), SIZE_MAX: unlimited */
  bool shell;
  bool cprun; /* also through cprun --json */
} scen;

#define H "@helper"
/* Name, file and arguments by position, the rest by name: the other fields stay zero. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const scen scenarios[] = {
    {"exit-0", H, {"exit", "0"}, .cprun = true},
    {"exit-3", H, {"exit", "3"}, .cprun = true},
    {"exit-255", H, {"exit", "255"}, .cprun = true},
    {"self-signal-term", H, {"signal", "TERM"}, .cprun = true},
    {"self-signal-kill", H, {"signal", "KILL"}, .cprun = true},
    {"self-signal-int", H, {"signal", "INT"}, .cprun = true},
    {"self-signal-usr1", H, {"signal", "USR1"}, .cprun = true},
    {"timeout-sigterm", H, {"sleep", "20000"}, .timeout = 200, .cprun = true},
    {"timeout-sigkill", H, {"sleep", "20000"}, .timeout = 200, .kill_signal = 9, .cprun = true},
    {"timeout-sigint", H, {"sleep", "20000"}, .timeout = 200, .kill_signal = 2, .cprun = true},
    {"timeout-sighup", H, {"sleep", "20000"}, .timeout = 200, .kill_signal = 1, .cprun = true},
    {"timeout-sigquit", H, {"sleep", "20000"}, .timeout = 200, .kill_signal = 3, .cprun = true},
    {"timeout-sigusr2", H, {"sleep", "20000"}, .timeout = 200, .kill_signal = 12, .cprun = true},
    {"timeout-output-kept", H, {"out-sleep", "100", "20000"}, .timeout = 300, .cprun = true},
    {"timeout-child-ignores-sigterm", H, {"ignore-term", "700"}, .timeout = 200, .cprun = true},
    {"timeout-not-reached", H, {"out-sleep", "10", "50"}, .timeout = 5000, .cprun = true},
    {"max-buffer-stdout-over", H, {"out-sleep", "2000", "20000"}, .max_buffer = 1000, .cprun = true},
    {"max-buffer-stderr-over", H, {"err-sleep", "2000", "20000"}, .max_buffer = 1000, .cprun = true},
    {"max-buffer-stdout-exact", H, {"out", "1000"}, .max_buffer = 1000, .cprun = true},
    {"max-buffer-stderr-exact", H, {"err", "1000"}, .max_buffer = 1000, .cprun = true},
    {"max-buffer-one-over", H, {"out-sleep", "1001", "20000"}, .max_buffer = 1000, .cprun = true},
    {"max-buffer-default-1mib", H, {"out", "2000000"}, .cprun = true},
    {"max-buffer-both-large", H, {"both", "3000000"}, .max_buffer = SIZE_MAX, .cprun = true},
    {"input-small", H, {"cat"}, .input = "hello\n", .cprun = true},
    {"input-10mb", H, {"cat"}, .input_gen = 10u << 20, .max_buffer = SIZE_MAX, .cprun = true},
    {"input-never-read", H, {"noread-sleep", "50"}, .input_gen = 10u << 20, .cprun = true},
    {"env-replace", H, {"envall"}, .env_mode = ENV_REPLACE, .env = {"FOO=bar", "EMPTY="}, .cprun = true},
    {"env-extend", H, {"env", "CPDIFF_X"}, .env_mode = ENV_EXTEND, .env = {"CPDIFF_X=1 2"}, .cprun = true},
    {"env-empty", H, {"envall"}, .env_mode = ENV_REPLACE, .cprun = true},
    {"env-no-path-finds-sh", "sh", {"-c", "echo found"}, .env_mode = ENV_REPLACE, .cprun = true},
    {"missing-program", "cpdiff-no-such-program", {"x"}, .cprun = true},
    {"missing-program-abs", "/nonexistent/cpdiff/prog", {NULL}, .cprun = true},
    {"missing-cwd", H, {"cwd"}, .cwd = "/nonexistent/cpdiff-dir", .cprun = true},
    {"cwd-is-a-file", H, {"cwd"}, .cwd = "@file", .cprun = true},
    {"cwd-given", H, {"cwd"}, .cwd = "@tmp", .cprun = true},
    {"directory-as-program", "@dir", {NULL}, .cprun = true},
    {"not-executable", "@noexec", {NULL}, .cprun = true},
    {"script-without-shebang", "@noshebang", {NULL}, .cprun = true},
    {"e2big", H, {"argv", "@big"}} /* cprun itself could not be started with it */,
    {"argv-spaces", H, {"argv", "a b", " lead", "trail "}, .cprun = true},
    {"argv-quotes", H, {"argv", "\"q\"", "'s'", "a\\\"b"}, .cprun = true},
    {"argv-newlines", H, {"argv", "a\nb", "\n", "\r\n"}, .cprun = true},
    {"argv-utf8", H, {"argv", "\xc3\xbc\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x8e\x89"}, .cprun = true},
    {"argv-empty", H, {"argv", "", "x", ""}, .cprun = true},
    {"output-invalid-utf8", "printf", {"\\377\\376a\\300"}},
    {"shell-pipeline", "echo $((1+2)) | tr 3 x", {NULL}, .shell = true, .cprun = true},
    {"shell-exit-7", "exit 7", {NULL}, .shell = true, .cprun = true},
    {"shell-not-found", "cpdiff_no_such_cmd", {NULL}, .shell = true, .cprun = true},
    {"shell-joins-args", "echo", {"a", "b  c"}, .shell = true, .cprun = true},
    {"stderr-and-stdout", H, {"both", "10000"}, .cprun = true},
    {"grandchild-holds-stdout-no-timeout", "sleep 0.7 & echo hi", {NULL}, .shell = true, .cprun = true},
    {"grandchild-holds-stdout-timeout",
     "sleep 2.5 & echo hi",
     {NULL},
     .timeout = 300,
     .shell = true,
     .cprun = true},
    {"grandchild-holds-both-child-killed",
     "sleep 2.5 & echo hi; exec sleep 2.5",
     {NULL},
     .timeout = 300,
     .shell = true,
     .cprun = true},
    {"grandchild-holds-stderr-max-buffer",
     "yes >&2 & wait",
     {NULL},
     .max_buffer = 100000,
     .shell = true,
     .cprun = true},
};
#pragma GCC diagnostic pop

static char *tmp_file, *tmp_noexec, *tmp_noshebang, *big_arg;

static const char *resolve(const char *tok) {
  if (!tok || tok[0] != '@') return tok;
  if (strcmp(tok, "@helper") == 0) return cptest_helper();
  if (strcmp(tok, "@dir") == 0 || strcmp(tok, "@tmp") == 0) return cptest_tmpdir;
  if (strcmp(tok, "@file") == 0) return tmp_file;
  if (strcmp(tok, "@noexec") == 0) return tmp_noexec;
  if (strcmp(tok, "@noshebang") == 0) return tmp_noshebang;
  if (strcmp(tok, "@big") == 0) return big_arg;
  return tok;
}

static size_t argc_of(const scen *s) {
  size_t n = 0;
  while (n < 8 && s->args[n]) n++;
  return n;
}

static char *input_of(const scen *s, size_t *len) {
  *len = s->input ? strlen(s->input) : s->input_gen;
  if (!*len) return NULL;
  char *p = malloc(*len);
  assert_non_null(p);
  if (s->input)
    memcpy(p, s->input, *len);
  else
    memset(p, 'x', *len);
  return p;
}

static void fput_hex(FILE *f, const char *s, size_t n) {
  fputc('"', f);
  for (size_t i = 0; i < n; i++) fprintf(f, "%02x", (unsigned char)s[i]);
  fputc('"', f);
}

static void write_spec(FILE *f, const scen *s) {
  fprintf(f, "{\"name\":\"%s\",\"file\":", s->name);
  const char *file = resolve(s->file);
  fput_hex(f, file, strlen(file));
  fputs(",\"args\":[", f);
  for (size_t i = 0; i < argc_of(s); i++) {
    if (i) fputc(',', f);
    const char *a = resolve(s->args[i]);
    fput_hex(f, a, strlen(a));
  }
  fputc(']', f);
  if (s->cwd) {
    fputs(",\"cwd\":", f);
    fput_hex(f, resolve(s->cwd), strlen(resolve(s->cwd)));
  }
  if (s->env_mode != ENV_INHERIT) {
    fprintf(f, ",\"env\":{\"mode\":\"%s\",\"list\":[", s->env_mode == ENV_EXTEND ? "extend" : "replace");
    for (int i = 0; i < 3 && s->env[i]; i++) {
      if (i) fputc(',', f);
      fput_hex(f, s->env[i], strlen(s->env[i]));
    }
    fputs("]}", f);
  }
  if (s->input) {
    fputs(",\"input\":{\"hex\":", f);
    fput_hex(f, s->input, strlen(s->input));
    fputc('}', f);
  } else if (s->input_gen) {
    fprintf(f, ",\"input\":{\"gen\":%zu}", s->input_gen);
  }
  if (s->timeout) fprintf(f, ",\"timeout\":%lld", (long long)s->timeout);
  if (s->kill_signal) fprintf(f, ",\"killSignal\":%d", s->kill_signal);
  if (s->max_buffer)
    fprintf(f, ",\"maxBuffer\":%lld", s->max_buffer == SIZE_MAX ? -1LL : (long long)s->max_buffer);
  if (s->shell) fputs(",\"shell\":true", f);
  fputs("}\n", f);
}

static cp_options options_of(const scen *s) {
  cp_options o = {0};
  o.cwd = resolve(s->cwd);
  if (s->env_mode != ENV_INHERIT) {
    o.env_mode = s->env_mode == ENV_EXTEND ? CP_ENV_EXTEND : CP_ENV_REPLACE;
    o.env = s->env;
  }
  o.timeout_ms = s->timeout;
  o.kill_signal = s->kill_signal;
  o.max_buffer = s->max_buffer;
  if (s->shell) o.shell = CP_SHELL_DEFAULT;
  return o;
}

/* "file arg arg": what a shell scenario runs, as Node joins it. */
static char *shell_line(const scen *s) {
  size_t n = strlen(s->file) + 1;
  for (size_t i = 0; i < argc_of(s); i++) n += strlen(s->args[i]) + 1;
  char *line = malloc(n);
  assert_non_null(line);
  strcpy(line, s->file);
  for (size_t i = 0; i < argc_of(s); i++) {
    strcat(line, " ");
    strcat(line, s->args[i]);
  }
  return line;
}

static char *run_ours(const scen *s) {
  const char *args[10] = {0};
  for (size_t i = 0; i < argc_of(s); i++) args[i] = resolve(s->args[i]);
  cp_options o = options_of(s);
  size_t in_len;
  char *in = input_of(s, &in_len);
  o.input = in;
  o.input_len = in_len;
  cp_result r;
  int rc = cp_spawn_sync(resolve(s->file), args, &o, &r);
  char *line = outcome_line(r.status, r.signal, rc, r.out.data, r.out.len, r.err.data, r.err.len);
  cp_result_free(&r);
  free(in);
  return line;
}

/* ---- cprun --json: the record's fields, read with a small reader for its fixed shape ---- */

static const char *json_after(const char *rec, const char *key) {
  const char *p = strstr(rec, key);
  return p ? p + strlen(key) : NULL;
}

static void put_utf8(char *d, size_t *n, unsigned long cp) {
  if (cp < 0x80) {
    d[(*n)++] = (char)cp;
  } else if (cp < 0x800) {
    d[(*n)++] = (char)(0xC0 | (cp >> 6));
    d[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    d[(*n)++] = (char)(0xE0 | (cp >> 12));
    d[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    d[(*n)++] = (char)(0xF0 | (cp >> 18));
    d[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[(*n)++] = (char)(0x80 | (cp & 0x3F));
  }
}

/* Decodes the JSON string starting at p (at its opening quote) into a new buffer. */
static char *json_string(const char *p, size_t *len) {
  assert_int_equal(*p, '"');
  p++;
  size_t cap = strlen(p) + 1, n = 0;
  char *d = malloc(cap);
  assert_non_null(d);
  while (*p && *p != '"') {
    if (*p != '\\') {
      d[n++] = *p++;
      continue;
    }
    p++;
    char e = *p++;
    switch (e) {
    case 'n':
      d[n++] = '\n';
      break;
    case 't':
      d[n++] = '\t';
      break;
    case 'r':
      d[n++] = '\r';
      break;
    case 'b':
      d[n++] = '\b';
      break;
    case 'f':
      d[n++] = '\f';
      break;
    case 'u': {
      unsigned long cp = strtoul((char[5]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
      p += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
        unsigned long lo = strtoul((char[5]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      }
      put_utf8(d, &n, cp);
      break;
    }
    default:
      d[n++] = e;
      break;
    }
  }
  d[n] = '\0';
  *len = n;
  return d;
}

static char *run_cprun(const scen *s) {
  const char *argv[64];
  size_t n = 0;
  char timeout[32], maxbuf[32], ksig[16];
  char *input_path = NULL, *line = NULL;
  argv[n++] = "--json";
  if (s->cwd) argv[n++] = "--cwd", argv[n++] = resolve(s->cwd);
  if (s->env_mode == ENV_REPLACE) argv[n++] = "--clear-env";
  for (int i = 0; s->env_mode != ENV_INHERIT && i < 3 && s->env[i]; i++)
    argv[n++] = "--env", argv[n++] = s->env[i];
  if (s->timeout) {
    snprintf(timeout, sizeof timeout, "%lld.%03lld", (long long)s->timeout / 1000,
             (long long)s->timeout % 1000);
    argv[n++] = "--timeout", argv[n++] = timeout;
  }
  if (s->kill_signal) {
    snprintf(ksig, sizeof ksig, "%d", s->kill_signal);
    argv[n++] = "--kill-signal", argv[n++] = ksig;
  }
  if (s->max_buffer) {
    if (s->max_buffer == SIZE_MAX)
      strcpy(maxbuf, "unlimited");
    else
      snprintf(maxbuf, sizeof maxbuf, "%zu", s->max_buffer);
    argv[n++] = "--max-buffer", argv[n++] = maxbuf;
  }
  if (s->input || s->input_gen) {
    size_t len;
    char *in = input_of(s, &len);
    input_path = cptest_join(cptest_tmpdir, "cprun-input");
    assert_int_equal(cptest_write_file(input_path, in, len, 0600), 0);
    free(in);
    argv[n++] = "--input", argv[n++] = input_path;
  }
  if (s->shell) {
    line = shell_line(s);
    argv[n++] = "--shell", argv[n++] = line;
  } else {
    argv[n++] = "--";
    argv[n++] = resolve(s->file);
    for (size_t i = 0; i < argc_of(s); i++) argv[n++] = resolve(s->args[i]);
  }
  argv[n] = NULL;
  cp_options o = {.max_buffer = CP_MAX_BUFFER_UNLIMITED, .timeout_ms = 60000};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(cptest_bin("cprun"), argv, &o, &r), &r, CP_OK);
  const char *rec = r.out.data;
  int64_t status = -1;
  int signal = 0, code = 0;
  const char *p = json_after(rec, "\"status\":");
  assert_non_null(p);
  if (*p != 'n') status = strtoll(p, NULL, 10);
  p = json_after(rec, "\"signal\":");
  assert_non_null(p);
  if (*p == '"') {
    char name[32] = {0};
    sscanf(p + 1, "%31[^\"]", name);
    signal = cp_signal_from_name(name);
  }
  p = json_after(rec, "\"error\":{\"code\":\"");
  if (p) {
    char name[32] = {0};
    sscanf(p, "%31[^\"]", name);
    for (int c = -1; c >= -40; c--)
      if (strcmp(cp_err_name(c), name) == 0) code = c;
  }
  size_t out_len, err_len;
  char *out = json_string(json_after(rec, "\"stdout\":"), &out_len);
  char *err = json_string(json_after(rec, "\"stderr\":"), &err_len);
  char *result = outcome_line(status, signal, code, out, out_len, err, err_len);
  free(out);
  free(err);
  cp_result_free(&r);
  free(line);
  free(input_path);
  return result;
}

/* ---- running Node ---- */

static char *script_path(void) { return cptest_join(CPDIFF_SOURCE_DIR, "tests/node/node_diff.js"); }

static bool have_node(void) {
  const char *args[] = {"--version", NULL};
  cp_result r;
  int rc = cp_spawn_sync("node", args, NULL, &r);
  bool ok = rc == 0 && r.status == 0;
  cp_result_free(&r);
  return ok;
}

/* Node's result line for scenario `name` in out (lines "name\trest"), or NULL. */
static char *node_line(const char *out, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = out; p && *p;) {
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '\t') {
      char *s = malloc(len - nl);
      memcpy(s, p + nl + 1, len - nl - 1);
      s[len - nl - 1] = '\0';
      return s;
    }
    p = end ? end + 1 : NULL;
  }
  return NULL;
}

static int setup(void **state) {
  if (cptest_tmpdir_setup(state)) return -1;
  tmp_file = cptest_join(cptest_tmpdir, "a-file");
  tmp_noexec = cptest_join(cptest_tmpdir, "not-executable");
  tmp_noshebang = cptest_join(cptest_tmpdir, "no-shebang.sh");
  if (cptest_write_file(tmp_file, "x", 1, 0644) ||
      cptest_write_file(tmp_noexec, "#!/bin/sh\necho x\n", 17, 0644) ||
      cptest_write_file(tmp_noshebang, "echo ran by sh\n", 15, 0755))
    return -1;
  big_arg = malloc(200001);
  if (!big_arg) return -1;
  memset(big_arg, 'a', 200000);
  big_arg[200000] = '\0';
  return 0;
}

static int teardown(void **state) {
  free(tmp_file);
  free(tmp_noexec);
  free(tmp_noshebang);
  free(big_arg);
  /* The closing line (plain stdio: cmocka's print_message cuts long lines). */
  printf("node differential: %d of %d scenario runs identical to Node (sync, cprun --json and async), %d "
         "accepted differences [%s], %d unexplained\n",
         n_identical, n_identical + n_accepted + n_failed, n_accepted, accepted_seen, n_failed);
  fflush(stdout);
  return cptest_tmpdir_teardown(state);
}

static void sync_scenarios_match_node(void **state) {
  (void)state;
  if (!have_node()) CPTEST_SKIP("node is not on PATH: the differential needs the real Node");
  size_t count = sizeof scenarios / sizeof scenarios[0];
  assert_true(count >= 40);
  char *spec = cptest_join(cptest_tmpdir, "scenarios.jsonl");
  FILE *f = fopen(spec, "w");
  assert_non_null(f);
  for (size_t i = 0; i < count; i++) write_spec(f, &scenarios[i]);
  fclose(f);
  char *script = script_path();
  const char *args[] = {script, "sync", spec, NULL};
  cp_options o = {.max_buffer = CP_MAX_BUFFER_UNLIMITED, .timeout_ms = 120000};
  cp_result node;
  cptest_assert_rc(cp_spawn_sync("node", args, &o, &node), &node, CP_OK);
  if (node.status != 0) print_error("node: %s\n", node.err.data);
  assert_int_equal(node.status, 0);
  int failed = 0;
  for (size_t i = 0; i < count; i++) {
    const scen *s = &scenarios[i];
    char *theirs = node_line(node.out.data, s->name);
    assert_non_null(theirs);
    char *ours = run_ours(s);
    if (!judge("sync", s->name, theirs, ours)) failed++;
    free(ours);
    if (s->cprun) {
      char *rec = run_cprun(s);
      if (!judge("cprun", s->name, theirs, rec)) failed++;
      free(rec);
    }
    free(theirs);
  }
  cp_result_free(&node);
  free(script);
  free(spec);
  assert_int_equal(failed, 0);
}

/* ---- async scenarios: the same names as node_diff.js, the events in the same text form ---- */

typedef struct arun {
  char ev[1024];
  size_t len;
  bool done;
  cp_child *child;
  const char *scenario;
  char out[64];
  size_t out_len;
} arun;

static void addf(arun *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (a->len) a->len += (size_t)snprintf(a->ev + a->len, sizeof a->ev - a->len, " ");
  a->len += (size_t)vsnprintf(a->ev + a->len, sizeof a->ev - a->len, fmt, ap);
  va_end(ap);
}

static const char *sig_or_null(int sig) {
  return sig > 0 && cp_signal_name(sig) ? cp_signal_name(sig) : "null";
}

static void st_or_null(char *buf, size_t n, int64_t status) {
  if (status >= 0)
    snprintf(buf, n, "%lld", (long long)status);
  else
    snprintf(buf, n, "null");
}

static void a_spawn(cp_child *c, void *ud) {
  arun *a = ud;
  addf(a, "spawn");
  if (strcmp(a->scenario, "spawn-kill-term") == 0) cp_child_kill(c, CP_SIGTERM);
  if (strcmp(a->scenario, "fork-echo-disconnect") == 0)
    cp_channel_send(cp_child_channel(c), "{\"hello\":\"world\"}", 17, NULL, NULL);
}
static void a_error(cp_child *c, const cp_error *e, void *ud) {
  (void)c;
  addf(ud, "error:%s", cp_err_name(e->code));
}
static void a_out(cp_child *c, const char *d, size_t n, void *ud) {
  (void)c;
  arun *a = ud;
  cptest_append(a->out, sizeof a->out, &a->out_len, d, n);
}
static void a_message(cp_child *c, const char *m, size_t n, void *ud) {
  arun *a = ud;
  (void)c;
  addf(a, "message:%.*s", (int)n, m);
}
static void a_exit(cp_child *c, int64_t st, int sig, void *ud) {
  (void)c;
  char s[32];
  st_or_null(s, sizeof s, st);
  addf(ud, "exit:%s:%s", s, sig_or_null(sig));
}
static void a_disconnect(cp_child *c, void *ud) {
  (void)c;
  addf(ud, "disconnect");
}
static void a_close(cp_child *c, int64_t st, int sig, void *ud) {
  (void)c;
  arun *a = ud;
  char s[32];
  st_or_null(s, sizeof s, st);
  addf(a, "close:%s:%s", s, sig_or_null(sig));
  if (strcmp(a->scenario, "spawn-stdin-cat") == 0) addf(a, "stdout=%s", a->out);
  a->done = true;
}

static const cp_child_events aev = {a_spawn, a_error, a_out, a_out, a_message, a_exit, a_disconnect, a_close};

static uint64_t exec_t0;
static void a_exec_cb(int rc, cp_result *r, void *ud) {
  arun *a = ud;
  a->done = true;
  if (rc == 0) {
    addf(a, "ok out=%zu err=%zu", r->out.len, r->err.len);
    return;
  }
  const char *cause = rc == CP_ENOBUFS ? "maxbuffer" : rc == CP_ETIMEDOUT ? "killed" : "exit";
  char st[32];
  if (r->status >= 0 && !r->signal && rc == CP_ECHILDFAILED)
    snprintf(st, sizeof st, "%lld", (long long)r->status);
  else
    strcpy(st, "-");
  const char *sig = r->signal > 0 ? cp_signal_name(r->signal) : "-";
  if (strcmp(a->scenario, "exec-timeout-grandchild") == 0 ||
      strcmp(a->scenario, "exec-exited-grandchild-timeout") == 0)
    addf(a, "failed cause=%s status=%s signal=%s err=%zu %s", cause, st, sig, r->err.len,
         cptest_now_ms() - exec_t0 <= 1300 ? "in-time" : "late");
  else
    addf(a, "failed cause=%s status=%s signal=%s out=%zu err=%zu", cause, st, sig, r->out.len, r->err.len);
}

static char *helper_cmd(const char *rest) {
  size_t n = strlen(cptest_helper()) + strlen(rest) + 4;
  char *c = malloc(n);
  snprintf(c, n, "\"%s\" %s", cptest_helper(), rest);
  return c;
}

static void run_async_ours(const char *name, arun *a) {
  memset(a, 0, sizeof *a);
  a->scenario = name;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  const char *h = cptest_helper();
  char *cmd = NULL, *script = script_path();
  exec_t0 = cptest_now_ms();
  cp_options o = {0};
  if (strcmp(name, "spawn-exit-3") == 0) {
    const char *args[] = {"exit", "3", NULL};
    assert_int_equal(cp_spawn(loop, h, args, NULL, &aev, a, &a->child), 0);
  } else if (strcmp(name, "spawn-enoent") == 0) {
    assert_int_equal(cp_spawn(loop, "/nonexistent/prog", NULL, NULL, &aev, a, &a->child), 0);
  } else if (strcmp(name, "spawn-kill-term") == 0) {
    const char *args[] = {"sleep", "20000", NULL};
    assert_int_equal(cp_spawn(loop, h, args, NULL, &aev, a, &a->child), 0);
  } else if (strcmp(name, "spawn-stdin-cat") == 0) {
    const char *args[] = {"cat", NULL};
    assert_int_equal(cp_spawn(loop, h, args, NULL, &aev, a, &a->child), 0);
    cp_child_write(a->child, "hello", 5, NULL, NULL);
    cp_child_end(a->child);
  } else if (strcmp(name, "spawn-timeout") == 0) {
    const char *args[] = {"sleep", "20000", NULL};
    o.timeout_ms = 200;
    assert_int_equal(cp_spawn(loop, h, args, &o, &aev, a, &a->child), 0);
  } else if (strcmp(name, "exec-exit-2") == 0) {
    cmd = helper_cmd("exit 2");
    assert_int_equal(cp_exec(loop, cmd, NULL, a_exec_cb, a), 0);
  } else if (strcmp(name, "exec-ok") == 0) {
    cmd = helper_cmd("out 10");
    assert_int_equal(cp_exec(loop, cmd, NULL, a_exec_cb, a), 0);
  } else if (strcmp(name, "exec-timeout") == 0) {
    cmd = helper_cmd("sleep 20000");
    o.timeout_ms = 200;
    assert_int_equal(cp_exec(loop, cmd, &o, a_exec_cb, a), 0);
  } else if (strcmp(name, "execfile-maxbuffer") == 0) {
    const char *args[] = {"out", "5000", NULL};
    o.max_buffer = 100;
    assert_int_equal(cp_exec_file(loop, h, args, &o, a_exec_cb, a), 0);
  } else if (strcmp(name, "execfile-signal") == 0) {
    const char *args[] = {"signal", "TERM", NULL};
    assert_int_equal(cp_exec_file(loop, h, args, NULL, a_exec_cb, a), 0);
  } else if (strcmp(name, "exec-timeout-grandchild") == 0) {
    cmd = helper_cmd("hold out 3000 sleep 3000");
    o.timeout_ms = 300;
    assert_int_equal(cp_exec(loop, cmd, &o, a_exec_cb, a), 0);
  } else if (strcmp(name, "exec-exited-grandchild-timeout") == 0) {
    o.timeout_ms = 300;
    assert_int_equal(cp_exec(loop, "sleep 2.5 & echo hi", &o, a_exec_cb, a), 0);
  } else if (strcmp(name, "fork-node-send3-exit") == 0 || strcmp(name, "fork-echo-disconnect") == 0) {
    const char *args[] = {script, strcmp(name, "fork-echo-disconnect") == 0 ? "child-echo" : "child-send3",
                          NULL};
    o.silent = true;
    assert_int_equal(cp_fork(loop, "node", args, &o, &aev, a, &a->child), 0);
  } else if (strcmp(name, "fork-c-send3-exit") == 0) {
    o.silent = true;
    assert_int_equal(cp_fork_worker(loop, "send3-exit", NULL, &o, &aev, a, &a->child), 0);
  } else {
    fail_msg("unknown async scenario %s", name);
  }
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(a->done);
  cp_child_free(a->child);
  assert_int_equal(cp_loop_free(loop), 0);
  free(cmd);
  free(script);
}

static const char *const async_names[] = {
    "spawn-exit-3",
    "spawn-enoent",
    "spawn-kill-term",
    "spawn-stdin-cat",
    "spawn-timeout",
    "exec-exit-2",
    "exec-ok",
    "exec-timeout",
    "execfile-maxbuffer",
    "execfile-signal",
    "exec-timeout-grandchild",
    "exec-exited-grandchild-timeout",
    "fork-node-send3-exit",
    "fork-c-send3-exit",
    "fork-echo-disconnect",
};

static char self_exe[PATH_MAX];

static void async_scenarios_match_node(void **state) {
  (void)state;
  if (!have_node()) CPTEST_SKIP("node is not on PATH: the differential needs the real Node");
  size_t count = sizeof async_names / sizeof async_names[0];
  const char *args[32];
  char *script = script_path();
  size_t n = 0;
  args[n++] = script;
  args[n++] = "async";
  for (size_t i = 0; i < count; i++) args[n++] = async_names[i];
  args[n] = NULL;
  char helper_env[PATH_MAX + 32], self_env[PATH_MAX + 32];
  snprintf(helper_env, sizeof helper_env, "CPDIFF_HELPER=%s", cptest_helper());
  snprintf(self_env, sizeof self_env, "CPDIFF_SELF=%s", self_exe);
  const char *env[] = {helper_env, self_env, NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env, .timeout_ms = 120000};
  cp_result node;
  cptest_assert_rc(cp_spawn_sync("node", args, &o, &node), &node, CP_OK);
  if (node.status != 0) print_error("node: %s\n", node.err.data);
  assert_int_equal(node.status, 0);
  int failed = 0;
  for (size_t i = 0; i < count; i++) {
    char *theirs = node_line(node.out.data, async_names[i]);
    assert_non_null(theirs);
    arun a;
    run_async_ours(async_names[i], &a);
    if (!judge("async", async_names[i], theirs, a.ev)) failed++;
    free(theirs);
  }
  cp_result_free(&node);
  free(script);
  assert_int_equal(failed, 0);
}

/* The child side of fork-c-send3-exit, for both parents: three messages, then exit(). */
static int worker_send3_exit(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  char buf[16];
  for (int i = 0; i < 3; i++) {
    int len = snprintf(buf, sizeof buf, "{\"i\":%d}", i);
    cp_channel_send(ch, buf, (size_t)len, NULL, NULL);
  }
  exit(0);
}

static const cp_worker_def workers[] = {{"send3-exit", worker_send3_exit, NULL}};

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, 1, &status)) return status;
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  if (n > 0) self_exe[n] = '\0';
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sync_scenarios_match_node),
      cmocka_unit_test(async_scenarios_match_node),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
