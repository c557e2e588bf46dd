/* test_tree_channel_posix.c - POSIX behaviours of the loop: killing a whole process tree (on request
 * and on timeout), a channel child whose parent is SIGKILLed, a peer flooding the JSON channel
 * without a newline, and SIGPIPE never reaching the parent. */
#include <childproc.h>

#include "cptest.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- workers ------------------------------------------------------------------------------------ */

static void leaf_on_disconnect(cp_channel *ch, void *ud) {
  (void)ch, (void)ud;
  exit(0);
}

/* leaf: waits on its channel; exits when the channel reports disconnect. */
static int worker_leaf(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  cp_channel_events ev = {.on_disconnect = leaf_on_disconnect};
  cp_channel_set_events(ch, &ev, NULL);
  return 0;
}

/* middle: forks a leaf (which inherits middle's stdout), prints "ready <leaf pid>" and waits to be
 * killed. */
static int worker_middle(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)ch, (void)argc, (void)argv, (void)ud;
  cp_child *leaf;
  if (cp_fork_worker(loop, "leaf", NULL, NULL, NULL, NULL, &leaf)) return 3;
  printf("ready %lld\n", (long long)cp_child_pid(leaf));
  fflush(stdout);
  pause();
  return 4;
}

static const cp_worker_def workers[] = {{"leaf", worker_leaf, NULL}, {"middle", worker_middle, NULL}};

/* ---- helpers ------------------------------------------------------------------------------------ */

typedef struct watch {
  char out[512];
  size_t out_len;
  bool closed;
  int64_t status;
  int signal;
  int error_code;
  bool disconnected;
  int (*on_ready)(cp_child *c, struct watch *w); /* called once "ready" was printed */
  bool ready_done;
} watch;

static void w_stdout(cp_child *c, const char *d, size_t n, void *ud) {
  watch *w = ud;
  if (n && w->out_len + n < sizeof w->out) {
    memcpy(w->out + w->out_len, d, n);
    w->out_len += n;
    w->out[w->out_len] = '\0';
  }
  if (!w->ready_done && w->on_ready && strstr(w->out, "ready")) {
    w->ready_done = true;
    assert_int_equal(w->on_ready(c, w), 0);
  }
}
static void w_error(cp_child *c, const cp_error *e, void *ud) {
  (void)c;
  ((watch *)ud)->error_code = e->code;
}
static void w_disconnect(cp_child *c, void *ud) {
  (void)c;
  ((watch *)ud)->disconnected = true;
}
static void w_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c;
  watch *w = ud;
  w->closed = true;
  w->status = status;
  w->signal = sig;
}
static const cp_child_events wev = {
    .on_error = w_error, .on_stdout = w_stdout, .on_disconnect = w_disconnect, .on_close = w_close};

/* True once pid has exited (waited for, up to 10 s, through a pidfd where there is one: an event, not a sleep). Its
 * stdout closing is not proof enough: a process closes its files a moment before it is gone. */
static bool process_gone(long pid) { return cptest_pid_ends_within(pid, 10000); }

/* The pids the shell script printed after "ready": "ready 123 456". */
static int parse_pids(const char *out, long pids[], int max) {
  const char *p = strstr(out, "ready");
  int n = 0;
  if (!p) return 0;
  p += 5;
  while (n < max) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p) break;
    pids[n++] = v;
    p = end;
  }
  return n;
}

static const char tree_script[] = "sleep 100 & a=$!; sleep 100 & b=$!; echo ready $a $b; wait";

static int kill_tree_now(cp_child *c, watch *w) {
  (void)w;
  return cp_child_kill_tree(c, CP_SIGTERM);
}

/* ---- tests -------------------------------------------------------------------------------------- */

static void kill_tree_reaches_grandchildren(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  watch w = {.on_ready = kill_tree_now};
  const char *args[] = {"-c", tree_script, NULL};
  cp_options o = {.kill_tree = true};
  cp_child *c;
  assert_int_equal(cp_spawn(loop, "sh", args, &o, &wev, &w, &c), 0);
  /* 'close' needs stdout's end: it comes only once both sleeps (which hold stdout) are gone */
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(w.closed);
  assert_int_equal(w.signal, CP_SIGTERM);
  long pids[2] = {0, 0};
  assert_int_equal(parse_pids(w.out, pids, 2), 2);
  assert_true(process_gone(pids[0]));
  assert_true(process_gone(pids[1]));
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void timeout_with_kill_tree_leaves_nothing(void **state) {
  (void)state;
  const char *args[] = {"-c", tree_script, NULL};
  cp_options o = {.kill_tree = true, .timeout_ms = 300};
  cp_result r;
  assert_int_equal(cp_spawn_sync("sh", args, &o, &r), CP_ETIMEDOUT);
  assert_true(r.timed_out);
  assert_int_equal(r.signal, CP_SIGTERM);
  long pids[2] = {0, 0};
  assert_int_equal(parse_pids(r.out.data, pids, 2), 2);
  assert_true(process_gone(pids[0]));
  assert_true(process_gone(pids[1]));
  cp_result_free(&r);
}

static void kill_tree_needs_a_tree(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  watch w = {0};
  const char *args[] = {"0", NULL};
  cp_child *c;
  assert_int_equal(cp_spawn(loop, "sleep", args, NULL, &wev, &w, &c), 0);
  assert_int_equal(cp_child_kill_tree(c, CP_SIGTERM), CP_EINVAL);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

static int kill_middle(cp_child *c, watch *w) {
  (void)w;
  return cp_child_kill(c, CP_SIGKILL);
}

/* The leaf's channel peer is SIGKILLed: the leaf sees 'disconnect' and exits. We know it exited
 * because it shares the middle's stdout pipe, whose end arrives only when both are gone. */
static void channel_child_exits_when_parent_is_killed(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  watch w = {.on_ready = kill_middle};
  cp_options o = {.silent = true};
  cp_child *c;
  assert_int_equal(cp_fork_worker(loop, "middle", NULL, &o, &wev, &w, &c), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(w.closed);
  assert_int_equal(w.signal, CP_SIGKILL);
  long leaf = 0;
  assert_int_equal(parse_pids(w.out, &leaf, 1), 1);
  assert_true(process_gone(leaf));
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

/* 100 MB without a newline on a JSON channel: an error and a disconnect, never 100 MB of memory. */
static void json_channel_flood_without_newline_is_bounded(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  watch w = {0};
  const char *args[] = {"-c", "head -c 100000000 /dev/zero >&3", NULL};
  cp_options o = {.channel_max_message = 1 << 20, .silent = true};
  cp_child *c;
  assert_int_equal(cp_fork(loop, "sh", args, &o, &wev, &w, &c), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(w.error_code, CP_ENOBUFS);
  assert_true(w.disconnected);
  assert_true(w.closed);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

/* A signal number that does not exist is an invalid argument: returned only, no 'error' event (Node
 * throws ERR_UNKNOWN_SIGNAL and emits nothing). Other refused kills (EPERM) are still events. */
static void kill_with_an_unknown_signal_is_only_returned(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  watch w = {0};
  const char *args[] = {"100", NULL};
  cp_child *c;
  assert_int_equal(cp_spawn(loop, "sleep", args, NULL, &wev, &w, &c), 0);
  cp_loop_run(loop, CP_RUN_NOWAIT);
  assert_int_equal(cp_child_kill(c, 1000), CP_EINVAL);
  assert_int_equal(w.error_code, 0);
  assert_int_equal(cp_child_kill(c, CP_SIGKILL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void sigpipe_never_reaches_the_parent(void **state) {
  (void)state;
  struct sigaction dfl = {0}, old;
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &dfl, &old); /* a SIGPIPE would kill this test process */
  static char big[1 << 20];
  const char *args[] = {"-c", "exec 0<&-; echo closed", NULL};
  cp_options o = {.input = big, .input_len = sizeof big};
  cp_result r;
  assert_int_equal(cp_spawn_sync("sh", args, &o, &r), 0);
  assert_string_equal(r.out.data, "closed\n");
  cp_result_free(&r);
  sigaction(SIGPIPE, &old, NULL);
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, sizeof workers / sizeof workers[0], &status)) return status;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(kill_tree_reaches_grandchildren),
      cmocka_unit_test(timeout_with_kill_tree_leaves_nothing),
      cmocka_unit_test(kill_tree_needs_a_tree),
      cmocka_unit_test(channel_child_exits_when_parent_is_killed),
      cmocka_unit_test(json_channel_flood_without_newline_is_bounded),
      cmocka_unit_test(kill_with_an_unknown_signal_is_only_returned),
      cmocka_unit_test(sigpipe_never_reaches_the_parent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
