/* loop_kqueue.c - the poller on kqueue (macOS, the BSDs): descriptors by EVFILT_READ / EVFILT_WRITE, child
 * exits by EVFILT_PROC with NOTE_EXIT (so no SIGCHLD handler is needed), and the kqueue descriptor
 * itself is what cp_loop_fd() offers: it polls readable while an event is pending.
 *
 * Watchers are level-triggered (no EV_CLEAR), as with epoll and poll(). A descriptor watched for both
 * directions has two filters, so one turn may call its callback twice (POLLIN, then POLLOUT); the
 * callbacks take any mix. An exit watch is EV_ONESHOT: the kernel drops it once it fired. On Linux the
 * whole test suite runs this file against an emulation of the kqueue subset used here
 * (tests/support/kqueue_emul, ci/test-kqueue-emul.sh); real kqueue runs only in the GitHub macOS and
 * FreeBSD jobs. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct os_loop {
  posix_loop_base base; /* first: see loop.h */
  struct kevent events[MAX_EVENTS];
  int nevents; /* of the batch being dispatched; entries of removed watches are cleared */
};

static int kqueue_open(void) {
  int kq = kqueue();
  /* Not inherited by fork() on the BSDs; close-on-exec all the same, for posix_spawn. */
  if (kq >= 0 && fcntl(kq, F_SETFD, FD_CLOEXEC) < 0) {
    int e = errno;
    close(kq);
    errno = e;
    kq = -1;
  }
  return kq;
}

int os_loop_new(os_loop **out) { return posix_loop_new(sizeof(os_loop), kqueue_open, out); }

void os_loop_free(os_loop *l) {
  if (!l) return;
  posix_loop_base_free(l);
  free(l);
}

/* Clears the entries of the batch being dispatched that would call `udata` for `filter`. */
static void forget_pending(os_loop *l, const void *udata, int filter) {
  for (int i = 0; i < l->nevents; i++)
    if (l->events[i].udata == udata && l->events[i].filter == filter) l->events[i].udata = NULL;
}

/* Applies n changes with EV_RECEIPT: each one's result comes back in out[i] (EV_ERROR, data = errno or
 * 0), so a partial failure is known exactly. Returns the number of results, or -1 with errno. */
static int apply(os_loop *l, struct kevent *ch, int n, struct kevent *out) {
  for (int i = 0; i < n; i++) ch[i].flags |= EV_RECEIPT;
  int r;
  do {
    r = kevent(l->base.fd, ch, n, out, n, NULL);
  } while (r < 0 && errno == EINTR);
  return r;
}

int posix_watch(os_loop *l, posix_watcher *w, unsigned events) {
  events &= POLLIN | POLLOUT;
  if (events == w->events) return 0;
  unsigned add = events & ~w->events, del = w->events & ~events;
  struct kevent ch[2], out[2];
  int n = 0;
  if (add & POLLIN) EV_SET(&ch[n++], (uintptr_t)w->fd, EVFILT_READ, EV_ADD, 0, 0, w);
  if (add & POLLOUT) EV_SET(&ch[n++], (uintptr_t)w->fd, EVFILT_WRITE, EV_ADD, 0, 0, w);
  if (del & POLLIN) EV_SET(&ch[n++], (uintptr_t)w->fd, EVFILT_READ, EV_DELETE, 0, 0, w);
  if (del & POLLOUT) EV_SET(&ch[n++], (uintptr_t)w->fd, EVFILT_WRITE, EV_DELETE, 0, 0, w);
  int r = apply(l, ch, n, out);
  if (r < 0) return posix_error(errno);
  int rc = 0;
  for (int i = 0; i < r; i++) {
    unsigned bit = out[i].filter == EVFILT_READ ? POLLIN : POLLOUT;
    int err = (out[i].flags & EV_ERROR) ? (int)out[i].data : 0;
    if (del & bit) { /* a receipt keeps ident and filter; its flags are EV_ERROR alone */
      /* Gone either way: ENOENT/EBADF say the kernel had dropped it already. */
      w->events &= ~bit;
      forget_pending(l, w, out[i].filter);
    } else if (!err) {
      w->events |= bit;
    } else if (!rc) {
      rc = posix_error(err);
    }
  }
  return rc;
}

int posix_watch_exit(os_loop *l, posix_exit_watch *x) {
  unsigned fflags = NOTE_EXIT;
#ifdef NOTE_EXITSTATUS
  fflags |= NOTE_EXITSTATUS; /* Apple: the exit status in the event's data, as FreeBSD always does */
#endif
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)x->pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, fflags, 0, x);
  int r = apply(l, &ch, 1, &out);
  int err = r < 0 ? errno : r == 1 && (out.flags & EV_ERROR) ? (int)out.data : 0;
  if (err == ESRCH) return CP_ESRCH; /* already exited (macOS refuses to watch a zombie) */
  if (err) return posix_error(err);
  x->active = true;
  return 0;
}

void posix_unwatch_exit(os_loop *l, posix_exit_watch *x) {
  if (!x->active) return;
  struct kevent ch, out;
  EV_SET(&ch, (uintptr_t)x->pid, EVFILT_PROC, EV_DELETE, 0, 0, x);
  apply(l, &ch, 1, &out); /* ENOENT/ESRCH: the kernel dropped it already */
  x->active = false;
  forget_pending(l, x, EVFILT_PROC);
}

int os_loop_poll(os_loop *l, int timeout_ms) {
  sigset_t mask, old;
  struct timespec ts, *tsp = posix_loop_wait_time(l, timeout_ms, &ts);
  /* Only where some exits are watched by SIGCHLD (see spawn.c): the signal let through around the
   * wait; one that arrives before kevent() starts has written to the self-pipe watched here. */
  const sigset_t *m = posix_loop_wait_mask(l, &mask);
  if (m) pthread_sigmask(SIG_SETMASK, m, &old);
  int n = kevent(l->base.fd, NULL, 0, l->events, MAX_EVENTS, tsp);
  int e = errno;
  if (m) pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (n < 0) return e == EINTR ? 0 : posix_error(e);
  l->nevents = n;
  for (int i = 0; i < n; i++) {
    struct kevent *ev = &l->events[i];
    if (!ev->udata) continue;
    if (ev->filter == EVFILT_PROC) {
      posix_exit_watch *x = ev->udata;
      if (!(ev->fflags & NOTE_EXIT)) continue;
      x->active = false; /* EV_ONESHOT: the kernel has dropped it */
      x->cb(x, (int)ev->data, true);
      continue;
    }
    posix_watcher *w = ev->udata;
    unsigned rev = ev->filter == EVFILT_READ ? POLLIN : POLLOUT;
    if (ev->flags & EV_EOF) rev |= POLLHUP;
    if (ev->flags & EV_ERROR) rev |= POLLERR;
    w->cb(w, rev);
  }
  l->nevents = 0;
  posix_loop_run_feed(l);
  return 0;
}
