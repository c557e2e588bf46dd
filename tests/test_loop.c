/* test_loop.c - the loop and the async forms: Node's events and their order, stdin writes and
 * back-pressure, kill, timeouts, exec callbacks, ref/unref, many children at once, and driving the
 * loop from outside. The child programs are workers of this same test executable. */
#include <childproc.h>

#include "cptest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <windows.h>
static void sleep_ms(long ms) { Sleep((DWORD)ms); }
#else
#include <poll.h>
#include <time.h>
#include <unistd.h>
static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}
#endif

#include <cmocka.h>

#ifdef _WIN32
#define MANY_CHILDREN 40 /* ~45 ms a spawn under Wine */
#else
#define MANY_CHILDREN 1000
#endif

/* ---- workers (the child side; each does its job and exits) ----------------------------------- */

static long arg_long(int argc, char **argv, int i) { return argc > i ? strtol(argv[i], NULL, 10) : 0; }

static int worker_exit(cp_loop *l, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)l, (void)ch, (void)ud;
  exit((int)arg_long(argc, argv, 1));
}

/* out N: N bytes of 'x' on stdout, then exit 0. */
static int worker_out(cp_loop *l, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)l, (void)ch, (void)ud;
  long n = arg_long(argc, argv, 1);
  static char buf[65536];
  memset(buf, 'x', sizeof buf);
  while (n > 0) {
    size_t k = n < (long)sizeof buf ? (size_t)n : sizeof buf;
    if (fwrite(buf, 1, k, stdout) != k) exit(4);
    n -= (long)k;
  }
  fflush(stdout);
  exit(0);
}

/* cat: stdin to stdout until end of file. */
static int worker_cat(cp_loop *l, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)l, (void)ch, (void)argc, (void)argv, (void)ud;
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
  fflush(stdout);
  exit(0);
}

/* sleep MS: never reads stdin, exits 0 after MS. */
static int worker_sleep(cp_loop *l, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)l, (void)ch, (void)ud;
  sleep_ms(arg_long(argc, argv, 1));
  exit(0);
}

static const cp_worker_def workers[] = {
    {"exit", worker_exit, NULL},
    {"out", worker_out, NULL},
    {"cat", worker_cat, NULL},
    {"sleep", worker_sleep, NULL},
};

/* ---- recording events ---------------------------------------------------------------------------- */

typedef struct rec {
  cp_loop *loop;
  cp_child *child;
  char order[64]; /* s spawn, E error, o stdout data (once), O stdout end, R stderr end, x exit, c close */
  size_t norder;
  char *out;
  size_t out_len;
  int64_t status;
  int signal;
  int error_code;
  bool closed;
  bool pause_at_first; /* back-pressure test: pause stdout on the first chunk */
  int data_events;
} rec;

static void push(rec *r, char e) {
  if (e == 'o' && r->norder && r->order[r->norder - 1] == 'o') return;
  if (r->norder + 1 < sizeof r->order) r->order[r->norder++] = e;
  r->order[r->norder] = '\0';
}

static void ev_spawn(cp_child *c, void *ud) {
  (void)c;
  push(ud, 's');
}
static void ev_error(cp_child *c, const cp_error *err, void *ud) {
  (void)c;
  rec *r = ud;
  push(r, 'E');
  r->error_code = err->code;
}
static void ev_stdout(cp_child *c, const char *data, size_t len, void *ud) {
  rec *r = ud;
  if (!len) {
    push(r, 'O');
    return;
  }
  push(r, 'o');
  r->data_events++;
  r->out = realloc(r->out, r->out_len + len + 1);
  memcpy(r->out + r->out_len, data, len);
  r->out_len += len;
  r->out[r->out_len] = '\0';
  if (r->pause_at_first) {
    r->pause_at_first = false;
    assert_int_equal(cp_child_pause(c, 1), 0);
  }
}
static void ev_stderr(cp_child *c, const char *data, size_t len, void *ud) {
  (void)c, (void)data;
  if (!len) push(ud, 'R');
}
static void ev_exit(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c;
  rec *r = ud;
  push(r, 'x');
  r->status = status;
  r->signal = sig;
}
static void ev_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c;
  rec *r = ud;
  push(r, 'c');
  r->closed = true;
  assert_int_equal(status, r->status);
  assert_int_equal(sig, r->signal);
}

static const cp_child_events rec_events = {
    .on_spawn = ev_spawn, .on_error = ev_error, .on_stdout = ev_stdout, .on_stderr = ev_stderr,
    .on_exit = ev_exit, .on_close = ev_close};

/* Starts worker `name` with stdio as pipes (fork's options with silent) and the recording events. */
static void start(rec *r, const char *name, const char *const *args, const cp_options *extra) {
  memset(r, 0, sizeof *r);
  r->status = -2;
  assert_int_equal(cp_loop_new(&r->loop), 0);
  cp_options o = extra ? *extra : (cp_options){0};
  o.silent = true;
  assert_int_equal(cp_fork_worker(r->loop, name, args, &o, &rec_events, r, &r->child), 0);
}

static void finish(rec *r) {
  assert_int_equal(cp_loop_run(r->loop, CP_RUN_DEFAULT), 0);
  assert_true(r->closed);
  cp_child_free(r->child);
  assert_int_equal(cp_loop_free(r->loop), 0);
  free(r->out);
}

static const char *test_self_path;

typedef struct tick_state {
  int fired;
  int stop_after;
  bool free_in_cb;
} tick_state;

static void on_tick(cp_timer *t, void *ud) {
  tick_state *s = ud;
  if (++s->fired == s->stop_after) {
    if (s->free_in_cb) cp_timer_free(t);
    else cp_timer_stop(t);
  }
}

static void timers_fire_repeat_and_keep_the_loop_alive(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_timer *once, *repeat, *freed;
  assert_int_equal(cp_timer_new(loop, &once), 0);
  assert_int_equal(cp_timer_new(loop, &repeat), 0);
  assert_int_equal(cp_timer_new(loop, &freed), 0);
  tick_state s1 = {0, 0, false}, s2 = {0, 3, false}, s3 = {0, 2, true};
  assert_int_equal(cp_timer_start(once, 5, 0, on_tick, &s1), 0);
  assert_int_equal(cp_timer_start(repeat, 1, 1, on_tick, &s2), 0);
  assert_int_equal(cp_timer_start(freed, 1, 2, on_tick, &s3), 0);
  assert_int_equal(cp_timer_start(once, 5, 0, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_loop_free(loop), CP_EAGAIN);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0); /* returns once no timer is active */
  assert_int_equal(s1.fired, 1);
  assert_int_equal(s2.fired, 3);
  assert_int_equal(s3.fired, 2);
  cp_timer_free(once);
  cp_timer_free(repeat);
  cp_timer_free(NULL);
  assert_int_equal(cp_loop_free(loop), 0);
}

/* Many timers at once: they fire in due order (ties in start order), a stopped one never fires, and
 * one stopped or restarted from another's callback is taken out of (or moved in) the heap. */
#define MANY_TIMERS 600
typedef struct order_state {
  cp_timer *t[MANY_TIMERS];
  uint64_t ms[MANY_TIMERS];
  int fired_order[MANY_TIMERS];
  int nfired;
  int fired_count[MANY_TIMERS];
} order_state;

static order_state *order_of;

static void on_ordered(cp_timer *t, void *ud) {
  order_state *s = order_of;
  int i = (int)(intptr_t)ud;
  (void)t;
  s->fired_order[s->nfired++] = i;
  s->fired_count[i]++;
  /* every 10th fired timer stops the next one by index (if still pending) and restarts the one
   * after it further out: both are somewhere inside the heap, rarely at its root */
  if (i % 10 == 0 && i + 2 < MANY_TIMERS) {
    if (!s->fired_count[i + 1] && s->ms[i + 1] != UINT64_MAX) {
      cp_timer_stop(s->t[i + 1]);
      s->ms[i + 1] = UINT64_MAX; /* must never fire */
    }
    if (!s->fired_count[i + 2] && s->ms[i + 2] != UINT64_MAX) {
      s->ms[i + 2] += 1000; /* marks it restarted: it fires once, 40 ms from now */
      cp_timer_start(s->t[i + 2], 40, 0, on_ordered, (void *)(intptr_t)(i + 2));
    }
  }
}

static void timers_fire_in_due_order_and_stopped_ones_never_fire(void **state) {
  (void)state;
  static order_state s;
  memset(&s, 0, sizeof s);
  order_of = &s;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  uint64_t t0 = cptest_now_ms();
  for (int i = 0; i < MANY_TIMERS; i++) {
    assert_int_equal(cp_timer_new(loop, &s.t[i]), 0);
    s.ms[i] = (uint64_t)((i * 7919) % 31); /* 0..30 ms, scattered */
    assert_int_equal(cp_timer_start(s.t[i], s.ms[i], 0, on_ordered, (void *)(intptr_t)i), 0);
  }
  uint64_t drift = cptest_now_ms() - t0 + 1; /* how far apart the starts were */
  /* stop pairs, the later-started first: its neighbour in the heap's lists is the one stopped next */
  for (int i = 3; i + 1 < MANY_TIMERS; i += 6) {
    assert_int_equal(cp_timer_stop(s.t[i + 1]), 0);
    assert_int_equal(cp_timer_stop(s.t[i]), 0);
    s.ms[i] = s.ms[i + 1] = UINT64_MAX;
  }
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  for (int i = 0; i < MANY_TIMERS; i++) {
    assert_int_equal(s.fired_count[i], s.ms[i] == UINT64_MAX ? 0 : 1);
    cp_timer_free(s.t[i]);
  }
  /* Order: a timer that fired before another was due no later (up to the start drift), and among
   * timers started together with equal timeouts the first started fired first. Restarted ones
   * (ms >= 1000 here) fired after every timer of the first round that was due before them. */
  for (int k = 1; k < s.nfired; k++) {
    int a = s.fired_order[k - 1], b = s.fired_order[k];
    if (s.ms[a] >= 1000 || s.ms[b] >= 1000) continue;
    assert_true(s.ms[a] <= s.ms[b] + drift);
    if (s.ms[a] == s.ms[b] && drift == 1) assert_true(a < b);
  }
  assert_int_equal(cp_loop_free(loop), 0);
}

/* ---- tests ------------------------------------------------------------------------------------------ */

static void spawn_events_in_node_order(void **state) {
  (void)state;
  rec r;
  const char *args[] = {"5", NULL};
  start(&r, "out", args, NULL);
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  /* spawn first; stdout data before its end; exit and both ends before close, close last */
  assert_int_equal(r.order[0], 's');
  assert_int_equal(r.order[r.norder - 1], 'c');
  const char *o = strchr(r.order, 'o'), *O = strchr(r.order, 'O');
  assert_non_null(o);
  assert_non_null(O);
  assert_true(o < O);
  assert_non_null(strchr(r.order, 'x'));
  assert_non_null(strchr(r.order, 'R'));
  assert_null(strchr(r.order, 'E'));
  assert_string_equal(r.out, "xxxxx");
  assert_int_equal(r.status, 0);
  finish(&r);
}

static void spawn_failure_is_error_then_close(void **state) {
  (void)state;
  cp_loop *loop;
  cp_child *c;
  rec r;
  memset(&r, 0, sizeof r);
  r.status = -1;
  assert_int_equal(cp_loop_new(&loop), 0);
  assert_int_equal(cp_spawn(loop, "childproc-no-such-program", NULL, NULL, &rec_events, &r, &c), 0);
  assert_int_equal(r.norder, 0); /* nothing is delivered inside the call */
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_string_equal(r.order, "Ec");
  assert_int_equal(r.error_code, CP_ENOENT);
  assert_int_equal(cp_child_pid(c), 0);
  assert_int_equal(cp_child_kill(c, CP_SIGTERM), CP_ESRCH);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void spawn_invalid_arguments_return_einval(void **state) {
  (void)state;
  cp_loop *loop;
  cp_child *c = (cp_child *)1;
  assert_int_equal(cp_loop_new(&loop), 0);
  assert_int_equal(cp_spawn(loop, "", NULL, NULL, NULL, NULL, &c), CP_EINVAL);
  assert_null(c);
  assert_int_equal(cp_spawn(loop, NULL, NULL, NULL, NULL, NULL, &c), CP_EINVAL);
  assert_int_equal(cp_spawn(NULL, "x", NULL, NULL, NULL, NULL, &c), CP_EINVAL);
  assert_int_equal(cp_spawn(loop, "x", NULL, NULL, NULL, NULL, NULL), CP_EINVAL);
  cp_options neg = {.timeout_ms = -1};
  assert_int_equal(cp_spawn(loop, "x", NULL, &neg, NULL, NULL, &c), CP_EINVAL);
  assert_int_equal(cp_loop_run(loop, 99), CP_EINVAL);
  assert_int_equal(cp_loop_run(NULL, CP_RUN_DEFAULT), CP_EINVAL);
  assert_int_equal(cp_loop_free(loop), 0);
  assert_int_equal(cp_loop_free(NULL), 0);
}

static void stdin_writes_reach_the_child_in_order(void **state) {
  (void)state;
  rec r;
  start(&r, "cat", NULL, NULL);
  char chunk[1000];
  size_t total = 0;
  for (int i = 0; i < 200; i++) {
    memset(chunk, 'a' + i % 26, sizeof chunk);
    assert_int_equal(cp_child_write(r.child, chunk, sizeof chunk, NULL, NULL), 0);
    total += sizeof chunk;
  }
  assert_true(cp_child_write_queue_size(r.child) > 0);
  assert_int_equal(cp_child_end(r.child), 0);
  assert_int_equal(cp_child_write(r.child, "x", 1, NULL, NULL), CP_EPIPE);
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(r.out_len, total);
  for (int i = 0; i < 200; i++) assert_int_equal(r.out[i * 1000 + 999], 'a' + i % 26);
  assert_int_equal(cp_child_write_queue_size(r.child), 0);
  finish(&r);
}

typedef struct wtrack {
  int ok, failed, last_status;
} wtrack;

static void on_written(cp_child *c, int status, void *ud) {
  (void)c;
  wtrack *t = ud;
  if (status == 0) t->ok++;
  else {
    t->failed++;
    t->last_status = status;
  }
}

static void writes_to_a_child_that_never_reads_fail_instead_of_hanging(void **state) {
  (void)state;
  rec r;
  const char *args[] = {"100", NULL};
  start(&r, "sleep", args, NULL);
  static char big[4 << 20]; /* far more than a pipe holds */
  wtrack t = {0, 0, 0};
  assert_int_equal(cp_child_write(r.child, big, sizeof big, on_written, &t), 0);
  assert_int_equal(cp_child_write(r.child, big, 10, on_written, &t), 0);
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(t.ok + t.failed, 2);
  assert_true(t.failed >= 1);
  assert_int_equal(t.last_status, CP_EPIPE);
  assert_int_equal(r.status, 0);
  finish(&r);
}

static void paused_stdout_delivers_nothing_until_resumed(void **state) {
  (void)state;
  rec r;
  const char *args[] = {"8388608", NULL}; /* 8 MiB: the child blocks on the full pipe while paused */
  start(&r, "out", args, NULL);
  r.pause_at_first = true;
  while (r.data_events == 0) assert_int_equal(cp_loop_run(r.loop, CP_RUN_ONCE), 1);
  size_t seen = r.out_len;
  for (int i = 0; i < 50; i++) cp_loop_run(r.loop, CP_RUN_NOWAIT);
  assert_int_equal(r.out_len, seen);
  assert_false(cp_child_exited(r.child));
  assert_int_equal(cp_child_resume(r.child, 1), 0);
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(r.out_len, 8388608);
  assert_int_equal(cp_child_pause(r.child, 3), CP_EINVAL);
  finish(&r);
}

static void kill_delivers_the_signal_and_then_esrch(void **state) {
  (void)state;
  rec r;
  const char *args[] = {"30000", NULL};
  start(&r, "sleep", args, NULL);
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_ONCE), 1); /* spawn */
  assert_int_equal(cp_child_kill(r.child, 0), 0);
  assert_int_equal(cp_child_kill(r.child, CP_SIGTERM), 0);
  assert_true(cp_child_killed(r.child));
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(r.status, -1);
  assert_int_equal(r.signal, CP_SIGTERM);
  assert_int_equal(cp_child_kill(r.child, CP_SIGTERM), CP_ESRCH);
  assert_int_equal(cp_child_kill(r.child, -3), CP_EINVAL);
  r.error_code = 0;
  assert_int_equal(cp_child_kill(r.child, CP_SIGTERM), CP_ESRCH);
  assert_int_equal(r.error_code, 0); /* "already gone" is not an 'error' event */
  assert_int_equal(cp_child_kill_tree(r.child, CP_SIGTERM), CP_EINVAL); /* not started as a tree */
  finish(&r);
}

static void spawn_timeout_kills_with_kill_signal(void **state) {
  (void)state;
  rec r;
  const char *args[] = {"30000", NULL};
  cp_options o = {.timeout_ms = 100, .kill_signal = CP_SIGKILL};
  start(&r, "sleep", args, &o);
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(r.signal, CP_SIGKILL);
  assert_true(cp_child_killed(r.child));
  finish(&r);
}

typedef struct exec_done {
  int calls, rc;
  cp_result res_copy;
  cp_result *res;
} exec_done;

static void on_exec(int rc, cp_result *res, void *ud) {
  exec_done *d = ud;
  d->calls++;
  d->rc = rc;
  d->res_copy = *res; /* keep it: move it out of the library's hands */
  memset(res, 0, sizeof *res);
  d->res = &d->res_copy;
}

static void exec_file_async_delivers_the_sync_result(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  exec_done ok = {0}, fail = {0}, missing = {0};
  /* The "exit" worker of this very executable, started by execFile (no channel) through the
   * variable that selects a worker. */
  assert_int_equal(cp_exec_file(loop, "childproc-no-such-program", NULL, NULL, on_exec, &missing), 0);
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = (const char *const[]){"CHILDPROC_WORKER=exit", NULL}};
  const char *a3[] = {"3", NULL}, *a0[] = {"0", NULL};
  assert_int_equal(cp_exec_file(loop, test_self_path, a3, &o, on_exec, &fail), 0);
  assert_int_equal(cp_exec_file(loop, test_self_path, a0, &o, on_exec, &ok), 0);
  assert_int_equal(cp_exec_file(loop, "x", NULL, NULL, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_exec(loop, NULL, NULL, on_exec, &ok), CP_EINVAL);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(missing.calls, 1);
  assert_int_equal(missing.rc, CP_ENOENT);
  assert_int_equal(missing.res->error.code, CP_ENOENT);
  assert_int_equal(fail.calls, 1);
  assert_int_equal(fail.rc, CP_ECHILDFAILED);
  assert_int_equal(fail.res->status, 3);
  assert_int_equal(ok.calls, 1);
  assert_int_equal(ok.rc, 0);
  assert_int_equal(ok.res->status, 0);
  cp_result_free(missing.res);
  cp_result_free(fail.res);
  cp_result_free(ok.res);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void unref_child_does_not_keep_the_loop_alive(void **state) {
  (void)state;
  rec r;
  const char *args[] = {"200", NULL};
  start(&r, "sleep", args, NULL);
  cp_child_unref(r.child);
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  assert_false(r.closed);
  assert_int_equal(cp_loop_free(r.loop), CP_EAGAIN); /* a live child: refused, nothing freed */
  cp_child_ref(r.child);
  finish(&r);
}

static void many_children_in_flight_on_one_loop(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  static rec recs[MANY_CHILDREN];
  static char codes[MANY_CHILDREN][8];
  for (int i = 0; i < MANY_CHILDREN; i++) {
    memset(&recs[i], 0, sizeof recs[i]);
    snprintf(codes[i], sizeof codes[i], "%d", i % 256);
    const char *args[] = {codes[i], NULL};
    cp_options o = {.silent = true};
    assert_int_equal(cp_fork_worker(loop, "exit", args, &o, &rec_events, &recs[i], &recs[i].child), 0);
  }
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  for (int i = 0; i < MANY_CHILDREN; i++) {
    assert_true(recs[i].closed);
    assert_int_equal(recs[i].status, i % 256);
    cp_child_free(recs[i].child);
  }
  assert_int_equal(cp_loop_free(loop), 0);
}

/* Each child keeps the events it was given, though the caller reuses one struct for all of them and
 * the library shares equal sets between children: 16 distinct sets (which of on_spawn, on_exit,
 * on_stdout, on_stderr are set), more than the library compares, started three times over. */
typedef struct evset_rec {
  int spawned, exited, out, err, closed;
} evset_rec;
static void es_spawn(cp_child *c, void *ud) { (void)c, ((evset_rec *)ud)->spawned++; }
static void es_exit(cp_child *c, int64_t st, int sig, void *ud) { (void)c, (void)st, (void)sig, ((evset_rec *)ud)->exited++; }
static void es_out(cp_child *c, const char *d, size_t n, void *ud) { (void)c, (void)d, (void)n, ((evset_rec *)ud)->out++; }
static void es_err(cp_child *c, const char *d, size_t n, void *ud) { (void)c, (void)d, (void)n, ((evset_rec *)ud)->err++; }
static void es_close(cp_child *c, int64_t st, int sig, void *ud) {
  (void)st, (void)sig;
  ((evset_rec *)ud)->closed++;
  cp_child_free(c);
}

static void children_keep_their_own_events_when_sets_are_shared(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  enum { SETS = 16, ROUNDS = 3 };
  static evset_rec recs[SETS * ROUNDS];
  memset(recs, 0, sizeof recs);
  cp_child_events ev;
  const char *args[] = {"1", NULL};
  cp_options o = {.silent = true}; /* stdout and stderr piped */
  for (int i = 0; i < SETS * ROUNDS; i++) {
    int set = i % SETS;
    memset(&ev, 0, sizeof ev);
    ev.on_spawn = set & 1 ? es_spawn : NULL;
    ev.on_exit = set & 2 ? es_exit : NULL;
    ev.on_stdout = set & 4 ? es_out : NULL;
    ev.on_stderr = set & 8 ? es_err : NULL;
    ev.on_close = es_close;
    cp_child *c;
    assert_int_equal(cp_fork_worker(loop, "out", args, &o, &ev, &recs[i], &c), 0);
  }
  memset(&ev, 0, sizeof ev); /* the library kept copies */
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  for (int i = 0; i < SETS * ROUNDS; i++) {
    int set = i % SETS;
    assert_int_equal(recs[i].closed, 1);
    assert_int_equal(recs[i].spawned, set & 1 ? 1 : 0);
    assert_int_equal(recs[i].exited, set & 2 ? 1 : 0);
    assert_int_equal(recs[i].out, set & 4 ? 2 : 0); /* one byte, then the end */
    assert_int_equal(recs[i].err, set & 8 ? 1 : 0); /* the end only */
  }
  assert_int_equal(cp_loop_free(loop), 0);
}

/* cp_loop_free refuses while anything still lives on the loop, also what is over but not released:
 * a child that closed but was not freed, a timer that fired but was not freed (as the header says). */
static void loop_free_refuses_closed_but_unfreed_children_and_fired_timers(void **state) {
  (void)state;
  rec r;
  const char *args[] = {"0", NULL};
  start(&r, "exit", args, NULL);
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  assert_true(r.closed);
  assert_int_equal(cp_loop_free(r.loop), CP_EAGAIN); /* closed, not freed */
  cp_child_free(r.child);
  cp_timer *t;
  assert_int_equal(cp_timer_new(r.loop, &t), 0);
  tick_state st = {0, 0, false};
  assert_int_equal(cp_timer_start(t, 1, 0, on_tick, &st), 0);
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(st.fired, 1);
  assert_int_equal(cp_loop_free(r.loop), CP_EAGAIN); /* fired, not freed */
  cp_timer_free(t);
  assert_int_equal(cp_loop_free(r.loop), 0);
  free(r.out);
}

static void free_before_close_still_reaps(void **state) {
  (void)state;
  rec r;
  const char *args[] = {"50", NULL};
  start(&r, "sleep", args, NULL);
  cp_child_free(r.child); /* no callback after this; the loop still waits for it */
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  assert_false(r.closed);
  assert_int_equal(cp_loop_free(r.loop), 0);
}

static void external_loop_drives_with_fd_and_nowait(void **state) {
  (void)state;
  rec r;
  const char *args[] = {"3", NULL};
  start(&r, "out", args, NULL);
  cp_os_handle fd = cp_loop_fd(r.loop);
#if defined(_WIN32)
  assert_true(fd != CP_INVALID_HANDLE);
  while (!r.closed) {
    WaitForSingleObject(fd, 50); /* the IOCP is not waitable on every Windows; wake often */
    cp_loop_run(r.loop, CP_RUN_NOWAIT);
  }
#else
  if (fd == CP_INVALID_HANDLE) { /* the poll() backend has no single descriptor */
    while (!r.closed) cp_loop_run(r.loop, CP_RUN_ONCE);
  } else {
    while (!r.closed) {
      struct pollfd p = {fd, POLLIN, 0};
      poll(&p, 1, cp_loop_timeout(r.loop));
      assert_true(cp_loop_run(r.loop, CP_RUN_NOWAIT) >= 0);
    }
  }
#endif
  assert_string_equal(r.out, "xxx");
  finish(&r);
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, sizeof workers / sizeof workers[0], &status)) return status;
#ifdef _WIN32
  static char self[MAX_PATH * 3];
  GetModuleFileNameA(NULL, self, sizeof self);
  test_self_path = self;
#else
  static char self[4096];
  if (cptest_self_exe(self, sizeof self) < 0) self[0] = '\0';
  test_self_path = self;
#endif
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(spawn_events_in_node_order),
      cmocka_unit_test(spawn_failure_is_error_then_close),
      cmocka_unit_test(spawn_invalid_arguments_return_einval),
      cmocka_unit_test(stdin_writes_reach_the_child_in_order),
      cmocka_unit_test(writes_to_a_child_that_never_reads_fail_instead_of_hanging),
      cmocka_unit_test(paused_stdout_delivers_nothing_until_resumed),
      cmocka_unit_test(kill_delivers_the_signal_and_then_esrch),
      cmocka_unit_test(spawn_timeout_kills_with_kill_signal),
      cmocka_unit_test(exec_file_async_delivers_the_sync_result),
      cmocka_unit_test(unref_child_does_not_keep_the_loop_alive),
      cmocka_unit_test(many_children_in_flight_on_one_loop),
      cmocka_unit_test(children_keep_their_own_events_when_sets_are_shared),
      cmocka_unit_test(free_before_close_still_reaps),
      cmocka_unit_test(loop_free_refuses_closed_but_unfreed_children_and_fired_timers),
      cmocka_unit_test(external_loop_drives_with_fd_and_nowait),
      cmocka_unit_test(timers_fire_repeat_and_keep_the_loop_alive),
      cmocka_unit_test(timers_fire_in_due_order_and_stopped_ones_never_fire),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
