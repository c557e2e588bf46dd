/* test_win32_node.c - the channel against Node for Windows (node.exe under Wine in CI), both ways, and
 * against a hand-written peer that puts raw bytes on the pipe. On Windows the channel carries libuv's
 * IPC frames (docs/channel.md, "Windows"); these tests pin that Node and childproc agree on them:
 *  - a node.exe parent and examples/ipc-echo: unicode, a 1 MiB message, 2000 small ones, and the
 *    disconnect from either side; a node.exe parent's requests served by cp_channel_serve;
 *  - a childproc parent forking node.exe: 1000 round trips, requests, the child exiting by itself
 *    once the parent disconnects; pools of node.exe workers: examples/worker.js unchanged, one
 *    crashing mid-task, error and unicode replies;
 *  - cp_spawn_sync side by side with node.exe's spawnSync (docs/node-mapping.md lists the differences);
 *  - malformed frames from a raw peer end in on_error (CP_EPROTO / CP_ENOBUFS) and a disconnect, at
 *    once, whatever the peer does next; a frame carrying a socket record is delivered without it.
 *
 * node.exe is found through CHILDPROC_NODE_EXE (a Windows path; ci/test-windows.sh installs Node for
 * Windows from npm and sets it). Without it the Node tests skip and say so. This program is also the
 * raw peer and a childproc child that disconnects first (argv modes, see main). */
#include <childproc.h>

#include "cptest.h"

#include <io.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include <cmocka.h>

#define NODE_TIMEOUT_MS 120000

static const char *node_exe(void) {
  const char *p = getenv("CHILDPROC_NODE_EXE");
  return p && *p ? p : NULL;
}

#define NEED_NODE()                                                                                          \
  do {                                                                                                       \
    if (!node_exe())                                                                                         \
      CPTEST_SKIP("CHILDPROC_NODE_EXE not set: no Node for Windows (ci/test-windows.sh installs it)");       \
  } while (0)

/* Writes a script into the suite's scratch directory; returns its path (to free). */
static char *script_file(const char *name, const char *text) {
  char *path = cptest_join(cptest_tmpdir, name);
  assert_int_equal(cptest_write_file(path, text, strlen(text), 0644), 0);
  return path;
}

/* Runs node.exe on a script with args; its stdout must end with "OK". */
static void run_node_script(const char *script, const char *const *extra) {
  const char *args[8] = {script};
  size_t n = 1;
  for (size_t i = 0; extra && extra[i] && n < 7; i++) args[n++] = extra[i];
  args[n] = NULL;
  cp_options o = {.timeout_ms = NODE_TIMEOUT_MS, .stdio = {{CP_STDIO_IGNORE, 0}}};
  cp_result r;
  int rc = cp_spawn_sync(node_exe(), args, &o, &r);
  if (rc) fprintf(stderr, "node.exe: %s\n", r.error.message);
  assert_int_equal(rc, 0);
  if (r.status != 0 || !r.out.data || !strstr(r.out.data, "OK"))
    fprintf(stderr, "status %lld\nstdout: %.2000s\nstderr: %.2000s\n", (long long)r.status,
            r.out.data ? r.out.data : "", r.err.data ? r.err.data : "");
  assert_int_equal(r.status, 0);
  assert_false(r.timed_out);
  assert_non_null(r.out.data);
  assert_non_null(strstr(r.out.data, "OK"));
  cp_result_free(&r);
}

/* ---- a node.exe parent ------------------------------------------------------------------------------ */

/* Node spawns ipc-echo with an 'ipc' stdio and checks every echo, in order, with ipc-echo's pid; then
 * it disconnects and ipc-echo must exit 0 on its own. */
static void node_parent_gets_every_echo_from_ipc_echo(void **state) {
  (void)state;
  NEED_NODE();
  static const char js[] =
      "const cp = require('child_process');\n"
      "const c = cp.spawn(process.argv[2], [], {stdio: ['ignore', 'ignore', 'inherit', 'ipc']});\n"
      "const sent = [{hello: 'w\\u00f6rld'}, 'line\\nbreak \\u00e9\\u65e5\\u672c \\ud83c\\udf89 \"q\" "
      "\\\\',\n"
      "  {sep: '\\u2028\\u2029', nul: '\\u0000'}, 'x'.repeat(1 << 20)];\n"
      "for (let i = 0; i < 2000; i++) sent.push({i, s: 'm' + i});\n"
      "let got = 0, bad = null;\n"
      "c.on('message', m => {\n"
      "  if (bad === null && (JSON.stringify(m.echo) !== JSON.stringify(sent[got]) || m.pid !== c.pid))\n"
      "    bad = got + ': ' + JSON.stringify(m).slice(0, 200);\n"
      "  if (++got === sent.length) c.disconnect();\n"
      "});\n"
      "c.on('exit', (code, sig) => {\n"
      "  const ok = code === 0 && got === sent.length && bad === null;\n"
      "  process.stdout.write(ok ? 'OK\\n' : 'BAD ' + JSON.stringify({code, sig, got, bad}) + '\\n');\n"
      "  process.exitCode = ok ? 0 : 1;\n"
      "});\n"
      "for (const m of sent) c.send(m);\n";
  char *script = script_file("parent-echo.js", js);
  const char *extra[] = {cptest_bin("ipc-echo"), NULL};
  run_node_script(script, extra);
  free(script);
}

/* The other way round: the childproc child sends one message and disconnects; Node gets the message,
 * then 'disconnect', then the child's exit 0. */
static void node_parent_sees_the_childproc_child_disconnect(void **state) {
  (void)state;
  NEED_NODE();
  static const char js[] =
      "const cp = require('child_process');\n"
      "const c = cp.spawn(process.argv[2], ['--disconnecting-child'], {stdio: ['ignore', 'ignore', "
      "'inherit', 'ipc']});\n"
      "const seen = [];\n"
      "c.on('message', m => seen.push(JSON.stringify(m)));\n"
      "let code = null;\n"
      "const done = () => {\n"
      "  const ok = code === 0 && seen.join(' ') === '{\"bye\":\"\\u00e9\\ud83c\\udf89\"} disconnect';\n"
      "  process.stdout.write(ok ? 'OK\\n' : 'BAD ' + JSON.stringify({code, seen}) + '\\n');\n"
      "  process.exitCode = ok ? 0 : 1;\n"
      "};\n"
      "/* 'exit' and 'disconnect' may come in either order: judge once both came */\n"
      "c.on('disconnect', () => { seen.push('disconnect'); if (code !== null) done(); });\n"
      "c.on('exit', c0 => { code = c0; if (seen.includes('disconnect')) done(); });\n";
  char *script = script_file("parent-disconnect.js", js);
  const char *extra[] = {cptest_bin("test_win32_node"), NULL};
  run_node_script(script, extra);
  free(script);
}

/* A childproc child serving requests (cp_channel_serve) to a Node parent that sends {id, ...} objects
 * and matches the {id, result} / {id, error} replies, as a Node pool would. */
static void node_parent_requests_from_a_serving_childproc_child(void **state) {
  (void)state;
  NEED_NODE();
  static const char js[] = "const cp = require('child_process');\n"
                           "const c = cp.spawn(process.argv[2], ['--serving-child'], {stdio: ['ignore', "
                           "'ignore', 'inherit', 'ipc']});\n"
                           "const pending = new Map();\n"
                           "let ok = 0, bad = [];\n"
                           "c.on('message', m => {\n"
                           "  const want = pending.get(m.id); pending.delete(m.id);\n"
                           "  if (want === undefined) bad.push(m);\n"
                           "  else if (want < 0 ? m.error === 'negative' : m.result === want * 2) ok++;\n"
                           "  else bad.push(m);\n"
                           "  if (pending.size === 0) c.disconnect();\n"
                           "});\n"
                           "c.on('exit', code => {\n"
                           "  const good = code === 0 && ok === 300 && bad.length === 0;\n"
                           "  process.stdout.write(good ? 'OK\\n' : 'BAD ' + JSON.stringify({code, ok, bad: "
                           "bad.slice(0, 3)}) + '\\n');\n"
                           "  process.exitCode = good ? 0 : 1;\n"
                           "});\n"
                           "for (let id = 1; id <= 300; id++) { const n = id % 7 === 0 ? -id : id; "
                           "pending.set(id, n); c.send({id, n}); }\n";
  char *script = script_file("parent-requests.js", js);
  const char *extra[] = {cptest_bin("test_win32_node"), NULL};
  run_node_script(script, extra);
  free(script);
}

/* ---- a childproc parent, node.exe children ------------------------------------------------------------ */

typedef struct talk {
  int received, errors, target;
  bool disconnected, closed;
  int64_t status;
  int signal;
  char last[256];
} talk;

static void talk_message(cp_child *c, const char *msg, size_t len, void *ud) {
  talk *t = ud;
  t->received++;
  snprintf(t->last, sizeof t->last, "%.*s", (int)len, msg);
  if (t->received < t->target) {
    char buf[96];
    int n = snprintf(buf, sizeof buf, "{\"n\":%d,\"s\":\"\xc3\xa9\xf0\x9f\x8e\x89\"}", t->received);
    assert_int_equal(cp_channel_send(cp_child_channel(c), buf, (size_t)n, NULL, NULL), 0);
  } else {
    assert_int_equal(cp_channel_disconnect(cp_child_channel(c)), 0);
  }
}
static void talk_error(cp_child *c, const cp_error *err, void *ud) {
  (void)c;
  fprintf(stderr, "child error: %s\n", err->message);
  ((talk *)ud)->errors++;
}
static void talk_disconnect(cp_child *c, void *ud) {
  (void)c;
  ((talk *)ud)->disconnected = true;
}
static void talk_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c;
  ((talk *)ud)->closed = true;
  ((talk *)ud)->status = status;
  ((talk *)ud)->signal = sig;
}

/* 1000 round trips; after the parent's disconnect nothing keeps Node's loop alive, so the child exits
 * 0 by itself (no process.exit in the script, no kill). */
static void c_parent_and_node_child_exchange_1000_messages(void **state) {
  (void)state;
  NEED_NODE();
  char *script = script_file("child-twice.js",
                             "process.on('message', m => process.send({n: m.n, twice: m.n * 2, s: m.s}));\n");
  const char *args[] = {script, NULL};
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  talk t = {.target = 1000, .status = -1};
  cp_child_events ev = {.on_error = talk_error,
                        .on_message = talk_message,
                        .on_disconnect = talk_disconnect,
                        .on_close = talk_close};
  cp_options o = {.timeout_ms = NODE_TIMEOUT_MS,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  cp_child *c;
  assert_int_equal(cp_fork(loop, node_exe(), args, &o, &ev, &t, &c), 0);
  assert_int_equal(cp_channel_send(cp_child_channel(c), "{\"n\":0,\"s\":\"x\"}", 15, NULL, NULL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(t.errors, 0);
  assert_int_equal(t.received, 1000);
  assert_string_equal(t.last, "{\"n\":999,\"twice\":1998,\"s\":\"\xc3\xa9\xf0\x9f\x8e\x89\"}");
  assert_true(t.disconnected);
  assert_true(t.closed);
  assert_int_equal(t.signal, 0);
  assert_int_equal(t.status, 0);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
  free(script);
}

typedef struct asked {
  int ok, bad;
} asked;

static void on_answer(const cp_reply *rep, void *ud) {
  asked *a = ud;
  if (rep->code == CP_OK && rep->result && strcmp(rep->result, "\"pong\"") == 0)
    a->ok++;
  else
    a->bad++;
}

/* cp_channel_request against a Node child answering {id, result}: 200 requests in flight at once. */
static void c_parent_requests_from_a_node_child(void **state) {
  (void)state;
  NEED_NODE();
  char *script = script_file("child-serve.js",
                             "process.on('message', m => process.send({id: m.id, result: 'pong'}));\n");
  const char *args[] = {script, NULL};
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  talk t = {.status = -1};
  cp_child_events ev = {.on_error = talk_error, .on_disconnect = talk_disconnect, .on_close = talk_close};
  cp_options o = {.timeout_ms = NODE_TIMEOUT_MS,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  cp_child *c;
  assert_int_equal(cp_fork(loop, node_exe(), args, &o, &ev, &t, &c), 0);
  asked a = {0, 0};
  for (int i = 0; i < 200; i++)
    assert_int_equal(cp_channel_request(cp_child_channel(c), "{\"ping\":1}", 10, on_answer, &a), 0);
  while (a.ok + a.bad < 200 && !t.closed) assert_true(cp_loop_run(loop, CP_RUN_ONCE) >= 0);
  assert_int_equal(a.ok, 200);
  assert_int_equal(cp_channel_disconnect(cp_child_channel(c)), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(t.status, 0);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
  free(script);
}

typedef struct tally {
  long ok, bad;
  unsigned crash_attempts;
} tally;

typedef struct slot {
  tally *t;
  long i;
} slot;

static void on_sum(const cp_reply *rep, void *ud) {
  slot *s = ud;
  if (rep->code == CP_OK && rep->result && strtol(rep->result, NULL, 10) == s->i * 3)
    s->t->ok++;
  else
    s->t->bad++;
  if (s->i == 50) s->t->crash_attempts = rep->attempts;
}

/* Two node.exe workers serve 100 tasks; the one that gets task 50 exits while running it (the first
 * time only: a marker file says it did). The pool replaces it and requeues the task. */
static void node_worker_pool_requeues_the_task_of_a_crashed_worker(void **state) {
  (void)state;
  NEED_NODE();
  char *marker = cptest_join(cptest_tmpdir, "crashed.marker");
  char *script =
      script_file("worker-crash.js", "const fs = require('fs');\n"
                                     "process.on('message', m => {\n"
                                     "  if (m.crash && !fs.existsSync(process.argv[2])) {\n"
                                     "    fs.writeFileSync(process.argv[2], 'x'); process.exit(3);\n"
                                     "  }\n"
                                     "  process.send({id: m.id, result: m.a + m.b});\n"
                                     "});\n");
  const char *args[] = {script, marker, NULL};
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_pool_options o = {.workers = 2, .file = node_exe(), .args = args, .task_timeout_ms = NODE_TIMEOUT_MS};
  o.options.stdio[0].kind = CP_STDIO_IGNORE;
  o.options.stdio[1].kind = CP_STDIO_IGNORE;
  o.options.stdio[2].kind = CP_STDIO_IGNORE;
  cp_pool *pool;
  assert_int_equal(cp_pool_new(loop, &o, &pool), 0);
  enum { N = 100 };
  static slot slots[N];
  tally t = {0, 0, 0};
  for (long i = 0; i < N; i++) {
    char j[96];
    int len = snprintf(j, sizeof j, "{\"a\":%ld,\"b\":%ld%s}", i, 2 * i, i == 50 ? ",\"crash\":true" : "");
    slots[i] = (slot){&t, i};
    assert_int_equal(cp_pool_submit(pool, j, (size_t)len, on_sum, &slots[i]), 0);
  }
  assert_int_equal(cp_pool_shutdown(pool, CP_POOL_DRAIN, NULL, NULL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(t.ok, N);
  assert_int_equal(t.bad, 0);
  assert_int_equal(t.crash_attempts, 2);
  cp_pool_stats st;
  cp_pool_stats_get(pool, &st);
  assert_int_equal(st.succeeded, N);
  assert_int_equal(st.crashes, 1);
  assert_int_equal(st.restarts, 1);
  cp_pool_free(pool);
  assert_int_equal(cp_loop_free(loop), 0);
  free(script);
  free(marker);
}

/* ---- spawnSync side by side with node.exe ------------------------------------------------------------- */

/* One case run by both: the helper (or `file` when set) with args, optionally a replaced environment,
 * a cwd and a timeout. */
typedef struct sync_case {
  const char *name;
  const char *file; /* NULL: the helper */
  const char *args[12];
  const char *env[4]; /* replaced environment when env[0] is set */
  bool in_tmpdir;     /* cwd = the scratch directory */
  const char *cwd;    /* else this cwd, if set */
  int timeout_ms;
  const char *node; /* NULL: Node reports it as cp_spawn_sync does; else Node's report (a difference
                     * docs/node-mapping.md lists) */
} sync_case;

static void buf_add(cp_buffer *b, const char *s, size_t n) {
  char *d = realloc(b->data, b->len + n + 1);
  assert_non_null(d);
  memcpy(d + b->len, s, n);
  b->data = d;
  b->len += n;
  b->data[b->len] = '\0';
}
static void buf_puts(cp_buffer *b, const char *s) { buf_add(b, s, strlen(s)); }

/* JSON.stringify's form of a string (the cases' texts are ASCII, so only the escapes matter). */
static void json_str(cp_buffer *b, const char *s, size_t n) {
  buf_puts(b, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char e[8];
    if (c == '"' || c == '\\') {
      e[0] = '\\', e[1] = (char)c, e[2] = 0;
    } else if (c == '\n') {
      strcpy(e, "\\n");
    } else if (c == '\r') {
      strcpy(e, "\\r");
    } else if (c == '\t') {
      strcpy(e, "\\t");
    } else if (c < 0x20) {
      snprintf(e, sizeof e, "\\u%04x", c);
    } else {
      e[0] = (char)c, e[1] = 0;
    }
    buf_puts(b, e);
  }
  buf_puts(b, "\"");
}

/* Node's error.code for a CP_E* code (the names are Node's). */
static const char *node_code(int rc) { return cp_err_name(rc); }

/* What cp_spawn_sync gives for the case, in the shape the Node script prints. */
static void run_case_here(const sync_case *k, cp_buffer *json) {
  const char *args[13] = {0};
  size_t n = 0;
  for (; k->args[n]; n++) args[n] = k->args[n];
  cp_options o = {.timeout_ms = (uint64_t)k->timeout_ms, .stdio = {{CP_STDIO_IGNORE, 0}}};
  if (k->env[0]) {
    o.env_mode = CP_ENV_REPLACE;
    o.env = k->env;
  }
  if (k->in_tmpdir) o.cwd = cptest_tmpdir;
  if (k->cwd) o.cwd = k->cwd;
  cp_result r;
  int rc = cp_spawn_sync(k->file ? k->file : cptest_helper(), args, &o, &r);
  char num[32];
  buf_puts(json, "{\"name\":");
  json_str(json, k->name, strlen(k->name));
  buf_puts(json, ",\"status\":");
  if (r.status >= 0 && rc != CP_ETIMEDOUT && !(rc && r.pid == 0)) {
    snprintf(num, sizeof num, "%lld", (long long)r.status);
    buf_puts(json, num);
  } else {
    buf_puts(json, "null");
  }
  buf_puts(json, ",\"signal\":");
  if (r.signal) {
    const char *sn = cp_signal_name(r.signal);
    json_str(json, sn, strlen(sn));
  } else {
    buf_puts(json, "null");
  }
  buf_puts(json, ",\"error\":");
  if (rc && rc != CP_ECHILDFAILED)
    json_str(json, node_code(rc), strlen(node_code(rc)));
  else
    buf_puts(json, "null");
  buf_puts(json, ",\"stdout\":");
  json_str(json, r.out.data ? r.out.data : "", r.out.len);
  buf_puts(json, "}");
  cp_result_free(&r);
}

/* The Node side: the same case as a JSON object for the script. */
static void case_json(const sync_case *k, cp_buffer *json) {
  buf_puts(json, "{\"name\":");
  json_str(json, k->name, strlen(k->name));
  buf_puts(json, ",\"file\":");
  const char *file = k->file ? k->file : cptest_helper();
  json_str(json, file, strlen(file));
  buf_puts(json, ",\"args\":[");
  for (size_t i = 0; k->args[i]; i++) {
    if (i) buf_puts(json, ",");
    json_str(json, k->args[i], strlen(k->args[i]));
  }
  buf_puts(json, "],\"opts\":{\"stdio\":[\"ignore\",\"pipe\",\"pipe\"],\"encoding\":\"latin1\"");
  if (k->timeout_ms) {
    char num[32];
    snprintf(num, sizeof num, ",\"timeout\":%d", k->timeout_ms);
    buf_puts(json, num);
  }
  const char *cwd = k->in_tmpdir ? cptest_tmpdir : k->cwd;
  if (cwd) {
    buf_puts(json, ",\"cwd\":");
    json_str(json, cwd, strlen(cwd));
  }
  if (k->env[0]) {
    buf_puts(json, ",\"env\":{");
    for (size_t i = 0; k->env[i]; i++) {
      const char *eq = strchr(k->env[i], '=');
      if (i) buf_puts(json, ",");
      json_str(json, k->env[i], (size_t)(eq - k->env[i]));
      buf_puts(json, ":");
      json_str(json, eq + 1, strlen(eq + 1));
    }
    buf_puts(json, "}");
  }
  buf_puts(json, "}}");
}

/* Exit codes, start failures, argument bytes, environment names differing in case, cwd, timeouts,
 * the PATH search and batch files: cp_spawn_sync and node.exe's spawnSync must report each case the
 * same way, except for the differences docs/node-mapping.md lists ("spawnSync on Windows, side by
 * side"), which are pinned here too. */
static void spawn_sync_matches_node_spawnSync(void **state) {
  (void)state;
  NEED_NODE();
  static const sync_case cases[] = {
      {"exit 0", NULL, {"exit", "0"}, {0}, false, NULL, 0, NULL},
      {"exit 3", NULL, {"exit", "3"}, {0}, false, NULL, 0, NULL},
      {"exit 300", NULL, {"exit", "300"}, {0}, false, NULL, 0, NULL},
      {"exit -1", NULL, {"exit", "-1"}, {0}, false, NULL, 0, NULL},
      {"missing program", "cp-no-such-program-here", {"x"}, {0}, false, NULL, 0, NULL},
      {"missing program path", "C:\\no\\such\\dir\\prog.exe", {"x"}, {0}, false, NULL, 0, NULL},
      {"argument bytes",
       NULL,
       {"argv", "", "a b", "a\"b", "a\\", "a\\\\\"b c\\", "\t", "%PATH%", "^&|<>"},
       {0},
       false,
       NULL,
       0,
       NULL},
      {"env name case",
       NULL,
       {"env", "CP_DIFF"},
       {"Cp_Diff=mixed", "SYSTEMROOT=C:\\windows"},
       false,
       NULL,
       0,
       NULL},
      {"env unset",
       NULL,
       {"env", "CP_DIFF_NONE"},
       {"CP_OTHER=1", "SYSTEMROOT=C:\\windows"},
       false,
       NULL,
       0,
       NULL},
      {"cwd", NULL, {"cwd"}, {0}, true, NULL, 0, NULL},
      {"missing cwd", NULL, {"cwd"}, {0}, false, "C:\\no\\such\\cwd", 0, NULL},
      {"timeout", NULL, {"sleep", "20000"}, {0}, false, NULL, 400, NULL},
      {"unicode argument", NULL, {"argv", "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x8e\x89"}, {0}, false, NULL, 0, NULL},
      {"env names equal but for case",
       NULL,
       {"env", "CP_DUP"},
       {"CP_DUP=upper", "cp_dup=lower", "SYSTEMROOT=C:\\windows"},
       false,
       NULL,
       0,
       "{\"name\":\"env names equal but for "
       "case\",\"status\":0,\"signal\":null,\"error\":null,\"stdout\":\"upper\"}"},
      {"program found on PATH", "cmd", {"/d", "/c", "exit 7"}, {0}, false, NULL, 0, NULL},
      {"batch file without a shell",
       ".\\cp-diff.bat",
       {"x"},
       {0},
       true,
       NULL,
       0,
       "{\"name\":\"batch file without a "
       "shell\",\"status\":null,\"signal\":null,\"error\":\"EINVAL\",\"stdout\":\"\"}"},
      {"missing batch file",
       ".\\cp-none.bat",
       {"x"},
       {0},
       true,
       NULL,
       0,
       "{\"name\":\"missing batch "
       "file\",\"status\":null,\"signal\":null,\"error\":\"EINVAL\",\"stdout\":\"\"}"},
  };
  enum { NCASES = sizeof cases / sizeof cases[0] };
  char *bat = cptest_join(cptest_tmpdir, "cp-diff.bat");
  assert_int_equal(cptest_write_file(bat, "@exit /b 4\r\n", 12, 0644), 0);
  free(bat);
  cp_buffer in = {0}, want = {0};
  buf_puts(&in, "[");
  buf_puts(&want, "[");
  for (size_t i = 0; i < NCASES; i++) {
    if (i) buf_puts(&in, ","), buf_puts(&want, ",");
    case_json(&cases[i], &in);
    if (cases[i].node) {
      cp_buffer here = {0};
      run_case_here(&cases[i], &here); /* it must still run here as it always did */
      buf_puts(&want, cases[i].node);
      if (strcmp(cases[i].name, "batch file without a shell") == 0)
        assert_string_equal(here.data,
                            "{\"name\":\"batch file without a shell\",\"status\":4,\"signal\":null,"
                            "\"error\":null,\"stdout\":\"\"}");
      else if (strcmp(cases[i].name, "missing batch file") == 0)
        assert_string_equal(here.data, "{\"name\":\"missing batch file\",\"status\":null,\"signal\":null,"
                                       "\"error\":\"ENOENT\",\"stdout\":\"\"}");
      else
        assert_string_equal(here.data,
                            "{\"name\":\"env names equal but for case\",\"status\":0,\"signal\":null,"
                            "\"error\":null,\"stdout\":\"lower\"}");
      free(here.data);
    } else {
      run_case_here(&cases[i], &want);
    }
  }
  buf_puts(&in, "]");
  buf_puts(&want, "]");
  char *cases_path = cptest_join(cptest_tmpdir, "cases.json");
  assert_int_equal(cptest_write_file(cases_path, in.data, in.len, 0644), 0);
  char *script =
      script_file("spawnsync.js", "const cp = require('child_process'), fs = require('fs');\n"
                                  "const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));\n"
                                  "const out = cases.map(c => {\n"
                                  "  const r = cp.spawnSync(c.file, c.args, c.opts);\n"
                                  "  return {name: c.name, status: r.status, signal: r.signal,\n"
                                  "          error: r.error ? r.error.code : null, stdout: r.stdout || ''};\n"
                                  "});\n"
                                  "process.stdout.write(JSON.stringify(out));\n");
  const char *args[] = {script, cases_path, NULL};
  cp_options o = {.timeout_ms = NODE_TIMEOUT_MS, .stdio = {{CP_STDIO_IGNORE, 0}}};
  cp_result r;
  assert_int_equal(cp_spawn_sync(node_exe(), args, &o, &r), 0);
  assert_int_equal(r.status, 0);
  if (!r.out.data || strcmp(r.out.data, want.data) != 0)
    fprintf(stderr, "node.exe spawnSync: %s\nexpected:          %s\n", r.out.data ? r.out.data : "",
            want.data);
  assert_non_null(r.out.data);
  assert_string_equal(r.out.data, want.data);
  cp_result_free(&r);
  free(in.data);
  free(want.data);
  free(cases_path);
  free(script);
}

/* examples/worker.js, unchanged, as a Windows path (the source tree seen from Wine is on drive Z:). */
static char *worker_js(void) {
#ifdef CHILDPROC_SOURCE_DIR
  const char *src = CHILDPROC_SOURCE_DIR;
  size_t n = strlen(src);
  char *path = malloc(n + 32);
  assert_non_null(path);
  if (src[0] == '/') { /* a Unix path: the build ran on Linux and this runs under Wine */
    snprintf(path, n + 32, "Z:%s/examples/worker.js", src);
    for (char *p = path; *p; p++)
      if (*p == '/') *p = '\\';
  } else {
    snprintf(path, n + 32, "%s\\examples\\worker.js", src);
  }
  return path;
#else
  return NULL;
#endif
}

typedef struct sums {
  long ok, bad;
} sums;

typedef struct sum_slot {
  sums *t;
  long long expect;
} sum_slot;

static void on_pool_sum(const cp_reply *rep, void *ud) {
  sum_slot *s = ud;
  if (rep->code == CP_OK && rep->result && strtoll(rep->result, NULL, 10) == s->expect)
    s->t->ok++;
  else
    s->t->bad++;
}

/* The twin of the POSIX test_pool_node suite: examples/worker.js, written the plain Node way, serves
 * 2000 pool tasks from two node.exe workers unchanged. */
static void node_worker_pool_runs_examples_worker_js(void **state) {
  (void)state;
  NEED_NODE();
  char *js = worker_js();
  if (!js) CPTEST_SKIP("CHILDPROC_SOURCE_DIR not defined: examples/worker.js not found");
  enum { N = 2000 };
  const char *args[] = {js, NULL};
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_pool_options o = {.workers = 2, .file = node_exe(), .args = args, .task_timeout_ms = NODE_TIMEOUT_MS};
  o.options.stdio[0].kind = CP_STDIO_IGNORE;
  o.options.stdio[1].kind = CP_STDIO_IGNORE;
  o.options.stdio[2].kind = CP_STDIO_IGNORE;
  cp_pool *pool;
  assert_int_equal(cp_pool_new(loop, &o, &pool), 0);
  static sum_slot slots[N];
  sums t = {0, 0};
  for (long i = 0; i < N; i++) {
    char j[96];
    int len = snprintf(j, sizeof j, "{\"cmd\":\"sum\",\"data\":[%ld,%ld,-3]}", i, i * 7);
    slots[i] = (sum_slot){&t, i + i * 7 - 3};
    assert_int_equal(cp_pool_submit(pool, j, (size_t)len, on_pool_sum, &slots[i]), 0);
  }
  assert_int_equal(cp_pool_shutdown(pool, CP_POOL_DRAIN, NULL, NULL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(t.ok, N);
  assert_int_equal(t.bad, 0);
  cp_pool_stats st;
  cp_pool_stats_get(pool, &st);
  assert_int_equal(st.succeeded, N);
  assert_int_equal(st.crashes, 0);
  cp_pool_free(pool);
  assert_int_equal(cp_loop_free(loop), 0);
  free(js);
}

typedef struct one {
  int calls, code;
  char text[64];
} one;

static void on_one(const cp_reply *rep, void *ud) {
  one *o = ud;
  o->calls++;
  o->code = rep->code;
  snprintf(o->text, sizeof o->text, "%s", rep->result ? rep->result : rep->error ? rep->error : "");
}

/* Error replies, a result JSON.stringify drops (undefined: the library says null) and a unicode
 * echo come back from a node.exe worker as from Node on POSIX. */
static void node_worker_replies_errors_and_unicode(void **state) {
  (void)state;
  NEED_NODE();
  char *script = script_file("worker-replies.js",
                             "process.on('message', m => {\n"
                             "  if (m.fail) return process.send({id: m.id, error: 'bad: ' + m.fail});\n"
                             "  if (m.nothing) return process.send({id: m.id, result: undefined});\n"
                             "  process.send({id: m.id, result: {echo: m.v}});\n"
                             "});\n");
  const char *args[] = {script, NULL};
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_pool_options o = {.workers = 1, .file = node_exe(), .args = args, .task_timeout_ms = NODE_TIMEOUT_MS};
  o.options.stdio[0].kind = CP_STDIO_IGNORE;
  o.options.stdio[1].kind = CP_STDIO_IGNORE;
  o.options.stdio[2].kind = CP_STDIO_IGNORE;
  cp_pool *pool;
  assert_int_equal(cp_pool_new(loop, &o, &pool), 0);
  one r[3] = {{0}};
  assert_int_equal(cp_pool_submit(pool, "{\"fail\":\"x\"}", 12, on_one, &r[0]), 0);
  assert_int_equal(cp_pool_submit(pool, "{\"nothing\":1}", 13, on_one, &r[1]), 0);
  assert_int_equal(cp_pool_submit(pool, "{\"v\":\"\\u00e9\\n\xf0\x9f\x8e\x89\"}", 20, on_one, &r[2]), 0);
  assert_int_equal(cp_pool_shutdown(pool, CP_POOL_DRAIN, NULL, NULL), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(r[0].calls, 1);
  assert_int_equal(r[0].code, CP_OK);
  assert_string_equal(r[0].text, "bad: x");
  assert_string_equal(r[1].text, "null");
  assert_string_equal(r[2].text, "{\"echo\":\"\xc3\xa9\\n\xf0\x9f\x8e\x89\"}");
  cp_pool_free(pool);
  assert_int_equal(cp_loop_free(loop), 0);
  free(script);
}

/* ---- malformed frames from a raw peer --------------------------------------------------------------- */

typedef struct frames {
  char hex[4096];
  size_t n;
} frames;

static void put_byte(frames *f, unsigned b) {
  assert_true(f->n + 3 < sizeof f->hex);
  f->n += (size_t)snprintf(f->hex + f->n, 3, "%02x", b & 0xff);
}
static void put_u32(frames *f, uint32_t v) {
  for (int i = 0; i < 4; i++) put_byte(f, v >> (8 * i));
}
static void put_header(frames *f, uint32_t flags, uint32_t r1, uint32_t len, uint32_t r2) {
  put_u32(f, flags);
  put_u32(f, r1);
  put_u32(f, len);
  put_u32(f, r2);
}
static void put_text(frames *f, const char *s) {
  while (*s) put_byte(f, (unsigned char)*s++);
}
/* A well-formed frame carrying one JSON message. */
static void put_message(frames *f, const char *json) {
  put_header(f, 1, 0, (uint32_t)strlen(json) + 1, 0);
  put_text(f, json);
  put_byte(f, '\n');
}

typedef struct raw {
  int errors, code, messages;
  bool disconnected, closed;
  int64_t status;
  char first[64];
} raw;

static void raw_error(cp_child *c, const cp_error *err, void *ud) {
  (void)c;
  raw *r = ud;
  r->errors++;
  r->code = err->code;
}
static void raw_message(cp_child *c, const char *msg, size_t len, void *ud) {
  (void)c;
  raw *r = ud;
  if (r->messages++ == 0) snprintf(r->first, sizeof r->first, "%.*s", (int)len, msg);
}
static void raw_disconnect(cp_child *c, void *ud) {
  (void)c;
  ((raw *)ud)->disconnected = true;
}
static void raw_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c, (void)sig;
  ((raw *)ud)->closed = true;
  ((raw *)ud)->status = status;
}

/* Forks this program as a raw peer that writes the bytes and then either waits for the channel's end
 * (`then` "wait": the error must come from the header alone, not from the peer going away) or exits.
 * The channel's limit is 1000 bytes. */
static raw run_raw_peer(const frames *f, const char *then) {
  const char *args[] = {"--raw-peer", f->hex, then, NULL};
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  raw r = {.status = -1};
  cp_child_events ev = {.on_error = raw_error,
                        .on_message = raw_message,
                        .on_disconnect = raw_disconnect,
                        .on_close = raw_close};
  cp_options o = {.timeout_ms = 60000,
                  .channel_max_message = 1000,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_INHERIT, 0}}};
  cp_child *c;
  assert_int_equal(cp_fork(loop, cptest_bin("test_win32_node"), args, &o, &ev, &r, &c), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(r.disconnected);
  assert_true(r.closed);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
  return r;
}

static void bad_flags_are_a_protocol_error(void **state) {
  (void)state;
  frames f = {{0}, 0};
  put_message(&f, "{\"before\":1}");
  put_header(&f, 0x09, 0, 3, 0);
  put_text(&f, "{}\n");
  raw r = run_raw_peer(&f, "wait");
  assert_int_equal(r.messages, 1); /* what came before the bad header is delivered */
  assert_string_equal(r.first, "{\"before\":1}");
  assert_int_equal(r.errors, 1);
  assert_int_equal(r.code, CP_EPROTO);
  assert_int_equal(r.status, 0); /* the peer saw the channel close: not killed by the timeout */
}

static void connection_flag_without_a_socket_is_a_protocol_error(void **state) {
  (void)state;
  frames f = {{0}, 0};
  put_header(&f, 0x05, 0, 3, 0);
  put_text(&f, "{}\n");
  raw r = run_raw_peer(&f, "wait");
  assert_int_equal(r.messages, 0);
  assert_int_equal(r.code, CP_EPROTO);
  assert_int_equal(r.status, 0);
}

static void nonzero_reserved2_is_a_protocol_error(void **state) {
  (void)state;
  frames f = {{0}, 0};
  put_header(&f, 0x01, 0, 3, 7);
  put_text(&f, "{}\n");
  raw r = run_raw_peer(&f, "wait");
  assert_int_equal(r.messages, 0);
  assert_int_equal(r.errors, 1);
  assert_int_equal(r.code, CP_EPROTO);
  assert_int_equal(r.status, 0);
}

static void length_without_the_data_flag_is_a_protocol_error(void **state) {
  (void)state;
  frames f = {{0}, 0};
  put_header(&f, 0x00, 0, 3, 0);
  put_text(&f, "{}\n");
  raw r = run_raw_peer(&f, "wait");
  assert_int_equal(r.code, CP_EPROTO);
  assert_int_equal(r.status, 0);
}

/* A header claiming more than the limit is refused before any of its payload is read or buffered. */
static void oversized_length_is_refused_at_the_header(void **state) {
  (void)state;
  frames f = {{0}, 0};
  put_header(&f, 0x01, 0, 0x7fffffff, 0);
  put_text(&f, "{\"a\":");
  raw r = run_raw_peer(&f, "wait");
  assert_int_equal(r.messages, 0);
  assert_int_equal(r.errors, 1);
  assert_int_equal(r.code, CP_ENOBUFS);
  assert_int_equal(r.status, 0);
}

static void header_cut_short_at_the_end_is_a_protocol_error(void **state) {
  (void)state;
  frames f = {{0}, 0};
  put_message(&f, "{\"whole\":true}");
  put_u32(&f, 1);
  put_u32(&f, 0); /* 8 of the 16 header bytes, then the peer exits */
  raw r = run_raw_peer(&f, "exit");
  assert_int_equal(r.messages, 1);
  assert_int_equal(r.errors, 1);
  assert_int_equal(r.code, CP_EPROTO);
}

/* Frame boundaries mean nothing (as in Node): a message split over two frames, two in one frame and
 * an empty frame read as the same stream; reserved1 is ignored. A clean end is no error. */
static void frames_are_joined_and_split_at_newlines(void **state) {
  (void)state;
  frames f = {{0}, 0};
  put_header(&f, 0x01, 0xdeadbeef, 4, 0);
  put_text(&f, "{\"a\"");
  put_header(&f, 0x00, 0, 0, 0);
  put_header(&f, 0x01, 0, 13, 0);
  put_text(&f, ":1}\n{\"b\":2}\n");
  raw r = run_raw_peer(&f, "exit");
  assert_int_equal(r.errors, 0);
  assert_int_equal(r.messages, 2);
  assert_string_equal(r.first, "{\"a\":1}");
  assert_int_equal(r.status, 0);
}

/* A frame with a socket record (a handle Node sent) is delivered without the handle: the record is
 * skipped, as a descriptor passed over the POSIX socket is dropped. */
static void socket_record_is_skipped_and_the_message_delivered(void **state) {
  (void)state;
  frames f = {{0}, 0};
  put_header(&f, 0x07, 0, 8, 0);
  for (int i = 0; i < 632; i++) put_byte(&f, (unsigned)i * 7u);
  put_text(&f, "{\"h\":1}\n");
  put_header(&f, 0x02, 0, 0, 0); /* a record and no data */
  for (int i = 0; i < 632; i++) put_byte(&f, 0);
  put_message(&f, "{\"after\":2}");
  raw r = run_raw_peer(&f, "exit");
  assert_int_equal(r.errors, 0);
  assert_int_equal(r.messages, 2);
  assert_string_equal(r.first, "{\"h\":1}");
}

/* ---- the peers (run as this program with an argv mode) ----------------------------------------------- */

static bool write_all(HANDLE h, const unsigned char *p, DWORD n) {
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  bool ok = true;
  while (ok && n) {
    DWORD done = 0;
    ResetEvent(ov.hEvent);
    if (!WriteFile(h, p, n, NULL, &ov) && GetLastError() != ERROR_IO_PENDING) ok = false;
    if (ok && !GetOverlappedResult(h, &ov, &done, TRUE)) ok = false;
    p += done;
    n -= done;
  }
  CloseHandle(ov.hEvent);
  return ok;
}

static void wait_for_end(HANDLE h) {
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  static char buf[4096];
  for (;;) {
    DWORD got = 0;
    ResetEvent(ov.hEvent);
    if (!ReadFile(h, buf, sizeof buf, NULL, &ov) && GetLastError() != ERROR_IO_PENDING) break;
    if (!GetOverlappedResult(h, &ov, &got, TRUE)) break;
  }
  CloseHandle(ov.hEvent);
}

/* Writes the hex-decoded bytes on the channel descriptor, then waits for its end or exits. */
static int raw_peer(const char *hex, const char *then) {
  const char *fd = getenv("NODE_CHANNEL_FD");
  if (!fd) return 20;
  HANDLE h = (HANDLE)_get_osfhandle(atoi(fd));
  if (h == INVALID_HANDLE_VALUE) return 21;
  size_t n = strlen(hex) / 2;
  unsigned char *bytes = malloc(n + 1);
  if (!bytes) return 22;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return 23;
    bytes[i] = (unsigned char)v;
  }
  bool ok = write_all(h, bytes, (DWORD)n);
  free(bytes);
  if (!ok) return 24;
  if (strcmp(then, "wait") == 0) wait_for_end(h);
  return 0;
}

/* A childproc child serving {"n": x} requests: the result is 2x, an error for negative x. */
static void serve_double(cp_request *req, const char *msg, size_t len, void *ud) {
  (void)ud;
  const char *p = strstr(msg, "\"n\":");
  long n = p && (size_t)(p - msg) < len ? strtol(p + 4, NULL, 10) : 0;
  if (n < 0) {
    cp_request_fail(req, "negative");
    return;
  }
  char out[32];
  int k = snprintf(out, sizeof out, "%ld", 2 * n);
  cp_request_reply(req, out, (size_t)k);
}

static int serving_child(void) {
  cp_loop *loop;
  if (cp_loop_new(&loop)) return 40;
  cp_channel *ch;
  if (cp_channel_open_parent(loop, NULL, NULL, &ch)) return 41;
  if (cp_channel_serve(ch, serve_double, NULL)) return 42;
  int rc = cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_channel_free(ch);
  cp_loop_free(loop);
  return rc ? 43 : 0;
}

/* A childproc child that sends one message and disconnects first. */
static int disconnecting_child(void) {
  cp_loop *loop;
  if (cp_loop_new(&loop)) return 30;
  cp_channel *ch;
  if (cp_channel_open_parent(loop, NULL, NULL, &ch)) return 31;
  static const char bye[] = "{\"bye\":\"\xc3\xa9\xf0\x9f\x8e\x89\"}";
  if (cp_channel_send(ch, bye, sizeof bye - 1, NULL, NULL)) return 32;
  if (cp_channel_disconnect(ch)) return 33;
  int rc = cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_channel_free(ch);
  cp_loop_free(loop);
  return rc ? 34 : 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--raw-peer") == 0) return raw_peer(argv[2], argv[3]);
  if (argc == 2 && strcmp(argv[1], "--disconnecting-child") == 0) return disconnecting_child();
  if (argc == 2 && strcmp(argv[1], "--serving-child") == 0) return serving_child();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(node_parent_gets_every_echo_from_ipc_echo),
      cmocka_unit_test(node_parent_sees_the_childproc_child_disconnect),
      cmocka_unit_test(node_parent_requests_from_a_serving_childproc_child),
      cmocka_unit_test(c_parent_and_node_child_exchange_1000_messages),
      cmocka_unit_test(c_parent_requests_from_a_node_child),
      cmocka_unit_test(node_worker_pool_requeues_the_task_of_a_crashed_worker),
      cmocka_unit_test(node_worker_pool_runs_examples_worker_js),
      cmocka_unit_test(node_worker_replies_errors_and_unicode),
      cmocka_unit_test(spawn_sync_matches_node_spawnSync),
      cmocka_unit_test(bad_flags_are_a_protocol_error),
      cmocka_unit_test(connection_flag_without_a_socket_is_a_protocol_error),
      cmocka_unit_test(nonzero_reserved2_is_a_protocol_error),
      cmocka_unit_test(length_without_the_data_flag_is_a_protocol_error),
      cmocka_unit_test(oversized_length_is_refused_at_the_header),
      cmocka_unit_test(header_cut_short_at_the_end_is_a_protocol_error),
      cmocka_unit_test(frames_are_joined_and_split_at_newlines),
      cmocka_unit_test(socket_record_is_skipped_and_the_message_delivered),
  };
  return cmocka_run_group_tests(tests, cptest_tmpdir_setup, cptest_tmpdir_teardown);
}
