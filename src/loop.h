/* loop.h - the platform-free part of a loop: timers, deferred calls and liveness, on top of the OS
 * poller. struct cp_loop is the public cp_loop. */
#ifndef CP_LOOP_H
#define CP_LOOP_H

#include "os.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cp__timer cp__timer;
typedef void (*cp__timer_cb)(cp__timer *t);

/* Active timers form a pairing heap ordered by (due, seq): starting, stopping and firing cost
 * O(log n) amortized, however many timers (child timeouts, pool task timeouts) are active, and
 * timers due at the same millisecond fire in the order they were started. */
struct cp__timer {
  uint64_t due; /* os_now_ms() time it fires at */
  uint64_t seq; /* start order, for ties */
  cp__timer_cb cb;
  void *data;
  cp__timer *child;   /* first child in the heap */
  cp__timer *sibling; /* next sibling */
  cp__timer *prev;    /* previous sibling, or the parent for a first child; NULL for the root */
  bool active;
};

/* A call to make at the start of the next turn (Node's "next tick" for events that must not run
 * inside the call that caused them). */
typedef struct cp__defer cp__defer;
typedef struct cp__child_evs cp__child_evs;
struct cp__defer {
  void (*cb)(cp__defer *d);
  void *data;
  cp__defer *next;
  bool queued;
};

struct cp_loop {
  os_loop *os;
  cp__timer *timers; /* the heap's root: the next timer due */
  uint64_t timer_seq;
  cp__defer *defer_head, *defer_tail;
  int refs; /* referenced children and channels not yet closed */
  int live; /* children and channels not yet freed (cp_loop_free refuses while > 0) */
  int running; /* cp__loop_run_once calls on the stack: > 0 inside a callback of this loop */
  cp__child_evs *child_evs; /* the children's event sets, shared (child.c) */
};

int cp__loop_init(cp_loop *l);
void cp__loop_close(cp_loop *l);

/* Starts (or restarts) t to fire after ms milliseconds. */
void cp__timer_start(cp_loop *l, cp__timer *t, uint64_t ms, cp__timer_cb cb, void *data);
void cp__timer_stop(cp_loop *l, cp__timer *t);

/* Queues d to run at the start of the next turn (once, even if queued twice). */
void cp__defer_queue(cp_loop *l, cp__defer *d, void (*cb)(cp__defer *d), void *data);
void cp__defer_cancel(cp_loop *l, cp__defer *d);

/* One turn: the deferred calls, then waits for I/O until the next timer is due (no wait when
 * !block or when deferred calls are queued), runs the I/O callbacks, then the due timers. */
int cp__loop_run_once(cp_loop *l, bool block);

#endif /* CP_LOOP_H */
