/* test_node_interop.c - the channel against the real `node`, both ways: a Node parent talking to
 * examples/ipc-echo, and a childproc parent forking a Node child that uses process.send and
 * process.on('message'). The Windows twin, against node.exe under Wine, is tests/win32/test_win32_node.c. */
#include <childproc.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char bin_dir[4096];

static void find_bin_dir(void) {
  ssize_t n = readlink("/proc/self/exe", bin_dir, sizeof bin_dir - 1);
  assert_true(n > 0);
  bin_dir[n] = '\0';
  *strrchr(bin_dir, '/') = '\0';
}

/* Node parent -> childproc child: spawn ipc-echo with an 'ipc' stdio, send three messages (one
 * holding an escaped newline), check every echo and the pid, disconnect, expect exit code 0. */
static void node_parent_gets_replies_from_ipc_echo(void **state) {
  (void)state;
  char echo[4200];
  snprintf(echo, sizeof echo, "%s/ipc-echo", bin_dir);
  static const char script[] =
      "const cp = require('child_process');"
      "const c = cp.spawn(process.argv[1], [], {stdio: ['inherit', 'inherit', 'inherit', 'ipc']});"
      "const sent = [{hello: 'world'}, [1, 2, 3], 'line\\nbreak \\u00e9\\u65e5'];"
      "const got = [];"
      "c.on('message', m => { got.push(m); if (got.length === sent.length) c.disconnect(); });"
      "c.on('exit', (code, sig) => {"
      "  const ok = code === 0 && got.length === 3 && got.every((m, i) =>"
      "    JSON.stringify(m.echo) === JSON.stringify(sent[i]) && m.pid === c.pid);"
      "  console.log(ok ? 'INTEROP-OK' : 'INTEROP-BAD ' + JSON.stringify({code, sig, got}));"
      "  process.exit(ok ? 0 : 1);"
      "});"
      "for (const m of sent) c.send(m);";
  const char *args[] = {"-e", script, echo, NULL};
  cp_options o = {.timeout_ms = 20000};
  cp_result r;
  int rc = cp_spawn_sync("node", args, &o, &r);
  if (rc) fprintf(stderr, "node: %s\n", r.error.message);
  assert_int_equal(rc, 0);
  if (r.status != 0) fprintf(stderr, "stdout: %s\nstderr: %s\n", r.out.data, r.err.data);
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out.data, "INTEROP-OK"));
  cp_result_free(&r);
}

typedef struct talk {
  int received;
  bool disconnected, closed;
  int64_t status;
  char last[256];
} talk;

static void on_message(cp_child *c, const char *msg, size_t len, void *ud) {
  talk *t = ud;
  t->received++;
  snprintf(t->last, sizeof t->last, "%.*s", (int)len, msg);
  if (t->received < 100) {
    char buf[64];
    int n = snprintf(buf, sizeof buf, "{\"n\":%d}", t->received);
    assert_int_equal(cp_channel_send(cp_child_channel(c), buf, (size_t)n, NULL, NULL), 0);
  } else {
    assert_int_equal(cp_channel_disconnect(cp_child_channel(c)), 0);
  }
}
static void on_disconnect(cp_child *c, void *ud) {
  (void)c;
  ((talk *)ud)->disconnected = true;
}
static void on_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c, (void)sig;
  ((talk *)ud)->closed = true;
  ((talk *)ud)->status = status;
}

/* childproc parent -> Node child: 100 round trips, each reply computed by Node from the message. */
static void c_parent_forks_node_child(void **state) {
  (void)state;
  static const char script[] =
      "process.on('message', m => process.send({n: m.n, twice: m.n * 2}));"
      "process.on('disconnect', () => process.exit(5));";
  const char *args[] = {"-e", script, NULL};
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  talk t = {0, false, false, -1, {0}};
  cp_child_events ev = {.on_message = on_message, .on_disconnect = on_disconnect, .on_close = on_close};
  cp_child *c;
  cp_options o = {.timeout_ms = 20000};
  assert_int_equal(cp_fork(loop, "node", args, &o, &ev, &t, &c), 0);
  assert_int_equal(cp_channel_send(cp_child_channel(c), "{\"n\":0}", 7, NULL, NULL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(t.received, 100);
  assert_string_equal(t.last, "{\"n\":99,\"twice\":198}");
  assert_true(t.disconnected);
  assert_true(t.closed);
  assert_int_equal(t.status, 5); /* Node saw our disconnect */
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

int main(void) {
  find_bin_dir();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(node_parent_gets_replies_from_ipc_echo),
      cmocka_unit_test(c_parent_forks_node_child),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
