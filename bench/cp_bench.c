/* cp_bench - childproc against the raw system calls, one measurement per invocation.
 *
 *   cp_bench spawn   --key K --modes MODE:N[,MODE:N...] [--inflight K] [--heap-mib H] [--reps R]
 *       spawn+wait of /bin/true, N times, K at a time (1 = sequential), from a parent with H MiB
 *       resident (touched) memory, each MODE (posix_spawn, fork, vfork, cp-sync = cp_spawn_sync,
 *       cp-async = cp_spawn on a loop) R times, interleaved. Prints K.MODE.per_s (spawns per second)
 *       and K.MODE.us (µs per spawn), '-' in MODE written '_'. With --small-key S [--small-count N],
 *       each repetition also runs `cp_bench spawn --key S --modes cp-sync:N` in a fresh small process
 *       (the small-parent reference for the big-heap figures, measured in the same time window).
 *   cp_bench pipe    --key K --mode cp|raw --bytes B
 *       B bytes from a child writing 64 KiB blocks to its stdout: cp_spawn's on_stdout, or a raw
 *       blocking read() loop with the library's 64 KiB buffer. Prints K.mib_s.
 *   cp_bench capture --key K --mode exec|spawn|raw --mib M
 *       cp_exec_sync / cp_spawn_sync capture of M MiB (max_buffer unlimited), or posix_spawn + read()
 *       into a doubling buffer. Prints K.ms and K.peak_mib (VmHWM growth of this process).
 *   cp_bench rtt     --key K --mode cp-json|cp-binary|raw|raw-epoll --count N [--warm-ms W]
 *       after W ms (default 500) of uncounted round trips, N round trips of a 46-byte JSON message to an echoing worker (cp_fork_worker of this
 *       program), or over a socketpair to a forked child with blocking read()/write() (raw), or
 *       with each side waiting in epoll_wait() before its read() as any event loop does
 *       (raw-epoll: the physical limit of an event loop). K.per_s.
 *   cp_bench oneway  --key K --mode cp-json|cp-binary|raw-json|raw-binary|raw-epoll-json|raw-epoll-binary
 *                    --count N [--size S] [--warm-ms W]
 *       N messages of S bytes (default 1024) one way, then one acknowledgement, timed after batches
 *       of N sent for W ms (default 500). K.per_s, K.mib_s.
 *       raw-epoll-*: both sides non-blocking, waiting in epoll_wait() (the limit of event loops).
 *   cp_bench many    --key K --mode cp|raw --children N
 *       N children alive at once, each blocked on a shared "gate" pipe on stdin with its stdout a
 *       pipe to us; once all run the gate opens, each writes a line and exits. Wall time from the
 *       first spawn to the last close (K.ms, raw: posix_spawn + epoll + waitpid) and this process's
 *       RSS growth per live child (K.kib_per_child), both after a warm-up round of one child.
 *   cp_bench env     --key K --mode cp|raw --entries N
 *       spawn+wait of /bin/true with N variables added to the environment: cp_spawn_sync merging
 *       them (CP_ENV_EXTEND), or posix_spawn with the list already built. Prints K.ms.
 *   cp_bench produce B            (helper) writes B bytes to stdout in 64 KiB blocks
 *   cp_bench gate-child           (helper) waits for end of file on stdin, writes a line, exits
 */
#define _GNU_SOURCE
#include "common.h"

#include <childproc.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

extern char **environ;

#define BLOCK (64 * 1024) /* the library's read buffer (POSIX_READ_BUF) */

static char self_path[4096];

static void find_self(void) {
  ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  if (n <= 0) bench_die("readlink /proc/self/exe: %s", strerror(errno));
  self_path[n] = '\0';
}

static void keyed(const char *key, const char *suffix, double v) {
  char k[256];
  snprintf(k, sizeof k, "%.200s.%.40s", key, suffix);
  bench_result(k, v);
}

static void wait_pid(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) bench_die("waitpid: %s", strerror(errno));
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bench_die("child %d failed (status %#x)", (int)pid, st);
}

/* ---------------------------------------------------------------------------------------------
 * spawn
 * ------------------------------------------------------------------------------------------ */

static char *const true_argv[] = {"/bin/true", NULL};

static pid_t raw_start(const char *mode) {
  pid_t pid;
  if (strcmp(mode, "posix_spawn") == 0) {
    int rc = posix_spawn(&pid, "/bin/true", NULL, NULL, true_argv, environ);
    if (rc) bench_die("posix_spawn: %s", strerror(rc));
    return pid;
  }
  if (strcmp(mode, "fork") == 0) {
    pid = fork();
    if (pid == 0) {
      execve("/bin/true", true_argv, environ);
      _exit(127);
    }
  } else {
    pid = vfork();
    if (pid == 0) {
      execve("/bin/true", true_argv, environ);
      _exit(127);
    }
  }
  if (pid < 0) bench_die("%s: %s", mode, strerror(errno));
  return pid;
}

static void raw_spawn_run(const char *mode, long n, long inflight) {
  long started = 0, done = 0, alive = 0;
  while (done < n) {
    while (alive < inflight && started < n) {
      raw_start(mode);
      started++;
      alive++;
    }
    int st;
    pid_t p = waitpid(-1, &st, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      bench_die("waitpid: %s", strerror(errno));
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bench_die("/bin/true failed (%#x)", st);
    alive--;
    done++;
  }
}

static const cp_options inherit_all = {
    .stdio = {{CP_STDIO_INHERIT, 0}, {CP_STDIO_INHERIT, 0}, {CP_STDIO_INHERIT, 0}}};

static void cp_sync_run(long n) {
  for (long i = 0; i < n; i++) {
    cp_result r;
    int rc = cp_spawn_sync("/bin/true", NULL, &inherit_all, &r);
    if (rc || r.status != 0) bench_die("cp_spawn_sync: %s (status %lld)", r.error.message, (long long)r.status);
    cp_result_free(&r);
  }
}

typedef struct async_state {
  cp_loop *loop;
  long n, started, done;
  bool failed;
} async_state;

static void async_start_one(async_state *s);

static void async_on_close(cp_child *c, int64_t status, int sig, void *ud) {
  async_state *s = ud;
  if (status != 0 || sig) s->failed = true;
  cp_child_free(c);
  s->done++;
  if (s->started < s->n) async_start_one(s);
}

static void async_on_error(cp_child *c, const cp_error *err, void *ud) {
  (void)c;
  ((async_state *)ud)->failed = true;
  fprintf(stderr, "bench: cp_spawn: %s\n", err->message);
}

static void async_start_one(async_state *s) {
  static const cp_child_events ev = {.on_close = async_on_close, .on_error = async_on_error};
  cp_child *c;
  int rc = cp_spawn(s->loop, "/bin/true", NULL, &inherit_all, &ev, s, &c);
  if (rc) bench_die("cp_spawn: %s", cp_strerror(rc));
  s->started++;
}

static void cp_async_run(long n, long inflight) {
  async_state s = {.n = n};
  if (cp_loop_new(&s.loop)) bench_die("cp_loop_new");
  for (long i = 0; i < inflight && s.started < n; i++) async_start_one(&s);
  int rc = cp_loop_run(s.loop, CP_RUN_DEFAULT);
  if (rc < 0 || s.failed || s.done != n) bench_die("cp async spawn: rc %d, %ld of %ld done", rc, s.done, n);
  cp_loop_free(s.loop);
}

/* --modes "cp-sync:2000,fork:20" --reps R: every mode R times, interleaved, in this one process
 * (so a big heap is built once); keys are <key>.<mode>.per_s / .us with '-' in the mode as '_'. */
static int cmd_spawn(int argc, char **argv) {
  const char *key = bench_opt_s(argc, argv, "--key", "spawn");
  const char *modes = bench_opt_s(argc, argv, "--modes", "cp-sync:2000");
  long inflight = bench_opt(argc, argv, "--inflight", 1);
  long heap_mib = bench_opt(argc, argv, "--heap-mib", 0);
  long reps = bench_opt(argc, argv, "--reps", 1);
  const char *small_key = bench_opt_s(argc, argv, "--small-key", NULL);
  long small_n = bench_opt(argc, argv, "--small-count", 2000);
  char mode[16][32];
  long count[16];
  int nm = 0;
  for (const char *p = modes; *p && nm < 16;) {
    size_t l = strcspn(p, ":,");
    if (l == 0 || l >= sizeof mode[0]) bench_die("spawn: bad --modes %s", modes);
    memcpy(mode[nm], p, l);
    mode[nm][l] = '\0';
    p += l;
    count[nm] = 2000;
    if (*p == ':') count[nm] = strtol(p + 1, (char **)&p, 10);
    if (*p == ',') p++;
    if (strcmp(mode[nm], "posix_spawn") && strcmp(mode[nm], "fork") && strcmp(mode[nm], "vfork") &&
        strcmp(mode[nm], "cp-sync") && strcmp(mode[nm], "cp-async"))
      bench_die("spawn: unknown mode %s", mode[nm]);
    nm++;
  }
  const char *skip;
  void *heap = bench_heap((size_t)heap_mib, &skip);
  if (skip) {
    for (int m = 0; m < nm; m++) {
      char k[256];
      snprintf(k, sizeof k, "%.200s.%.31s", key, mode[m]);
      for (char *c = k; *c; c++) *c = *c == '-' ? '_' : *c;
      bench_skip(k, skip);
    }
    return 0;
  }
  for (long r = 0; r < reps; r++) {
    for (int m = 0; m < nm; m++) {
      const char *md = mode[m];
      long n = count[m];
      bool raw = strncmp(md, "cp-", 3) != 0;
      /* a few untimed spawns first: page cache, loader and library set-up out of the figure */
      if (raw)
        raw_spawn_run(md, 4, 1);
      else if (strcmp(md, "cp-sync") == 0)
        cp_sync_run(4);
      else
        cp_async_run(4, 1);
      double t0 = bench_now();
      if (raw)
        raw_spawn_run(md, n, inflight);
      else if (strcmp(md, "cp-sync") == 0)
        cp_sync_run(n);
      else
        cp_async_run(n, inflight);
      double dt = bench_now() - t0;
      char k[256];
      snprintf(k, sizeof k, "%.200s.%.31s", key, md);
      for (char *c = k; *c; c++) *c = *c == '-' ? '_' : *c;
      keyed(k, "per_s", (double)n / dt);
      keyed(k, "us", dt / (double)n * 1e6);
    }
    if (small_key) {
      /* the same library from a small parent, in this repetition's time window: a fresh process
       * of this program without the heap (its RESULT lines go to our stdout) */
      char num[48];
      snprintf(num, sizeof num, "cp-sync:%ld", small_n);
      char *args[] = {self_path, "spawn", "--key", (char *)small_key, "--modes", num, NULL};
      pid_t pid;
      int rc = posix_spawn(&pid, self_path, NULL, NULL, args, environ);
      if (rc) bench_die("posix_spawn: %s", strerror(rc));
      wait_pid(pid);
    }
  }
  bench_heap_free(heap, (size_t)heap_mib);
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * pipe throughput and capture
 * ------------------------------------------------------------------------------------------ */

static int cmd_produce(int argc, char **argv) {
  if (argc < 1) bench_die("produce BYTES");
  long long left = strtoll(argv[0], NULL, 10);
  static char block[BLOCK];
  memset(block, 'x', sizeof block);
  while (left > 0) {
    size_t want = left < (long long)sizeof block ? (size_t)left : sizeof block;
    ssize_t n = write(1, block, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    left -= n;
  }
  return 0;
}

/* posix_spawn of `cp_bench produce B` with its stdout on a new pipe; *rfd gets our end. */
static pid_t raw_producer(long long bytes, int *rfd) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) bench_die("pipe2: %s", strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  char num[32];
  snprintf(num, sizeof num, "%lld", bytes);
  char *args[] = {self_path, "produce", num, NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, self_path, &fa, NULL, args, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) bench_die("posix_spawn: %s", strerror(rc));
  close(p[1]);
  *rfd = p[0];
  return pid;
}

typedef struct pipe_state {
  long long got;
  bool failed, eof;
} pipe_state;

static void pipe_on_stdout(cp_child *c, const char *data, size_t len, void *ud) {
  (void)c, (void)data;
  pipe_state *s = ud;
  if (len == 0) s->eof = true;
  s->got += (long long)len;
}

static void pipe_on_close(cp_child *c, int64_t status, int sig, void *ud) {
  pipe_state *s = ud;
  if (status != 0 || sig) s->failed = true;
  cp_child_free(c);
}

static int cmd_pipe(int argc, char **argv) {
  const char *key = bench_opt_s(argc, argv, "--key", "pipe");
  const char *mode = bench_opt_s(argc, argv, "--mode", "cp");
  long long bytes = (long long)bench_opt(argc, argv, "--bytes", 1L << 30);
  char num[32];
  snprintf(num, sizeof num, "%lld", bytes);
  double t0, dt;
  if (strcmp(mode, "raw") == 0) {
    static char buf[BLOCK];
    int fd;
    t0 = bench_now();
    pid_t pid = raw_producer(bytes, &fd);
    long long got = 0;
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) bench_die("read: %s", strerror(errno));
      if (n == 0) break;
      got += n;
    }
    close(fd);
    wait_pid(pid);
    dt = bench_now() - t0;
    if (got != bytes) bench_die("raw pipe: got %lld of %lld bytes", got, bytes);
  } else if (strcmp(mode, "cp") == 0) {
    cp_loop *loop;
    if (cp_loop_new(&loop)) bench_die("cp_loop_new");
    pipe_state s = {0};
    const cp_child_events ev = {.on_stdout = pipe_on_stdout, .on_close = pipe_on_close};
    const char *args[] = {"produce", num, NULL};
    cp_options o = {.stdio = {{CP_STDIO_INHERIT, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_INHERIT, 0}}};
    cp_child *c;
    t0 = bench_now();
    if (cp_spawn(loop, self_path, args, &o, &ev, &s, &c)) bench_die("cp_spawn");
    if (cp_loop_run(loop, CP_RUN_DEFAULT) < 0) bench_die("cp_loop_run");
    dt = bench_now() - t0;
    cp_loop_free(loop);
    if (s.failed || s.got != bytes || !s.eof) bench_die("cp pipe: got %lld of %lld bytes", s.got, bytes);
  } else {
    bench_die("pipe: unknown mode %s", mode);
  }
  keyed(key, "mib_s", (double)bytes / (1 << 20) / dt);
  return 0;
}

/* env: one spawn+wait of /bin/true whose environment is the parent's plus N added variables. cp:
 * cp_spawn_sync with options.env (CP_ENV_EXTEND: the library merges them by name); raw: the same
 * list already built, handed to posix_spawn. The difference is the library's merge (issue 14: it
 * was quadratic). Prints K.ms. */
static int cmd_env(int argc, char **argv) {
  const char *key = bench_opt_s(argc, argv, "--key", "env");
  const char *mode = bench_opt_s(argc, argv, "--mode", "cp");
  long n = bench_opt(argc, argv, "--entries", 100000);
  size_t nparent = 0;
  while (environ[nparent]) nparent++;
  char *names = malloc((size_t)n * 9);
  const char **env = calloc(nparent + (size_t)n + 1, sizeof *env);
  if (!names || !env) bench_die("out of memory");
  size_t k = 0;
  if (strcmp(mode, "raw") == 0)
    for (; k < nparent; k++) env[k] = environ[k];
  for (long i = 0; i < n; i++, k++) {
    snprintf(names + i * 9, 9, "E%06ld=", i % 1000000);
    env[k] = names + i * 9;
  }
  const char *true_args[] = {"/bin/true", NULL};
  double t0 = bench_now();
  if (strcmp(mode, "raw") == 0) {
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/true", NULL, NULL, (char *const *)true_args, (char *const *)env);
    if (rc) bench_die("posix_spawn: %s", strerror(rc));
    wait_pid(pid);
  } else {
    cp_options o = {.env = env, .env_mode = CP_ENV_EXTEND};
    cp_result r;
    int rc = cp_spawn_sync("/bin/true", NULL, &o, &r);
    if (rc || r.status != 0) bench_die("cp_spawn_sync: %s", r.error.message);
    cp_result_free(&r);
  }
  keyed(key, "ms", (bench_now() - t0) * 1e3);
  free(env);
  free(names);
  return 0;
}

static int cmd_capture(int argc, char **argv) {
  const char *key = bench_opt_s(argc, argv, "--key", "capture");
  const char *mode = bench_opt_s(argc, argv, "--mode", "exec");
  long mib = bench_opt(argc, argv, "--mib", 100);
  long long bytes = (long long)mib << 20;
  char num[32];
  snprintf(num, sizeof num, "%lld", bytes);
  long rss0 = bench_status_kib("VmRSS");
  double t0 = bench_now();
  size_t got;
  if (strcmp(mode, "raw") == 0) {
    int fd;
    pid_t pid = raw_producer(bytes, &fd);
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    for (;;) {
      if (cap - len < BLOCK) {
        while (cap - len < BLOCK) cap *= 2;
        buf = realloc(buf, cap);
        if (!buf) bench_die("out of memory");
      }
      ssize_t n = read(fd, buf + len, BLOCK);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) bench_die("read: %s", strerror(errno));
      if (n == 0) break;
      len += (size_t)n;
    }
    close(fd);
    wait_pid(pid);
    got = len;
    free(buf);
  } else {
    cp_options o = {.max_buffer = CP_MAX_BUFFER_UNLIMITED};
    o.stdio[0].kind = CP_STDIO_INHERIT;
    o.stdio[2].kind = CP_STDIO_INHERIT;
    cp_result r;
    int rc;
    if (strcmp(mode, "exec") == 0) {
      char cmd[4200];
      snprintf(cmd, sizeof cmd, "'%s' produce %s", self_path, num);
      rc = cp_exec_sync(cmd, &o, &r);
    } else {
      const char *args[] = {"produce", num, NULL};
      rc = cp_spawn_sync(self_path, args, &o, &r);
    }
    if (rc || r.status != 0) bench_die("%s capture: %s", mode, r.error.message);
    got = r.out.len;
    cp_result_free(&r);
  }
  double dt = bench_now() - t0;
  long hwm = bench_status_kib("VmHWM");
  if ((long long)got != bytes) bench_die("capture: got %zu of %lld bytes", got, bytes);
  keyed(key, "ms", dt * 1e3);
  keyed(key, "ms_per_mib", dt * 1e3 / (double)mib);
  if (rss0 >= 0 && hwm >= 0) {
    keyed(key, "peak_mib", (double)(hwm - rss0) / 1024.0);
    keyed(key, "peak_ratio", (double)(hwm - rss0) / 1024.0 / (double)mib);
  }
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * the channel
 * ------------------------------------------------------------------------------------------ */

static const char ping_msg[] = "{\"seq\":1234567,\"cmd\":\"ping\",\"data\":\"abcdefgh\"}"; /* 46 bytes */

/* workers: "echo" sends every message back; "sink N" counts N messages then answers once */
static void echo_on_message(cp_channel *ch, const char *msg, size_t len, void *ud) {
  (void)ud;
  if (cp_channel_send(ch, msg, len, NULL, NULL)) cp_channel_disconnect(ch);
}

static int worker_echo(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  if (!ch) return 1;
  const cp_channel_events ev = {.on_message = echo_on_message};
  return cp_channel_set_events(ch, &ev, NULL) ? 1 : 0;
}

typedef struct sink_state {
  long want, got;
} sink_state;

static void sink_on_message(cp_channel *ch, const char *msg, size_t len, void *ud) {
  (void)msg, (void)len;
  sink_state *s = ud;
  if (++s->got % s->want == 0) cp_channel_send(ch, "{\"done\":true}", 13, NULL, NULL); /* each batch */
}

static int worker_sink(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)ud;
  if (!ch || argc < 2) return 1;
  static sink_state s;
  s.want = strtol(argv[1], NULL, 10);
  const cp_channel_events ev = {.on_message = sink_on_message};
  if (cp_channel_set_events(ch, &ev, &s)) return 1;
  return cp_channel_send(ch, "{\"ready\":true}", 14, NULL, NULL) ? 1 : 0; /* the parent times from here */
}

static const cp_worker_def bench_workers[] = {{"echo", worker_echo, NULL}, {"sink", worker_sink, NULL}};

typedef struct chan_state {
  cp_channel *ch;
  const char *msg;
  size_t len;
  long warm, total, got, sent, queued;
  double t0, t1, warm_until; /* rtt: round trips before warm_until are the warm-up, not counted */
  bool failed;
} chan_state;

static void rtt_on_message(cp_child *c, const char *msg, size_t len, void *ud) {
  chan_state *s = ud;
  (void)c;
  if (len != s->len || memcmp(msg, s->msg, len)) s->failed = true;
  s->got++;
  if (s->warm == 0 && bench_now() >= s->warm_until) { /* warm-up over: count from here */
    s->warm = s->got;
    s->t0 = bench_now();
  }
  if (s->warm == 0 || s->got < s->warm + s->total) {
    if (cp_channel_send(s->ch, s->msg, s->len, NULL, NULL)) s->failed = true;
  } else {
    s->t1 = bench_now();
    cp_channel_disconnect(s->ch);
  }
}

static void chan_on_close(cp_child *c, int64_t status, int sig, void *ud) {
  chan_state *s = ud;
  if (status != 0 || sig) s->failed = true;
  cp_child_free(c);
}

static cp_child *start_worker(cp_loop *loop, const char *name, const char *arg, cp_channel_mode mode,
                              const cp_child_events *ev, chan_state *s) {
  const char *args[] = {arg, NULL};
  cp_options o = {.channel = mode};
  cp_child *c;
  int rc = cp_fork_worker(loop, name, arg ? args : NULL, &o, ev, s, &c);
  if (rc) bench_die("cp_fork_worker: %s", cp_strerror(rc));
  s->ch = cp_child_channel(c);
  return c;
}

/* A raw peer: a forked child on one end of a socketpair. Returns 0 in the child and the child's pid
 * in the parent, each with its own end in *fd. */
static pid_t fork_socket_peer(int *fd) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) bench_die("socketpair: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) bench_die("fork: %s", strerror(errno));
  close(sv[pid == 0 ? 0 : 1]);
  *fd = sv[pid == 0 ? 1 : 0];
  return pid;
}

/* raw-epoll: a non-blocking socket whose reads each wait in epoll_wait() first, as an event loop's */
static int epoll_of(int fd) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) bench_die("epoll: %s", strerror(errno));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return ep;
}

/* read(), or with ep >= 0, epoll_wait() then read() until something came; ep == POLL_WAIT: poll() */
#define POLL_WAIT (-2)
static ssize_t read_after_wait(int ep, int fd, void *buf, size_t len) {
  if (ep == -1) return read(fd, buf, len);
  for (;;) {
    struct epoll_event ev;
    struct pollfd p = {fd, POLLIN, 0};
    if ((ep == POLL_WAIT ? poll(&p, 1, -1) : epoll_wait(ep, &ev, 1, -1)) < 0 && errno != EINTR) return -1;
    ssize_t n = read(fd, buf, len);
    if (n >= 0 || (errno != EAGAIN && errno != EINTR)) return n;
  }
}

/* waiter for read_after_wait on fd: -1 (blocking read), an epoll fd, or POLL_WAIT */
static int waiter_of(const char *mode, int fd) {
  if (strcmp(mode, "raw-epoll") == 0) return epoll_of(fd);
  if (strcmp(mode, "raw-poll") != 0) return -1;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return POLL_WAIT;
}

/* the raw echo peer: a forked child echoing bytes on a socketpair, waiting as mode says */
static pid_t raw_echo_peer(int *fd, const char *mode) {
  pid_t pid = fork_socket_peer(fd);
  if (pid == 0) {
    int sock = *fd;
    int ep = waiter_of(mode, sock);
    static char buf[BLOCK];
    for (;;) {
      ssize_t n = read_after_wait(ep, sock, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(0);
      for (ssize_t off = 0; off < n;) {
        ssize_t w = write(sock, buf + off, (size_t)(n - off));
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w < 0) _exit(1);
        off += w;
      }
    }
  }
  return pid;
}

static void write_all(int fd, const void *p, size_t n) {
  const char *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) bench_die("write: %s", strerror(errno));
    b += w;
    n -= (size_t)w;
  }
}

static int cmd_rtt(int argc, char **argv) {
  const char *key = bench_opt_s(argc, argv, "--key", "rtt");
  const char *mode = bench_opt_s(argc, argv, "--mode", "cp-json");
  long n = bench_opt(argc, argv, "--count", 20000);
  /* round trips for --warm-ms first, not counted: a process's first half second of ping-pong runs at
   * half speed on a VM (docs/performance.md, "Warm-up"), whichever side is measured */
  double warm_s = (double)bench_opt(argc, argv, "--warm-ms", 500) / 1e3;
  double dt;
  if (strcmp(mode, "raw") == 0 || strcmp(mode, "raw-epoll") == 0 || strcmp(mode, "raw-poll") == 0) {
    int fd;
    pid_t pid = raw_echo_peer(&fd, mode);
    int ep = waiter_of(mode, fd);
    char line[64], in[256];
    size_t len = sizeof ping_msg - 1;
    memcpy(line, ping_msg, len);
    line[len++] = '\n';
    double t0 = 0, warm_until = bench_now() + warm_s;
    for (long i = 0, warm = -1; warm < 0 || i < warm + n; i++) {
      if (warm < 0 && (t0 = bench_now()) >= warm_until) warm = i;
      write_all(fd, line, len);
      size_t got = 0;
      while (got < len) { /* the whole line back, '\n' included */
        ssize_t r = read_after_wait(ep, fd, in + got, sizeof in - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) bench_die("raw echo: read failed");
        got += (size_t)r;
      }
      if (memcmp(in, line, len)) bench_die("raw echo: wrong bytes");
    }
    dt = bench_now() - t0;
    if (ep >= 0) close(ep);
    close(fd);
    wait_pid(pid);
  } else {
    cp_channel_mode cm;
    if (strcmp(mode, "cp-json") == 0)
      cm = CP_CHANNEL_JSON;
    else if (strcmp(mode, "cp-binary") == 0)
      cm = CP_CHANNEL_BINARY;
    else
      bench_die("rtt: unknown mode %s", mode);
    cp_loop *loop;
    if (cp_loop_new(&loop)) bench_die("cp_loop_new");
    chan_state s = {.msg = ping_msg, .len = sizeof ping_msg - 1, .total = n, .warm_until = bench_now() + warm_s};
    const cp_child_events ev = {.on_message = rtt_on_message, .on_close = chan_on_close};
    start_worker(loop, "echo", NULL, cm, &ev, &s);
    if (cp_channel_send(s.ch, s.msg, s.len, NULL, NULL)) bench_die("cp_channel_send");
    if (cp_loop_run(loop, CP_RUN_DEFAULT) < 0) bench_die("cp_loop_run");
    cp_loop_free(loop);
    if (s.failed || s.warm == 0 || s.got != s.warm + n) bench_die("cp rtt: %ld of %ld round trips", s.got, s.warm + n);
    dt = s.t1 - s.t0;
  }
  keyed(key, "per_s", (double)n / dt);
  keyed(key, "us", dt / (double)n * 1e6);
  return 0;
}

/* One-way: at most WINDOW sends queued in the library at a time (its write callback refills), as
 * a program respecting back-pressure would. */
#define WINDOW 256

static void oneway_pump(chan_state *s);

static void oneway_on_sent(cp_channel *ch, int status, void *ud) {
  (void)ch;
  chan_state *s = ud;
  if (status) s->failed = true;
  s->queued--;
  oneway_pump(s);
}

static void oneway_pump(chan_state *s) {
  while (s->queued < WINDOW && s->sent < s->total) {
    if (cp_channel_send(s->ch, s->msg, s->len, oneway_on_sent, s)) {
      s->failed = true;
      return;
    }
    s->sent++;
    s->queued++;
  }
}

/* The worker says it is ready, then acknowledges each batch of `total` messages: batches go until
 * warm_until (the warm-up), then one more is timed. */
static void oneway_on_message(cp_child *c, const char *msg, size_t len, void *ud) {
  (void)c, (void)msg, (void)len;
  chan_state *s = ud;
  double now = bench_now();
  if (s->t0 != 0) { /* the timed batch arrived */
    s->t1 = now;
    s->got++;
    cp_channel_disconnect(s->ch);
    return;
  }
  if (now >= s->warm_until) s->t0 = now; /* warm: this batch is timed */
  s->sent = 0;
  oneway_pump(s);
}

/* a 1 KiB message: JSON {"d":"xxx..."} or binary bytes, exactly size bytes */
static char *make_message(size_t size, bool json) {
  char *m = malloc(size);
  if (!m || size < 16) bench_die("message size");
  if (json) {
    memset(m, 'x', size);
    memcpy(m, "{\"d\":\"", 6);
    memcpy(m + size - 2, "\"}", 2);
  } else {
    for (size_t i = 0; i < size; i++) m[i] = (char)(i * 31 + 7);
  }
  return m;
}

/* the raw sink: counts frames ('\n'-terminated, or 4-byte length prefixed) and writes 1 byte after
 * each n, until end of file */
static pid_t raw_sink_peer(int *fd, long n, bool json, bool use_epoll) {
  pid_t pid = fork_socket_peer(fd);
  if (pid == 0) {
    int sock = *fd;
    int ep = use_epoll ? epoll_of(sock) : -1;
    static char buf[BLOCK];
    long got = 0;
    unsigned char hdr[4];
    size_t hdr_have = 0, body_left = 0;
    for (long acked = 0;;) {
      if (got / n > acked) { /* a batch is in: acknowledge it (blocking, it is one byte) */
        acked++;
        if (ep >= 0) fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
        write_all(sock, "k", 1);
        if (ep >= 0) fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
      }
      ssize_t r = read_after_wait(ep, sock, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) _exit(0);
      if (r < 0) _exit(1);
      const char *p = buf, *end = buf + r;
      if (json) {
        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
          got++;
          p++;
        }
        continue;
      }
      while (p < end) {
        if (body_left) {
          size_t take = (size_t)(end - p) < body_left ? (size_t)(end - p) : body_left;
          p += take;
          body_left -= take;
          if (!body_left) got++;
          continue;
        }
        hdr[hdr_have++] = (unsigned char)*p++;
        if (hdr_have == 4) {
          body_left = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
          hdr_have = 0;
          if (!body_left) got++;
        }
      }
    }
  }
  return pid;
}

static int cmd_oneway(int argc, char **argv) {
  const char *key = bench_opt_s(argc, argv, "--key", "oneway");
  const char *mode = bench_opt_s(argc, argv, "--mode", "cp-json");
  long n = bench_opt(argc, argv, "--count", 100000);
  size_t size = (size_t)bench_opt(argc, argv, "--size", 1024);
  bool json = strstr(mode, "json") != NULL;
  char *msg = make_message(size, json);
  /* batches of n, each acknowledged, until --warm-ms passed (default 500, not counted), then the
   * timed one: as for rtt, a process's first half second runs slower on a VM */
  double warm_until = bench_now() + (double)bench_opt(argc, argv, "--warm-ms", 500) / 1e3;
  double dt;
  if (strncmp(mode, "raw-", 4) == 0) {
    int fd;
    bool use_epoll = strncmp(mode, "raw-epoll-", 10) == 0;
    pid_t pid = raw_sink_peer(&fd, n, json, use_epoll);
    int wep = -1; /* raw-epoll: a non-blocking sender that waits in epoll_wait() when the socket is full */
    if (use_epoll) {
      struct epoll_event ev = {.events = EPOLLOUT};
      wep = epoll_create1(EPOLL_CLOEXEC);
      if (wep < 0 || epoll_ctl(wep, EPOLL_CTL_ADD, fd, &ev) < 0) bench_die("epoll: %s", strerror(errno));
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    size_t flen = size + (json ? 1 : 4);
    char *frame = malloc(flen);
    if (json) {
      memcpy(frame, msg, size);
      frame[size] = '\n';
    } else {
      frame[0] = (char)(size & 0xff), frame[1] = (char)(size >> 8 & 0xff);
      frame[2] = (char)(size >> 16 & 0xff), frame[3] = (char)(size >> 24 & 0xff);
      memcpy(frame + 4, msg, size);
    }
    double t0;
    bool timed = false;
    do {
      t0 = bench_now();
      timed = t0 >= warm_until;
      for (long i = 0; i < n; i++) { /* one write per message, as the library */
        if (wep < 0) {
          write_all(fd, frame, flen);
          continue;
        }
        for (size_t off = 0; off < flen;) {
          ssize_t w = write(fd, frame + off, flen - off);
          struct epoll_event ev;
          if (w > 0)
            off += (size_t)w;
          else if (errno == EAGAIN)
            epoll_wait(wep, &ev, 1, -1);
          else if (errno != EINTR)
            bench_die("write: %s", strerror(errno));
        }
      }
      char k;
      if (read_after_wait(wep >= 0 ? POLL_WAIT : -1, fd, &k, 1) != 1) bench_die("raw sink: no acknowledgement");
    } while (!timed);
    dt = bench_now() - t0;
    if (wep >= 0) close(wep);
    close(fd);
    wait_pid(pid);
    free(frame);
  } else {
    cp_channel_mode cm = json ? CP_CHANNEL_JSON : CP_CHANNEL_BINARY;
    if (strcmp(mode, "cp-json") && strcmp(mode, "cp-binary")) bench_die("oneway: unknown mode %s", mode);
    cp_loop *loop;
    if (cp_loop_new(&loop)) bench_die("cp_loop_new");
    chan_state s = {.msg = msg, .len = size, .total = n, .warm_until = warm_until};
    const cp_child_events ev = {.on_message = oneway_on_message, .on_close = chan_on_close};
    char num[32];
    snprintf(num, sizeof num, "%ld", n);
    start_worker(loop, "sink", num, cm, &ev, &s);
    if (cp_loop_run(loop, CP_RUN_DEFAULT) < 0) bench_die("cp_loop_run");
    cp_loop_free(loop);
    if (s.failed || s.got != 1 || s.sent != n) bench_die("cp oneway: sent %ld of %ld", s.sent, n);
    dt = s.t1 - s.t0;
  }
  free(msg);
  keyed(key, "per_s", (double)n / dt);
  keyed(key, "mib_s", (double)n * (double)size / (1 << 20) / dt);
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * many children
 * ------------------------------------------------------------------------------------------ */

static int cmd_gate_child(void) {
  char b[64];
  for (;;) {
    ssize_t n = read(0, b, sizeof b);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  static const char line[] = "gate opened, child done\n";
  write_all(1, line, sizeof line - 1);
  return 0;
}

typedef struct many_state {
  long closed, bytes;
  bool failed;
} many_state;

static void many_on_stdout(cp_child *c, const char *data, size_t len, void *ud) {
  (void)c, (void)data;
  ((many_state *)ud)->bytes += (long)len;
}

static void many_on_close(cp_child *c, int64_t status, int sig, void *ud) {
  many_state *s = ud;
  if (status != 0 || sig) s->failed = true;
  s->closed++;
  cp_child_free(c);
}

static void many_on_error(cp_child *c, const cp_error *err, void *ud) {
  (void)c;
  ((many_state *)ud)->failed = true;
  fprintf(stderr, "bench: %s\n", err->message);
}

/* One round of `many`: n children alive at once behind a shut gate, then the gate opened and all of
 * them read to the end and reaped. rss[0], rss[1], rss[2]: VmRSS (KiB) before the first spawn, at
 * the n/2-th and once all n run. */
static void many_round(const char *mode, cp_loop *loop, long n, long rss[3]) {
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) < 0) bench_die("pipe2: %s", strerror(errno));
  char *args[] = {self_path, "gate-child", NULL};
  long expect = n * 24;
  rss[0] = bench_status_kib("VmRSS");
  rss[1] = -1;
  if (strcmp(mode, "raw") == 0) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    int *fds = calloc((size_t)n, sizeof *fds);
    if (ep < 0 || !pids || !fds) bench_die("raw many: set-up");
    for (long i = 0; i < n; i++) {
      if (i == n / 2) rss[1] = bench_status_kib("VmRSS");
      int p[2];
      if (pipe2(p, O_CLOEXEC) < 0) bench_die("pipe2 (child %ld): %s", i, strerror(errno));
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_adddup2(&fa, gate[0], 0);
      posix_spawn_file_actions_adddup2(&fa, p[1], 1);
      int rc = posix_spawn(&pids[i], self_path, &fa, NULL, args, environ);
      posix_spawn_file_actions_destroy(&fa);
      if (rc) bench_die("posix_spawn (child %ld): %s", i, strerror(rc));
      close(p[1]);
      fcntl(p[0], F_SETFL, O_NONBLOCK);
      fds[i] = p[0];
      struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
      if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0) bench_die("epoll_ctl: %s", strerror(errno));
    }
    rss[2] = bench_status_kib("VmRSS");
    close(gate[1]);
    long open = n, bytes = 0;
    static char buf[BLOCK];
    struct epoll_event evs[256];
    while (open) {
      int k = epoll_wait(ep, evs, 256, -1);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) bench_die("epoll_wait: %s", strerror(errno));
      for (int j = 0; j < k; j++) {
        long i = (long)evs[j].data.u64;
        for (;;) {
          ssize_t r = read(fds[i], buf, sizeof buf);
          if (r > 0) {
            bytes += r;
            continue;
          }
          if (r < 0 && errno == EINTR) continue;
          if (r < 0 && errno == EAGAIN) break;
          close(fds[i]); /* end of file (or an error): this child is done */
          wait_pid(pids[i]);
          open--;
          break;
        }
      }
    }
    close(ep);
    free(pids);
    free(fds);
    if (bytes != expect) bench_die("raw many: %ld of %ld bytes", bytes, expect);
  } else {
    many_state s = {0};
    const cp_child_events ev = {.on_stdout = many_on_stdout, .on_close = many_on_close, .on_error = many_on_error};
    cp_options o = {.stdio = {{CP_STDIO_FD, gate[0]}, {CP_STDIO_PIPE, 0}, {CP_STDIO_INHERIT, 0}}};
    const char *cargs[] = {"gate-child", NULL};
    for (long i = 0; i < n; i++) {
      if (i == n / 2) {
        cp_loop_run(loop, CP_RUN_NOWAIT); /* as below: the start events of the first half delivered */
        rss[1] = bench_status_kib("VmRSS");
      }
      cp_child *c;
      int rc = cp_spawn(loop, self_path, cargs, &o, &ev, &s, &c);
      if (rc) bench_die("cp_spawn (child %ld): %s", i, cp_strerror(rc));
    }
    /* the children's start events (on_spawn) are delivered on the first turn: let them run, but
     * the gate is shut, so nobody can exit yet */
    cp_loop_run(loop, CP_RUN_NOWAIT);
    rss[2] = bench_status_kib("VmRSS");
    close(gate[1]);
    if (cp_loop_run(loop, CP_RUN_DEFAULT) < 0) bench_die("cp_loop_run");
    if (s.failed || s.closed != n || s.bytes != expect)
      bench_die("cp many: %ld of %ld closed, %ld of %ld bytes", s.closed, n, s.bytes, expect);
  }
  close(gate[0]);
}

static int cmd_many(int argc, char **argv) {
  const char *key = bench_opt_s(argc, argv, "--key", "many");
  const char *mode = bench_opt_s(argc, argv, "--mode", "cp");
  long n = bench_opt(argc, argv, "--children", 1000);
  if (strcmp(mode, "raw") && strcmp(mode, "cp")) bench_die("many: unknown mode %s", mode);
  bench_raise_nofile();
  cp_loop *loop = NULL;
  if (strcmp(mode, "cp") == 0 && cp_loop_new(&loop)) bench_die("cp_loop_new");
  /* the warm-up: one child through the same steps, not measured, so that the figures below are what
   * the children cost and not the program's first use of its code (the text pages of the spawn path
   * faulted in), of the loop or of the allocator: a fixed cost every program pays once (RSS grows by
   * ~250 KiB of text here), which the old figure divided among the children */
  long rss[3];
  many_round(mode, loop, 1, rss);
  double t0 = bench_now();
  many_round(mode, loop, n, rss);
  double dt = bench_now() - t0;
  if (loop) cp_loop_free(loop);
  keyed(key, "ms", dt * 1e3);
  if (rss[0] >= 0 && rss[2] >= 0) keyed(key, "kib_per_child", (double)(rss[2] - rss[0]) / (double)n);
  /* the growth over the second half only: what one more child costs, without what the first children
   * still bring (the loop's and the allocator's first pages) */
  if (rss[1] >= 0 && rss[2] >= 0 && n >= 2)
    keyed(key, "kib_per_added_child", (double)(rss[2] - rss[1]) / (double)(n - n / 2));
  return 0;
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, bench_workers, sizeof bench_workers / sizeof bench_workers[0], &status))
    return status;
  signal(SIGPIPE, SIG_IGN);
  /* the raw baselines reap with waitpid(): a SIGCHLD ignored by whoever started us (inherited over
   * exec) would have the kernel reap for them ("waitpid: No child processes") */
  signal(SIGCHLD, SIG_DFL);
  if (argc < 2) {
    fprintf(stderr, "usage: cp_bench spawn|pipe|capture|rtt|oneway|many|produce|gate-child [options]\n"
                    "       (see the comment at the top of bench/cp_bench.c)\n");
    return 2;
  }
  find_self();
  const char *cmd = argv[1];
  if (strcmp(cmd, "produce") == 0) return cmd_produce(argc - 2, argv + 2);
  if (strcmp(cmd, "gate-child") == 0) return cmd_gate_child();
  if (strcmp(cmd, "spawn") == 0) return cmd_spawn(argc - 2, argv + 2);
  if (strcmp(cmd, "pipe") == 0) return cmd_pipe(argc - 2, argv + 2);
  if (strcmp(cmd, "capture") == 0) return cmd_capture(argc - 2, argv + 2);
  if (strcmp(cmd, "env") == 0) return cmd_env(argc - 2, argv + 2);
  if (strcmp(cmd, "rtt") == 0) return cmd_rtt(argc - 2, argv + 2);
  if (strcmp(cmd, "oneway") == 0) return cmd_oneway(argc - 2, argv + 2);
  if (strcmp(cmd, "many") == 0) return cmd_many(argc - 2, argv + 2);
  fprintf(stderr, "cp_bench: unknown command %s\n", cmd);
  return 2;
}
