/* test_channel.c - the message channel between a parent and a worker of this same executable:
 * framing in both modes, sizes from 1 byte to 8 MiB, bursts, disconnect from either side, limits and
 * bad input. The test binary is its own child: main() hands over to cp_worker_main() first. */
#include <childproc.h>

#include "cptest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- workers (run in the child process) ------------------------------------------------------ */

/* echo: sends every message back unchanged (cptest_worker_echo). */

/* burst N: sends {"i":0} ... {"i":N-1}, then disconnects itself. */
static int worker_burst(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)ud;
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
  char buf[32];
  for (long i = 0; i < n; i++) {
    int len = snprintf(buf, sizeof buf, "{\"i\":%ld}", i);
    if (cp_channel_send(ch, buf, (size_t)len, NULL, NULL)) return 3;
  }
  cp_channel_disconnect(ch);
  return 0;
}

/* hello-bye: sends one message and disconnects: the parent sees message, then disconnect. */
static int worker_hello_bye(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  cp_channel_send(ch, "\"hello\"", 7, NULL, NULL);
  cp_channel_disconnect(ch);
  return 7;
}

/* send-exit N: sends {"i":0} ... {"i":N-1} and ends its process at once with exit(0), as a Node
 * child doing process.send() and then process.exit(): nothing is lost that the socket could hold. */
static int worker_send_exit(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)ud;
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
  char buf[32];
  for (long i = 0; i < n; i++) {
    int len = snprintf(buf, sizeof buf, "{\"i\":%ld}", i);
    if (cp_channel_send(ch, buf, (size_t)len, NULL, NULL)) exit(3);
  }
  exit(0);
}

/* send-return N: the same, then returns from the worker (the parent disconnects). */
static int worker_send_return(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)ud;
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
  char buf[32];
  for (long i = 0; i < n; i++) {
    int len = snprintf(buf, sizeof buf, "{\"i\":%ld}", i);
    if (cp_channel_send(ch, buf, (size_t)len, NULL, NULL)) return 3;
  }
  return 0;
}

static const cp_worker_def workers[] = {
    {"send-exit", worker_send_exit, NULL},
    {"send-return", worker_send_return, NULL},
    {"echo", cptest_worker_echo, NULL},
    {"burst", worker_burst, NULL},
    {"hello-bye", worker_hello_bye, NULL},
};

/* ---- the parent's side ------------------------------------------------------------------------ */

typedef struct conv {
  cp_loop *loop;
  cp_child *child;
  char **msgs;      /* received messages, copied */
  size_t *lens;
  size_t count, cap;
  size_t expect;    /* disconnect after this many replies (0: never) */
  char events[16];  /* order of events: 'm'essage, 'd'isconnect, 'e'xit, 'c'lose */
  int nevents;
  int64_t status;
  int signal;
  bool closed;
  int errors;
} conv;

static void note(conv *c, char e) {
  if (c->nevents < 16 && (c->nevents == 0 || c->events[c->nevents - 1] != e || e != 'm')) c->events[c->nevents++] = e;
}

static void on_message(cp_child *ch, const char *msg, size_t len, void *ud) {
  conv *c = ud;
  note(c, 'm');
  if (c->count == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 64;
    c->msgs = realloc(c->msgs, c->cap * sizeof *c->msgs);
    c->lens = realloc(c->lens, c->cap * sizeof *c->lens);
  }
  c->msgs[c->count] = malloc(len + 1);
  memcpy(c->msgs[c->count], msg, len);
  c->msgs[c->count][len] = '\0';
  c->lens[c->count++] = len;
  if (c->expect && c->count == c->expect) cp_channel_disconnect(cp_child_channel(ch));
}

static void on_error(cp_child *ch, const cp_error *err, void *ud) {
  (void)ch, (void)err;
  ((conv *)ud)->errors++;
}

static void on_exit_ev(cp_child *ch, int64_t status, int sig, void *ud) {
  (void)ch;
  conv *c = ud;
  note(c, 'e');
  c->status = status;
  c->signal = sig;
}

static void on_disconnect(cp_child *ch, void *ud) {
  (void)ch;
  note(ud, 'd');
}

static void on_close(cp_child *ch, int64_t status, int sig, void *ud) {
  (void)ch, (void)status, (void)sig;
  conv *c = ud;
  note(c, 'c');
  c->closed = true;
}

static const cp_child_events events = {
    .on_error = on_error, .on_message = on_message, .on_exit = on_exit_ev, .on_disconnect = on_disconnect,
    .on_close = on_close};

static void conv_start(conv *c, const char *worker, const char *const *args, cp_channel_mode mode) {
  memset(c, 0, sizeof *c);
  assert_int_equal(cp_loop_new(&c->loop), 0);
  cp_options o = {.channel = mode, .silent = true};
  assert_int_equal(cp_fork_worker(c->loop, worker, args, &o, &events, c, &c->child), 0);
}

static void conv_finish(conv *c) {
  assert_int_equal(cp_loop_run(c->loop, CP_RUN_DEFAULT), 0);
  assert_true(c->closed);
  cp_child_free(c->child);
  assert_int_equal(cp_loop_free(c->loop), 0);
  for (size_t i = 0; i < c->count; i++) free(c->msgs[i]);
  free(c->msgs);
  free(c->lens);
}

/* A JSON string message of exactly n bytes: "xxxx...". */
static char *json_string_of(size_t n) {
  char *s = malloc(n + 2);
  if (n == 1) { /* the shortest JSON text: a one-digit number */
    strcpy(s, "7");
    return s;
  }
  s[0] = '"';
  for (size_t i = 1; i + 1 < n; i++) s[i] = (char)('a' + i % 26);
  s[n - 1] = '"';
  s[n] = '\0';
  return s;
}

static void channel_json_round_trip_sizes(void **state) {
  (void)state;
  /* the last ones follow messages the socket could not take at once: they must wait their turn */
  static const size_t sizes[] = {1, 2, 3, 100, 4096, 65535, 65536, 65537, 1 << 20, 8u << 20, 5, 1};
  size_t n = sizeof sizes / sizeof sizes[0];
  conv c;
  conv_start(&c, "echo", NULL, CP_CHANNEL_JSON);
  c.expect = n;
  char *sent[sizeof sizes / sizeof sizes[0]];
  for (size_t i = 0; i < n; i++) {
    sent[i] = json_string_of(sizes[i]);
    assert_int_equal(cp_channel_send(cp_child_channel(c.child), sent[i], sizes[i], NULL, NULL), 0);
  }
  assert_int_equal(cp_loop_run(c.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(c.count, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(c.lens[i], sizes[i]);
    assert_memory_equal(c.msgs[i], sent[i], sizes[i]);
    free(sent[i]);
  }
  assert_int_equal(c.status, 0); /* the worker exits 0 once the parent disconnects */
  conv_finish(&c);
}

static void channel_binary_carries_any_bytes(void **state) {
  (void)state;
  conv c;
  conv_start(&c, "echo", NULL, CP_CHANNEL_BINARY);
  unsigned char all[256 * 3];
  for (size_t i = 0; i < sizeof all; i++) all[i] = (unsigned char)i;
  static const size_t sizes[] = {0, 1, 10, sizeof all};
  c.expect = 4;
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(cp_channel_send(cp_child_channel(c.child), all, sizes[i], NULL, NULL), 0);
  assert_int_equal(cp_loop_run(c.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(c.count, 4);
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(c.lens[i], sizes[i]);
    if (sizes[i]) assert_memory_equal(c.msgs[i], all, sizes[i]);
  }
  conv_finish(&c);
}

static void channel_burst_of_100k_messages_in_order(void **state) {
  (void)state;
  conv c;
  const char *args[] = {"100000", NULL};
  conv_start(&c, "burst", args, CP_CHANNEL_JSON);
  assert_int_equal(cp_loop_run(c.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(c.count, 100000);
  char want[32];
  for (size_t i = 0; i < c.count; i += 997) {
    snprintf(want, sizeof want, "{\"i\":%zu}", i);
    assert_string_equal(c.msgs[i], want);
  }
  assert_string_equal(c.msgs[99999], "{\"i\":99999}");
  assert_int_equal(c.status, 0);
  conv_finish(&c);
}

static void channel_child_disconnect_reaches_parent_before_close(void **state) {
  (void)state;
  conv c;
  conv_start(&c, "hello-bye", NULL, CP_CHANNEL_JSON);
  assert_int_equal(cp_loop_run(c.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(c.count, 1);
  assert_string_equal(c.msgs[0], "\"hello\"");
  assert_int_equal(c.status, 7);
  /* The message comes before the disconnect (the end of the stream follows its data); 'exit' may
   * come at any point before 'close' (as in Node); close is last. */
  const char *m = memchr(c.events, 'm', (size_t)c.nevents), *d = memchr(c.events, 'd', (size_t)c.nevents);
  assert_non_null(m);
  assert_non_null(d);
  assert_true(m < d);
  assert_non_null(memchr(c.events, 'e', (size_t)c.nevents));
  assert_int_equal(c.events[c.nevents - 1], 'c');
  conv_finish(&c);
}

static void assert_messages_in_order(const conv *c, size_t n) {
  assert_int_equal(c->count, n);
  char want[32];
  for (size_t i = 0; i < n; i++) {
    snprintf(want, sizeof want, "{\"i\":%zu}", i);
    assert_string_equal(c->msgs[i], want);
  }
}

/* Node's child does process.send() x3 then process.exit(): all three arrive. So here. */
static void channel_messages_sent_before_exit_all_arrive(void **state) {
  (void)state;
  int rounds = cptest_is_wine() ? 5 : 50; /* each round is a spawn: ~1.5 s under Wine */
  for (int round = 0; round < rounds; round++) {
    conv c;
    const char *args[] = {"3", NULL};
    conv_start(&c, "send-exit", args, CP_CHANNEL_JSON);
    assert_int_equal(cp_loop_run(c.loop, CP_RUN_DEFAULT), 0);
    assert_messages_in_order(&c, 3);
    assert_int_equal(c.status, 0);
    /* ... and before its exit is seen */
    const char *m = memchr(c.events, 'm', (size_t)c.nevents), *e = memchr(c.events, 'e', (size_t)c.nevents);
    assert_non_null(m);
    assert_non_null(e);
    assert_true(m < e);
    conv_finish(&c);
  }
}

static void channel_messages_sent_before_returning_from_the_worker_all_arrive(void **state) {
  (void)state;
  conv c;
  const char *args[] = {"3", NULL};
  conv_start(&c, "send-return", args, CP_CHANNEL_JSON);
  c.expect = 3; /* then the parent disconnects, and the worker's process ends */
  assert_int_equal(cp_loop_run(c.loop, CP_RUN_DEFAULT), 0);
  assert_messages_in_order(&c, 3);
  assert_int_equal(c.status, 0);
  conv_finish(&c);
}

/* Node's child.send() after 'disconnect' fails with an EPIPE-like error; cp_child_channel() still
 * gives the channel so the send says CP_EPIPE rather than CP_EINVAL. */
static int send_in_disconnect_rc = 1;
static void on_disconnect_send(cp_child *ch, void *ud) {
  (void)ud;
  send_in_disconnect_rc = cp_channel_send(cp_child_channel(ch), "1", 1, NULL, NULL);
}

static void channel_send_from_on_disconnect_is_epipe(void **state) {
  (void)state;
  conv c;
  memset(&c, 0, sizeof c);
  assert_int_equal(cp_loop_new(&c.loop), 0);
  cp_child_events ev = events;
  ev.on_disconnect = on_disconnect_send;
  cp_options o = {.silent = true};
  assert_int_equal(cp_fork_worker(c.loop, "hello-bye", NULL, &o, &ev, &c, &c.child), 0);
  assert_int_equal(cp_loop_run(c.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(send_in_disconnect_rc, CP_EPIPE);
  assert_non_null(cp_child_channel(c.child));
  assert_false(cp_channel_connected(cp_child_channel(c.child)));
  assert_int_equal(cp_channel_send(cp_child_channel(c.child), "1", 1, NULL, NULL), CP_EPIPE);
  conv_finish(&c);
}

static void channel_send_refuses_raw_newline_in_json(void **state) {
  (void)state;
  conv c;
  conv_start(&c, "echo", NULL, CP_CHANNEL_JSON);
  cp_channel *ch = cp_child_channel(c.child);
  assert_int_equal(cp_channel_send(ch, "\"a\nb\"", 5, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_channel_send(ch, "", 0, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_channel_send(ch, NULL, 3, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_channel_send(NULL, "1", 1, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_channel_disconnect(ch), 0);
  assert_int_equal(cp_channel_send(ch, "1", 1, NULL, NULL), CP_EPIPE);
  assert_int_equal(cp_channel_disconnect(ch), CP_EPIPE);
  conv_finish(&c);
}

static void channel_send_over_limit_is_enobufs(void **state) {
  (void)state;
  conv c;
  memset(&c, 0, sizeof c);
  assert_int_equal(cp_loop_new(&c.loop), 0);
  cp_options o = {.silent = true, .channel_max_message = 10};
  assert_int_equal(cp_fork_worker(c.loop, "echo", NULL, &o, &events, &c, &c.child), 0);
  cp_channel *ch = cp_child_channel(c.child);
  assert_int_equal(cp_channel_send(ch, "\"0123456789\"", 12, NULL, NULL), CP_ENOBUFS);
  assert_int_equal(cp_channel_send(ch, "\"01234\"", 7, NULL, NULL), 0);
  c.expect = 1;
  assert_int_equal(cp_loop_run(c.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(c.count, 1);
  conv_finish(&c);
}

typedef struct send_track {
  int done, failed;
} send_track;

static void on_sent(cp_channel *ch, int status, void *ud) {
  (void)ch;
  send_track *t = ud;
  if (status == 0) t->done++;
  else t->failed++;
}

static void channel_send_callbacks_run_once_each(void **state) {
  (void)state;
  conv c;
  conv_start(&c, "echo", NULL, CP_CHANNEL_JSON);
  send_track t = {0, 0};
  for (int i = 0; i < 50; i++) assert_int_equal(cp_channel_send(cp_child_channel(c.child), "[1]", 3, on_sent, &t), 0);
  c.expect = 50;
  assert_int_equal(cp_loop_run(c.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(t.done, 50);
  assert_int_equal(t.failed, 0);
  conv_finish(&c);
}

static void fork_worker_rejects_bad_names(void **state) {
  (void)state;
  cp_loop *loop;
  cp_child *c = (cp_child *)1;
  assert_int_equal(cp_loop_new(&loop), 0);
  assert_int_equal(cp_fork_worker(loop, NULL, NULL, NULL, &events, NULL, &c), CP_EINVAL);
  assert_null(c);
  assert_int_equal(cp_fork_worker(loop, "", NULL, NULL, &events, NULL, &c), CP_EINVAL);
  assert_int_equal(cp_fork_worker(loop, "a=b", NULL, NULL, &events, NULL, &c), CP_EINVAL);
  assert_int_equal(cp_fork_worker(NULL, "echo", NULL, NULL, &events, NULL, &c), CP_EINVAL);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void channel_open_parent_without_channel_is_enoent(void **state) {
  (void)state;
  cp_loop *loop;
  cp_channel *ch = (cp_channel *)1;
  assert_int_equal(cp_loop_new(&loop), 0);
  assert_int_equal(cp_channel_open_parent(loop, NULL, NULL, &ch), CP_ENOENT);
  assert_null(ch);
  assert_int_equal(cp_channel_open_parent(NULL, NULL, NULL, &ch), CP_EINVAL);
  assert_int_equal(cp_loop_free(loop), 0);
}

/* NODE_CHANNEL_FD that is not a descriptor number, or names none that is open; Node's "advanced"
 * serialization, which the library does not speak: clear errors, no channel. The channel functions
 * given NULL: CP_EINVAL or a neutral answer. */
static void channel_open_parent_bad_environment(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  static const struct {
    const char *fd, *mode;
    int code;
  } cases[] = {{"abc", NULL, CP_EINVAL},   {"-1", NULL, CP_EINVAL},     {"3x", NULL, CP_EINVAL},
               {"987654", NULL, CP_EBADF},
               {"987654", "json", CP_EBADF}, {"987654", "binary", CP_EBADF}, {"3", "advanced", CP_ENOTSUP}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cptest_setenv("NODE_CHANNEL_FD", cases[i].fd);
    cptest_setenv("NODE_CHANNEL_SERIALIZATION_MODE", cases[i].mode);
    cp_channel *ch = (cp_channel *)1;
    int rc = cp_channel_open_parent(loop, NULL, NULL, &ch);
    if (rc != cases[i].code)
      fail_msg("NODE_CHANNEL_FD=%s mode %s: %s, want %s", cases[i].fd, cases[i].mode ? cases[i].mode : "(unset)",
               cp_err_name(rc), cp_err_name(cases[i].code));
    assert_null(ch);
  }
  cptest_setenv("NODE_CHANNEL_FD", NULL);
  cptest_setenv("NODE_CHANNEL_SERIALIZATION_MODE", NULL);
  assert_int_equal(cp_loop_free(loop), 0);

  assert_false(cp_channel_connected(NULL));
  assert_int_equal(cp_channel_disconnect(NULL), CP_EINVAL);
  assert_int_equal(cp_channel_set_events(NULL, NULL, NULL), CP_EINVAL);
  cp_channel_free(NULL);
}

static void channel_options_bad_input(void **state) {
  (void)state;
  cp_loop *loop;
  cp_child *c;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_options bad_mode = {.channel = (cp_channel_mode)42};
  assert_int_equal(cp_fork_worker(loop, "echo", NULL, &bad_mode, &events, NULL, &c), CP_EINVAL);
  cp_options low_fd = {.channel = CP_CHANNEL_JSON, .channel_fd = 1};
  assert_int_equal(cp_fork_worker(loop, "echo", NULL, &low_fd, &events, NULL, &c), CP_EINVAL);
  cp_options two = {.stdio = {{CP_STDIO_CHANNEL, 0}, {CP_STDIO_CHANNEL, 0}}};
  assert_int_equal(cp_fork_worker(loop, "echo", NULL, &two, &events, NULL, &c), CP_EINVAL);
  cp_options neg = {.channel = CP_CHANNEL_JSON, .channel_fd = -4};
  assert_int_equal(cp_fork_worker(loop, "echo", NULL, &neg, &events, NULL, &c), CP_EINVAL);
  assert_int_equal(cp_loop_free(loop), 0);
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, sizeof workers / sizeof workers[0], &status)) return status;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(channel_json_round_trip_sizes),
      cmocka_unit_test(channel_binary_carries_any_bytes),
      cmocka_unit_test(channel_burst_of_100k_messages_in_order),
      cmocka_unit_test(channel_child_disconnect_reaches_parent_before_close),
      cmocka_unit_test(channel_messages_sent_before_exit_all_arrive),
      cmocka_unit_test(channel_messages_sent_before_returning_from_the_worker_all_arrive),
      cmocka_unit_test(channel_send_from_on_disconnect_is_epipe),
      cmocka_unit_test(channel_send_refuses_raw_newline_in_json),
      cmocka_unit_test(channel_send_over_limit_is_enobufs),
      cmocka_unit_test(channel_send_callbacks_run_once_each),
      cmocka_unit_test(fork_worker_rejects_bad_names),
      cmocka_unit_test(channel_open_parent_without_channel_is_enoent),
      cmocka_unit_test(channel_open_parent_bad_environment),
      cmocka_unit_test(channel_options_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
