/* timer.c - the public timers (setTimeout/setInterval) on the loop's timer heap. */
#include "internal.h"
#include "loop.h"

#include <stdlib.h>

struct cp_timer {
  cp_loop *loop;
  cp__timer t;
  uint64_t repeat;
  cp_timer_cb cb;
  void *ud;
  bool counted; /* in loop->refs while active */
  bool in_cb, freed;
};

static void timer_ref(cp_timer *t, bool on) {
  if (on == t->counted) return;
  t->counted = on;
  t->loop->refs += on ? 1 : -1;
}

static void timer_fire(cp__timer *it) {
  cp_timer *t = it->data;
  if (t->repeat)
    cp__timer_start(t->loop, &t->t, t->repeat, timer_fire, t);
  else
    timer_ref(t, false);
  t->in_cb = true;
  t->cb(t, t->ud);
  t->in_cb = false;
  if (t->freed) free(t);
}

int cp_timer_new(cp_loop *loop, cp_timer **out) {
  if (!loop || !out) return CP_EINVAL;
  cp_timer *t = calloc(1, sizeof *t);
  if (!t) return CP_ENOMEM;
  t->loop = loop;
  loop->live++;
  *out = t;
  return 0;
}

int cp_timer_start(cp_timer *t, uint64_t timeout_ms, uint64_t repeat_ms, cp_timer_cb cb, void *ud) {
  if (!t || !cb || t->freed) return CP_EINVAL;
  t->cb = cb;
  t->ud = ud;
  t->repeat = repeat_ms;
  cp__timer_start(t->loop, &t->t, timeout_ms, timer_fire, t);
  timer_ref(t, true);
  return 0;
}

int cp_timer_stop(cp_timer *t) {
  if (!t) return CP_EINVAL;
  cp__timer_stop(t->loop, &t->t);
  timer_ref(t, false);
  return 0;
}

void cp_timer_free(cp_timer *t) {
  if (!t || t->freed) return;
  cp_timer_stop(t);
  t->loop->live--;
  t->freed = true;
  if (!t->in_cb) free(t);
}
