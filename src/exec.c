/* exec.c - exec and execFile: a spawned child whose stdout and stderr are buffered up to
 * max_buffer, with input written to stdin, ending in one result (Node's exec/execFile callback and
 * the spawnSync result). The sync forms run this on a private loop. */
#include "exec.h"
#include "child.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cp__exec {
  cp_loop *loop;
  cp_child *child;
  cp__buf cap[2];
  bool truncated[2];
  size_t max_buffer;
  int64_t timeout_ms;
  int limit_error; /* CP_ENOBUFS / CP_ENOMEM once the library killed the child for it */
  int io_error;
  int input_error; /* options.input could not be queued: the child was killed for it */
  bool fail_on_status;
  const char *form;     /* "exec", "execFileSync"... (static) */
  const char *limit_sc; /* the syscall of timeout and maxBuffer errors: "spawnSync" or the form */
  char *display;
  cp_exec_cb cb;
  void *ud;
};

static void exec_capture(cp__exec *x, int i, const char *buf, size_t n) {
  if (n == 0 || x->truncated[i]) return; /* end of stream; or being killed: drain without keeping */
  size_t room = x->max_buffer - x->cap[i].len;
  size_t keep = n < room ? n : room;
  if (keep && cp__buf_append(&x->cap[i], buf, keep)) {
    x->truncated[i] = true;
    if (!x->limit_error) x->limit_error = CP_ENOMEM;
    cp__child_kill_for_limit(x->child);
    cp_child_end(x->child);
    return;
  }
  if (n > room) {
    x->truncated[i] = true;
    if (!x->limit_error) x->limit_error = CP_ENOBUFS;
    cp__child_kill_for_limit(x->child);
    cp_child_end(x->child); /* a child blocked writing to its stdin... nobody reads it now */
  }
}

static void exec_on_stdout(cp_child *c, const char *data, size_t len, void *ud) {
  (void)c;
  exec_capture(ud, 0, data, len);
}

static void exec_on_stderr(cp_child *c, const char *data, size_t len, void *ud) {
  (void)c;
  exec_capture(ud, 1, data, len);
}

static void exec_on_error(cp_child *c, const cp_error *err, void *ud) {
  cp__exec *x = ud;
  (void)c;
  if (cp__child_start_error(c)->code == CP_OK && !x->io_error) x->io_error = err->code;
}

/* What out.data / err.data point at when even their one-byte allocation failed: the header promises
 * non-NULL data. Never written to, never freed. */
static char result_empty[2][1];

static void buffer_free(cp_buffer *b, int i) {
  if (b->data != result_empty[i]) free(b->data);
}

static void take_capture(cp__buf *b, cp_buffer *dst, int i) {
  if (!b->data) return; /* keep the empty string the result was made with */
  buffer_free(dst, i);
  dst->data = b->data;
  dst->len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
}

int cp__result_init(cp_result *res) {
  memset(res, 0, sizeof *res);
  res->status = -1;
  res->out.data = calloc(1, 1);
  res->err.data = calloc(1, 1);
  if (res->out.data && res->err.data) return 0;
  cp_result_free(res);
  res->out.data = result_empty[0];
  res->err.data = result_empty[1];
  return cp__error_set(&res->error, CP_ENOMEM, 0, "spawn", NULL);
}

void cp_result_free(cp_result *res) {
  if (!res) return;
  buffer_free(&res->out, 0);
  buffer_free(&res->err, 1);
  cp__error_clear(&res->error);
  memset(res, 0, sizeof *res);
  res->status = -1;
}

/* The result and the code the sync form returns, in Node's order of precedence: could not start,
 * timed out, maxBuffer, read error, then (exec/execFile) a failed command. */
static int exec_result(cp__exec *x, cp_child *c, int64_t status, int signum, cp_result *res) {
  res->pid = cp_child_pid(c);
  res->status = status;
  res->signal = signum;
  res->timed_out = cp_child_timed_out(c);
  res->out_truncated = x->truncated[0];
  res->err_truncated = x->truncated[1];
  take_capture(&x->cap[0], &res->out, 0);
  take_capture(&x->cap[1], &res->err, 1);
  const cp_error *se = cp__child_start_error(c);
  cp_error *e = &res->error;
  if (se->code) {
    cp__error_set(e, se->code, se->os_error, se->syscall, se->path);
    memcpy(e->message, se->message, sizeof e->message);
    return se->code;
  }
  if (x->input_error) return cp__error_set(e, x->input_error, 0, "write", "stdin");
  if (res->timed_out)
    return cp__error_setf(e, CP_ETIMEDOUT, 0, x->limit_sc, x->display,
                          "%s %.180s ETIMEDOUT: timed out after %lld ms", x->limit_sc, x->display,
                          (long long)x->timeout_ms);
  if (x->limit_error == CP_ENOBUFS)
    return cp__error_setf(e, CP_ENOBUFS, 0, x->limit_sc, x->display,
                          "%s %.180s ENOBUFS: %s maxBuffer length exceeded (%zu bytes)", x->limit_sc,
                          x->display, x->truncated[0] ? "stdout" : "stderr", x->max_buffer);
  if (x->limit_error || x->io_error)
    return cp__error_set(e, x->limit_error ? x->limit_error : x->io_error, 0, "read", NULL);
  if (x->fail_on_status && (status != 0 || signum)) {
    const char *sn = cp_signal_name(signum);
    if (signum)
      cp__error_setf(e, CP_ECHILDFAILED, 0, x->form, NULL, "Command failed: %.180s (killed by %s)",
                     x->display, sn ? sn : "a signal");
    else
      cp__error_setf(e, CP_ECHILDFAILED, 0, x->form, NULL, "Command failed: %.180s (exit status %lld)",
                     x->display, (long long)status);
    return CP_ECHILDFAILED;
  }
  return 0;
}

static void exec_free(cp__exec *x) {
  cp__buf_free(&x->cap[0]);
  cp__buf_free(&x->cap[1]);
  free(x->display);
  free(x);
}

static void exec_on_close(cp_child *c, int64_t status, int signum, void *ud) {
  cp__exec *x = ud;
  cp_result res;
  int rc = cp__result_init(&res); /* on failure: CP_ENOMEM in res.error, empty buffers */
  if (rc == 0) rc = exec_result(x, c, status, signum, &res);
  cp_child_free(c);
  cp_exec_cb cb = x->cb;
  void *cbud = x->ud;
  exec_free(x);
  cb(rc, &res, cbud);
  cp_result_free(&res); /* a callback that kept the result moved it out and zeroed it */
}

/* options.input could not be written: the run cannot be what was asked, so the child is killed and
 * the result says why. CP_EPIPE is not that: the child closed its stdin (as Node, not an error), or
 * it did not start, or stdin is not a pipe. */
static void exec_on_input_written(cp_child *c, int status, void *ud) {
  cp__exec *x = ud;
  if (status == 0 || status == CP_EPIPE || x->input_error) return;
  x->input_error = status;
  cp_child_kill(c, CP_SIGKILL);
}

int cp__exec_start(cp_loop *loop, const char *file, const char *const *args, const char *command,
                   const cp_options *o, const char *form, cp_exec_cb cb, void *ud, cp_error *err) {
  if (!loop || !cb)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL, "spawn EINVAL: %s is NULL",
                          loop ? "the callback" : "the loop");
  cp__prepared p;
  int rc = cp__prepare(&p, file, args, command, o, NULL, err);
  cp__exec *x = NULL;
  if (rc) goto out;
  x = calloc(1, sizeof *x);
  if (!x || !(x->display = cp__strdup(p.display))) {
    rc = cp__error_set(err, CP_ENOMEM, 0, "spawn", NULL);
    goto out;
  }
  x->loop = loop;
  x->max_buffer = p.max_buffer;
  x->timeout_ms = o ? o->timeout_ms : 0;
  x->form = form;
  x->fail_on_status = strcmp(form, "spawnSync") != 0;
  size_t fl = strlen(form);
  x->limit_sc = fl > 4 && strcmp(form + fl - 4, "Sync") == 0 ? "spawnSync" : form;
  x->cb = cb;
  x->ud = ud;
  static const cp_child_events ev = {.on_error = exec_on_error,
                                     .on_stdout = exec_on_stdout,
                                     .on_stderr = exec_on_stderr,
                                     .on_close = exec_on_close};
  rc = cp__child_start(loop, &p, o, &ev, x, &x->child);
  if (rc) {
    cp__error_set(err, rc, 0, "spawn", NULL);
    goto out;
  }
  /* The caller keeps options.input alive until the callback (the sync forms do, by waiting). */
  if (o && o->input_len) {
    int wrc = cp__child_write_nocopy(x->child, o->input, o->input_len, exec_on_input_written, x);
    if (wrc) exec_on_input_written(x->child, wrc, x);
  }
  cp_child_end(x->child); /* after the input, or at once: the child reads end of file, as in Node */
  x = NULL;
out:
  if (x) exec_free(x);
  cp__prepared_free(&p);
  return rc;
}

int cp_exec(cp_loop *loop, const char *command, const cp_options *options, cp_exec_cb cb, void *ud) {
  if (!command) return CP_EINVAL;
  return cp__exec_start(loop, NULL, NULL, command, options, "exec", cb, ud, NULL);
}

int cp_exec_file(cp_loop *loop, const char *file, const char *const *args, const cp_options *options,
                 cp_exec_cb cb, void *ud) {
  return cp__exec_start(loop, file, args, NULL, options, "execFile", cb, ud, NULL);
}
