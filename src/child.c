/* child.c - spawn: one child on a loop, with Node's events and their order (spawn, stdout/stderr,
 * message, exit, disconnect, close), stdin writes with back-pressure, kill, tree kill and timeout. */
#include "child.h"
#include "channel.h"

#include <stdlib.h>
#include <string.h>

typedef struct write_req {
  cp_child *c;
  cp_write_cb cb;
  void *ud;
  size_t len;
  struct write_req *next, *prev;
  char *copy; /* owned copy of the data, or NULL when the caller keeps it alive */
} write_req;

/* A child's timers, allocated only for the children that use them: most have no timeout, so a live
 * child stays small (docs/performance.md, memory per live child). */
typedef struct child_timers {
  cp__timer timeout, escalate;
  int64_t kill_after_ms; /* the grace before SIGKILL when killed for a limit (timeout, max_buffer) */
} child_timers;

/* The events of a child, shared by the children of a loop that were given the same ones (programs
 * start many children with one set of callbacks): 8 bytes per child instead of a 64-byte copy. */
struct cp__child_evs {
  cp__child_evs *next;
  size_t refs;
  cp_child_events ev;
};

static const cp__child_evs no_events;

/* A start error that could not be allocated is reported as this one. */
static cp_error start_oom = {CP_ENOMEM, 0, "spawn", NULL, "spawn ENOMEM: out of memory"};
static const cp_error no_error;

/* The events a child delivers from the loop's deferred calls, in this order when several wait. */
enum { PENDING_START = 1, PENDING_EXIT = 2, PENDING_CLOSE = 4 };

/* Kept small: a program may hold thousands of live children (docs/performance.md, memory per live
 * child). */
struct cp_child {
  cp_loop *loop;
  const cp__child_evs *ev; /* shared; &no_events when none were given */
  void *ud;
  os_proc *proc;
  os_stream *pipes[3];
  cp_channel *channel;
  int64_t pid, status;
  child_timers *timers;    /* only for a child with a timeout or kill escalation (see child_timers) */
  cp_error *start_error;   /* why it did not start, or NULL (most children: no 280-byte message each) */
  cp__defer deferred;      /* runs the events of `pending` */
  write_req *wq, *wq_tail; /* in queue (and completion) order */
  size_t wq_bytes;
  int signal;
  int in_cb;
  unsigned char kill_signal;
  unsigned char pending; /* PENDING_*: start (on_spawn, or on_error + on_close), exit, close */
  bool group : 1;        /* started as the root of its own tree */
  bool started : 1, exited : 1, closed : 1, killed : 1, timed_out : 1;
  bool limit_killed : 1;   /* killed for timeout or max_buffer: the run ends once the child exited */
  bool exit_delivered : 1; /* on_exit ran (or never will: the child did not start) */
  bool ending : 1;         /* cp_child_end(): close stdin after the queue */
  bool channel_open : 1;
  bool ref : 1;   /* counted in loop->refs */
  bool freed : 1; /* cp_child_free() called */
};

#define EMIT(c, name, ...)                                                                                   \
  do {                                                                                                       \
    if ((c)->ev->ev.name && !(c)->freed) (c)->ev->ev.name((c), __VA_ARGS__);                                 \
  } while (0)

/* The loop's shared copy of *ev (a new one if no live child has the same callbacks), or NULL when
 * out of memory. Only the first few sets are compared: a program with many distinct sets pays one
 * allocation per child, as before sharing. */
static const cp__child_evs *evs_get(cp_loop *l, const cp_child_events *ev) {
  if (!ev) return &no_events;
  int looked = 0;
  for (cp__child_evs **pp = &l->child_evs; *pp && looked < 8; pp = &(*pp)->next, looked++) {
    cp__child_evs *e = *pp;
    if (memcmp(&e->ev, ev, sizeof *ev) == 0) {
      *pp = e->next; /* to the front: the next child most likely has the same */
      e->next = l->child_evs;
      l->child_evs = e;
      e->refs++;
      return e;
    }
  }
  cp__child_evs *e = malloc(sizeof *e);
  if (!e) return NULL;
  e->ev = *ev;
  e->refs = 1;
  e->next = l->child_evs;
  l->child_evs = e;
  return e;
}

static void evs_release(cp_loop *l, const cp__child_evs *ev) {
  if (ev == &no_events) return;
  for (cp__child_evs **pp = &l->child_evs; *pp; pp = &(*pp)->next) {
    if (*pp != ev) continue;
    cp__child_evs *e = *pp;
    if (--e->refs == 0) {
      *pp = e->next;
      free(e);
    }
    return;
  }
}

static void deliver_start(cp_child *c);
static void deliver_exit(cp_child *c);
static void deliver_close(cp_child *c);

/* One deferred record carries all three events, one per turn, in start, exit, close order. They are
 * rarely pending together (exit comes after start was delivered, close after exit); when they are,
 * the order is kept. */
static void deliver_pending(cp__defer *d) {
  cp_child *c = d->data;
  unsigned bit = c->pending & (unsigned)-(int)c->pending; /* the lowest */
  c->pending = (unsigned char)(c->pending & ~bit);
  if (c->pending) cp__defer_queue(c->loop, d, deliver_pending, c); /* cancelled if c is freed */
  if (bit == PENDING_START)
    deliver_start(c);
  else if (bit == PENDING_EXIT)
    deliver_exit(c);
  else if (bit == PENDING_CLOSE)
    deliver_close(c);
}

static void queue_event(cp_child *c, unsigned bit) {
  c->pending = (unsigned char)(c->pending | bit);
  cp__defer_queue(c->loop, &c->deferred, deliver_pending, c);
}

static void child_unref_internal(cp_child *c) {
  if (c->ref) c->loop->refs--;
  c->ref = false;
}

static void stop_timers(cp_child *c) {
  if (!c->timers) return;
  cp__timer_stop(c->loop, &c->timers->timeout);
  cp__timer_stop(c->loop, &c->timers->escalate);
}

static bool ensure_timers(cp_child *c) {
  if (!c->timers) c->timers = calloc(1, sizeof *c->timers);
  return c->timers != NULL;
}

/* Takes over *e (and the path it owns) as the child's start error. */
static void set_start_error(cp_child *c, cp_error *e) {
  cp_error *copy = malloc(sizeof *copy);
  if (!copy) {
    cp__error_clear(e);
    c->start_error = &start_oom;
    return;
  }
  *copy = *e;
  c->start_error = copy;
}

static void child_maybe_free(cp_child *c) {
  if (!c->freed || !c->closed || c->in_cb) return;
  cp__defer_cancel(c->loop, &c->deferred);
  evs_release(c->loop, c->ev);
  stop_timers(c);
  free(c->timers);
  if (c->channel) cp__channel_destroy(c->channel);
  if (c->proc) os_proc_free(c->proc);
  if (c->start_error && c->start_error != &start_oom) {
    cp__error_clear(c->start_error);
    free(c->start_error);
  }
  c->loop->live--;
  free(c);
}

static void close_stdin(cp_child *c, int status) {
  if (c->pipes[0]) {
    os_stream_close(c->pipes[0]);
    c->pipes[0] = NULL;
  }
  while (c->wq) {
    write_req *r = c->wq;
    c->wq = r->next;
    if (!c->wq) c->wq_tail = NULL;
    c->wq_bytes -= r->len;
    if (r->cb && !c->freed) r->cb(c, status, r->ud);
    free(r->copy);
    free(r);
  }
}

static void deliver_close(cp_child *c) {
  c->closed = true;
  stop_timers(c);
  child_unref_internal(c);
  c->in_cb++;
  EMIT(c, on_close, c->status, c->signal, c->ud);
  c->in_cb--;
  child_maybe_free(c);
}

/* 'close' comes after 'exit' and the end of stdout, stderr and the channel. */
static void check_close(cp_child *c) {
  if (c->closed || !c->exit_delivered || c->pipes[1] || c->pipes[2] || c->channel_open) return;
  queue_event(c, PENDING_CLOSE);
}

static void close_output(cp_child *c, int i) {
  if (!c->pipes[i]) return;
  os_stream_close(c->pipes[i]);
  c->pipes[i] = NULL;
}

/* Closes stdout (1) or stderr (2) and delivers its end (a NULL, 0 call), as when the child closed it. */
static void end_output(cp_child *c, int i) {
  close_output(c, i);
  if (i == 1)
    EMIT(c, on_stdout, NULL, 0, c->ud);
  else
    EMIT(c, on_stderr, NULL, 0, c->ud);
}

/* Closes the parent's end of stdout and stderr now, each stream's end delivered as if it had come:
 * descendants that still hold the pipes no longer keep on_close waiting. */
static void end_outputs(cp_child *c) {
  c->in_cb++;
  for (int i = 1; i < 3; i++) {
    if (c->pipes[i]) end_output(c, i);
  }
  c->in_cb--;
  check_close(c);
}

static void child_on_read(os_stream *s, void *data, const char *buf, size_t n, int status) {
  cp_child *c = data;
  int i = s == c->pipes[1] ? 1 : 2;
  c->in_cb++;
  if (n == 0) {
    if (status < 0) {
      cp_error err = {0};
      cp__error_set(&err, status, 0, "read", i == 1 ? "stdout" : "stderr");
      EMIT(c, on_error, &err, c->ud);
      cp__error_clear(&err);
    }
    end_output(c, i);
    check_close(c);
  } else if (i == 1) {
    EMIT(c, on_stdout, buf, n, c->ud);
  } else {
    EMIT(c, on_stderr, buf, n, c->ud);
  }
  c->in_cb--;
  child_maybe_free(c);
}

static void deliver_exit(cp_child *c) {
  c->exit_delivered = true;
  c->in_cb++;
  if (!c->start_error) EMIT(c, on_exit, c->status, c->signal, c->ud);
  c->in_cb--;
  if (c->limit_killed)
    end_outputs(c);
  else
    check_close(c);
  child_maybe_free(c);
}

/* The exit is noted at once (no signal ever goes to a reaped pid). With a channel, on_exit waits
 * for the end of this loop turn: the messages the child sent before it exited are in the socket
 * already, and are read in this turn, so they all come before 'exit', as Node's do. */
static void child_on_exit(os_proc *p, void *data, int64_t status, int signum) {
  cp_child *c = data;
  (void)p;
  c->exited = true;
  c->status = status;
  c->signal = signum;
  /* As Node: stdin goes with the process; queued writes fail. */
  c->in_cb++;
  close_stdin(c, CP_EPIPE);
  c->in_cb--;
  if (c->channel_open)
    queue_event(c, PENDING_EXIT);
  else
    deliver_exit(c);
}

static void child_on_message(cp_channel *ch, const char *msg, size_t len, void *ud) {
  cp_child *c = ud;
  (void)ch;
  c->in_cb++;
  EMIT(c, on_message, msg, len, c->ud);
  c->in_cb--;
}

static void child_on_disconnect(cp_channel *ch, void *ud) {
  cp_child *c = ud;
  (void)ch;
  c->channel_open = false;
  c->in_cb++;
  EMIT(c, on_disconnect, c->ud);
  c->in_cb--;
  check_close(c);
}

static void child_on_channel_error(cp_channel *ch, const cp_error *err, void *ud) {
  cp_child *c = ud;
  (void)ch;
  c->in_cb++;
  EMIT(c, on_error, err, c->ud);
  c->in_cb--;
}

static void deliver_start(cp_child *c) {
  c->in_cb++;
  if (c->started) {
    EMIT(c, on_spawn, c->ud);
  } else {
    EMIT(c, on_error, c->start_error, c->ud);
    if (!c->proc) { /* else killed by child_abort_start(): closes once reaped, with no on_exit */
      c->exited = true;
      c->exit_delivered = true;
    }
    check_close(c);
  }
  c->in_cb--;
  child_maybe_free(c);
}

/* The SIGKILL of an escalation: to the tree when there is one (members may outlive the leader),
 * else to the child if it has not exited. */
static void child_on_escalate(cp__timer *t) {
  cp_child *c = t->data;
  if (c->group)
    os_proc_kill_tree(c->proc, CP_SIGKILL);
  else if (!c->exited)
    os_proc_kill(c->proc, CP_SIGKILL);
}

static int child_signal(cp_child *c, int signum, uint64_t grace_ms) {
  if (grace_ms && signum != CP_SIGKILL && !ensure_timers(c)) return CP_ENOMEM; /* nothing sent */
  int rc = c->group    ? os_proc_kill_tree(c->proc, signum)
           : c->exited ? CP_ESRCH
                       : os_proc_kill(c->proc, signum);
  if (rc == 0) c->killed = true;
  if (rc == 0 && grace_ms && signum != CP_SIGKILL)
    cp__timer_start(c->loop, &c->timers->escalate, grace_ms, child_on_escalate, c);
  return rc;
}

/* As Node's spawnSync and exec close the pipes when they kill for a limit, the run ends once the
 * child itself has exited, whatever its descendants still hold: what was read is kept. */
int cp__child_kill_for_limit(cp_child *c) {
  c->limit_killed = true;
  int rc = child_signal(c, c->kill_signal, c->timers ? (uint64_t)c->timers->kill_after_ms : 0);
  if (c->exited) end_outputs(c); /* the caller is inside a callback: the free waits for it */
  return rc;
}

int cp_child_terminate(cp_child *c, int signum, uint64_t grace_ms) {
  if (!c || signum <= 0) return CP_EINVAL;
  if (!c->started) return CP_ESRCH;
  return child_signal(c, signum, grace_ms);
}

static void child_on_timeout(cp__timer *t) {
  cp_child *c = t->data;
  c->timed_out = true;
  if (!c->exited) {
    cp__child_kill_for_limit(c);
    return;
  }
  /* It exited, but something it started still holds stdout/stderr open: the time is up, stop
   * waiting for them. */
  end_outputs(c);
  child_maybe_free(c);
}

/* The process started but what goes with it (its channel) could not be set up: it is not the child
 * that was asked for. It is killed, and reported as a failure to start: on_error with `code`, then
 * on_close once it is reaped (no on_spawn, no on_exit). */
static void child_abort_start(cp_child *c, int code, const char *what) {
  cp_error e = {0};
  cp__error_setf(&e, code, 0, "spawn", NULL, "spawn %s: %s (%s)", cp_err_name(code), cp_strerror(code), what);
  set_start_error(c, &e);
  os_proc_kill(c->proc, CP_SIGKILL);
  close_stdin(c, CP_EPIPE);
  close_output(c, 1);
  close_output(c, 2);
  c->started = false;
  c->pid = 0;
}

int cp__child_start(cp_loop *loop, const cp__prepared *p, const cp_options *o, const cp_child_events *ev,
                    void *ud, cp_child **out) {
  cp_child *c = calloc(1, sizeof *c);
  if (!c) return CP_ENOMEM;
  c->loop = loop;
  c->ev = evs_get(loop, ev);
  if (!c->ev) {
    free(c);
    return CP_ENOMEM;
  }
  c->ud = ud;
  c->status = -1;
  c->kill_signal = (unsigned char)p->kill_signal;
  c->group = p->req.new_group || p->req.detached;
  c->ref = true;
  loop->refs++;
  loop->live++;
  os_stream *channel = NULL;
  cp_error err = {0};
  int rc = os_spawn(loop->os, &p->req, child_on_exit, c, &c->proc, c->pipes, &channel, &err);
  if (rc) set_start_error(c, &err);
  if (rc == 0) {
    c->started = true;
    c->pid = os_proc_pid(c->proc);
    /* Output that cannot be watched would be lost while the run looks complete: a failure to start. */
    for (int i = 1; i < 3 && c->started; i++)
      if (c->pipes[i] && (rc = os_stream_read_start(c->pipes[i], child_on_read, c)))
        child_abort_start(c, rc, "watching its output");
    if (channel && !c->started) {
      os_stream_close(channel);
    } else if (channel) {
      static const cp_channel_events chev = {child_on_message, child_on_disconnect, child_on_channel_error};
      rc = cp__channel_new(loop, channel, p->channel_mode, p->channel_max, &chev, c, false, &c->channel);
      if (rc) {
        os_stream_close(channel);
        child_abort_start(c, rc, "setting up the child's channel");
      } else {
        c->channel_open = true;
      }
    }
    bool timed = o && o->timeout_ms > 0;
    if (c->started && (timed || p->kill_after_ms > 0)) {
      if (ensure_timers(c))
        c->timers->kill_after_ms = p->kill_after_ms;
      else
        child_abort_start(c, CP_ENOMEM, "its timers");
    }
    if (c->started && timed)
      cp__timer_start(loop, &c->timers->timeout, (uint64_t)o->timeout_ms, child_on_timeout, c);
  }
  queue_event(c, PENDING_START);
  *out = c;
  return 0;
}

int cp_spawn(cp_loop *loop, const char *file, const char *const *args, const cp_options *options,
             const cp_child_events *events, void *ud, cp_child **out) {
  if (out) *out = NULL;
  if (!loop || !out) return CP_EINVAL;
  cp__prepared p;
  int rc = cp__prepare(&p, file, args, NULL, options, NULL, NULL);
  if (rc == 0) rc = cp__child_start(loop, &p, options, events, ud, out);
  cp__prepared_free(&p);
  return rc;
}

int64_t cp_child_pid(const cp_child *c) { return c ? c->pid : 0; }
bool cp_child_exited(const cp_child *c) { return c && c->exited; }
bool cp_child_killed(const cp_child *c) { return c && c->killed; }
bool cp_child_timed_out(const cp_child *c) { return c && c->timed_out; }
const cp_error *cp__child_start_error(const cp_child *c) {
  return c->start_error ? c->start_error : &no_error;
}

/* As Node: a kill that fails for another reason than "already gone" (or an invalid signal, which
 * Node throws) is also an 'error' event. */
static int kill_result(cp_child *c, int rc, int signum) {
  if (rc == 0 && signum) c->killed = true;
  if (rc && rc != CP_ESRCH && rc != CP_EINVAL) { /* an invalid signal is only returned, as Node throws */
    cp_error err = {0};
    cp__error_setf(&err, rc, 0, "kill", NULL, "kill %s: could not send signal %d to %lld", cp_err_name(rc),
                   signum, (long long)c->pid);
    c->in_cb++;
    EMIT(c, on_error, &err, c->ud);
    c->in_cb--;
    cp__error_clear(&err);
  }
  return rc;
}

int cp_child_kill(cp_child *c, int signum) {
  if (!c || signum < 0) return CP_EINVAL;
  if (!c->started || c->exited) return CP_ESRCH;
  return kill_result(c, os_proc_kill(c->proc, signum), signum);
}

int cp_child_kill_tree(cp_child *c, int signum) {
  if (!c || signum < 0) return CP_EINVAL;
  if (!c->started) return CP_ESRCH;
  if (!c->group) return CP_EINVAL;
  return kill_result(c, os_proc_kill_tree(c->proc, signum), signum);
}

static void child_on_written(os_stream *s, void *data, int status) {
  write_req *r = data;
  cp_child *c = r->c;
  (void)s;
  if (r->prev)
    r->prev->next = r->next;
  else
    c->wq = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    c->wq_tail = r->prev;
  c->wq_bytes -= r->len;
  c->in_cb++;
  if (r->cb && !c->freed) r->cb(c, status, r->ud);
  free(r->copy);
  free(r);
  if (status)
    close_stdin(c, status);
  else if (c->ending && !c->wq)
    close_stdin(c, CP_EPIPE);
  c->in_cb--;
  child_maybe_free(c);
}

static int child_write(cp_child *c, const void *buf, size_t len, cp_write_cb cb, void *ud, bool copy) {
  if (!c || (!buf && len)) return CP_EINVAL;
  if (!c->pipes[0] || c->ending) return CP_EPIPE;
  write_req *r = calloc(1, sizeof *r);
  if (!r) return CP_ENOMEM;
  r->c = c;
  r->cb = cb;
  r->ud = ud;
  r->len = len;
  const void *data = buf;
  if (copy && len) {
    r->copy = malloc(len);
    if (!r->copy) {
      free(r);
      return CP_ENOMEM;
    }
    memcpy(r->copy, buf, len);
    data = r->copy;
  }
  int rc = os_stream_write(c->pipes[0], data, len, child_on_written, r);
  if (rc) {
    free(r->copy);
    free(r);
    return rc;
  }
  r->prev = c->wq_tail;
  if (c->wq_tail)
    c->wq_tail->next = r;
  else
    c->wq = r;
  c->wq_tail = r;
  c->wq_bytes += len;
  return 0;
}

int cp_child_write(cp_child *c, const void *buf, size_t len, cp_write_cb cb, void *ud) {
  return child_write(c, buf, len, cb, ud, true);
}

int cp__child_write_nocopy(cp_child *c, const void *buf, size_t len, cp_write_cb cb, void *ud) {
  return child_write(c, buf, len, cb, ud, false);
}

size_t cp_child_write_queue_size(const cp_child *c) { return c ? c->wq_bytes : 0; }

int cp_child_end(cp_child *c) {
  if (!c) return CP_EINVAL;
  if (!c->pipes[0]) return c->ending ? 0 : CP_EPIPE;
  c->ending = true;
  if (!c->wq) close_stdin(c, CP_EPIPE);
  return 0;
}

int cp_child_close_output(cp_child *c, int fd) {
  if (!c || (fd != 1 && fd != 2)) return CP_EINVAL;
  if (!c->pipes[fd]) return CP_EPIPE;
  c->in_cb++;
  end_output(c, fd);
  c->in_cb--;
  check_close(c);
  child_maybe_free(c);
  return 0;
}

int cp_child_pause(cp_child *c, int fd) {
  if (!c || (fd != 1 && fd != 2)) return CP_EINVAL;
  if (!c->pipes[fd]) return CP_EPIPE;
  os_stream_read_stop(c->pipes[fd]);
  return 0;
}

int cp_child_resume(cp_child *c, int fd) {
  if (!c || (fd != 1 && fd != 2)) return CP_EINVAL;
  if (!c->pipes[fd]) return CP_EPIPE;
  return os_stream_read_start(c->pipes[fd], child_on_read, c);
}

/* The channel stays reachable after it closed (until the child is freed), so a send from
 * on_disconnect or later fails with CP_EPIPE as the header says, not CP_EINVAL. */
cp_channel *cp_child_channel(cp_child *c) { return c ? c->channel : NULL; }

void cp_child_ref(cp_child *c) {
  if (!c || c->ref || c->closed) return;
  c->ref = true;
  c->loop->refs++;
}

void cp_child_unref(cp_child *c) {
  if (c) child_unref_internal(c);
}

void cp_child_free(cp_child *c) {
  if (!c || c->freed) return;
  c->freed = true;
  /* Not closed yet: the loop still has to reap it, so it stays referenced until it closes. */
  if (!c->closed && !c->ref) {
    c->ref = true;
    c->loop->refs++;
  }
  child_maybe_free(c);
}
