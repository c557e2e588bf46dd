/* fork-counter - the Node guide's parent/child counter with fork(), in C.
 *
 * Node:  parent: const child = fork('child.js'); child.on('message', m => console.log(m));
 *                child.send({hello: 'world'});
 *        child:  process.on('message', m => ...); let counter = 0;
 *                setInterval(() => process.send({counter: counter++}), 100);
 *
 * Here the child is a worker function of this same executable (cp_fork_worker), so the example is
 * one file and works the same on Linux and Windows. The parent disconnects after 5 counts; the child
 * exits when it sees the disconnect. */
#include <childproc.h>

#include <stdio.h>
#include <string.h>

/* ---- the child ---- */

typedef struct counter_state {
  cp_channel *ch;
  cp_timer *tick;
  int counter;
} counter_state;

static void child_tick(cp_timer *t, void *ud) {
  counter_state *s = ud;
  (void)t;
  char msg[64];
  int n = snprintf(msg, sizeof msg, "{\"counter\":%d}", s->counter++);
  cp_channel_send(s->ch, msg, (size_t)n, NULL, NULL);
}

static void child_on_message(cp_channel *ch, const char *msg, size_t len, void *ud) {
  (void)ch, (void)ud;
  printf("  child got: %.*s\n", (int)len, msg);
  fflush(stdout);
}

static void child_on_disconnect(cp_channel *ch, void *ud) {
  counter_state *s = ud;
  (void)ch;
  cp_timer_free(s->tick); /* nothing left on the loop: the worker's process exits */
  s->tick = NULL;
}

static int counter_worker(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  static counter_state s;
  (void)argc, (void)argv, (void)ud;
  s.ch = ch;
  cp_channel_events ev = {.on_message = child_on_message, .on_disconnect = child_on_disconnect};
  cp_channel_set_events(ch, &ev, &s);
  cp_timer_new(loop, &s.tick);
  cp_timer_start(s.tick, 100, 100, child_tick, &s);
  return 0;
}

/* ---- the parent ---- */

static void parent_on_message(cp_child *c, const char *msg, size_t len, void *ud) {
  int *seen = ud;
  printf("parent got: %.*s\n", (int)len, msg);
  if (++*seen == 5) cp_channel_disconnect(cp_child_channel(c));
}

static void parent_on_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)ud;
  printf("child %lld closed: status %lld, signal %d\n", (long long)cp_child_pid(c), (long long)status, sig);
}

int main(int argc, char **argv) {
  static const cp_worker_def workers[] = {{"counter", counter_worker, NULL}};
  int status;
  if (cp_worker_main(argc, argv, workers, 1, &status)) return status;

  cp_loop *loop;
  if (cp_loop_new(&loop)) return 1;
  int seen = 0;
  cp_child_events ev = {.on_message = parent_on_message, .on_close = parent_on_close};
  cp_child *child;
  int rc = cp_fork_worker(loop, "counter", NULL, NULL, &ev, &seen, &child);
  if (rc) {
    fprintf(stderr, "fork: %s\n", cp_strerror(rc));
    return 1;
  }
  cp_channel_send(cp_child_channel(child), "{\"hello\":\"world\"}", 17, NULL, NULL);
  cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(child);
  cp_loop_free(loop);
  return seen == 5 ? 0 : 1;
}
