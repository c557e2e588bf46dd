/* pool.c - the worker pool on the request layer (request.c): queue, dispatch, crash restart and
 * requeue, task timeouts, recycling, start back-off, drain and cancel. Platform-free: the OS is
 * reached through os.h only. */
#include "request.h"
#include "channel.h"
#include "loop.h"
#include "pool_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct worker worker;

typedef struct task {
  struct task *next, *prev; /* in the queue, or in a worker's running/lost list */
  cp_pool *pool;
  worker *w; /* the worker running it, NULL while queued */
  cp_reply_cb cb;
  void *ud;
  unsigned attempts;
  bool timed_out;
  cp__timer timer; /* task_timeout_ms */
  size_t len;
  char json[];
} task;

typedef struct task_list {
  task *head, *tail;
  size_t n;
} task_list;

typedef enum worker_state { W_STARTING, W_READY, W_STOPPING } worker_state;

struct worker {
  cp_pool *pool;
  worker *next, *prev;
  cp_child *c;
  cp_channel *ch;
  worker_state state;
  task_list running; /* sent, waiting for the reply */
  task_list lost;    /* the channel closed under them: settled when the worker's exit is known */
  uint64_t done;     /* tasks it answered */
  bool replied;      /* answered at least once */
  bool asked;        /* we told it to stop (disconnect or kill): its exit is no crash */
  bool timeout_kill; /* killed because a task passed its time */
  cp__timer grace;
  cp_error start_error;
};

struct cp_pool {
  cp_loop *loop;
  /* options, defaulted and copied */
  unsigned target, max_in_flight, max_start_failures;
  size_t max_queue;
  cp_pool_full full;
  unsigned max_retries;
  uint64_t task_timeout, max_tasks, max_rss, delay0, delay_max;
  int64_t grace; /* < 0: SIGKILL at once */
  char *worker_name, *file;
  char **args;
  cp_options o;
  char **o_env;
  void (*on_error)(cp_pool *p, const cp_error *err, void *ud);
  void *ud;

  task_list queue;
  worker *workers;
  unsigned alive;  /* worker processes not yet closed */
  unsigned active; /* of those, starting or ready (not stopping) */
  cp_pool_stats st;
  cp__timer restart;
  bool restart_ref;  /* the restart timer holds a loop reference */
  bool backoff_over; /* the back-off delay passed: the next start may go */
  bool broken;
  int broken_code;
  char broken_msg[320];
  bool shutting;
  cp_pool_shutdown_mode mode;
  cp_pool_done_cb done;
  void *done_ud;
  bool done_called;
  bool freed;
  bool checking, recheck; /* pool_check() is running / must run again */
  int in_cb;              /* pool code on the stack: cp_pool_free() waits until it is 0 */
};

static void list_push(task_list *l, task *t, bool front) {
  t->prev = t->next = NULL;
  if (!l->head) {
    l->head = l->tail = t;
  } else if (front) {
    t->next = l->head;
    l->head->prev = t;
    l->head = t;
  } else {
    t->prev = l->tail;
    l->tail->next = t;
    l->tail = t;
  }
  l->n++;
}

static void list_remove(task_list *l, task *t) {
  if (t->prev)
    t->prev->next = t->next;
  else
    l->head = t->next;
  if (t->next)
    t->next->prev = t->prev;
  else
    l->tail = t->prev;
  t->next = t->prev = NULL;
  l->n--;
}

static task *list_pop(task_list *l) {
  task *t = l->head;
  if (t) list_remove(l, t);
  return t;
}

static void pool_check(cp_pool *p);
static void pool_really_free(cp_pool *p);

/* Runs a user callback of the pool; the pool may be freed inside it (then only later). */
static void task_finish(cp_pool *p, task *t, cp_reply *rep) {
  rep->attempts = t->attempts;
  if (rep->code == CP_OK && rep->result)
    p->st.succeeded++;
  else if (rep->code == CP_OK)
    p->st.errored++;
  else
    p->st.failed++;
  if (rep->code == CP_ECANCELED) p->st.canceled++;
  cp__timer_stop(p->loop, &t->timer);
  p->in_cb++;
  t->cb(rep, t->ud);
  p->in_cb--;
  free(t);
}

static void task_fail(cp_pool *p, task *t, int code, int64_t status, int sig, const char *why) {
  cp_reply rep = {.code = code, .error = why, .error_len = strlen(why), .exit_status = status, .signal = sig};
  task_finish(p, t, &rep);
}

/* ---- workers ---- */

static void worker_on_spawn(cp_child *c, void *ud);
static void worker_on_error(cp_child *c, const cp_error *err, void *ud);
static void worker_on_close(cp_child *c, int64_t status, int sig, void *ud);

static const cp_child_events worker_events = {
    .on_spawn = worker_on_spawn, .on_error = worker_on_error, .on_close = worker_on_close};

static void worker_on_bad_message(cp_channel *ch, cp_bad_message kind, const char *msg, size_t len,
                                  void *ud) {
  (void)ch, (void)kind, (void)msg, (void)len;
  worker *w = ud;
  w->pool->st.bad_messages++;
}

static int pool_start_worker(cp_pool *p) {
  worker *w = calloc(1, sizeof *w);
  int rc = CP_ENOMEM;
  if (w) {
    w->pool = p;
    w->state = W_STARTING;
    const char *const *args = (const char *const *)p->args;
    rc = p->worker_name ? cp_fork_worker(p->loop, p->worker_name, args, &p->o, &worker_events, w, &w->c)
                        : cp_fork(p->loop, p->file, args, &p->o, &worker_events, w, &w->c);
  }
  if (rc) {
    /* Refused before any process existed (out of memory, no path to this executable...): a start
     * failure like any other, so the back-off and the limit apply. */
    free(w);
    p->st.start_failures++;
    p->broken_code = rc;
    snprintf(p->broken_msg, sizeof p->broken_msg, "pool: cannot start a worker: %s", cp_strerror(rc));
    return rc;
  }
  w->ch = cp_child_channel(w->c);
  if (w->ch) cp_channel_on_bad_message(w->ch, worker_on_bad_message, w);
  w->next = p->workers;
  if (p->workers) p->workers->prev = w;
  p->workers = w;
  p->alive++;
  p->active++;
  p->st.workers_started++;
  return 0;
}

static void worker_on_grace(cp__timer *t) {
  worker *w = t->data;
  cp_child_kill(w->c, CP_SIGKILL);
}

/* Tells a worker to go: disconnect (it exits once its loop is idle), SIGKILL after the grace. */
static void worker_stop(worker *w) {
  cp_pool *p = w->pool;
  if (w->asked) return;
  w->asked = true;
  if (w->state != W_STOPPING) p->active--;
  w->state = W_STOPPING;
  if (w->ch && cp_channel_connected(w->ch)) cp_channel_disconnect(w->ch);
  if (p->grace < 0)
    cp_child_kill(w->c, CP_SIGKILL);
  else
    cp__timer_start(p->loop, &w->grace, (uint64_t)p->grace, worker_on_grace, w);
}

static void task_on_timeout(cp__timer *tm) {
  task *t = tm->data;
  worker *w = t->w;
  cp_pool *p = t->pool;
  t->timed_out = true;
  p->st.timeouts++;
  if (!w || w->timeout_kill) return;
  w->timeout_kill = true;
  if (w->state != W_STOPPING) p->active--;
  w->state = W_STOPPING;
  if (p->grace < 0) {
    cp_child_kill(w->c, CP_SIGKILL);
  } else {
    int sig = p->o.kill_signal ? p->o.kill_signal : CP_SIGTERM;
    cp_child_terminate(w->c, sig, (uint64_t)p->grace);
  }
  pool_check(p); /* a replacement starts now, not when this one is gone */
}

static void task_on_reply(const cp_reply *rep, void *ud) {
  task *t = ud;
  worker *w = t->w;
  cp_pool *p = t->pool;
  list_remove(&w->running, t);
  p->st.in_flight--;
  if (rep->code == CP_EPIPE) {
    /* The worker is going: settle the task once its exit status is known (worker_on_close). */
    cp__timer_stop(p->loop, &t->timer);
    list_push(&w->lost, t, false);
    return;
  }
  t->w = NULL;
  if (rep->code == CP_OK) {
    w->done++;
    w->replied = true;
    p->st.start_failures = 0;
  }
  cp_reply copy = *rep;
  p->in_cb++;
  task_finish(p, t, &copy);
  if (!p->freed && w->state == W_READY && !w->asked) {
    bool recycle = p->max_tasks && w->done >= p->max_tasks;
    uint64_t rss = 0;
    if (!recycle && p->max_rss && os_proc_rss(cp_child_pid(w->c), &rss) == 0 && rss > p->max_rss)
      recycle = true;
    if (recycle) {
      p->st.recycled++;
      w->state = W_STOPPING; /* no more tasks; disconnected once its last one is answered */
      p->active--;
    }
  }
  if (!p->freed && w->state == W_STOPPING && !w->asked && !w->timeout_kill && w->running.n == 0)
    worker_stop(w);
  p->in_cb--;
  pool_check(p);
}

static void worker_send(worker *w, task *t) {
  cp_pool *p = w->pool;
  t->w = w;
  t->attempts++;
  int rc = cp_channel_request(w->ch, t->json, t->len, task_on_reply, t);
  if (rc) {
    t->w = NULL;
    t->attempts--;
    if (rc == CP_EPIPE) {
      /* The channel is closing under us (its close follows): back in front, for another worker. */
      list_push(&p->queue, t, true);
      p->st.queued++;
      if (w->state != W_STOPPING) {
        w->state = W_STOPPING;
        p->active--;
      }
    } else if (rc == CP_ENOMEM) {
      /* Sending it again at once would fail again, to the same worker: the task ends here. */
      task_fail(p, t, rc, -1, 0, "out of memory sending the task to a worker");
    } else {
      task_fail(p, t, rc, -1, 0, "the worker's channel refused the task");
    }
    return;
  }
  list_push(&w->running, t, false);
  p->st.in_flight++;
  if (p->task_timeout) cp__timer_start(p->loop, &t->timer, p->task_timeout, task_on_timeout, t);
}

static void worker_on_spawn(cp_child *c, void *ud) {
  worker *w = ud;
  (void)c;
  if (w->state == W_STARTING) w->state = W_READY;
  pool_check(w->pool);
}

static void worker_on_error(cp_child *c, const cp_error *err, void *ud) {
  worker *w = ud;
  if (cp_child_pid(c) == 0 && w->start_error.code == CP_OK) {
    w->start_error.code = err->code;
    memcpy(w->start_error.message, err->message, sizeof w->start_error.message);
  }
}

static void describe_exit(char *buf, size_t n, int64_t status, int sig, unsigned attempts, bool timed_out) {
  const char *name = sig ? cp_signal_name(sig) : NULL;
  const char *why = timed_out ? "the task timed out; its worker " : "the worker running the task ";
  if (sig && name)
    snprintf(buf, n, "%swas killed by %s (%u attempt%s)", why, name, attempts, attempts == 1 ? "" : "s");
  else if (sig)
    snprintf(buf, n, "%swas killed by signal %d (%u attempt%s)", why, sig, attempts,
             attempts == 1 ? "" : "s");
  else
    snprintf(buf, n, "%sexited with status %lld (%u attempt%s)", why, (long long)status, attempts,
             attempts == 1 ? "" : "s");
}

/* A task whose worker went away under it: requeue it in front, or fail it. */
static void task_settle_lost(cp_pool *p, task *t, int64_t status, int sig) {
  t->w = NULL;
  if (p->shutting && p->mode == CP_POOL_CANCEL) {
    task_fail(p, t, CP_ECANCELED, status, sig, "canceled: the pool was shut down");
    return;
  }
  if (t->attempts <= p->max_retries && !p->broken) {
    t->timed_out = false;
    p->st.retries++;
    list_push(&p->queue, t, true);
    p->st.queued++;
    return;
  }
  char why[200];
  describe_exit(why, sizeof why, status, sig, t->attempts, t->timed_out);
  if (p->broken && t->attempts <= p->max_retries)
    task_fail(p, t, p->broken_code, status, sig, p->broken_msg);
  else
    task_fail(p, t, t->timed_out ? CP_ETIMEDOUT : CP_ECHILDFAILED, status, sig, why);
}

static void restart_ref(cp_pool *p, bool on) {
  if (on == p->restart_ref) return;
  p->restart_ref = on;
  p->loop->refs += on ? 1 : -1;
}

static void pool_on_restart(cp__timer *t) {
  cp_pool *p = t->data;
  restart_ref(p, false);
  p->backoff_over = true;
  pool_check(p);
}

static void pool_give_up(cp_pool *p) {
  p->broken = true;
  p->st.broken = true;
  cp_error err = {0};
  cp__error_setf(&err, p->broken_code, 0, "spawn", NULL, "%s", p->broken_msg);
  p->in_cb++;
  task *t;
  while (!p->freed && (t = list_pop(&p->queue))) {
    p->st.queued--;
    task_fail(p, t, p->broken_code, -1, 0, p->broken_msg);
  }
  if (!p->freed && p->on_error) p->on_error(p, &err, p->ud);
  p->in_cb--;
  cp__error_clear(&err);
}

static void worker_on_close(cp_child *c, int64_t status, int sig, void *ud) {
  worker *w = ud;
  cp_pool *p = w->pool;
  cp__timer_stop(p->loop, &w->grace);
  if (w->prev)
    w->prev->next = w->next;
  else
    p->workers = w->next;
  if (w->next) w->next->prev = w->prev;
  p->alive--;
  if (w->state != W_STOPPING) p->active--;
  bool crashed = !w->asked;
  if (crashed) {
    p->st.crashes++;
    if (!w->replied) { /* while draining too: unstartable workers must not keep a drain going */
      p->st.start_failures++;
      if (w->start_error.code) {
        p->broken_code = w->start_error.code;
        snprintf(p->broken_msg, sizeof p->broken_msg, "pool: workers fail to start: %s",
                 w->start_error.message);
      } else {
        p->broken_code = CP_ECHILDFAILED;
        char how[64];
        if (sig)
          snprintf(how, sizeof how, "killed by %s", cp_signal_name(sig) ? cp_signal_name(sig) : "a signal");
        else
          snprintf(how, sizeof how, "exited with status %lld", (long long)status);
        snprintf(p->broken_msg, sizeof p->broken_msg, "pool: workers die before replying (last %s)", how);
      }
    }
  }
  p->in_cb++;
  task *t;
  /* Tasks still marked running had no CP_EPIPE (the channel was never set up): lost as well. */
  while ((t = list_pop(&w->running))) {
    p->st.in_flight--;
    cp__timer_stop(p->loop, &t->timer);
    list_push(&w->lost, t, false);
  }
  if (!p->freed && p->st.start_failures >= p->max_start_failures && !p->broken && crashed) pool_give_up(p);
  while (!p->freed && (t = list_pop(&w->lost))) task_settle_lost(p, t, status, sig);
  if (p->freed) { /* the pool went inside a callback: the remaining tasks go without theirs */
    while ((t = list_pop(&w->lost))) free(t);
  }
  cp__error_clear(&w->start_error);
  cp_child_free(c);
  free(w);
  p->in_cb--;
  pool_check(p);
}

static void pool_fill(cp_pool *p) {
  if (p->broken || p->restart.active) return;
  if (p->shutting && (p->mode == CP_POOL_CANCEL || p->queue.n == 0)) return;
  unsigned want = p->target;
  if (p->shutting && p->queue.n < want) want = (unsigned)p->queue.n;
  while (p->active < want && !p->broken) {
    if (p->st.start_failures > 0 && !p->backoff_over) {
      /* Back off: delay0 doubling per consecutive failure, at most delay_max; then one start. */
      uint64_t d = p->delay0;
      for (unsigned i = 1; i < p->st.start_failures && d < p->delay_max; i++) d *= 2;
      if (d > p->delay_max) d = p->delay_max;
      restart_ref(p, true);
      cp__timer_start(p->loop, &p->restart, d, pool_on_restart, p);
      return;
    }
    p->backoff_over = false;
    unsigned before = p->active;
    bool replacing = p->st.workers_started >= p->target;
    pool_start_worker(p);
    if (p->active == before) { /* refused at once: a start failure, retried after a delay */
      if (p->st.start_failures >= p->max_start_failures) pool_give_up(p);
    } else if (replacing) {
      p->st.restarts++;
    }
  }
}

static worker *pool_pick(cp_pool *p) {
  worker *best = NULL;
  for (worker *w = p->workers; w; w = w->next)
    if (w->state == W_READY && w->running.n < p->max_in_flight && (!best || w->running.n < best->running.n))
      best = w;
  return best;
}

/* After every event: cancel or drain when shutting down, keep the worker count, hand out tasks, and
 * report the end of a shutdown. */
static void pool_check(cp_pool *p) {
  if (p->checking) { /* called from a callback this check runs: go round once more */
    p->recheck = true;
    return;
  }
  if (p->freed) {
    if (!p->in_cb) pool_really_free(p);
    return;
  }
  p->checking = true;
  p->in_cb++;
  do {
    p->recheck = false;
    if (p->shutting && p->mode == CP_POOL_CANCEL) {
      task *t;
      while (!p->freed && (t = list_pop(&p->queue))) {
        p->st.queued--;
        task_fail(p, t, CP_ECANCELED, -1, 0, "canceled: the pool was shut down");
      }
    }
    if (!p->freed) pool_fill(p);
    worker *w;
    while (!p->freed && p->queue.n && (w = pool_pick(p))) {
      task *t = list_pop(&p->queue);
      p->st.queued--;
      worker_send(w, t);
    }
    if (!p->freed && p->shutting) {
      bool drained = p->mode == CP_POOL_CANCEL || p->queue.n == 0;
      for (w = p->workers; w && drained; w = w->next)
        if (!w->asked && (p->mode == CP_POOL_CANCEL || w->running.n == 0)) worker_stop(w);
      if (p->mode == CP_POOL_CANCEL || p->queue.n == 0) {
        cp__timer_stop(p->loop, &p->restart);
        restart_ref(p, false);
      }
      if (!p->workers && p->queue.n == 0 && !p->done_called) {
        p->done_called = true;
        if (p->done) p->done(p, p->done_ud);
      }
    }
  } while (p->recheck && !p->freed);
  p->in_cb--;
  p->checking = false;
  if (p->freed && !p->in_cb) pool_really_free(p);
}

/* ---- the public side ---- */

static void free_strv(char **v) {
  for (size_t i = 0; v && v[i]; i++) free(v[i]);
  free(v);
}

static int copy_strv(const char *const *v, char ***out) {
  *out = NULL;
  if (!v) return 0;
  size_t n = 0;
  while (v[n]) n++;
  char **c = calloc(n + 1, sizeof *c);
  if (!c) return CP_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    if (!(c[i] = cp__strdup(v[i]))) {
      free_strv(c);
      return CP_ENOMEM;
    }
  }
  *out = c;
  return 0;
}

static void pool_release(cp_pool *p) {
  free(p->worker_name);
  free(p->file);
  free_strv(p->args);
  free((char *)p->o.cwd);
  free((char *)p->o.argv0);
  free((char *)p->o.shell);
  free_strv(p->o_env);
  free(p);
}

int cp_pool_new(cp_loop *loop, const cp_pool_options *opt, cp_pool **out) {
  if (out) *out = NULL;
  if (!loop || !opt || !out) return CP_EINVAL;
  bool by_name = opt->worker_name && *opt->worker_name, by_file = opt->file && *opt->file;
  if (by_name == by_file) return CP_EINVAL;
  if (opt->options.channel == CP_CHANNEL_BINARY) return CP_EINVAL;
  if (opt->max_retries < 0 && opt->max_retries != CP_POOL_NO_RETRY) return CP_EINVAL;
  if (opt->full != CP_POOL_FULL_FAIL && opt->full != CP_POOL_FULL_WAIT) return CP_EINVAL;
  if (opt->max_worker_rss) {
    uint64_t b;
    int rc = os_proc_rss(0, &b);
    if (rc) return rc;
  }
  cp_pool *p = calloc(1, sizeof *p);
  if (!p) return CP_ENOMEM;
  p->loop = loop;
  p->target = opt->workers ? opt->workers : os_cpu_count();
  p->max_in_flight = opt->max_in_flight ? opt->max_in_flight : 1;
  p->max_queue = opt->max_queue ? opt->max_queue : 10000;
  p->full = opt->full;
  p->max_retries = opt->max_retries == CP_POOL_NO_RETRY ? 0
                   : opt->max_retries == 0              ? 1
                                                        : (unsigned)opt->max_retries;
  p->task_timeout = opt->task_timeout_ms;
  p->max_tasks = opt->max_tasks_per_worker;
  p->max_rss = opt->max_worker_rss;
  p->grace = opt->kill_after_ms == 0 ? 2000 : opt->kill_after_ms;
  p->delay0 = opt->restart_delay_ms ? opt->restart_delay_ms : 50;
  p->delay_max = opt->restart_delay_max_ms ? opt->restart_delay_max_ms : 2000;
  if (p->delay_max < p->delay0) p->delay_max = p->delay0;
  p->max_start_failures = opt->max_start_failures ? opt->max_start_failures : 5;
  p->on_error = opt->on_error;
  p->ud = opt->ud;
  p->o = opt->options;
  p->o.channel = CP_CHANNEL_JSON;
  p->o.input = NULL;
  p->o.input_len = 0;
  p->o.cwd = NULL, p->o.argv0 = NULL, p->o.shell = NULL, p->o.env = NULL;
  int rc = 0;
  if ((opt->options.cwd && !(p->o.cwd = cp__strdup(opt->options.cwd))) ||
      (opt->options.argv0 && !(p->o.argv0 = cp__strdup(opt->options.argv0))) ||
      (opt->options.shell && !(p->o.shell = cp__strdup(opt->options.shell))) ||
      (by_name && !(p->worker_name = cp__strdup(opt->worker_name))) ||
      (by_file && !(p->file = cp__strdup(opt->file))))
    rc = CP_ENOMEM;
  if (rc == 0) rc = copy_strv(opt->options.env, &p->o_env);
  if (rc == 0) rc = copy_strv(opt->args, &p->args);
  if (rc) {
    pool_release(p);
    return rc;
  }
  p->o.env = (const char *const *)p->o_env;
  /* The first worker starts here, so that options cp_fork() refuses (CP_EINVAL) fail this call
   * instead of every restart. */
  rc = pool_start_worker(p);
  if (rc == CP_EINVAL) {
    pool_release(p);
    return rc;
  }
  *out = p;
  pool_check(p);
  return 0;
}

static int pool_wait_for_room(cp_pool *p) {
  /* The loop cannot be re-entered from inside its own callbacks. */
  if (p->loop->running) return CP_EAGAIN;
  p->in_cb++; /* a cp_pool_free() from a callback waits until we are out */
  int rc = 0;
  while (p->queue.n >= p->max_queue && !p->freed && !p->broken && !p->shutting) {
    rc = cp__loop_run_once(p->loop, true);
    if (rc) break;
  }
  p->in_cb--;
  if (p->freed) {
    pool_check(p);
    return CP_EPIPE;
  }
  if (rc) return rc;
  if (p->broken) return p->broken_code;
  if (p->shutting) return CP_EPIPE;
  return 0;
}

int cp_pool_submit(cp_pool *p, const char *json, size_t len, cp_reply_cb cb, void *ud) {
  if (!p || !json || !cb || p->freed) return CP_EINVAL;
  cp__json_members m;
  if (cp__json_members_of(json, len, &m) != CP__JSON_OK || m.id.p) return CP_EINVAL;
  if (p->shutting) return CP_EPIPE;
  if (p->broken) return p->broken_code;
  if (p->queue.n >= p->max_queue) {
    if (p->full != CP_POOL_FULL_WAIT) return CP_EAGAIN;
    int rc = pool_wait_for_room(p);
    if (rc) return rc;
  }
  task *t = calloc(1, sizeof *t + len + 1);
  if (!t) return CP_ENOMEM;
  t->pool = p;
  t->cb = cb;
  t->ud = ud;
  t->len = len;
  t->timer.data = t;
  memcpy(t->json, json, len);
  list_push(&p->queue, t, false);
  p->st.queued++;
  p->st.submitted++;
  pool_check(p);
  return 0;
}

int cp_pool_shutdown(cp_pool *p, cp_pool_shutdown_mode mode, cp_pool_done_cb done, void *ud) {
  if (!p || p->freed || (mode != CP_POOL_DRAIN && mode != CP_POOL_CANCEL)) return CP_EINVAL;
  if (!p->shutting) {
    p->shutting = true;
    p->st.shutting_down = true;
    p->mode = mode;
    p->done = done;
    p->done_ud = ud;
  } else if (mode == CP_POOL_CANCEL) {
    p->mode = CP_POOL_CANCEL;
  }
  pool_check(p);
  return 0;
}

int cp_pool_stats_get(const cp_pool *p, cp_pool_stats *out) {
  if (!p || !out) return CP_EINVAL;
  *out = p->st;
  out->workers = p->alive;
  return 0;
}

static void pool_really_free(cp_pool *p) {
  cp__timer_stop(p->loop, &p->restart);
  restart_ref(p, false);
  task *t;
  while ((t = list_pop(&p->queue))) free(t);
  while (p->workers) {
    worker *w = p->workers;
    p->workers = w->next;
    cp__timer_stop(p->loop, &w->grace);
    cp__request_forget(w->ch);
    cp_child_kill(w->c, CP_SIGKILL);
    /* Its channel (and the requests pending on it, which point at these tasks) goes with the
     * child, without callbacks. */
    cp_child_free(w->c);
    while ((t = list_pop(&w->running))) {
      cp__timer_stop(p->loop, &t->timer);
      free(t);
    }
    while ((t = list_pop(&w->lost))) free(t);
    cp__error_clear(&w->start_error);
    free(w);
  }
  pool_release(p);
}

void cp_pool_free(cp_pool *p) {
  if (!p || p->freed) return;
  p->freed = true;
  if (!p->in_cb) pool_really_free(p);
}
