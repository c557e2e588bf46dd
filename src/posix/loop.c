/* loop.c - the POSIX poller: epoll where it exists (Linux), poll() elsewhere or when CP_FORCE_POLL is set. Work
 * per turn is proportional to the ready descriptors (epoll) or to the watched ones (poll). */
#include "posix.h"
#include "sigchld.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(CP_HAVE_EPOLL) && !defined(CP_FORCE_POLL)
#define CP_USE_EPOLL 1
#include <sys/epoll.h>
#endif

#define MAX_EVENTS 256

struct os_loop {
  char readbuf[POSIX_READ_BUF];
  posix_sigchld *sigchld; /* only where children are watched by SIGCHLD */
  posix_watcher *feed;    /* watchers to call with POLLOUT on the next turn (posix_feed) */
#ifdef CP_USE_EPOLL
  int epfd;
  struct epoll_event events[MAX_EVENTS];
  int nevents; /* of the batch being dispatched; entries of removed watchers are cleared */
#else
  struct pollfd *fds;
  posix_watcher **watchers;
  int nfds, cap;
  bool dispatching;
#endif
};

uint64_t os_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *posix_read_buffer(os_loop *loop) { return loop->readbuf; }

posix_sigchld **posix_loop_sigchld(os_loop *loop) { return &loop->sigchld; }

void posix_feed(os_loop *l, posix_watcher *w) {
  if (w->fed) return;
  w->fed = true;
  w->feed_next = l->feed;
  l->feed = w;
}

void posix_unfeed(os_loop *l, posix_watcher *w) {
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
static void run_feed(os_loop *l) {
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

/* The signal mask to wait with: where children are watched by SIGCHLD, the thread's own mask with
 * SIGCHLD let through for the duration of the wait (a program that blocks SIGCHLD would otherwise
 * never hear of its children's exits); elsewhere NULL, the mask as it is. */
static const sigset_t *wait_mask(os_loop *l, sigset_t *mask) {
  if (!l->sigchld) return NULL;
  pthread_sigmask(SIG_BLOCK, NULL, mask);
  if (!sigismember(mask, SIGCHLD)) return NULL;
  sigdelset(mask, SIGCHLD);
  return mask;
}

int posix_error(int e) {
  switch (e) {
  case 0:
    return 0;
  case EINVAL:
    return CP_EINVAL;
  case ENOENT:
    return CP_ENOENT;
  case EACCES:
    return CP_EACCES;
  case ENOTDIR:
    return CP_ENOTDIR;
  case ENOEXEC:
    return CP_ENOEXEC;
  case ENOMEM:
    return CP_ENOMEM;
  case E2BIG:
    return CP_E2BIG;
  case EMFILE:
  case ENFILE:
    return CP_EMFILE;
  case EPERM:
    return CP_EPERM;
  case ESRCH:
    return CP_ESRCH;
  case ETIMEDOUT:
    return CP_ETIMEDOUT;
  case ENOBUFS:
    return CP_ENOBUFS;
  case EPIPE:
    return CP_EPIPE;
  case EAGAIN:
    return CP_EAGAIN;
  case ENOSYS:
  case ENOTSUP:
    return CP_ENOTSUP;
  case EIO:
    return CP_EIO;
  case ENAMETOOLONG:
    return CP_ENAMETOOLONG;
  case ELOOP:
    return CP_ELOOP;
  case EBADF:
    return CP_EBADF;
  case ECANCELED:
    return CP_ECANCELED;
  case EISDIR:
    return CP_EACCES;
  case ETXTBSY:
    return CP_EACCES;
  default:
    return CP_EUNKNOWN;
  }
}

/* A process whose stdin, stdout or stderr is closed hands that number to the next descriptor anyone
 * creates. If that were one of ours, a child another thread is starting at that moment with the
 * slot inherited would get our pipe or pidfd as its stdin; moving ours up afterwards
 * (posix_fd_above_stdio) is too late for that child. So before creating descriptors the library
 * fills each closed slot with the null device, once: the slot then reads as end of file and
 * swallows writes (what a child inheriting it was promised anyway), and from then on no descriptor
 * of anyone's can land there. One poll() call tells whether any slot is closed. */
void posix_reserve_stdio(void) {
  struct pollfd p[3] = {{0, 0, 0}, {1, 0, 0}, {2, 0, 0}};
  if (poll(p, 3, 0) < 0 || !((p[0].revents | p[1].revents | p[2].revents) & POLLNVAL)) return;
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < 3; i++) {
    if (fcntl(i, F_GETFD) >= 0 || errno != EBADF) continue;
    int n = open("/dev/null", O_RDWR);
    if (n >= 0 && n != i) {
      /* A lower slot was closed meanwhile and took it: put it where it belongs, keep the rest. */
      if (fcntl(i, F_GETFD) < 0 && errno == EBADF) dup2(n, i);
      if (n > 2) close(n);
    }
  }
  pthread_mutex_unlock(&lock);
}

int posix_fd_above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int e = errno;
  close(fd);
  errno = e;
  return n;
}

int posix_pair_above_stdio(int fds[2]) {
  if (fds[0] > 2 && fds[1] > 2) return 0;
  fds[0] = posix_fd_above_stdio(fds[0]);
  int e = errno;
  fds[1] = posix_fd_above_stdio(fds[1]);
  if (fds[0] >= 0 && fds[1] >= 0) return 0;
  if (fds[0] < 0) errno = e;
  else e = errno;
  if (fds[0] >= 0) close(fds[0]);
  if (fds[1] >= 0) close(fds[1]);
  fds[0] = fds[1] = -1;
  errno = e;
  return -1;
}

#ifdef CP_USE_EPOLL

int os_loop_new(os_loop **out) {
  os_loop *l = calloc(1, sizeof *l);
  if (!l) return CP_ENOMEM;
  posix_reserve_stdio();
  l->epfd = posix_fd_above_stdio(epoll_create1(EPOLL_CLOEXEC));
  if (l->epfd < 0) {
    int rc = posix_error(errno);
    free(l);
    return rc;
  }
  *out = l;
  return 0;
}

void os_loop_free(os_loop *l) {
  if (!l) return;
  posix_sigchld_free(l->sigchld);
  close(l->epfd);
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
  if (epoll_ctl(l->epfd, op, w->fd, &ev) < 0) return posix_error(errno);
  w->events = events;
  if (!events) {
    for (int i = 0; i < l->nevents; i++)
      if (l->events[i].data.ptr == w) l->events[i].data.ptr = NULL;
  }
  return 0;
}

int os_loop_poll(os_loop *l, int timeout_ms) {
  sigset_t mask;
  if (l->feed) timeout_ms = 0;
  int n = epoll_pwait(l->epfd, l->events, MAX_EVENTS, timeout_ms, wait_mask(l, &mask));
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
  run_feed(l);
  return 0;
}

#else /* poll() backend */

int os_loop_new(os_loop **out) {
  os_loop *l = calloc(1, sizeof *l);
  if (!l) return CP_ENOMEM;
  *out = l;
  return 0;
}

void os_loop_free(os_loop *l) {
  if (!l) return;
  posix_sigchld_free(l->sigchld);
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
  struct timespec ts, *tsp = NULL;
  if (l->feed) timeout_ms = 0;
  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    tsp = &ts;
  }
#ifdef CP_HAVE_PPOLL
  int n = ppoll(l->fds, (nfds_t)l->nfds, tsp, wait_mask(l, &mask));
#else
  /* No ppoll: SIGCHLD let through around a plain poll(). A SIGCHLD that arrives before poll() starts
   * is not lost: its handler has written to the self-pipe poll() watches. */
  (void)tsp;
  sigset_t old;
  const sigset_t *m = wait_mask(l, &mask);
  if (m) pthread_sigmask(SIG_SETMASK, m, &old);
  int n = poll(l->fds, (nfds_t)l->nfds, timeout_ms);
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
  run_feed(l);
  return 0;
}

#endif

cp_os_handle os_loop_handle(os_loop *l) {
#ifdef CP_USE_EPOLL
  return l->epfd;
#else
  (void)l;
  return CP_INVALID_HANDLE;
#endif
}
