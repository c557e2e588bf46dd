/* spawn.h - the pieces of starting a child on POSIX (backend internal).
 *
 * spawn.c orchestrates (pipes, channel, guardian, the proc object, exit watching, kill and free) and
 * calls posix_start_child(), which one of two files implements, chosen by CMake's feature checks:
 *   spawn_linux.c    - clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD), pidfds, PR_SET_PDEATHSIG, the spawner
 *                      thread (Linux; CP_SPAWN_LINUX is defined);
 *   spawn_portable.c - posix_spawn() where it can express the request, fork()+exec otherwise (macOS,
 *                      the BSDs, and Linux built with CHILDPROC_PORTABLE_POSIX=ON).
 * child.c holds what a forked or cloned child does before exec; search.c the PATH search; guardian.c
 * the tree guardian; fdutil.c the close-on-exec pipe and socketpair. */
#ifndef CP_POSIX_SPAWN_H
#define CP_POSIX_SPAWN_H

#include "posix.h"

#include <stdbool.h>
#include <sys/types.h>

/* The child-side steps a failure can be reported from, as {step, errno}. */
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

/* What the child must become: filled by os_spawn(), read by posix_start_child(). */
typedef struct posix_child {
  int guardian_fd;         /* a tree guardian's socket (guardian.c), or -1 */
  bool guardian_group;     /* the guardian kills the child's group (else the child alone) */
  bool pdeath;             /* the platform's parent-death signal (prctl / procctl), see POSIX_HAVE_PDEATHSIG */
  int chanfd;              /* the child's end of the channel, or -1 */
  int chan_target;         /* the descriptor number it must have in the child */
  const char *path;        /* what to exec (searched already) */
  char *const *candidates; /* set_uid/set_gid: PATH candidates tried as the new user; else NULL */
  char *const *argv;
  char *const *envp;
  const char *cwd;
  int fds[3];
  bool detached, new_group, set_uid, set_gid;
  uid_t uid;
  gid_t gid;
} posix_child;

/* Starts the child. Returns 0 with *pid (and *pidfd when use_pidfd; else -1), or a CP_E* code with err
 * filled; a child that failed before its program ran has been reaped by then. */
int posix_start_child(const posix_child *c, bool use_pidfd, pid_t *pid, int *pidfd, cp_error *err);

/* The error of a child that failed at step r->step (spawn.c). */
int posix_report_child_error(const child_report *r, const char *path, const char *cwd, cp_error *err);

/* The outcome of a started child from its error pipe (the fork paths): reads the report (EOF: the
 * child exec'd its program, 0). Otherwise the child is reaped - killed first when no report could be
 * read, as it may be running its program - and the step's error (or CP_EIO) is returned in err. */
int posix_read_child_report(int errpipe, pid_t pid, const char *path, const char *cwd, cp_error *err);

/* errpipe.c: the error pipe of a spawn that forks, which an application's fork() must not keep.
 * posix_errpipe_open() makes the pipe (close-on-exec both ends) and lists its write end in *e (which
 * lives until posix_errpipe_close_write()): 0, or CP_E* with err filled. A fork() of the application's
 * closes every listed end in its child. posix_errpipe_close_write() closes the parent's write end
 * (fds[1], then -1; nothing when it is -1 already) and unlists it. posix_fork_spawn() is the spawn's
 * own fork(): its child keeps the ends. */
typedef struct posix_errpipe {
  int fd;
  struct posix_errpipe *next;
} posix_errpipe;
int posix_errpipe_open(posix_errpipe *e, int fds[2], cp_error *err);
void posix_errpipe_close_write(posix_errpipe *e, int fds[2]);
pid_t posix_fork_spawn(void);

/* The same once the report was read: n bytes of *r (sizeof *r, 0, or -1 with read_errno). */
int posix_child_report_outcome(ssize_t n, int read_errno, const child_report *r, pid_t pid, const char *path,
                               const char *cwd, cp_error *err);

/* Whether the child itself can be given a parent-death signal (Linux prctl, FreeBSD procctl). Where it
 * cannot, kill_on_parent_exit is kept by the guardian for single children too. */
#if defined(CP_SPAWN_LINUX) || defined(CP_HAVE_PROCCTL_PDEATHSIG)
#define POSIX_HAVE_PDEATHSIG 1
#else
#define POSIX_HAVE_PDEATHSIG 0
#endif

/* pidfds (spawn_linux.c). posix_pidfd_usable(): 1 or 0, or -errno when the probe could not tell. */
#ifdef CP_SPAWN_LINUX
int posix_pidfd_usable(void);
int posix_pidfd_kill(int pidfd, int signum);
bool posix_pidfd_exit_status(int pidfd, int *status);
#else
static inline int posix_pidfd_usable(void) { return 0; }
static inline int posix_pidfd_kill(int pidfd, int signum) {
  (void)pidfd;
  (void)signum;
  return -1;
}
static inline bool posix_pidfd_exit_status(int pidfd, int *status) {
  (void)pidfd;
  (void)status;
  return false;
}
#endif

/* search.c: execvp's search, done in the parent (see there). */
int posix_search_path(const char *file, const char *path_env, const char *cwd, bool as_other_user, char **out,
                      char ***candidates, cp_error *err);

/* guardian.c: the tree guardian. A guardian_link sits on a process-wide list so that a copy of the
 * application made by fork() closes its descriptor. */
typedef struct guardian_link {
  int fd;
  struct guardian_link *prev, *next;
} guardian_link;

int posix_guardian_start(guardian_link *g, const char **syscall_name);
void posix_guardian_release(guardian_link *g);
int posix_guardian_untrack(guardian_link *g);
void posix_guardian_track(guardian_link *g, int fd);
/* What the child sends the guardian before it execs: its pid, negated for a group. */
static inline pid_t posix_guardian_target(pid_t self, bool group) { return group ? -self : self; }

/* child.c: in a forked or cloned child, async-signal-safe only. */
#if defined(__GNUC__)
/* The child may run on a borrowed stack until it execs: AddressSanitizer has nothing to check there. */
#define CHILD_CODE __attribute__((no_sanitize_address))
#else
#define CHILD_CODE
#endif

typedef struct child_ctx {
  const posix_child *c;
  int errfd;                      /* fork path: the error pipe's write end; clone path: -1 */
  volatile child_report *report;  /* clone path: where a failure is left in the parent's memory */
} child_ctx;

/* Reports {step, errno} and exits 127. */
void posix_child_fail(const child_ctx *x, int step);
/* Signals to default, session/group, the guardian's message, stdio and channel in place, the cwd. */
void posix_child_setup(child_ctx *x);
/* Called once every descriptor above stderr is close-on-exec: the channel's made inheritable, the
 * mask emptied, then exec (the candidates in order, as execvp would); reports the failure. */
void posix_child_exec(child_ctx *x);
/* fcntl loop below RLIMIT_NOFILE, the fallback where nothing closes stray descriptors at once. */
void posix_child_cloexec_loop(int from);

/* fdutil.c: pipe(2)/socketpair with both ends close-on-exec and above stdio (pipe2/SOCK_CLOEXEC where
 * they exist; else the two steps, with a window in which a concurrent fork+exec elsewhere in the
 * process can inherit the ends - as in libuv). -1 with errno on failure. */
int posix_pipe(int fds[2]);
int posix_socketpair(int fds[2]);

#ifndef __WALL
#define __WALL 0
#endif


#endif
