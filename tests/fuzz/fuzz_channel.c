/* fuzz_channel.c - libFuzzer target for the channel's framing, through the real code path: the input
 * is written in fuzzer-chosen chunks into one end of a socketpair, the other end is a cp_channel on a
 * loop, and the messages it delivers are compared with a reference parse of the same bytes.
 *
 * Input: byte 0 picks the mode (even: JSON, odd: binary), byte 1 seeds the chunk sizes, the rest is
 * the stream. The channel's limit is small (100 bytes) so the too-long path is exercised too. */
#include <childproc.h>

#include "channel.h"
#include "posix/stream.h"

#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define LIMIT 100

typedef struct got {
  const uint8_t *ref;   /* reference stream and position */
  size_t ref_len, pos;
  cp_channel_mode mode;
  bool error, disconnected, mismatch;
  size_t messages;
} got;

/* The next message the reference parse expects; false when none is complete, or the next one is
 * over the limit (then *too_long). */
static bool ref_next(got *g, const uint8_t **msg, size_t *len, bool *too_long) {
  *too_long = false;
  const uint8_t *p = g->ref + g->pos;
  size_t left = g->ref_len - g->pos;
  if (g->mode == CP_CHANNEL_JSON) {
    const uint8_t *nl = memchr(p, '\n', left);
    size_t n = nl ? (size_t)(nl - p) : left;
    if (n > LIMIT) {
      *too_long = true;
      return false;
    }
    if (!nl) return false;
    *msg = p;
    *len = n;
    g->pos += n + 1;
    return true;
  }
  if (left < 4) return false;
  uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  if (n > LIMIT) {
    *too_long = true;
    return false;
  }
  if (left - 4 < n) return false;
  *msg = p + 4;
  *len = n;
  g->pos += 4 + (size_t)n;
  return true;
}

static void on_message(cp_channel *ch, const char *msg, size_t len, void *ud) {
  (void)ch;
  got *g = ud;
  const uint8_t *want;
  size_t wlen;
  bool too_long;
  if (!ref_next(g, &want, &wlen, &too_long) || wlen != len || memcmp(want, msg, len) != 0) g->mismatch = true;
  g->messages++;
}

static void on_error(cp_channel *ch, const cp_error *err, void *ud) {
  (void)ch;
  got *g = ud;
  g->error = true;
  const uint8_t *m;
  size_t l;
  bool too_long;
  if (err->code != CP_ENOBUFS || ref_next(g, &m, &l, &too_long) || !too_long) g->mismatch = true;
}

static void on_disconnect(cp_channel *ch, void *ud) {
  (void)ch;
  ((got *)ud)->disconnected = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  got g = {.ref = data + 2, .ref_len = size - 2, .mode = data[0] & 1 ? CP_CHANNEL_BINARY : CP_CHANNEL_JSON};
  unsigned seed = data[1];
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
  fcntl(sv[0], F_SETFL, O_NONBLOCK);
  cp_loop *loop;
  if (cp_loop_new(&loop)) abort();
  os_stream *s;
  if (posix_stream_new(loop->os, sv[0], &s)) abort();
  cp_channel *ch;
  cp_channel_events ev = {on_message, on_disconnect, on_error};
  if (cp__channel_new(loop, s, g.mode, LIMIT, &ev, &g, true, &ch)) abort();

  size_t off = 0;
  const uint8_t *stream = data + 2;
  size_t n = size - 2;
  while (off < n && !g.disconnected) {
    seed = seed * 1103515245u + 12345u;
    size_t chunk = 1 + (seed >> 16) % 300;
    if (chunk > n - off) chunk = n - off;
    ssize_t w = send(sv[1], stream + off, chunk, MSG_NOSIGNAL); /* < socket buffer: never blocks */
    if (w <= 0) break; /* the channel closed its end (a too-long message) */
    off += (size_t)w;
    int pending = 1;
    while (!g.disconnected && pending > 0) { /* until the channel consumed what was written */
      cp_loop_run(loop, CP_RUN_NOWAIT);
      if (ioctl(sv[0], FIONREAD, &pending) < 0) pending = 0;
    }
  }
  close(sv[1]); /* end of stream: the channel disconnects */
  while (!g.disconnected) cp_loop_run(loop, CP_RUN_ONCE);
  if (g.mismatch) abort();
  /* Every complete message before the end (or before a too-long one) was delivered. */
  const uint8_t *m;
  size_t l;
  bool too_long;
  if (!g.error && ref_next(&g, &m, &l, &too_long)) abort();
  if (!g.error && too_long) abort();
  cp_channel_free(ch);
  cp_loop_run(loop, CP_RUN_DEFAULT);
  if (cp_loop_free(loop)) abort();
  return 0;
}
