/* pool_bench - the worker pool against Node (issue 9, item 6), in one run:
 *   1. trivial tasks per second through a pool of 2 workers (workers of this executable, max_in_flight
 *      1 and 16), against a Node parent doing the same with fork() workers and the id-correlation
 *      pattern of the guides (a Map from id to callback, at most 1 / 16 in flight per worker);
 *   2. resident memory of an idle worker (after one task), against a forked Node worker;
 *   3. (POSIX) the physical limit: a raw two-worker ping-pong over socketpairs with the same JSON
 *      lines and ids, one task in flight per worker, blocking poll()/read()/write(); and the same with
 *      workers that wait in epoll_wait() before each read, as a worker running an event loop does
 *      (raw_epoll_1: the limit for event-loop workers).
 *
 *   pool_bench [--tasks N] [--key KEY] [--only FIGURE]   (default 200000 tasks; needs `node` on PATH
 *       for the baselines, Linux /proc for memory; a missing baseline prints "n/a"; with --key it
 *       prints bench/run.sh's RESULT/SKIP lines instead, keys KEY.cp_1.per_s, KEY.node_16.per_s, ...;
 *       --only cp_1,raw_1,... measures just those figures (no Node), one "FIGURE tasks/s" line each,
 *       e.g. to profile one side with perf or strace)
 *
 * Output: one "name value unit" line per figure and a JSON summary line last (without --key). */
#include <childproc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#endif
#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static long long self_pid(void) {
#ifdef _WIN32
  return 0;
#else
  return (long long)getpid();
#endif
}

static void serve(cp_request *req, const char *msg, size_t len, void *ud) {
  (void)msg, (void)len, (void)ud;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lld", self_pid());
  cp_request_reply(req, buf, (size_t)n);
}

static int worker(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  return ch && cp_channel_serve(ch, serve, NULL) == 0 ? 0 : 1;
}

static const cp_worker_def workers[] = {{"trivial", worker, NULL}};

static double now_s(void) {
#ifdef _WIN32
  return (double)GetTickCount64() / 1e3;
#else
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

typedef struct state {
  long done, sent, total;
  cp_pool *pool;
  long long pids[8];
  int npids;
} state;

static void on_reply(const cp_reply *rep, void *ud);

static void top_up(state *s) {
  while (s->sent < s->total) {
    int rc = cp_pool_submit(s->pool, "{\"n\":1}", 7, on_reply, s);
    if (rc) break; /* CP_EAGAIN: the queue is full, more after the next reply */
    s->sent++;
  }
}

static void on_reply(const cp_reply *rep, void *ud) {
  state *s = ud;
  s->done++;
  if (rep->code != CP_OK || !rep->result) {
    fprintf(stderr, "pool_bench: task failed: %s\n", rep->error ? rep->error : "?");
    exit(1);
  }
  long long pid = strtoll(rep->result, NULL, 10);
  bool seen = false;
  for (int i = 0; i < s->npids; i++) seen |= s->pids[i] == pid;
  if (!seen && s->npids < 8) s->pids[s->npids++] = pid;
  top_up(s);
}

/* A pool of 2 with `in_flight` per worker, both workers started and answered once. */
typedef struct cp_side {
  cp_loop *loop;
  state s;
} cp_side;

static void cp_open(cp_side *c, unsigned in_flight) {
  if (cp_loop_new(&c->loop)) exit(1);
  cp_pool_options o = {.workers = 2, .worker_name = "trivial", .max_in_flight = in_flight, .max_queue = 1024};
  c->s = (state){.total = 2};
  if (cp_pool_new(c->loop, &o, &c->s.pool)) exit(1);
  top_up(&c->s);
  while (c->s.done < 2) cp_loop_run(c->loop, CP_RUN_ONCE);
}

/* Seconds for n more tasks. */
static double cp_run(cp_side *c, long n) {
  c->s.done = c->s.sent = 0;
  c->s.total = n;
  double t0 = now_s();
  top_up(&c->s);
  while (c->s.done < n) cp_loop_run(c->loop, CP_RUN_ONCE);
  return now_s() - t0;
}

/* An idle worker's resident memory in KiB (0 where /proc is not there). */
static long cp_worker_rss(const cp_side *c) {
  long rss = 0;
  for (int i = 0; i < c->s.npids; i++) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%lld/status", c->s.pids[i]);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
      if (strncmp(line, "VmRSS:", 6) == 0 && strtol(line + 6, NULL, 10) > rss) rss = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
  }
  return rss;
}

static void cp_close(cp_side *c) {
  cp_pool_shutdown(c->s.pool, CP_POOL_DRAIN, NULL, NULL);
  cp_loop_run(c->loop, CP_RUN_DEFAULT);
  cp_pool_free(c->s.pool);
  cp_loop_free(c->loop);
}

#ifndef _WIN32
/* A raw worker: answers each request line {"id":N,...} with {"id":N,"result":"<pid>"}. With
 * use_epoll its socket is non-blocking and each read waits in epoll_wait() first. */
static void raw_worker(int fd, bool use_epoll) {
  char in[65536], out[128];
  size_t have = 0;
  int ep = -1;
  if (use_epoll) {
    struct epoll_event ev = {.events = EPOLLIN};
    ep = epoll_create1(0);
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) _exit(1);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  for (;;) {
    if (ep >= 0) {
      struct epoll_event ev;
      if (epoll_wait(ep, &ev, 1, -1) < 0) continue;
    }
    ssize_t r = read(fd, in + have, sizeof in - have);
    if (r < 0 && errno == EAGAIN) continue;
    if (r <= 0) _exit(0);
    have += (size_t)r;
    char *line = in, *nl;
    while ((nl = memchr(line, '\n', have - (size_t)(line - in)))) {
      const char *id = strstr(line, "\"id\":");
      long v = id && id < nl ? strtol(id + 5, NULL, 10) : 0;
      int n = snprintf(out, sizeof out, "{\"id\":%ld,\"result\":\"%lld\"}\n", v, self_pid());
      if (write(fd, out, (size_t)n) != n) _exit(1);
      line = nl + 1;
    }
    have -= (size_t)(line - in);
    memmove(in, line, have);
  }
}

/* The raw two-worker ping-pong (1 in flight per worker). */
typedef struct raw_side {
  int fds[2];
  pid_t pids[2];
  long id;
} raw_side;

static bool raw_open(raw_side *r, bool epoll_workers) {
  for (int w = 0; w < 2; w++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return false;
    r->pids[w] = fork();
    if (r->pids[w] == 0) {
      /* only its own socket: the ends of the other workers (and of the pools measured alongside) are
       * ours to close, their EOF ours to give */
      for (int fd = 3; fd < 1024; fd++)
        if (fd != sv[1]) close(fd);
      raw_worker(sv[1], epoll_workers);
    }
    close(sv[1]);
    r->fds[w] = sv[0];
  }
  r->id = 0;
  return true;
}

/* Seconds for n tasks, or -1 on failure. */
static double raw_run(raw_side *r, long n) {
  char req[64], buf[4096];
  long sent = 0, done = 0;
  double t0 = now_s();
  for (int w = 0; w < 2 && sent < n; w++, sent++) {
    int k = snprintf(req, sizeof req, "{\"id\":%ld,\"params\":{\"n\":1}}\n", ++r->id);
    if (write(r->fds[w], req, (size_t)k) != k) return -1;
  }
  while (done < n) {
    struct pollfd p[2] = {{r->fds[0], POLLIN, 0}, {r->fds[1], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    for (int w = 0; w < 2; w++) {
      if (!(p[w].revents & POLLIN)) continue;
      ssize_t got = read(r->fds[w], buf, sizeof buf);
      if (got <= 0) return -1;
      for (ssize_t i = 0; i < got; i++) {
        if (buf[i] != '\n') continue;
        done++; /* one reply: send this worker its next task */
        if (sent < n) {
          sent++;
          int k = snprintf(req, sizeof req, "{\"id\":%ld,\"params\":{\"n\":1}}\n", ++r->id);
          if (write(r->fds[w], req, (size_t)k) != k) return -1;
        }
      }
    }
  }
  return now_s() - t0;
}

static void raw_close(raw_side *r) {
  for (int w = 0; w < 2; w++) {
    close(r->fds[w]);
    waitpid(r->pids[w], NULL, 0);
  }
}
#endif

/* The figures measured side by side: n tasks each, in ROUNDS slices taken in turn (the order rotating
 * each round) after an uncounted warm-up slice of each, so that none is measured on a colder machine
 * than another: on this VM a process's first half second of ping-pong runs at about half the speed of
 * the rest (docs/performance.md, "Warm-up"). rate[] gets tasks per second, 0 for a figure that could
 * not run. */
enum { FIG_CP_1, FIG_CP_16, FIG_RAW_1, FIG_RAW_EPOLL_1, NFIG };
static const char *const fig_names[NFIG] = {"cp_1", "cp_16", "raw_1", "raw_epoll_1"};
#define ROUNDS 5

static void measure(long n, const bool want[NFIG], double rate[NFIG], long *rss_kib) {
  cp_side cp[2];
#ifndef _WIN32
  raw_side raw[2];
  bool raw_ok[2] = {false, false};
#endif
  double secs[NFIG] = {0};
  for (int k = 0; k < 2; k++)
    if (want[FIG_CP_1 + k]) cp_open(&cp[k], k ? 16 : 1);
  *rss_kib = want[FIG_CP_1] ? cp_worker_rss(&cp[0]) : 0;
#ifndef _WIN32
  for (int k = 0; k < 2; k++)
    if (want[FIG_RAW_1 + k]) raw_ok[k] = raw_open(&raw[k], k == 1);
#endif
  long slice = n / ROUNDS > 0 ? n / ROUNDS : 1, warm = slice / 2 > 0 ? slice / 2 : 1;
  for (int round = -1; round < ROUNDS; round++) { /* round -1: the warm-up */
    for (int j = 0; j < NFIG; j++) {
      int f = (j + (round < 0 ? 0 : round)) % NFIG;
      long k = round < 0 ? warm : slice;
      double dt = -1;
      if (!want[f]) continue;
      if (f <= FIG_CP_16) dt = cp_run(&cp[f - FIG_CP_1], k);
#ifndef _WIN32
      if (f >= FIG_RAW_1 && raw_ok[f - FIG_RAW_1]) {
        dt = raw_run(&raw[f - FIG_RAW_1], k);
        raw_ok[f - FIG_RAW_1] = dt >= 0;
      }
#endif
      if (round >= 0 && dt > 0) secs[f] += dt;
    }
  }
  for (int f = 0; f < NFIG; f++) rate[f] = want[f] && secs[f] > 0 ? (double)(slice * ROUNDS) / secs[f] : 0;
#ifndef _WIN32
  for (int k = 0; k < 2; k++) {
    if (!raw_ok[k]) rate[FIG_RAW_1 + k] = 0;
    if (want[FIG_RAW_1 + k]) raw_close(&raw[k]);
  }
#endif
  for (int k = 0; k < 2; k++)
    if (want[FIG_CP_1 + k]) cp_close(&cp[k]);
}

/* The Node parent: 2 fork() workers, ids in a Map, in_flight per worker, same trivial task. Prints
 * "<tasks/s> <idle worker VmRSS kB>". */
static const char node_script[] =
    "const cp = require('child_process'); const fs = require('fs');"
    "if (process.argv[2] === 'w') { process.on('message', m => process.send({id: m.id, result: process.pid})); return; }"
    "const N = +process.argv[2], IN = +process.argv[3];"
    "const ws = [0, 1].map(() => cp.fork(__filename, ['w']));"
    "let id = 0, sent = 0, done = 0, total = 0, then, t0; const pending = new Map();"
    "for (const w of ws) { w.inflight = 0; w.on('message', m => { const cb = pending.get(m.id); pending.delete(m.id); cb(m); }); }"
    "function call(w, msg) { return new Promise(res => { const i = ++id; pending.set(i, res); w.send({...msg, id: i}); }); }"
    "function pump(w) { while (w.inflight < IN && sent < total) { sent++; w.inflight++;"
    "  call(w, {n: 1}).then(() => { w.inflight--; done++; if (done === total) then(); else pump(w); }); } }"
    "function phase(n, next) { sent = done = 0; total = n; then = next; for (const w of ws) pump(w); }"
    "function rss(pid) { try { const s = fs.readFileSync('/proc/' + pid + '/status', 'utf8');"
    "  return +/VmRSS:\\s+(\\d+)/.exec(s)[1]; } catch (e) { return 0; } }"
    "let idle = 0;"
    "function finish() { const dt = (process.hrtime.bigint() - t0); console.log((N / (Number(dt) / 1e9)).toFixed(0) + ' ' + idle);"
    "  for (const w of ws) w.disconnect(); }"
    "Promise.all(ws.map(w => call(w, {n: 0}))).then(() => { idle = Math.max(...ws.map(w => rss(w.pid)));"
    "  phase(Math.max(1, N >> 1), () => { t0 = process.hrtime.bigint(); phase(N, finish); }); });"; /* warm-up: N/2 */

static bool node_rate(long n, unsigned in_flight, double *rate, long *rss_kib) {
  char a[32], b[32];
  snprintf(a, sizeof a, "%ld", n);
  snprintf(b, sizeof b, "%u", in_flight);
  /* node -e has no file to fork: write the script to a temporary file */
  char path[] = "/tmp/cp-pool-bench-XXXXXX.js";
#ifdef _WIN32
  return false;
#else
  int fd = mkstemps(path, 3);
  if (fd < 0) return false;
  if (write(fd, node_script, sizeof node_script - 1) != (ssize_t)(sizeof node_script - 1)) {
    close(fd);
    return false;
  }
  close(fd);
  const char *args[] = {path, a, b, NULL};
  cp_options o = {.timeout_ms = 600000};
  cp_result r;
  int rc = cp_spawn_sync("node", args, &o, &r);
  bool ok = rc == 0 && r.status == 0 && sscanf(r.out.data, "%lf %ld", rate, rss_kib) == 2;
  if (!ok && rc == 0) fprintf(stderr, "node: %s%s\n", r.out.data, r.err.data);
  cp_result_free(&r);
  unlink(path);
  return ok;
#endif
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, 1, &status)) return status;
  long n = 200000;
  const char *key = NULL, *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc)
      n = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
      key = argv[++i];
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
      only = argv[++i];
    else
      n = 0;
  }
  if (n <= 0) {
    fprintf(stderr, "usage: pool_bench [--tasks N] [--key KEY] [--only cp_1,cp_16,raw_1,raw_epoll_1]\n");
    return 2;
  }
  bool want[NFIG];
  for (int f = 0; f < NFIG; f++) want[f] = only == NULL;
  for (const char *p = only; p && *p;) { /* --only: the figures named (comma-separated) */
    size_t k = strcspn(p, ",");
    int f = 0;
    while (f < NFIG && !(strlen(fig_names[f]) == k && strncmp(p, fig_names[f], k) == 0)) f++;
    if (f == NFIG) {
      fprintf(stderr, "pool_bench: --only takes cp_1, cp_16, raw_1 or raw_epoll_1 (comma-separated)\n");
      return 2;
    }
    want[f] = true;
    p += k + (p[k] == ',');
  }
  long rss = 0, nrss = 0, nrss16 = 0;
  double rate[NFIG];
  measure(n, want, rate, &rss);
  if (only) {
    for (int f = 0; f < NFIG; f++)
      if (want[f]) printf("%s %.0f tasks/s\n", fig_names[f], rate[f]);
    return 0;
  }
  double c1 = rate[FIG_CP_1], c16 = rate[FIG_CP_16], raw1 = rate[FIG_RAW_1], raw_ep1 = rate[FIG_RAW_EPOLL_1];
  double n1 = 0, n16 = 0;
  bool have1 = node_rate(n, 1, &n1, &nrss);
  bool have16 = node_rate(n, 16, &n16, &nrss16);
  if (key) {
    /* bench/run.sh's "RESULT <key> <value>" lines, for cp_bench_table */
    printf("RESULT %s.cp_1.per_s %.0f\nRESULT %s.cp_16.per_s %.0f\n", key, c1, key, c16);
    if (rss) printf("RESULT %s.cp.worker_rss_kib %ld\n", key, rss);
    if (raw1 > 0) printf("RESULT %s.raw_1.per_s %.0f\n", key, raw1);
    else printf("SKIP %s.raw_1 no-raw-baseline-here\n", key);
    if (raw_ep1 > 0) printf("RESULT %s.raw_epoll_1.per_s %.0f\n", key, raw_ep1);
    else printf("SKIP %s.raw_epoll_1 no-raw-baseline-here\n", key);
    if (have1) printf("RESULT %s.node_1.per_s %.0f\n", key, n1);
    else printf("SKIP %s.node_1 node-did-not-run\n", key);
    if (have16) printf("RESULT %s.node_16.per_s %.0f\n", key, n16);
    else printf("SKIP %s.node_16 node-did-not-run\n", key);
    if (have1 && nrss) printf("RESULT %s.node.worker_rss_kib %ld\n", key, nrss);
    else printf("SKIP %s.node no-node-worker-rss\n", key);
    return 0;
  }
  printf("pool_tasks_per_s_inflight1 childproc %.0f\n", c1);
  if (!have1) printf("  node n/a\n");
  if (have1) printf("  node %.0f tasks/s, ratio childproc/node %.2f\n", n1, c1 / n1);
  if (raw1 > 0) printf("  raw two-worker ping-pong %.0f tasks/s, ratio childproc/raw %.2f\n", raw1, c1 / raw1);
  if (raw_ep1 > 0)
    printf("  raw ping-pong, workers waiting in epoll %.0f tasks/s, ratio childproc/raw %.2f\n", raw_ep1, c1 / raw_ep1);
  printf("pool_tasks_per_s_inflight16 childproc %.0f\n", c16);
  if (have16) printf("  node %.0f tasks/s, ratio childproc/node %.2f\n", n16, c16 / n16);
  printf("idle_worker_rss_kib childproc %ld\n", rss);
  if (have1 && nrss) printf("  node %ld KiB, ratio node/childproc %.1f\n", nrss, rss ? (double)nrss / (double)rss : 0.0);
  printf("{\"tasks\":%ld,\"pool_tps_1\":%.0f,\"node_tps_1\":%.0f,\"pool_tps_16\":%.0f,\"node_tps_16\":%.0f,"
         "\"worker_rss_kib\":%ld,\"node_worker_rss_kib\":%ld}\n",
         n, c1, n1, c16, n16, rss, nrss);
  return 0;
}
