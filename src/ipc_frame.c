/* ipc_frame.c - libuv's Windows IPC frames: strip them from what is read, wrap what is written
 * (format in ipc_frame.h). Pure byte work, no OS calls. */
#include "ipc_frame.h"

#include "internal.h"

#include <string.h>

#define FRAME_MAX_DATA UINT32_MAX

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v & 0xff);
  p[1] = (unsigned char)(v >> 8 & 0xff);
  p[2] = (unsigned char)(v >> 16 & 0xff);
  p[3] = (unsigned char)(v >> 24 & 0xff);
}

void cp__frame_reader_init(cp__frame_reader *r, uint64_t limit) {
  memset(r, 0, sizeof *r);
  r->limit = limit ? limit : FRAME_MAX_DATA;
}

/* Checks a complete header and sets up the frame it starts. */
static int frame_begin(cp__frame_reader *r) {
  uint32_t flags = le32(r->head), length = le32(r->head + 8), reserved2 = le32(r->head + 12);
  uint32_t socket = flags & (CP__FRAME_HAS_SOCKET | CP__FRAME_SOCKET_CONN);
  if (flags & ~(uint32_t)(CP__FRAME_HAS_DATA | CP__FRAME_HAS_SOCKET | CP__FRAME_SOCKET_CONN))
    return CP_EPROTO;
  if (socket == CP__FRAME_SOCKET_CONN) return CP_EPROTO; /* "a connection", but no socket */
  if (reserved2 != 0) return CP_EPROTO;
  if (!(flags & CP__FRAME_HAS_DATA) && length != 0) return CP_EPROTO;
  if (length > r->limit) return CP_ENOBUFS;
  r->payload = length;
  r->skip = socket ? CP__FRAME_SOCKET_INFO : 0;
  return 0;
}

int cp__frame_strip(cp__frame_reader *r, char *buf, size_t n, size_t *off, size_t *len) {
  size_t i = 0, start = 0, got = 0;
  bool any = false;
  while (i < n && !r->failed) {
    size_t left = n - i;
    if (r->skip) {
      size_t take = left < r->skip ? left : r->skip;
      r->skip -= (uint32_t)take;
      i += take;
    } else if (r->payload) {
      size_t take = left < r->payload ? left : r->payload;
      if (!any) {
        start = i;
        any = true;
      } else if (start + got != i) {
        memmove(buf + start + got, buf + i, take);
      }
      got += take;
      r->payload -= (uint32_t)take;
      i += take;
    } else {
      size_t take = CP__FRAME_HEADER - r->head_n;
      if (take > left) take = left;
      memcpy(r->head + r->head_n, buf + i, take);
      r->head_n += (unsigned)take;
      i += take;
      if (r->head_n == CP__FRAME_HEADER) {
        r->head_n = 0;
        r->failed = frame_begin(r);
      }
    }
  }
  *off = start;
  *len = got;
  return r->failed;
}

int cp__frame_end(const cp__frame_reader *r) {
  if (r->failed) return r->failed;
  return r->head_n || r->skip ? CP_EPROTO : 0;
}

size_t cp__frame_count(size_t len) { return len / FRAME_MAX_DATA + (len % FRAME_MAX_DATA != 0); }

size_t cp__frame_write(char *out, const void *msg, size_t len) {
  const char *p = msg;
  size_t w = 0;
  while (len) {
    uint32_t part = len > FRAME_MAX_DATA ? FRAME_MAX_DATA : (uint32_t)len;
    unsigned char *h = (unsigned char *)out + w;
    put_le32(h, CP__FRAME_HAS_DATA);
    put_le32(h + 4, 0);
    put_le32(h + 8, part);
    put_le32(h + 12, 0);
    memcpy(out + w + CP__FRAME_HEADER, p, part);
    w += CP__FRAME_HEADER + part;
    p += part;
    len -= part;
  }
  return w;
}
