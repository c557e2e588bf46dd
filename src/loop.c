/* loop.c - the public loop: timers, deferred calls, liveness and run modes; the waiting itself is
 * the backend's os_loop_poll(). */
#include "loop.h"
#include "internal.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>

int cp__loop_init(cp_loop *l) {
  l->timers = NULL;
  l->timer_seq = 0;
  l->defer_head = l->defer_tail = NULL;
  l->refs = l->live = l->running = 0;
  l->child_evs = NULL;
  return os_loop_new(&l->os);
}

void cp__loop_close(cp_loop *l) {
  if (l->os) os_loop_free(l->os);
  l->os = NULL;
  l->timers = NULL;
}

/* ---- the timers' pairing heap ---- */

static bool timer_before(const cp__timer *a, const cp__timer *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* Two heaps (roots: no prev, no sibling) into one; returns its root. */
static cp__timer *heap_meld(cp__timer *a, cp__timer *b) {
  if (!a) return b;
  if (!b) return a;
  if (timer_before(b, a)) {
    cp__timer *t = a;
    a = b;
    b = t;
  }
  b->prev = a;
  b->sibling = a->child;
  if (a->child) a->child->prev = b;
  a->child = b;
  return a;
}

/* The sibling list starting at first into one heap: meld pairs left to right, then the pairs right
 * to left (the two-pass rule that gives the pairing heap its O(log n) amortized bound). */
static cp__timer *heap_merge_pairs(cp__timer *first) {
  cp__timer *pairs = NULL; /* the melded pairs, last one first, linked through sibling */
  while (first) {
    cp__timer *a = first, *b = first->sibling;
    first = b ? b->sibling : NULL;
    a->prev = a->sibling = NULL;
    if (b) b->prev = b->sibling = NULL;
    cp__timer *m = heap_meld(a, b);
    m->sibling = pairs;
    pairs = m;
  }
  cp__timer *root = NULL;
  while (pairs) {
    cp__timer *next = pairs->sibling;
    pairs->sibling = NULL;
    root = heap_meld(root, pairs);
    pairs = next;
  }
  return root;
}

static void heap_remove(cp_loop *l, cp__timer *t) {
  cp__timer *kids = heap_merge_pairs(t->child);
  t->child = NULL;
  if (t == l->timers) {
    l->timers = kids;
  } else {
    if (t->prev->child == t)
      t->prev->child = t->sibling;
    else
      t->prev->sibling = t->sibling;
    if (t->sibling) t->sibling->prev = t->prev;
    l->timers = heap_meld(l->timers, kids);
  }
  t->prev = t->sibling = NULL;
}

void cp__timer_stop(cp_loop *l, cp__timer *t) {
  if (!t->active) return;
  heap_remove(l, t);
  t->active = false;
}

void cp__timer_start(cp_loop *l, cp__timer *t, uint64_t ms, cp__timer_cb cb, void *data) {
  cp__timer_stop(l, t);
  uint64_t now = os_now_ms();
  t->due = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
  t->seq = l->timer_seq++;
  t->cb = cb;
  t->data = data;
  t->active = true;
  t->child = t->sibling = t->prev = NULL;
  l->timers = heap_meld(l->timers, t);
}

void cp__defer_queue(cp_loop *l, cp__defer *d, void (*cb)(cp__defer *d), void *data) {
  d->cb = cb;
  d->data = data;
  if (d->queued) return;
  d->queued = true;
  d->next = NULL;
  if (l->defer_tail)
    l->defer_tail->next = d;
  else
    l->defer_head = d;
  l->defer_tail = d;
}

void cp__defer_cancel(cp_loop *l, cp__defer *d) {
  if (!d->queued) return;
  cp__defer *prev = NULL;
  for (cp__defer *it = l->defer_head; it; prev = it, it = it->next) {
    if (it != d) continue;
    if (prev)
      prev->next = d->next;
    else
      l->defer_head = d->next;
    if (l->defer_tail == d) l->defer_tail = prev;
    break;
  }
  d->queued = false;
  d->next = NULL;
}

static size_t run_deferred(cp_loop *l) {
  /* At most as many calls as were queued before this turn: a callback that queues again waits for
   * the next turn, so this never spins. */
  size_t n = 0, ran = 0;
  for (cp__defer *d = l->defer_head; d; d = d->next) n++;
  for (; ran < n && l->defer_head; ran++) {
    cp__defer *d = l->defer_head;
    l->defer_head = d->next;
    if (!l->defer_head) l->defer_tail = NULL;
    d->queued = false;
    d->next = NULL;
    d->cb(d);
  }
  return ran;
}

static int next_timeout(cp_loop *l) {
  if (l->defer_head || os_loop_has_pending(l->os)) return 0;
  if (!l->timers) return -1;
  uint64_t now = os_now_ms();
  if (l->timers->due <= now) return 0;
  uint64_t d = l->timers->due - now;
  return d > INT_MAX ? INT_MAX : (int)d;
}

static bool loop_alive(const cp_loop *l) { return l->refs > 0 || l->defer_head; }

int cp__loop_run_once(cp_loop *l, bool block) {
  /* Deferred calls count as this turn's events: after them, don't wait (they may also have finished
   * the last referenced thing). */
  l->running++;
  if (run_deferred(l)) block = false;
  int rc = os_loop_poll(l->os, block && loop_alive(l) ? next_timeout(l) : 0);
  if (rc) {
    l->running--;
    return rc;
  }
  uint64_t now = os_now_ms();
  while (l->timers && l->timers->due <= now) {
    cp__timer *t = l->timers;
    heap_remove(l, t);
    t->active = false;
    t->cb(t);
  }
  l->running--;
  return 0;
}

int cp_loop_new(cp_loop **out) {
  if (!out) return CP_EINVAL;
  *out = NULL;
  cp_loop *l = calloc(1, sizeof *l);
  if (!l) return CP_ENOMEM;
  int rc = cp__loop_init(l);
  if (rc) {
    free(l);
    return rc;
  }
  *out = l;
  return 0;
}

int cp_loop_free(cp_loop *l) {
  if (!l) return 0;
  if (l->live > 0 || l->defer_head) return CP_EAGAIN;
  cp__loop_close(l);
  free(l);
  return 0;
}

int cp_loop_run(cp_loop *l, cp_run_mode mode) {
  if (!l || (mode != CP_RUN_DEFAULT && mode != CP_RUN_ONCE && mode != CP_RUN_NOWAIT)) return CP_EINVAL;
  if (mode == CP_RUN_NOWAIT) {
    int rc = cp__loop_run_once(l, false);
    return rc ? rc : loop_alive(l);
  }
  if (mode == CP_RUN_ONCE) {
    if (!loop_alive(l)) return 0;
    int rc = cp__loop_run_once(l, true);
    return rc ? rc : loop_alive(l);
  }
  while (loop_alive(l)) {
    int rc = cp__loop_run_once(l, true);
    if (rc) return rc;
  }
  return 0;
}

cp_os_handle cp_loop_fd(cp_loop *l) { return l ? os_loop_handle(l->os) : CP_INVALID_HANDLE; }

int cp_loop_timeout(cp_loop *l) { return l ? next_timeout(l) : -1; }
