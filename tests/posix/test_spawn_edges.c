/* test_spawn_edges.c - Linux: the spawn path's sharp edges (issue 19). The tree guardian never
 * touches an unrelated process group and never hurts the application (SIGPIPE, its signal handlers);
 * parent-death survives set_uid; children of a parent with closed stdio get the null device while
 * other threads spawn; an application that calls fork() itself (spawner thread, error pipe, guardian
 * descriptor); PATH search with a relative cwd and with set_uid; SIGCHLD set to SIG_IGN by the
 * application; kill after someone else reaped the child; a tree's group id kept until the child is
 * freed.
 *
 * Each scene runs in a forked "application" process that reports on a pipe, so what it does to its
 * own signal dispositions, limits and descriptors stays there. Waiting is on events (pidfds, pipes)
 * with generous bounds, never on sleeps. Scenes needing root or namespaces skip with the reason. */
#include "cptest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#if defined(__linux__)
#include <sys/prctl.h> /* subreapers and pid namespaces: the cases that need them are Linux only */
#endif
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __WALL /* Linux: a clone child whatever its exit signal; elsewhere every child is one kind */
#define __WALL 0
#endif

/* A user of this run's own (no passwd entry needed), so that RLIMIT_NPROC, which counts the user's
 * tasks across the machine, sees only this test's: another run at the same time has another. */
static uid_t test_uid;
#define TEST_UID test_uid
#define NOBODY 65534

/* ---- helpers ------------------------------------------------------------------------------------ */


static bool fd_ready_within(int fd, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  int n;
  uint64_t end = cptest_now_ms() + (uint64_t)ms;
  do {
    uint64_t now = cptest_now_ms();
    n = poll(&p, 1, now >= end ? 0 : (int)(end - now));
  } while (n < 0 && errno == EINTR);
  return n == 1;
}

static bool pid_ends_within(long pid, int ms) { return cptest_pid_ends_within(pid, ms); }

/* Runs fn in a forked application process with a pipe to report on (its write end); returns the
 * pid and the read end in *rfd. The process exits with fn's return value. */
static pid_t start_app(int (*fn)(int wfd, void *arg), void *arg, int *rfd) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    cptest_exit(fn(p[1], arg));
  }
  close(p[1]);
  *rfd = p[0];
  return pid;
}

/* Waits (bounded) for an application process; returns its wait status, or -1 after killing it. */
static int finish_app(pid_t pid, int ms) {
  if (!pid_ends_within(pid, ms)) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

static void assert_app_exit(pid_t pid, int ms, int code) {
  int st = finish_app(pid, ms);
  if (st == -1) fail_msg("the application process did not finish within %d ms", ms);
  if (WIFSIGNALED(st)) fail_msg("the application process died of signal %d", WTERMSIG(st));
  assert_int_equal(WEXITSTATUS(st), code);
}

/* Reads "<a> <b>" (up to two longs) from rfd within ms. Returns how many were read. */
static int read_longs(int rfd, int ms, long *a, long *b) {
  char buf[128];
  size_t len = 0;
  while (len < sizeof buf - 1 && (len == 0 || buf[len - 1] != '\n')) {
    if (!fd_ready_within(rfd, ms)) break;
    ssize_t n = read(rfd, buf + len, 1);
    if (n <= 0) break;
    len += (size_t)n;
  }
  buf[len] = 0;
  return sscanf(buf, "%ld %ld", a, b);
}

/* Runs an application scene that reports two numbers and exits 0; fails the test otherwise. */
static void run_app(int (*fn)(int wfd, void *arg), int ms, long *a, long *b) {
  int rfd;
  pid_t app = start_app(fn, NULL, &rfd);
  int got = read_longs(rfd, ms, a, b);
  close(rfd);
  assert_app_exit(app, 10000, 0);
  assert_int_equal(got, 2);
}

static void report(int wfd, long a, long b) {
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%ld %ld\n", a, b);
  ssize_t w = write(wfd, buf, (size_t)n);
  (void)w;
}

/* The one process whose parent is us and which is not `except`: the guardian, reparented to us as
 * the child subreaper after its middle process exited. */
static long find_adopted_child(long except) {
  char path[300], buf[512];
  DIR *d = opendir("/proc");
  if (!d) return -1;
  long found = -1;
  for (struct dirent *e; found < 0 && (e = readdir(d));) {
    long pid = atol(e->d_name);
    if (pid <= 1) continue;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    const char *rp = strrchr(buf, ')');
    long ppid = 0;
    char st;
    if (rp && sscanf(rp + 1, " %c %ld", &st, &ppid) == 2 && ppid == (long)getpid() && pid != except) found = pid;
  }
  closedir(d);
  return found;
}

static int drop_to(uid_t uid, gid_t gid) {
  if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) return -1;
  return 0;
}

static const cp_options tree_opts = {.kill_tree = true,
                                     .kill_on_parent_exit = true,
                                     .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};

/* ---- 1. a failed tree spawn never kills an unrelated process group --------------------------------- */

#if defined(__linux__) && !defined(CHILDPROC_TEST_PORTABLE)
/* In a new pid namespace (we are its init): a victim leading process group 114 (the value the old
 * release message read as), then a tree spawn that fails at clone() under RLIMIT_NPROC. */
static int app_ns_init(int wfd, void *arg) {
  (void)arg;
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* and with it the whole namespace */
  pid_t victim = -1;
  while (victim < 0) {
    pid_t p = fork();
    if (p < 0) return 21;
    if (p == 0) {
      if (getpid() != 114) _exit(0);
      setpgid(0, 0);
      drop_to(TEST_UID, TEST_UID);
      for (;;) pause();
    }
    if (p == 114)
      victim = p;
    else
      waitpid(p, NULL, 0);
    if (p > 114 + 10) return 22; /* pid allocation is not sequential here */
  }
  /* Now as the test user, with room for the guardian (and its middle process) and the spawner
   * thread, but not for the child: the clone fails with EAGAIN. Tasks of the user: us + victim. */
  if (drop_to(TEST_UID, TEST_UID) < 0) return 23;
  struct rlimit rl = {4, 4};
  if (setrlimit(RLIMIT_NPROC, &rl) < 0) return 24;
  const char *args[] = {"100", NULL};
  cp_result res;
  int rc = cp_spawn_sync("sleep", args, &tree_opts, &res);
#ifdef CP_SPAWN_ALWAYS_FORK /* a build that starts every child with fork() (ThreadSanitizer's way) */
  const char *start_call = "fork";
#else
  const char *start_call = "clone";
#endif
  bool at_clone = res.error.syscall && strcmp(res.error.syscall, start_call) == 0;
  cp_result_free(&res);
  report(wfd, rc, at_clone);
  if (rc != CP_EAGAIN || !at_clone) return 26;
  /* The guardian, reparented to us, leaves once it has read the release: reap it, then look. */
  pid_t r;
  do {
    r = waitpid(-1, NULL, 0);
  } while (r < 0 && errno == EINTR);
  if (r == victim) return 27; /* killed */
  int fd = cptest_pidfd(victim);
  bool died = fd >= 0 && fd_ready_within(fd, 300);
  return died ? 27 : 0;
}

static int app_unshare(int wfd, void *arg) {
  if (unshare(CLONE_NEWPID) < 0) return 30;
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  int rfd;
  pid_t init = start_app(app_ns_init, arg, &rfd);
  char buf[64];
  ssize_t n;
  while ((n = read(rfd, buf, sizeof buf)) > 0) {
    ssize_t w = write(wfd, buf, (size_t)n);
    (void)w;
  }
  int st = finish_app(init, 20000);
  return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 31;
}

#endif

static void linux_failed_tree_spawn_kills_no_unrelated_group(void **state) {
  (void)state;
#if defined(CHILDPROC_TEST_PORTABLE) || !defined(__linux__)
  CPTEST_SKIP("Linux path only: the failure it provokes is the clone() after the spawner thread (RLIMIT_NPROC)");
#else
  if (geteuid() != 0) CPTEST_SKIP("needs root (a pid namespace, a second user and RLIMIT_NPROC)");
  int rfd;
  pid_t app = start_app(app_unshare, NULL, &rfd);
  long rc = 0, at_clone = 0;
  int got = read_longs(rfd, 20000, &rc, &at_clone);
  close(rfd);
  int st = finish_app(app, 20000);
  if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 30) CPTEST_SKIP("unshare(CLONE_NEWPID) refused here");
  assert_int_equal(got, 2);
  assert_int_equal(rc, CP_EAGAIN);
  assert_int_equal(at_clone, 1); /* the guardian started; the child could not */
  assert_true(st >= 0 && WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0); /* 27: the victim was killed */
#endif
}

/* ---- 3. the guardian has default signal dispositions; a gone guardian raises no SIGPIPE ------------ */

/* The guardian is double-forked: a subreaper gets it back as its child, where the test can find it. */
static int become_subreaper(void) {
#if defined(__linux__)
  return prctl(PR_SET_CHILD_SUBREAPER, 1);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static int handler_fd = -1;
static void app_handler(int sig) {
  (void)sig;
  ssize_t w = write(handler_fd, "H", 1);
  (void)w;
}

static int app_guardian_sigterm(int wfd, void *arg) {
  (void)arg;
  int hp[2];
  if (pipe(hp) < 0 || become_subreaper() < 0) return 40;
  handler_fd = hp[1];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = app_handler;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
  cp_loop *loop;
  cp_child *c;
  const char *args[] = {"100", NULL};
  if (cp_loop_new(&loop) || cp_spawn(loop, "sleep", args, &tree_opts, NULL, NULL, &c)) return 41;
  long guardian = find_adopted_child(cp_child_pid(c));
  if (guardian < 0) return 42;
  kill((pid_t)guardian, SIGTERM);
  int st = 0;
  bool gone = pid_ends_within(guardian, 2000);
  if (gone) waitpid((pid_t)guardian, &st, 0);
  bool ran = fd_ready_within(hp[0], 0); /* the application's handler ran in the guardian */
  report(wfd, gone && WIFSIGNALED(st) ? WTERMSIG(st) : 0, ran);
  if (!gone) kill((pid_t)guardian, SIGKILL);
  cp_child_kill_tree(c, CP_SIGKILL);
  cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(c);
  cp_loop_free(loop);
  return 0;
}

static void guardian_runs_no_handler_of_the_application(void **state) {
  (void)state;
#if !defined(__linux__)
  CPTEST_SKIP("finds the guardian as an adopted child: needs a Linux subreaper and /proc");
#endif
  long sig = -1, ran = -1;
  run_app(app_guardian_sigterm, 10000, &sig, &ran);
  assert_int_equal(ran, 0);
  assert_int_equal(sig, SIGTERM); /* the default disposition: it ended */
}

static int app_guardian_gone(int wfd, void *arg) {
  (void)arg;
  if (become_subreaper() < 0) return 40;
  cp_loop *loop;
  cp_child *c;
  const char *args[] = {"100", NULL};
  if (cp_loop_new(&loop) || cp_spawn(loop, "sleep", args, &tree_opts, NULL, NULL, &c)) return 41;
  long guardian = find_adopted_child(cp_child_pid(c));
  if (guardian < 0) return 42;
  kill((pid_t)guardian, SIGKILL); /* the OOM killer, kill -9 -1 */
  waitpid((pid_t)guardian, NULL, 0);
  cp_child_kill(c, CP_SIGKILL);
  cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(c); /* releases the guardian: a write to a socket nobody reads */
  cp_loop_free(loop);
  report(wfd, 1, 1);
  return 0;
}

static void release_of_a_dead_guardian_raises_no_sigpipe(void **state) {
  (void)state;
#if !defined(__linux__)
  CPTEST_SKIP("finds the guardian as an adopted child: needs a Linux subreaper and /proc");
#endif
  int rfd;
  pid_t app = start_app(app_guardian_gone, NULL, &rfd);
  long a = 0, b = 0;
  read_longs(rfd, 10000, &a, &b);
  close(rfd);
  assert_app_exit(app, 10000, 0);
  assert_int_equal(a, 1);
}

/* ---- 5. an application that calls fork() itself ------------------------------------------------- */

static int app_fork_then_spawn(int wfd, void *arg) {
  (void)arg;
  cp_options o = {.kill_on_parent_exit = true};
  cp_result r;
  int rc = cp_spawn_sync("true", NULL, &o, &r); /* starts the spawner thread */
  cp_result_free(&r);
  if (rc) return 50;
  pid_t pid = fork();
  if (pid == 0) {
    rc = cp_spawn_sync("true", NULL, &o, &r);
    int ok = rc == 0 && r.status == 0;
    cp_result_free(&r);
    cptest_exit(ok ? 0 : 51);
  }
  int st = finish_app(pid, 5000);
  report(wfd, st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
  return 0;
}

static void forked_process_can_spawn_with_kill_on_parent_exit(void **state) {
  (void)state;
  int rfd;
  pid_t app = start_app(app_fork_then_spawn, NULL, &rfd);
  long code = -2, unused;
  read_longs(rfd, 10000, &code, &unused);
  close(rfd);
  assert_app_exit(app, 10000, 0);
  assert_int_equal(code, 0); /* -1: the forked process hung waiting for a spawner thread */
}

/* The tree's grandchild must die with the application even though a forked copy of the application
 * (which never execs) is still alive. */
static int app_tree_and_fork(int wfd, void *arg) {
  (void)arg;
  cp_loop *loop;
  cp_child *c;
  int op[2];
  if (pipe(op) < 0) return 60;
  const char *args[] = {"-c", "sleep 100 & echo $!; wait", NULL};
  cp_options o = tree_opts;
  o.stdio[1] = (cp_stdio){CP_STDIO_FD, op[1]};
  if (cp_loop_new(&loop) || cp_spawn(loop, "sh", args, &o, NULL, NULL, &c)) return 61;
  close(op[1]);
  long grandchild = -1, unused;
  if (read_longs(op[0], 5000, &grandchild, &unused) != 1) return 62;
  pid_t copy = fork();
  if (copy == 0) {
    for (;;) pause();
  }
  report(wfd, grandchild, copy);
  for (;;) pause();
  return 0;
}

static void forked_copy_does_not_keep_a_tree_alive(void **state) {
  (void)state;
  int rfd;
  pid_t app = start_app(app_tree_and_fork, NULL, &rfd);
  long grandchild = -1, copy = -1;
  assert_int_equal(read_longs(rfd, 10000, &grandchild, &copy), 2);
  close(rfd);
  kill(app, SIGKILL);
  waitpid(app, NULL, 0);
  bool ended = pid_ends_within(grandchild, 2000);
  kill((pid_t)copy, SIGKILL);
  if (!ended) cptest_kill_pid(grandchild);
  assert_true(ended);
}

/* set_uid spawns used fork() and a close-on-exec error pipe: any process forked (and not yet exec'd)
 * while the pipe existed held its write end, and the spawn waited for that process. */
static atomic_bool forking;
static void *forker(void *arg) {
  (void)arg;
  pid_t live[16];
  unsigned n = 0;
  while (atomic_load(&forking)) {
    if (n == 16) { /* at most 16 copies at a time: the oldest is reaped first */
      waitpid(live[0], NULL, 0);
      memmove(live, live + 1, sizeof live - sizeof live[0]);
      n--;
    }
    pid_t p = fork();
    if (p == 0) {
      struct timespec ts = {1, 0};
      nanosleep(&ts, NULL);
      _exit(0);
    }
    if (p > 0) live[n++] = p;
  }
  for (unsigned i = 0; i < n; i++) waitpid(live[i], NULL, 0);
  return NULL;
}

/* count set_uid spawns of `true` (no pipes: a forked copy holding a pipe's write end delays EOF for
 * anyone; the error pipe is ours), arming *arm before each when given; the slowest in ms in *worst,
 * less what *spent (zeroed before each, when given) says the test itself spent inside the spawn; the
 * failed ones in *failures (the first one printed). */
static void timed_setuid_spawns(int count, atomic_bool *arm, atomic_long *spent, uint64_t *worst, long *failures) {
  cp_options o = {.uid = NOBODY, .gid = NOBODY, .set_uid = true, .set_gid = true,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  *worst = 0;
  *failures = 0;
  for (int i = 0; i < count; i++) {
    if (spent) atomic_store(spent, 0);
    if (arm) atomic_store(arm, true);
    uint64_t t0 = cptest_now_ms();
    cp_result r;
    int rc = cp_spawn_sync("true", NULL, &o, &r);
    if (rc || r.status != 0) {
      if (!*failures) fprintf(stderr, "set_uid spawn: rc %d status %lld: %s\n", rc, (long long)r.status, r.error.message);
      (*failures)++;
    }
    cp_result_free(&r);
    uint64_t dt = cptest_now_ms() - t0, own = spent ? (uint64_t)atomic_load(spent) : 0;
    dt = dt > own ? dt - own : 0;
    if (dt > *worst) *worst = dt;
  }
}

static int app_setuid_while_forking(int wfd, void *arg) {
  (void)arg;
  atomic_store(&forking, true);
  pthread_t t;
  if (pthread_create(&t, NULL, forker, NULL)) return 70;
  uint64_t worst;
  long failures;
  timed_setuid_spawns(150, NULL, NULL, &worst, &failures);
  atomic_store(&forking, false);
  pthread_join(t, NULL);
  report(wfd, (long)worst, failures);
  return 0;
}

static void set_uid_spawn_does_not_wait_for_forked_processes(void **state) {
  (void)state;
  if (geteuid() != 0) CPTEST_SKIP("needs root (set_uid)");
  long worst = -1, failures = -1;
  run_app(app_setuid_while_forking, 60000, &worst, &failures);
  assert_int_equal(failures, 0);
  assert_true(worst < 700); /* a forked copy lives 1 s: waiting for one shows as >= 1000 ms */
}

/* The same, made certain: the application forks from another thread exactly while a spawn that forks
 * has its error pipe (the spawn's own fork() runs this prepare handler, which has the other thread
 * fork and waits for it). The copy lives 1 s; it must not take the pipe's write end with it (the
 * spawn, less the time spent in this handler, stays short), and the application's fork must not wait
 * for the spawn (the handler's wait stays short; a 3 s time-out turns a deadlock into a failure). The
 * handler is registered after a first spawn, so that it runs before the library's prepare handlers
 * (last registered, first run) and the spawning thread holds none of their locks while it waits.
 * Builds that start children with clone(CLONE_VM) run no fork handlers: nothing to hold there. */
static atomic_bool inside_armed;
static int inside_req[2] = {-1, -1}, inside_done[2] = {-1, -1};
static atomic_long inside_forks, inside_spent, inside_worst_wait;

static void inside_prepare(void) {
  if (!atomic_exchange(&inside_armed, false)) return;
  uint64_t t0 = cptest_now_ms();
  char c = 'f';
  if (write(inside_req[1], &c, 1) != 1) return;
  struct pollfd p = {inside_done[0], POLLIN, 0};
  if (poll(&p, 1, 3000) == 1 && read(inside_done[0], &c, 1) == 1) atomic_fetch_add(&inside_forks, 1);
  long waited = (long)(cptest_now_ms() - t0);
  atomic_store(&inside_spent, waited);
  if (waited > atomic_load(&inside_worst_wait)) atomic_store(&inside_worst_wait, waited);
}

static void *inside_forker(void *arg) {
  (void)arg;
  pid_t live[8];
  int n = 0;
  char c;
  while (read(inside_req[0], &c, 1) == 1 && c == 'f') {
    pid_t p = fork();
    if (p == 0) {
      struct timespec ts = {1, 0};
      nanosleep(&ts, NULL);
      _exit(0);
    }
    if (p > 0 && n < 8) live[n++] = p;
    c = 'd';
    if (write(inside_done[1], &c, 1) != 1) break;
  }
  for (int i = 0; i < n; i++) waitpid(live[i], NULL, 0);
  return NULL;
}

static int app_fork_inside_spawn(int wfd, void *arg) {
  (void)arg;
  if (pipe(inside_req) < 0 || pipe(inside_done) < 0) return 80;
  uint64_t worst;
  long failures;
  timed_setuid_spawns(1, NULL, NULL, &worst, &failures); /* the library's fork handlers, installed */
  if (pthread_atfork(inside_prepare, NULL, NULL)) return 81;
  pthread_t t;
  if (pthread_create(&t, NULL, inside_forker, NULL)) return 82;
  timed_setuid_spawns(5, &inside_armed, &inside_spent, &worst, &failures);
  atomic_store(&inside_armed, false);
  close(inside_req[1]); /* the forker's end of file */
  pthread_join(t, NULL);
  long waited = atomic_load(&inside_worst_wait);
  fprintf(stderr, "fork inside a spawn: %ld of 5 spawns forked with the application's fork inside; the "
          "longest wait for that fork %ld ms\n", (long)atomic_load(&inside_forks), waited);
#ifdef __GLIBC__ /* glibc runs prepare handlers without its fork lock: nothing of the libc's in the way */
  if (waited >= 700) failures += 1000; /* the application's fork waited for the spawn */
#endif
  report(wfd, (long)worst, failures);
  return 0;
}

static void app_fork_inside_a_spawn_does_not_hold_it(void **state) {
  (void)state;
  if (geteuid() != 0) CPTEST_SKIP("needs root (set_uid: the portable build forks for it)");
  long worst = -1, failures = -1;
  run_app(app_fork_inside_spawn, 60000, &worst, &failures);
  assert_int_equal(failures, 0);
  assert_true(worst < 700); /* the copy lives 1 s: waiting for it shows as >= 1000 ms */
}

/* A spawner thread that could not be created (process limit) is tried again by the next spawn. */
static int app_spawner_after_limit(int wfd, void *arg) {
  (void)arg;
  if (drop_to(TEST_UID, TEST_UID) < 0) return 110;
  struct rlimit low = {1, 64}, high = {64, 64}; /* soft 1: this process alone fills it */
  cp_options o = {.kill_on_parent_exit = true,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  cp_result r;
  if (setrlimit(RLIMIT_NPROC, &low) < 0) return 111;
  int first = cp_spawn_sync("true", NULL, &o, &r);
  cp_result_free(&r);
  if (setrlimit(RLIMIT_NPROC, &high) < 0) return 112;
  int second = cp_spawn_sync("true", NULL, &o, &r);
  cp_result_free(&r);
  report(wfd, first, second);
  return 0;
}

static void linux_spawner_thread_failure_is_not_remembered(void **state) {
  (void)state;
#ifdef CHILDPROC_TEST_PORTABLE
  CPTEST_SKIP("Linux path only: the portable build has no spawner thread");
#endif
  if (geteuid() != 0) CPTEST_SKIP("needs root (a second user for RLIMIT_NPROC)");
  long first = 1, second = 1;
  run_app(app_spawner_after_limit, 10000, &first, &second);
  assert_int_equal(first, CP_EAGAIN);
  assert_int_equal(second, 0);
}

/* The pidfd probe failing for want of a descriptor says nothing about the kernel: after the limit
 * is lifted, children are watched by pidfd again and no SIGCHLD handler is installed. Run in a fresh
 * process (this program re-executed), where nothing has probed yet. */
static void on_error_code(cp_child *c, const cp_error *e, void *ud) {
  (void)c;
  *(int *)ud = e->code;
}

static int probe_at_fd_limit_main(void) {
  cp_loop *loop;
  if (cp_loop_new(&loop)) return 120;
  struct rlimit old, low;
  if (getrlimit(RLIMIT_NOFILE, &old) < 0) return 121;
  int top = 0;
  for (int fd = 0; fd < 1024; fd++)
    if (fcntl(fd, F_GETFD) >= 0) top = fd;
  low.rlim_cur = (rlim_t)top + 1; /* the loop exists; no new descriptor fits */
  low.rlim_max = old.rlim_max;
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  cp_child_events ev = {.on_error = on_error_code};
  int first = 0, second = 0;
  cp_child *c;
  if (setrlimit(RLIMIT_NOFILE, &low) < 0) return 122;
  int fill[1024], nfill = 0; /* and the free numbers below the limit taken */
  while (nfill < 1024 && (fill[nfill] = dup(0)) >= 0) nfill++;
  if (cp_spawn(loop, "true", NULL, &o, &ev, &first, &c)) return 123;
  cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(c);
  while (nfill > 0) close(fill[--nfill]);
  if (setrlimit(RLIMIT_NOFILE, &old) < 0) return 124;
  if (cp_spawn(loop, "true", NULL, &o, &ev, &second, &c)) return 125;
  cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(c);
  cp_loop_free(loop);
  struct sigaction sa;
  sigaction(SIGCHLD, NULL, &sa);
  bool handler = (sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
  printf("%d %d %d\n", first, second, handler);
  return 0;
}

static void linux_pidfd_probe_failure_at_the_fd_limit_is_not_remembered(void **state) {
  (void)state;
#ifdef CHILDPROC_TEST_PORTABLE
  CPTEST_SKIP("Linux path only: the portable build has no pidfds");
#endif
  const char *args[] = {"probe-at-fd-limit", NULL};
  cp_result r;
  cptest_assert_rc(cp_spawn_sync(cptest_bin("test_spawn_edges"), args, NULL, &r), &r, CP_OK);
  assert_int_equal(r.status, 0);
  int first = 1, second = 1, handler = 1;
  assert_int_equal(sscanf(r.out.data, "%d %d %d", &first, &second, &handler), 3);
  cp_result_free(&r);
  assert_int_equal(first, CP_EMFILE);
  assert_int_equal(second, 0);
#ifndef CHILDPROC_TEST_FORCE_SIGCHLD
  assert_int_equal(handler, 0);
#endif
}

/* ---- 2. parent-death survives set_uid --------------------------------------------------------- */

static int app_setuid_child(int wfd, void *arg) {
  (void)arg;
  cp_loop *loop;
  cp_child *c;
  const char *args[] = {"100", NULL};
  cp_options o = {.kill_on_parent_exit = true, .uid = NOBODY, .gid = NOBODY, .set_uid = true, .set_gid = true,
                  .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  if (cp_loop_new(&loop) || cp_spawn(loop, "sleep", args, &o, NULL, NULL, &c)) return 80;
  report(wfd, (long)cp_child_pid(c), 0);
  for (;;) pause();
  return 0;
}

static void set_uid_child_dies_with_its_parent(void **state) {
  (void)state;
  if (geteuid() != 0) CPTEST_SKIP("needs root (set_uid)");
  int rfd;
  pid_t app = start_app(app_setuid_child, NULL, &rfd);
  long child = -1, unused;
  assert_int_equal(read_longs(rfd, 10000, &child, &unused), 2);
  close(rfd);
  kill(app, SIGKILL);
  waitpid(app, NULL, 0);
  bool ended = pid_ends_within(child, 2000);
  if (!ended) cptest_kill_pid(child);
  assert_true(ended);
}

/* ---- 4. closed stdio while two threads spawn ------------------------------------------------------ */

static atomic_long wrong_stdin;
static void *spawn_readlinks(void *arg) {
  (void)arg;
  const char *args[] = {"/proc/self/fd/0", NULL};
  cp_options o = {.stdio = {{CP_STDIO_INHERIT, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_IGNORE, 0}}};
  for (int i = 0; i < 400; i++) {
    cp_result r;
    if (cp_spawn_sync("readlink", args, &o, &r) || !cptest_buf_eq(&r.out, "/dev/null\n"))
      atomic_fetch_add(&wrong_stdin, 1);
    cp_result_free(&r);
  }
  return NULL;
}

static int app_closed_stdio_threads(int wfd, void *arg) {
  (void)arg;
  for (int i = 0; i < 3; i++) close(i);
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&t[i], NULL, spawn_readlinks, NULL)) return 90;
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  report(wfd, atomic_load(&wrong_stdin), 0);
  return 0;
}

static void closed_stdio_threads_children_get_the_null_device(void **state) {
  (void)state;
#if !defined(__linux__)
  CPTEST_SKIP("the children name their stdin through /proc/self/fd/0 (Linux)");
#endif
  int rfd;
  pid_t app = start_app(app_closed_stdio_threads, NULL, &rfd);
  long wrong = -1, unused;
  assert_int_equal(read_longs(rfd, 60000, &wrong, &unused), 2);
  close(rfd);
  assert_app_exit(app, 10000, 0);
  assert_int_equal(wrong, 0);
}

/* ---- 6, 7. PATH search --------------------------------------------------------------------------- */

static char *dir;

static int setup_dir(void **state) {
  (void)state;
  dir = cptest_mkdtemp();
  return dir ? chmod(dir, 0755) : -1;
}

static int teardown_dir(void **state) {
  (void)state;
  cptest_rmtree(dir);
  free(dir);
  return 0;
}

static void script(const char *rel, const char *word, int mode) {
  char *path = cptest_join(dir, rel);
  char body[128];
  int n = snprintf(body, sizeof body, "#!/bin/sh\necho %s\n", word);
  assert_int_equal(cptest_write_file(path, body, (size_t)n, mode), 0);
  assert_int_equal(chmod(path, (mode_t)mode), 0);
  free(path);
}

static void mkdirs(const char *const *rels) {
  for (; *rels; rels++) {
    char *p = cptest_join(dir, *rels);
    cptest_mkdir(p);
    chmod(p, 0755);
    free(p);
  }
}

static void run_in_dir(const char *file, const char *path_env, const char *cwd, const char *expect) {
  char old[4096];
  assert_non_null(getcwd(old, sizeof old));
  assert_int_equal(chdir(dir), 0);
  const char *env[] = {path_env, NULL};
  cp_options o = {.cwd = cwd, .env = env, .env_mode = CP_ENV_REPLACE};
  cp_result r;
  int rc = cp_spawn_sync(file, NULL, &o, &r);
  assert_int_equal(chdir(old), 0);
  cptest_assert_rc(rc, &r, CP_OK);
  if (!cptest_buf_eq(&r.out, expect)) fail_msg("ran %.*s, expected %s", (int)r.out.len, r.out.data, expect);
  cp_result_free(&r);
}

/* sh -c 'cd sub; exec prog' with PATH=bin runs sub/bin/prog: so must we. */
static void relative_cwd_and_relative_path_entry_run_what_sh_runs(void **state) {
  (void)state;
  const char *dirs[] = {"rel1", "rel1/sub", "rel1/sub/bin", "rel1/sub/sub", "rel1/sub/sub/bin", NULL};
  mkdirs(dirs);
  script("rel1/sub/bin/prog", "right", 0755);
  script("rel1/sub/sub/bin/prog", "wrong", 0755);
  script("rel1/sub/prog2", "right", 0755);
  script("rel1/sub/sub/prog2", "wrong", 0755);
  char *cwd = cptest_join("rel1", "sub");
  run_in_dir("prog", "PATH=bin", cwd, "right\n");
  run_in_dir("prog2", "PATH=:/nonexistent", cwd, "right\n"); /* the empty entry is the new cwd */
  run_in_dir("prog2", "PATH=.", cwd, "right\n");
  free(cwd);
}

static void set_uid_search_skips_what_the_user_cannot_run(void **state) {
  (void)state;
  if (geteuid() != 0) CPTEST_SKIP("needs root (set_uid)");
  const char *dirs[] = {"a", "b", "c", NULL};
  mkdirs(dirs);
  script("a/prog7", "rootonly", 0700); /* root could run it; nobody cannot */
  script("b/prog7", "forall", 0755);
  char *c = cptest_join(dir, "c");
  chmod(c, 0700); /* a directory nobody cannot search */
  free(c);
  script("c/prog8", "hidden", 0755);
  script("b/prog8", "forall", 0755);
  char env_a[4200], env_c[4200];
  snprintf(env_a, sizeof env_a, "PATH=%s/a:%s/b", dir, dir);
  snprintf(env_c, sizeof env_c, "PATH=%s/c:%s/b", dir, dir);
  const char *env1[] = {env_a, NULL}, *env2[] = {env_c, NULL};
  cp_options o = {.uid = NOBODY, .gid = NOBODY, .set_uid = true, .set_gid = true, .env_mode = CP_ENV_REPLACE};
  cp_result r;
  o.env = env1;
  cptest_assert_rc(cp_spawn_sync("prog7", NULL, &o, &r), &r, CP_OK);
  assert_true(cptest_buf_eq(&r.out, "forall\n"));
  cp_result_free(&r);
  o.env = env2;
  cptest_assert_rc(cp_spawn_sync("prog8", NULL, &o, &r), &r, CP_OK);
  assert_true(cptest_buf_eq(&r.out, "forall\n"));
  cp_result_free(&r);
  /* Only a file the user cannot run: EACCES, as execvp says. */
  snprintf(env_a, sizeof env_a, "PATH=%s/a", dir);
  o.env = env1;
  assert_int_equal(cp_spawn_sync("prog7", NULL, &o, &r), CP_EACCES);
  cp_result_free(&r);
}

/* With no PATH at all, the POSIX default (confstr(_CS_PATH) on glibc: /bin:/usr/bin), as Node:
 * a program only in /usr/local/bin is not found. */
static void no_path_searches_the_posix_default(void **state) {
  (void)state;
  if (geteuid() != 0) CPTEST_SKIP("needs root (a probe program in /usr/local/bin)");
  char probe[128];
  snprintf(probe, sizeof probe, "/usr/local/bin/cp-edge-probe-%ld", (long)getpid());
  if (cptest_write_file(probe, "#!/bin/sh\necho found\n", 21, 0755) < 0 || chmod(probe, 0755) < 0)
    CPTEST_SKIP("/usr/local/bin is not writable here");
  const char *env[] = {"X=1", NULL};
  cp_options o = {.env = env, .env_mode = CP_ENV_REPLACE};
  cp_result r;
  int rc = cp_spawn_sync(strrchr(probe, '/') + 1, NULL, &o, &r);
  cp_result_free(&r);
  int rc2 = cp_spawn_sync("true", NULL, &o, &r); /* /bin/true or /usr/bin/true */
  cp_result_free(&r);
  unlink(probe);
  assert_int_equal(rc, CP_ENOENT);
  assert_int_equal(rc2, CP_OK);
}

/* ---- 9. SIGCHLD ignored by the application ------------------------------------------------------- */

static int app_sigchld_ignored(int wfd, void *arg) {
  (void)arg;
  signal(SIGCHLD, SIG_IGN);
  cp_result r;
  int rc = cp_spawn_sync("false", NULL, NULL, &r);
  long status = rc == 0 ? r.status : -100 + rc;
  cp_result_free(&r);
  /* The application's own children are still reaped for it, as SIG_IGN promises. */
  cp_loop *loop;
  cp_child *c;
  const char *args[] = {"100", NULL};
  if (cp_loop_new(&loop) || cp_spawn(loop, "sleep", args, NULL, NULL, NULL, &c)) return 100;
  pid_t own = fork();
  if (own == 0) _exit(0);
  bool reaped = false;
  uint64_t end = cptest_now_ms() + 3000;
  while (!reaped && cptest_now_ms() < end) {
    cp_loop_run(loop, CP_RUN_NOWAIT);
    reaped = waitpid(own, NULL, WNOHANG) < 0 && errno == ECHILD;
    if (!reaped) fd_ready_within(-1, 5);
  }
  cp_child_kill(c, CP_SIGKILL);
  cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(c);
  cp_loop_free(loop);
  report(wfd, status, reaped);
  return 0;
}

static void sigchld_ignored_keeps_exit_status_and_reaps_own_children(void **state) {
  (void)state;
  long status = -1, reaped = -1;
  run_app(app_sigchld_ignored, 10000, &status, &reaped);
  assert_int_equal(status, 1);
  assert_int_equal(reaped, 1);
}

/* ---- 10. the application's own SIGCHLD handler ------------------------------------------------- */

#if (defined(CHILDPROC_TEST_FORCE_SIGCHLD) || defined(CHILDPROC_TEST_PORTABLE)) && !defined(CHILDPROC_TEST_POLLER_KQUEUE)
#define CP_TEST_SIGCHLD_PATH 1
static volatile sig_atomic_t app_plain_calls, app_info_calls;
static void app_chld_plain(int sig) {
  (void)sig;
  app_plain_calls++;
}
static void app_chld_info(int sig, siginfo_t *info, void *uctx) {
  (void)sig, (void)info, (void)uctx;
  app_info_calls++;
}

/* Installs each kind of handler (plain, SA_SIGINFO) and runs a child; reports how often each ran. */
static int app_own_sigchld_handler(int wfd, void *arg) {
  (void)arg;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = app_chld_plain;
  sigaction(SIGCHLD, &sa, NULL);
  cp_result r;
  int rc1 = cp_spawn_sync("true", NULL, NULL, &r);
  cp_result_free(&r);
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = app_chld_info;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGCHLD, &sa, NULL);
  int rc2 = cp_spawn_sync("true", NULL, NULL, &r);
  cp_result_free(&r);
  report(wfd, rc1 || rc2 ? -1 : (long)app_plain_calls, (long)app_info_calls);
  return 0;
}
#endif

/* Where children are watched by the SIGCHLD path, the library's handler passes the signal on to the
 * handler the application had installed, of either kind (plain or SA_SIGINFO). */
static void application_sigchld_handler_runs_on_the_sigchld_path(void **state) {
  (void)state;
#ifdef CP_TEST_SIGCHLD_PATH
  long plain = -1, info = -1;
  run_app(app_own_sigchld_handler, 10000, &plain, &info);
  assert_true(plain >= 1); /* -1: a spawn failed */
  assert_true(info >= 1);
#else
  CPTEST_SKIP("this build does not watch exits with the SIGCHLD handler (pidfd or kqueue): nothing to pass on");
#endif
}

/* ---- smaller: kill after someone else reaped; a tree's group id stays reserved ---------------- */

static void kill_after_someone_else_reaped_is_esrch(void **state) {
  (void)state;
  cp_loop *loop;
  cp_child *c;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  assert_int_equal(cp_spawn(loop, "true", NULL, &o, NULL, NULL, &c), 0);
  pid_t pid = (pid_t)cp_child_pid(c);
  int st;
  /* A careless waitpid(-1)-style reaper elsewhere in the process (__WALL: whatever the exit signal). */
  pid_t r;
  do {
    r = waitpid(pid, &st, __WALL);
  } while (r < 0 && errno == EINTR);
  assert_int_equal(r, pid);
  assert_int_equal(cp_child_kill(c, CP_SIGTERM), CP_ESRCH);
  cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(c);
  assert_int_equal(cp_loop_free(loop), 0);
}

static void on_exit_check_zombie(cp_child *c, int64_t status, int sig, void *ud) {
  (void)status, (void)sig;
  *(int *)ud = kill((pid_t)cp_child_pid(c), 0) == 0; /* the group leader's pid is still held (a zombie) */
}

static void tree_group_id_is_held_until_the_child_is_freed(void **state) {
  (void)state;
  cp_loop *loop;
  cp_child *c;
  int held = -1;
  assert_int_equal(cp_loop_new(&loop), 0);
  cp_options o = {.kill_tree = true, .stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}, {CP_STDIO_IGNORE, 0}}};
  cp_child_events ev = {.on_exit = on_exit_check_zombie};
  assert_int_equal(cp_spawn(loop, "true", NULL, &o, &ev, &held, &c), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_int_equal(held, 1);
  assert_true(cp_child_exited(c));
  /* Every member is gone and the leader is held: the group id cannot name anyone else. */
  int rc = cp_child_kill_tree(c, CP_SIGTERM);
  assert_true(rc == 0 || rc == CP_ESRCH);
  pid_t leader = (pid_t)cp_child_pid(c);
  cp_child_free(c);
  assert_int_equal(kill(leader, 0), -1);
  assert_true(cptest_no_children());
  assert_int_equal(cp_loop_free(loop), 0);
}

int main(int argc, char **argv) {
  test_uid = (uid_t)(54321 + getpid() % 10000);
  if (argc > 1 && strcmp(argv[1], "probe-at-fd-limit") == 0) return probe_at_fd_limit_main();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(linux_failed_tree_spawn_kills_no_unrelated_group),
      cmocka_unit_test(guardian_runs_no_handler_of_the_application),
      cmocka_unit_test(release_of_a_dead_guardian_raises_no_sigpipe),
      cmocka_unit_test(forked_process_can_spawn_with_kill_on_parent_exit),
      cmocka_unit_test(forked_copy_does_not_keep_a_tree_alive),
      cmocka_unit_test(set_uid_spawn_does_not_wait_for_forked_processes),
      cmocka_unit_test(app_fork_inside_a_spawn_does_not_hold_it),
      cmocka_unit_test(set_uid_child_dies_with_its_parent),
      cmocka_unit_test(linux_spawner_thread_failure_is_not_remembered),
      cmocka_unit_test(linux_pidfd_probe_failure_at_the_fd_limit_is_not_remembered),
      cmocka_unit_test(closed_stdio_threads_children_get_the_null_device),
      cmocka_unit_test_setup_teardown(relative_cwd_and_relative_path_entry_run_what_sh_runs, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(set_uid_search_skips_what_the_user_cannot_run, setup_dir, teardown_dir),
      cmocka_unit_test(no_path_searches_the_posix_default),
      cmocka_unit_test(sigchld_ignored_keeps_exit_status_and_reaps_own_children),
      cmocka_unit_test(application_sigchld_handler_runs_on_the_sigchld_path),
      cmocka_unit_test(kill_after_someone_else_reaped_is_esrch),
      cmocka_unit_test(tree_group_id_is_held_until_the_child_is_freed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
