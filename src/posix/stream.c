/* stream.c - the parent's end of a pipe: non-blocking reads and queued writes on the poller.
 * Writes never raise SIGPIPE in the parent (the signal is blocked around write() and a SIGPIPE
 * this write caused is consumed). */
#include "posix.h"
#include "stream.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef struct write_req {
  const char *buf;
  size_t len, done;
  os_write_cb cb;
  void *data;
  int status; /* set once finished: 0 or an error */
  struct write_req *next;
} write_req;

struct os_stream {
  os_loop *loop;
  posix_watcher w;
  os_read_cb read_cb;
  void *read_data;
  bool reading;
  bool closed; /* os_stream_close() ran inside one of our callbacks: free when it returns */
  bool not_socket; /* send(MSG_NOSIGNAL) said ENOTSOCK: a pipe, written with write_nosigpipe() */
  int in_cb;
  write_req *wq; /* the write queue: its last request, whose next is the first (a ring, one pointer) */
}; /* 72 bytes: malloc's 80-byte class (with a head and a tail pointer it took 96) */

_Static_assert(sizeof(void *) != 8 || sizeof(os_stream) <= 72, "os_stream outgrew malloc's 80-byte class");

static write_req *wq_first(const os_stream *s) { return s->wq ? s->wq->next : NULL; }

static void wq_push(os_stream *s, write_req *r) {
  r->next = s->wq ? s->wq->next : r;
  if (s->wq) s->wq->next = r;
  s->wq = r;
}

static write_req *wq_pop(os_stream *s) { /* the first request, out of the queue (which is not empty) */
  write_req *r = s->wq->next;
  if (r == s->wq)
    s->wq = NULL;
  else
    s->wq->next = r->next;
  return r;
}

/* Runs after each callback: false when the callback closed the stream (then it is freed here once
 * no callback of it is running any more) and the caller must not touch it again. */
static bool stream_after_cb(os_stream *s) {
  s->in_cb--;
  if (!s->closed) return true;
  if (s->in_cb == 0) free(s);
  return false;
}

/* A request written in full or failed, waiting only for its completion callback. */
static bool stream_req_finished(const write_req *r) { return r->status || r->done == r->len; }

static void stream_update(os_stream *s) {
  unsigned ev = 0;
  if (s->reading) ev |= POLLIN;
  if (s->wq) ev |= POLLOUT;
  posix_watch(s->loop, &s->w, ev); /* MOD/DEL of a registered fd cannot fail but for ENOMEM */
}

/* One writev() with SIGPIPE kept away from the process. */
static ssize_t writev_nosigpipe(int fd, const struct iovec *v, int nv) {
  sigset_t pipe_set, old, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE);
  ssize_t n = writev(fd, v, nv);
  int saved = errno;
  if (n < 0 && saved == EPIPE && !was_pending) {
#ifdef CP_HAVE_SIGTIMEDWAIT
    static const struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
    }
#else /* sigwait() only once it is known to be pending: it cannot block then */
    int sig;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) sigwait(&pipe_set, &sig);
#endif
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = saved;
  return n;
}

/* One gathered write, as stream_write1. */
static ssize_t stream_writev1(os_stream *s, struct iovec *v, int n) {
  if (!s->not_socket) {
    struct msghdr m = {0};
    m.msg_iov = v;
    m.msg_iovlen = (size_t)n;
    ssize_t k = sendmsg(s->w.fd, &m, MSG_NOSIGNAL);
    if (k >= 0 || errno != ENOTSOCK) return k;
    s->not_socket = true;
  }
  return writev_nosigpipe(s->w.fd, v, n);
}

/* One write: send(MSG_NOSIGNAL) on a socket (the channel) costs one system call; a pipe needs the
 * signal mask around write(). */
static ssize_t stream_write1(os_stream *s, const void *buf, size_t len) {
  if (!s->not_socket) {
    ssize_t n = send(s->w.fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0 || errno != ENOTSOCK) return n;
    s->not_socket = true;
  }
  struct iovec v = {(void *)buf, len};
  return writev_nosigpipe(s->w.fd, &v, 1);
}

int os_stream_try_write(os_stream *s, const os_iovec *iov, int n, size_t *written) {
  *written = 0;
  if (s->wq && !stream_req_finished(s->wq)) return 0; /* bytes wait: keep their order */
  struct iovec v[4];
  size_t total = 0;
  if (n < 1 || n > 4) return CP_EINVAL;
  for (int i = 0; i < n; i++) {
    v[i].iov_base = (void *)iov[i].base;
    v[i].iov_len = iov[i].len;
    total += iov[i].len;
  }
  struct iovec *cur = v;
  int left = n;
  while (*written < total) {
    ssize_t k = stream_writev1(s, cur, left);
    if (k < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      int rc = posix_error(errno);
      if (*written) return 0; /* part went: the rest is queued and its write reports the error */
      return rc;
    }
    *written += (size_t)k;
    while (left > 0 && (size_t)k >= cur->iov_len) { /* skip what went */
      k -= (ssize_t)cur->iov_len;
      cur++;
      left--;
    }
    if (left > 0) {
      cur->iov_base = (char *)cur->iov_base + k;
      cur->iov_len -= (size_t)k;
    }
  }
  return 0;
}

static void stream_do_write(os_stream *s) {
  while (s->wq) {
    write_req *r = wq_first(s);
    while (!r->status && r->done < r->len) {
      ssize_t n = stream_write1(s, r->buf + r->done, r->len - r->done);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return; /* wait for POLLOUT */
        r->status = posix_error(errno);
        break;
      }
      r->done += (size_t)n;
    }
    wq_pop(s);
    if (!s->wq) stream_update(s);
    os_write_cb cb = r->cb;
    void *data = r->data;
    int status = r->status;
    free(r);
    if (cb) {
      s->in_cb++;
      cb(s, data, status);
      if (!stream_after_cb(s)) return;
    }
  }
}

static void stream_do_read(os_stream *s) {
  char *buf = posix_read_buffer(s->loop);
  for (int i = 0; i < 16 && s->reading; i++) {
    ssize_t n = read(s->w.fd, buf, POSIX_READ_BUF);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      s->reading = false;
      stream_update(s);
      s->in_cb++;
      s->read_cb(s, s->read_data, NULL, 0, posix_error(errno));
      stream_after_cb(s);
      return;
    }
    if (n == 0) {
      s->reading = false;
      stream_update(s);
      s->in_cb++;
      s->read_cb(s, s->read_data, NULL, 0, 0);
      stream_after_cb(s);
      return;
    }
    s->in_cb++;
    s->read_cb(s, s->read_data, buf, (size_t)n, 0); /* may stop reading or close s */
    if (!stream_after_cb(s) || n < POSIX_READ_BUF) return;
  }
}

static void stream_on_event(posix_watcher *w, unsigned revents) {
  os_stream *s = (os_stream *)((char *)w - offsetof(os_stream, w));
  s->in_cb++; /* keeps s allocated across the write and the read below */
  if (s->wq && (revents & (POLLOUT | POLLERR | POLLHUP))) stream_do_write(s);
  if (!s->closed && s->reading && (revents & (POLLIN | POLLHUP | POLLERR))) stream_do_read(s);
  stream_after_cb(s);
}

int posix_stream_new(os_loop *loop, int fd, os_stream **out) {
  os_stream *s = calloc(1, sizeof *s);
  if (!s) return CP_ENOMEM;
  s->loop = loop;
  s->w.fd = fd;
  s->w.cb = stream_on_event;
  s->w.slot = -1;
  *out = s;
  return 0;
}

int os_stream_read_start(os_stream *s, os_read_cb cb, void *data) {
  s->read_cb = cb;
  s->read_data = data;
  s->reading = true;
  unsigned ev = POLLIN | (s->wq ? POLLOUT : 0);
  int rc = posix_watch(s->loop, &s->w, ev);
  if (rc) s->reading = false;
  return rc;
}

void os_stream_read_stop(os_stream *s) {
  s->reading = false;
  stream_update(s);
}

int os_stream_write(os_stream *s, const void *buf, size_t len, os_write_cb cb, void *data) {
  write_req *r = calloc(1, sizeof *r);
  if (!r) return CP_ENOMEM;
  r->buf = buf;
  r->len = len;
  r->cb = cb;
  r->data = data;
  if (!s->wq || stream_req_finished(s->wq)) {
    /* Nothing waits for the descriptor (at most finished writes whose completion is not delivered
     * yet): write now, as libuv's try-write does, so the bytes are in the pipe or socket before
     * the call returns (a process that exits right after sending loses nothing the socket could
     * hold), and deliver the completion on the next turn, in order, without polling. */
    while (r->done < r->len) {
      ssize_t n = stream_write1(s, (const char *)buf + r->done, len - r->done);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) r->status = posix_error(errno);
        break;
      }
      r->done += (size_t)n;
    }
    if (r->status || r->done == r->len) {
      wq_push(s, r);
      posix_feed(s->loop, &s->w);
      return 0;
    }
  }
  unsigned ev = POLLOUT | (s->reading ? POLLIN : 0);
  int rc = posix_watch(s->loop, &s->w, ev);
  if (rc && r->done == 0) {
    free(r);
    return rc;
  }
  if (rc) { /* a part went, the rest never can: the write fails through its callback, as any other */
    r->status = rc;
    posix_feed(s->loop, &s->w);
  }
  wq_push(s, r);
  return 0;
}

void os_stream_close(os_stream *s) {
  if (!s) return;
  posix_unfeed(s->loop, &s->w);
  posix_watch(s->loop, &s->w, 0);
  while (s->wq) free(wq_pop(s));
  close(s->w.fd);
  s->w.fd = -1;
  s->reading = false;
  if (s->in_cb)
    s->closed = true; /* freed by stream_after_cb() */
  else
    free(s);
}

/* A channel's bytes go over the socket as they are: nothing to set up. */
void os_stream_carry_channel(os_stream *s, size_t max_message) {
  (void)s;
  (void)max_message;
}
