/* spawn.c - starting and watching a child on Linux.
 *
 * The program is searched on PATH in the parent (execvp's rules, with the child's PATH), so the
 * child only runs async-signal-safe steps before execve(). The child is started with
 * clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD): it borrows the parent's memory until it execs, so
 * spawning costs the same from a parent of 10 MiB or 10 GiB, and the pidfd born with it makes exit
 * watching and kill free of pid-reuse races. fork() is used only when uid/gid must be changed
 * (set*id() is not safe in a CLONE_VM child with glibc). A failure in the child before the
 * program runs becomes the error of the spawn call as {step, errno}: a CLONE_VM child leaves it in
 * the parent's memory (the parent is suspended until the child execs or exits), a forked one writes
 * it to a close-on-exec pipe. The failed child is reaped before os_spawn() returns: no zombie. */
#include "posix.h"
#include "sigchld.h"
#include "stream.h"
#include "../internal.h"

#if !defined(__linux__)
#error "childproc: the POSIX backend supports Linux so far (clone, pidfd)"
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
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

/* The application's descriptor of a tree guardian's socket, on a process-wide list so that a copy
 * of the application made by fork() closes it (pthread_atfork): a forked process that never execs
 * must not keep the guardian from seeing the application's death. */
typedef struct guardian_link {
  int fd;
  struct guardian_link *prev, *next;
} guardian_link;

struct os_proc {
  os_loop *loop;
  posix_watcher w; /* on the pidfd (fd -1 when watched by SIGCHLD) */
  posix_sigchld_entry chld;
  posix_sigchld *chld_owner; /* set while on the SIGCHLD list */
  pid_t pid;
  bool reaped;
  bool held; /* a group leader that exited: kept as a zombie until freed, so its group id stays ours */
  bool group;
  guardian_link guardian; /* a tree guardian's socket (fd -1 if none) */
  os_exit_cb cb;
  void *data;
};

enum child_step {
  STEP_SETSID = 1,
  STEP_DUP2,
  STEP_CHDIR,
  STEP_SETGROUPS,
  STEP_SETGID,
  STEP_SETUID,
  STEP_EXECVE,
  STEP_PDEATHSIG,
  STEP_GUARDIAN
};

typedef struct child_report {
  int step;
  int err;
} child_report;

typedef struct child_args {
  int guardian_fd;  /* a tree guardian's socket (see start_guardian), or -1 */
  bool pdeath; /* PR_SET_PDEATHSIG(SIGKILL), then check that the parent still lives */
  pid_t parent_pid;
  int chanfd;      /* the child's end of the channel, or -1 */
  int chan_target; /* the descriptor number it must have in the child */
  const char *path;
  /* set_uid/set_gid: the PATH candidates, tried in order as the new user (execvp's rules); else NULL */
  char *const *candidates;
  char *const *argv;
  char *const *envp;
  const char *cwd;
  int fds[3];
  int errfd; /* fork path: the error pipe's write end; clone path: -1 */
  /* clone path: where a failing child leaves {step, errno}. The child shares our memory and we are
   * suspended until it has exec'd or exited (CLONE_VFORK), so it is read only after the write. */
  volatile child_report *report;
  bool detached, new_group, set_uid, set_gid;
  uid_t uid;
  gid_t gid;
} child_args;

/* ---- in the child: async-signal-safe calls only, no allocation, and no write to shared memory but
 * the failure report of the clone path ---- */

/* The child runs on a borrowed stack until it execs: AddressSanitizer's bookkeeping (which warns
 * about the unknown stack at the _exit() below) has nothing to check there. */
#if defined(__GNUC__)
#define CHILD_CODE __attribute__((no_sanitize_address))
#else
#define CHILD_CODE
#endif

CHILD_CODE static void child_fail(const child_args *a, int errfd, int step) {
  if (a->report) {
    a->report->err = errno;
    a->report->step = step;
    _exit(127);
  }
  child_report r = {step, errno};
  ssize_t n;
  do {
    n = write(errfd, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  _exit(127);
}

/* Every descriptor above stderr that the user's program left inheritable is closed on exec: the
 * child gets its stdio and nothing else. */
CHILD_CODE static void child_cloexec_rest(void) {
  if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0) return;
  struct rlimit rl;
  long max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
    max = (long)rl.rlim_cur;
  for (int fd = 3; fd < max; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC)) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
  }
}

CHILD_CODE static int child_main(void *arg) {
  const child_args *a = arg;
  int errfd = a->errfd;
  int fds[3] = {a->fds[0], a->fds[1], a->fds[2]};
  int chanfd = a->chanfd;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL); /* glibc-internal ones fail: fine */

  if (a->detached && setsid() < 0) child_fail(a, errfd, STEP_SETSID);
  if (!a->detached && a->new_group && setpgid(0, 0) < 0) child_fail(a, errfd, STEP_SETSID);
  if (a->guardian_fd >= 0) { /* the guardian learns the group before anything runs in it */
    pid_t me = getpid();
    if (send(a->guardian_fd, &me, sizeof me, MSG_NOSIGNAL) != (ssize_t)sizeof me) child_fail(a, errfd, STEP_GUARDIAN);
  }

  /* Anything sitting on 0..2 that is not already in place would be overwritten by the dup2()s
   * below: move it up first (the error pipe too, if the parent had closed its stdio). */
  if (errfd >= 0 && errfd < 3) {
    int n = fcntl(errfd, F_DUPFD_CLOEXEC, 3);
    if (n < 0) child_fail(a, errfd, STEP_DUP2);
    errfd = n;
  }
  for (int i = 0; i < 3; i++) {
    if (fds[i] < 3 && fds[i] != i) {
      int n = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
      if (n < 0) child_fail(a, errfd, STEP_DUP2);
      fds[i] = n;
    }
  }
  /* The channel's end goes above anything it could collide with before its final dup2. */
  if (chanfd >= 0 && chanfd <= (a->chan_target > 2 ? a->chan_target : 2)) {
    int n = fcntl(chanfd, F_DUPFD_CLOEXEC, (a->chan_target > 2 ? a->chan_target : 2) + 1);
    if (n < 0) child_fail(a, errfd, STEP_DUP2);
    chanfd = n;
  }
  if (errfd >= 0 && errfd == a->chan_target) {
    int n = fcntl(errfd, F_DUPFD_CLOEXEC, a->chan_target + 1);
    if (n < 0) child_fail(a, errfd, STEP_DUP2);
    errfd = n;
  }
  for (int i = 0; i < 3; i++) {
    if (fds[i] == i) {
      if (fcntl(i, F_SETFD, 0) < 0) {
        /* Inherited from a parent that has no such stream: the null device, never a closed stream.
         * (The library keeps its own descriptors off 0..2, so an open i is the parent's own; every
         * lower slot is filled by now, so the lowest free number open() returns is i.) */
        int n = errno == EBADF ? open("/dev/null", O_RDWR) : -1;
        if (n < 0) child_fail(a, errfd, STEP_DUP2);
        if (n != i && (dup2(n, i) < 0 || close(n) < 0)) child_fail(a, errfd, STEP_DUP2);
      }
    } else if (dup2(fds[i], i) < 0) {
      child_fail(a, errfd, STEP_DUP2);
    }
  }

  if (chanfd >= 0 && dup2(chanfd, a->chan_target) < 0) child_fail(a, errfd, STEP_DUP2);

  if (a->cwd && chdir(a->cwd) < 0) child_fail(a, errfd, STEP_CHDIR);
  /* Credentials by raw system calls: on Linux they belong to the calling task alone, which is what
   * this child is (glibc's wrappers would try to change every thread of the parent's). */
  if ((a->set_uid || a->set_gid) && geteuid() == 0 && syscall(SYS_SETGROUPS, 0, NULL) < 0)
    child_fail(a, errfd, STEP_SETGROUPS);
  if (a->set_gid && syscall(SYS_SETRESGID, a->gid, a->gid, a->gid) < 0) child_fail(a, errfd, STEP_SETGID);
  if (a->set_uid && syscall(SYS_SETRESUID, a->uid, a->uid, a->uid) < 0) child_fail(a, errfd, STEP_SETUID);
  /* After the credentials: the kernel clears the parent-death signal when they change. */
  if (a->pdeath) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_fail(a, errfd, STEP_PDEATHSIG);
    if (getppid() != a->parent_pid) _exit(127); /* the parent died before the line above */
  }

  child_cloexec_rest();
  if (a->chan_target > 2 && fcntl(a->chan_target, F_SETFD, 0) < 0) child_fail(a, errfd, STEP_DUP2);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (!a->candidates) {
    execve(a->path, a->argv, a->envp);
    child_fail(a, errfd, STEP_EXECVE);
  }
  /* execvp's search, as the new user: go on past what this user may not run or cannot find. */
  int seen = ENOENT;
  for (char *const *c = a->candidates; *c; c++) {
    execve(*c, a->argv, a->envp);
    if (errno == EACCES) seen = EACCES;
    else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT)
      child_fail(a, errfd, STEP_EXECVE);
  }
  errno = seen;
  child_fail(a, errfd, STEP_EXECVE);
  return 127;
}

/* ---- in the parent ---- */

/* Whether pidfds work here: 1 or 0, or -errno when the probe could not tell (no descriptor or memory
 * left: the caller fails with that, rather than falling back to SIGCHLD for good). Probed until an
 * answer is certain. */
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static int pidfd_state; /* 0 unknown, 1 yes, -1 no */

static int pidfd_usable(void) {
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

/* The moment of starting the child, for os_spawn() and the spawner thread. */
typedef struct start_job {
  child_args *a;
  bool use_fork, use_pidfd;
  void *stack;
  pid_t pid;
  int pidfd;
  int err;
} start_job;

static void start_child(start_job *j) {
  /* Every signal is blocked until the child has reset its handlers: a handler of the parent's must
   * never run in a child that shares the parent's memory. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  if (j->a->pdeath) j->a->parent_pid = getpid();
  if (j->use_fork) {
    j->pid = fork();
    if (j->pid == 0) child_main(j->a);
    if (j->pid > 0 && j->use_pidfd) j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
  } else {
    /* Watched by pidfd, the child reports its end with no signal (exit signal 0): the kernel does
     * not reap it even when the application ignores SIGCHLD, no SIGCHLD handler of the
     * application's runs for it, and a waitpid(-1) elsewhere in the program does not take it. */
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

/* The guardians' descriptors (see start_guardian), for the fork handler. */
static pthread_mutex_t guardian_lock = PTHREAD_MUTEX_INITIALIZER;
static guardian_link guardians = {-1, &guardians, &guardians};

static void atfork_prepare(void) { pthread_mutex_lock(&guardian_lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&guardian_lock); }

static void atfork_child(void) {
  /* Only the forking thread exists here: no spawner thread (its lock and job, if another thread was
   * using it, belonged to threads that are not here), and the guardians are the parent's. */
  for (guardian_link *g = guardians.next; g != &guardians; g = g->next) {
    close(g->fd);
    g->fd = -1;
  }
  guardians.next = guardians.prev = &guardians;
  spawner_running = false;
  spawner_job = NULL;
  spawner_done = false;
  pthread_mutex_init(&guardian_lock, NULL);
  pthread_mutex_init(&spawner_lock, NULL);
  pthread_cond_init(&spawner_cond, NULL);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_error;
static void atfork_install(void) { atfork_error = pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

static void guardian_track(guardian_link *g, int fd) {
  g->fd = fd;
  pthread_mutex_lock(&guardian_lock);
  g->next = guardians.next;
  g->prev = &guardians;
  guardians.next->prev = g;
  guardians.next = g;
  pthread_mutex_unlock(&guardian_lock);
}

/* Takes g off the list and returns its descriptor (-1 if a fork handler already closed it). */
static int guardian_untrack(guardian_link *g) {
  pthread_mutex_lock(&guardian_lock);
  int fd = g->fd;
  if (g->next) {
    g->prev->next = g->next;
    g->next->prev = g->prev;
  }
  g->next = g->prev = NULL;
  g->fd = -1;
  pthread_mutex_unlock(&guardian_lock);
  return fd;
}

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

/* A tree that must die with this process: the child's PDEATHSIG covers only the child, so a small
 * guardian process (in its own session, so a kill of our group spares it) waits on a socket whose
 * other end only we hold (a copy made by our own fork() is closed in that copy). It is started before
 * the child; the child itself sends its pid (its group's id) before it execs, so there is no moment
 * when the tree runs unguarded. Then end of file (we are gone) -> the guardian kills the whole group;
 * any further byte (we released the child normally) -> it leaves. A release before the child's pid
 * (the spawn failed) is a pid of 0, which the guardian takes as "nothing to guard". Writes use
 * MSG_NOSIGNAL, so a guardian that was killed costs us no SIGPIPE. The guardian is double-forked (init
 * reaps it, never us) and drops every signal handler and mask of ours at once. */
static bool read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += (size_t)n;
  }
  return true;
}

static void guardian_main(int fd) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid();
  if (fd > 0) syscall(SYS_close_range, 0u, (unsigned)fd - 1, 0u);
  syscall(SYS_close_range, (unsigned)fd + 1, ~0u, 0u);
  pid_t pgid;
  char b;
  if (!read_full(fd, &pgid, sizeof pgid) || pgid <= 1) posix_exit_flushed(0); /* the child never started */
  if (!read_full(fd, &b, 1)) kill(-pgid, SIGKILL);
  posix_exit_flushed(0);
}

static int start_guardian(guardian_link *g, const char **syscall_name) {
  int gp[2];
  *syscall_name = "socketpair";
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gp) < 0 || posix_pair_above_stdio(gp) < 0)
    return posix_error(errno);
  /* On the list before the fork, so a concurrent fork() elsewhere closes its copy too. */
  guardian_track(g, gp[1]);
  *syscall_name = "fork";
  pid_t mid = fork();
  if (mid < 0) {
    int e = errno;
    close(gp[0]);
    close(guardian_untrack(g));
    return posix_error(e);
  }
  if (mid == 0) {
    if (fork() != 0) posix_exit_flushed(0); /* the middle process: gone at once, the guardian goes to init */
    guardian_main(gp[0]);
  }
  close(gp[0]);
  while (waitpid(mid, NULL, 0) < 0 && errno == EINTR) {
  }
  return 0;
}

/* Tells the guardian (if any) to leave the tree be, and lets go of it. */
static void release_guardian(guardian_link *g) {
  int fd = guardian_untrack(g);
  if (fd < 0) return;
  static const pid_t release = 0; /* a "nothing to guard" pid, or a byte after the real one */
  ssize_t n = send(fd, &release, sizeof release, MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)n;
  close(fd);
}

static bool is_executable_file(const char *path, int *err) {
  struct stat st;
  if (stat(path, &st) < 0) {
    *err = errno;
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *err = EACCES;
    return false;
  }
  if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0) {
    *err = errno;
    return false;
  }
  return true;
}

/* execvp's search, done before the child exists: the first executable regular file on PATH wins;
 * if none, EACCES when one was found but could not be run, else ENOENT. With no PATH, the POSIX
 * default (glibc's confstr(_CS_PATH), as Node). Relative PATH entries (and the empty entry, meaning
 * ".") name places relative to the child's cwd, as in `sh -c 'cd cwd; exec file'`: the check looks
 * at cwd/entry/file, the child execs entry/file after its chdir. A child that runs as another user
 * (set_uid/set_gid) cannot be judged by our access rights: it gets the list of candidates in
 * *candidates (NULL-terminated, one allocation) and tries them itself, as that user. */
static int search_path(const char *file, const char *path_env, const char *cwd, bool as_other_user, char **out,
                       char ***candidates, cp_error *err) {
  *candidates = NULL;
  if (strchr(file, '/')) {
    *out = cp__strdup(file);
    return *out ? 0 : cp__error_set(err, CP_ENOMEM, ENOMEM, "spawn", file);
  }
  if (strlen(file) > NAME_MAX) return cp__error_set(err, CP_ENAMETOOLONG, ENAMETOOLONG, "spawn", file);
  if (!path_env) path_env = "/bin:/usr/bin";
  size_t flen = strlen(file), clen = cwd ? strlen(cwd) : 0, plen = strlen(path_env), entries = 1;
  for (const char *q = path_env; *q; q++) entries += *q == ':';
  char *cand = malloc(plen + clen + flen + 5);
  char **list = as_other_user ? malloc((entries + 1) * sizeof(char *) + plen + entries * (flen + 3)) : NULL;
  if (!cand || (as_other_user && !list)) {
    free(cand);
    free(list);
    return cp__error_set(err, CP_ENOMEM, ENOMEM, "spawn", file);
  }
  char *store = list ? (char *)(list + entries + 1) : NULL;
  size_t n = 0;
  int seen = ENOENT;
  const char *p = path_env;
  for (;;) {
    const char *end = strchr(p, ':');
    size_t dlen = end ? (size_t)(end - p) : strlen(p);
    bool relative = dlen == 0 || p[0] != '/';
    char *w = cand;
    if (cwd && relative) {
      memcpy(w, cwd, clen);
      w += clen;
      *w++ = '/';
    }
    char *exec_form = w; /* what the child execs, relative to its own cwd */
    if (dlen) {
      memcpy(w, p, dlen);
      w += dlen;
    } else {
      *w++ = '.';
    }
    *w++ = '/';
    memcpy(w, file, flen + 1);
    if (list) {
      size_t len = strlen(exec_form) + 1;
      list[n++] = memcpy(store, exec_form, len);
      store += len;
    } else {
      int e = 0;
      if (is_executable_file(cand, &e)) {
        memmove(cand, exec_form, strlen(exec_form) + 1);
        *out = cand;
        return 0;
      }
      if (e != ENOENT && e != ENOTDIR) seen = EACCES;
    }
    if (!end) break;
    p = end + 1;
  }
  free(cand);
  if (list) {
    list[n] = NULL;
    *out = cp__strdup(file);
    if (!*out) {
      free(list);
      return cp__error_set(err, CP_ENOMEM, ENOMEM, "spawn", file);
    }
    *candidates = list;
    return 0;
  }
  return cp__error_set(err, posix_error(seen), seen, "spawn", file);
}

static void proc_finish(os_proc *p, int st, bool reaped) {
  p->reaped = true;
  if (p->w.fd >= 0) {
    posix_watch(p->loop, &p->w, 0);
    close(p->w.fd);
    p->w.fd = -1;
  }
  int64_t status = -1;
  int sig = 0;
  if (reaped && WIFEXITED(st))
    status = WEXITSTATUS(st);
  else if (reaped && WIFSIGNALED(st))
    sig = WTERMSIG(st);
  /* !reaped (ECHILD): someone else's waitpid(-1) reaped it; the status is lost. */
  p->cb(p, p->data, status, sig);
}

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

static bool pidfd_exit_status(int fd, int *status) {
  struct cp_pidfd_info info;
  memset(&info, 0, sizeof info);
  info.mask = CP_PIDFD_INFO_EXIT;
  if (fd < 0 || ioctl(fd, CP_PIDFD_GET_INFO, &info) < 0 || !(info.mask & CP_PIDFD_INFO_EXIT)) return false;
  *status = info.exit_code;
  return true;
}

static void proc_on_pidfd(posix_watcher *w, unsigned revents) {
  os_proc *p = (os_proc *)((char *)w - offsetof(os_proc, w));
  (void)revents;
  int st = 0;
  pid_t r;
  if (p->group) {
    /* A group leader is only looked at: while it is our zombie, no process can take its pid, so
     * its group id cannot come to name anyone else's group (reaped in os_proc_free). */
    siginfo_t info;
    memset(&info, 0, sizeof info);
    do {
      r = waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOHANG | WNOWAIT | __WALL);
    } while (r < 0 && errno == EINTR);
    if (r == 0 && info.si_pid == 0) return; /* not yet */
    if (r == 0) {
      p->held = true;
      proc_finish(p, posix_wait_status(&info), true);
      return;
    }
  } else {
    do {
      r = waitpid(p->pid, &st, WNOHANG | __WALL);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return; /* not yet: a spurious wake-up */
    if (r > 0) {
      proc_finish(p, st, true);
      return;
    }
  }
  /* Reaped by someone else (ECHILD): the pidfd may still know how it ended. */
  bool known = pidfd_exit_status(p->w.fd, &st);
  proc_finish(p, st, known);
}

static void proc_on_sigchld(posix_sigchld_entry *e, int wstatus, bool reaped) {
  os_proc *p = (os_proc *)((char *)e - offsetof(os_proc, chld));
  p->chld_owner = NULL;
  p->held = e->held;
  proc_finish(p, wstatus, reaped);
}

int64_t os_proc_pid(const os_proc *p) { return p->pid; }

int os_proc_kill(os_proc *p, int signum) {
  if (p->reaped) return CP_ESRCH;
  siginfo_t info;
  memset(&info, 0, sizeof info);
  /* Exited but not yet reaped: report it gone, as after the reaping. Reaped by someone else (a
   * waitpid(-1) elsewhere): gone too, and its pid may already be another process's. */
  if (waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 ? info.si_pid == p->pid
                                                                                     : errno == ECHILD)
    return CP_ESRCH;
  /* Not reaped yet, so the pid cannot have been reused: plain kill() is as safe as the pidfd. */
  int r = p->w.fd >= 0 ? (int)syscall(SYS_pidfd_send_signal, p->w.fd, signum, NULL, 0) : kill(p->pid, signum);
  if (r < 0) return posix_error(errno);
  return 0;
}

int os_proc_kill_tree(os_proc *p, int signum) {
  if (!p->group) return CP_EINVAL;
  /* The group keeps its id while any member lives, and the leader, once exited, is held as our
   * zombie until the child is freed (proc_on_pidfd, and sigchld.c): the id names this group and no
   * other. (Not where the application has SIGCHLD ignored and exits are watched by SIGCHLD: there
   * the leader is reaped at once, and the id could be reused once every member is gone.) */
  if (killpg(p->pid, signum) < 0) return posix_error(errno);
  return 0;
}

void os_proc_free(os_proc *p) {
  if (!p) return;
  release_guardian(&p->guardian);
  if (p->chld_owner) posix_sigchld_remove(p->chld_owner, &p->chld);
  if (p->held) { /* the group leader kept as a zombie: its group id may be reused from now on */
    while (waitpid(p->pid, NULL, __WALL) < 0 && errno == EINTR) {
    }
  }
  if (p->w.fd >= 0) {
    posix_watch(p->loop, &p->w, 0);
    close(p->w.fd);
  }
  free(p);
}

static const char *step_syscall(int step) {
  switch (step) {
  case STEP_SETSID:
    return "setsid";
  case STEP_DUP2:
    return "dup2";
  case STEP_CHDIR:
    return "chdir";
  case STEP_SETGROUPS:
    return "setgroups";
  case STEP_SETGID:
    return "setgid";
  case STEP_SETUID:
    return "setuid";
  case STEP_PDEATHSIG:
    return "prctl";
  case STEP_GUARDIAN:
    return "send";
  default:
    return "execve";
  }
}

static int report_child_error(const child_report *r, const char *path, const char *cwd, cp_error *err) {
  const char *sc = step_syscall(r->step);
  int code = posix_error(r->err);
  if (r->step == STEP_CHDIR) return cp__error_set(err, code, r->err, sc, cwd);
  if (r->step == STEP_EXECVE && r->err == EACCES) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
      return cp__error_setf(err, code, r->err, sc, path, "%s %.200s EACCES: is a directory", sc, path);
  }
  if (r->step == STEP_EXECVE && r->err == ENOEXEC)
    return cp__error_setf(err, code, r->err, sc, path,
                          "%s %.200s ENOEXEC: not an executable format (a script needs a #! line)", sc, path);
  return cp__error_set(err, code, r->err, sc, r->step == STEP_EXECVE ? path : NULL);
}

int os_spawn(os_loop *loop, const os_spawn_req *req, os_exit_cb exit_cb, void *data, os_proc **proc,
             os_stream *pipes[3], os_stream **channel, cp_error *err) {
  int child_fds[3] = {-1, -1, -1}, parent_fds[3] = {-1, -1, -1}, owned[3] = {-1, -1, -1};
  int errpipe[2] = {-1, -1}, pidfd = -1, chan[2] = {-1, -1}, child_guardian_fd = -1;
  guardian_link guardian = {-1, NULL, NULL};
  char *path = NULL, **candidates = NULL;
  void *stack = NULL;
  os_proc *p = NULL;
  int rc;
  pipes[0] = pipes[1] = pipes[2] = NULL;
  *proc = NULL;
  *channel = NULL;

  posix_reserve_stdio();
  int usable = pidfd_usable();
  if (usable < 0) return cp__error_set(err, posix_error(-usable), -usable, "pidfd_open", NULL);
#ifdef CP_FORCE_SIGCHLD
  bool use_pidfd = false;
#else
  bool use_pidfd = usable;
#endif
  posix_sigchld *chld = NULL;
  if (!use_pidfd) {
    const char *sc = "sigaction";
    rc = posix_sigchld_get(loop, posix_loop_sigchld(loop), &sc);
    if (rc) return cp__error_set(err, rc, errno, sc, NULL);
    chld = *posix_loop_sigchld(loop);
  }
  if (req->kill_on_parent_exit) {
    pthread_once(&atfork_once, atfork_install);
    if (atfork_error) return cp__error_set(err, posix_error(atfork_error), atfork_error, "pthread_atfork", NULL);
  }

  rc = search_path(req->file, req->path_env, req->cwd, req->set_uid || req->set_gid, &path, &candidates, err);
  if (rc) return rc;

  for (int i = 0; i < 3; i++) {
    switch (req->stdio[i].kind) {
    case CP_STDIO_PIPE: {
      int fds[2];
      if (pipe2(fds, O_CLOEXEC) < 0 || posix_pair_above_stdio(fds) < 0) {
        rc = cp__error_set(err, posix_error(errno), errno, "pipe", NULL);
        goto fail;
      }
      int child_end = i == 0 ? fds[0] : fds[1], parent_end = i == 0 ? fds[1] : fds[0];
      child_fds[i] = owned[i] = child_end;
      parent_fds[i] = parent_end;
      fcntl(parent_end, F_SETFL, fcntl(parent_end, F_GETFL) | O_NONBLOCK);
      break;
    }
    case CP_STDIO_INHERIT: /* the child puts the null device there if we have no such stream */
      child_fds[i] = i;
      break;
    case CP_STDIO_IGNORE:
      owned[i] = posix_fd_above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
      if (owned[i] < 0) {
        rc = cp__error_set(err, posix_error(errno), errno, "open", "/dev/null");
        goto fail;
      }
      child_fds[i] = owned[i];
      break;
    case CP_STDIO_FD: /* checked open by shared code (cp__check_stdio) before any fd of ours existed */
      child_fds[i] = req->stdio[i].fd;
      break;
    case CP_STDIO_CHANNEL: /* shared code turns it into channel_fd before it gets here */
      rc = cp__error_set(err, CP_EINVAL, 0, "spawn", NULL);
      goto fail;
    }
  }

  if (req->channel_fd >= 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) < 0 || posix_pair_above_stdio(chan) < 0) {
      rc = cp__error_set(err, posix_error(errno), errno, "socketpair", NULL);
      goto fail;
    }
    fcntl(chan[0], F_SETFL, fcntl(chan[0], F_GETFL) | O_NONBLOCK);
  }

  /* A failed exec is reported through a CLOEXEC pipe when the child is a fork (its memory is its
   * own), and in shared memory when it is a CLONE_VM child. */
  bool use_fork = CP_SPAWN_ALWAYS_FORK;
  child_report report = {0, 0};
  if (use_fork && (pipe2(errpipe, O_CLOEXEC) < 0 || posix_pair_above_stdio(errpipe) < 0)) {
    rc = cp__error_set(err, posix_error(errno), errno, "pipe", NULL);
    goto fail;
  }

  if (req->kill_on_parent_exit && (req->new_group || req->detached)) {
    const char *sc;
    rc = start_guardian(&guardian, &sc);
    if (rc) {
      cp__error_set(err, rc, errno, sc, NULL);
      goto fail;
    }
    child_guardian_fd = guardian.fd;
    /* A forked child runs our fork handler, which closes guardian.fd: it gets its own copy. */
    if (use_fork && (child_guardian_fd = fcntl(guardian.fd, F_DUPFD_CLOEXEC, 3)) < 0) {
      rc = cp__error_set(err, posix_error(errno), errno, "fcntl", NULL);
      goto fail;
    }
  }

  child_args a = {
      .guardian_fd = child_guardian_fd,
      .pdeath = req->kill_on_parent_exit,
      .chanfd = chan[1],
      .chan_target = req->channel_fd,
      .path = path,
      .candidates = candidates,
      .argv = (char *const *)req->argv,
      .envp = (char *const *)req->envp,
      .cwd = req->cwd,
      .fds = {child_fds[0], child_fds[1], child_fds[2]},
      .errfd = errpipe[1],
      .report = use_fork ? NULL : &report,
      .detached = req->detached,
      .new_group = req->new_group,
      .set_uid = req->set_uid,
      .set_gid = req->set_gid,
      .uid = (uid_t)req->uid,
      .gid = (gid_t)req->gid,
  };

  if (!use_fork) {
    stack = malloc(CHILD_STACK_SIZE);
    if (!stack) {
      rc = cp__error_set(err, CP_ENOMEM, ENOMEM, "spawn", NULL);
      goto fail;
    }
  }

  start_job job = {.a = &a, .use_fork = use_fork, .use_pidfd = use_pidfd, .stack = stack, .pidfd = -1};
  if (req->kill_on_parent_exit)
    run_on_spawner_thread(&job);
  else
    start_child(&job);
  pid_t pid = job.pid;
  int fork_errno = job.err;
  pidfd = job.pidfd;
  pidfd = posix_fd_above_stdio(pidfd); /* -1 (none, or it failed): handled below as no pidfd */
  free(stack);
  stack = NULL;

  if (errpipe[1] >= 0) close(errpipe[1]);
  errpipe[1] = -1;
  if (pid < 0) {
    rc = cp__error_set(err, posix_error(fork_errno), fork_errno, use_fork ? "fork" : "clone", NULL);
    goto fail;
  }

  ssize_t n = ((volatile child_report *)&report)->step ? (ssize_t)sizeof report : 0;
  if (use_fork) {
    do {
      n = read(errpipe[0], &report, sizeof report);
    } while (n < 0 && errno == EINTR);
  }
  if (n != 0) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (n == (ssize_t)sizeof report)
      rc = report_child_error(&report, path, req->cwd, err);
    else
      rc = cp__error_set(err, CP_EIO, n < 0 ? errno : 0, "spawn", path);
    goto fail;
  }
  if (use_pidfd && pidfd < 0) {
    /* Only the fork path can get here (pidfd_open failed): the child runs, but cannot be watched. */
    int e = errno;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    rc = cp__error_set(err, posix_error(e), e, "pidfd_open", NULL);
    goto fail;
  }

  p = calloc(1, sizeof *p);
  if (!p) goto fail_started;
  p->loop = loop;
  p->pid = pid;
  p->guardian.fd = -1;
  p->group = req->new_group || req->detached;
  p->cb = exit_cb;
  p->data = data;
  p->w.fd = pidfd;
  p->w.cb = proc_on_pidfd;
  p->w.slot = -1;
  pidfd = -1;
  if (use_pidfd) {
    if (posix_watch(loop, &p->w, POLLIN)) goto fail_started;
  } else {
    p->chld.pid = pid;
    p->chld.hold = p->group;
    p->chld.on_exit = proc_on_sigchld;
    p->chld_owner = chld;
    posix_sigchld_add(chld, &p->chld);
  }
  for (int i = 0; i < 3; i++) {
    if (parent_fds[i] < 0) continue;
    if (posix_stream_new(loop, parent_fds[i], &pipes[i])) goto fail_started;
    parent_fds[i] = -1;
  }
  if (chan[0] >= 0) {
    if (posix_stream_new(loop, chan[0], channel)) goto fail_started;
    chan[0] = -1;
    close(chan[1]);
    chan[1] = -1;
  }
  for (int i = 0; i < 3; i++)
    if (owned[i] >= 0) close(owned[i]);
  if (errpipe[0] >= 0) close(errpipe[0]);
  free(path);
  free(candidates);
  if (use_fork && child_guardian_fd >= 0) close(child_guardian_fd);
  if (guardian.fd >= 0) { /* released when the proc is freed */
    int g = guardian_untrack(&guardian);
    if (g >= 0) guardian_track(&p->guardian, g);
  }
  *proc = p;
  return 0;

fail_started:
  /* Out of memory after the child started: it must not be left running or as a zombie. */
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  if (p) p->reaped = true;
  rc = cp__error_set(err, CP_ENOMEM, ENOMEM, "spawn", NULL);
fail:
  for (int i = 0; i < 3; i++) {
    if (pipes[i]) os_stream_close(pipes[i]);
    pipes[i] = NULL;
    if (parent_fds[i] >= 0) close(parent_fds[i]);
    if (owned[i] >= 0) close(owned[i]);
  }
  if (*channel) os_stream_close(*channel);
  *channel = NULL;
  if (chan[0] >= 0) close(chan[0]);
  if (chan[1] >= 0) close(chan[1]);
  if (p) os_proc_free(p);
  if (pidfd >= 0) close(pidfd);
  if (errpipe[0] >= 0) close(errpipe[0]);
  if (errpipe[1] >= 0) close(errpipe[1]);
  if (use_fork && child_guardian_fd >= 0) close(child_guardian_fd);
  release_guardian(&guardian);
  free(stack);
  free(path);
  free(candidates);
  return rc;
}
