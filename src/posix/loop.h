/* loop.h - what the pollers share (POSIX backend internal).
 *
 * One of three files implements the poller, chosen by CMake's feature checks (cmake/PosixFeatures.cmake):
 *   loop_epoll.c  - epoll (Linux; CP_POLLER_EPOLL);
 *   loop_kqueue.c - kqueue (macOS, the BSDs; CP_POLLER_KQUEUE), which also watches child exits
 *                   (EVFILT_PROC / NOTE_EXIT, see posix_watch_exit in posix.h);
 *   loop_poll.c   - poll() everywhere else, and when CHILDPROC_FORCE_POLL asks for it (CP_POLLER_POLL).
 * loop.c holds the parts they share: the clock, the read buffer, the feed list and the SIGCHLD slot. */
#ifndef CP_POSIX_LOOP_H
#define CP_POSIX_LOOP_H

#include "posix.h"
#include "sigchld.h"

#include <signal.h>
#include <time.h>

/* The first member of every poller's struct os_loop. */
typedef struct posix_loop_base {
  int fd; /* the poller's own descriptor (epoll, kqueue): cp_loop_fd(); -1 for poll() */
  char readbuf[POSIX_READ_BUF];
  posix_sigchld *sigchld; /* only where children are watched by SIGCHLD */
  posix_watcher *feed;    /* watchers to call with POLLOUT on the next turn (posix_feed) */
} posix_loop_base;

static inline posix_loop_base *posix_loop_base_of(os_loop *l) { return (posix_loop_base *)(void *)l; }

/* A zeroed loop of `size` bytes (the poller's struct os_loop) whose base's fd is open_fd()'s result
(close-on-exec, moved above stdio), or -1 without open_fd: 0 with *out, or CP_E* (open_fd() failing
with errno). */
int posix_loop_new(size_t size, int (*open_fd)(void), os_loop **out);

/* Frees what the base holds (its descriptor, the SIGCHLD watcher); the poller frees the rest. */
void posix_loop_base_free(os_loop *l);

/* Calls the watchers fed before this turn (each once), after the poller's own callbacks. */
void posix_loop_run_feed(os_loop *l);

/* The signal mask to wait with: where children are watched by SIGCHLD, the thread's own mask with
 * SIGCHLD let through for the duration of the wait; NULL (the mask as it is) elsewhere. */
const sigset_t *posix_loop_wait_mask(os_loop *l, sigset_t *mask);

/* The wait of a turn as a timespec for ppoll/kevent: *ts filled and returned, or NULL for no limit
 * (timeout_ms < 0). No wait while watchers are fed: their callbacks run this turn. */
struct timespec *posix_loop_wait_time(os_loop *l, int timeout_ms, struct timespec *ts);

#endif
