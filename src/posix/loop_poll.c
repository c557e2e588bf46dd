/* loop_poll.c - the poller on poll(): where neither epoll nor kqueue exists, or when CHILDPROC_FORCE_POLL
 * asks for it. Work per turn is proportional to the watched descriptors; there is no descriptor to
 * offer cp_loop_fd(). */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

struct os_loop {
  posix_loop_base base; /* first: see loop.h */
  struct pollfd *fds;
  posix_watcher **watchers;
  int nfds, cap;
  bool dispatching;
};

int os_loop_new(os_loop **out) { return posix_loop_new(sizeof(os_loop), NULL, out); }

void os_loop_free(os_loop *l) {
  if (!l) return;
  posix_loop_base_free(l);
  free(l->fds);
  free(l->watchers);
  free(l);
}


static void poll_compact(os_loop *l) {
  int j = 0;
  for (int i = 0; i < l->nfds; i++) {
    if (!l->watchers[i]) continue;
    l->fds[j] = l->fds[i];
    l->watchers[j] = l->watchers[i];
    l->watchers[j]->slot = j;
    j++;
  }
  l->nfds = j;
}

int posix_watch(os_loop *l, posix_watcher *w, unsigned events) {
  if (!w->events) w->slot = -1;
  if (!events) {
    if (w->events && w->slot >= 0) {
      l->watchers[w->slot] = NULL;
      l->fds[w->slot].fd = -1;
      if (!l->dispatching) poll_compact(l);
    }
    w->events = 0;
    w->slot = -1;
    return 0;
  }
  if (!w->events || w->slot < 0) {
    if (l->nfds == l->cap) {
      int cap = l->cap ? l->cap * 2 : 16;
      struct pollfd *f = realloc(l->fds, (size_t)cap * sizeof *f);
      if (!f) return CP_ENOMEM;
      l->fds = f;
      posix_watcher **ws = realloc(l->watchers, (size_t)cap * sizeof *ws);
      if (!ws) return CP_ENOMEM;
      l->watchers = ws;
      l->cap = cap;
    }
    w->slot = l->nfds++;
    l->watchers[w->slot] = w;
    l->fds[w->slot].fd = w->fd;
  }
  l->fds[w->slot].events = (short)events;
  l->fds[w->slot].revents = 0;
  w->events = events;
  return 0;
}

int os_loop_poll(os_loop *l, int timeout_ms) {
  sigset_t mask;
  struct timespec ts, *tsp = posix_loop_wait_time(l, timeout_ms, &ts);
#ifdef CP_HAVE_PPOLL
  int n = ppoll(l->fds, (nfds_t)l->nfds, tsp, posix_loop_wait_mask(l, &mask));
#else
  /* No ppoll: SIGCHLD let through around a plain poll(). A SIGCHLD that arrives before poll() starts
   * is not lost: its handler has written to the self-pipe poll() watches. */
  int ms = tsp ? (int)(tsp->tv_sec * 1000 + tsp->tv_nsec / 1000000) : -1;
  sigset_t old;
  const sigset_t *m = posix_loop_wait_mask(l, &mask);
  if (m) pthread_sigmask(SIG_SETMASK, m, &old);
  int n = poll(l->fds, (nfds_t)l->nfds, ms);
  int e = errno;
  if (m) pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = e;
#endif
  if (n < 0) return errno == EINTR ? 0 : posix_error(errno);
  l->dispatching = true;
  int count = l->nfds; /* watchers added by callbacks wait for the next turn */
  for (int i = 0; i < count && n > 0; i++) {
    short rev = l->fds[i].revents;
    if (!rev || !l->watchers[i]) continue;
    n--;
    l->fds[i].revents = 0;
    l->watchers[i]->cb(l->watchers[i], (unsigned)rev);
  }
  l->dispatching = false;
  poll_compact(l);
  posix_loop_run_feed(l);
  return 0;
}
