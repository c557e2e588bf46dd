/* test_fault_alloc.c - every allocation the library makes can fail, and each failure ends as the API
 * says: the correct result, or a documented CP_E* code where the API reports it (return value,
 * res->error, on_error, the reply callback), within a time limit, with the descriptors, children and
 * memory of the process back where they were.
 *
 * The executable is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (fault_alloc.c), so
 * the library's allocations go through a counter that fails allocation N (mode "only") or every
 * allocation from N on (mode "from"). Each scenario is swept N = 1, 2, ... until a run makes fewer
 * than N allocations (nothing was injected: the sweep covered every point). Leaks are checked with
 * LeakSanitizer after each scenario's sweep in the ASan cell. Workers are functions of this
 * executable; they run in their own processes, unarmed. */
#include "cptest.h"
#include "fault_alloc.h"
#include "fault_channel.h"

#include <signal.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define FAULT_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FAULT_HAVE_LSAN 1
#endif
#endif
#ifdef FAULT_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define RUN_TIME_LIMIT_S 20
#define MAX_POINTS       5000

/* ---- workers (their own processes: the allocator is not armed there) ------------------------------ */

/* ---- the sweep ---------------------------------------------------------------------------------- */

static const char *cur_scenario = "";
static const char *cur_mode = "";
static long cur_n;

static void on_alarm(int sig) {
  (void)sig;
  char buf[200];
  int n = snprintf(buf, sizeof buf, "FAULT: scenario %s, mode %s, N=%ld did not end within %d s\n",
                   cur_scenario, cur_mode, cur_n, RUN_TIME_LIMIT_S);
  if (write(2, buf, (size_t)n) < 0) _exit(3);
  _exit(2);
}

/* One run of a scenario with the allocator armed; returns whether the outcome was right (the
 * scenario prints what was wrong). */
typedef bool (*scenario_fn)(void);

static bool documented(int code) { return code == CP_ENOMEM; }

/* Sweeps a scenario in one mode; returns the number of injection points covered. */
static long sweep(const char *name, scenario_fn fn, fault_mode mode) {
  cur_scenario = name;
  cur_mode = mode == FAULT_ONLY_NTH ? "only" : "from";
  int fds0 = cptest_open_fds();
  long n;
  for (n = 1; n <= MAX_POINTS; n++) {
    cur_n = n;
    alarm(RUN_TIME_LIMIT_S);
    fault_arm(mode, n);
    bool ok = fn();
    long made = fault_disarm();
    alarm(0);
    if (!ok) fail_msg("scenario %s, mode %s: wrong outcome with allocation %ld failing", name, cur_mode, n);
    int fds = cptest_open_fds();
    if (fds != fds0)
      fail_msg("scenario %s, mode %s, N=%ld: %d descriptors open, %d before", name, cur_mode, n, fds, fds0);
    if (!cptest_no_children()) fail_msg("scenario %s, mode %s, N=%ld: a child is left", name, cur_mode, n);
    if (made < n) break; /* no allocation failed in this run: every point before it was swept */
  }
  assert_true(n <= MAX_POINTS);
#ifdef FAULT_HAVE_LSAN
  if (__lsan_do_recoverable_leak_check())
    fail_msg("scenario %s, mode %s: memory leaked (report above)", name, cur_mode);
#endif
  return n - 1;
}

static void sweep_both(const char *name, scenario_fn fn) {
  alarm(RUN_TIME_LIMIT_S);
  bool clean = fn(); /* unarmed: the scenario itself must pass */
  alarm(0);
  assert_true(clean);
  long only = sweep(name, fn, FAULT_ONLY_NTH);
  long from = sweep(name, fn, FAULT_FROM_NTH);
  print_message("fault sweep %s: %ld injection points (only-Nth), %ld (from-Nth)\n", name, only, from);
}

#define CHECK(cond, ...)                                                                                     \
  do {                                                                                                       \
    if (!(cond)) {                                                                                           \
      print_message("N=%ld %s: ", cur_n, cur_scenario);                                                      \
      print_message(__VA_ARGS__);                                                                            \
      print_message("\n");                                                                                   \
      return false;                                                                                          \
    }                                                                                                        \
  } while (0)

/* ---- scenarios ------------------------------------------------------------------------------------ */

/* A sync form's failure: the code returned is in res->error, and the buffers exist. */
static bool check_sync(int rc, const cp_result *res, const char *want_out) {
  CHECK(res->out.data && res->err.data, "res->out/err.data NULL (rc %s)", cp_err_name(rc));
  if (rc == 0) {
    CHECK(res->error.code == CP_OK, "rc 0 with error %s", cp_err_name(res->error.code));
    CHECK(res->status == 0, "status %lld", (long long)res->status);
    CHECK(strcmp(res->out.data, want_out) == 0, "rc 0 but stdout \"%s\"", res->out.data);
    return true;
  }
  CHECK(documented(rc), "rc %s (%s)", cp_err_name(rc), res->error.message);
  CHECK(res->error.code == rc, "rc %s but res->error.code %s", cp_err_name(rc), cp_err_name(res->error.code));
  CHECK(res->error.message[0] != '\0', "empty message");
  return true;
}

static bool sc_sync_input(void) {
  static const char input[] = "fault-injected input";
  cp_options o = {.input = input, .input_len = sizeof input - 1};
  const char *args[] = {"cat", NULL};
  cp_result res;
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  fault_disarm(); /* the checks below allocate nothing of the library's, but stop counting here */
  bool ok = check_sync(rc, &res, input);
  cp_result_free(&res);
  return ok;
}

static bool sc_exec_sync(void) {
  cp_result res;
  int rc = cp_exec_sync("echo fault-hi", NULL, &res);
  fault_disarm();
  bool ok = check_sync(rc, &res, "fault-hi\n");
  cp_result_free(&res);
  return ok;
}

/* An async child with a channel: one message there and back (fault_channel.c). */
static bool run_loop_and_free(cp_loop *loop) {
  int rc = cp_loop_run(loop, CP_RUN_DEFAULT);
  CHECK(rc == 0, "cp_loop_run returned %s", cp_err_name(rc));
  rc = cp_loop_free(loop);
  CHECK(rc == 0, "cp_loop_free returned %s", cp_err_name(rc));
  return true;
}

static bool sc_channel_round_trip(void) {
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) {
    CHECK(documented(rc), "cp_loop_new: %s", cp_err_name(rc));
    return true;
  }
  fault_echo s = {.msg = "{\"ping\":1}", .len = 10};
  rc = cp_fork_worker(loop, "echo", NULL, NULL, &fault_echo_events, &s, &s.c);
  if (rc) {
    CHECK(documented(rc), "cp_fork_worker: %s", cp_err_name(rc));
    CHECK(s.c == NULL, "a child despite the error");
    return run_loop_and_free(loop);
  }
  int lr = cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(s.c);
  CHECK(lr == 0, "cp_loop_run: %s", cp_err_name(lr));
  rc = cp_loop_free(loop);
  CHECK(rc == 0, "cp_loop_free: %s", cp_err_name(rc));
  CHECK(s.closed, "no on_close");
  CHECK(!s.no_channel, "on_spawn without a channel (and no on_error)");
  if (s.echoed && !s.error) return true;
  CHECK(s.error, "neither the echo nor an error (spawned %d)", s.spawned);
  CHECK(documented(s.error), "error %s", cp_err_name(s.error));
  return true;
}

/* A binary channel carrying one 1 MiB message there and back: frames arrive in pieces and are
 * reassembled on both sides; the socket takes only part of it at once (about 200 KiB), so the send
 * queues the rest, whose allocation may fail after a part went (the channel then ends: CP_ENOMEM). */
#define BIG_LEN (1024 * 1024)
static char big_msg[BIG_LEN];
static cp_channel_mode big_mode = CP_CHANNEL_BINARY; /* or JSON: then big_msg is one JSON string */

static bool sc_binary_channel_large(void) {
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) {
    CHECK(documented(rc), "cp_loop_new: %s", cp_err_name(rc));
    return true;
  }
  fault_echo s = {.msg = big_msg, .len = BIG_LEN};
  cp_options o = {.channel = big_mode};
  rc = cp_fork_worker(loop, "echo", NULL, &o, &fault_echo_events, &s, &s.c);
  if (rc) {
    CHECK(documented(rc), "cp_fork_worker: %s", cp_err_name(rc));
    return run_loop_and_free(loop);
  }
  int lr = cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(s.c);
  CHECK(lr == 0, "cp_loop_run: %s", cp_err_name(lr));
  rc = cp_loop_free(loop);
  CHECK(rc == 0, "cp_loop_free: %s", cp_err_name(rc));
  CHECK(s.closed, "no on_close");
  CHECK(!s.no_channel, "on_spawn without a channel (and no on_error)");
  if (s.echoed && !s.error) return true;
  CHECK(s.error, "neither the echo nor an error");
  CHECK(documented(s.error), "error %s", cp_err_name(s.error));
  return true;
}

/* cp_exec_file on a loop, capturing 300,000 bytes of stdout (the capture grows many times). */
typedef struct xf_state {
  int calls, rc;
  size_t out_len;
  bool pattern, err_set, data_ok;
} xf_state;

static void xf_done(int rc, cp_result *res, void *ud) {
  xf_state *s = ud;
  s->calls++;
  s->rc = rc;
  s->data_ok = res->out.data && res->err.data;
  s->err_set = res->error.code == rc;
  s->out_len = res->out.len;
  s->pattern = res->out.data && res->out.len == 300000;
  for (size_t i = 0; s->pattern && i < res->out.len; i++)
    s->pattern = res->out.data[i] == cptest_pattern_byte(i);
}

static bool sc_exec_file_capture(void) {
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) {
    CHECK(documented(rc), "cp_loop_new: %s", cp_err_name(rc));
    return true;
  }
  xf_state s = {0};
  const char *args[] = {"out", "300000", NULL};
  rc = cp_exec_file(loop, cptest_helper(), args, NULL, xf_done, &s);
  if (rc) CHECK(documented(rc), "cp_exec_file: %s", cp_err_name(rc));
  if (!run_loop_and_free(loop)) return false;
  if (rc) return true;
  CHECK(s.calls == 1, "%d callbacks", s.calls);
  CHECK(s.data_ok, "NULL result buffers");
  CHECK(s.err_set, "rc %s not in res->error", cp_err_name(s.rc));
  if (s.rc == 0) {
    CHECK(s.pattern, "rc 0 but %zu bytes, not the pattern", s.out_len);
    return true;
  }
  CHECK(documented(s.rc), "rc %s", cp_err_name(s.rc));
  return true;
}

/* cp_channel_request on a worker serving requests. */
typedef struct rq_state {
  cp_child *c;
  int error;
  int replies, reply_code;
  char result[32];
  bool closed;
} rq_state;

static rq_state *rq_current;

static void rq_on_reply(const cp_reply *r, void *ud) {
  (void)ud;
  rq_state *s = rq_current;
  s->replies++;
  s->reply_code = r->code;
  if (r->result) snprintf(s->result, sizeof s->result, "%.*s", (int)r->result_len, r->result);
  cp_channel *ch = cp_child_channel(s->c);
  if (ch) cp_channel_disconnect(ch);
}

static void rq_on_spawn(cp_child *c, void *ud) {
  rq_state *s = ud;
  cp_channel *ch = cp_child_channel(c);
  if (!ch) {
    s->error = CP_EINVAL; /* reported as wrong below: a started worker always has its channel */
    cp_child_kill(c, CP_SIGKILL);
    return;
  }
  int rc = cp_channel_request(ch, "{\"op\":\"ping\"}", 13, rq_on_reply, c);
  if (rc) {
    if (!s->error) s->error = rc;
    cp_channel_disconnect(ch);
  }
}

static void rq_on_error(cp_child *c, const cp_error *err, void *ud) {
  (void)c;
  rq_state *s = ud;
  if (!s->error) s->error = err->code;
}

static void rq_on_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c, (void)status, (void)sig;
  ((rq_state *)ud)->closed = true;
}

static bool sc_channel_request(void) {
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) {
    CHECK(documented(rc), "cp_loop_new: %s", cp_err_name(rc));
    return true;
  }
  rq_state s = {0};
  rq_current = &s;
  cp_child_events ev = {.on_spawn = rq_on_spawn, .on_error = rq_on_error, .on_close = rq_on_close};
  rc = cp_fork_worker(loop, "serve", NULL, NULL, &ev, &s, &s.c);
  if (rc) {
    CHECK(documented(rc), "cp_fork_worker: %s", cp_err_name(rc));
    return run_loop_and_free(loop);
  }
  int lr = cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(s.c);
  CHECK(lr == 0, "cp_loop_run: %s", cp_err_name(lr));
  rc = cp_loop_free(loop);
  CHECK(rc == 0, "cp_loop_free: %s", cp_err_name(rc));
  CHECK(s.closed, "no on_close");
  CHECK(s.replies <= 1, "%d replies", s.replies);
  if (s.replies == 1 && s.reply_code == CP_OK) {
    CHECK(strcmp(s.result, "\"pong\"") == 0, "result %s", s.result);
    return true;
  }
  if (s.replies == 1) {
    /* The request was accepted, then its reply could not be had: the channel failed under it. */
    CHECK(s.reply_code == CP_ENOMEM || s.reply_code == CP_EPIPE, "reply code %s", cp_err_name(s.reply_code));
    return true;
  }
  CHECK(s.error, "no reply and no error");
  CHECK(documented(s.error), "error %s", cp_err_name(s.error));
  return true;
}

/* A pool of 2 workers, 4 tasks, a drain. */
#define POOL_TASKS 4
typedef struct pool_state {
  int calls[POOL_TASKS], code[POOL_TASKS];
  char result[POOL_TASKS][16];
  bool done;
} pool_state;

static pool_state ps;

static void pool_on_reply(const cp_reply *r, void *ud) {
  int i = (int)(intptr_t)ud;
  ps.calls[i]++;
  ps.code[i] = r->code;
  if (r->result) snprintf(ps.result[i], sizeof ps.result[i], "%.*s", (int)r->result_len, r->result);
}

static void pool_on_done(cp_pool *p, void *ud) {
  (void)p, (void)ud;
  ps.done = true;
}

static bool sc_pool_drain(void) {
  memset(&ps, 0, sizeof ps);
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) {
    CHECK(documented(rc), "cp_loop_new: %s", cp_err_name(rc));
    return true;
  }
  cp_pool_options o = {.workers = 2,
                       .worker_name = "serve",
                       .restart_delay_ms = 1,
                       .restart_delay_max_ms = 4,
                       .max_start_failures = 3};
  cp_pool *p;
  rc = cp_pool_new(loop, &o, &p);
  if (rc) {
    CHECK(documented(rc), "cp_pool_new: %s", cp_err_name(rc));
    return run_loop_and_free(loop);
  }
  bool accepted[POOL_TASKS] = {false};
  for (int i = 0; i < POOL_TASKS; i++) {
    rc = cp_pool_submit(p, "{\"op\":\"ping\"}", 13, pool_on_reply, (void *)(intptr_t)i);
    CHECK(rc == 0 || documented(rc), "cp_pool_submit: %s", cp_err_name(rc));
    accepted[i] = rc == 0;
  }
  rc = cp_pool_shutdown(p, CP_POOL_DRAIN, pool_on_done, NULL);
  CHECK(rc == 0, "cp_pool_shutdown: %s", cp_err_name(rc));
  int lr = cp_loop_run(loop, CP_RUN_DEFAULT);
  CHECK(lr == 0, "cp_loop_run: %s", cp_err_name(lr));
  CHECK(ps.done, "the drain's done callback did not run");
  cp_pool_free(p);
  rc = cp_loop_free(loop);
  CHECK(rc == 0, "cp_loop_free: %s", cp_err_name(rc));
  for (int i = 0; i < POOL_TASKS; i++) {
    CHECK(ps.calls[i] == (accepted[i] ? 1 : 0), "task %d: %d callbacks", i, ps.calls[i]);
    if (!accepted[i]) continue;
    if (ps.code[i] == CP_OK)
      CHECK(strcmp(ps.result[i], "\"pong\"") == 0, "task %d result %s", i, ps.result[i]);
    else
      CHECK(documented(ps.code[i]), "task %d failed with %s", i, cp_err_name(ps.code[i]));
  }
  return true;
}

/* cprun's main path: a wrapped cprun (cprun-fault) armed through CP_FAULT; it exits 0 with the
 * right record, or 125 with a message naming the error. The count of allocations it made comes
 * back through the file CP_FAULT_REPORT. */
static long cprun_made;
static const char *cprun_input;                         /* --input FILE for the run, or NULL */
static char cprun_want[80000] = "\"stdout\":\"abcde\""; /* what the record must hold */

static bool sc_cprun(fault_mode mode, long n) {
  char fault[64], report[4096];
  snprintf(fault, sizeof fault, "%s:%ld", mode == FAULT_ONLY_NTH ? "only" : "from", n);
  snprintf(report, sizeof report, "%s/cprun-fault-report", cptest_tmpdir);
  remove(report);
  char env_fault[80], env_report[4200];
  snprintf(env_fault, sizeof env_fault, "CP_FAULT=%s", fault);
  snprintf(env_report, sizeof env_report, "CP_FAULT_REPORT=%s", report);
  const char *env[] = {env_fault, env_report, NULL};
  cp_options o = {.env = env, .env_mode = CP_ENV_EXTEND};
  const char *plain[] = {"--json", "--", cptest_helper(), "out", "5", NULL};
  const char *with_input[] = {"--json", "--input", cprun_input, "--", cptest_helper(), "cat", NULL};
  const char *const *args = cprun_input ? with_input : plain;
  cp_result res;
  int rc = cp_spawn_sync(cptest_bin("cprun-fault"), args, &o, &res);
  bool ok = false;
  long made = -1;
  char *rep = cptest_read_file(report, NULL);
  if (rep) made = strtol(rep, NULL, 10);
  free(rep);
  cprun_made = made;
  if (rc != 0) {
    print_message("N=%ld cprun: the run itself failed: %s\n", n, res.error.message);
  } else if (res.status == 0) {
    ok = strstr(res.out.data, "\"status\":0") && strstr(res.out.data, cprun_want) &&
         strstr(res.out.data, "\"error\":null");
    if (!ok) print_message("N=%ld cprun: exit 0 with record %s\n", n, res.out.data);
  } else if (res.status == 125) {
    ok = strstr(res.out.data, "ENOMEM") || strstr(res.err.data, "ENOMEM") || strstr(res.err.data, "memory");
    if (!ok)
      print_message("N=%ld cprun: exit 125 without naming ENOMEM: %s / %s\n", n, res.out.data, res.err.data);
  } else {
    print_message("N=%ld cprun: exit %lld signal %d, stderr %s\n", n, (long long)res.status, res.signal,
                  res.err.data);
  }
  cp_result_free(&res);
  return ok;
}

static void sweep_cprun(fault_mode mode, long *points) {
  cur_scenario = "cprun";
  cur_mode = mode == FAULT_ONLY_NTH ? "only" : "from";
  int fds0 = cptest_open_fds();
  long n;
  for (n = 1; n <= MAX_POINTS; n++) {
    cur_n = n;
    alarm(RUN_TIME_LIMIT_S);
    bool ok = sc_cprun(mode, n);
    alarm(0);
    if (!ok) fail_msg("scenario cprun, mode %s: wrong outcome with allocation %ld failing", cur_mode, n);
    assert_int_equal(cptest_open_fds(), fds0);
    assert_true(cptest_no_children());
    if (cprun_made >= 0 && cprun_made < n) break;
    if (cprun_made < 0 && mode == FAULT_FROM_NTH && n > 1) {
      /* no report: cprun left by _exit (never on this path) */
      fail_msg("cprun gave no allocation report at N=%ld", n);
    }
  }
  assert_true(n <= MAX_POINTS);
  *points = n - 1;
}

/* ---- tests ---------------------------------------------------------------------------------------- */

static void fault_sync_capture_with_input(void **state) {
  (void)state;
  sweep_both("sync-capture-with-input", sc_sync_input);
}

static void fault_exec_sync(void **state) {
  (void)state;
  sweep_both("exec-sync", sc_exec_sync);
}

static void fault_async_channel_round_trip(void **state) {
  (void)state;
  sweep_both("async-channel-round-trip", sc_channel_round_trip);
}

static void fault_channel_request(void **state) {
  (void)state;
  sweep_both("channel-request", sc_channel_request);
}

static void fault_pool_two_workers_drain(void **state) {
  (void)state;
  sweep_both("pool-2-workers-drain", sc_pool_drain);
}

static void fault_binary_channel_large_message(void **state) {
  (void)state;
  memset(big_msg, 'z', sizeof big_msg);
  sweep_both("binary-channel-1m", sc_binary_channel_large);
}

/* The same 1 MiB through a JSON channel: one string, split over many reads and joined again. */
static void fault_json_channel_large_message(void **state) {
  (void)state;
  memset(big_msg, 'j', sizeof big_msg);
  big_msg[0] = big_msg[BIG_LEN - 1] = '"';
  big_mode = CP_CHANNEL_JSON;
  sweep_both("json-channel-1m", sc_binary_channel_large);
  big_mode = CP_CHANNEL_BINARY;
}

static void fault_exec_file_async_capture(void **state) {
  (void)state;
  sweep_both("exec-file-async-capture", sc_exec_file_capture);
}

static void fault_cprun_main_path(void **state) {
  (void)state;
  long only, from;
  sweep_cprun(FAULT_ONLY_NTH, &only);
  sweep_cprun(FAULT_FROM_NTH, &from);
  print_message("fault sweep cprun: %ld injection points (only-Nth), %ld (from-Nth)\n", only, from);
}

/* cprun --input with 70,000 bytes: its input buffer grows past its first 64 KiB. */
static void fault_cprun_input_path(void **state) {
  (void)state;
  enum { LEN = 70000 };
  static char data[LEN];
  memset(data, 'q', LEN);
  char *file = cptest_join(cptest_tmpdir, "cprun-input");
  assert_int_equal(cptest_write_file(file, data, LEN, 0644), 0);
  snprintf(cprun_want, sizeof cprun_want, "\"stdout\":\"%.*s\"", LEN, data);
  cprun_input = file;
  long only, from;
  sweep_cprun(FAULT_ONLY_NTH, &only);
  sweep_cprun(FAULT_FROM_NTH, &from);
  print_message("fault sweep cprun-input: %ld injection points (only-Nth), %ld (from-Nth)\n", only, from);
  cprun_input = NULL;
  free(file);
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, fault_workers, 2, &status)) return status;
  signal(SIGALRM, on_alarm);
  cptest_cloexec_inherited_fds();
  if (getenv("CPTEST_FILTER")) cmocka_set_test_filter(getenv("CPTEST_FILTER"));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fault_sync_capture_with_input),  cmocka_unit_test(fault_exec_sync),
      cmocka_unit_test(fault_async_channel_round_trip), cmocka_unit_test(fault_channel_request),
      cmocka_unit_test(fault_pool_two_workers_drain),   cmocka_unit_test(fault_binary_channel_large_message),
      cmocka_unit_test(fault_json_channel_large_message),
      cmocka_unit_test(fault_exec_file_async_capture),  cmocka_unit_test(fault_cprun_main_path),
      cmocka_unit_test(fault_cprun_input_path),
  };
  return cmocka_run_group_tests(tests, cptest_tmpdir_setup, cptest_tmpdir_teardown);
}
