/* spawn_linux.c - starting a child on Linux: clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD), pidfds,
 * PR_SET_PDEATHSIG and the spawner thread.
 *
 * The child borrows the parent's memory until it execs, so spawning costs the same from a parent of
 * 10 MiB or 10 GiB, and the pidfd born with it makes exit watching and kill free of pid-reuse races.
 * set_uid/set_gid children take the same path: credentials are changed by raw system calls, which
 * on Linux belong to the calling task alone (glibc's wrappers would try to change every thread of
 * the parent's). A failure in the child before the program runs is left in the parent's memory as
 * {step, errno} (the parent is suspended until the child execs or exits); under ThreadSanitizer,
 * which cannot follow a CLONE_VM child, every child is forked and reports through a close-on-exec
 * pipe. The failed child is reaped before posix_start_child() returns: no zombie. */
#include "spawn.h"
#include "../internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define CHILD_STACK_SIZE (64 * 1024)

/* The 32-bit-id forms where the architecture has both. */
#ifdef SYS_setresuid32
#define SYS_SETRESUID SYS_setresuid32
#define SYS_SETRESGID SYS_setresgid32
#define SYS_SETGROUPS SYS_setgroups32
#else
#define SYS_SETGROUPS SYS_setgroups
#define SYS_SETRESUID SYS_setresuid
#define SYS_SETRESGID SYS_setresgid
#endif

/* ThreadSanitizer intercepts clone() as a fork and cannot follow a CLONE_VM child: under it, every
 * child is started with fork() (slower from a big parent, same behaviour). */
#if defined(__SANITIZE_THREAD__)
#define CP_SPAWN_ALWAYS_FORK 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CP_SPAWN_ALWAYS_FORK 1
#endif
#endif
#ifndef CP_SPAWN_ALWAYS_FORK
#define CP_SPAWN_ALWAYS_FORK 0
#endif

typedef struct child_args {
  child_ctx x;
  pid_t parent_pid; /* pdeath: checked after PR_SET_PDEATHSIG, in case the parent died before it */
} child_args;

CHILD_CODE static int child_main(void *arg) {
  const child_args *in = arg;
  child_ctx x = in->x; /* the child's own copy: it may be running in the parent's memory */
  const posix_child *a = x.c;
  posix_child_setup(&x);
  if ((a->set_uid || a->set_gid) && geteuid() == 0 && syscall(SYS_SETGROUPS, 0, NULL) < 0)
    posix_child_fail(&x, STEP_SETGROUPS);
  if (a->set_gid && syscall(SYS_SETRESGID, a->gid, a->gid, a->gid) < 0) posix_child_fail(&x, STEP_SETGID);
  if (a->set_uid && syscall(SYS_SETRESUID, a->uid, a->uid, a->uid) < 0) posix_child_fail(&x, STEP_SETUID);
  /* After the credentials: the kernel clears the parent-death signal when they change. */
  if (a->pdeath) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) posix_child_fail(&x, STEP_PDEATHSIG);
    if (getppid() != in->parent_pid) _exit(127); /* the parent died before the line above */
  }
  /* Every descriptor above stderr that the user's program left inheritable is closed on exec: the
   * child gets its stdio and nothing else. */
  if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) posix_child_cloexec_loop(3);
  posix_child_exec(&x);
  return 127;
}

/* Whether pidfds work here: 1 or 0, or -errno when the probe could not tell (no descriptor or memory
 * left: the caller fails with that, rather than falling back to SIGCHLD for good). Probed until an
 * answer is certain. */
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static int pidfd_state; /* 0 unknown, 1 yes, -1 no */

int posix_pidfd_usable(void) {
  int st = __atomic_load_n(&pidfd_state, __ATOMIC_ACQUIRE);
  if (st) return st > 0;
  int e = 0;
  pthread_mutex_lock(&probe_lock);
  if (!pidfd_state) {
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd >= 0) {
      close(fd);
      __atomic_store_n(&pidfd_state, 1, __ATOMIC_RELEASE);
    } else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
      e = errno;
    } else {
      __atomic_store_n(&pidfd_state, -1, __ATOMIC_RELEASE);
    }
  }
  st = pidfd_state;
  pthread_mutex_unlock(&probe_lock);
  return e ? -e : st > 0;
}

int posix_pidfd_kill(int pidfd, int signum) { return (int)syscall(SYS_pidfd_send_signal, pidfd, signum, NULL, 0); }

/* Linux 6.15's PIDFD_GET_INFO: the exit status of a process that someone else reaped, or that the
 * kernel reaped because the application ignores SIGCHLD, is still known to a pidfd held across its
 * exit. The first version of the structure (64 bytes), declared here for older headers. */
struct cp_pidfd_info {
  uint64_t mask, cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
#define CP_PIDFD_INFO_EXIT (1ULL << 3)
#define CP_PIDFD_GET_INFO _IOWR(0xFF, 11, struct cp_pidfd_info)

bool posix_pidfd_exit_status(int fd, int *status) {
  struct cp_pidfd_info info;
  memset(&info, 0, sizeof info);
  info.mask = CP_PIDFD_INFO_EXIT;
  if (fd < 0 || ioctl(fd, CP_PIDFD_GET_INFO, &info) < 0 || !(info.mask & CP_PIDFD_INFO_EXIT)) return false;
  *status = info.exit_code;
  return true;
}

/* The moment of starting the child, for posix_start_child() and the spawner thread. */
typedef struct start_job {
  child_args *a;
  bool use_fork, use_pidfd;
  void *stack;
  pid_t pid;
  int pidfd;
  int err;
  int pidfd_err; /* pidfd_open's errno (fork path): errno is the starting thread's, maybe the spawner's */
} start_job;

static void start_child(start_job *j) {
  /* Every signal is blocked until the child has reset its handlers: a handler of the parent's must
   * never run in a child that shares the parent's memory. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  if (j->a->x.c->pdeath) j->a->parent_pid = getpid();
  if (j->use_fork) {
    j->pid = posix_fork_spawn();
    if (j->pid == 0) child_main(j->a);
    if (j->pid > 0 && j->use_pidfd && (j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0)) < 0) j->pidfd_err = errno;
  } else {
    /* Watched by pidfd, the child is started with no exit signal, so one that fails before exec
     * raises no SIGCHLD. execve gives it SIGCHLD back (the kernel resets the exit signal of a
     * process that runs a new program): after that the application's handler runs for its exit,
     * a waitpid(-1) elsewhere may reap it and SIG_IGN makes the kernel reap it; proc_on_pidfd then
     * reads the status from the pidfd (posix_pidfd_exit_status, Linux 6.15). */
    char *top = (char *)j->stack + CHILD_STACK_SIZE;
    int flags = CLONE_VM | CLONE_VFORK | (j->use_pidfd ? CLONE_PIDFD : SIGCHLD);
    j->pid = clone(child_main, top, flags, j->a, j->use_pidfd ? &j->pidfd : NULL);
  }
  j->err = j->pid < 0 ? errno : 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* PR_SET_PDEATHSIG fires when the *thread* that started the child ends, not the process. Children
 * that must die with the process are therefore started by this thread, which lives as long as the
 * process does; callers hand it the job and wait. A failure to create it is not remembered (the next
 * spawn tries again), and a process made by fork() starts without one (pthread_atfork). */
static pthread_mutex_t spawner_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spawner_cond = PTHREAD_COND_INITIALIZER;
static start_job *spawner_job;
static bool spawner_done, spawner_running;

static void atfork_child(void) {
  /* Only the forking thread exists here: no spawner thread (its lock and job, if another thread was
   * using it, belonged to threads that are not here). */
  spawner_running = false;
  spawner_job = NULL;
  spawner_done = false;
  pthread_mutex_init(&spawner_lock, NULL);
  pthread_cond_init(&spawner_cond, NULL);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_error;
static void atfork_install(void) { atfork_error = pthread_atfork(NULL, NULL, atfork_child); }

static void *spawner_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&spawner_lock);
  for (;;) {
    while (!spawner_job || spawner_done) pthread_cond_wait(&spawner_cond, &spawner_lock);
    start_child(spawner_job);
    spawner_done = true;
    pthread_cond_broadcast(&spawner_cond);
  }
  return NULL;
}

/* Called with spawner_lock held. */
static int spawner_start(void) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread is born with every signal blocked */
  pthread_t t;
  int e = pthread_create(&t, &attr, spawner_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (!e) spawner_running = true;
  return e;
}

static void run_on_spawner_thread(start_job *j) {
  pthread_mutex_lock(&spawner_lock);
  int e = spawner_running ? 0 : spawner_start();
  if (e) {
    pthread_mutex_unlock(&spawner_lock);
    j->pid = -1;
    j->err = e;
    return;
  }
  while (spawner_job) pthread_cond_wait(&spawner_cond, &spawner_lock); /* one job at a time */
  spawner_job = j;
  spawner_done = false;
  pthread_cond_broadcast(&spawner_cond);
  while (!spawner_done || spawner_job != j) pthread_cond_wait(&spawner_cond, &spawner_lock);
  spawner_job = NULL;
  spawner_done = false;
  pthread_cond_broadcast(&spawner_cond);
  pthread_mutex_unlock(&spawner_lock);
}

int posix_start_child(const posix_child *c, bool use_pidfd, pid_t *pidp, int *pidfdp, cp_error *err) {
  bool use_fork = CP_SPAWN_ALWAYS_FORK;
  int errpipe[2] = {-1, -1}, rc = 0;
  void *stack = NULL;
  child_report report = {0, 0};
  posix_child cc = *c;
  *pidp = -1;
  *pidfdp = -1;
  cc.guardian_fd = -1;

  if (c->pdeath) {
    pthread_once(&atfork_once, atfork_install);
    if (atfork_error) return cp__error_set(err, posix_error(atfork_error), atfork_error, "pthread_atfork", NULL);
  }
  /* A failed exec is reported through a CLOEXEC pipe when the child is a fork (its memory is its
   * own; an application's fork() closes its copy of the write end: errpipe.c), and in shared
   * memory when it is a CLONE_VM child. */
  posix_errpipe listed = {-1, NULL};
  if (use_fork && (rc = posix_errpipe_open(&listed, errpipe, err))) return rc;
  /* A forked child runs guardian.c's fork handler, which closes the guardian's socket: it gets its
   * own copy. */
  cc.guardian_fd = c->guardian_fd;
  if (use_fork && c->guardian_fd >= 0 && (cc.guardian_fd = fcntl(c->guardian_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
    rc = cp__error_set(err, posix_error(errno), errno, "fcntl", NULL);
    goto out;
  }
  child_args a = {.x = {.c = &cc, .errfd = errpipe[1], .report = use_fork ? NULL : &report}};
  if (!use_fork) {
    stack = malloc(CHILD_STACK_SIZE);
    if (!stack) {
      rc = cp__error_set(err, CP_ENOMEM, ENOMEM, "spawn", NULL);
      goto out;
    }
  }

  start_job job = {.a = &a, .use_fork = use_fork, .use_pidfd = use_pidfd, .stack = stack, .pidfd = -1};
  if (c->pdeath)
    run_on_spawner_thread(&job);
  else
    start_child(&job);
  pid_t pid = job.pid;
  int pidfd_err = job.pidfd_err;
  int pidfd = posix_fd_above_stdio(job.pidfd); /* -1 (none, or it failed): handled below */
  if (pidfd < 0 && job.pidfd >= 0) pidfd_err = errno;
  posix_errpipe_close_write(&listed, errpipe);
  if (pid < 0) {
    rc = cp__error_set(err, posix_error(job.err), job.err, use_fork ? "fork" : "clone", NULL);
    goto out;
  }

  /* The CLONE_VM child left its report in our memory; a forked one writes it to the pipe. */
  if (use_fork)
    rc = posix_read_child_report(errpipe[0], pid, c->path, c->cwd, err);
  else
    rc = posix_child_report_outcome(((volatile child_report *)&report)->step ? (ssize_t)sizeof report : 0, 0,
                                    &report, pid, c->path, c->cwd, err);
  if (rc) {
    if (pidfd >= 0) close(pidfd);
    goto out;
  }
  if (use_pidfd && pidfd < 0) {
    /* Only the fork path can get here (pidfd_open failed): the child runs, but cannot be watched. */
    int e = pidfd_err;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR) {
    }
    rc = cp__error_set(err, posix_error(e), e, "pidfd_open", NULL);
    goto out;
  }
  *pidp = pid;
  *pidfdp = pidfd;

out:
  if (errpipe[0] >= 0) close(errpipe[0]);
  posix_errpipe_close_write(&listed, errpipe);
  if (use_fork && cc.guardian_fd >= 0) close(cc.guardian_fd);
  free(stack);
  return rc;
}
