/* test_pool.c - request/response on a channel and the worker pool: ids that never cross (replies out
 * of order), bad replies counted and never a crash, and every edge case of the pool: crash requeue and
 * retry limit, task timeout, recycling by task count and by resident memory, start failures with
 * back-off, drain and cancel, a bounded queue, and 100,000 tasks through crashing workers with each
 * completing exactly once. The workers are functions of this executable (cp_worker_main), so the
 * same suite runs natively and under Wine; counts are smaller on Windows, where a spawn under Wine
 * costs ~45 ms. */
#include "cptest.h"

#ifdef _WIN32
#include <windows.h>
#define self_pid() ((long long)GetCurrentProcessId())
#else
#include <unistd.h>
#define self_pid() ((long long)getpid())
#endif

/* ---- workers (run in the child process) ------------------------------------------------------ */

static cp_loop *w_loop;

/* The integer after "name": in msg (0 if absent). */
static long long num_of(const char *msg, size_t len, const char *name) {
  char key[32];
  int kn = snprintf(key, sizeof key, "\"%s\":", name);
  for (size_t i = 0; i + (size_t)kn <= len; i++)
    if (memcmp(msg + i, key, (size_t)kn) == 0) return strtoll(msg + i + kn, NULL, 10);
  return 0;
}

static bool has(const char *msg, size_t len, const char *text) {
  size_t n = strlen(text);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(msg + i, text, n) == 0) return true;
  return false;
}

static void reply_int(cp_request *req, long long v) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lld", v);
  cp_request_reply(req, buf, (size_t)n);
}

typedef struct later {
  cp_request *req;
  long long v;
} later;

static void later_fire(cp_timer *t, void *ud) {
  later *l = ud;
  reply_int(l->req, l->v);
  free(l);
  cp_timer_free(t);
}

/* calc: {"op":"add","a":1,"b":2} -> 3; "fail" -> error "no: <a>"; "crash" -> exit(a); "sleep" -> a
 * after b ms; "pid" -> its pid; "hog" -> touches a MiB and keeps it, replies a; "noise" -> sends bad
 * messages first, then replies a; "text" -> a string with quotes, backslashes and a newline. */
static void calc_serve(cp_request *req, const char *msg, size_t len, void *ud) {
  (void)ud;
  long long a = num_of(msg, len, "a"), b = num_of(msg, len, "b");
  if (has(msg, len, "\"op\":\"add\"")) {
    reply_int(req, a + b);
  } else if (has(msg, len, "\"op\":\"fail\"")) {
    char m[64];
    snprintf(m, sizeof m, "no: %lld \"quoted\"\\", a);
    cp_request_fail(req, m);
  } else if (has(msg, len, "\"op\":\"crash\"")) {
    exit((int)a);
  } else if (has(msg, len, "\"op\":\"sleep\"")) {
    cp_timer *t;
    later *l = malloc(sizeof *l);
    l->req = req;
    l->v = a;
    cp_timer_new(w_loop, &t);
    cp_timer_start(t, (uint64_t)b, 0, later_fire, l);
  } else if (has(msg, len, "\"op\":\"pid\"")) {
    reply_int(req, self_pid());
  } else if (has(msg, len, "\"op\":\"hog\"")) {
    size_t n = (size_t)a << 20;
    char *p = malloc(n);
    if (p) memset(p, 1, n); /* kept on purpose: the worker's resident memory stays up */
    reply_int(req, p ? a : -1);
  } else if (has(msg, len, "\"op\":\"noise\"")) {
    cp_channel *ch = cp_request_channel(req);
    cp_channel_send(ch, "not json", 8, NULL, NULL);
    cp_channel_send(ch, "[1,2]", 5, NULL, NULL);
    cp_channel_send(ch, "{\"x\":1}", 7, NULL, NULL);
    cp_channel_send(ch, "{\"id\":987654321,\"result\":1}", 27, NULL, NULL);
    reply_int(req, a);
  } else if (has(msg, len, "\"op\":\"ctl\"")) {
    cp_request_fail(req, "x\r\t\001y"); /* control characters travel escaped */
  } else if (has(msg, len, "\"op\":\"text\"")) {
    static const char s[] = "\"a \\\"q\\\" b\\\\ c\\n\\u00e9\"";
    cp_request_reply(req, s, sizeof s - 1);
  } else {
    cp_request_fail(req, "unknown op");
  }
}

static int worker_calc(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)argc, (void)argv, (void)ud;
  w_loop = loop;
  return cp_channel_serve(ch, calc_serve, NULL) ? 1 : 0;
}

/* reverse N: holds N requests {"n":k}, then answers them newest first with 2k. */
static cp_request *held[256];
static long long held_n[256];
static int nheld, want_held;

static void reverse_serve(cp_request *req, const char *msg, size_t len, void *ud) {
  (void)ud;
  held[nheld] = req;
  held_n[nheld++] = num_of(msg, len, "n");
  if (nheld < want_held) return;
  while (nheld > 0) {
    nheld--;
    reply_int(held[nheld], 2 * held_n[nheld]);
  }
}

static int worker_reverse(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)ud;
  want_held = argc > 1 ? atoi(argv[1]) : 1;
  if (want_held < 1 || want_held > 256) return 2;
  return cp_channel_serve(ch, reverse_serve, NULL) ? 1 : 0;
}

/* garbage: answers each request with everything a bad peer can send, then (for {"ok":1}) a good
 * reply, or (else) a reply with the right id and a malformed error. */
static void garbage_on_message(cp_channel *ch, const char *msg, size_t len, void *ud) {
  (void)ud;
  static const char *bad[] = {
      "not json",  "{\"id\":",   "[1,2,3]",  "\"str\"",  "42",  "{\"noid\":true}", "{\"id\":999999,\"result\":1}",
      "{\"id\":\"x\",\"result\":1}", "{\"id\":-1,\"error\":\"e\"}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) cp_channel_send(ch, bad[i], strlen(bad[i]), NULL, NULL);
  long long id = num_of(msg, len, "id");
  char buf[96];
  int n = has(msg, len, "\"ok\":1") ? snprintf(buf, sizeof buf, "{\"id\":%lld,\"result\":{\"fine\":[1,\"]\"]}}", id)
                                     : snprintf(buf, sizeof buf, "{\"id\":%lld,\"error\":{\"not\":\"a string\"}}", id);
  cp_channel_send(ch, buf, (size_t)n, NULL, NULL);
  /* the same reply again: its id is no longer pending */
  cp_channel_send(ch, buf, (size_t)n, NULL, NULL);
}

static int worker_garbage(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  cp_channel_events ev = {.on_message = garbage_on_message};
  return cp_channel_set_events(ch, &ev, NULL) ? 1 : 0;
}

/* escapes: answers each request with an error string using every JSON escape, surrogate pairs and
 * lone surrogates (which decode to U+FFFD). */
static void escapes_on_message(cp_channel *ch, const char *msg, size_t len, void *ud) {
  (void)ud;
  char buf[256];
  int n = snprintf(buf, sizeof buf,
                   "{\"id\":%lld,\"error\":\"a\\/b\\bc\\fd\\re\\tf\\u00e9\\ud83d\\ude00\\ud800x\\udc00\\u0041\\u07ff\"}",
                   num_of(msg, len, "id"));
  cp_channel_send(ch, buf, (size_t)n, NULL, NULL);
}

static int worker_escapes(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  cp_channel_events ev = {.on_message = escapes_on_message};
  return cp_channel_set_events(ch, &ev, NULL) ? 1 : 0;
}

/* die: exits 1 before reading anything. */
static int worker_die(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)ch, (void)argc, (void)argv, (void)ud;
  exit(1);
}

/* rcrash: answers {"a":x,"b":y} with x+y, but exits 3 on receipt with probability 1/400. */
static uint64_t rng;

static void rcrash_serve(cp_request *req, const char *msg, size_t len, void *ud) {
  (void)ud;
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  if ((rng >> 33) % 400 == 0) exit(3);
  reply_int(req, num_of(msg, len, "a") + num_of(msg, len, "b"));
}

static int worker_rcrash(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  rng = (uint64_t)self_pid() * 2654435761u + cptest_now_ms();
  return cp_channel_serve(ch, rcrash_serve, NULL) ? 1 : 0;
}

static const cp_worker_def workers[] = {
    {"calc", worker_calc, NULL},       {"reverse", worker_reverse, NULL}, {"garbage", worker_garbage, NULL},
    {"die", worker_die, NULL},         {"rcrash", worker_rcrash, NULL},   {"escapes", worker_escapes, NULL},
};

/* ---- request/response on one channel ---------------------------------------------------------- */

typedef struct got {
  int calls;
  int code;
  char result[128];
  char error[128];
  unsigned attempts;
  int64_t exit_status;
  int signal;
} got;

static void on_reply(const cp_reply *r, void *ud) {
  got *g = ud;
  g->calls++;
  g->code = r->code;
  g->attempts = r->attempts;
  g->exit_status = r->exit_status;
  g->signal = r->signal;
  snprintf(g->result, sizeof g->result, "%s", r->result ? r->result : "");
  snprintf(g->error, sizeof g->error, "%s", r->error ? r->error : "");
  if (r->code == CP_OK) assert_true((r->result == NULL) != (r->error == NULL));
  if (r->code != CP_OK) assert_non_null(r->error);
}

static cp_child *fork_worker(cp_loop *loop, const char *name, const char *const *args) {
  cp_child *c = NULL;
  assert_int_equal(cp_fork_worker(loop, name, args, NULL, NULL, NULL, &c), 0);
  return c;
}

/* Runs the loop until every callback in g[0..n) ran once. */
static void run_until(cp_loop *loop, got *g, int n) {
  for (;;) {
    int left = 0;
    for (int i = 0; i < n; i++) left += g[i].calls == 0;
    if (!left) return;
    assert_true(cp_loop_run(loop, CP_RUN_ONCE) >= 0);
  }
}

static void finish_child(cp_loop *loop, cp_child *c) {
  cp_channel *ch = cp_child_channel(c);
  if (cp_channel_connected(ch)) cp_channel_disconnect(ch);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void request_gets_result_error_and_escaped_text(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_child *c = fork_worker(loop, "calc", NULL);
  cp_channel *ch = cp_child_channel(c);
  got g[3] = {{0}};
  const char add[] = "{\"op\":\"add\",\"a\":40,\"b\":2}";
  assert_int_equal(cp_channel_request(ch, add, sizeof add - 1, on_reply, &g[0]), 0);
  const char fail[] = "  {\"op\":\"fail\", \"a\":7} ";
  assert_int_equal(cp_channel_request(ch, fail, sizeof fail - 1, on_reply, &g[1]), 0);
  const char text[] = "{\"op\":\"text\"}";
  assert_int_equal(cp_channel_request(ch, text, sizeof text - 1, on_reply, &g[2]), 0);
  run_until(loop, g, 3);
  assert_int_equal(g[0].code, CP_OK);
  assert_string_equal(g[0].result, "42");
  assert_int_equal(g[1].code, CP_OK);
  assert_string_equal(g[1].error, "no: 7 \"quoted\"\\");
  assert_int_equal(g[2].code, CP_OK);
  assert_string_equal(g[2].result, "\"a \\\"q\\\" b\\\\ c\\n\\u00e9\"");
  cp_request_stats st;
  assert_int_equal(cp_channel_request_stats(ch, &st), 0);
  assert_int_equal(st.sent, 3);
  assert_int_equal(st.replied, 3);
  assert_int_equal(st.pending, 0);
  finish_child(loop, c);
}

/* Every escape of a reply's error string is decoded (surrogate pairs joined, lone surrogates made
 * U+FFFD), and control characters in a cp_request_fail() message are escaped on the way. */
static void reply_escapes_decode_and_control_characters_travel(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_child *c = fork_worker(loop, "escapes", NULL);
  got g = {0};
  assert_int_equal(cp_channel_request(cp_child_channel(c), "{}", 2, on_reply, &g), 0);
  run_until(loop, &g, 1);
  assert_int_equal(g.code, CP_OK);
  assert_string_equal(g.error, "a/b\bc\fd\re\tf\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx\xef\xbf\xbd"
                               "A\xdf\xbf");
  finish_child(loop, c);
  assert_int_equal(cp_loop_new(&loop), 0);
  c = fork_worker(loop, "calc", NULL);
  memset(&g, 0, sizeof g);
  assert_int_equal(cp_channel_request(cp_child_channel(c), "{\"op\":\"ctl\"}", 12, on_reply, &g), 0);
  run_until(loop, &g, 1);
  assert_int_equal(g.code, CP_OK);
  assert_string_equal(g.error, "x\r\t\001y");
  finish_child(loop, c);
}

static void requests_in_flight_get_replies_out_of_order(void **state) {
  (void)state;
  enum { N = 64 };
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  const char *args[] = {"64", NULL};
  cp_child *c = fork_worker(loop, "reverse", args);
  got g[N];
  memset(g, 0, sizeof g);
  for (int i = 0; i < N; i++) {
    char req[32];
    int n = snprintf(req, sizeof req, "{\"n\":%d}", i + 1000);
    assert_int_equal(cp_channel_request(cp_child_channel(c), req, (size_t)n, on_reply, &g[i]), 0);
  }
  run_until(loop, g, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(g[i].calls, 1);
    assert_int_equal(g[i].code, CP_OK);
    assert_int_equal(strtoll(g[i].result, NULL, 10), 2 * (i + 1000));
  }
  finish_child(loop, c);
}

typedef struct bad_seen {
  int kinds[5];
} bad_seen;

static void on_bad(cp_channel *ch, cp_bad_message kind, const char *msg, size_t len, void *ud) {
  (void)ch, (void)msg, (void)len;
  bad_seen *b = ud;
  assert_true(kind >= CP_BAD_UNKNOWN_ID && kind <= CP_BAD_NO_ID);
  b->kinds[kind]++;
}

static int passed_through;
static void count_message(cp_child *c, const char *msg, size_t len, void *ud) {
  (void)c, (void)msg, (void)len, (void)ud;
  passed_through++;
}

static void bad_replies_are_counted_and_reported_never_a_crash(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_child *c = NULL;
  cp_child_events ev = {.on_message = count_message};
  passed_through = 0;
  assert_int_equal(cp_fork_worker(loop, "garbage", NULL, NULL, &ev, NULL, &c), 0);
  cp_channel *ch = cp_child_channel(c);
  bad_seen b = {{0}};
  assert_int_equal(cp_channel_on_bad_message(ch, on_bad, &b), 0);
  got g[2] = {{0}};
  assert_int_equal(cp_channel_request(ch, "{}", 2, on_reply, &g[0]), 0);
  run_until(loop, g, 1);
  assert_int_equal(g[0].code, CP_EIO); /* its reply had an error that is not a string */
  assert_int_equal(cp_channel_request(ch, "{\"ok\":1}", 8, on_reply, &g[1]), 0);
  run_until(loop, g + 1, 1);
  assert_int_equal(g[1].code, CP_OK);
  assert_string_equal(g[1].result, "{\"fine\":[1,\"]\"]}");
  /* Let the duplicate of the last reply arrive: a round trip that must come after it. */
  got last = {0};
  assert_int_equal(cp_channel_request(ch, "{\"ok\":1}", 8, on_reply, &last), 0);
  run_until(loop, &last, 1);
  cp_request_stats st;
  assert_int_equal(cp_channel_request_stats(ch, &st), 0);
  assert_int_equal(st.failed, 1);
  assert_int_equal(st.replied, 2);
  /* per request: "not json", "{"id":" malformed; [1,2,3], "str", 42, [[...]] not objects; {"noid"}
   * no id; 999999, "x", -1 unknown ids; then the duplicate of the reply (unknown id). */
  assert_int_equal(st.malformed, 3 * 2 + 1);
  assert_int_equal(st.not_object, 3 * 4);
  assert_int_equal(st.no_id, 3);
  assert_true(st.unknown_id >= 2 * 4 + 1);
  assert_int_equal(b.kinds[CP_BAD_MALFORMED], (int)st.malformed);
  assert_int_equal(b.kinds[CP_BAD_NOT_OBJECT], (int)st.not_object);
  /* what is not a reply still reaches on_message */
  assert_int_equal(passed_through, 3 * 7);
  finish_child(loop, c);
}

static void request_bad_input_is_einval(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_child *c = fork_worker(loop, "calc", NULL);
  cp_channel *ch = cp_child_channel(c);
  got g = {0};
  /* Before any request the channel has no request layer: its counts are zero. */
  cp_request_stats st0;
  memset(&st0, 0xAB, sizeof st0);
  assert_int_equal(cp_channel_request_stats(ch, &st0), 0);
  assert_int_equal(st0.pending, 0);
  assert_int_equal(st0.sent, 0);
  assert_int_equal(st0.malformed, 0);
  assert_int_equal(cp_channel_request_stats(NULL, &st0), CP_EINVAL);
  assert_int_equal(cp_channel_request_stats(ch, NULL), CP_EINVAL);
  assert_int_equal(cp_channel_on_bad_message(NULL, NULL, NULL), CP_EINVAL);
  assert_null(cp_request_channel(NULL));
  static const char *bad[] = {"",        "[]",          "1",           "{\"id\":1}",  "{\"\\u0069d\":1}",
                              "{\"a\":}", "{\"a\":1",   "{\"a\":1}x", "{\"a\":\"\x01\"}", "{\"a\":01}",
                              "{\"a\":tru}", "{\"a\":\"\\x\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(cp_channel_request(ch, bad[i], strlen(bad[i]), on_reply, &g), CP_EINVAL);
  char deep[20001];
  memset(deep, '[', 10000);
  memset(deep + 10000, ']', 10000);
  deep[20000] = '\0';
  char obj[20010];
  snprintf(obj, sizeof obj, "{\"d\":%s}", deep);
  assert_int_equal(cp_channel_request(ch, obj, strlen(obj), on_reply, &g), CP_EINVAL);
  assert_int_equal(cp_channel_request(NULL, "{}", 2, on_reply, &g), CP_EINVAL);
  assert_int_equal(cp_channel_request(ch, "{}", 2, NULL, &g), CP_EINVAL);
  assert_int_equal(cp_channel_request(ch, NULL, 0, on_reply, &g), CP_EINVAL);
  assert_int_equal(cp_request_reply(NULL, "1", 1), CP_EINVAL);
  assert_int_equal(cp_request_fail(NULL, "x"), CP_EINVAL);
  assert_int_equal(cp_channel_serve(NULL, NULL, NULL), CP_EINVAL);
  /* a nested "id" and one inside a string are not top-level: fine */
  const char ok[] = "{\"op\":\"add\",\"n\":{\"id\":5},\"s\":\"\\\"id\\\":1\",\"a\":1,\"b\":1}";
  assert_int_equal(cp_channel_request(ch, ok, sizeof ok - 1, on_reply, &g), 0);
  run_until(loop, &g, 1);
  assert_string_equal(g.result, "2");
  assert_int_equal(g.calls, 1);
  cp_channel_disconnect(ch);
  assert_int_equal(cp_channel_request(ch, "{}", 2, on_reply, &g), CP_EPIPE);
  finish_child(loop, c);

  /* binary channels carry no requests */
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_options o = {.channel = CP_CHANNEL_BINARY};
  assert_int_equal(cp_fork_worker(loop, "calc", NULL, &o, NULL, NULL, &c), 0);
  assert_int_equal(cp_channel_request(cp_child_channel(c), "{}", 2, on_reply, &g), CP_EINVAL);
  assert_int_equal(cp_channel_serve(cp_child_channel(c), calc_serve, NULL), CP_EINVAL);
  finish_child(loop, c);
}

static void pending_requests_fail_with_epipe_when_the_worker_dies(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_child *c = fork_worker(loop, "calc", NULL);
  got g[2] = {{0}};
  const char slow[] = "{\"op\":\"sleep\",\"a\":1,\"b\":60000}";
  assert_int_equal(cp_channel_request(cp_child_channel(c), slow, sizeof slow - 1, on_reply, &g[0]), 0);
  const char crash[] = "{\"op\":\"crash\",\"a\":5}";
  assert_int_equal(cp_channel_request(cp_child_channel(c), crash, sizeof crash - 1, on_reply, &g[1]), 0);
  run_until(loop, g, 2);
  assert_int_equal(g[0].code, CP_EPIPE);
  assert_int_equal(g[1].code, CP_EPIPE);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

/* ---- the pool --------------------------------------------------------------------------------- */

typedef struct pool_run {
  cp_loop *loop;
  cp_pool *pool;
  int done_calls;
  int errors;
  int last_error;
} pool_run;

static void on_done(cp_pool *p, void *ud) {
  (void)p;
  ((pool_run *)ud)->done_calls++;
}

static void on_pool_error(cp_pool *p, const cp_error *err, void *ud) {
  (void)p;
  pool_run *r = ud;
  r->errors++;
  r->last_error = err->code;
}

static void pool_open(pool_run *r, cp_pool_options *o) {
  memset(r, 0, sizeof *r);
  assert_int_equal(cp_loop_new(&r->loop), 0);
  o->on_error = on_pool_error;
  o->ud = r;
  assert_int_equal(cp_pool_new(r->loop, o, &r->pool), 0);
}

static void submit(pool_run *r, const char *json, got *g) {
  assert_int_equal(cp_pool_submit(r->pool, json, strlen(json), on_reply, g), 0);
}

static cp_pool_stats last_stats; /* what the pool counted, read by pool_close() */

/* Drains (or cancels), runs the loop to the end, checks done ran once and nothing is left. */
static void pool_close(pool_run *r, cp_pool_shutdown_mode mode) {
  assert_int_equal(cp_pool_shutdown(r->pool, mode, on_done, r), 0);
  assert_int_equal(cp_pool_submit(r->pool, "{}", 2, on_reply, NULL), CP_EPIPE);
  assert_int_equal(cp_loop_run(r->loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(r->done_calls, 1);
  cp_pool_stats st;
  assert_int_equal(cp_pool_stats_get(r->pool, &st), 0);
  assert_int_equal(st.workers, 0);
  assert_int_equal(st.queued, 0);
  assert_int_equal(st.in_flight, 0);
  last_stats = st;
  cp_pool_free(r->pool);
  assert_int_equal(cp_loop_free(r->loop), 0);
  assert_true(cptest_no_children());
}

static void pool_runs_tasks_and_drains(void **state) {
  (void)state;
  enum { N = 200 };
  pool_run r;
  cp_pool_options o = {.workers = 3, .worker_name = "calc"};
  pool_open(&r, &o);
  got g[N];
  memset(g, 0, sizeof g);
  for (int i = 0; i < N; i++) {
    char j[64];
    snprintf(j, sizeof j, "{\"op\":\"add\",\"a\":%d,\"b\":%d}", i, i);
    submit(&r, j, &g[i]);
  }
  pool_close(&r, CP_POOL_DRAIN);
  for (int i = 0; i < N; i++) {
    assert_int_equal(g[i].calls, 1);
    assert_int_equal(g[i].code, CP_OK);
    assert_int_equal(atoi(g[i].result), 2 * i);
    assert_int_equal(g[i].attempts, 1);
  }
}

static void pool_crash_requeues_then_fails_naming_the_exit_status(void **state) {
  (void)state;
  pool_run r;
  cp_pool_options o = {.workers = 2, .worker_name = "calc"}; /* max_retries 0: the default, 1 */
  pool_open(&r, &o);
  got g[11];
  memset(g, 0, sizeof g);
  submit(&r, "{\"op\":\"crash\",\"a\":3}", &g[0]);
  for (int i = 1; i < 11; i++) submit(&r, "{\"op\":\"add\",\"a\":1,\"b\":1}", &g[i]);
  pool_close(&r, CP_POOL_DRAIN);
  assert_int_equal(g[0].calls, 1);
  assert_int_equal(g[0].code, CP_ECHILDFAILED);
  assert_int_equal(g[0].attempts, 2); /* first try and one retry */
  assert_int_equal(g[0].exit_status, 3);
  assert_non_null(strstr(g[0].error, "status 3"));
  for (int i = 1; i < 11; i++) {
    assert_int_equal(g[i].calls, 1);
    assert_int_equal(g[i].code, CP_OK);
  }
}

static void pool_no_retry_fails_on_first_crash(void **state) {
  (void)state;
  pool_run r;
  cp_pool_options o = {.workers = 1, .worker_name = "calc", .max_retries = CP_POOL_NO_RETRY};
  pool_open(&r, &o);
  got g[2] = {{0}};
  submit(&r, "{\"op\":\"crash\",\"a\":4}", &g[0]);
  submit(&r, "{\"op\":\"add\",\"a\":2,\"b\":2}", &g[1]);
  pool_close(&r, CP_POOL_DRAIN);
  assert_int_equal(g[0].code, CP_ECHILDFAILED);
  assert_int_equal(g[0].attempts, 1);
  assert_int_equal(g[0].exit_status, 4);
  assert_int_equal(g[1].code, CP_OK); /* ran on the replacement */
  assert_string_equal(g[1].result, "4");
}

static void pool_task_timeout_kills_worker_retries_then_fails(void **state) {
  (void)state;
  pool_run r;
  cp_pool_options o = {.workers = 1, .worker_name = "calc", .task_timeout_ms = 300, .kill_after_ms = 500};
  pool_open(&r, &o);
  got g[3] = {{0}};
  submit(&r, "{\"op\":\"sleep\",\"a\":1,\"b\":100000}", &g[0]);
  submit(&r, "{\"op\":\"sleep\",\"a\":9,\"b\":10}", &g[1]);
  submit(&r, "{\"op\":\"add\",\"a\":2,\"b\":3}", &g[2]);
  uint64_t t0 = cptest_now_ms();
  pool_close(&r, CP_POOL_DRAIN);
  uint64_t ms = cptest_now_ms() - t0;
  assert_int_equal(g[0].code, CP_ETIMEDOUT);
  assert_int_equal(g[0].attempts, 2);
  assert_true(g[0].signal != 0 || g[0].exit_status != 0);
  assert_non_null(strstr(g[0].error, "timed out"));
  assert_int_equal(g[1].code, CP_OK);
  assert_string_equal(g[1].result, "9");
  assert_string_equal(g[2].result, "5");
  assert_true(ms >= 600);    /* two timeouts of 300 ms */
  assert_true(ms < 60000);   /* and not the 100 s sleep */
}

static void pool_recycles_after_max_tasks_without_losing_work(void **state) {
  (void)state;
#ifdef _WIN32
  enum { N = 12 };
#else
  enum { N = 60 };
#endif
  pool_run r;
  cp_pool_options o = {.workers = 2, .worker_name = "calc", .max_tasks_per_worker = 3};
  pool_open(&r, &o);
  got g[N];
  memset(g, 0, sizeof g);
  for (int i = 0; i < N; i++) submit(&r, "{\"op\":\"pid\"}", &g[i]);
  pool_close(&r, CP_POOL_DRAIN);
  for (int i = 0; i < N; i++) {
    assert_int_equal(g[i].calls, 1);
    assert_int_equal(g[i].code, CP_OK);
    int same = 0;
    for (int k = 0; k < N; k++) same += strcmp(g[i].result, g[k].result) == 0;
    assert_true(same <= 3); /* no worker answered more than 3 tasks */
  }
}

static void pool_recycles_worker_past_rss_limit(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_pool *p;
  cp_pool_options o = {.workers = 1, .worker_name = "calc", .max_worker_rss = (uint64_t)48 << 20};
  int rc = cp_pool_new(loop, &o, &p);
  if (rc == CP_ENOTSUP) {
    cp_loop_free(loop);
    CPTEST_SKIP("resident memory cannot be read on this platform");
  }
  assert_int_equal(rc, 0);
  got g[4] = {{0}};
  const char *tasks[] = {"{\"op\":\"pid\"}", "{\"op\":\"hog\",\"a\":96}", "{\"op\":\"pid\"}", "{\"op\":\"pid\"}"};
  for (int i = 0; i < 4; i++) assert_int_equal(cp_pool_submit(p, tasks[i], strlen(tasks[i]), on_reply, &g[i]), 0);
  pool_run r = {.loop = loop, .pool = p};
  pool_close(&r, CP_POOL_DRAIN);
  assert_string_equal(g[1].result, "96");
  assert_string_not_equal(g[0].result, g[2].result); /* the only worker was replaced after the hog */
  assert_string_equal(g[2].result, g[3].result);     /* and the new one stays */
  assert_int_equal(last_stats.recycled, 1);
}

static void pool_start_failures_back_off_then_fail_queued_tasks(void **state) {
  (void)state;
  pool_run r;
  cp_pool_options o = {.workers = 2, .file = "/no/such/worker-program", .restart_delay_ms = 20,
                       .max_start_failures = 4};
  pool_open(&r, &o);
  got g[5];
  memset(g, 0, sizeof g);
  uint64_t t0 = cptest_now_ms();
  for (int i = 0; i < 5; i++) submit(&r, "{}", &g[i]);
  run_until(r.loop, g, 5);
  uint64_t ms = cptest_now_ms() - t0;
  for (int i = 0; i < 5; i++) {
    assert_int_equal(g[i].calls, 1);
    assert_int_equal(g[i].code, CP_ENOENT);
  }
  assert_int_equal(r.errors, 1);
  assert_int_equal(r.last_error, CP_ENOENT);
  assert_true(ms >= 20 + 40); /* backed off, did not spin */
  cp_pool_stats st;
  assert_int_equal(cp_pool_stats_get(r.pool, &st), 0);
  assert_true(st.broken);
  assert_true(st.workers_started <= 6);
  assert_int_equal(cp_pool_submit(r.pool, "{}", 2, on_reply, &g[0]), CP_ENOENT);
  pool_close(&r, CP_POOL_DRAIN);
}

/* Issue 14: a drain used to restart unstartable workers forever (start failures were not counted
 * while shutting down), so cp_loop_run() never returned. */
static void pool_drain_with_unstartable_workers_ends(void **state) {
  (void)state;
  pool_run r;
  cp_pool_options o = {.workers = 2, .file = "/nonexistent/worker", .restart_delay_ms = 5,
                       .max_start_failures = 3};
  pool_open(&r, &o);
  got g = {0};
  submit(&r, "{}", &g);
  assert_int_equal(cp_pool_shutdown(r.pool, CP_POOL_DRAIN, on_done, &r), 0);
  uint64_t t0 = cptest_now_ms();
  int alive = 1;
  while (alive > 0 && cptest_now_ms() - t0 < 10000) alive = cp_loop_run(r.loop, CP_RUN_ONCE);
  assert_int_equal(alive, 0); /* the loop ended; it did not spin for 10 s */
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.code, CP_ENOENT);
  assert_int_equal(r.done_calls, 1);
  cp_pool_stats st;
  assert_int_equal(cp_pool_stats_get(r.pool, &st), 0);
  assert_true(st.workers_started <= 4);
  cp_pool_free(r.pool);
  assert_int_equal(cp_loop_free(r.loop), 0);
  assert_true(cptest_no_children());
}

static void pool_worker_dying_at_once_does_not_spin(void **state) {
  (void)state;
  pool_run r;
  cp_pool_options o = {.workers = 1, .worker_name = "die", .restart_delay_ms = 10, .max_start_failures = 3};
  pool_open(&r, &o);
  got g = {0};
  submit(&r, "{}", &g);
  /* the task fails after its retry; the pool goes on restarting, backing off, until it gives up */
  for (;;) {
    int alive = cp_loop_run(r.loop, CP_RUN_ONCE);
    if (r.errors) break;
    assert_true(alive > 0);
  }
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.code, CP_ECHILDFAILED);
  assert_int_equal(g.exit_status, 1);
  assert_int_equal(r.errors, 1);
  assert_int_equal(r.last_error, CP_ECHILDFAILED);
  cp_pool_stats st;
  cp_pool_stats_get(r.pool, &st);
  assert_int_equal(st.workers_started, 3);
  pool_close(&r, CP_POOL_DRAIN);
}

static void pool_cancel_fails_queued_and_running_with_ecanceled(void **state) {
  (void)state;
  enum { N = 20 };
  pool_run r;
  cp_pool_options o = {.workers = 1, .worker_name = "calc"};
  pool_open(&r, &o);
  got g[N];
  memset(g, 0, sizeof g);
  submit(&r, "{\"op\":\"add\",\"a\":1,\"b\":1}", &g[0]);
  for (int i = 1; i < N; i++) submit(&r, "{\"op\":\"sleep\",\"a\":1,\"b\":100000}", &g[i]);
  run_until(r.loop, g, 1);
  assert_int_equal(g[0].code, CP_OK);
  pool_close(&r, CP_POOL_CANCEL);
  for (int i = 1; i < N; i++) {
    assert_int_equal(g[i].calls, 1);
    assert_int_equal(g[i].code, CP_ECANCELED);
  }
}

static int qmax_seen;
static void on_reply_watch_queue(const cp_reply *rep, void *ud) {
  pool_run *r = ud;
  (void)rep;
  cp_pool_stats st;
  cp_pool_stats_get(r->pool, &st);
  if ((int)st.queued > qmax_seen) qmax_seen = (int)st.queued;
  /* from inside the loop even a waiting pool says CP_EAGAIN when full */
  if (st.queued >= 8 && !st.shutting_down) assert_int_equal(cp_pool_submit(r->pool, "{\"op\":\"pid\"}", 12, on_reply_watch_queue, r), CP_EAGAIN);
}

static void pool_full_queue_is_eagain_or_waits_memory_bounded(void **state) {
  (void)state;
  pool_run r;
  cp_pool_options o = {.workers = 1, .worker_name = "calc", .max_queue = 8};
  pool_open(&r, &o);
  got g[9];
  memset(g, 0, sizeof g);
  /* the worker is still starting: the first 8 wait in the queue, the 9th does not fit */
  for (int i = 0; i < 8; i++) submit(&r, "{\"op\":\"pid\"}", &g[i]);
  assert_int_equal(cp_pool_submit(r.pool, "{}", 2, on_reply, &g[8]), CP_EAGAIN);
  pool_close(&r, CP_POOL_DRAIN);
  assert_int_equal(g[8].calls, 0);

  cp_pool_options w = {.workers = 2, .worker_name = "calc", .max_queue = 8, .full = CP_POOL_FULL_WAIT};
  pool_open(&r, &w);
  qmax_seen = 0;
#ifdef _WIN32
  enum { N = 500 };
#else
  enum { N = 5000 };
#endif
  for (int i = 0; i < N; i++)
    assert_int_equal(cp_pool_submit(r.pool, "{\"op\":\"pid\"}", 12, on_reply_watch_queue, &r), 0);
  cp_pool_stats st;
  cp_pool_stats_get(r.pool, &st);
  assert_true(st.queued <= 8);
  pool_close(&r, CP_POOL_DRAIN);
  assert_true(qmax_seen <= 8);
}

static void pool_counts_bad_messages_from_workers(void **state) {
  (void)state;
  pool_run r;
  cp_pool_options o = {.workers = 1, .worker_name = "calc"};
  pool_open(&r, &o);
  got g[3] = {{0}};
  for (int i = 0; i < 3; i++) submit(&r, "{\"op\":\"noise\",\"a\":7}", &g[i]);
  pool_close(&r, CP_POOL_DRAIN);
  for (int i = 0; i < 3; i++) assert_string_equal(g[i].result, "7");
  assert_int_equal(last_stats.bad_messages, 3 * 4); /* not json, [1,2], no id, unknown id */
  assert_int_equal(last_stats.succeeded, 3);
}

static void pool_bad_input(void **state) {
  (void)state;
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_pool *p = NULL;
  cp_pool_options none = {0};
  assert_int_equal(cp_pool_new(loop, &none, &p), CP_EINVAL);
  cp_pool_options both = {.worker_name = "calc", .file = "node"};
  assert_int_equal(cp_pool_new(loop, &both, &p), CP_EINVAL);
  cp_pool_options bin = {.worker_name = "calc", .options = {.channel = CP_CHANNEL_BINARY}};
  assert_int_equal(cp_pool_new(loop, &bin, &p), CP_EINVAL);
  cp_pool_options retries = {.worker_name = "calc", .max_retries = -7};
  assert_int_equal(cp_pool_new(loop, &retries, &p), CP_EINVAL);
  cp_pool_options badopt = {.worker_name = "calc", .options = {.timeout_ms = -1}};
  assert_int_equal(cp_pool_new(loop, &badopt, &p), CP_EINVAL);
  cp_pool_options eq = {.worker_name = "a=b"};
  assert_int_equal(cp_pool_new(loop, &eq, &p), CP_EINVAL);
  assert_int_equal(cp_pool_new(NULL, &none, &p), CP_EINVAL);
  assert_int_equal(cp_pool_new(loop, NULL, &p), CP_EINVAL);
  cp_pool_options named = {.worker_name = "calc"};
  assert_int_equal(cp_pool_new(loop, &named, NULL), CP_EINVAL);
  cp_pool_options empty_names = {.worker_name = "", .file = ""}; /* empty is unset: neither is given */
  assert_int_equal(cp_pool_new(loop, &empty_names, &p), CP_EINVAL);
  cp_pool_options full = {.worker_name = "calc", .full = (cp_pool_full)7};
  assert_int_equal(cp_pool_new(loop, &full, &p), CP_EINVAL);
  assert_null(p);
  assert_int_equal(cp_pool_submit(NULL, "{}", 2, on_reply, NULL), CP_EINVAL);
  assert_int_equal(cp_pool_shutdown(NULL, CP_POOL_DRAIN, NULL, NULL), CP_EINVAL);
  assert_int_equal(cp_pool_stats_get(NULL, NULL), CP_EINVAL);
  cp_pool_free(NULL);

  pool_run r;
  cp_pool_options o = {.workers = 1, .worker_name = "calc"};
  pool_open(&r, &o);
  got g = {0};
  assert_int_equal(cp_pool_submit(r.pool, "[]", 2, on_reply, &g), CP_EINVAL);
  assert_int_equal(cp_pool_submit(r.pool, "{\"id\":3}", 8, on_reply, &g), CP_EINVAL);
  assert_int_equal(cp_pool_submit(r.pool, "{\"a\":", 5, on_reply, &g), CP_EINVAL);
  assert_int_equal(cp_pool_submit(r.pool, "{}", 2, NULL, &g), CP_EINVAL);
  assert_int_equal(cp_pool_submit(r.pool, NULL, 2, on_reply, &g), CP_EINVAL);
  assert_int_equal(cp_pool_stats_get(r.pool, NULL), CP_EINVAL);
  assert_int_equal(cp_pool_shutdown(r.pool, (cp_pool_shutdown_mode)9, NULL, NULL), CP_EINVAL);
  submit(&r, "{\"op\":\"nope\"}", &g);
  pool_close(&r, CP_POOL_DRAIN);
  assert_int_equal(g.code, CP_OK);
  assert_string_equal(g.error, "unknown op"); /* a worker's error is a reply, not a retry */
  assert_int_equal(g.attempts, 1);
  cp_loop_free(loop);
}

static void free_inside_callback(const cp_reply *rep, void *ud) {
  (void)rep;
  pool_run *r = ud;
  cp_pool_free(r->pool);
  r->done_calls++;
}

static void pool_free_inside_a_task_callback_kills_the_workers(void **state) {
  (void)state;
  pool_run r;
  cp_pool_options o = {.workers = 2, .worker_name = "calc"};
  pool_open(&r, &o);
  assert_int_equal(cp_pool_submit(r.pool, "{\"op\":\"pid\"}", 12, free_inside_callback, &r), 0);
  for (int i = 0; i < 5; i++)
    assert_int_equal(cp_pool_submit(r.pool, "{\"op\":\"sleep\",\"b\":100000}", 25, on_reply, NULL), 0);
  assert_int_equal(cp_loop_run(r.loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(r.done_calls, 1);
  assert_int_equal(cp_loop_free(r.loop), 0);
  assert_true(cptest_no_children());
}

/* 100,000 tasks (2,000 under Windows: each restart there costs a ~45 ms spawn under Wine) over 4
 * workers that crash at random: every task's callback runs exactly once, with the right sum or, after
 * its retries, an error naming the crash; none lost, none duplicated. */
typedef struct big {
  unsigned char *calls;
  long ok, failed, twice;
} big;

static big B;

static void on_big(const cp_reply *rep, void *ud) {
  long i = (long)(intptr_t)ud;
  if (B.calls[i]++) {
    B.twice++;
    return;
  }
  if (rep->code == CP_OK) {
    assert_non_null(rep->result);
    assert_int_equal(strtol(rep->result, NULL, 10), i + 2 * i);
    B.ok++;
  } else {
    assert_int_equal(rep->code, CP_ECHILDFAILED);
    assert_int_equal(rep->attempts, 4);
    assert_int_equal(rep->exit_status, 3);
    B.failed++;
  }
}

static void pool_100k_tasks_random_crashes_each_completes_exactly_once(void **state) {
  (void)state;
#ifdef _WIN32
  const long n = 2000;
#else
  const long n = 100000;
#endif
  pool_run r;
  cp_pool_options o = {.workers = 4, .worker_name = "rcrash", .max_retries = 3, .max_queue = 1000,
                       .full = CP_POOL_FULL_WAIT};
  pool_open(&r, &o);
  memset(&B, 0, sizeof B);
  B.calls = calloc((size_t)n, 1);
  for (long i = 0; i < n; i++) {
    char j[64];
    int len = snprintf(j, sizeof j, "{\"a\":%ld,\"b\":%ld}", i, 2 * i);
    assert_int_equal(cp_pool_submit(r.pool, j, (size_t)len, on_big, (void *)(intptr_t)i), 0);
  }
  pool_close(&r, CP_POOL_DRAIN);
  long missing = 0;
  for (long i = 0; i < n; i++) missing += B.calls[i] == 0;
  print_message("%ld tasks: %ld ok, %ld failed after retries\n", n, B.ok, B.failed);
  assert_int_equal(missing, 0);
  assert_int_equal(B.twice, 0);
  assert_int_equal(B.ok + B.failed, n);
  free(B.calls);
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, sizeof workers / sizeof workers[0], &status)) return status;
  if (getenv("CPTEST_FILTER")) cmocka_set_test_filter(getenv("CPTEST_FILTER"));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(request_gets_result_error_and_escaped_text),
      cmocka_unit_test(reply_escapes_decode_and_control_characters_travel),
      cmocka_unit_test(requests_in_flight_get_replies_out_of_order),
      cmocka_unit_test(bad_replies_are_counted_and_reported_never_a_crash),
      cmocka_unit_test(request_bad_input_is_einval),
      cmocka_unit_test(pending_requests_fail_with_epipe_when_the_worker_dies),
      cmocka_unit_test(pool_runs_tasks_and_drains),
      cmocka_unit_test(pool_crash_requeues_then_fails_naming_the_exit_status),
      cmocka_unit_test(pool_no_retry_fails_on_first_crash),
      cmocka_unit_test(pool_task_timeout_kills_worker_retries_then_fails),
      cmocka_unit_test(pool_recycles_after_max_tasks_without_losing_work),
      cmocka_unit_test(pool_recycles_worker_past_rss_limit),
      cmocka_unit_test(pool_start_failures_back_off_then_fail_queued_tasks),
      cmocka_unit_test(pool_worker_dying_at_once_does_not_spin),
      cmocka_unit_test(pool_drain_with_unstartable_workers_ends),
      cmocka_unit_test(pool_cancel_fails_queued_and_running_with_ecanceled),
      cmocka_unit_test(pool_full_queue_is_eagain_or_waits_memory_bounded),
      cmocka_unit_test(pool_counts_bad_messages_from_workers),
      cmocka_unit_test(pool_bad_input),
      cmocka_unit_test(pool_free_inside_a_task_callback_kills_the_workers),
      cmocka_unit_test(pool_100k_tasks_random_crashes_each_completes_exactly_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
