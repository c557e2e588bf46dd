/* cprun.c - the cprun command: runs one program (or one shell command line) with childproc and
 * reports how it ended, as its own exit status and, with --json, as one JSON record.
 *
 * The steps are kept apart: the command line becomes a cprun_config and then cp_options
 * (cprun_args.c), this file runs the child, then reports and maps the result to an exit status. The run is an async child on a cp_loop
 * (cp_spawn, with options.shell for --shell), so that signals sent to cprun can be forwarded to the
 * child (its tree with --tree) while cprun captures its output. The child is started with
 * kill_on_parent_exit unless --detach: it never outlives cprun, even when cprun is SIGKILLed. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* sigaction, poll, fcntl */
#endif
#include "cprun.h"
#include "json_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <signal.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#endif

#ifdef CP_COVERAGE
void __gcov_dump(void);
#endif

/* ---- signals sent to cprun: noted by the handler, forwarded by the loop ---- */

static volatile sig_atomic_t pending_signal;

#ifdef _WIN32
static BOOL WINAPI on_console_event(DWORD event) {
  (void)event; /* Ctrl-C, Ctrl-Break, close, logoff, shutdown: all end the child */
  pending_signal = CP_SIGTERM;
  return TRUE;
}

static void catch_signals(void) { SetConsoleCtrlHandler(on_console_event, TRUE); }
#else
static int signal_pipe[2] = {-1, -1};

static volatile sig_atomic_t received[32]; /* signals received so far, by number */

/* A second signal of a kind already forwarded means "stop now": cprun exits at once as if killed by
 * it (128+N), leaving the record unwritten; the child dies with cprun (kill_on_parent_exit). */
static void on_signal(int sig) {
  int saved = errno;
  if (sig > 0 && sig < 32) {
    if (received[sig]) _exit(128 + sig);
    received[sig] = 1;
  }
  pending_signal = sig;
  ssize_t n = write(signal_pipe[1], "s", 1); /* wakes the poll() below */
  (void)n;
  errno = saved;
}

static void catch_signals(void) {
  if (pipe(signal_pipe) == 0) {
    for (int i = 0; i < 2; i++) {
      fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
      fcntl(signal_pipe[i], F_SETFL, O_NONBLOCK);
    }
  }
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}
#endif

/* ---- the run ---- */

typedef struct run_state {
  const cprun_config *cfg;
  cp_child *child;
  cp_result *res;
  char *buf[2];
  size_t len[2], cap[2];
  size_t max;
  bool limit_hit, closed, started, start_failed;
  bool out_of_memory; /* the capture could not grow: the child was killed, the run failed */
  bool exited;
  bool ending; /* cprun killed the child (max-buffer, a forwarded signal): the run ends at its exit */
} run_state;

/* Once cprun itself killed the child (for --max-buffer or a signal it forwarded) and the child has
 * exited, the run is over: stop reading the pipes that descendants may still hold (Node's spawnSync
 * closes them at its kill too), so the record comes whatever they do. What was read is kept. */
static void end_run_if_over(run_state *st) {
  if (!st->ending || !st->exited || st->closed) return;
  cp_child_close_output(st->child, 1); /* CP_EPIPE: already at its end */
  cp_child_close_output(st->child, 2);
}

static void capture(run_state *st, int i, const char *data, size_t n) {
  if (!n || (i == 0 ? st->res->out_truncated : st->res->err_truncated)) return;
  size_t room = st->max - st->len[i], keep = n < room ? n : room;
  if (keep && st->len[i] + keep + 1 > st->cap[i]) {
    size_t cap = st->cap[i] ? st->cap[i] : 4096;
    while (cap < st->len[i] + keep + 1) cap *= 2;
    char *p = realloc(st->buf[i], cap);
    if (!p) {
      keep = 0;
      n = room + 1; /* stop keeping and kill, as past the limit, but report it as ENOMEM */
      st->out_of_memory = true;
    } else {
      st->buf[i] = p;
      st->cap[i] = cap;
    }
  }
  if (keep) {
    memcpy(st->buf[i] + st->len[i], data, keep);
    st->len[i] += keep;
  }
  if (n > room) {
    if (i == 0)
      st->res->out_truncated = true;
    else
      st->res->err_truncated = true;
    if (!st->limit_hit) {
      st->limit_hit = true;
      cp_child_terminate(st->child, st->cfg->kill_signal ? st->cfg->kill_signal : CP_SIGTERM,
                         (uint64_t)st->cfg->kill_after_ms);
      cp_child_end(st->child);
      st->ending = true;
      end_run_if_over(st);
    }
  }
}

static void on_out(cp_child *c, const char *d, size_t n, void *ud) {
  (void)c;
  capture(ud, 0, d, n);
}

static void on_err(cp_child *c, const char *d, size_t n, void *ud) {
  (void)c;
  capture(ud, 1, d, n);
}

static void on_spawn(cp_child *c, void *ud) {
  (void)c;
  ((run_state *)ud)->started = true;
}

static void on_error(cp_child *c, const cp_error *e, void *ud) {
  run_state *st = ud;
  if (cp_child_pid(c) != 0 || st->res->error.code)
    return; /* a read error after the start: the output shows it */
  st->start_failed = true;
  cp_error *dst = &st->res->error;
  dst->code = e->code;
  dst->os_error = e->os_error;
  dst->syscall = e->syscall;
  if (e->path) {
    size_t n = strlen(e->path) + 1;
    dst->path = malloc(n);
    if (dst->path) memcpy(dst->path, e->path, n);
  }
  memcpy(dst->message, e->message, sizeof dst->message);
}

/* With --tree, nothing of the tree outlives the child: what it left running is killed, which also
 * ends their hold on the child's stdout/stderr so 'close' can come. */
static void on_exit_ev(cp_child *c, int64_t status, int sig, void *ud) {
  run_state *st = ud;
  (void)status, (void)sig;
  st->exited = true;
  if (st->cfg->tree) cp_child_kill_tree(c, CP_SIGKILL); /* CP_ESRCH: nothing was left */
  end_run_if_over(st);
}

static void on_close(cp_child *c, int64_t status, int sig, void *ud) {
  run_state *st = ud;
  st->closed = true;
  st->res->status = status;
  st->res->signal = sig;
  st->res->timed_out = cp_child_timed_out(c);
}

/* --input that could not be written (out of memory queueing it): running the child without it
 * would be a wrong result that looks right, so the child is killed and the run fails. CP_EPIPE is
 * the child's own doing (it closed its stdin, or never started: on_error says why). */
static void on_input_written(cp_child *c, int status, void *ud) {
  run_state *st = ud;
  if (status == 0 || status == CP_EPIPE || st->res->error.code) return;
  cp_error *e = &st->res->error;
  e->code = status;
  e->syscall = "write";
  snprintf(e->message, sizeof e->message, "write %s: could not pass --input to the child (it was killed)",
           cp_err_name(status));
  cp_child_kill(c, CP_SIGKILL);
}

static void forward_signal(run_state *st, int sig) {
  if (!st->child || st->closed) return;
  st->ending = true;
  if (st->exited) {
    end_run_if_over(st); /* only descendants hold the pipes: cprun reports the child's own end */
    return;
  }
  if (st->cfg->kill_after_ms)
    cp_child_terminate(st->child, sig, (uint64_t)st->cfg->kill_after_ms);
  else if (st->cfg->tree)
    cp_child_kill_tree(st->child, sig);
  else
    cp_child_kill(st->child, sig);
}

static void on_tick(cp_timer *t, void *ud) { (void)t, (void)ud; /* only wakes the loop */ }

/* Runs the loop until the child closed (or, for --detach, until it started or failed to),
 * forwarding the signals cprun receives meanwhile. */
static void drive(cp_loop *loop, run_state *st) {
#ifndef _WIN32
  cp_os_handle fd = cp_loop_fd(loop);
#endif
  cp_timer *tick = NULL; /* a safety net where the loop has no descriptor to poll beside ours */
  while (!st->closed && !(st->cfg->detach && (st->started || st->start_failed))) {
    if (pending_signal) {
      int sig = pending_signal;
      pending_signal = 0;
      forward_signal(st, sig);
    }
#ifndef _WIN32
    if (fd != CP_INVALID_HANDLE && signal_pipe[0] >= 0) {
      struct pollfd p[2] = {{fd, POLLIN, 0}, {signal_pipe[0], POLLIN, 0}};
      poll(p, 2, cp_loop_timeout(loop)); /* EINTR from a signal is fine: the loop goes round */
      char drain[16];
      while (read(signal_pipe[0], drain, sizeof drain) > 0) {
      }
      cp_loop_run(loop, CP_RUN_NOWAIT);
      continue;
    }
#endif
    if (!tick && cp_timer_new(loop, &tick) == 0) cp_timer_start(tick, 100, 100, on_tick, NULL);
    cp_loop_run(loop, CP_RUN_ONCE);
  }
  cp_timer_free(tick);
}

/* Starts the child and runs it to its end; fills *res as cp_spawn_sync would. */
static void run_child(const cprun_config *cfg, cp_result *res) {
  memset(res, 0, sizeof *res);
  res->status = -1;
  run_state st = {.cfg = cfg, .res = res};
  st.max = cfg->max_buffer ? cfg->max_buffer : CP_MAX_BUFFER_DEFAULT;
  cp_options o = cprun_options(cfg);
  cp_loop *loop = NULL;
  int rc = cp_loop_new(&loop);
  cp_child_events ev = {.on_spawn = on_spawn,
                        .on_error = on_error,
                        .on_stdout = on_out,
                        .on_stderr = on_err,
                        .on_exit = on_exit_ev,
                        .on_close = on_close};
  if (rc == 0) {
    catch_signals();
    if (cfg->shell_command)
      rc = cp_spawn(loop, cfg->shell_command, NULL, &o, &ev, &st, &st.child);
    else
      rc = cp_spawn(loop, cfg->program, cfg->args, &o, &ev, &st, &st.child);
  }
  if (rc) {
    res->error.code = rc;
    res->error.syscall = "spawn";
    snprintf(res->error.message, sizeof res->error.message, "spawn %s: %s", cp_err_name(rc), cp_strerror(rc));
  } else {
    if (cfg->input_path) {
      int wrc = cp_child_write(st.child, cfg->input ? cfg->input : "", cfg->input_len, on_input_written, &st);
      if (wrc) on_input_written(st.child, wrc, &st);
      cp_child_end(st.child);
    }
    drive(loop, &st);
    res->pid = cp_child_pid(st.child);
    cp_child_free(st.child);
  }
  if (!cfg->detach) cp_loop_free(loop); /* a detached child is left to run: so is its loop */
  for (int i = 0; i < 2; i++) {
    cp_buffer *b = i == 0 ? &res->out : &res->err;
    b->data = st.buf[i] ? st.buf[i] : calloc(1, 1);
    b->len = st.len[i];
    if (b->data) b->data[b->len] = '\0';
  }
  if (st.out_of_memory && !res->error.code) {
    res->error.code = CP_ENOMEM;
    res->error.syscall = "read";
    snprintf(res->error.message, sizeof res->error.message,
             "read ENOMEM: out of memory keeping the child's output (the child was killed)");
  }
  if (res->error.code) return;
  if (res->timed_out) {
    res->error.code = CP_ETIMEDOUT;
    res->error.syscall = "spawnSync";
    snprintf(res->error.message, sizeof res->error.message, "spawnSync ETIMEDOUT: timed out after %lld ms",
             (long long)cfg->timeout_ms);
  } else if (res->out_truncated || res->err_truncated) {
    res->error.code = CP_ENOBUFS;
    res->error.syscall = "spawnSync";
    snprintf(res->error.message, sizeof res->error.message, "spawnSync ENOBUFS: %s maxBuffer length exceeded",
             res->out_truncated ? "stdout" : "stderr");
  }
}

/* The exit status that tells how the run ended (see help_text). The limits cprun enforces decide
 * alone, whatever the race between their kill and the child's own end: a timeout is 124, output
 * past --max-buffer is 128 + the kill signal (the JSON record says what really happened). Then a
 * child that ran reports its own end; one that never ran is 127 / 126 / 125 by why. */
static int exit_status_for(const cprun_config *cfg, const cp_result *res) {
  if (res->error.code == CP_ENOMEM) return EXIT_CPRUN_FAILED; /* cprun's own failure, not the child's */
  if (res->timed_out) return EXIT_TIMED_OUT;
  if (res->out_truncated || res->err_truncated)
    return EXIT_SIGNAL_BASE + (cfg->kill_signal ? cfg->kill_signal : CP_SIGTERM);
  if (res->signal > 0) return EXIT_SIGNAL_BASE + res->signal;
  if (res->status >= 0) {
#ifdef _WIN32
    return (int)(uint32_t)res->status; /* the whole 32-bit exit code */
#else
    return (int)res->status;
#endif
  }
  const cp_error *e = &res->error;
  if (e->syscall && strcmp(e->syscall, "chdir") == 0) return EXIT_CPRUN_FAILED; /* --cwd, not PROGRAM */
  if (e->code == CP_ENOENT || e->code == CP_ENOTDIR) return EXIT_NOT_FOUND;
  if (e->code == CP_EACCES || e->code == CP_ENOEXEC) return EXIT_CANNOT_EXECUTE;
  return EXIT_CPRUN_FAILED;
}

static void write_json_bool(FILE *f, const char *key, bool v) {
  fprintf(f, ",\"%s\":%s", key, v ? "true" : "false");
}

/* The --json record: one object on one line. */
static int write_json_record(FILE *f, const cp_result *res) {
  fprintf(f, "{\"pid\":%" PRId64, res->pid);
  if (res->status >= 0)
    fprintf(f, ",\"status\":%" PRId64, res->status);
  else
    fputs(",\"status\":null", f);
  fputs(",\"signal\":", f);
  if (res->signal > 0) {
    const char *name = cp_signal_name(res->signal);
    char num[16];
    if (!name) {
      snprintf(num, sizeof num, "%d", res->signal); /* a signal this platform has no name for */
      name = num;
    }
    json_write_cstring_or_null(f, name);
  } else {
    fputs("null", f);
  }
  write_json_bool(f, "timed_out", res->timed_out);
  fputs(",\"error\":", f);
  if (res->error.code != CP_OK) {
    fputs("{\"code\":", f);
    json_write_cstring_or_null(f, cp_err_name(res->error.code));
    fputs(",\"syscall\":", f);
    json_write_cstring_or_null(f, res->error.syscall);
    fputs(",\"path\":", f);
    json_write_cstring_or_null(f, res->error.path);
    fputs(",\"message\":", f);
    json_write_cstring_or_null(f, res->error.message);
    fputs("}", f);
  } else {
    fputs("null", f);
  }
  fputs(",\"stdout\":", f);
  json_write_string(f, res->out.data, res->out.len);
  fputs(",\"stderr\":", f);
  json_write_string(f, res->err.data, res->err.len);
  write_json_bool(f, "stdout_truncated", res->out_truncated);
  write_json_bool(f, "stderr_truncated", res->err_truncated);
  fputs("}\n", f);
  return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

static int cprun_main(int argc, char **argv) {
  cprun_config cfg = {0};
  int st = cprun_parse_args(&cfg, argc, argv);
  if (st != PARSE_RUN) goto done; /* a usage error, --help or --version */
  if (cfg.input_path && (st = cprun_read_input(&cfg)) != 0) goto done;
  cp_result res;
  run_child(&cfg, &res);
  st = exit_status_for(&cfg, &res);
  if (cfg.detach && res.error.code == CP_OK) {
    printf("%" PRId64 "\n", res.pid);
    st = fflush(stdout) == 0 ? 0 : EXIT_CPRUN_FAILED;
    /* The child is left running on purpose, and with it the loop that started it: leave without
     * tearing them down (and without a leak checker's complaint about them). */
#ifdef CP_COVERAGE
    __gcov_dump(); /* _Exit skips it: a coverage build writes its counters first */
#endif
    _Exit(st); /* LCOV_EXCL_LINE: after the counters were written, so it never counts */
  }
  if (cfg.json) {
#ifndef _WIN32
    /* A reader that is gone is a write error (125 below), not death by SIGPIPE: 141 would read as
     * the child's own end. The child has closed: nothing inherits this. */
    signal(SIGPIPE, SIG_IGN);
#endif
    if (write_json_record(stdout, &res) != 0) {
      fprintf(stderr, "cprun: writing the JSON record: %s\n", strerror(errno));
      st = EXIT_CPRUN_FAILED;
    }
  } else if (res.error.code != CP_OK && !res.timed_out) {
    fprintf(stderr, "cprun: %s\n", res.error.message);
  }
  cp_result_free(&res);
done:
  free(cfg.env);
  free(cfg.input);
  return st;
}

#ifdef _WIN32
/* Windows: take the UTF-16 command line, so arguments outside the ANSI code page survive, and
 * hand the rest of the program UTF-8 as everywhere else. stdin and stdout carry bytes. */
int wmain(int argc, wchar_t **wargv); /* the entry point with -municode (no header declares it) */
int wmain(int argc, wchar_t **wargv) {
  _setmode(_fileno(stdout), _O_BINARY);
  _setmode(_fileno(stdin), _O_BINARY);
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  if (!argv) return EXIT_CPRUN_FAILED;
  int st = EXIT_CPRUN_FAILED;
  for (int i = 0; i < argc; i++) {
    int n = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
    if (n <= 0 || !(argv[i] = malloc((size_t)n))) {
      fputs("cprun: cannot convert the command line to UTF-8\n", stderr);
      goto out;
    }
    WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, argv[i], n, NULL, NULL);
  }
  st = cprun_main(argc, argv);
out:
  for (int i = 0; i < argc; i++) free(argv[i]);
  free(argv);
  return st;
}
#else
/* A closed 0, 1 or 2 would be taken by the next descriptor cprun or the library opens, and the
 * child would get that in the slot: fill them with the null device first (docs/security.md). */
static int fill_closed_std_fds(void) {
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    int n = open("/dev/null", O_RDWR);
    if (n < 0) return -1;
    if (n != fd && (dup2(n, fd) < 0 || close(n) < 0)) return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (fill_closed_std_fds() != 0) return EXIT_CPRUN_FAILED; /* nowhere left to say why */
  return cprun_main(argc, argv);
}
#endif
