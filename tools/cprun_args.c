/* cprun_args.c - cprun's command line: --help, the options and their value grammars, --input, and
 * the cp_options they ask for (cprun.h). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "cprun.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#endif

#if defined(__GNUC__)
#define CPRUN_PRINTF_LIKE __attribute__((format(printf, 1, 2)))
#else
#define CPRUN_PRINTF_LIKE
#endif

/* Reports a usage error: one line on stderr. */
static void usage_error(const char *fmt, ...) CPRUN_PRINTF_LIKE;
static void usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("cprun: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs(" (see cprun --help)\n", stderr);
  va_end(ap);
}

static const char help_text[] =
    "Usage: cprun [OPTIONS] [--] PROGRAM [ARG...]\n"
    "       cprun [OPTIONS] --shell 'COMMAND LINE'\n"
    "\n"
    "Runs PROGRAM with ARGs (no shell; PROGRAM is searched on PATH), or COMMAND LINE through the\n"
    "platform's shell (/bin/sh -c on POSIX, cmd.exe /d /s /c on Windows), and exits as it did.\n"
    "Options end at '--' or at the first argument that does not start with '-'.\n"
    "\n"
    "Options:\n"
    "  --cwd DIR            run the child in DIR\n"
    "  --env NAME=VALUE     add or override one environment variable (repeatable)\n"
    "  --clear-env          start from an empty environment: the child gets only the --env entries\n"
    "  --timeout SECONDS    kill the child after SECONDS (decimal, fractions allowed: 2.5; 0 = none)\n"
    "  --kill-signal SIG    signal for the timeout and max-buffer kills: a name (TERM, SIGKILL) or\n"
    "                       a number; default SIGTERM\n"
    "  --max-buffer BYTES   with --json: keep at most BYTES of stdout and of stderr each, and kill\n"
    "                       the child past it; a number with an optional K, M or G suffix (powers\n"
    "                       of 1024), or 'unlimited'; default 1M\n"
    "  --kill-after SECONDS after a --timeout, --max-buffer or forwarded-signal kill, send SIGKILL\n"
    "                       if the child (its tree with --tree) is still alive SECONDS later\n"
    "  --tree               run the child in its own process group (Windows: job object): the\n"
    "                       timeout, --kill-after and forwarded signals reach all its descendants\n"
    "  --detach             start the child in a new session, print its pid and exit 0 at once,\n"
    "                       leaving it running (its stdio is the null device); not with --json,\n"
    "                       --timeout or --input\n"
    "  --input FILE         feed FILE to the child's stdin ('-' = cprun's own stdin, read fully)\n"
    "                       instead of letting it inherit cprun's stdin\n"
    "  --json               capture stdout and stderr and print one JSON record on stdout:\n"
    "                       {\"pid\":N,\"status\":N|null,\"signal\":\"SIGTERM\"|null,\"timed_out\":BOOL,\n"
    "                        \"error\":null|{\"code\":\"ENOENT\",\"syscall\":S,\"path\":S|null,\n"
    "                        \"message\":S},\"stdout\":S,\"stderr\":S,\"stdout_truncated\":BOOL,\n"
    "                        \"stderr_truncated\":BOOL}\n"
    "  --help               show this help and exit\n"
    "  --version            show the version and exit\n"
    "Without --json the child's stdout and stderr are cprun's own (live output).\n"
    "\n"
    "Signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to cprun are forwarded to the child (to its\n"
    "tree with --tree), and cprun then exits as the child did (143 for a SIGTERM it died of) once\n"
    "the child has exited, whatever its descendants still hold; a second signal of the same kind\n"
    "makes cprun exit at once (128+N, no record). With --timeout a run never outlasts the timeout\n"
    "(plus --kill-after): a child that exited in time but left a process holding its output is\n"
    "reported as timed out. With --tree, whatever the child left running in its tree is killed\n"
    "when the child ends. On Windows, Ctrl-C, Ctrl-Break and closing the console terminate the\n"
    "child (its job with --tree).\n"
    "The child never outlives cprun (unless --detach): if cprun is killed, even with SIGKILL, the\n"
    "child (its tree with --tree) is killed too.\n"
    "\n"
    "Exit status:\n"
    "  N      the child exited with status N\n"
    "  128+N  the child was killed by signal N; also when its output passed --max-buffer\n"
    "         (N = the --kill-signal)\n"
    "  124    the child ran past --timeout and was killed\n"
    "  125    usage error, or the child could not be started (bad --cwd, ...)\n"
    "  126    PROGRAM was found but cannot be executed\n"
    "  127    PROGRAM was not found\n";

/* ---------------------------------------------------------------------------------------------
 * Option values. Each parser accepts exactly its documented grammar: no sign, no spaces, no
 * exponent, no trailing characters.
 * ------------------------------------------------------------------------------------------ */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* DIGITS[.DIGITS] or .DIGITS seconds, to milliseconds. A fraction of a millisecond rounds up, so a
 * timeout never silently becomes 0 ("none"). */
static bool parse_seconds(const char *s, int64_t *ms_out) {
  const char *p = s;
  int64_t secs = 0;
  bool any_digit = false;
  const int64_t max_secs = (INT64_MAX - 1000) / 1000; /* room for the fraction and its rounding */
  for (; is_digit(*p); p++, any_digit = true) {
    if (secs > (max_secs - (*p - '0')) / 10) return false;
    secs = secs * 10 + (*p - '0');
  }
  int64_t ms = secs * 1000;
  if (*p == '.') {
    int64_t unit = 100; /* milliseconds per digit at this place */
    bool below_ms = false;
    if (!is_digit(p[1])) return false; /* "1." and "." are not numbers */
    for (p++; is_digit(*p); p++, any_digit = true) {
      if (unit)
        ms += unit * (*p - '0');
      else if (*p != '0')
        below_ms = true;
      unit /= 10;
    }
    if (below_ms) ms++;
  }
  if (!any_digit || *p) return false;
  *ms_out = ms;
  return true;
}

/* DIGITS[K|M|G] bytes (powers of 1024), or "unlimited"; at least 1. */
static bool parse_size(const char *s, size_t *out) {
  if (strcmp(s, "unlimited") == 0) {
    *out = CP_MAX_BUFFER_UNLIMITED;
    return true;
  }
  const char *p = s;
  size_t v = 0;
  if (!is_digit(*p)) return false;
  for (; is_digit(*p); p++) {
    size_t d = (size_t)(*p - '0');
    if (v > (SIZE_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  size_t mult = 1;
  if (*p == 'K' || *p == 'k')
    mult = (size_t)1 << 10;
  else if (*p == 'M' || *p == 'm')
    mult = (size_t)1 << 20;
  else if (*p == 'G' || *p == 'g')
    mult = (size_t)1 << 30;
  if (mult != 1) p++;
  if (*p || v == 0 || v > (SIZE_MAX - 1) / mult) return false; /* SIZE_MAX itself means "unlimited" */
  *out = v * mult;
  return true;
}

/* NAME=VALUE with a non-empty NAME. */
static bool valid_env_entry(const char *s) {
  const char *eq = strchr(s, '=');
  return eq && eq != s;
}

/* ---------------------------------------------------------------------------------------------
 * The command line
 * ------------------------------------------------------------------------------------------ */

enum opt_id {
  OPT_CWD,
  OPT_ENV,
  OPT_CLEAR_ENV,
  OPT_TIMEOUT,
  OPT_KILL_SIGNAL,
  OPT_MAX_BUFFER,
  OPT_INPUT,
  OPT_JSON,
  OPT_KILL_AFTER,
  OPT_TREE,
  OPT_DETACH,
  OPT_SHELL,
  OPT_HELP,
  OPT_VERSION
};

typedef struct opt_def {
  const char *name;
  enum opt_id id;
  bool takes_value;
} opt_def;

static const opt_def opt_defs[] = {
    {"cwd", OPT_CWD, true},
    {"env", OPT_ENV, true},
    {"clear-env", OPT_CLEAR_ENV, false},
    {"timeout", OPT_TIMEOUT, true},
    {"kill-signal", OPT_KILL_SIGNAL, true},
    {"max-buffer", OPT_MAX_BUFFER, true},
    {"input", OPT_INPUT, true},
    {"json", OPT_JSON, false},
    {"kill-after", OPT_KILL_AFTER, true},
    {"tree", OPT_TREE, false},
    {"detach", OPT_DETACH, false},
    {"shell", OPT_SHELL, true},
    {"help", OPT_HELP, false},
    {"version", OPT_VERSION, false},
};

/* Applies one option with its value (NULL for a flag). Returns PARSE_RUN, or an exit status. */
static int apply_option(cprun_config *cfg, const opt_def *d, const char *value) {
  switch (d->id) {
  case OPT_CWD:
    if (!*value) {
      usage_error("--cwd: the directory is empty");
      return EXIT_CPRUN_FAILED;
    }
    cfg->cwd = value;
    break;
  case OPT_ENV:
    if (!valid_env_entry(value)) {
      usage_error("--env: '%s' is not NAME=VALUE with a non-empty NAME", value);
      return EXIT_CPRUN_FAILED;
    }
    cfg->env[cfg->env_count++] = value;
    cfg->env[cfg->env_count] = NULL;
    break;
  case OPT_CLEAR_ENV:
    cfg->clear_env = true;
    break;
  case OPT_TIMEOUT:
    if (!parse_seconds(value, &cfg->timeout_ms)) {
      usage_error("--timeout: '%s' is not a number of seconds (like 10 or 2.5)", value);
      return EXIT_CPRUN_FAILED;
    }
    break;
  case OPT_KILL_SIGNAL: {
    int sig = cp_signal_from_name(value);
    if (sig <= 0) {
      usage_error("--kill-signal: '%s' is not a signal name or number of this platform", value);
      return EXIT_CPRUN_FAILED;
    }
    cfg->kill_signal = sig;
    break;
  }
  case OPT_MAX_BUFFER:
    if (!parse_size(value, &cfg->max_buffer)) {
      usage_error("--max-buffer: '%s' is not a positive number of bytes (like 65536, 64K, 1M) or "
                  "'unlimited'",
                  value);
      return EXIT_CPRUN_FAILED;
    }
    break;
  case OPT_INPUT:
    if (!*value) {
      usage_error("--input: the file name is empty (use - for stdin)");
      return EXIT_CPRUN_FAILED;
    }
    cfg->input_path = value;
    break;
  case OPT_JSON:
    cfg->json = true;
    break;
  case OPT_KILL_AFTER:
    if (!parse_seconds(value, &cfg->kill_after_ms)) {
      usage_error("--kill-after: '%s' is not a number of seconds (like 5 or 0.5)", value);
      return EXIT_CPRUN_FAILED;
    }
    break;
  case OPT_TREE:
    cfg->tree = true;
    break;
  case OPT_DETACH:
    cfg->detach = true;
    break;
  case OPT_SHELL:
    cfg->shell_command = value;
    break;
  case OPT_HELP:
    fputs(help_text, stdout);
    return fflush(stdout) == 0 ? 0 : EXIT_CPRUN_FAILED;
  case OPT_VERSION:
    printf("cprun %s (childproc %s)\n", CHILDPROC_VERSION_STRING, cp_version());
    return fflush(stdout) == 0 ? 0 : EXIT_CPRUN_FAILED;
  }
  return PARSE_RUN;
}

/* Fills cfg from argv. Options may be written "--name value" or "--name=value"; a repeated option
 * overrides the earlier one (except --env, which adds). Returns PARSE_RUN or an exit status. */
int cprun_parse_args(cprun_config *cfg, int argc, char **argv) {
  cfg->env = calloc((size_t)argc + 1, sizeof *cfg->env);
  if (!cfg->env) {
    fputs("cprun: out of memory\n", stderr);
    return EXIT_CPRUN_FAILED;
  }
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      if (i + 1 >= argc) {
        usage_error("'--' must be followed by the PROGRAM to run");
        return EXIT_CPRUN_FAILED;
      }
      i++;
      break;
    }
    if (strcmp(a, "-h") == 0) a = "--help";
    if (a[0] != '-' || a[1] == '\0') break; /* the PROGRAM */
    if (a[1] != '-') {
      usage_error("unknown option '%s'", a);
      return EXIT_CPRUN_FAILED;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
    const opt_def *d = NULL;
    for (size_t k = 0; k < sizeof opt_defs / sizeof opt_defs[0]; k++)
      if (strlen(opt_defs[k].name) == name_len && strncmp(opt_defs[k].name, name, name_len) == 0)
        d = &opt_defs[k];
    if (!d) {
      usage_error("unknown option '--%.*s'", (int)name_len, name);
      return EXIT_CPRUN_FAILED;
    }
    const char *value = NULL;
    if (d->takes_value) {
      if (eq) {
        value = eq + 1;
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        usage_error("option --%s needs a value", d->name);
        return EXIT_CPRUN_FAILED;
      }
    } else if (eq) {
      usage_error("option --%s takes no value", d->name);
      return EXIT_CPRUN_FAILED;
    }
    int st = apply_option(cfg, d, value);
    if (st != PARSE_RUN) return st;
  }
  if (i < argc) {
    cfg->program = argv[i];
    cfg->args = (const char *const *)(argv + i + 1); /* argv[argc] is NULL */
  }
  if (cfg->program && cfg->shell_command) {
    usage_error("--shell COMMAND and a PROGRAM cannot be given together");
    return EXIT_CPRUN_FAILED;
  }
  if (!cfg->program && !cfg->shell_command) {
    usage_error("nothing to run: give -- PROGRAM [ARG...] or --shell COMMAND");
    return EXIT_CPRUN_FAILED;
  }
  if (cfg->detach && (cfg->json || cfg->timeout_ms || cfg->input_path || cfg->kill_after_ms)) {
    usage_error("--detach leaves the child running: it cannot be combined with --json, --timeout, "
                "--kill-after or --input");
    return EXIT_CPRUN_FAILED;
  }
  return PARSE_RUN;
}

/* ---------------------------------------------------------------------------------------------
 * --input
 * ------------------------------------------------------------------------------------------ */

static FILE *open_input(const char *path) {
#ifdef _WIN32
  /* fopen() takes the ANSI code page; our strings are UTF-8. */
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
  if (n <= 0) {
    errno = EINVAL;
    return NULL;
  }
  wchar_t *w = malloc((size_t)n * sizeof *w);
  if (!w) return NULL;
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, w, n);
  FILE *f = _wfopen(w, L"rb");
  free(w);
  return f;
#else
  return fopen(path, "rb");
#endif
}

/* Reads all of --input into cfg->input. Returns 0, or EXIT_CPRUN_FAILED after a message. */
int cprun_read_input(cprun_config *cfg) {
  bool from_stdin = strcmp(cfg->input_path, "-") == 0;
  FILE *f = from_stdin ? stdin : open_input(cfg->input_path);
  if (!f) {
    fprintf(stderr, "cprun: --input %s: %s\n", cfg->input_path, strerror(errno));
    return EXIT_CPRUN_FAILED;
  }
  size_t cap = 64 * 1024, len = 0;
  char *buf = malloc(cap);
  int st = 0;
  while (buf) {
    if (len == cap) {
      char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
      if (!bigger) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
  }
  if (!buf) {
    fprintf(stderr, "cprun: --input %s: out of memory\n", cfg->input_path);
    st = EXIT_CPRUN_FAILED;
  } else if (ferror(f)) {
    fprintf(stderr, "cprun: --input %s: %s\n", cfg->input_path, strerror(errno));
    free(buf);
    st = EXIT_CPRUN_FAILED;
  } else {
    cfg->input = buf;
    cfg->input_len = len;
  }
  if (!from_stdin) fclose(f);
  return st;
}

/* ---------------------------------------------------------------------------------------------
 * The options of the run
 * ------------------------------------------------------------------------------------------ */

cp_options cprun_options(const cprun_config *cfg) {
  cp_options o = {0};
  o.cwd = cfg->cwd;
  if (cfg->clear_env) {
    o.env_mode = CP_ENV_REPLACE;
    o.env = cfg->env;
  } else if (cfg->env_count) {
    o.env_mode = CP_ENV_EXTEND;
    o.env = cfg->env;
  }
  o.timeout_ms = cfg->timeout_ms;
  o.kill_signal = cfg->kill_signal;
  o.kill_after_ms = cfg->kill_after_ms;
  o.kill_tree = cfg->tree;
  o.stdio[0].kind = cfg->input_path ? CP_STDIO_PIPE : CP_STDIO_INHERIT;
  o.stdio[1].kind = cfg->json ? CP_STDIO_PIPE : CP_STDIO_INHERIT;
  o.stdio[2].kind = cfg->json ? CP_STDIO_PIPE : CP_STDIO_INHERIT;
  if (cfg->detach) {
    o.detached = true;
    for (int i = 0; i < 3; i++) o.stdio[i].kind = CP_STDIO_IGNORE;
  } else {
    o.kill_on_parent_exit = true;
  }
  if (cfg->shell_command) o.shell = CP_SHELL_DEFAULT;
  return o;
}

