/* loop.c - what every POSIX poller shares: the loop's allocation and own descriptor (cp_loop_fd), the
 * monotonic clock, the loop's read buffer, the feed list (completions delivered on the next turn
 * without waiting) and the SIGCHLD watcher's slot. The pollers themselves are loop_epoll.c,
 * loop_kqueue.c and loop_poll.c (see loop.h). */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

uint64_t os_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *posix_read_buffer(os_loop *loop) { return posix_loop_base_of(loop)->readbuf; }

posix_sigchld **posix_loop_sigchld(os_loop *loop) { return &posix_loop_base_of(loop)->sigchld; }

bool os_loop_has_pending(os_loop *loop) { return posix_loop_base_of(loop)->feed != NULL; }

int posix_loop_new(size_t size, int (*open_fd)(void), os_loop **out) {
  os_loop *l = calloc(1, size);
  if (!l) return CP_ENOMEM;
  posix_loop_base *b = posix_loop_base_of(l);
  b->fd = -1;
  if (open_fd) {
    posix_reserve_stdio();
    int fd = open_fd();
    b->fd = fd < 0 ? -1 : posix_fd_above_stdio(fd);
    if (b->fd < 0) {
      int rc = posix_error(errno);
      free(l);
      return rc;
    }
  }
  *out = l;
  return 0;
}

void posix_loop_base_free(os_loop *l) {
  posix_loop_base *b = posix_loop_base_of(l);
  posix_sigchld_free(b->sigchld);
  if (b->fd >= 0) close(b->fd);
}

cp_os_handle os_loop_handle(os_loop *l) {
  int fd = posix_loop_base_of(l)->fd;
  return fd >= 0 ? fd : CP_INVALID_HANDLE;
}

void posix_feed(os_loop *loop, posix_watcher *w) {
  posix_loop_base *l = posix_loop_base_of(loop);
  if (w->fed) return;
  w->fed = true;
  w->feed_next = l->feed;
  l->feed = w;
}

void posix_unfeed(os_loop *loop, posix_watcher *w) {
  posix_loop_base *l = posix_loop_base_of(loop);
  if (!w->fed) return;
  for (posix_watcher **pp = &l->feed; *pp; pp = &(*pp)->feed_next) {
    if (*pp == w) {
      *pp = w->feed_next;
      break;
    }
  }
  w->fed = false;
  w->feed_next = NULL;
}

/* Calls at most as many fed watchers as were fed before this turn: one fed again by its own callback
 * waits for the next turn, so this never spins. The list stays consistent for posix_unfeed(). */
void posix_loop_run_feed(os_loop *loop) {
  posix_loop_base *l = posix_loop_base_of(loop);
  size_t n = 0;
  for (posix_watcher *w = l->feed; w; w = w->feed_next) n++;
  while (n-- > 0 && l->feed) {
    posix_watcher *w = l->feed;
    l->feed = w->feed_next;
    w->fed = false;
    w->feed_next = NULL;
    w->cb(w, POLLOUT);
  }
}

/* A program that blocks SIGCHLD would otherwise never hear of its children's exits on the SIGCHLD
 * path: the wait lets it through. */
const sigset_t *posix_loop_wait_mask(os_loop *loop, sigset_t *mask) {
  if (!posix_loop_base_of(loop)->sigchld) return NULL;
  pthread_sigmask(SIG_BLOCK, NULL, mask);
  if (!sigismember(mask, SIGCHLD)) return NULL;
  sigdelset(mask, SIGCHLD);
  return mask;
}

struct timespec *posix_loop_wait_time(os_loop *l, int timeout_ms, struct timespec *ts) {
  if (posix_loop_base_of(l)->feed) timeout_ms = 0;
  if (timeout_ms < 0) return NULL;
  ts->tv_sec = timeout_ms / 1000;
  ts->tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
  return ts;
}
