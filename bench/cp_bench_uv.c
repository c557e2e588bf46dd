/* cp_bench_uv - the libuv baseline (uv_spawn of the libuv the system ships; Debian 12: 1.44.2).
 *
 *   cp_bench_uv spawn --key K --count N [--inflight K] [--heap-mib H] [--reps R]
 *       spawn+wait of /bin/true, N times, K at a time, stdio inherited, from a parent with H MiB
 *       resident, R times. Prints K.per_s and K.us, as cp_bench spawn does.
 *   cp_bench_uv many --key K --children N --child PATH
 *       N children of `PATH gate-child` (cp_bench's helper) alive at once with a stdout pipe each
 *       (uv_pipe), the gate on stdin; wall time (K.ms) and RSS growth per live child
 *       (K.kib_per_child), as cp_bench many does (after the same one-child warm-up).
 */
#define _GNU_SOURCE
#include "common.h"

#include <fcntl.h>
#include <stdbool.h>
#include <uv.h>

typedef struct spawn_state {
  uv_loop_t *loop;
  long n, started, done;
  bool failed;
} spawn_state;

static void start_one(spawn_state *s);

static void on_close_handle(uv_handle_t *h) { free(h); }

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  spawn_state *s = p->data;
  if (status != 0 || sig) s->failed = true;
  s->done++;
  uv_close((uv_handle_t *)p, on_close_handle);
  if (s->started < s->n) start_one(s);
}

static void start_one(spawn_state *s) {
  static char *args[] = {"/bin/true", NULL};
  uv_stdio_container_t stdio[3];
  for (int i = 0; i < 3; i++) {
    stdio[i].flags = UV_INHERIT_FD;
    stdio[i].data.fd = i;
  }
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  o.file = "/bin/true";
  o.args = args;
  o.exit_cb = on_exit_cb;
  o.stdio = stdio;
  o.stdio_count = 3;
  uv_process_t *p = malloc(sizeof *p);
  if (!p) bench_die("out of memory");
  p->data = s;
  int rc = uv_spawn(s->loop, p, &o);
  if (rc) bench_die("uv_spawn: %s", uv_strerror(rc));
  s->started++;
}

static void run_spawns(long n, long inflight) {
  spawn_state s = {.loop = uv_default_loop(), .n = n};
  for (long i = 0; i < inflight && s.started < n; i++) start_one(&s);
  uv_run(s.loop, UV_RUN_DEFAULT);
  if (s.failed || s.done != n) bench_die("uv spawn: %ld of %ld", s.done, n);
}

static int cmd_spawn(int argc, char **argv) {
  const char *key = bench_opt_s(argc, argv, "--key", "uv");
  long n = bench_opt(argc, argv, "--count", 2000);
  long inflight = bench_opt(argc, argv, "--inflight", 1);
  long heap_mib = bench_opt(argc, argv, "--heap-mib", 0);
  const char *skip;
  void *heap = bench_heap((size_t)heap_mib, &skip);
  if (skip) {
    bench_skip(key, skip);
    return 0;
  }
  long reps = bench_opt(argc, argv, "--reps", 1);
  for (long r = 0; r < reps; r++) {
    run_spawns(4, 1); /* untimed warm-up */
    double t0 = bench_now();
    run_spawns(n, inflight);
    double dt = bench_now() - t0;
    char k[256];
    snprintf(k, sizeof k, "%s.per_s", key);
    bench_result(k, (double)n / dt);
    snprintf(k, sizeof k, "%s.us", key);
    bench_result(k, dt / (double)n * 1e6);
  }
  bench_heap_free(heap, (size_t)heap_mib);
  return 0;
}

/* ---- many ---- */

typedef struct many_child {
  uv_process_t proc;
  uv_pipe_t out;
  int closes; /* handles closed (2 = both) */
  bool exited, eof;
} many_child;

static long many_closed, many_bytes;
static bool many_failed;
static char readbuf[64 * 1024];

static void many_close_cb(uv_handle_t *h) {
  many_child *c = h->data;
  if (++c->closes == 2) {
    many_closed++;
    free(c);
  }
}

static void many_maybe_done(many_child *c) {
  if (c->exited && c->eof) {
    uv_close((uv_handle_t *)&c->proc, many_close_cb);
    uv_close((uv_handle_t *)&c->out, many_close_cb);
  }
}

static void many_exit_cb(uv_process_t *p, int64_t status, int sig) {
  many_child *c = p->data;
  if (status != 0 || sig) many_failed = true;
  c->exited = true;
  many_maybe_done(c);
}

static void many_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h, (void)hint;
  *buf = uv_buf_init(readbuf, sizeof readbuf); /* one shared buffer, as childproc's loop has */
}

static void many_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  many_child *c = s->data;
  if (n > 0) {
    many_bytes += n;
  } else if (n < 0) {
    if (n != UV_EOF) many_failed = true;
    uv_read_stop(s);
    c->eof = true;
    many_maybe_done(c);
  }
}

/* One round: n children behind a shut gate, then the gate opened and all of them closed. rss[0] and
 * rss[1]: VmRSS (KiB) before the first spawn and once all n run. */
static void many_round(uv_loop_t *loop, const char *child, long n, long rss[2]) {
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) < 0) bench_die("pipe2: %s", strerror(errno));
  char *args[] = {(char *)child, "gate-child", NULL};
  many_closed = many_bytes = 0;
  rss[0] = bench_status_kib("VmRSS");
  for (long i = 0; i < n; i++) {
    many_child *c = calloc(1, sizeof *c);
    if (!c) bench_die("out of memory");
    uv_pipe_init(loop, &c->out, 0);
    c->proc.data = c->out.data = c;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_INHERIT_FD;
    stdio[0].data.fd = gate[0];
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&c->out;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = child;
    o.args = args;
    o.exit_cb = many_exit_cb;
    o.stdio = stdio;
    o.stdio_count = 3;
    int rc = uv_spawn(loop, &c->proc, &o);
    if (rc) bench_die("uv_spawn (child %ld): %s", i, uv_strerror(rc));
    uv_read_start((uv_stream_t *)&c->out, many_alloc, many_read);
  }
  rss[1] = bench_status_kib("VmRSS");
  close(gate[1]);
  uv_run(loop, UV_RUN_DEFAULT);
  close(gate[0]);
  if (many_failed || many_closed != n || many_bytes != n * 24)
    bench_die("uv many: %ld of %ld closed, %ld bytes", many_closed, n, many_bytes);
}

static int cmd_many(int argc, char **argv) {
  const char *key = bench_opt_s(argc, argv, "--key", "uv-many");
  long n = bench_opt(argc, argv, "--children", 1000);
  const char *child = bench_opt_s(argc, argv, "--child", NULL);
  if (!child) bench_die("many: --child PATH (cp_bench) is required");
  bench_raise_nofile();
  uv_loop_t *loop = uv_default_loop();
  long rss[2];
  many_round(loop, child, 1, rss); /* the warm-up, as cp_bench many's */
  double t0 = bench_now();
  many_round(loop, child, n, rss);
  double dt = bench_now() - t0;
  char k[256];
  snprintf(k, sizeof k, "%s.ms", key);
  bench_result(k, dt * 1e3);
  snprintf(k, sizeof k, "%s.kib_per_child", key);
  if (rss[0] >= 0 && rss[1] >= 0) bench_result(k, (double)(rss[1] - rss[0]) / (double)n);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "spawn") == 0) return cmd_spawn(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "many") == 0) return cmd_many(argc - 2, argv + 2);
  fprintf(stderr, "usage: cp_bench_uv spawn|many [options] (see bench/cp_bench_uv.c)\n");
  return 2;
}
