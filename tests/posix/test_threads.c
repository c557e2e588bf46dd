/* test_threads.c - 8 threads, each spawning and reaping 1000 children on its own loop (32 in flight at
 * a time), with no cross-leak (a sample of the children list their open descriptors and see only
 * 0, 1 and 2), no lost exit (each child's status is its index) and no deadlock. Also run under
 * ThreadSanitizer by ci/test-tsan.sh. CP_THREAD_SPAWNS overrides the per-thread count. */
#include <childproc.h>

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define THREADS   8
#define IN_FLIGHT 32

/* fds: prints the descriptors this process has open, but the one reading the directory and the
 * worker's own loop (cp_worker_main made it before calling us). */
static int worker_fds(cp_loop *l, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)l, (void)ch, (void)argc, (void)argv, (void)ud;
  DIR *d = opendir("/proc/self/fd");
  if (!d) exit(3);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
    char path[300], target[64] = "";
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n > 0 && strncmp(target, "anon_inode:[eventpoll]", 22) == 0) continue;
    printf("%s ", e->d_name);
  }
  closedir(d);
  fflush(stdout);
  exit(0);
}

static int worker_exit(cp_loop *l, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)l, (void)ch, (void)ud;
  exit(argc > 1 ? atoi(argv[1]) : 0);
}

static const cp_worker_def workers[] = {{"fds", worker_fds, NULL}, {"exit", worker_exit, NULL}};

static char self_exe[4096];
static int spawns_per_thread = 1000;

typedef struct slot {
  struct job *job;
  cp_child *child;
  int index;
  char out[128];
  size_t out_len;
} slot;

typedef struct job {
  cp_loop *loop;
  int started, finished, failures;
  slot slots[IN_FLIGHT];
  char failure[256];
} job;

static void start_next(job *j, slot *s);

static void on_out(cp_child *c, const char *d, size_t n, void *ud) {
  (void)c;
  slot *s = ud;
  if (n && s->out_len + n < sizeof s->out) {
    memcpy(s->out + s->out_len, d, n);
    s->out_len += n;
    s->out[s->out_len] = '\0';
  }
}

static void on_close(cp_child *c, int64_t status, int sig, void *ud) {
  slot *s = ud;
  job *j = s->job;
  bool fds_probe = s->index % 100 == 0;
  int want = fds_probe ? 0 : s->index % 200;
  if (status != want || sig != 0) {
    j->failures++;
    snprintf(j->failure, sizeof j->failure, "child %d: status %lld signal %d", s->index, (long long)status, sig);
  } else if (fds_probe && strcmp(s->out, "0 1 2 ") != 0) {
    j->failures++;
    snprintf(j->failure, sizeof j->failure, "child %d saw descriptors [%s]", s->index, s->out);
  }
  cp_child_free(c);
  j->finished++;
  if (j->started < spawns_per_thread) start_next(j, s);
}

static void start_next(job *j, slot *s) {
  s->job = j;
  s->index = j->started++;
  s->out_len = 0;
  s->out[0] = '\0';
  char code[16];
  snprintf(code, sizeof code, "%d", s->index % 200);
  const char *args[] = {code, NULL};
  bool fds_probe = s->index % 100 == 0;
  const char *env[] = {fds_probe ? "CHILDPROC_WORKER=fds" : "CHILDPROC_WORKER=exit", NULL};
  cp_options o = {.env_mode = CP_ENV_EXTEND, .env = env,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_IGNORE, 0}}};
  cp_child_events ev = {.on_stdout = on_out, .on_close = on_close};
  if (cp_spawn(j->loop, self_exe, fds_probe ? NULL : args, &o, &ev, s, &s->child)) {
    j->failures++;
    j->finished++;
  }
}

static void *thread_main(void *arg) {
  job *j = arg;
  if (cp_loop_new(&j->loop)) {
    j->failures = -1;
    return NULL;
  }
  for (int i = 0; i < IN_FLIGHT && j->started < spawns_per_thread; i++) start_next(j, &j->slots[i]);
  if (cp_loop_run(j->loop, CP_RUN_DEFAULT) != 0) j->failures++;
  if (cp_loop_free(j->loop) != 0) j->failures++;
  return NULL;
}

static void threads_spawn_and_reap_on_their_own_loops(void **state) {
  (void)state;
  static job jobs[THREADS];
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    assert_int_equal(pthread_create(&t[i], NULL, thread_main, &jobs[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
  for (int i = 0; i < THREADS; i++) {
    if (jobs[i].failures) fprintf(stderr, "thread %d: %d failures, last: %s\n", i, jobs[i].failures, jobs[i].failure);
    assert_int_equal(jobs[i].failures, 0);
    assert_int_equal(jobs[i].finished, spawns_per_thread);
  }
  printf("threads: %d x %d spawns, 0 failures\n", THREADS, spawns_per_thread);
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, workers, 2, &status)) return status;
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  if (n <= 0) return 1;
  self_exe[n] = '\0';
  const char *env = getenv("CP_THREAD_SPAWNS");
  if (env && atoi(env) > 0) spawns_per_thread = atoi(env);
  const struct CMUnitTest tests[] = {cmocka_unit_test(threads_spawn_and_reap_on_their_own_loops)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
