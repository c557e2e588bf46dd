/* child.c - what a child started by fork() or clone() does before it execs (both spawn paths).
 *
 * Async-signal-safe calls only, no allocation, and no write to shared memory but the failure report
 * of the clone path: the child may be running in the parent's memory (CLONE_VM), or be the forked
 * copy of a multithreaded parent. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

CHILD_CODE void posix_child_fail(const child_ctx *x, int step) {
  if (x->report) {
    x->report->err = errno;
    x->report->step = step;
    _exit(127);
  }
  child_report r = {step, errno};
  ssize_t n;
  do {
    n = write(x->errfd, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  posix_exit_flushed(127); /* a fork: its own memory (a coverage build writes its counters) */
}

CHILD_CODE void posix_child_setup(child_ctx *x) {
  const posix_child *a = x->c;
  int fds[3] = {a->fds[0], a->fds[1], a->fds[2]};
  int chanfd = a->chanfd;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL); /* libc-internal ones fail: fine */

  if (a->detached && setsid() < 0) posix_child_fail(x, STEP_SETSID);
  if (!a->detached && a->new_group && setpgid(0, 0) < 0) posix_child_fail(x, STEP_SETSID);
  if (a->guardian_fd >= 0) { /* the guardian learns whom to guard before anything runs */
    pid_t target = posix_guardian_target(getpid(), a->guardian_group);
    if (send(a->guardian_fd, &target, sizeof target, MSG_NOSIGNAL) != (ssize_t)sizeof target)
      posix_child_fail(x, STEP_GUARDIAN);
  }

  /* Anything sitting on 0..2 that is not already in place would be overwritten by the dup2()s
   * below: move it up first (the error pipe too, if the parent had closed its stdio). */
  if (x->errfd >= 0 && x->errfd < 3) {
    int n = fcntl(x->errfd, F_DUPFD_CLOEXEC, 3);
    if (n < 0) posix_child_fail(x, STEP_DUP2);
    x->errfd = n;
  }
  for (int i = 0; i < 3; i++) {
    if (fds[i] < 3 && fds[i] != i) {
      int n = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
      if (n < 0) posix_child_fail(x, STEP_DUP2);
      fds[i] = n;
    }
  }
  /* The channel's end goes above anything it could collide with before its final dup2. */
  if (chanfd >= 0 && chanfd <= (a->chan_target > 2 ? a->chan_target : 2)) {
    int n = fcntl(chanfd, F_DUPFD_CLOEXEC, (a->chan_target > 2 ? a->chan_target : 2) + 1);
    if (n < 0) posix_child_fail(x, STEP_DUP2);
    chanfd = n;
  }
  if (x->errfd >= 0 && x->errfd == a->chan_target) {
    int n = fcntl(x->errfd, F_DUPFD_CLOEXEC, a->chan_target + 1);
    if (n < 0) posix_child_fail(x, STEP_DUP2);
    x->errfd = n;
  }
  for (int i = 0; i < 3; i++) {
    if (fds[i] == i) {
      if (fcntl(i, F_SETFD, 0) < 0) {
        /* Inherited from a parent that has no such stream: the null device, never a closed stream.
         * (The library keeps its own descriptors off 0..2, so an open i is the parent's own; every
         * lower slot is filled by now, so the lowest free number open() returns is i.) */
        int n = errno == EBADF ? open("/dev/null", O_RDWR) : -1;
        if (n < 0) posix_child_fail(x, STEP_DUP2);
        if (n != i && (dup2(n, i) < 0 || close(n) < 0)) posix_child_fail(x, STEP_DUP2);
      }
    } else if (dup2(fds[i], i) < 0) {
      posix_child_fail(x, STEP_DUP2);
    }
  }

  if (chanfd >= 0 && dup2(chanfd, a->chan_target) < 0) posix_child_fail(x, STEP_DUP2);
  if (a->cwd && chdir(a->cwd) < 0) posix_child_fail(x, STEP_CHDIR);
}

CHILD_CODE void posix_child_cloexec_loop(int from) {
  struct rlimit rl;
  long max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
    max = (long)rl.rlim_cur;
  for (int fd = from; fd < max; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC)) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
  }
}

CHILD_CODE void posix_child_exec(child_ctx *x) {
  const posix_child *a = x->c;
  if (a->chan_target > 2 && fcntl(a->chan_target, F_SETFD, 0) < 0) posix_child_fail(x, STEP_DUP2);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (!a->candidates) {
    execve(a->path, a->argv, a->envp);
    posix_child_fail(x, STEP_EXECVE);
  }
  /* execvp's search, as the new user: go on past what this user may not run or cannot find. */
  int seen = ENOENT;
  for (char *const *c = a->candidates; *c; c++) {
    execve(*c, a->argv, a->envp);
    if (errno == EACCES) seen = EACCES;
    else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT)
      posix_child_fail(x, STEP_EXECVE);
  }
  errno = seen;
  posix_child_fail(x, STEP_EXECVE);
}
