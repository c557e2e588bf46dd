/* test_pool_node.c - a pool of Node workers driven from C: examples/worker.js (the plain
 * process.on('message') / process.send({id, result}) pattern) serves cp_pool tasks unchanged, and a
 * Node worker that crashes is replaced with its task requeued. node.exe workers under Wine are in
 * tests/win32/test_win32_node.c. examples/worker.js is found through CHILDPROC_SOURCE_DIR when
 * the build defines it, else relative to this binary (build directories inside the source tree). */
#include <childproc.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static bool have_node(void) {
  cp_result r;
  const char *args[] = {"--version", NULL};
  int rc = cp_spawn_sync("node", args, NULL, &r);
  bool ok = rc == 0 && r.status == 0;
  cp_result_free(&r);
  return ok;
}

/* examples/worker.js, or NULL. */
static const char *worker_js(void) {
  static char path[4200];
#ifdef CHILDPROC_SOURCE_DIR
  snprintf(path, sizeof path, "%s/examples/worker.js", CHILDPROC_SOURCE_DIR);
  if (access(path, R_OK) == 0) return path;
#endif
  char bin[4096];
  ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 1);
  if (n <= 0) return NULL;
  bin[n] = '\0';
  for (int up = 0; up < 4; up++) {
    char *slash = strrchr(bin, '/');
    if (!slash) return NULL;
    *slash = '\0';
    snprintf(path, sizeof path, "%s/examples/worker.js", bin);
    if (access(path, R_OK) == 0) return path;
  }
  return NULL;
}

typedef struct tally {
  long ok, bad, calls;
  long long *expect;
} tally;

typedef struct slot {
  tally *t;
  long i;
} slot;

static void on_sum(const cp_reply *rep, void *ud) {
  slot *s = ud;
  s->t->calls++;
  if (rep->code == CP_OK && rep->result && strtoll(rep->result, NULL, 10) == s->t->expect[s->i])
    s->t->ok++;
  else
    s->t->bad++;
}

static void node_worker_pool_sums_2000_tasks(void **state) {
  (void)state;
  if (!have_node()) {
    print_message("SKIPPED: no node on PATH\n");
    skip();
  }
  const char *js = worker_js();
  if (!js) {
    print_message("SKIPPED: examples/worker.js not found (define CHILDPROC_SOURCE_DIR)\n");
    skip();
  }
  enum { N = 2000 };
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  const char *args[] = {js, NULL};
  cp_pool_options o = {.workers = 2, .file = "node", .args = args, .task_timeout_ms = 20000};
  cp_pool *pool;
  assert_int_equal(cp_pool_new(loop, &o, &pool), 0);
  static long long expect[N];
  static slot slots[N];
  tally t = {.expect = expect};
  for (long i = 0; i < N; i++) {
    char j[96];
    int len = snprintf(j, sizeof j, "{\"cmd\":\"sum\",\"data\":[%ld,%ld,-3]}", i, i * 7);
    expect[i] = i + i * 7 - 3;
    slots[i] = (slot){&t, i};
    assert_int_equal(cp_pool_submit(pool, j, (size_t)len, on_sum, &slots[i]), 0);
  }
  assert_int_equal(cp_pool_shutdown(pool, CP_POOL_DRAIN, NULL, NULL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(t.calls, N);
  assert_int_equal(t.ok, N);
  cp_pool_stats st;
  cp_pool_stats_get(pool, &st);
  assert_int_equal(st.succeeded, N);
  assert_int_equal(st.crashes, 0);
  cp_pool_free(pool);
  assert_int_equal(cp_loop_free(loop), 0);
  assert_true(waitpid(-1, NULL, WNOHANG) == -1);
}

typedef struct one {
  int calls, code;
  char text[64];
  unsigned attempts;
} one;

static void on_one(const cp_reply *rep, void *ud) {
  one *o = ud;
  o->calls++;
  o->code = rep->code;
  o->attempts = rep->attempts;
  snprintf(o->text, sizeof o->text, "%s", rep->result ? rep->result : rep->error);
}

/* A Node worker that exits on {"crash":true} the first time (a marker file says it did), an error
 * reply for {"fail":..}, and a result that JSON.stringify drops (undefined) for {"nothing":1}. */
static void node_worker_crash_is_retried_and_errors_come_back(void **state) {
  (void)state;
  if (!have_node()) {
    print_message("SKIPPED: no node on PATH\n");
    skip();
  }
  char marker[] = "/tmp/cp-pool-node-XXXXXX";
  int fd = mkstemp(marker);
  assert_true(fd >= 0);
  close(fd);
  unlink(marker);
  static const char script[] =
      "const fs = require('fs');"
      "process.on('message', m => {"
      "  if (m.crash && !fs.existsSync(process.argv[1])) { fs.writeFileSync(process.argv[1], 'x'); process.exit(3); }"
      "  if (m.fail) return process.send({id: m.id, error: 'bad: ' + m.fail});"
      "  if (m.nothing) return process.send({id: m.id, result: undefined});"
      "  process.send({id: m.id, result: {pid: process.pid > 0, echo: m.v}});"
      "});";
  const char *args[] = {"-e", script, marker, NULL};
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_pool_options o = {.workers = 1, .file = "node", .args = args};
  cp_pool *pool;
  assert_int_equal(cp_pool_new(loop, &o, &pool), 0);
  one r[4] = {{0}};
  assert_int_equal(cp_pool_submit(pool, "{\"crash\":true,\"v\":1}", 20, on_one, &r[0]), 0);
  assert_int_equal(cp_pool_submit(pool, "{\"fail\":\"x\"}", 12, on_one, &r[1]), 0);
  assert_int_equal(cp_pool_submit(pool, "{\"nothing\":1}", 13, on_one, &r[2]), 0);
  assert_int_equal(cp_pool_submit(pool, "{\"v\":\"\\u00e9\\n\"}", 16, on_one, &r[3]), 0);
  assert_int_equal(cp_pool_shutdown(pool, CP_POOL_DRAIN, NULL, NULL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(r[0].code, CP_OK);
  assert_int_equal(r[0].attempts, 2);
  assert_string_equal(r[0].text, "{\"pid\":true,\"echo\":1}");
  assert_int_equal(r[1].code, CP_OK);
  assert_string_equal(r[1].text, "bad: x");
  assert_int_equal(r[2].code, CP_OK);
  assert_string_equal(r[2].text, "null");
  assert_string_equal(r[3].text, "{\"pid\":true,\"echo\":\"\xc3\xa9\\n\"}");
  cp_pool_stats st;
  cp_pool_stats_get(pool, &st);
  assert_int_equal(st.crashes, 1);
  assert_int_equal(st.restarts, 1);
  cp_pool_free(pool);
  assert_int_equal(cp_loop_free(loop), 0);
  unlink(marker);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(node_worker_pool_sums_2000_tasks),
      cmocka_unit_test(node_worker_crash_is_retried_and_errors_come_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
