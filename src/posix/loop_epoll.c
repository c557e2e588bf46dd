/* loop_epoll.c - the poller on epoll (Linux): work per turn is proportional to the ready descriptors. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct os_loop {
  posix_loop_base base; /* first: see loop.h */
  struct epoll_event events[MAX_EVENTS];
  int nevents; /* of the batch being dispatched; entries of removed watchers are cleared */
};

static int epoll_open(void) { return epoll_create1(EPOLL_CLOEXEC); }

int os_loop_new(os_loop **out) { return posix_loop_new(sizeof(os_loop), epoll_open, out); }

void os_loop_free(os_loop *l) {
  if (!l) return;
  posix_loop_base_free(l);
  free(l);
}

int posix_watch(os_loop *l, posix_watcher *w, unsigned events) {
  if (events == w->events) return 0;
  struct epoll_event ev = {0};
  ev.data.ptr = w;
  if (events & POLLIN) ev.events |= EPOLLIN;
  if (events & POLLOUT) ev.events |= EPOLLOUT;
  int op = !events ? EPOLL_CTL_DEL : w->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (!events && !w->events) return 0;
  if (epoll_ctl(l->base.fd, op, w->fd, &ev) < 0) return posix_error(errno);
  w->events = events;
  if (!events) {
    for (int i = 0; i < l->nevents; i++)
      if (l->events[i].data.ptr == w) l->events[i].data.ptr = NULL;
  }
  return 0;
}

int os_loop_poll(os_loop *l, int timeout_ms) {
  sigset_t mask;
  if (l->base.feed) timeout_ms = 0;
  int n = epoll_pwait(l->base.fd, l->events, MAX_EVENTS, timeout_ms, posix_loop_wait_mask(l, &mask));
  if (n < 0) return errno == EINTR ? 0 : posix_error(errno);
  l->nevents = n;
  for (int i = 0; i < n; i++) {
    posix_watcher *w = l->events[i].data.ptr;
    if (!w) continue;
    unsigned ev = l->events[i].events, rev = 0;
    if (ev & EPOLLIN) rev |= POLLIN;
    if (ev & EPOLLOUT) rev |= POLLOUT;
    if (ev & EPOLLHUP) rev |= POLLHUP;
    if (ev & EPOLLERR) rev |= POLLERR;
    w->cb(w, rev);
  }
  l->nevents = 0;
  posix_loop_run_feed(l);
  return 0;
}
