/* spawn.c - starting and watching a child on POSIX: what both ways of starting share.
 *
 * os_spawn() searches the program on PATH in the parent (execvp's rules, with the child's PATH; see
 * search.c), makes the stdio pipes and the channel, starts a guardian when kill_on_parent_exit needs
 * one (guardian.c), and hands the rest to posix_start_child(): spawn_linux.c (clone + pidfd) or
 * spawn_portable.c (posix_spawn, fork+exec). The child is then watched by its pidfd where there is
 * one, else by the poller where it watches exits (kqueue's EVFILT_PROC: macOS, the BSDs), else by the
 * SIGCHLD path (sigchld.c). A child that must be found by pid after its exit - a group leader (the
 * group id), or one a guardian holds by pid - is kept as our zombie until it is freed, so no other
 * process can take that pid meanwhile. */
#include "posix.h"
#include "sigchld.h"
#include "spawn.h"
#include "stream.h"
#include "../internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child watched by the SIGCHLD path: its entry on the loop's list. */
typedef struct proc_chld {
  posix_sigchld_entry e;
  posix_sigchld *owner; /* set while on the list */
  os_proc *p;
} proc_chld;

/* 80 bytes on Linux: what the pidfd path needs is inline; the SIGCHLD entry and a guardian's link are
 * allocated only for the children that have them (docs/performance.md, memory per live child). Where
 * the poller watches exits (kqueue), its exit watch is inline too. */
struct os_proc {
  os_loop *loop;
  posix_watcher w; /* on the pidfd (fd -1 when watched by SIGCHLD) */
  proc_chld *chld; /* SIGCHLD path only */
#if POSIX_POLLER_WATCHES_EXITS
  posix_exit_watch exitw; /* the poller's exit watch (kqueue EVFILT_PROC) */
#endif
  pid_t pid;
  bool reaped;
  bool held; /* exited, kept as a zombie until freed, so its pid (and group id) stays ours */
  bool hold; /* keep it as a zombie once exited: a group leader, or a child a guardian holds by pid */
  bool group;
  guardian_link *guardian; /* a guardian's socket, or NULL */
  os_exit_cb cb;
  void *data;
};

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

/* Reaps p, or with p->hold only looks at it and keeps the zombie (a group leader, or a child a
 * guardian holds by pid: while it is our zombie no process can take its pid, so its group id cannot
 * come to name anyone else's group; reaped in os_proc_free). Waits for the end when `block`, else
 * only looks. 1: ended, status in *st; 0: not yet (never when blocking); -1: someone else reaped it
 * (ECHILD). */
static int proc_wait(os_proc *p, bool block, int *st) {
  int nohang = block ? 0 : WNOHANG;
  pid_t r;
  if (p->hold) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    do {
      r = waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOWAIT | nohang | __WALL);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
    if (info.si_pid != p->pid) return 0;
    p->held = true;
    *st = posix_wait_status(&info);
    return 1;
  }
  do {
    r = waitpid(p->pid, st, nohang | __WALL);
  } while (r < 0 && errno == EINTR);
  return r > 0 ? 1 : r == 0 ? 0 : -1;
}

static void proc_on_pidfd(posix_watcher *w, unsigned revents) {
  os_proc *p = (os_proc *)((char *)w - offsetof(os_proc, w));
  (void)revents;
  int st = 0;
  int r = proc_wait(p, false, &st);
  if (r == 0) return; /* not yet: a spurious wake-up */
  /* Reaped by someone else (ECHILD): the pidfd may still know how it ended. */
  bool known = r > 0 || posix_pidfd_exit_status(p->w.fd, &st);
  proc_finish(p, st, known);
}

static void proc_on_sigchld(posix_sigchld_entry *e, int wstatus, bool reaped) {
  proc_chld *pc = (proc_chld *)((char *)e - offsetof(proc_chld, e));
  os_proc *p = pc->p;
  pc->owner = NULL;
  p->held = e->held;
  proc_finish(p, wstatus, reaped);
}

#if POSIX_POLLER_WATCHES_EXITS
/* The kernel said the child has exited: reap it, or only look at it and hold the zombie (p->hold). The
 * wait blocks, as its end is known: at most the moment between the exit and the zombie. Reaped by
 * someone else (ECHILD; also the kernel, where the application ignores SIGCHLD), the status is what
 * the kernel reported with the exit, if it did. */
static void proc_reap_exited(os_proc *p, int kernel_status, bool kernel_known) {
  int st = 0;
  if (proc_wait(p, true, &st) > 0)
    proc_finish(p, st, true);
  else
    proc_finish(p, kernel_status, kernel_known);
}

static void proc_on_kernel_exit(posix_exit_watch *x, int wstatus, bool known) {
  proc_reap_exited((os_proc *)((char *)x - offsetof(os_proc, exitw)), wstatus, known);
}

/* Fed when the child had exited before its exit watch could be registered (posix_watch_exit said
 * CP_ESRCH): reaped on the next turn, as the watch would have. */
static void proc_on_exited_early(posix_watcher *w, unsigned revents) {
  (void)revents;
  proc_reap_exited((os_proc *)((char *)w - offsetof(os_proc, w)), 0, false);
}

/* Whether the application has the kernel reap its children (SIGCHLD ignored, or SA_NOCLDWAIT), or had
 * it when the SIGCHLD path took over. Such a spawn takes the SIGCHLD path, which puts its handler in
 * and reaps the application's children itself: a child that exited before its exit watch was
 * registered would otherwise be reaped by the kernel with its status lost, and once the handler
 * reaps for the application, every library child must be on its list (sigchld.c) to be left alone. */
static bool app_ignores_sigchld(void) {
  if (posix_sigchld_emulating_ignore()) return true;
  struct sigaction sa;
  if (sigaction(SIGCHLD, NULL, &sa) < 0) return false;
  return !(sa.sa_flags & SA_SIGINFO) && (sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT));
}
#endif

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
  int r = p->w.fd >= 0 ? posix_pidfd_kill(p->w.fd, signum) : kill(p->pid, signum);
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
  if (p->guardian) {
    posix_guardian_release(p->guardian);
    free(p->guardian);
  }
  if (p->chld) {
    if (p->chld->owner) posix_sigchld_remove(p->chld->owner, &p->chld->e);
    free(p->chld);
  }
#if POSIX_POLLER_WATCHES_EXITS
  posix_unwatch_exit(p->loop, &p->exitw);
#endif
  posix_unfeed(p->loop, &p->w);
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
#ifdef CP_SPAWN_LINUX
    return "prctl";
#else
    return "procctl";
#endif
  case STEP_GUARDIAN:
    return "send";
  default:
    return "execve";
  }
}

int posix_report_child_error(const child_report *r, const char *path, const char *cwd, cp_error *err) {
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

int posix_child_report_outcome(ssize_t n, int read_errno, const child_report *r, pid_t pid, const char *path,
                               const char *cwd, cp_error *err) {
  if (n == 0) return 0;
  if (n < 0) kill(pid, SIGKILL); /* no report could be read: the child may be running its program */
  while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR) {
  }
  if (n == (ssize_t)sizeof *r) return posix_report_child_error(r, path, cwd, err);
  return cp__error_set(err, CP_EIO, n < 0 ? read_errno : 0, "spawn", path);
}

int posix_read_child_report(int errpipe, pid_t pid, const char *path, const char *cwd, cp_error *err) {
  child_report report = {0, 0};
  ssize_t n;
  do {
    n = read(errpipe, &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  return posix_child_report_outcome(n, errno, &report, pid, path, cwd, err);
}

int os_spawn(os_loop *loop, const os_spawn_req *req, os_exit_cb exit_cb, void *data, os_proc **proc,
             os_stream *pipes[3], os_stream **channel, cp_error *err) {
  int child_fds[3] = {-1, -1, -1}, parent_fds[3] = {-1, -1, -1}, owned[3] = {-1, -1, -1};
  int pidfd = -1, chan[2] = {-1, -1};
  guardian_link guardian = {-1, NULL, NULL};
  char *path = NULL, **candidates = NULL;
  os_proc *p = NULL;
  pid_t pid = -1;
  int rc;
  pipes[0] = pipes[1] = pipes[2] = NULL;
  *proc = NULL;
  *channel = NULL;

  posix_reserve_stdio();
  int usable = posix_pidfd_usable();
  if (usable < 0) return cp__error_set(err, posix_error(-usable), -usable, "pidfd_open", NULL);
#ifdef CP_FORCE_SIGCHLD
  bool use_pidfd = false;
#else
  bool use_pidfd = usable;
#endif
#if POSIX_POLLER_WATCHES_EXITS && !defined(CP_FORCE_SIGCHLD)
  bool by_poller = !use_pidfd && !app_ignores_sigchld();
#else
  bool by_poller = false;
#endif
  posix_sigchld *chld = NULL;
  if (!use_pidfd && !by_poller) {
    const char *sc = "sigaction";
    rc = posix_sigchld_get(loop, posix_loop_sigchld(loop), &sc);
    if (rc) return cp__error_set(err, rc, errno, sc, NULL);
    chld = *posix_loop_sigchld(loop);
  }

  rc = posix_search_path(req->file, req->path_env, req->cwd, req->set_uid || req->set_gid, &path, &candidates, err);
  if (rc) return rc;

  for (int i = 0; i < 3; i++) {
    switch (req->stdio[i].kind) {
    case CP_STDIO_PIPE: {
      int fds[2];
      if (posix_pipe(fds) < 0) {
        rc = cp__error_set(err, posix_error(errno), errno, "pipe", NULL);
        goto fail;
      }
      int child_end = i == 0 ? fds[0] : fds[1], parent_end = i == 0 ? fds[1] : fds[0];
      child_fds[i] = owned[i] = child_end;
      parent_fds[i] = parent_end;
      /* A new pipe has no other status flags to keep. Unchecked, a blocking end would hang the loop. */
      if (fcntl(parent_end, F_SETFL, O_NONBLOCK) < 0) {
        rc = cp__error_set(err, posix_error(errno), errno, "fcntl", NULL);
        goto fail;
      }
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
    if (posix_socketpair(chan) < 0) {
      rc = cp__error_set(err, posix_error(errno), errno, "socketpair", NULL);
      goto fail;
    }
    if (fcntl(chan[0], F_SETFL, O_NONBLOCK) < 0) {
      rc = cp__error_set(err, posix_error(errno), errno, "fcntl", NULL);
      goto fail;
    }
  }

  /* kill_on_parent_exit: the child's own parent-death signal where the platform has one; a guardian
   * for a tree (the signal covers the child alone), and for every child where there is none. */
  bool group = req->new_group || req->detached;
  bool guarded = req->kill_on_parent_exit && (group || !POSIX_HAVE_PDEATHSIG);
  if (guarded) {
    const char *sc;
    rc = posix_guardian_start(&guardian, &sc);
    if (rc) {
      cp__error_set(err, rc, errno, sc, NULL);
      goto fail;
    }
  }

  posix_child c = {
      .guardian_fd = guardian.fd,
      .guardian_group = group,
      .pdeath = req->kill_on_parent_exit && POSIX_HAVE_PDEATHSIG,
      .chanfd = chan[1],
      .chan_target = req->channel_fd,
      .path = path,
      .candidates = candidates,
      .argv = (char *const *)req->argv,
      .envp = (char *const *)req->envp,
      .cwd = req->cwd,
      .fds = {child_fds[0], child_fds[1], child_fds[2]},
      .detached = req->detached,
      .new_group = req->new_group,
      .set_uid = req->set_uid,
      .set_gid = req->set_gid,
      .uid = (uid_t)req->uid,
      .gid = (gid_t)req->gid,
  };
  rc = posix_start_child(&c, use_pidfd, &pid, &pidfd, err);
  if (rc) goto fail;

  p = calloc(1, sizeof *p);
  if (!p) goto fail_started;
  p->loop = loop;
  p->pid = pid;
  p->group = group;
  p->hold = group || guarded; /* a guardian holds its pid */
  p->cb = exit_cb;
  p->data = data;
  p->w.fd = pidfd;
  p->w.cb = proc_on_pidfd;
  p->w.slot = -1;
  pidfd = -1;
  if (guardian.fd >= 0) {
    p->guardian = malloc(sizeof *p->guardian);
    if (!p->guardian) goto fail_started;
    *p->guardian = (guardian_link){-1, NULL, NULL};
  }
  if (use_pidfd) {
    rc = posix_watch(loop, &p->w, POLLIN);
    if (rc) goto fail_started;
#if POSIX_POLLER_WATCHES_EXITS
  } else if (by_poller) {
    p->exitw.pid = pid;
    p->exitw.cb = proc_on_kernel_exit;
    rc = posix_watch_exit(loop, &p->exitw);
    if (rc == CP_ESRCH) {
      rc = 0;
      p->w.cb = proc_on_exited_early;
      posix_feed(loop, &p->w);
    } else if (rc) {
      goto fail_started;
    }
#endif
  } else {
    p->chld = calloc(1, sizeof *p->chld);
    if (!p->chld) goto fail_started;
    p->chld->p = p;
    p->chld->e.pid = pid;
    p->chld->e.hold = p->hold;
    p->chld->e.on_exit = proc_on_sigchld;
    p->chld->owner = chld;
    posix_sigchld_add(chld, &p->chld->e);
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
  free(path);
  free(candidates);
  if (guardian.fd >= 0) { /* released when the proc is freed */
    int g = posix_guardian_untrack(&guardian);
    if (g >= 0) posix_guardian_track(p->guardian, g);
  }
  *proc = p;
  return 0;

fail_started:
  /* Out of memory (or the poller refused to watch it) after the child started: it must not be left
   * running or as a zombie. */
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR) {
  }
  if (p) p->reaped = true;
  if (!rc) rc = CP_ENOMEM;
  rc = cp__error_set(err, rc, rc == CP_ENOMEM ? ENOMEM : 0, "spawn", NULL);
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
  posix_guardian_release(&guardian);
  free(path);
  free(candidates);
  return rc;
}
