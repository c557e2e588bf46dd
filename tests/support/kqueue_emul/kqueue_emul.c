/* kqueue_emul.c - the subset of kqueue the library's kqueue poller uses (src/posix/loop_kqueue.c),
 * written on Linux's epoll and pidfds, so the whole test suite can run that poller here
 * (CHILDPROC_KQUEUE_EMULATION=ON, ci/test-kqueue-emul.sh). Test support only: never part of a release.
 *
 * What is emulated, with the BSD semantics (kqueue(2) on FreeBSD and macOS):
 *  - EVFILT_READ / EVFILT_WRITE on descriptors, level-triggered: reported while readable / writable;
 *    EV_EOF when the other end is gone (READ: data is the bytes still to read).
 *  - EVFILT_PROC with NOTE_EXIT on a pid: reported once, when the process exits, with EV_EOF and
 *    EV_ONESHOT set in flags and the watch dropped, as the kernels do. With NOTE_EXITSTATUS (Apple's
 *    flag; FreeBSD always does it) data is the wait()-style status, also when the process has been
 *    reaped by then (read back from the pidfd with PIDFD_GET_INFO: Linux 6.15 or later; before that
 *    such a status reads as 0, where a real kqueue knows it). Adding a watch on a process that has already exited
 *    - a zombie - fails with ESRCH: macOS does that (FreeBSD reports the exit at once instead), and
 *    the caller must cope with it. CP_KQUEUE_EMUL_EXITED_BEFORE_ADD=1 in the environment makes every
 *    EV_ADD of a child's exit watch wait until that child has exited first, to test that path.
 *  - EV_ADD (also on an existing event: changes it), EV_DELETE (ENOENT if absent), EV_ENABLE,
 *    EV_DISABLE, EV_ONESHOT, EV_RECEIPT; EV_CLEAR and other filters are refused with EINVAL.
 *  - A change that fails is reported in the event list as EV_ERROR with data = errno while there is
 *    room (kevent() then returns at once with those entries), else kevent() fails with that errno; a
 *    change with EV_RECEIPT is always reported that way (data 0 when it worked).
 *  - The kqueue descriptor polls readable while an event is pending (it is the epoll descriptor).
 * Not emulated: closing a watched descriptor does not drop its events here (the library always
 * deletes them first); a kqueue is inherited by fork() here (not on the BSDs); an exit watch holds a
 * pidfd here, so at the descriptor limit it can fail with EMFILE where a kernel's would not.
 * The kernel's kqueue takes no memory from the process heap: neither does this (its records come
 * from mmap), so the fault-injection suites that fail malloc() see the library's allocations only. */
#include <sys/event.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* PIDFD_GET_INFO (Linux 6.15): the exit status of a reaped process. */
struct emul_pidfd_info {
  uint64_t mask, cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
#define EMUL_PIDFD_INFO_EXIT (1UL << 3)
#define EMUL_PIDFD_GET_INFO _IOWR(0xFF, 11, struct emul_pidfd_info)

enum { KIND_FD = 1, KIND_PROC = 2 };

typedef struct knote {
  uintptr_t ident;
  int16_t filter;
  uint16_t flags; /* EV_ONESHOT kept */
  uint32_t fflags;
  bool disabled;
  void *udata;
  int pidfd; /* EVFILT_PROC */
  struct knote *next;
} knote;

typedef struct emul_kq {
  bool open;
  knote *notes;
} emul_kq;

#define MAX_KQ_FD 65536

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static emul_kq kqs[MAX_KQ_FD]; /* indexed by the kqueue (epoll) descriptor */
static const int nkqs = MAX_KQ_FD;
static knote *free_notes;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* A zeroed record, from slabs mapped for the purpose (see the top). NULL when out of memory. */
static knote *note_alloc(void) {
  if (!free_notes) {
    size_t size = 64 * 1024;
    knote *slab = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (slab == MAP_FAILED) return NULL;
    for (size_t i = 0; i < size / sizeof *slab; i++) {
      slab[i].next = free_notes;
      free_notes = &slab[i];
    }
  }
  knote *k = free_notes;
  free_notes = k->next;
  memset(k, 0, sizeof *k);
  return k;
}

static void note_free(knote *k) {
  k->next = free_notes;
  free_notes = k;
}

static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork(void) { pthread_mutex_unlock(&lock); }
static void init_once(void) { pthread_atfork(before_fork, after_fork, after_fork); }

static uint64_t key(int kind, int fd) { return ((uint64_t)kind << 32) | (uint32_t)fd; }

static knote *find(emul_kq *q, uintptr_t ident, int16_t filter) {
  for (knote *k = q->notes; k; k = k->next)
    if (k->ident == ident && k->filter == filter) return k;
  return NULL;
}

static knote *find_pidfd(emul_kq *q, int pidfd) {
  for (knote *k = q->notes; k; k = k->next)
    if (k->filter == EVFILT_PROC && k->pidfd == pidfd) return k;
  return NULL;
}

static void unlink_note(emul_kq *q, knote *k) {
  for (knote **pp = &q->notes; *pp; pp = &(*pp)->next) {
    if (*pp == k) {
      *pp = k->next;
      break;
    }
  }
  if (k->filter == EVFILT_PROC) close(k->pidfd);
  note_free(k);
}

/* The epoll registration of descriptor `fd` from its READ and WRITE events. */
static int sync_fd(int epfd, emul_kq *q, int fd) {
  knote *r = find(q, (uintptr_t)fd, EVFILT_READ), *w = find(q, (uintptr_t)fd, EVFILT_WRITE);
  struct epoll_event ev = {0};
  ev.data.u64 = key(KIND_FD, fd);
  if (r && !r->disabled) ev.events |= EPOLLIN | EPOLLRDHUP;
  if (w && !w->disabled) ev.events |= EPOLLOUT;
  if (!ev.events) {
    if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != ENOENT && errno != EBADF) return errno;
    return 0;
  }
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
  if (errno != ENOENT) return errno;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno;
}

static int sync_proc(int epfd, knote *k) {
  struct epoll_event ev = {0};
  ev.events = EPOLLIN;
  ev.data.u64 = key(KIND_PROC, k->pidfd);
  if (k->disabled) return epoll_ctl(epfd, EPOLL_CTL_DEL, k->pidfd, NULL) == 0 || errno == ENOENT ? 0 : errno;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, k->pidfd, &ev) == 0 || errno == EEXIST) return 0;
  return errno;
}

/* Whether the process behind pidfd has exited (and is a zombie of ours or gone). */
static bool pidfd_exited(int pidfd, bool wait) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r;
  do {
    r = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOWAIT | (wait ? 0 : WNOHANG));
  } while (r < 0 && errno == EINTR);
  return r == 0 && si.si_pid != 0;
}

/* The wait()-style status of an exited process: from its zombie, else (reaped already) from the pidfd. */
static int exit_status(int pidfd) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r;
  do {
    r = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOWAIT);
  } while (r < 0 && errno == EINTR);
  if (r == 0 && si.si_pid != 0)
    return si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : (si.si_status & 0x7f);
  struct emul_pidfd_info info;
  memset(&info, 0, sizeof info);
  info.mask = EMUL_PIDFD_INFO_EXIT;
  if (ioctl(pidfd, EMUL_PIDFD_GET_INFO, &info) == 0 && (info.mask & EMUL_PIDFD_INFO_EXIT)) return info.exit_code;
  return 0;
}

static int add_proc(int epfd, emul_kq *q, const struct kevent *c) {
  if (!(c->fflags & NOTE_EXIT) || (c->fflags & ~(NOTE_EXIT | NOTE_EXITSTATUS))) return EINVAL;
  knote *k = find(q, c->ident, EVFILT_PROC);
  if (!k) {
    int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)c->ident, 0);
    if (pidfd < 0) return errno;
    const char *knob = getenv("CP_KQUEUE_EMUL_EXITED_BEFORE_ADD");
    if (knob && strcmp(knob, "1") == 0) pidfd_exited(pidfd, true);
    if (pidfd_exited(pidfd, false)) { /* a zombie: macOS refuses to watch it */
      close(pidfd);
      return ESRCH;
    }
    k = note_alloc();
    if (!k) {
      close(pidfd);
      return ENOMEM;
    }
    k->ident = c->ident;
    k->filter = EVFILT_PROC;
    k->pidfd = pidfd;
    k->next = q->notes;
    q->notes = k;
  }
  k->fflags = c->fflags;
  k->flags = c->flags & EV_ONESHOT;
  k->udata = c->udata;
  k->disabled = (c->flags & EV_DISABLE) != 0;
  int err = sync_proc(epfd, k);
  if (err) unlink_note(q, k);
  return err;
}

static int apply_change(int epfd, emul_kq *q, const struct kevent *c) {
  unsigned known = EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE | EV_ONESHOT | EV_RECEIPT;
  if (c->flags & ~known) return EINVAL; /* EV_CLEAR and the rest: not emulated */
  if (c->filter != EVFILT_READ && c->filter != EVFILT_WRITE && c->filter != EVFILT_PROC) return EINVAL;
  knote *k = find(q, c->ident, c->filter);
  if (c->flags & EV_DELETE) {
    if (!k) return ENOENT;
    int fd = (int)c->ident;
    bool proc = k->filter == EVFILT_PROC;
    if (proc) epoll_ctl(epfd, EPOLL_CTL_DEL, k->pidfd, NULL);
    unlink_note(q, k);
    return proc ? 0 : sync_fd(epfd, q, fd);
  }
  if (c->flags & EV_ADD) {
    if (c->filter == EVFILT_PROC) return add_proc(epfd, q, c);
    if (c->ident > (uintptr_t)INT32_MAX) return EBADF;
    int fd = (int)c->ident;
    bool created = false;
    if (!k) {
      k = note_alloc();
      if (!k) return ENOMEM;
      k->ident = c->ident;
      k->filter = c->filter;
      k->pidfd = -1;
      k->next = q->notes;
      q->notes = k;
      created = true;
    }
    k->flags = c->flags & EV_ONESHOT;
    k->fflags = c->fflags;
    k->udata = c->udata;
    k->disabled = (c->flags & EV_DISABLE) != 0;
    int err = sync_fd(epfd, q, fd);
    if (err && created) {
      unlink_note(q, k);
      sync_fd(epfd, q, fd);
    }
    return err;
  }
  if (c->flags & (EV_ENABLE | EV_DISABLE)) {
    if (!k) return ENOENT;
    k->disabled = (c->flags & EV_DISABLE) != 0;
    return k->filter == EVFILT_PROC ? sync_proc(epfd, k) : sync_fd(epfd, q, (int)c->ident);
  }
  return EINVAL;
}

int kqueue(void) {
  pthread_once(&once, init_once);
  int epfd = epoll_create1(0); /* kqueue() gives no close-on-exec either: the caller sets it */
  if (epfd < 0) return -1;
  if (epfd >= nkqs) {
    close(epfd);
    errno = EMFILE;
    return -1;
  }
  pthread_mutex_lock(&lock);
  /* A kqueue closed earlier under this number: what it held is gone with it. */
  while (kqs[epfd].notes) {
    knote *k = kqs[epfd].notes;
    kqs[epfd].notes = k->next;
    if (k->filter == EVFILT_PROC) close(k->pidfd);
    note_free(k);
  }
  kqs[epfd].open = true;
  pthread_mutex_unlock(&lock);
  return epfd;
}

static int wait_ms(const struct timespec *t) {
  if (!t) return -1;
  if (t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000L) return -2;
  long long ms = (long long)t->tv_sec * 1000 + (t->tv_nsec + 999999) / 1000000;
  return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* Turns one epoll event into kevents in out[*nout..nevents), dropping one-shot events it reports. */
static void translate(int epfd, emul_kq *q, const struct epoll_event *e, struct kevent *out, int *nout, int nevents) {
  int kind = (int)(e->data.u64 >> 32), fd = (int)(uint32_t)e->data.u64;
  if (kind == KIND_PROC) {
    knote *k = find_pidfd(q, fd);
    if (!k || k->disabled || *nout >= nevents) return;
    int status = exit_status(k->pidfd); /* readable pidfd: the process has exited */
    struct kevent *o = &out[(*nout)++];
    o->ident = k->ident;
    o->filter = EVFILT_PROC;
    o->flags = (uint16_t)(k->flags | EV_EOF | EV_ONESHOT);
    o->fflags = NOTE_EXIT | (k->fflags & NOTE_EXITSTATUS);
    o->data = (k->fflags & NOTE_EXITSTATUS) ? status : 0;
    o->udata = k->udata;
    epoll_ctl(epfd, EPOLL_CTL_DEL, k->pidfd, NULL);
    unlink_note(q, k); /* the process is gone: so is its watch */
    return;
  }
  static const int16_t filters[2] = {EVFILT_READ, EVFILT_WRITE};
  for (int i = 0; i < 2 && *nout < nevents; i++) {
    knote *k = find(q, (uintptr_t)fd, filters[i]);
    if (!k || k->disabled) continue;
    bool read = filters[i] == EVFILT_READ;
    uint32_t want = read ? (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR) : (EPOLLOUT | EPOLLHUP | EPOLLERR);
    if (!(e->events & want)) continue;
    struct kevent *o = &out[(*nout)++];
    o->ident = k->ident;
    o->filter = k->filter;
    o->flags = k->flags;
    o->fflags = 0;
    o->data = 0;
    o->udata = k->udata;
    if (read) {
      int avail = 0;
      if (ioctl(fd, FIONREAD, &avail) == 0) o->data = avail;
      if (e->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) o->flags |= EV_EOF;
    } else if (e->events & (EPOLLHUP | EPOLLERR)) {
      o->flags |= EV_EOF;
    }
    if (k->flags & EV_ONESHOT) {
      unlink_note(q, k);
      sync_fd(epfd, q, fd);
    }
  }
}

int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist, int nevents,
           const struct timespec *timeout) {
  int ms = wait_ms(timeout);
  if (ms == -2 || nchanges < 0 || nevents < 0) {
    errno = EINVAL;
    return -1;
  }
  pthread_mutex_lock(&lock);
  if (kq < 0 || kq >= nkqs || !kqs[kq].open) {
    pthread_mutex_unlock(&lock);
    errno = EBADF;
    return -1;
  }
  int nout = 0;
  for (int i = 0; i < nchanges; i++) {
    const struct kevent *c = &changelist[i];
    int err = apply_change(kq, &kqs[kq], c);
    if (!err && !(c->flags & EV_RECEIPT)) continue;
    if (nout < nevents) {
      eventlist[nout] = *c;
      eventlist[nout].flags = EV_ERROR;
      eventlist[nout].data = err;
      nout++;
    } else if (err) {
      pthread_mutex_unlock(&lock);
      errno = err;
      return -1;
    }
  }
  pthread_mutex_unlock(&lock);
  if (nout > 0 || nevents == 0) return nout;

  struct epoll_event evs[64];
  int max = nevents / 2 > 0 ? nevents / 2 : 1;
  if (max > 64) max = 64;
  int n = epoll_wait(kq, evs, max, ms);
  if (n < 0) return -1;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < n && nout < nevents; i++) translate(kq, &kqs[kq], &evs[i], eventlist, &nout, nevents);
  pthread_mutex_unlock(&lock);
  return nout;
}
