/* loop.h - the platform-free part of a loop: timers, deferred calls and liveness, on top of the OS
 * poller. struct cp_loop is the public cp_loop. */
#ifndef CP_LOOP_H
#define CP_LOOP_H

#include "os.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cp__timer cp__timer;
typedef void (*cp__timer_cb)(cp__timer *t);

struct cp__timer {
  uint64_t due; /* os_now_ms() time it fires at */
  cp__timer_cb cb;
  void *data;
  cp__timer *next; /* in the loop's list, sorted by due */
  bool active;
};

/* A call to make at the start of the next turn (Node's "next tick" for events that must not run
 * inside the call that caused them). */
typedef struct cp__defer cp__defer;
struct cp__defer {
  void (*cb)(cp__defer *d);
  void *data;
  cp__defer *next;
  bool queued;
};

struct cp_loop {
  os_loop *os;
  cp__timer *timers;
  cp__defer *defer_head, *defer_tail;
  int refs; /* referenced children and channels not yet closed */
  int live; /* children and channels not yet freed (cp_loop_free refuses while > 0) */
  int running; /* cp__loop_run_once calls on the stack: > 0 inside a callback of this loop */
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
