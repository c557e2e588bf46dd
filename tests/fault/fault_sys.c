/* fault_sys.c - the failing system calls behind -Wl,--wrap=<name> (see fault_sys.h). Every wrapper
 * counts the call and, when it is the armed one, fails it with the armed errno (-1, or the error
 * number itself for the calls that return one); otherwise it calls the real function. The wrappers
 * can run in a child sharing the parent's memory on a small borrowed stack (clone(CLONE_VM)): they
 * touch nothing but the shared counters. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fault_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__GNUC__)
#define FSYS_CODE __attribute__((no_sanitize_address))
#else
#define FSYS_CODE
#endif

/* Raw syscall() numbers the library uses, each its own counter. */
#ifdef SYS_setresuid32
#define FSYS_SETRESUID SYS_setresuid32
#define FSYS_SETRESGID SYS_setresgid32
#define FSYS_SETGROUPS SYS_setgroups32
#else
#define FSYS_SETRESUID SYS_setresuid
#define FSYS_SETRESGID SYS_setresgid
#define FSYS_SETGROUPS SYS_setgroups
#endif

#define FSYS_CALLS(X)                                                                                        \
  X(pipe2) X(pipe) X(socketpair) X(fcntl) X(dup2) X(chdir) X(setsid) X(setpgid) X(send) X(prctl) X(clone)     \
  X(fork) X(epoll_create1) X(epoll_ctl) X(epoll_pwait) X(poll) X(ppoll) X(read) X(write) X(waitid)            \
  X(waitpid) X(kill) X(killpg) X(sigaction) X(pthread_create) X(sigtimedwait) X(open) X(readlink) X(stat)     \
  X(faccessat) X(access) X(ioctl) X(posix_spawn) X(getrlimit) X(execve) X(setgroups) X(setgid) X(setuid)        \
  X(posix_spawnattr_init) X(posix_spawn_file_actions_init) X(posix_spawnattr_setflags)                        \
  X(posix_spawn_file_actions_adddup2) X(posix_spawn_file_actions_addclosefrom_np)                            \
  X(posix_spawn_file_actions_addchdir_np) X(writev) X(sendmsg)

#define FSYS_SYSCALLS(X)                                                                                     \
  X(setgroups, FSYS_SETGROUPS) X(setresgid, FSYS_SETRESGID) X(setresuid, FSYS_SETRESUID)                     \
  X(pidfd_open, SYS_pidfd_open) X(pidfd_send_signal, SYS_pidfd_send_signal) X(close_range, SYS_close_range)

enum {
#define X(name) ID_##name,
  FSYS_CALLS(X)
#undef X
#define X(name, nr) ID_sys_##name,
  FSYS_SYSCALLS(X)
#undef X
  ID_COUNT
};

static const char *const names[ID_COUNT] = {
#define X(name) #name,
    FSYS_CALLS(X)
#undef X
#define X(name, nr) "syscall:" #name,
    FSYS_SYSCALLS(X)
#undef X
};

typedef struct fsys_state {
  atomic_long calls[ID_COUNT];
  atomic_int armed; /* id + 1, or 0 */
  atomic_long nth;
  atomic_int err;
  atomic_int fired;
} fsys_state;

static fsys_state *st;

__attribute__((constructor)) static void fsys_init(void) {
  void *p = mmap(NULL, sizeof(fsys_state), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED) st = p;
}

int fsys_id(const char *name) {
  for (int i = 0; i < ID_COUNT; i++)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}
int fsys_count(void) { return ID_COUNT; }
const char *fsys_name(int id) { return id >= 0 && id < ID_COUNT ? names[id] : "?"; }

void fsys_reset(void) {
  atomic_store(&st->armed, 0);
  for (int i = 0; i < ID_COUNT; i++) atomic_store(&st->calls[i], 0);
  atomic_store(&st->fired, 0);
}

void fsys_arm(int id, long n, int e) {
  fsys_reset();
  atomic_store(&st->nth, n);
  atomic_store(&st->err, e);
  atomic_store(&st->armed, id + 1);
}

void fsys_disarm(void) { atomic_store(&st->armed, 0); }
long fsys_calls(int id) { return atomic_load(&st->calls[id]); }
bool fsys_fired(void) { return atomic_load(&st->fired) != 0; }

/* Counts a call of id; returns the errno to fail it with, or 0. */
FSYS_CODE static int fsys_hit(int id) {
  if (!st) return 0;
  long k = atomic_fetch_add(&st->calls[id], 1) + 1;
  if (atomic_load(&st->armed) != id + 1 || k != atomic_load(&st->nth)) return 0;
  atomic_store(&st->fired, 1);
  return atomic_load(&st->err);
}

#define FAIL_M1(id)                                                                                          \
  do {                                                                                                       \
    int e_ = fsys_hit(id);                                                                                   \
    if (e_) {                                                                                                \
      errno = e_;                                                                                            \
      return -1;                                                                                             \
    }                                                                                                        \
  } while (0)

int __real_pipe2(int fds[2], int flags);
int __real_pipe(int fds[2]);
int __real_socketpair(int d, int t, int p, int fds[2]);
int __real_fcntl(int fd, int cmd, ...);
int __real_dup2(int a, int b);
int __real_chdir(const char *p);
pid_t __real_setsid(void);
int __real_setpgid(pid_t p, pid_t g);
ssize_t __real_send(int fd, const void *b, size_t n, int f);
int __real_prctl(int op, ...);
int __real_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
pid_t __real_fork(void);
int __real_epoll_create1(int f);
int __real_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev);
int __real_epoll_pwait(int ep, struct epoll_event *ev, int max, int to, const sigset_t *m);
int __real_poll(struct pollfd *f, nfds_t n, int to);
int __real_ppoll(struct pollfd *f, nfds_t n, const struct timespec *ts, const sigset_t *m);
ssize_t __real_read(int fd, void *b, size_t n);
ssize_t __real_write(int fd, const void *b, size_t n);
int __real_waitid(idtype_t t, id_t id, siginfo_t *i, int o);
pid_t __real_waitpid(pid_t p, int *s, int o);
int __real_kill(pid_t p, int s);
int __real_killpg(pid_t p, int s);
int __real_sigaction(int s, const struct sigaction *a, struct sigaction *o);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __real_sigtimedwait(const sigset_t *s, siginfo_t *i, const struct timespec *t);
int __real_open(const char *p, int f, ...);
ssize_t __real_readlink(const char *p, char *b, size_t n);
int __real_stat(const char *p, struct stat *s);
int __real_faccessat(int d, const char *p, int m, int f);
int __real_access(const char *p, int m);
int __real_ioctl(int fd, unsigned long r, ...);
int __real_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *at, char *const argv[], char *const envp[]);
int __real_getrlimit(int r, struct rlimit *l);
int __real_execve(const char *p, char *const argv[], char *const envp[]);
long __real_syscall(long nr, ...);
ssize_t __real_writev(int fd, const struct iovec *v, int n);
ssize_t __real_sendmsg(int fd, const struct msghdr *m, int f);
int __real_setgroups(size_t n, const gid_t *g);
int __real_setgid(gid_t g);
int __real_setuid(uid_t u);
int __real_posix_spawnattr_init(posix_spawnattr_t *a);
int __real_posix_spawn_file_actions_init(posix_spawn_file_actions_t *f);
int __real_posix_spawnattr_setflags(posix_spawnattr_t *a, short fl);
int __real_posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *f, int a, int b);
int __real_posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *f, int from);
int __real_posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *f, const char *p);

#define W(ret, name, params) FSYS_CODE ret __wrap_##name params;
W(int, pipe2, (int fds[2], int flags))
W(int, pipe, (int fds[2]))
W(int, socketpair, (int d, int t, int p, int fds[2]))
W(int, fcntl, (int fd, int cmd, ...))
W(int, dup2, (int a, int b))
W(int, chdir, (const char *p))
W(pid_t, setsid, (void))
W(int, setpgid, (pid_t p, pid_t g))
W(ssize_t, send, (int fd, const void *b, size_t n, int f))
W(int, prctl, (int op, ...))
W(int, clone, (int (*fn)(void *), void *stack, int flags, void *arg, ...))
W(pid_t, fork, (void))
W(int, epoll_create1, (int f))
W(int, epoll_ctl, (int ep, int op, int fd, struct epoll_event *ev))
W(int, epoll_pwait, (int ep, struct epoll_event *ev, int max, int to, const sigset_t *m))
W(int, poll, (struct pollfd *f, nfds_t n, int to))
W(int, ppoll, (struct pollfd *f, nfds_t n, const struct timespec *ts, const sigset_t *m))
W(ssize_t, read, (int fd, void *b, size_t n))
W(ssize_t, write, (int fd, const void *b, size_t n))
W(int, waitid, (idtype_t t, id_t id, siginfo_t *i, int o))
W(pid_t, waitpid, (pid_t p, int *s, int o))
W(int, kill, (pid_t p, int s))
W(int, killpg, (pid_t p, int s))
W(int, sigaction, (int s, const struct sigaction *a, struct sigaction *o))
W(int, pthread_create, (pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg))
W(int, sigtimedwait, (const sigset_t *s, siginfo_t *i, const struct timespec *t))
W(int, open, (const char *p, int f, ...))
W(ssize_t, readlink, (const char *p, char *b, size_t n))
W(int, stat, (const char *p, struct stat *s))
W(int, faccessat, (int d, const char *p, int m, int f))
W(int, access, (const char *p, int m))
W(int, ioctl, (int fd, unsigned long r, ...))
W(int, posix_spawn, (pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                     const posix_spawnattr_t *at, char *const argv[], char *const envp[]))
W(int, getrlimit, (int r, struct rlimit *l))
W(int, execve, (const char *p, char *const argv[], char *const envp[]))
W(long, syscall, (long nr, ...))
W(ssize_t, writev, (int fd, const struct iovec *v, int n))
W(ssize_t, sendmsg, (int fd, const struct msghdr *m, int f))
W(int, setgroups, (size_t n, const gid_t *g))
W(int, setgid, (gid_t g))
W(int, setuid, (uid_t u))
W(int, posix_spawnattr_init, (posix_spawnattr_t *a))
W(int, posix_spawn_file_actions_init, (posix_spawn_file_actions_t *f))
W(int, posix_spawnattr_setflags, (posix_spawnattr_t *a, short fl))
W(int, posix_spawn_file_actions_adddup2, (posix_spawn_file_actions_t *f, int a, int b))
W(int, posix_spawn_file_actions_addclosefrom_np, (posix_spawn_file_actions_t *f, int from))
W(int, posix_spawn_file_actions_addchdir_np, (posix_spawn_file_actions_t *f, const char *p))
#undef W

int __wrap_pipe2(int fds[2], int flags) {
  FAIL_M1(ID_pipe2);
  return __real_pipe2(fds, flags);
}
int __wrap_pipe(int fds[2]) {
  FAIL_M1(ID_pipe);
  return __real_pipe(fds);
}
int __wrap_socketpair(int d, int t, int p, int fds[2]) {
  FAIL_M1(ID_socketpair);
  return __real_socketpair(d, t, p, fds);
}
int __wrap_fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  FAIL_M1(ID_fcntl);
  return __real_fcntl(fd, cmd, arg);
}
int __wrap_dup2(int a, int b) {
  FAIL_M1(ID_dup2);
  return __real_dup2(a, b);
}
int __wrap_chdir(const char *p) {
  FAIL_M1(ID_chdir);
  return __real_chdir(p);
}
pid_t __wrap_setsid(void) {
  FAIL_M1(ID_setsid);
  return __real_setsid();
}
int __wrap_setpgid(pid_t p, pid_t g) {
  FAIL_M1(ID_setpgid);
  return __real_setpgid(p, g);
}
ssize_t __wrap_send(int fd, const void *b, size_t n, int f) {
  FAIL_M1(ID_send);
  return __real_send(fd, b, n, f);
}
int __wrap_prctl(int op, ...) {
  va_list ap;
  va_start(ap, op);
  unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long), a4 = va_arg(ap, unsigned long),
                a5 = va_arg(ap, unsigned long);
  va_end(ap);
  FAIL_M1(ID_prctl);
  return __real_prctl(op, a2, a3, a4, a5);
}
int __wrap_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) {
  va_list ap;
  va_start(ap, arg);
  void *ptid = va_arg(ap, void *), *tls = va_arg(ap, void *), *ctid = va_arg(ap, void *);
  va_end(ap);
  FAIL_M1(ID_clone);
  return __real_clone(fn, stack, flags, arg, ptid, tls, ctid);
}
pid_t __wrap_fork(void) {
  FAIL_M1(ID_fork);
  return __real_fork();
}
int __wrap_epoll_create1(int f) {
  FAIL_M1(ID_epoll_create1);
  return __real_epoll_create1(f);
}
int __wrap_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev) {
  FAIL_M1(ID_epoll_ctl);
  return __real_epoll_ctl(ep, op, fd, ev);
}
int __wrap_epoll_pwait(int ep, struct epoll_event *ev, int max, int to, const sigset_t *m) {
  FAIL_M1(ID_epoll_pwait);
  return __real_epoll_pwait(ep, ev, max, to, m);
}
int __wrap_poll(struct pollfd *f, nfds_t n, int to) {
  FAIL_M1(ID_poll);
  return __real_poll(f, n, to);
}
int __wrap_ppoll(struct pollfd *f, nfds_t n, const struct timespec *ts, const sigset_t *m) {
  FAIL_M1(ID_ppoll);
  return __real_ppoll(f, n, ts, m);
}
ssize_t __wrap_read(int fd, void *b, size_t n) {
  FAIL_M1(ID_read);
  return __real_read(fd, b, n);
}
/* A write made with SIGCHLD blocked is the SIGCHLD handler's wake-up byte (sigchld.c: it runs with
 * its signal blocked), or a forked child's error report (every signal blocked until exec): it is
 * counted but never failed. The wake-up pipe can only fail as "full" (EAGAIN), and a full pipe
 * wakes the loop anyway; failing it otherwise would model a lost signal, which no kernel does. */
ssize_t __wrap_write(int fd, const void *b, size_t n) {
  sigset_t cur;
  if (pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGCHLD)) {
    if (st) atomic_fetch_add(&st->calls[ID_write], 1);
    return __real_write(fd, b, n);
  }
  FAIL_M1(ID_write);
  return __real_write(fd, b, n);
}
int __wrap_waitid(idtype_t t, id_t id, siginfo_t *i, int o) {
  FAIL_M1(ID_waitid);
  return __real_waitid(t, id, i, o);
}
pid_t __wrap_waitpid(pid_t p, int *s, int o) {
  FAIL_M1(ID_waitpid);
  return __real_waitpid(p, s, o);
}
int __wrap_kill(pid_t p, int s) {
  FAIL_M1(ID_kill);
  return __real_kill(p, s);
}
int __wrap_killpg(pid_t p, int s) {
  FAIL_M1(ID_killpg);
  return __real_killpg(p, s);
}
int __wrap_sigaction(int s, const struct sigaction *a, struct sigaction *o) {
  FAIL_M1(ID_sigaction);
  return __real_sigaction(s, a, o);
}
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
  int e = fsys_hit(ID_pthread_create);
  if (e) return e;
  return __real_pthread_create(t, a, fn, arg);
}
int __wrap_sigtimedwait(const sigset_t *s, siginfo_t *i, const struct timespec *t) {
  FAIL_M1(ID_sigtimedwait);
  return __real_sigtimedwait(s, i, t);
}
int __wrap_open(const char *p, int f, ...) {
  va_list ap;
  va_start(ap, f);
  int mode = (f & (O_CREAT | O_TMPFILE)) ? va_arg(ap, int) : 0;
  va_end(ap);
  FAIL_M1(ID_open);
  return __real_open(p, f, mode);
}
ssize_t __wrap_readlink(const char *p, char *b, size_t n) {
  FAIL_M1(ID_readlink);
  return __real_readlink(p, b, n);
}
int __wrap_stat(const char *p, struct stat *s) {
  FAIL_M1(ID_stat);
  return __real_stat(p, s);
}
int __wrap_faccessat(int d, const char *p, int m, int f) {
  FAIL_M1(ID_faccessat);
  return __real_faccessat(d, p, m, f);
}
int __wrap_access(const char *p, int m) {
  FAIL_M1(ID_access);
  return __real_access(p, m);
}
int __wrap_ioctl(int fd, unsigned long r, ...) {
  va_list ap;
  va_start(ap, r);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  FAIL_M1(ID_ioctl);
  return __real_ioctl(fd, r, arg);
}
int __wrap_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *at, char *const argv[], char *const envp[]) {
  int e = fsys_hit(ID_posix_spawn);
  if (e) return e;
  return __real_posix_spawn(pid, path, fa, at, argv, envp);
}
int __wrap_getrlimit(int r, struct rlimit *l) {
  FAIL_M1(ID_getrlimit);
  return __real_getrlimit(r, l);
}
int __wrap_execve(const char *p, char *const argv[], char *const envp[]) {
  FAIL_M1(ID_execve);
  return __real_execve(p, argv, envp);
}
long __wrap_syscall(long nr, ...) {
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  int id = -1;
#define X(name, num)                                                                                         \
  if (nr == (num)) id = ID_sys_##name;
  FSYS_SYSCALLS(X)
#undef X
  if (id >= 0) FAIL_M1(id);
  return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
int __wrap_setgroups(size_t n, const gid_t *g) {
  FAIL_M1(ID_setgroups);
  return __real_setgroups(n, g);
}
int __wrap_setgid(gid_t g) {
  FAIL_M1(ID_setgid);
  return __real_setgid(g);
}
int __wrap_setuid(uid_t u) {
  FAIL_M1(ID_setuid);
  return __real_setuid(u);
}

/* The posix_spawn() set-up calls return their error number. */
#define FAIL_RET(id)                                                                                         \
  do {                                                                                                       \
    int e_ = fsys_hit(id);                                                                                   \
    if (e_) return e_;                                                                                       \
  } while (0)

int __wrap_posix_spawnattr_init(posix_spawnattr_t *a) {
  FAIL_RET(ID_posix_spawnattr_init);
  return __real_posix_spawnattr_init(a);
}
int __wrap_posix_spawn_file_actions_init(posix_spawn_file_actions_t *f) {
  FAIL_RET(ID_posix_spawn_file_actions_init);
  return __real_posix_spawn_file_actions_init(f);
}
int __wrap_posix_spawnattr_setflags(posix_spawnattr_t *a, short fl) {
  FAIL_RET(ID_posix_spawnattr_setflags);
  return __real_posix_spawnattr_setflags(a, fl);
}
int __wrap_posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *f, int a, int b) {
  FAIL_RET(ID_posix_spawn_file_actions_adddup2);
  return __real_posix_spawn_file_actions_adddup2(f, a, b);
}
int __wrap_posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *f, int from) {
  FAIL_RET(ID_posix_spawn_file_actions_addclosefrom_np);
  return __real_posix_spawn_file_actions_addclosefrom_np(f, from);
}
int __wrap_posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *f, const char *p) {
  FAIL_RET(ID_posix_spawn_file_actions_addchdir_np);
  return __real_posix_spawn_file_actions_addchdir_np(f, p);
}
ssize_t __wrap_writev(int fd, const struct iovec *v, int n) {
  FAIL_M1(ID_writev);
  return __real_writev(fd, v, n);
}
ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int f) {
  FAIL_M1(ID_sendmsg);
  return __real_sendmsg(fd, m, f);
}
