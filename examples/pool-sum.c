/* pool-sum - the guides' "sum" task over a worker pool that survives its workers.
 *
 *   pool-sum [--workers N] [--tasks M] [--crash-every K] [-- WORKER COMMAND...]
 *
 * Each task is {"cmd":"sum","data":[...]} with a few random integers; a worker replies
 * {"id":..,"result":<their sum>}. Without a command the workers are workers of this program; with one
 * (e.g. `-- node examples/worker.js`) they are that command. --crash-every K makes this program's own
 * workers exit with status 3 on every K-th task they receive, to show restart and requeue: the pool
 * retries a task up to 3 times, so one requeued onto a worker about to crash still completes.
 * Every result is checked; the output is one line of JSON
 *   {"tasks":M,"ok":M,"failed":0,"restarts":R,"ms":T}
 * and the exit status is 0 only when every task succeeded exactly once. */
#include <childproc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#endif

/* ---- the worker (runs in a child process) ------------------------------------------------------ */

static long crash_every;
static long received;

/* The integers of the "data" array: this worker's whole JSON needs. */
static int sum_of_data(const char *msg, size_t len, long long *sum) {
  char *copy = malloc(len + 1);
  if (!copy) return -1;
  memcpy(copy, msg, len);
  copy[len] = '\0';
  int rc = -1;
  char *p = strstr(copy, "\"data\"");
  if (p && (p = strchr(p, '['))) {
    *sum = 0;
    p++;
    for (;;) {
      while (*p == ' ' || *p == ',') p++;
      if (*p == ']') {
        rc = 0;
        break;
      }
      char *end;
      long long v = strtoll(p, &end, 10);
      if (end == p) break;
      *sum += v;
      p = end;
    }
  }
  free(copy);
  return rc;
}

static void serve_sum(cp_request *req, const char *msg, size_t len, void *ud) {
  (void)ud;
  if (crash_every && ++received % crash_every == 0) exit(3);
  long long sum;
  if (!strstr(msg, "\"cmd\":\"sum\"") || sum_of_data(msg, len, &sum)) {
    cp_request_fail(req, "expected {\"cmd\":\"sum\",\"data\":[integers]}");
    return;
  }
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lld", sum);
  cp_request_reply(req, buf, (size_t)n);
}

static int sum_worker(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)ud;
  if (!ch) return 2;
  if (argc > 1) crash_every = strtol(argv[1], NULL, 10);
  return cp_channel_serve(ch, serve_sum, NULL) ? 1 : 0;
}

static const cp_worker_def workers[] = {{"sum", sum_worker, NULL}};

/* ---- the parent -------------------------------------------------------------------------------- */

typedef struct run {
  long long *expect;
  unsigned char *done; /* replies per task: exactly one each */
  long tasks, ok, failed, twice;
  cp_pool *pool;
} run;

typedef struct slot {
  run *r;
  long i;
} slot;

static void on_result(const cp_reply *rep, void *ud) {
  slot *s = ud;
  run *r = s->r;
  if (r->done[s->i]++) {
    r->twice++;
    return;
  }
  if (rep->code == CP_OK && rep->result && strtoll(rep->result, NULL, 10) == r->expect[s->i]) {
    r->ok++;
  } else {
    r->failed++;
    if (r->failed <= 5)
      fprintf(stderr, "pool-sum: task %ld: %s\n", s->i,
              rep->code ? rep->error : rep->error ? rep->error : "wrong sum");
  }
}

static uint64_t now_ms(void) {
#ifdef _WIN32
  return (uint64_t)GetTickCount64();
#else
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
#endif
}

static int usage(void) {
  fprintf(stderr, "usage: pool-sum [--workers N] [--tasks M] [--crash-every K] [-- WORKER COMMAND...]\n");
  return 2;
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, 1, &status)) return status;

  long nworkers = 0, ntasks = 2000, crash = 0;
  char **command = NULL;
  for (int i = 1; i < argc; i += 2) { /* OPTION VALUE pairs */
    if (strcmp(argv[i], "--") == 0) {
      if (i + 1 >= argc) return usage();
      command = argv + i + 1;
      break;
    }
    if (i + 1 >= argc) return usage();
    char *end;
    long v = strtol(argv[i + 1], &end, 10);
    if (*end || v < 0) return usage();
    if (strcmp(argv[i], "--workers") == 0)
      nworkers = v;
    else if (strcmp(argv[i], "--tasks") == 0)
      ntasks = v;
    else if (strcmp(argv[i], "--crash-every") == 0)
      crash = v;
    else
      return usage();
  }

  run r = {.tasks = ntasks};
  r.expect = calloc((size_t)ntasks + 1, sizeof *r.expect);
  r.done = calloc((size_t)ntasks + 1, 1);
  slot *slots = calloc((size_t)ntasks + 1, sizeof *slots);
  if (!r.expect || !r.done || !slots) return 1;

  cp_loop *loop;
  if (cp_loop_new(&loop)) return 1;
  char crash_arg[24];
  snprintf(crash_arg, sizeof crash_arg, "%ld", crash);
  const char *self_args[] = {crash_arg, NULL};
  cp_pool_options po = {
      .workers = (unsigned)nworkers,
      .max_retries = 3,
      .full = CP_POOL_FULL_WAIT, /* submit waits for room: the queue stays bounded */
  };
  if (command) {
    po.file = command[0];
    po.args = (const char *const *)command + 1;
  } else {
    po.worker_name = "sum";
    po.args = self_args;
  }
  int rc = cp_pool_new(loop, &po, &r.pool);
  if (rc) {
    fprintf(stderr, "pool-sum: %s\n", cp_strerror(rc));
    return 1;
  }

  uint64_t t0 = now_ms();
  srand(12345);
  char json[256];
  for (long i = 0; i < ntasks; i++) {
    int n = snprintf(json, sizeof json, "{\"cmd\":\"sum\",\"data\":[");
    int count = 2 + rand() % 5;
    long long sum = 0;
    for (int k = 0; k < count; k++) {
      int v = rand() % 2001 - 1000;
      sum += v;
      n += snprintf(json + n, sizeof json - (size_t)n, "%s%d", k ? "," : "", v);
    }
    n += snprintf(json + n, sizeof json - (size_t)n, "]}");
    r.expect[i] = sum;
    slots[i] = (slot){&r, i};
    rc = cp_pool_submit(r.pool, json, (size_t)n, on_result, &slots[i]);
    if (rc) {
      fprintf(stderr, "pool-sum: submit: %s\n", cp_strerror(rc));
      break;
    }
  }
  cp_pool_shutdown(r.pool, CP_POOL_DRAIN, NULL, NULL);
  cp_loop_run(loop, CP_RUN_DEFAULT);
  uint64_t ms = now_ms() - t0;

  cp_pool_stats st;
  cp_pool_stats_get(r.pool, &st);
  long lost = 0;
  for (long i = 0; i < ntasks; i++) lost += !r.done[i];
  printf("{\"tasks\":%ld,\"ok\":%ld,\"failed\":%ld,\"restarts\":%llu,\"ms\":%llu}\n", ntasks, r.ok,
         r.failed + lost + r.twice, (unsigned long long)st.restarts, (unsigned long long)ms);
  cp_pool_free(r.pool);
  cp_loop_free(loop);
  free(r.expect);
  free(r.done);
  free(slots);
  return r.ok == ntasks && !r.twice && !lost ? 0 : 1;
}
