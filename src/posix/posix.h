/* posix.h - what the POSIX backend's files share: the poller's watchers and the loop. */
#ifndef CP_POSIX_H
#define CP_POSIX_H

#include "../os.h"

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifndef MSG_NOSIGNAL /* older Apple headers: the sockets carry SO_NOSIGPIPE instead (fdutil.c) */
#define MSG_NOSIGNAL 0
#endif

typedef struct posix_watcher posix_watcher;

/* revents is a mask of POLLIN/POLLOUT/POLLHUP/POLLERR. */
typedef void (*posix_watch_cb)(posix_watcher *w, unsigned revents);

struct posix_watcher { /* 32 bytes: one in every child's proc and stream */
  int fd;
  unsigned events; /* POLLIN / POLLOUT wanted; 0 = not registered */
  posix_watch_cb cb;
  int slot; /* poll backend: index in the pollfd array, -1 if none */
  bool fed;
  posix_watcher *feed_next;
};

/* Makes the loop call w->cb(w, POLLOUT) on its next turn without waiting for the poller: for a
 * write that already went through and only has its completion left to deliver (callbacks never run
 * inside the call that queued the work). posix_unfeed() takes it back (before a close). */
void posix_feed(os_loop *loop, posix_watcher *w);
void posix_unfeed(os_loop *loop, posix_watcher *w);

/* Registers w (or changes its mask); events 0 unregisters. Returns 0 or a CP_E* code. */
int posix_watch(os_loop *loop, posix_watcher *w, unsigned events);

/* Child exits watched by the poller itself, where POSIX_POLLER_WATCHES_EXITS is 1: kqueue's EVFILT_PROC
 * with NOTE_EXIT (loop_kqueue.c). Elsewhere exits come from a pidfd (a watcher like any other) or the
 * SIGCHLD path (sigchld.c). */
#ifdef CP_POLLER_KQUEUE
#define POSIX_POLLER_WATCHES_EXITS 1
typedef struct posix_exit_watch posix_exit_watch;
/* wstatus: the waitpid()-style status the kernel reported with the exit, when status_known. */
typedef void (*posix_exit_cb)(posix_exit_watch *x, int wstatus, bool status_known);
struct posix_exit_watch {
  pid_t pid;
  posix_exit_cb cb;
  bool active; /* registered, not fired yet */
};
/* Starts watching x->pid, a child of ours not yet reaped: x->cb runs once, from os_loop_poll(), after
 * it exited (the child is left for the caller to reap). CP_ESRCH when it has exited already (the
 * kernel refuses to watch a zombie on macOS): no callback then; the caller reaps it itself. Other
 * CP_E* codes when the poller failed. */
int posix_watch_exit(os_loop *loop, posix_exit_watch *x);
/* Stops an active watch (the child was reaped some other way); no callback after this. */
void posix_unwatch_exit(os_loop *loop, posix_exit_watch *x);
#else
#define POSIX_POLLER_WATCHES_EXITS 0
#endif

/* Keeps the library's own descriptors off 0..2. In a process whose stdin, stdout or stderr is
 * closed, a new descriptor takes that number; left there, the user's printf() would write into the
 * library's pipe and a child told to inherit stdout would get it. posix_fd_above_stdio() returns fd
 * itself when it is above 2, else a close-on-exec duplicate above 2 (the original is closed), or -1
 * with errno set (the original is closed too). posix_pair_above_stdio() does it to both ends of a
 * pipe or socketpair: 0, or -1 with errno set and both ends closed. */
int posix_fd_above_stdio(int fd);
int posix_pair_above_stdio(int fds[2]);

/* NSIG is not POSIX: FreeBSD's is 32 while it has more signals (_SIG_MAXSIG). */
#ifndef NSIG
#ifdef _SIG_MAXSIG
#define NSIG (_SIG_MAXSIG + 1)
#else
#define NSIG 65
#endif
#endif

/* A waitpid()-style status from what waitid() filled in. */
static inline int posix_wait_status(const siginfo_t *si) {
  return si->si_code == CLD_EXITED ? (si->si_status & 0xff) << 8 : (si->si_status & 0x7f);
}

/* Fills those of descriptors 0..2 that are closed with the null device (once for each closed
 * slot, whenever the library is about to create descriptors): see fdutil.c. */
void posix_reserve_stdio(void);

/* Maps an errno value to a CP_E* code. */
int posix_error(int errnum);

/* The size of the buffer streams read into, and the loop's shared read buffer. */
#define POSIX_READ_BUF (64 * 1024)
char *posix_read_buffer(os_loop *loop);

/* _exit() for a process of ours with its own memory (a fork, not the vfork child) that never
 * returns to exit(): a coverage build (CP_COVERAGE, ci/test-coverage.sh) writes its counters first,
 * or what that process ran would not count. */
#ifdef CP_COVERAGE
#include <unistd.h>
void __gcov_dump(void);
/* The code is evaluated before the dump, which may change errno (a counter file it cannot open). */
static inline _Noreturn void posix_exit_flushed(int code) {
  __gcov_dump();
  _exit(code); /* LCOV_EXCL_LINE: runs after the counters were written, so it never counts */
}
#else
#define posix_exit_flushed(code) _exit(code)
#endif

#endif /* CP_POSIX_H */
