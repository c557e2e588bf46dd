/* spawn_portable.c - starting a child with POSIX interfaces only: posix_spawn() where it can express
 * the request, fork()+exec where it cannot (macOS, the BSDs, and Linux built with
 * CHILDPROC_PORTABLE_POSIX=ON; the choices below are made by CMake's feature checks).
 *
 * posix_spawn() resets every signal to its default and empties the mask (SETSIGDEF | SETSIGMASK),
 * starts a session or group (SETSID / SETPGROUP), puts stdio and the channel in place (adddup2), and
 * leaves the child nothing else: Apple's POSIX_SPAWN_CLOEXEC_DEFAULT (with addinherit_np for the
 * descriptors kept in place), or addclosefrom_np (glibc 2.34, FreeBSD 13.1). The cwd is set by
 * addchdir_np where it exists; it is checked in the parent first, so a bad cwd is still reported as
 * `chdir`, not as the exec. fork()+exec takes over for what posix_spawn cannot do: set_uid/set_gid,
 * kill_on_parent_exit (the child tells the guardian its pid itself before it execs, and FreeBSD's
 * procctl(PROC_PDEATHSIG_CTL) is set after the credentials), a cwd without addchdir_np, a session
 * without SETSID, a channel above descriptor 3 where only addclosefrom_np exists, and systems with
 * neither way of closing stray descriptors (there the child closes them one by one: slower). The
 * forked child reports a failure before exec through a close-on-exec pipe, and is reaped before
 * posix_start_child() returns. */
#include "spawn.h"
#include "../internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef CP_HAVE_PROCCTL_PDEATHSIG
#include <sys/procctl.h>
#endif

#if defined(POSIX_SPAWN_CLOEXEC_DEFAULT) && defined(CP_HAVE_ADDINHERIT_NP)
#define CAN_CLOSE_REST 1
#define CLOSE_REST_APPLE 1
#elif defined(CP_HAVE_ADDCLOSEFROM_NP)
#define CAN_CLOSE_REST 1
#else
#define CAN_CLOSE_REST 0
#endif

#ifdef POSIX_SPAWN_SETSID
#define CAN_SETSID 1
#else
#define CAN_SETSID 0
#endif

#ifdef CP_HAVE_ADDCHDIR_NP
#define CAN_CHDIR 1
#else
#define CAN_CHDIR 0
#endif

/* ---- fork()+exec ---- */

CHILD_CODE static void fork_child(child_ctx *x, pid_t parent) {
  const posix_child *a = x->c;
  (void)parent; /* without procctl: the guardian watches */
  posix_child_setup(x);
  /* A forked child is the only thread of its process: the libc calls change just it. */
  if ((a->set_uid || a->set_gid) && geteuid() == 0 && setgroups(0, NULL) < 0) posix_child_fail(x, STEP_SETGROUPS);
  if (a->set_gid && setgid(a->gid) < 0) posix_child_fail(x, STEP_SETGID);
  if (a->set_uid && setuid(a->uid) < 0) posix_child_fail(x, STEP_SETUID);
#ifdef CP_HAVE_PROCCTL_PDEATHSIG
  /* After the credentials, and then the parent checked: it may have died before the call. */
  if (a->pdeath) {
    int sig = SIGKILL;
    if (procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig) < 0) posix_child_fail(x, STEP_PDEATHSIG);
    if (getppid() != parent) _exit(127);
  }
#endif
  posix_child_cloexec_loop(3);
  posix_child_exec(x);
}

static int start_fork(const posix_child *c, pid_t *pidp, cp_error *err) {
  int errpipe[2] = {-1, -1}, rc = 0;
  posix_child cc = *c;
  cc.guardian_fd = -1;
  posix_errpipe listed = {-1, NULL}; /* an application's fork() closes its copy of the write end */
  if ((rc = posix_errpipe_open(&listed, errpipe, err))) return rc;
  /* The child runs guardian.c's fork handler, which closes the guardian's socket: it gets a copy. */
  if (c->guardian_fd >= 0 && (cc.guardian_fd = fcntl(c->guardian_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
    rc = cp__error_set(err, posix_error(errno), errno, "fcntl", NULL);
    goto out;
  }
  child_ctx x = {.c = &cc, .errfd = errpipe[1], .report = NULL};
  /* Every signal blocked until the child has reset its handlers (restored in the parent below). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t parent = getpid();
  pid_t pid = posix_fork_spawn();
  if (pid == 0) fork_child(&x, parent);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  posix_errpipe_close_write(&listed, errpipe);
  if (cc.guardian_fd >= 0) close(cc.guardian_fd);
  cc.guardian_fd = -1;
  if (pid < 0) {
    rc = cp__error_set(err, posix_error(fork_errno), fork_errno, "fork", NULL);
    goto out;
  }
  rc = posix_read_child_report(errpipe[0], pid, c->path, c->cwd, err);
  if (rc == 0) *pidp = pid;
out:
  if (errpipe[0] >= 0) close(errpipe[0]);
  posix_errpipe_close_write(&listed, errpipe);
  if (cc.guardian_fd >= 0) close(cc.guardian_fd);
  return rc;
}

/* ---- posix_spawn() ---- */

/* Whether posix_spawn() can do all of what c asks, here. */
static bool spawn_can(const posix_child *c) {
  if (c->set_uid || c->set_gid || c->pdeath || c->guardian_fd >= 0 || c->candidates) return false;
  if (!CAN_CLOSE_REST || (c->cwd && !CAN_CHDIR) || (c->detached && !CAN_SETSID)) return false;
#if !defined(CLOSE_REST_APPLE)
  if (c->chanfd >= 0 && c->chan_target > 3) return false; /* addclosefrom_np would take 3.. with it */
#endif
  return true;
}

static int start_spawn(const posix_child *c, pid_t *pidp, cp_error *err) {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t fa;
  int tmp[4] = {-1, -1, -1, -1}; /* parent-side duplicates of sources that would be overwritten */
  int fds[3] = {c->fds[0], c->fds[1], c->fds[2]}, chanfd = c->chanfd;
  const char *sc = "posix_spawn";
  int e;

  /* A source on 0..2 not in its place would be overwritten by an earlier dup2: use a copy above. */
  for (int i = 0; i < 3; i++) {
    if (fds[i] < 3 && fds[i] != i) {
      if ((tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0) return cp__error_set(err, posix_error(errno), errno, "fcntl", NULL);
      fds[i] = tmp[i];
    }
  }
  /* dup2 onto itself would leave the channel close-on-exec: use a copy. */
  if (chanfd >= 0 && chanfd == c->chan_target) {
    if ((tmp[3] = fcntl(chanfd, F_DUPFD_CLOEXEC, 3)) < 0) {
      e = errno;
      for (int i = 0; i < 3; i++)
        if (tmp[i] >= 0) close(tmp[i]);
      return cp__error_set(err, posix_error(e), e, "fcntl", NULL);
    }
    chanfd = tmp[3];
  }

  if ((e = posix_spawnattr_init(&attr)) != 0) goto done_tmp;
  if ((e = posix_spawn_file_actions_init(&fa)) != 0) {
    posix_spawnattr_destroy(&attr);
    goto done_tmp;
  }
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
#ifdef CLOSE_REST_APPLE
  flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
#if CAN_SETSID
  if (c->detached) flags |= POSIX_SPAWN_SETSID;
#endif
  if (!c->detached && c->new_group) flags |= POSIX_SPAWN_SETPGROUP;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  if ((e = posix_spawnattr_setflags(&attr, flags)) != 0 || (e = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
      (e = posix_spawnattr_setsigmask(&attr, &none)) != 0 || (e = posix_spawnattr_setpgroup(&attr, 0)) != 0)
    goto done;
  for (int i = 0; i < 3; i++) {
#ifdef CLOSE_REST_APPLE
    if (fds[i] == i) { /* kept in place: the only way through CLOEXEC_DEFAULT */
      if ((e = posix_spawn_file_actions_addinherit_np(&fa, i)) != 0) goto done;
      continue;
    }
#endif
    /* glibc and FreeBSD make a dup2 onto itself clear close-on-exec (POSIX 2024). */
    if ((e = posix_spawn_file_actions_adddup2(&fa, fds[i], i)) != 0) goto done;
  }
  if (chanfd >= 0 && (e = posix_spawn_file_actions_adddup2(&fa, chanfd, c->chan_target)) != 0) goto done;
#if defined(CP_HAVE_ADDCLOSEFROM_NP) && !defined(CLOSE_REST_APPLE)
  if ((e = posix_spawn_file_actions_addclosefrom_np(&fa, c->chanfd >= 0 && c->chan_target == 3 ? 4 : 3)) != 0)
    goto done;
#endif
#if CAN_CHDIR
  if (c->cwd && (e = posix_spawn_file_actions_addchdir_np(&fa, c->cwd)) != 0) goto done;
#endif
  sc = "execve";
  pid_t pid;
  e = posix_spawn(&pid, c->path, &fa, &attr, c->argv, c->envp);
  if (!e) *pidp = pid;
done:
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
done_tmp:
  for (int i = 0; i < 4; i++)
    if (tmp[i] >= 0) close(tmp[i]);
  if (!e) return 0;
  if (strcmp(sc, "execve") == 0) {
    /* posix_spawn() names no step: EBADF can only be a descriptor, the rest is the exec (the cwd
     * was checked before). */
    child_report r = {e == EBADF ? STEP_DUP2 : STEP_EXECVE, e};
    return posix_report_child_error(&r, c->path, c->cwd, err);
  }
  return cp__error_set(err, posix_error(e), e, sc, NULL);
}

/* A cwd that cannot be entered, found in the parent: reported as the child's chdir would be. */
static int check_cwd(const char *cwd, cp_error *err) {
  struct stat st;
  int e = 0;
  if (stat(cwd, &st) < 0)
    e = errno;
  else if (!S_ISDIR(st.st_mode))
    e = ENOTDIR;
  else if (access(cwd, X_OK) < 0)
    e = errno;
  if (!e) return 0;
  child_report r = {STEP_CHDIR, e};
  return posix_report_child_error(&r, NULL, cwd, err);
}

int posix_start_child(const posix_child *c, bool use_pidfd, pid_t *pidp, int *pidfdp, cp_error *err) {
  (void)use_pidfd;
  *pidp = -1;
  *pidfdp = -1;
  if (spawn_can(c)) {
    int rc = c->cwd ? check_cwd(c->cwd, err) : 0;
    return rc ? rc : start_spawn(c, pidp, err);
  }
  return start_fork(c, pidp, err);
}
