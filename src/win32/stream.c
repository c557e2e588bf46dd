/* stream.c - the parent's end of a pipe to a child: overlapped reads into a 64 KiB buffer per
 * stream and overlapped writes in queue order (the next one issued once the pipe took the previous
 * one whole), completed on the loop's port. Also
 * the uniquely named pipes the streams sit on, and the channel a child opens from NODE_CHANNEL_FD.
 *
 * A stream that carries a message channel (os_stream_carry_channel) speaks libuv's IPC framing, as
 * Node for Windows does: each write goes out as one frame (header and payload in one WriteFile, so
 * a libuv reader never waits on half a header), and what is read has its frames stripped before it
 * reaches the channel (src/ipc_frame.c). A malformed frame ends the stream with a read error.
 *
 * Lifetime: a closed stream is freed only when the kernel owes it no packet (its read, its write in
 * flight, a posted delivery): os_stream_close() cancels the I/O, closes the handle and leaves the
 * stream to the loop until the cancellations come back. */
#include "win32.h"

#include "../ipc_frame.h"

#include <io.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUF    (64 * 1024)
#define WRITE_CHUNK (1u << 30)

typedef struct write_req {
  win32_op op;
  os_stream *s;
  const char *buf;
  size_t len, done;
  os_write_cb cb;
  void *data;
  bool issued;    /* WriteFile called (its packet is owed) */
  bool sync_full; /* ... and it wrote everything at once: the next write need not wait for the packet */
  struct write_req *next;
} write_req;

struct os_stream {
  os_loop *loop;
  HANDLE h;
  win32_op rop;  /* the read in flight */
  win32_op kick; /* a posted packet delivering what was read while reading was stopped */
  char *rbuf;
  size_t stash_off, stash_n; /* rbuf[stash_off..+stash_n): bytes not delivered yet */
  int stash_status;          /* 1: end of stream not delivered yet; < 0: a read error not delivered yet */
  bool reading, read_pending, kick_pending, at_end, write_pending, closed, zombie;
  bool delivering; /* the reader's callback has rbuf: no read into it until it returns */
  os_read_cb read_cb;
  void *read_data;
  write_req *wq_head, *wq_tail; /* in order, the issued ones first; write_pending: the last is in flight */
  write_req *wq_next;           /* the first one not issued yet (NULL: none) */
  int ops;                      /* packets the kernel (or we) still owe this stream */
  int in_cb;
  bool framed; /* carries a channel: libuv IPC frames on the wire */
  cp__frame_reader frames;
};

#define CONTAINER(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static void stream_release(os_stream *s) {
  if (!s->closed || s->ops || s->in_cb) return;
  if (s->zombie) win32_loop_zombie_add(s->loop, -1);
  free(s->rbuf);
  free(s);
}

/* After a callback: false when it closed the stream (which may then be freed here). */
static bool after_cb(os_stream *s) {
  s->in_cb--;
  if (!s->closed) return true;
  stream_release(s);
  return false;
}

static bool is_end_of_stream(DWORD e) {
  return e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF || e == ERROR_PIPE_NOT_CONNECTED ||
         e == ERROR_NO_DATA;
}

static void start_read(os_stream *s) {
  if (s->read_pending || s->at_end || s->closed || s->delivering || s->stash_n || s->stash_status) return;
  memset(&s->rop.ov, 0, sizeof s->rop.ov);
  s->rop.posted = false;
  s->read_pending = true;
  s->ops++;
  if (ReadFile(s->h, s->rbuf, READ_BUF, NULL, &s->rop.ov)) return; /* its packet is queued anyway */
  DWORD e = GetLastError();
  if (e == ERROR_IO_PENDING) return;
  if (win32_post(s->loop, &s->rop, e)) { /* cannot even post: report it as a read error later */
    s->read_pending = false;
    s->ops--;
    s->stash_status = win32_error(e) ? win32_error(e) : CP_EIO;
  }
}

/* Hands what is stashed to the reader while it wants it, then reads on. */
static void deliver(os_stream *s) {
  while (s->reading && !s->closed) {
    if (s->stash_n) {
      size_t n = s->stash_n;
      s->stash_n = 0;
      s->in_cb++;
      s->delivering = true;
      s->read_cb(s, s->read_data, s->rbuf + s->stash_off, n, 0); /* may stop, restart or close */
      s->delivering = false;
      if (!after_cb(s)) return;
      continue;
    }
    if (s->stash_status) {
      int st = s->stash_status == 1 ? 0 : s->stash_status;
      s->stash_status = 0;
      s->at_end = true;
      s->reading = false;
      s->in_cb++;
      s->read_cb(s, s->read_data, NULL, 0, st);
      after_cb(s);
      return;
    }
    start_read(s);
    return;
  }
}

static void on_read(win32_op *op, DWORD bytes, DWORD error) {
  os_stream *s = CONTAINER(op, os_stream, rop);
  s->read_pending = false;
  s->ops--;
  if (s->closed) {
    stream_release(s);
    return;
  }
  if (!error && bytes && s->framed) {
    int rc = cp__frame_strip(&s->frames, s->rbuf, bytes, &s->stash_off, &s->stash_n);
    if (rc) s->stash_status = rc; /* after the payload that came before the bad header */
  } else if (!error && bytes) {
    s->stash_off = 0;
    s->stash_n = bytes;
  } else if (error && is_end_of_stream(error)) {
    int rc = s->framed ? cp__frame_end(&s->frames) : 0;
    s->stash_status = rc ? rc : 1;
  } else if (error) {
    int rc = win32_error(error);
    s->stash_status = rc ? rc : CP_EIO;
  } /* else a zero-byte read (the writer wrote nothing): just read again */
  s->in_cb++;
  deliver(s);
  after_cb(s);
}

static void on_kick(win32_op *op, DWORD bytes, DWORD error) {
  os_stream *s = CONTAINER(op, os_stream, kick);
  (void)bytes;
  (void)error;
  s->kick_pending = false;
  s->ops--;
  if (s->closed) {
    stream_release(s);
    return;
  }
  s->in_cb++;
  deliver(s);
  after_cb(s);
}

static void on_written(win32_op *op, DWORD bytes, DWORD error);

/* Issues the queued writes in order. A write the pipe takes whole at once (WriteFile completing
 * synchronously) lets the next one go at once too, as libuv's try-write does: the bytes are in the
 * pipe when os_stream_write() returns, so a process that exits right after sending loses nothing
 * the pipe could hold. Completions still come as packets, in queue order. */
static void start_write(os_stream *s) {
  while (!s->write_pending && !s->closed) {
    write_req *r = s->wq_next;
    if (!r) return;
    size_t left = r->len - r->done;
    DWORD chunk = (DWORD)(left > WRITE_CHUNK ? WRITE_CHUNK : left);
    memset(&r->op.ov, 0, sizeof r->op.ov);
    r->op.posted = false;
    r->issued = true;
    s->wq_next = r->next;
    s->write_pending = true;
    s->ops++;
    DWORD e = 0, n = 0;
    if (chunk == 0) {
      e = 0; /* nothing to write: complete it through the port without touching the pipe */
    } else if (WriteFile(s->h, r->buf + r->done, chunk, &n, &r->op.ov)) {
      if (n == left) { /* all of it is in the pipe; its packet follows */
        r->sync_full = true;
        r->done = r->len;
        s->write_pending = false;
        continue;
      }
      return;
    } else {
      e = GetLastError();
      if (e == ERROR_IO_PENDING) return;
    }
    if (win32_post(s->loop, &r->op, e)) {
      /* The port refuses packets: fail this write now, from the next poll it cannot be. Keep it
       * queued as failed so the order of callbacks is kept; the stream is unusable anyway. */
      s->write_pending = false;
      r->issued = false;
      s->wq_next = r;
      s->ops--;
    }
    return;
  }
}

static void on_written(win32_op *op, DWORD bytes, DWORD error) {
  write_req *r = CONTAINER(op, write_req, op);
  os_stream *s = r->s;
  if (!r->sync_full) s->write_pending = false; /* else a later write may be the one pending */
  s->ops--;
  if (s->closed) { /* dropped by os_stream_close(): no callback */
    free(r);
    stream_release(s);
    return;
  }
  if (!r->sync_full && !error && bytes) {
    r->done += bytes;
    if (r->done < r->len) {
      r->issued = false; /* the rest goes next, still ahead of everything after it */
      s->wq_next = r;
      start_write(s);
      return;
    }
  }
  int status = 0;
  if (error)
    status = error == ERROR_BROKEN_PIPE || error == ERROR_NO_DATA || error == ERROR_PIPE_NOT_CONNECTED
                 ? CP_EPIPE
                 : (win32_error(error) ? win32_error(error) : CP_EIO);
  else if (r->done < r->len)
    status = CP_EIO; /* a write that moved nothing */
  s->wq_head = r->next;
  if (!s->wq_head) s->wq_tail = NULL;
  start_write(s);
  if (r->cb) {
    s->in_cb++;
    r->cb(s, r->data, status);
    free(r);
    after_cb(s);
    return;
  }
  free(r);
}

int win32_stream_new(os_loop *loop, HANDLE h, os_stream **out) {
  os_stream *s = calloc(1, sizeof *s);
  if (!s) return CP_ENOMEM;
  s->rbuf = malloc(READ_BUF);
  if (!s->rbuf) {
    free(s);
    return CP_ENOMEM;
  }
  int rc = win32_loop_associate(loop, h);
  if (rc) {
    free(s->rbuf);
    free(s);
    return rc;
  }
  s->loop = loop;
  s->h = h;
  s->rop.done = on_read;
  s->rop.handle = h;
  s->kick.done = on_kick;
  *out = s;
  return 0;
}

int os_stream_read_start(os_stream *s, os_read_cb cb, void *data) {
  s->read_cb = cb;
  s->read_data = data;
  s->reading = true;
  if (s->at_end) return 0;
  if (s->stash_n || s->stash_status) {
    if (s->kick_pending) return 0;
    int rc = win32_post(s->loop, &s->kick, 0);
    if (rc) {
      s->reading = false;
      return rc;
    }
    s->kick_pending = true;
    s->ops++;
    return 0;
  }
  start_read(s);
  return 0;
}

/* A read already in flight stays in flight: what it brings is kept (at most one buffer) until
 * reading starts again. */
void os_stream_read_stop(os_stream *s) { s->reading = false; }

/* Writes on Windows complete through the port: there is no cheap write that may stop half-way, so
 * nothing is tried here and every message goes through os_stream_write. */
int os_stream_try_write(os_stream *s, const os_iovec *iov, int n, size_t *written) {
  (void)s, (void)iov, (void)n;
  *written = 0;
  return 0;
}

int os_stream_write(os_stream *s, const void *buf, size_t len, os_write_cb cb, void *data) {
  size_t frames = s->framed ? cp__frame_count(len) : 0;
  size_t extra = frames ? len + frames * CP__FRAME_HEADER : 0;
  if (frames && extra < len) return CP_ENOBUFS;
  write_req *r = calloc(1, sizeof *r + extra);
  if (!r) return CP_ENOMEM;
  if (frames) { /* the framed copy sits right after the request, freed with it */
    char *framed = (char *)(r + 1);
    len = cp__frame_write(framed, buf, len);
    buf = framed;
  }
  r->op.done = on_written;
  r->op.handle = s->h;
  r->s = s;
  r->buf = buf;
  r->len = len;
  r->cb = cb;
  r->data = data;
  if (s->wq_tail)
    s->wq_tail->next = r;
  else
    s->wq_head = r;
  s->wq_tail = r;
  if (!s->wq_next) s->wq_next = r;
  start_write(s);
  return 0;
}

void os_stream_carry_channel(os_stream *s, size_t max_message) {
  s->framed = true;
  /* A frame holds one message and the channel's own framing around it (at most 4 bytes). */
  uint64_t limit = max_message > UINT32_MAX - 4 ? UINT32_MAX : (uint64_t)max_message + 4;
  cp__frame_reader_init(&s->frames, limit);
}

void os_stream_close(os_stream *s) {
  if (!s) return;
  s->closed = true;
  s->reading = false;
  /* Queued writes go without their callbacks; those issued (a prefix of the queue) wait for their
   * packets, which free them. */
  write_req **pp = &s->wq_head;
  while (*pp && (*pp)->issued) pp = &(*pp)->next;
  write_req *r = *pp;
  *pp = NULL;
  s->wq_next = NULL;
  while (r) {
    write_req *next = r->next;
    free(r);
    r = next;
  }
  s->wq_tail = NULL;
  if (s->read_pending || s->write_pending) CancelIoEx(s->h, NULL);
  CloseHandle(s->h);
  s->h = NULL;
  if (s->ops) {
    s->zombie = true;
    win32_loop_zombie_add(s->loop, 1);
  }
  stream_release(s);
}

/* ---- named pipes ---- */

int win32_pipe_pair(bool duplex, bool child_reads, bool client_overlapped, HANDLE *server, HANDLE *client,
                    DWORD *os_error) {
  static volatile LONG counter;
  *server = *client = INVALID_HANDLE_VALUE;
  *os_error = 0;
  DWORD open_mode = (duplex        ? PIPE_ACCESS_DUPLEX
                     : child_reads ? PIPE_ACCESS_OUTBOUND
                                   : PIPE_ACCESS_INBOUND) |
                    FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE;
  /* The child's end may query and set its pipe state (attributes), whatever its direction. */
  DWORD client_access = duplex        ? GENERIC_READ | GENERIC_WRITE
                        : child_reads ? GENERIC_READ | FILE_WRITE_ATTRIBUTES
                                      : GENERIC_WRITE | FILE_READ_ATTRIBUTES;
  HANDLE s = INVALID_HANDLE_VALUE;
  for (int attempt = 0; attempt < 32; attempt++) {
    wchar_t name[96];
    swprintf(name, sizeof name / sizeof name[0], L"\\\\.\\pipe\\childproc-%lu-%ld-%lu",
             (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&counter),
             (unsigned long)GetTickCount());
    s = CreateNamedPipeW(name, open_mode,
                         PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1,
                         65536, 65536, 0, NULL);
    if (s == INVALID_HANDLE_VALUE) {
      DWORD e = GetLastError();
      /* Someone holds the name (Windows says ACCESS_DENIED, Wine PIPE_BUSY): take the next one. */
      if (e == ERROR_ACCESS_DENIED || e == ERROR_PIPE_BUSY) continue;
      *os_error = e;
      return win32_error(e) ? win32_error(e) : CP_EUNKNOWN;
    }
    HANDLE c = CreateFileW(name, client_access, 0, NULL, OPEN_EXISTING,
                           client_overlapped ? FILE_FLAG_OVERLAPPED : 0, NULL);
    if (c == INVALID_HANDLE_VALUE) {
      DWORD e = GetLastError();
      CloseHandle(s);
      *os_error = e;
      return win32_error(e) ? win32_error(e) : CP_EUNKNOWN;
    }
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    if (!ConnectNamedPipe(s, &ov)) {
      DWORD e = GetLastError(), n;
      if (e == ERROR_IO_PENDING && !GetOverlappedResult(s, &ov, &n, TRUE))
        e = GetLastError();
      else if (e == ERROR_IO_PENDING)
        e = ERROR_PIPE_CONNECTED;
      if (e != ERROR_PIPE_CONNECTED) {
        CloseHandle(c);
        CloseHandle(s);
        *os_error = e;
        return win32_error(e) ? win32_error(e) : CP_EUNKNOWN;
      }
    }
    *server = s;
    *client = c;
    return 0;
  }
  *os_error = ERROR_PIPE_BUSY;
  return CP_EAGAIN;
}

/* ---- the channel in a child ---- */

#ifdef _MSC_VER
static void ignore_invalid_parameter(const wchar_t *e, const wchar_t *f, const wchar_t *file, unsigned line,
                                     uintptr_t r) {
  (void)e, (void)f, (void)file, (void)line, (void)r;
}
#endif

/* The parent passed the channel as C runtime descriptor `fd_value` (STARTUPINFO.lpReserved2, see
 * spawn.c): its handle is taken from the runtime (a non-inheritable duplicate, the descriptor is
 * closed) and read and written overlapped on the loop. */
int os_channel_open(os_loop *loop, const char *fd_value, os_stream **out) {
  char *end;
  long fd = strtol(fd_value, &end, 10);
  if (*end || end == fd_value || fd < 0 || fd > INT_MAX) return CP_EINVAL;
#ifdef _MSC_VER
  _invalid_parameter_handler old = _set_thread_local_invalid_parameter_handler(ignore_invalid_parameter);
#endif
  intptr_t osh = _get_osfhandle((int)fd);
#ifdef _MSC_VER
  _set_thread_local_invalid_parameter_handler(old);
#endif
  HANDLE h = (HANDLE)osh;
  if (osh == -1 || !h) return CP_EBADF;
  HANDLE dup;
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0, FALSE, DUPLICATE_SAME_ACCESS))
    return CP_EBADF;
  int rc = win32_stream_new(loop, dup, out);
  if (rc) {
    CloseHandle(dup);
    return rc;
  }
  _close((int)fd);
  return 0;
}
