/* test_limits.c - process limits (issue 14): with RLIMIT_NOFILE swept just above the descriptors in
 * use, and RLIMIT_NPROC swept from 1 as a non-root user, every spawn shape ends with its correct
 * result or a clean CP_EMFILE / CP_EAGAIN reported where the API says, with no descriptor or child
 * left; and once the limit is lifted every shape works again, on the fast path: no SIGCHLD handler
 * installed where the kernel has pidfd (nothing about the fault sticks).
 *
 * Each sweep runs in a fresh process of this executable ("limits-helper" mode), so that the
 * library's process-wide state starts untouched, as in a program whose first spawn meets the
 * limit. The RLIMIT_NPROC helper runs as user nobody (65534): root is exempt from that limit. */
#include "cptest.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif
#include <unistd.h>

#define CHILD_FAILED 2 /* the child itself could not run under the limit and exited non-zero */
#define WRONG        1

static int first_error(int *slot, int code) {
  if (!*slot) *slot = code;
  return code;
}

/* ---- the spawn shapes ------------------------------------------------------------------------- */

static int sync_outcome(int rc, cp_result *res, const char *want) {
  int out;
  if (!res->out.data || !res->err.data) {
    fprintf(stderr, "  NULL result buffers (rc %s)\n", cp_err_name(rc));
    out = WRONG;
  } else if (rc == 0 && res->status == 0 && strcmp(res->out.data, want) == 0) {
    out = 0;
  } else if (rc == 0) {
    fprintf(stderr, "  rc 0, status %lld, stdout \"%s\"\n", (long long)res->status, res->out.data);
    out = res->status > 0 ? CHILD_FAILED : WRONG;
  } else if (res->error.code != rc) {
    fprintf(stderr, "  rc %s but res->error.code %s\n", cp_err_name(rc), cp_err_name(res->error.code));
    out = WRONG;
  } else {
    out = rc;
  }
  cp_result_free(res);
  return out;
}

static int shape_sync_input(void) {
  cp_options o = {.input = "abc", .input_len = 3};
  const char *args[] = {"cat", NULL};
  cp_result res;
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  return sync_outcome(rc, &res, "abc");
}

static int shape_exec_shell(void) {
  cp_result res;
  int rc = cp_exec_sync("echo hi", NULL, &res);
  return sync_outcome(rc, &res, "hi\n");
}

static int shape_ignore_and_fd(void) {
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_FD, 2}}};
  const char *args[] = {"out", "3", NULL};
  cp_result res;
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  return sync_outcome(rc, &res, "abc");
}

static int shape_detached_group(void) {
  cp_options o = {.detached = true, .kill_tree = true};
  const char *args[] = {"out", "2", NULL};
  cp_result res;
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  return sync_outcome(rc, &res, "ab");
}

static int shape_kill_on_parent_exit(void) {
  cp_options o = {.kill_on_parent_exit = true};
  const char *args[] = {"out", "2", NULL};
  cp_result res;
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  return sync_outcome(rc, &res, "ab");
}

/* async: cp_spawn with stdin written and stdout collected on a loop. */
typedef struct async_state {
  char out[16];
  size_t len;
  int error;
  int64_t status;
  bool closed;
} async_state;

static void as_out(cp_child *c, const char *d, size_t n, void *ud) {
  (void)c;
  async_state *s = ud;
  cptest_append(s->out, sizeof s->out, &s->len, d, n);
}

static void as_error(cp_child *c, const cp_error *e, void *ud) {
  (void)c;
  first_error(&((async_state *)ud)->error, e->code);
}

static void as_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c, (void)sig;
  async_state *s = ud;
  s->closed = true;
  s->status = status;
}

/* Runs the loop to its end, frees the child (if any) and the loop. */
static int loop_end(cp_loop *loop, cp_child *c) {
  int rc = cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(c);
  int frc = cp_loop_free(loop);
  if (rc || frc) {
    fprintf(stderr, "  cp_loop_run %s, cp_loop_free %s\n", cp_err_name(rc), cp_err_name(frc));
    return WRONG;
  }
  return 0;
}

static int shape_async_pipes(void) {
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) return rc;
  async_state s = {.status = -1};
  cp_child_events ev = {.on_stdout = as_out, .on_error = as_error, .on_close = as_close};
  const char *args[] = {"cat", NULL};
  cp_child *c;
  rc = cp_spawn(loop, cptest_helper(), args, NULL, &ev, &s, &c);
  if (rc) {
    if (loop_end(loop, NULL)) return WRONG;
    return rc;
  }
  int wrc = cp_child_write(c, "xyz", 3, NULL, NULL);
  if (wrc && wrc != CP_EPIPE) first_error(&s.error, wrc);
  cp_child_end(c);
  if (loop_end(loop, c)) return WRONG;
  if (!s.closed) {
    fprintf(stderr, "  no on_close\n");
    return WRONG;
  }
  if (s.error) return s.error;
  if (s.status != 0) return CHILD_FAILED;
  if (strcmp(s.out, "xyz") != 0) {
    fprintf(stderr, "  stdout \"%s\"\n", s.out);
    return WRONG;
  }
  return 0;
}

/* a worker with a channel: one message there and back. */
typedef struct chan_state {
  int error;
  bool echoed, closed;
  int64_t status;
} chan_state;

static void ch_spawn(cp_child *c, void *ud) {
  chan_state *s = ud;
  cp_channel *ch = cp_child_channel(c);
  if (!ch) {
    fprintf(stderr, "  on_spawn without a channel\n");
    first_error(&s->error, WRONG);
    cp_child_kill(c, CP_SIGKILL);
    return;
  }
  int rc = cp_channel_send(ch, "{\"n\":1}", 7, NULL, NULL);
  if (rc && rc != CP_EPIPE) first_error(&s->error, rc);
  if (rc) cp_channel_disconnect(ch);
}

static void ch_message(cp_child *c, const char *m, size_t n, void *ud) {
  chan_state *s = ud;
  s->echoed = n == 7 && memcmp(m, "{\"n\":1}", 7) == 0;
  cp_channel_disconnect(cp_child_channel(c));
}

static void ch_error(cp_child *c, const cp_error *e, void *ud) {
  (void)c;
  first_error(&((chan_state *)ud)->error, e->code);
}

static void ch_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c;
  chan_state *s = ud;
  s->closed = true;
  s->status = sig ? -sig : status;
}

static int shape_fork_channel(void) {
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) return rc;
  chan_state s = {0};
  cp_child_events ev = {
      .on_spawn = ch_spawn, .on_message = ch_message, .on_error = ch_error, .on_close = ch_close};
  cp_child *c;
  rc = cp_fork_worker(loop, "echo", NULL, NULL, &ev, &s, &c);
  if (rc) {
    if (loop_end(loop, NULL)) return WRONG;
    return rc;
  }
  if (loop_end(loop, c)) return WRONG;
  if (!s.closed) {
    fprintf(stderr, "  no on_close\n");
    return WRONG;
  }
  if (s.error) return s.error;
  if (s.echoed) return 0;
  if (s.status != 0) return CHILD_FAILED; /* the worker could not set itself up under the limit */
  fprintf(stderr, "  no echo, no error, status 0\n");
  return WRONG;
}

/* a pool of 2 workers, 3 tasks, drained. */
typedef struct pool_state {
  int calls[3], code[3];
  bool done;
} pool_state;

static pool_state ps;

static void pl_reply(const cp_reply *r, void *ud) {
  int i = (int)(intptr_t)ud;
  ps.calls[i]++;
  ps.code[i] = r->code;
}

static void pl_done(cp_pool *p, void *ud) {
  (void)p, (void)ud;
  ps.done = true;
}

static void serve_ping(cp_request *req, const char *msg, size_t len, void *ud) {
  (void)msg, (void)len, (void)ud;
  cp_request_reply(req, "1", 1);
}

static int worker_serve(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  return cp_channel_serve(ch, serve_ping, NULL) ? 1 : 0;
}

static int shape_pool(void) {
  memset(&ps, 0, sizeof ps);
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) return rc;
  cp_pool_options o = {.workers = 2,
                       .worker_name = "serve",
                       .restart_delay_ms = 1,
                       .restart_delay_max_ms = 8,
                       .max_start_failures = 3};
  cp_pool *p;
  rc = cp_pool_new(loop, &o, &p);
  if (rc) {
    if (loop_end(loop, NULL)) return WRONG;
    return rc;
  }
  int out = 0;
  bool accepted[3];
  for (int i = 0; i < 3; i++) {
    int src = cp_pool_submit(p, "{}", 2, pl_reply, (void *)(intptr_t)i);
    accepted[i] = src == 0;
    if (src && !out) out = src;
  }
  cp_pool_shutdown(p, CP_POOL_DRAIN, pl_done, NULL);
  int lrc = cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_pool_free(p);
  int frc = cp_loop_free(loop);
  if (lrc || frc || !ps.done) {
    fprintf(stderr, "  pool: loop %s, free %s, done %d\n", cp_err_name(lrc), cp_err_name(frc), ps.done);
    return WRONG;
  }
  for (int i = 0; i < 3; i++) {
    if (ps.calls[i] != (accepted[i] ? 1 : 0)) {
      fprintf(stderr, "  task %d: %d callbacks\n", i, ps.calls[i]);
      return WRONG;
    }
    if (accepted[i] && ps.code[i] && !out) out = ps.code[i] == CP_ECHILDFAILED ? CHILD_FAILED : ps.code[i];
  }
  return out;
}

/* ---- the helper process: sweeps one limit over every shape ------------------------------------ */

typedef struct shape {
  const char *name;
  int (*fn)(void);
} shape;

static const shape shapes[] = {
    {"sync-input", shape_sync_input},
    {"exec-shell", shape_exec_shell},
    {"ignore-and-fd", shape_ignore_and_fd},
    {"detached-group", shape_detached_group},
    {"kill-on-parent-exit", shape_kill_on_parent_exit},
    {"async-pipes", shape_async_pipes},
    {"fork-channel", shape_fork_channel},
    {"pool", shape_pool},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static int highest_fd(void) {
  int hi = 2;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return 64;
  int self = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] != '.' && fd != self && fd > hi) hi = fd;
  }
  closedir(d);
  return hi;
}

static bool sigchld_handler_installed(void) {
  struct sigaction sa;
  sigaction(SIGCHLD, NULL, &sa);
  return (sa.sa_flags & SA_SIGINFO) ? sa.sa_sigaction != NULL
                                    : sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
}

#if !defined(CHILDPROC_TEST_FORCE_SIGCHLD) && !defined(CHILDPROC_TEST_PORTABLE) && defined(__linux__)
static bool kernel_has_pidfd(void) {
  int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (fd < 0) return false;
  close(fd);
  return true;
}
#endif

/* limits-helper nofile|nproc: returns 0 when every shape behaved at every limit and everything
 * works again (on the fast path) once the limit is lifted. Prints one line per shape. */
static int limits_helper(const char *which) {
  bool nofile = strcmp(which, "nofile") == 0;
  int resource = nofile ? RLIMIT_NOFILE : RLIMIT_NPROC;
  int expected = nofile ? CP_EMFILE : CP_EAGAIN;
  struct rlimit orig;
  getrlimit(resource, &orig);
  int base = nofile ? highest_fd() + 1 : 1;
  int steps = nofile ? 16 : 12;
  int bad = 0;
  for (size_t k = 0; k < NSHAPES; k++) {
    int ok = 0, failed = 0, child_failed = 0;
    for (int l = base; l < base + steps; l++) {
      int fds0 = cptest_open_fds();
      struct rlimit rl = {(rlim_t)l, orig.rlim_max};
      if (setrlimit(resource, &rl) != 0) {
        fprintf(stderr, "setrlimit %d: %s\n", l, strerror(errno));
        return 3;
      }
      int out = shapes[k].fn();
      setrlimit(resource, &orig);
      if (out == 0)
        ok++;
      else if (out == expected)
        failed++;
      else if (out == CHILD_FAILED)
        child_failed++;
      else {
        fprintf(stderr, "%s limit %d, %s: %s\n", which, l, shapes[k].name,
                out == WRONG ? "wrong outcome" : cp_err_name(out));
        bad++;
      }
      int fds = cptest_open_fds();
      if (fds != fds0 || !cptest_no_children()) {
        fprintf(stderr, "%s limit %d, %s: %d descriptors (%d before), children left: %s\n", which, l,
                shapes[k].name, fds, fds0, cptest_no_children() ? "no" : "yes");
        bad++;
      }
    }
    fprintf(stderr, "%s %s: limits %d..%d: %d ok, %d %s, %d child could not run\n", which, shapes[k].name,
            base, base + steps - 1, ok, failed, cp_err_name(expected), child_failed);
  }
  /* The limit is lifted: every shape works, and nothing of the fault stuck. */
  for (size_t k = 0; k < NSHAPES; k++) {
    int out = shapes[k].fn();
    if (out != 0) {
      fprintf(stderr, "after lifting %s, %s: %s\n", which, shapes[k].name,
              out == WRONG          ? "wrong outcome"
              : out == CHILD_FAILED ? "the child failed"
                                    : cp_err_name(out));
      bad++;
    }
  }
#if defined(CHILDPROC_TEST_FORCE_SIGCHLD)
  bool sigchld_path = true; /* this build watches exits with SIGCHLD by design */
#elif defined(CHILDPROC_TEST_POLLER_KQUEUE)
  bool sigchld_path = false; /* exits by kqueue's EVFILT_PROC: no handler, whatever the faults */
#elif defined(CHILDPROC_TEST_PORTABLE) || !defined(__linux__)
  bool sigchld_path = true; /* this build watches exits with SIGCHLD by design */
#else
  bool sigchld_path = !kernel_has_pidfd();
#endif
  if (!sigchld_path && sigchld_handler_installed()) {
    fprintf(stderr,
            "after lifting %s: a SIGCHLD handler is installed although exits are watched by pidfd "
            "or kqueue (the fault left the library on the SIGCHLD path)\n",
            which);
    bad++;
  }
  return bad ? 1 : 0;
}

/* ---- the tests ---------------------------------------------------------------------------------- */

static void run_helper(const char *which, const cp_options *o) {
  const char *args[] = {"limits-helper", which, NULL};
  cp_result res;
  int rc = cp_spawn_sync(cptest_bin("test_limits"), args, o, &res);
  fputs(res.err.data, stdout); /* all of it: print_message() cuts long text */
  if (rc) printf("the helper did not run: %s\n", res.error.message);
  fflush(stdout);
  int64_t status = res.status;
  int sig = res.signal;
  cp_result_free(&res);
  assert_int_equal(rc, 0);
  assert_int_equal(sig, 0);
  assert_int_equal(status, 0);
}

static void nofile_swept_over_every_spawn_shape_then_lifted(void **state) {
  (void)state;
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_INHERIT, 0}, {CP_STDIO_PIPE, 0}}};
  run_helper("nofile", &o);
}

static void nproc_swept_as_a_non_root_user_then_lifted(void **state) {
  (void)state;
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_INHERIT, 0}, {CP_STDIO_PIPE, 0}}};
  if (geteuid() == 0) {
    /* root is exempt from RLIMIT_NPROC: the helper drops to nobody (it must be able to run from here) */
    if (access(cptest_bin("test_limits"), X_OK) != 0) CPTEST_SKIP("the test executable cannot be reached");
    o.set_uid = o.set_gid = true;
    o.uid = o.gid = 65534;
    o.cwd = "/";
    const char *probe_args[] = {"exit", "0", NULL};
    cp_result res;
    int rc = cp_spawn_sync(cptest_helper(), probe_args, &o, &res);
    bool reachable = rc == 0 && res.status == 0;
    cp_result_free(&res);
    if (!reachable) CPTEST_SKIP("user nobody cannot run the build tree's programs (directory permissions)");
  }
  run_helper("nproc", &o);
}

static const cp_worker_def workers[] = {
    {"echo", cptest_worker_echo, NULL},
    {"serve", worker_serve, NULL},
};

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, sizeof workers / sizeof workers[0], &status)) return status;
  if (argc == 3 && strcmp(argv[1], "limits-helper") == 0) return limits_helper(argv[2]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(nofile_swept_over_every_spawn_shape_then_lifted),
      cmocka_unit_test(nproc_swept_as_a_non_root_user_then_lifted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
