/* offload - run a long computation in a forked worker while the main loop stays responsive.
 *
 * The guides' example is an HTTP server that forks a child for a slow sum so requests keep being
 * served; this version has no HTTP: a timer ticks every 50 ms in the parent while the worker (a
 * function of this same executable) sums 1..N, and the parent prints how many ticks it served before
 * the answer came back. */
#include <childproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void worker_on_message(cp_channel *ch, const char *msg, size_t len, void *ud) {
  (void)ud;
  char buf[64];
  snprintf(buf, sizeof buf, "%.*s", (int)(len < 63 ? len : 63), msg);
  const char *p = strstr(buf, "\"n\":");
  unsigned long long n = p ? strtoull(p + 4, NULL, 10) : 0, sum = 0;
  for (unsigned long long i = 1; i <= n; i++) sum += i % 1000003; /* deliberately slow */
  int k = snprintf(buf, sizeof buf, "{\"sum\":%llu}", sum);
  cp_channel_send(ch, buf, (size_t)k, NULL, NULL);
}

static int sum_worker(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  cp_channel_events ev = {.on_message = worker_on_message};
  cp_channel_set_events(ch, &ev, NULL);
  return 0;
}

typedef struct app {
  cp_timer *tick;
  int ticks;
  bool answered;
} app;

static void on_tick(cp_timer *t, void *ud) {
  (void)t;
  app *a = ud;
  a->ticks++;
  printf("tick %d: the main loop is free\n", a->ticks);
  fflush(stdout);
}

static void on_message(cp_child *c, const char *msg, size_t len, void *ud) {
  app *a = ud;
  printf("worker answered %.*s after %d ticks\n", (int)len, msg, a->ticks);
  a->answered = true;
  cp_timer_free(a->tick);
  cp_channel_disconnect(cp_child_channel(c));
}

int main(int argc, char **argv) {
  static const cp_worker_def workers[] = {{"sum", sum_worker, NULL}};
  int status;
  if (cp_worker_main(argc, argv, workers, 1, &status)) return status;

  cp_loop *loop;
  if (cp_loop_new(&loop)) return 1;
  app a = {0};
  cp_child_events ev = {.on_message = on_message};
  cp_child *child;
  if (cp_fork_worker(loop, "sum", NULL, NULL, &ev, &a, &child)) return 1;
  cp_channel_send(cp_child_channel(child), "{\"n\":600000000}", 15, NULL, NULL);
  cp_timer_new(loop, &a.tick);
  cp_timer_start(a.tick, 50, 50, on_tick, &a);
  cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(child);
  cp_loop_free(loop);
  return a.answered ? 0 : 1;
}
